"""Job types for workflow tests (loaded with ``JOBHUB_JOB_MODULES``).

``tests.wf.add`` adds its ``add`` to the totals its dependencies returned (``inputs``,
the results parameter), so a chain's result shows every step ran once and in order;
``tests.wf.collect`` receives a fan-in's results; ``tests.wf.notify`` is an on-failure
handler. ``seconds`` makes a step run that long (cancellable), ``fail`` makes it fail (and
``fail_attempts`` its first attempts: a rerun succeeds).
"""

from __future__ import annotations

from jobhub import JobContext, JSONValue, Param, job

JOB_MODULES = ("workers", "tests.support.workflow_jobs")
"""``Settings.job_modules`` of a process that runs workflows of these types."""


@job(
    "tests.wf.add",
    description="Adds its number to the totals of the steps it follows",
    category="Tests",
    params=[
        Param("add", int, default=1),
        Param("inputs", dict, required=False),
        Param("fail", bool, default=False),
        Param("fail_attempts", int, default=0, minimum=0),
        Param("seconds", float, default=0.0, minimum=0, maximum=600),
    ],
)
def add(
    ctx: JobContext,
    *,
    add: int,
    inputs: dict[str, JSONValue] | None,
    fail: bool,
    fail_attempts: int,
    seconds: float,
) -> dict[str, JSONValue]:
    if seconds:
        ctx.sleep(seconds)
    if fail or ctx.attempt <= fail_attempts:
        raise RuntimeError(f"step fails as asked (add={add})")
    total = add + sum(int(result["total"]) for result in (inputs or {}).values())  # type: ignore[index,call-overload]
    return {"total": total, "inputs": sorted(inputs or {})}


@job(
    "tests.wf.collect",
    description="Receives the results of the steps it follows",
    category="Tests",
    params=[Param("inputs", dict)],
)
def collect(ctx: JobContext, *, inputs: dict[str, JSONValue]) -> dict[str, JSONValue]:
    return {"count": len(inputs), "names": sorted(inputs), "results": inputs}


@job(
    "tests.wf.notify",
    description="Reports which of the steps it follows did not complete",
    category="Tests",
    params=[Param("inputs", dict, required=False)],
)
def notify(ctx: JobContext, *, inputs: dict[str, JSONValue] | None) -> dict[str, JSONValue]:
    failed = sorted(name for name, result in (inputs or {}).items() if result is None)
    ctx.message(f"steps that did not complete: {', '.join(failed) or 'none'}")
    return {"failed": failed}
