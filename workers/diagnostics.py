"""Diagnostics: the canary ops run, and an echo to check a round trip."""

from __future__ import annotations

from datetime import timedelta

from jobhub import Backoff, DoNotRetry, JobContext, JSONValue, Param, RetryPolicy, job


class CanaryError(RuntimeError):
    """The failure ``diagnostics.sleep`` raises on purpose at ``fail_at_step``."""


@job(
    "diagnostics.sleep",
    description="Sleeps step by step, reporting progress, status and a message at each step",
    category="Diagnostics",
    subcategory="Canary",
    params=[
        Param("steps", int, default=5, minimum=1, maximum=10_000, description="how many steps"),
        Param("seconds", float, default=1.0, minimum=0, maximum=3600, description="per step"),
        Param("fail_at_step", int, required=False, minimum=1, description="fail at this step"),
    ],
    # it only sleeps: safe to run again when its worker is lost; a failure asked for
    # with fail_at_step is not retried
    retry=RetryPolicy(attempts=3, never_retry=(CanaryError,)),
)
def sleep(
    ctx: JobContext, *, steps: int, seconds: float, fail_at_step: int | None = None
) -> dict[str, JSONValue]:
    for step in range(1, steps + 1):
        ctx.sleep(seconds)
        if fail_at_step == step:
            raise CanaryError(f"failing at step {step} of {steps}, as asked")
        ctx.message(f"step {step} of {steps} done")
        ctx.progress(100 * step / steps, f"step {step} of {steps}")
    return {"steps": steps, "seconds": seconds}


@job(
    "diagnostics.echo",
    description="Returns its parameters",
    category="Diagnostics",
    subcategory="Echo",
    params=[
        Param("message", str, default="hello", description="any text"),
        Param("data", dict, required=False, description="any JSON object"),
    ],
)
def echo(ctx: JobContext, *, message: str, data: dict[str, JSONValue] | None = None) -> JSONValue:
    return dict(ctx.parameters)


class FlakyError(RuntimeError):
    """The failure ``diagnostics.flaky`` raises on purpose on its first attempts."""


@job(
    "diagnostics.flaky",
    description="Fails its first attempts on purpose, then succeeds: retries to watch",
    category="Diagnostics",
    subcategory="Retries",
    params=[
        Param("fail_times", int, default=2, minimum=0, maximum=99, description="attempts to fail"),
        Param("permanent", bool, default=False, description="fail with DoNotRetry instead"),
    ],
    retry=RetryPolicy(
        attempts=5,
        backoff=Backoff.exponential(timedelta(seconds=1), cap=timedelta(seconds=4), jitter=0.2),
    ),
)
def flaky(ctx: JobContext, *, fail_times: int, permanent: bool) -> dict[str, JSONValue]:
    if ctx.attempt_in_run <= fail_times:
        if permanent:
            raise DoNotRetry(f"attempt {ctx.attempt_in_run} failed for good, as asked")
        raise FlakyError(f"attempt {ctx.attempt_in_run} fails, as asked")
    return {"attempt": ctx.attempt_in_run, "failed_before": fail_times}
