"""Pauses and limits as operators set them (see ``jobhub.gates``).

A change to a type's limits runs under a lock on its limit rows, the same lock every
release round of the type takes (``jobhub.db.held_jobs``). Changing a limit or pausing
takes back the releases of attempts that have not started, so the change holds for them
too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from jobhub.db.engine import translated_errors
from jobhub.db.gate_rows import (
    ACTIVE,
    NOT_STARTED,
    jobs,
    limits,
    pause_of,
    pauses,
    read_snapshot,
    stored_limit,
)
from jobhub.gates import GateSnapshot, Pause, PauseKind, StoredLimit, resumed_text
from jobhub.jobs import JobStatus
from jobhub.limits import Limit, LimitKind


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
            return [stored_limit(row) for row in connection.execute(statement)]

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
        """Lift the type's limit of that kind and key; False, with nothing written, when
        none is in force (never set, or lifted already). A limit the type declares stays
        lifted (a row without a maximum), so that no worker's restart brings it back; it
        is the type's even before any worker wrote it."""
        scope = and_(
            limits.c.job_type == job_type, limits.c.kind == kind.value, limits.c.per == per
        )
        with translated_errors(), self.engine.begin() as connection:
            _lock_limits(connection, job_type)
            found = connection.execute(select(limits).where(scope)).first()
            if found is not None and found.maximum is None:
                return False
            if declared:
                self._upsert(connection, job_type, kind, per, _lifted(kind, at, actor))
                return True
            if found is None:
                return False
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
            return [pause_of(row) for row in rows]

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
                text = Pause(
                    kind=kind, target=target, paused_at=at, paused_by=actor, reason=reason
                ).text()
                connection.execute(
                    update(jobs)
                    .where(jobs.c.held, NOT_STARTED, scope)
                    .values(status_text=text, updated_at=at)
                )
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
                    .where(jobs.c.held, NOT_STARTED, scope)
                    .values(status_text=resumed_text(kind, target, actor), updated_at=at)
                )
            return bool(found)

    # -- holding and releasing jobs ------------------------------------------------------

    def snapshot(self) -> GateSnapshot:
        """Every pause and every limit in force, in one read."""
        with translated_errors(), self.engine.connect() as connection:
            return read_snapshot(connection)


def _lock_limits(connection: Connection, job_type: str) -> None:
    """Serialize with every release of the type (the limit rows are its lock)."""
    connection.execute(
        select(limits.c.id).where(limits.c.job_type == job_type).with_for_update()
    ).all()


def _take_back_releases(connection: Connection, scope: Any) -> None:
    """Attempts released but not started must pass the new pause or limit too (their
    claim fails and they are held again); running ones keep (or take) their slot.

    Held jobs are matched too, though nothing changes for them: a release round that has
    them locked may be releasing them right now, and matching makes this update wait for
    that round and then take its releases back (on PostgreSQL an update re-checks a row
    it waited for, but only a row its own snapshot already matched)."""
    connection.execute(
        update(jobs)
        .where(
            ACTIVE,
            scope,
            or_(jobs.c.released, jobs.c.status == 2, jobs.c.held),
        )
        .values(released=jobs.c.status == int(JobStatus.PROCESSING))
    )


def _scope(kind: PauseKind, target: str) -> Any:
    if kind is PauseKind.QUEUE:
        return jobs.c.queue == target
    if kind is PauseKind.TYPE:
        return jobs.c.job_type == target
    return None  # a schedule's pause holds its fires, not jobs


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
