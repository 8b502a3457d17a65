"""Job types with limits, for acceptance tests (loaded with ``JOBHUB_JOB_MODULES``)."""

from __future__ import annotations

import time

from jobhub import JobContext, JSONValue, Param, job

SLEEP = Param("seconds", float, default=0.3, minimum=0, maximum=60)
CUSTOMER = Param("customer_id", str, default="")


@job(
    "tests.limited",
    description="Sleeps; at most 2 at once on every host together",
    category="Tests",
    params=[SLEEP, CUSTOMER],
    concurrency=2,
)
def limited(ctx: JobContext, *, seconds: float, customer_id: str) -> dict[str, JSONValue]:
    time.sleep(seconds)
    return {"slept": seconds}


@job(
    "tests.per_tenant",
    description="Sleeps; at most 1 at once per organization and 2 per customer",
    category="Tests",
    params=[SLEEP, CUSTOMER],
    limits=["1 per organization"],
)
def per_tenant(ctx: JobContext, *, seconds: float, customer_id: str) -> dict[str, JSONValue]:
    time.sleep(seconds)
    return {"slept": seconds}


@job(
    "tests.unlimited",
    description="Sleeps; no limit of its own",
    category="Tests",
    params=[SLEEP, CUSTOMER],
)
def unlimited(ctx: JobContext, *, seconds: float, customer_id: str) -> dict[str, JSONValue]:
    time.sleep(seconds)
    return {"slept": seconds}


LIMITED_JOBS = ("workers", "tests.support.limited_jobs")
