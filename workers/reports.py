"""Reports read from the jobs table."""

from __future__ import annotations

from datetime import datetime, timedelta

from jobhub import JobContext, JSONValue, Param, job


@job(
    "reports.job_statistics",
    description="Counts jobs by type and status over a period (default: the last 24 hours)",
    category="Reports",
    subcategory="Jobs",
    type_code=3,  # JobStatusRepr's Export: it exports a summary of the job history
    params=[
        Param("since", datetime, required=False, description="start, ISO 8601 (inclusive)"),
        Param("until", datetime, required=False, description="end, ISO 8601 (exclusive)"),
    ],
)
def job_statistics(
    ctx: JobContext, *, since: str | None = None, until: str | None = None
) -> dict[str, JSONValue]:
    end = datetime.fromisoformat(until) if until else ctx.now()
    start = datetime.fromisoformat(since) if since else end - timedelta(days=1)
    rows = ctx.housekeeping.job_statistics(start, end)
    ctx.progress(100, f"{len(rows)} rows")
    return {
        "since": start.isoformat(),
        "until": end.isoformat(),
        "total": sum(row.count for row in rows),
        "rows": [
            {"job_type": row.job_type, "status": row.status.label, "count": row.count}
            for row in rows
        ],
    }
