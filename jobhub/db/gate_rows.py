"""The rows of pauses and limits as values: shared by the operators' side
(``jobhub.db.gate_store``) and the release round's (``jobhub.db.held_jobs``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, select

from jobhub.db.models import JobEventRow, JobLimitRow, JobRow, LimitStartRow, PauseRow
from jobhub.db.status_sql import is_active, status_in
from jobhub.gates import GateSnapshot, Pause, PauseKind, StoredLimit
from jobhub.jobs import JobStatus
from jobhub.limits import Limit, LimitKind

jobs = cast(Table, JobRow.__table__)
events = cast(Table, JobEventRow.__table__)
limits = cast(Table, JobLimitRow.__table__)
starts = cast(Table, LimitStartRow.__table__)
pauses = cast(Table, PauseRow.__table__)

NOT_STARTED = status_in(jobs, (JobStatus.CREATED, JobStatus.QUEUED))
ACTIVE = is_active(jobs)


@dataclass(frozen=True, slots=True)
class LimitRow:
    """A limit in force, with its row's id (what rate starts and locks refer to)."""

    id: int
    limit: Limit


def limit_rows(connection: Connection, job_type: str, *, lock: bool = False) -> list[LimitRow]:
    statement = (
        select(limits)
        .where(limits.c.job_type == job_type, limits.c.maximum.is_not(None))
        .order_by(limits.c.id)
    )
    if lock:
        statement = statement.with_for_update()
    return [
        LimitRow(row.id, limit)
        for row in connection.execute(statement)
        if (limit := stored_limit(row).limit) is not None
    ]


def read_pauses(connection: Connection) -> list[Pause]:
    return [pause_of(row) for row in connection.execute(select(pauses))]


def pause_of(row: Row[Any]) -> Pause:
    return Pause(
        kind=PauseKind(row.kind),
        target=row.target,
        paused_at=row.paused_at,
        paused_by=row.paused_by,
        reason=row.reason,
    )


def stored_limit(row: Row[Any]) -> StoredLimit:
    kind = LimitKind(row.kind)
    limit: Limit | None = None
    if row.maximum is not None:
        limit = (
            Limit.concurrency(row.maximum, row.per)
            if kind is LimitKind.CONCURRENCY
            else Limit.rate(row.maximum, timedelta(seconds=row.period), row.per)
        )
    return StoredLimit(
        job_type=row.job_type,
        kind=kind,
        per=row.per,
        limit=limit,
        source=row.source,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def read_snapshot(connection: Connection) -> GateSnapshot:
    """Every pause and every limit in force."""
    found: dict[str, list[Limit]] = {}
    for row in connection.execute(
        select(limits).where(limits.c.maximum.is_not(None)).order_by(limits.c.id)
    ):
        limit = stored_limit(row).limit
        if limit is not None:
            found.setdefault(row.job_type, []).append(limit)
    return GateSnapshot(read_pauses(connection), found)
