"""Held jobs: holding a job whose claim a pause or limit refused, and the release round
that lets held jobs start, in order, as slots free (see ``jobhub.gates``).

Every release of a type runs in one transaction that holds the type's limit rows locked
(``SELECT ... FOR UPDATE``) while it counts the slots taken and the starts in each rate
window; a claim of a released attempt needs no count (``jobhub.db.gate_sql``), so a slot
is taken exactly once, whichever worker on whichever host releases or claims.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from jobhub.db.engine import translated_errors
from jobhub.db.gate_rows import (
    ACTIVE,
    NOT_STARTED,
    LimitRow,
    events,
    jobs,
    limit_rows,
    pauses,
    read_pauses,
    starts,
)
from jobhub.gates import GateSnapshot, PauseKind, limit_text
from jobhub.jobs import JobStatus
from jobhub.lifecycle import Due
from jobhub.limits import ORGANIZATION, LimitKind, key_of


class HeldJobs:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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
            why = _why_held(connection, job, limit_rows(connection, job.job_type))
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
        statement = select(jobs.c.job_type).where(jobs.c.held, NOT_STARTED).distinct()
        with translated_errors(), self.engine.connect() as connection:
            return list(connection.execute(statement).scalars())

    def release(self, job_type: str, *, now: datetime, batch: int = 200) -> list[Due]:
        """Release the held jobs of ``job_type`` that pauses and limits let start now,
        in order (priority, then age), taking their slots; the others' status texts say
        what holds them. Returns the released jobs, for publishing."""
        with translated_errors(), self.engine.begin() as connection:
            rows = limit_rows(connection, job_type, lock=True)
            candidates = _candidates(connection, job_type, rows, batch)
            if not candidates:
                return []
            # read after the candidates are locked: a pause committed from here on waits
            # for this round and takes back what it released (``_take_back_releases``)
            paused = {(p.kind, p.target): p for p in read_pauses(connection)}
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


def _candidates(
    connection: Connection, job_type: str, rows: Sequence[LimitRow], batch: int
) -> Sequence[Any]:
    """The held jobs of ``job_type`` a release round looks at, in order, locked: at most
    ``batch``, none of a paused queue or type, and per key of each per-key limit no more
    than it allows, so that neither a paused queue's backlog nor a full key's can fill
    the batch and keep the others waiting."""
    order = (jobs.c.priority.desc(), jobs.c.created_at, jobs.c.id)
    waiting = and_(
        jobs.c.job_type == job_type,
        jobs.c.held,
        NOT_STARTED,
        ~exists().where(
            or_(
                and_(pauses.c.kind == PauseKind.QUEUE.value, pauses.c.target == jobs.c.queue),
                and_(pauses.c.kind == PauseKind.TYPE.value, pauses.c.target == job_type),
            )
        ),
    )
    statement = select(
        jobs.c.id,
        jobs.c.attempt,
        jobs.c.parameters,
        jobs.c.organization,
        jobs.c.queue,
        jobs.c.priority,
        jobs.c.status_text,
    ).where(waiting)
    keyed = [r.limit for r in rows if r.limit.per]
    if keyed:
        ranked = select(
            jobs.c.id,
            *(
                func.row_number().over(partition_by=_key_column(limit.per), order_by=order)
                for limit in keyed
            ),
        ).where(waiting)
        ranks = ranked.subquery()
        first_of_each_key = select(ranks.c.id).where(
            *(rank <= limit.maximum for rank, limit in zip(list(ranks.c)[1:], keyed, strict=True))
        )
        statement = statement.where(jobs.c.id.in_(first_of_each_key))
    statement = statement.order_by(*order).limit(batch).with_for_update(skip_locked=True)
    return connection.execute(statement).all()


def _key_column(per: str) -> Any:
    """The value a job counts under for a limit per ``per``, in SQL (for grouping; the
    count itself is ``key_of``'s)."""
    if per == ORGANIZATION:
        return jobs.c.organization
    return jobs.c.parameters[per].as_string()


def _taken(
    connection: Connection, job_type: str, rows: Iterable[LimitRow], now: datetime
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
                        ACTIVE,
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


def _why_held(connection: Connection, job: Row[Any], rows: Sequence[LimitRow]) -> str | None:
    snapshot = GateSnapshot(read_pauses(connection), {job.job_type: [r.limit for r in rows]})
    return snapshot.why_held(job.job_type, job.queue, job.organization, job.parameters or {})
