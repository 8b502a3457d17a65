"""Job types with a slow retry, for acceptance tests (loaded with ``JOBHUB_JOB_MODULES``).

``diagnostics.flaky`` waits 1 s, then 2 s: too short to act on a job while it waits for
its retry. ``tests.slow_flaky`` waits a fixed 5 s, time enough to cancel it, start it at
once, or restart every process meanwhile.
"""

from __future__ import annotations

from datetime import timedelta

from jobhub import Backoff, JobContext, JSONValue, Param, RetryPolicy, job

BACKOFF = timedelta(seconds=5)


class SlowFlakyError(RuntimeError):
    """What ``tests.slow_flaky`` raises on its first attempts."""


@job(
    "tests.slow_flaky",
    description="Fails its first attempts, then succeeds; 5 s between attempts",
    category="Tests",
    params=[Param("fail_times", int, default=1, minimum=0, maximum=3)],
    retry=RetryPolicy(attempts=3, backoff=Backoff.fixed(BACKOFF, jitter=0)),
)
def slow_flaky(ctx: JobContext, *, fail_times: int) -> dict[str, JSONValue]:
    if ctx.attempt_in_run <= fail_times:
        raise SlowFlakyError(f"attempt {ctx.attempt_in_run} fails, as asked")
    return {"attempt": ctx.attempt_in_run}
