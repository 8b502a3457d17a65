"""Pauses, limits, and the held jobs they keep from starting (see ``jobhub.gates``).

Every decision that must hold across hosts is made inside one transaction that holds the
type's limit rows locked (``SELECT ... FOR UPDATE``): releasing held jobs, counting slots
and rate windows. Claims of released attempts need no count (``jobhub.db.gate_sql``), so a
slot is taken exactly once, whichever worker on whichever host releases or claims.
Changing a limit or pausing takes back the releases of attempts that have not started, so
the change holds for them too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Table,
    and_,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from jobhub.db.engine import translated_errors
from jobhub.db.models import (
    JobEventRow,
    JobLimitRow,
    JobRow,
    LimitStartRow,
    PauseRow,
)
from jobhub.gates import (
    GateSnapshot,
    Pause,
    PauseKind,
    StoredLimit,
    limit_text,
    resumed_text,
)
from jobhub.jobs import JobStatus
from jobhub.lifecycle import Due
from jobhub.limits import Limit, LimitKind, key_of

jobs = cast(Table, JobRow.__table__)
events = cast(Table, JobEventRow.__table__)
limits = cast(Table, JobLimitRow.__table__)
starts = cast(Table, LimitStartRow.__table__)
pauses = cast(Table, PauseRow.__table__)

_NOT_STARTED = jobs.c.status < int(JobStatus.PROCESSING)
_ACTIVE = jobs.c.status < int(JobStatus.COMPLETED)


@dataclass(frozen=True, slots=True)
class _LimitRow:
    id: int
    limit: Limit


class GateStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- limits --------------------------------------------------------------------------

    def limits(self, job_type: str | None = None) -> list[StoredLimit]:
        """The limits of a type (or of every type), lifted ones included."""
        statement = select(limits).order_by(limits.c.job_type, limits.c.kind, limits.c.per)
        if job_type is not None:
            statement = statement.where(limits.c.job_type == job_type)
        with translated_errors(), self.engine.connect() as connection:
            return [_stored(row) for row in connection.execute(statement)]

    def set_limit(self, job_type: str, limit: Limit, *, at: datetime, actor: str | None) -> None:
        """Set (or replace) the type's limit of that kind and key, as an operator's."""
        values = {
            "maximum": limit.maximum,
            "period": _seconds(limit.period),
            "source": "operator",
            "updated_at": at,
            "updated_by": actor,
        }
        with translated_errors(), self.engine.begin() as connection:
            _lock_limits(connection, job_type)
            self._upsert(connection, job_type, limit.kind, limit.per, values)
            _take_back_releases(connection, jobs.c.job_type == job_type)

    def clear_limit(
        self,
        job_type: str,
        kind: LimitKind,
        per: str,
        *,
        declared: bool,
        at: datetime,
        actor: str | None,
    ) -> bool:
        """Lift the type's limit of that kind and key; False when there was none. A
        limit the type declares stays lifted (a row without a maximum), so that no
        worker's restart brings it back."""
        scope = and_(
            limits.c.job_type == job_type, limits.c.kind == kind.value, limits.c.per == per
        )
        with translated_errors(), self.engine.begin() as connection:
            _lock_limits(connection, job_type)
            found = connection.execute(select(limits).where(scope)).first()
            if found is None and declared:  # declared, but no worker has synced it yet
                self._upsert(connection, job_type, kind, per, _lifted(kind, at, actor))
                return True
            if found is None or found.maximum is None:
                return False
            if declared:
                connection.execute(update(limits).where(scope).values(_lifted(kind, at, actor)))
            else:
                connection.execute(delete(limits).where(scope))
            return True

    def sync_declared(self, job_type: str, declared: Sequence[Limit], *, at: datetime) -> None:
        """Make the type's declared limits the database's, except where an operator set
        or lifted one (theirs stands until cleared)."""
        with translated_errors(), self.engine.begin() as connection:
            rows = {
                (LimitKind(row.kind), row.per): row
                for row in connection.execute(
                    select(limits).where(limits.c.job_type == job_type).with_for_update()
                )
            }
            changed = False
            wanted = {limit.scope: limit for limit in declared}
            for scope, limit in wanted.items():
                row = rows.get(scope)
                values = {
                    "maximum": limit.maximum,
                    "period": _seconds(limit.period),
                    "source": "declared",
                    "updated_at": at,
                    "updated_by": None,
                }
                if row is None or (
                    row.source == "declared"
                    and (row.maximum, row.period) != (values["maximum"], values["period"])
                ):
                    self._upsert(connection, job_type, limit.kind, limit.per, values)
                    changed = True
            for scope, row in rows.items():
                if row.source == "declared" and scope not in wanted:
                    connection.execute(delete(limits).where(limits.c.id == row.id))
            if changed:
                _take_back_releases(connection, jobs.c.job_type == job_type)

    def _upsert(
        self,
        connection: Connection,
        job_type: str,
        kind: LimitKind,
        per: str,
        values: dict[str, Any],
    ) -> None:
        scope = and_(
            limits.c.job_type == job_type, limits.c.kind == kind.value, limits.c.per == per
        )
        if connection.execute(update(limits).where(scope).values(values)).rowcount:
            return
        try:
            with connection.begin_nested():
                connection.execute(
                    insert(limits).values(job_type=job_type, kind=kind.value, per=per, **values)
                )
        except IntegrityError:  # inserted by another process meanwhile: ours replaces it
            connection.execute(update(limits).where(scope).values(values))

    # -- pauses --------------------------------------------------------------------------

    def pauses(self) -> list[Pause]:
        with translated_errors(), self.engine.connect() as connection:
            rows = connection.execute(select(pauses).order_by(pauses.c.kind, pauses.c.target))
            return [_pause(row) for row in rows]

    def pause(
        self, kind: PauseKind, target: str, *, at: datetime, actor: str | None, reason: str | None
    ) -> bool:
        """Pause; False when it was paused already (the first pause stands)."""
        with translated_errors(), self.engine.begin() as connection:
            try:
                with connection.begin_nested():
                    connection.execute(
                        insert(pauses).values(
                            kind=kind.value,
                            target=target,
                            paused_at=at,
                            paused_by=actor,
                            reason=reason,
                        )
                    )
            except IntegrityError:
                return False
            scope = _scope(kind, target)
            if scope is not None:
                _take_back_releases(connection, scope)
            return True

    def resume(self, kind: PauseKind, target: str, *, at: datetime, actor: str | None) -> bool:
        """Resume; False when it was not paused. Its held jobs are released in order by
        the next release round."""
        with translated_errors(), self.engine.begin() as connection:
            found = connection.execute(
                delete(pauses).where(pauses.c.kind == kind.value, pauses.c.target == target)
            ).rowcount
            scope = _scope(kind, target)
            if found and scope is not None:
                connection.execute(
                    update(jobs)
                    .where(jobs.c.held, _NOT_STARTED, scope)
                    .values(status_text=resumed_text(kind, target, actor), updated_at=at)
                )
            return bool(found)

    # -- holding and releasing jobs ------------------------------------------------------

    def snapshot(self) -> GateSnapshot:
        """Every pause and every limit in force, in one read."""
        with translated_errors(), self.engine.connect() as connection:
            found: dict[str, list[Limit]] = {}
            for row in connection.execute(
                select(limits).where(limits.c.maximum.is_not(None)).order_by(limits.c.id)
            ):
                limit = _stored(row).limit
                if limit is not None:
                    found.setdefault(row.job_type, []).append(limit)
            return GateSnapshot(_pauses(connection), found)

    def hold(self, job_id: Any, attempt: int, *, at: datetime) -> str | None:
        """Hold a job whose claim a pause or limit refused: back to Created, its status
        text saying why. Returns that text; None when it is not to be held (it moved on,
        was released meanwhile, or nothing gates it any more: claim it again)."""
        with translated_errors(), self.engine.begin() as connection:
            job = connection.execute(
                select(jobs).where(jobs.c.id == job_id).with_for_update()
            ).first()
            if job is None or job.attempt != attempt or job.status >= JobStatus.PROCESSING:
                return None
            if job.released:
                return None
            why = _why_held(connection, job, _limit_rows(connection, job.job_type))
            if why is None:
                return None
            if job.held and job.status == JobStatus.CREATED and job.status_text == why:
                return why  # a duplicate delivery of a held job: nothing to record
            connection.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(
                    status=int(JobStatus.CREATED),
                    held=True,
                    queued_at=None,
                    status_text=why,
                    updated_at=at,
                )
            )
            connection.execute(
                insert(events).values(
                    job_id=job_id,
                    at=at,
                    status=int(JobStatus.CREATED),
                    attempt=attempt,
                    message=why,
                )
            )
            return why

    def held_types(self) -> list[str]:
        """The job types with held jobs (a look at a partial index that is empty unless
        something is held)."""
        statement = select(jobs.c.job_type).where(jobs.c.held, _NOT_STARTED).distinct()
        with translated_errors(), self.engine.connect() as connection:
            return list(connection.execute(statement).scalars())

    def release(self, job_type: str, *, now: datetime, batch: int = 200) -> list[Due]:
        """Release the held jobs of ``job_type`` that pauses and limits let start now,
        in order (priority, then age), taking their slots; the others' status texts say
        what holds them. Returns the released jobs, for publishing."""
        with translated_errors(), self.engine.begin() as connection:
            rows = _limit_rows(connection, job_type, lock=True)
            paused = {(p.kind, p.target): p for p in _pauses(connection)}
            candidates = connection.execute(
                select(
                    jobs.c.id,
                    jobs.c.attempt,
                    jobs.c.parameters,
                    jobs.c.organization,
                    jobs.c.queue,
                    jobs.c.priority,
                    jobs.c.status_text,
                )
                .where(jobs.c.job_type == job_type, jobs.c.held, _NOT_STARTED)
                .order_by(jobs.c.priority.desc(), jobs.c.created_at, jobs.c.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            ).all()
            if not candidates:
                return []
            taken = _taken(connection, job_type, rows, now)
            released: list[Any] = []
            texts: dict[str, list[Any]] = {}
            type_pause = paused.get((PauseKind.TYPE, job_type))
            for job in candidates:
                pause = type_pause or paused.get((PauseKind.QUEUE, job.queue))
                why = pause.text() if pause is not None else None
                keys = [key_of(r.limit.per, job.organization, job.parameters or {}) for r in rows]
                if why is None:
                    full = next(
                        (
                            (r, key)
                            for r, key in zip(rows, keys, strict=True)
                            if taken[r.id][key] >= r.limit.maximum
                        ),
                        None,
                    )
                    if full is not None:
                        why = limit_text(job_type, full[0].limit, full[1])
                if why is not None:
                    if why != job.status_text:
                        texts.setdefault(why, []).append(job.id)
                    continue
                for r, key in zip(rows, keys, strict=True):
                    taken[r.id][key] += 1
                    if r.limit.kind is LimitKind.RATE:
                        connection.execute(insert(starts).values(limit_id=r.id, key=key, at=now))
                released.append(job)
            for why, ids in texts.items():
                connection.execute(update(jobs).where(jobs.c.id.in_(ids)).values(status_text=why))
            if released:
                connection.execute(
                    update(jobs)
                    .where(jobs.c.id.in_([job.id for job in released]))
                    .values(held=False, released=True, status_text=None, updated_at=now)
                )
            return [
                Due(
                    job_id=job.id,
                    job_type=job_type,
                    attempt=job.attempt,
                    parameters=job.parameters or {},
                    queue=job.queue,
                    priority=job.priority,
                )
                for job in released
            ]


def _lock_limits(connection: Connection, job_type: str) -> None:
    """Serialize with every release of the type (the limit rows are its lock)."""
    connection.execute(
        select(limits.c.id).where(limits.c.job_type == job_type).with_for_update()
    ).all()


def _limit_rows(connection: Connection, job_type: str, *, lock: bool = False) -> list[_LimitRow]:
    statement = (
        select(limits)
        .where(limits.c.job_type == job_type, limits.c.maximum.is_not(None))
        .order_by(limits.c.id)
    )
    if lock:
        statement = statement.with_for_update()
    return [
        _LimitRow(row.id, limit)
        for row in connection.execute(statement)
        if (limit := _stored(row).limit) is not None
    ]


def _taken(
    connection: Connection, job_type: str, rows: Iterable[_LimitRow], now: datetime
) -> dict[int, Counter[str]]:
    """Per limit and key: the slots held now (concurrency) or the starts in the window
    (rate). Starts older than their window are pruned here."""
    taken: dict[int, Counter[str]] = {}
    holders: Sequence[Any] | None = None
    for r in rows:
        if r.limit.kind is LimitKind.CONCURRENCY:
            if holders is None:
                holders = connection.execute(
                    select(jobs.c.organization, jobs.c.parameters).where(
                        jobs.c.job_type == job_type,
                        jobs.c.released,
                        _ACTIVE,
                    )
                ).all()
            taken[r.id] = Counter(
                key_of(r.limit.per, h.organization, h.parameters or {}) for h in holders
            )
        else:
            assert r.limit.period is not None
            since = now - r.limit.period
            connection.execute(
                delete(starts).where(starts.c.limit_id == r.id, starts.c.at <= since)
            )
            taken[r.id] = Counter(
                connection.execute(select(starts.c.key).where(starts.c.limit_id == r.id)).scalars()
            )
    return taken


def _why_held(connection: Connection, job: Row[Any], rows: Sequence[_LimitRow]) -> str | None:
    snapshot = GateSnapshot(_pauses(connection), {job.job_type: [r.limit for r in rows]})
    return snapshot.why_held(job.job_type, job.queue, job.organization, job.parameters or {})


def _take_back_releases(connection: Connection, scope: Any) -> None:
    """Attempts released but not started must pass the new pause or limit too (their
    claim fails and they are held again); running ones keep (or take) their slot."""
    connection.execute(
        update(jobs)
        .where(jobs.c.status.in_([0, 1, 2]), scope, or_(jobs.c.released, jobs.c.status == 2))
        .values(released=jobs.c.status == int(JobStatus.PROCESSING))
    )


def _scope(kind: PauseKind, target: str) -> Any:
    if kind is PauseKind.QUEUE:
        return jobs.c.queue == target
    if kind is PauseKind.TYPE:
        return jobs.c.job_type == target
    return None  # a schedule's pause holds its fires, not jobs


def _pauses(connection: Connection) -> list[Pause]:
    return [_pause(row) for row in connection.execute(select(pauses))]


def _pause(row: Row[Any]) -> Pause:
    return Pause(
        kind=PauseKind(row.kind),
        target=row.target,
        paused_at=row.paused_at,
        paused_by=row.paused_by,
        reason=row.reason,
    )


def _stored(row: Row[Any]) -> StoredLimit:
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


def _lifted(kind: LimitKind, at: datetime, actor: str | None) -> dict[str, Any]:
    return {
        "maximum": None,
        "period": 1.0 if kind is LimitKind.RATE else None,
        "source": "operator",
        "updated_at": at,
        "updated_by": actor,
    }


def _seconds(period: timedelta | None) -> float | None:
    return None if period is None else period.total_seconds()
