"""Maintenance: keeping the job history within its retention."""

from __future__ import annotations

from jobhub import JobContext, JSONValue, Param, job


@job(
    "maintenance.purge_jobs",
    description="Deletes, in batches, ended jobs whose purge time has passed",
    category="Maintenance",
    subcategory="Retention",
    params=[Param("batch_size", int, default=500, minimum=1, maximum=100_000)],
    can_cancel=False,
)
def purge_jobs(ctx: JobContext, *, batch_size: int) -> dict[str, JSONValue]:
    def report(total: int) -> None:
        ctx.status(f"{total} jobs purged so far")

    purged = ctx.manager.purge_expired_jobs(batch_size=batch_size, on_batch=report)
    ctx.message(f"purged {purged} expired jobs")
    return {"purged": purged}
