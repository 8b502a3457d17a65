"""Maintenance: the job history within its retention; recovering lost and stranded jobs.

The recovery jobs run at the highest priority: a backlog on the queue must not delay the
recovery of the jobs a lost worker held (within the worker timeout and one maintenance
interval) or the publishing of stranded ones.
"""

from __future__ import annotations

from datetime import timedelta

from jobhub import JobContext, JSONValue, Param, job

RECOVERY_PRIORITY = 9
"""jobhub's highest (``jobhub.placement``): recovery goes ahead of any backlog."""


@job(
    "maintenance.purge_jobs",
    description="Deletes, in batches, ended jobs whose purge time has passed, and audit "
    "trail entries older than the audit retention",
    category="Maintenance",
    subcategory="Retention",
    params=[Param("batch_size", int, default=500, minimum=1, maximum=100_000)],
    can_cancel=False,
    housekeeping=True,
)
def purge_jobs(ctx: JobContext, *, batch_size: int) -> dict[str, JSONValue]:
    def report(total: int) -> None:
        ctx.status(f"{total} jobs purged so far")

    purged = ctx.housekeeping.purge_expired_jobs(batch_size=batch_size, on_batch=report)
    audit_purged = ctx.housekeeping.purge_audit_trail()
    ctx.message(f"purged {purged} expired jobs and {audit_purged} old audit trail entries")
    return {"purged": purged, "audit_purged": audit_purged}


@job(
    "maintenance.reap_lost_jobs",
    description="Queues again, or ends as worker lost, the running jobs of workers that died",
    category="Maintenance",
    subcategory="Recovery",
    params=[Param("limit", int, default=500, minimum=1, maximum=100_000)],
    can_cancel=False,
    retention=timedelta(days=1),
    housekeeping=True,
    priority=RECOVERY_PRIORITY,
)
def reap_lost_jobs(ctx: JobContext, *, limit: int) -> dict[str, JSONValue]:
    report = ctx.housekeeping.reap_lost_jobs(limit=limit)
    if report.requeued or report.failed:
        ctx.message(f"{len(report.requeued)} queued again, {len(report.failed)} ended lost")
    return {
        "examined": report.examined,
        "requeued": [str(job_id) for job_id in report.requeued],
        "failed": [str(job_id) for job_id in report.failed],
    }


@job(
    "maintenance.reconcile_outbox",
    description="Publishes jobs stranded in Created and jobs whose message the broker lost",
    category="Maintenance",
    subcategory="Recovery",
    params=[Param("limit", int, default=500, minimum=1, maximum=100_000)],
    can_cancel=False,
    retention=timedelta(days=1),
    housekeeping=True,
    priority=RECOVERY_PRIORITY,
)
def reconcile_outbox(ctx: JobContext, *, limit: int) -> dict[str, JSONValue]:
    report = ctx.housekeeping.reconcile_outbox(limit=limit)
    if report.published or report.republished:
        ctx.message(f"{len(report.published)} published, {len(report.republished)} again")
    return {
        "published": [str(job_id) for job_id in report.published],
        "republished": [str(job_id) for job_id in report.republished],
        "broker_checked": report.broker_checked,
    }
