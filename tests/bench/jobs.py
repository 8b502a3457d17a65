"""The jobhub job types of configurations J and L: ``bench.noop``, the shared body and
nothing else; and ``bench.limited``, which does nothing, under a rate limit in L.

Workers load it with ``JOBHUB_JOB_MODULES=workers,tests.bench.jobs``.
"""

from __future__ import annotations

from jobhub import JobContext, Param, job
from tests.bench.body import record_return

NOOP = "bench.noop"


@job(
    NOOP,
    description="Benchmark no-op: counts its run and notes when it returned, in Redis",
    category="Benchmark",
    params=[
        Param("run", str, description="the benchmark run's Redis key prefix"),
        Param("redis_url", str, description="where to record the run"),
    ],
)
def noop(ctx: JobContext, *, run: str, redis_url: str) -> None:
    record_return(str(ctx.job_id), run, redis_url)


LIMITED = "bench.limited"


@job(LIMITED, description="Benchmark: does nothing (L runs it under a limit)", category="Benchmark")
def limited(ctx: JobContext) -> None:
    return None
