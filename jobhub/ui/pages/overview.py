"""The overview: what the system is doing now and did over a chosen period.

Jobs by status and by type, jobs finished over time as stacked bars, queue depth and the
oldest waiting job's age per queue, workers alive, the schedules due next and the latest
failures: one ``JobManager.overview`` read, limited to the caller's organization (an
admin sees every one, or the one asked for).

The figures refresh themselves: the page polls ``/ui/overview/live`` every few seconds
for the same content as an HTML fragment. Polling, not a stream, because every figure is
read from the database anyway (any API process answers the same), a poll holds no
connection or thread between ticks, and it stops while the tab is hidden.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request, Response

from jobhub.durations import format_duration
from jobhub.errors import InvalidInput
from jobhub.jobs import JobStatus
from jobhub.manager import JobManager
from jobhub.stats import FINISHED_STATUSES, LIVE_STATUSES
from jobhub.ui.auth import Caller, Manager, Signed
from jobhub.ui.charts import finished_bars
from jobhub.ui.routing import ui_router
from jobhub.ui.templates import page

router = ui_router()

PERIODS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
DEFAULT_PERIOD = "24h"
REFRESH_SECONDS = 5

Period = Annotated[str, Query(max_length=10)]
Organization = Annotated[str, Query(max_length=200)]


@router.get("")
def overview(
    request: Request,
    caller: Signed,
    manager: Manager,
    period: Period = DEFAULT_PERIOD,
    organization: Organization = "",
) -> Response:
    return page(request, "overview.html", caller, **_figures(manager, caller, period, organization))


@router.get("/overview/live")
def overview_live(
    request: Request,
    caller: Signed,
    manager: Manager,
    period: Period = DEFAULT_PERIOD,
    organization: Organization = "",
) -> Response:
    """The figures alone, for the page to poll."""
    return page(
        request, "_overview.html", caller, **_figures(manager, caller, period, organization)
    )


def _figures(manager: JobManager, caller: Caller, period: str, organization: str) -> dict[str, Any]:
    if period not in PERIODS:
        raise InvalidInput(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    scope = caller.organization(organization.strip())
    figures = manager.overview(period=PERIODS[period], organization=scope)
    bucket = timedelta(seconds=figures.bucket_seconds)
    by_type = sorted(figures.by_type.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    tenant = {"organization": scope} if scope and caller.admin else {}
    since = figures.since.strftime("%Y-%m-%dT%H:%M:%S")

    def jobs_url(status: JobStatus | None = None, job_type: str | None = None) -> str:
        """The jobs list behind a figure: finished ones since the period's start."""
        wanted: dict[str, str] = dict(tenant)
        if status is not None:
            wanted["status"] = status.label
            if status in FINISHED_STATUSES:
                wanted["since"] = since
        if job_type is not None:
            wanted["type"] = job_type
        return "/ui/jobs?" + urlencode(wanted) if wanted else "/ui/jobs"

    return {
        "figures": figures,
        "period": period,
        "periods": list(PERIODS),
        "organization": organization.strip() if caller.admin else "",
        "scope": scope,
        "chart": finished_bars([(b.start, b.counts) for b in figures.series], bucket),
        "bucket": bucket,
        "by_type": by_type,
        "live_statuses": LIVE_STATUSES,
        "finished_statuses": FINISHED_STATUSES,
        "failed": JobStatus.COMPLETED_WITH_ERRORS,
        "live_url": "/ui/overview/live?" + urlencode({"period": period, **tenant}),
        "refresh": REFRESH_SECONDS,
        "jobs_url": jobs_url,
        "span": format_duration,
        "waited": _waited,
    }


def _waited(seconds: float) -> str:
    """An age to read at a glance: whole seconds, or "under 1s"."""
    whole = int(seconds)
    return format_duration(timedelta(seconds=whole)) if whole else "under 1s"
