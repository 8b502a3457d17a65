"""Diagnostics: the canary ops run, and an echo to check a round trip."""

from __future__ import annotations

from jobhub import JobContext, JSONValue, Param, job


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
    max_retries=2,  # it only sleeps: safe to run again when its worker is lost
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
