"""Workers: who is alive, when each was last heard from, the queues it takes and the jobs
it runs now. Alive means what the reaper means: a heartbeat within the worker timeout,
by the database's clock (the one every host shares).

The table refreshes itself every few seconds by polling ``/ui/workers/live`` (any API
process can answer it from the database).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request, Response

from jobhub.db.worker_store import WorkerState, worker_name_of
from jobhub.jobs import Job, JobStatus
from jobhub.manager import JobManager
from jobhub.ui.auth import Caller, Manager, Signed
from jobhub.ui.routing import ui_router
from jobhub.ui.templates import page

router = ui_router()

RUNNING_SHOWN = 500
"""Running jobs read for the table; more than this many at once are counted, not listed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerRow:
    worker: WorkerState
    alive: bool
    running: list[Job]


@router.get("/workers")
def workers(request: Request, caller: Signed, manager: Manager) -> Response:
    return page(request, "workers.html", caller, **_table(manager, caller))


@router.get("/workers/live")
def workers_live(request: Request, caller: Signed, manager: Manager) -> Response:
    """The table alone, for the page to poll."""
    return page(request, "_workers.html", caller, **_table(manager, caller))


def _table(manager: JobManager, caller: Caller) -> dict[str, Any]:
    cutoff = manager.admin.silence_cutoff()
    running = manager.find_jobs(
        status=JobStatus.PROCESSING,
        organization=caller.organization(),
        housekeeping=True,
        limit=RUNNING_SHOWN,
    )
    by_worker: dict[str, list[Job]] = {}
    for job in running:
        if job.worker_id:
            by_worker.setdefault(worker_name_of(job.worker_id), []).append(job)
    rows = [
        WorkerRow(
            worker=state,
            alive=not state.silent_since(cutoff),
            running=by_worker.get(state.name, []),
        )
        for state in manager.admin.workers()
    ]
    rows.sort(key=lambda row: (not row.alive, _newest_first(row.worker.last_seen_at)))
    return {
        "rows": rows,
        "alive": sum(row.alive for row in rows),
        "now": cutoff + timedelta(seconds=manager.settings.worker_timeout),
        "timeout": manager.settings.worker_timeout,
        "running_total": len(running),
        "running_capped": len(running) == RUNNING_SHOWN,
    }


def _newest_first(moment: datetime) -> float:
    return -moment.timestamp()
