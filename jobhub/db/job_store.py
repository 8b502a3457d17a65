"""Every statement about jobs, their events and their messages.

Core statements only (no ORM sessions): the lifecycle write path is hot. Each transition
is one guarded UPDATE whose WHERE clause is the forward-only rule of ``jobhub.lifecycle``,
plus the event row, in one transaction; a batch of transitions shares the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    RowMapping,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from jobhub.db.engine import translated_errors
from jobhub.db.models import JobEventRow, JobMessageRow, JobRow
from jobhub.errors import JobNotFound, KeyConflict, StorageError
from jobhub.jobs import (
    TERMINAL_RANK,
    Job,
    JobError,
    JobEvent,
    JobMessage,
    JobSpec,
    JobStatus,
    JSONValue,
)
from jobhub.lifecycle import Transition
from jobhub.queries import JobQuery

jobs = cast(Table, JobRow.__table__)
events = cast(Table, JobEventRow.__table__)
messages = cast(Table, JobMessageRow.__table__)

_RANK = case((jobs.c.status >= TERMINAL_RANK, TERMINAL_RANK), else_=jobs.c.status)
_TERMINAL = jobs.c.status >= TERMINAL_RANK
_PER_ATTEMPT_RESET: dict[str, Any] = {
    "queued_at": None,
    "started_at": None,
    "completed_at": None,
    "worker_id": None,
    "percent": 0,
    "status_text": None,
    "result": None,
    "error_type": None,
    "error_message": None,
    "error_traceback": None,
}
"""What a new attempt starts without: the previous attempt's progress and outcome."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobTypeInfo:
    """What a new job copies from its job type's declaration."""

    category: str
    subcategory: str
    description: str
    can_cancel: bool
    can_rerun: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """A worker's successful start of an attempt (the Processing transition applied)."""

    job_id: uuid.UUID
    attempt: int
    identity: str | None
    organization: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TypeStatistics:
    """How many jobs of one type ended (or sit) in one status over a period."""

    job_type: str
    status: JobStatus
    count: int


class JobStore:
    """Jobs, events and messages in PostgreSQL or SQLite."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with translated_errors(), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with translated_errors(), self.engine.connect() as connection:
            yield connection

    # -- creating and deleting -------------------------------------------------------

    def insert(
        self,
        spec: JobSpec,
        info: JobTypeInfo,
        *,
        job_id: uuid.UUID,
        now: datetime,
        retention: timedelta,
        created_by: str | None,
    ) -> tuple[Job, bool]:
        """Record a new job as Created; returns it and whether it is new.

        An (organization, client request id) seen before returns the existing job; an
        active job of the same type holding ``spec.key`` raises KeyConflict. Both are
        enforced by unique indexes, not by reading first.
        """
        values = {
            "id": job_id,
            "job_type": spec.job_type,
            "category": info.category,
            "subcategory": info.subcategory,
            "description": info.description,
            "parameters": dict(spec.parameters),
            "identity": spec.identity,
            "organization": spec.organization,
            "client_request_id": spec.client_request_id,
            "concurrency_key": spec.key,
            "status": int(JobStatus.CREATED),
            "percent": 0,
            "attempt": 1,
            "can_cancel": info.can_cancel,
            "can_rerun": info.can_rerun,
            "created_at": now,
            "updated_at": now,
            "purge_at": now + retention,
            "created_by": created_by,
            "modified_by": created_by,
        }
        insert_stmt = self._insert_ignoring_client_request(values)
        try:
            with self._write() as connection:
                row = connection.execute(insert_stmt.returning(*jobs.c)).first()
                if row is not None:
                    connection.execute(
                        insert(events).values(
                            job_id=job_id,
                            at=now,
                            status=int(JobStatus.CREATED),
                            attempt=1,
                            message=None,
                        )
                    )
                    return _job_from_row(row._mapping), True
                existing = connection.execute(
                    select(jobs).where(
                        jobs.c.organization == spec.organization,
                        jobs.c.client_request_id == spec.client_request_id,
                    )
                ).first()
        except IntegrityError as exc:
            if spec.key is not None and _holds_key(exc):
                raise KeyConflict(spec.job_type, spec.key) from exc
            raise StorageError(f"could not record the job: {exc.orig}") from exc
        if existing is None:  # pragma: no cover - the conflict row vanished in between
            raise StorageError("client request id conflict without an existing job")
        return _job_from_row(existing._mapping), False

    def _insert_ignoring_client_request(self, values: Mapping[str, Any]) -> Any:
        target = ["organization", "client_request_id"]
        if self._dialect == "postgresql":
            return (
                postgresql.insert(jobs)
                .values(**values)
                .on_conflict_do_nothing(index_elements=target)
            )
        if self._dialect == "sqlite":
            return (
                sqlite.insert(jobs).values(**values).on_conflict_do_nothing(index_elements=target)
            )
        return insert(jobs).values(**values)

    def discard_unpublished(self, job_id: uuid.UUID) -> None:
        """Delete a job whose first message never reached the broker (nothing is left)."""
        with self._write() as connection:
            connection.execute(
                delete(jobs).where(
                    jobs.c.id == job_id,
                    jobs.c.status == int(JobStatus.CREATED),
                    jobs.c.attempt == 1,
                )
            )

    def delete(self, job_id: uuid.UUID) -> None:
        """Delete a job with its events and messages (``api.job`` deleteJob)."""
        with self._write() as connection:
            deleted = connection.execute(delete(jobs).where(jobs.c.id == job_id)).rowcount
        if not deleted:
            raise JobNotFound(job_id)

    def purge_expired(self, now: datetime, batch_size: int) -> int:
        """Delete one batch of finished jobs whose purge time has passed; returns how many."""
        with self._write() as connection:
            ids = (
                select(jobs.c.id)
                .where(jobs.c.purge_at <= now, _TERMINAL)
                .order_by(jobs.c.purge_at)
                .limit(batch_size)
            )
            expired = [row.id for row in connection.execute(ids)]
            if not expired:
                return 0
            # Events and messages go with their job (ON DELETE CASCADE).
            return connection.execute(delete(jobs).where(jobs.c.id.in_(expired))).rowcount

    # -- the lifecycle ---------------------------------------------------------------

    def apply(self, transitions: Sequence[Transition]) -> list[bool]:
        """Apply transitions in one transaction; each reports whether it moved its job."""
        applied: list[bool] = []
        with self._write() as connection:
            for transition in transitions:
                applied.append(self._apply_one(connection, transition) is not None)
        return applied

    def claim(self, transition: Transition) -> Claim | None:
        """Apply a Processing transition; None means "do not run it" (finished, or running
        elsewhere, or an older attempt)."""
        if transition.status is not JobStatus.PROCESSING:
            raise ValueError("a claim is a Processing transition")
        with self._write() as connection:
            row = self._apply_one(connection, transition)
        if row is None:
            return None
        return Claim(
            job_id=transition.job_id,
            attempt=transition.attempt,
            identity=row.identity,
            organization=row.organization,
        )

    def _apply_one(self, connection: Connection, transition: Transition) -> Any:
        attempt = transition.attempt
        same_attempt = jobs.c.attempt == attempt
        newer_attempt = and_(jobs.c.attempt < attempt, jobs.c.status < TERMINAL_RANK)
        if transition.status is JobStatus.QUEUED:
            same = and_(same_attempt, jobs.c.queued_at.is_(None))
            status: Any = case(
                (and_(same_attempt, jobs.c.status > int(JobStatus.QUEUED)), jobs.c.status),
                else_=int(JobStatus.QUEUED),
            )
        else:
            same = and_(same_attempt, transition.status.rank > _RANK)
            status = int(transition.status)
        values: dict[str, Any] = {
            name: case(
                (jobs.c.attempt < attempt, literal(reset, jobs.c[name].type)), else_=jobs.c[name]
            )
            for name, reset in _PER_ATTEMPT_RESET.items()
        }
        values.update(_transition_values(transition))
        values["status"] = status
        values["attempt"] = attempt
        # a late Queued must not move the update time back
        at = literal(transition.at, jobs.c.updated_at.type)
        values["updated_at"] = case((jobs.c.updated_at > at, jobs.c.updated_at), else_=at)
        statement = (
            update(jobs)
            .where(jobs.c.id == transition.job_id, or_(newer_attempt, same))
            .values(values)
            .returning(jobs.c.identity, jobs.c.organization)
        )
        row = connection.execute(statement).first()
        if row is not None:
            connection.execute(
                insert(events).values(
                    job_id=transition.job_id,
                    at=transition.at,
                    status=int(transition.status),
                    attempt=attempt,
                    worker_id=transition.worker_id,
                    message=transition.message,
                )
            )
        return row

    def report(
        self,
        job_id: uuid.UUID,
        attempt: int,
        now: datetime,
        *,
        percent: int | None = None,
        status_text: str | None = None,
    ) -> bool:
        """Store progress of a running attempt; False when it is no longer running."""
        values: dict[str, Any] = {"updated_at": now}
        if percent is not None:
            values["percent"] = percent
        if status_text is not None:
            values["status_text"] = status_text
        with self._write() as connection:
            return bool(
                connection.execute(
                    update(jobs)
                    .where(
                        jobs.c.id == job_id,
                        jobs.c.attempt == attempt,
                        jobs.c.status == int(JobStatus.PROCESSING),
                    )
                    .values(values)
                ).rowcount
            )

    def add_message(
        self, job_id: uuid.UUID, attempt: int, now: datetime, level: str, text: str
    ) -> None:
        """Append a user message to a job."""
        with self._write() as connection:
            connection.execute(
                insert(messages).values(
                    job_id=job_id, attempt=attempt, at=now, level=level, text=text
                )
            )

    def cancel_requested(self, job_id: uuid.UUID) -> bool:
        """Whether someone asked this job to stop."""
        with self._read() as connection:
            value = connection.execute(
                select(jobs.c.cancel_requested_at).where(jobs.c.id == job_id)
            ).scalar_one_or_none()
        return value is not None

    def request_cancel(
        self, job_id: uuid.UUID, *, now: datetime, actor: str | None, cancel_running: bool
    ) -> JobStatus | None:
        """Cancel a job that has not started, or flag a running one; one statement.

        Returns the status after the request, or None when nothing changed (the job is
        finished, or it runs and ``cancel_running`` is False).
        """
        not_started = jobs.c.status < int(JobStatus.PROCESSING)
        allowed = not_started if not cancel_running else jobs.c.status < TERMINAL_RANK
        statement = (
            update(jobs)
            .where(jobs.c.id == job_id, allowed)
            .values(
                cancel_requested_at=func.coalesce(jobs.c.cancel_requested_at, now),
                status=case((not_started, int(JobStatus.CANCELLED)), else_=jobs.c.status),
                completed_at=case((not_started, now), else_=jobs.c.completed_at),
                status_text=case(
                    (not_started, "Cancelled before it started"), else_=jobs.c.status_text
                ),
                updated_at=now,
                modified_by=actor,
            )
            .returning(jobs.c.status, jobs.c.attempt)
        )
        with self._write() as connection:
            row = connection.execute(statement).first()
            if row is None:
                return None
            status = JobStatus(row.status)
            connection.execute(
                insert(events).values(
                    job_id=job_id,
                    at=now,
                    status=row.status,
                    attempt=row.attempt,
                    message="cancelled" if status is JobStatus.CANCELLED else "cancel requested",
                )
            )
        return status

    def rerun(
        self,
        job_id: uuid.UUID,
        *,
        attempt: int,
        now: datetime,
        actor: str | None,
        retention: timedelta,
    ) -> int | None:
        """Reopen a finished job as the next attempt in Created; returns that attempt.

        None means the job was not finished at ``attempt`` any more. A key now held by
        another active job raises KeyConflict.
        """
        values: dict[str, Any] = dict(_PER_ATTEMPT_RESET)
        values.update(
            status=int(JobStatus.CREATED),
            attempt=attempt + 1,
            cancel_requested_at=None,
            updated_at=now,
            purge_at=now + retention,
            modified_by=actor,
        )
        statement = (
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.attempt == attempt, _TERMINAL)
            .values(values)
            .returning(jobs.c.job_type, jobs.c.concurrency_key)
        )
        try:
            with self._write() as connection:
                row = connection.execute(statement).first()
                if row is None:
                    return None
                connection.execute(
                    insert(events).values(
                        job_id=job_id,
                        at=now,
                        status=int(JobStatus.CREATED),
                        attempt=attempt + 1,
                        message=f"rerun by {actor}" if actor else "rerun",
                    )
                )
        except IntegrityError as exc:
            if _holds_key(exc):
                job = self.get(job_id)
                raise KeyConflict(job.job_type, job.key or "") from exc
            raise StorageError(f"could not rerun the job: {exc.orig}") from exc
        return attempt + 1

    # -- reading ---------------------------------------------------------------------

    def get(self, job_id: uuid.UUID) -> Job:
        with self._read() as connection:
            row = connection.execute(select(jobs).where(jobs.c.id == job_id)).first()
        if row is None:
            raise JobNotFound(job_id)
        return _job_from_row(row._mapping)

    def get_many(self, job_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Job]:
        with self._read() as connection:
            rows = connection.execute(select(jobs).where(jobs.c.id.in_(list(job_ids))))
            return {row.id: _job_from_row(row._mapping) for row in rows}

    def statuses(self, job_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, JobStatus]:
        """Just the statuses: what a wait loop polls."""
        with self._read() as connection:
            rows = connection.execute(
                select(jobs.c.id, jobs.c.status).where(jobs.c.id.in_(list(job_ids)))
            )
            return {row.id: JobStatus(row.status) for row in rows}

    def find(self, query: JobQuery) -> list[Job]:
        """Jobs matching every filter of ``query``, newest first."""
        conditions: list[ColumnElement[bool]] = []
        if query.statuses is not None:
            conditions.append(jobs.c.status.in_(sorted(int(s) for s in query.statuses)))
        if query.job_type is not None:
            conditions.append(jobs.c.job_type == query.job_type)
        if query.organization is not None:
            conditions.append(jobs.c.organization == query.organization)
        if query.created_from is not None:
            conditions.append(jobs.c.created_at >= query.created_from)
        if query.created_until is not None:
            conditions.append(jobs.c.created_at < query.created_until)
        if query.after is not None:
            conditions.append(
                tuple_(jobs.c.created_at, jobs.c.id)
                < tuple_(
                    literal(query.after.created_at, jobs.c.created_at.type),
                    literal(query.after.id, jobs.c.id.type),
                )
            )
        statement = (
            select(jobs)
            .where(*conditions)
            .order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
            .limit(query.limit)
            .offset(query.offset)
        )
        with self._read() as connection:
            return [_job_from_row(row._mapping) for row in connection.execute(statement)]

    def events(self, job_id: uuid.UUID) -> list[JobEvent]:
        """A job's history, oldest first."""
        # Lifecycle order, whichever writer reached the database first: the rule lets at
        # most one event per status into an attempt (bar a "cancel requested" note).
        statement = (
            select(events)
            .where(events.c.job_id == job_id)
            .order_by(events.c.attempt, events.c.status, events.c.id)
        )
        with self._read() as connection:
            return [_event_from_row(row._mapping) for row in connection.execute(statement)]

    def events_since(self, after: int, *, limit: int = 500) -> list[tuple[int, str, JobEvent]]:
        """Events of every job recorded after event ``after``: (event id, job type, event)."""
        statement = (
            select(events, jobs.c.job_type)
            .join(jobs, jobs.c.id == events.c.job_id)
            .where(events.c.id > after)
            .order_by(events.c.id)
            .limit(limit)
        )
        with self._read() as connection:
            return [
                (row.id, row.job_type, _event_from_row(row._mapping))
                for row in connection.execute(statement)
            ]

    def last_event_id(self) -> int:
        with self._read() as connection:
            return int(connection.execute(select(func.max(events.c.id))).scalar() or 0)

    def messages(self, job_id: uuid.UUID, *, after: int = 0) -> list[JobMessage]:
        """A job's user messages in the order they were posted."""
        statement = (
            select(messages)
            .where(messages.c.job_id == job_id, messages.c.id > after)
            .order_by(messages.c.id)
        )
        with self._read() as connection:
            return [
                JobMessage(
                    job_id=row.job_id,
                    seq=row.id,
                    at=row.at,
                    attempt=row.attempt,
                    level=row.level,
                    text=row.text,
                )
                for row in connection.execute(statement)
            ]

    def latest_by_type(self, job_types: Collection[str]) -> dict[str, Job]:
        """The most recent job of each given type."""
        ranked = (
            select(
                jobs.c.id,
                func.row_number()
                .over(
                    partition_by=jobs.c.job_type,
                    order_by=(jobs.c.created_at.desc(), jobs.c.id.desc()),
                )
                .label("n"),
            )
            .where(jobs.c.job_type.in_(list(job_types)))
            .subquery()
        )
        statement = select(jobs).join(ranked, ranked.c.id == jobs.c.id).where(ranked.c.n == 1)
        with self._read() as connection:
            return {
                row.job_type: _job_from_row(row._mapping) for row in connection.execute(statement)
            }

    def statistics(self, since: datetime, until: datetime) -> list[TypeStatistics]:
        """Counts of jobs created in [since, until) by type and status."""
        statement = (
            select(jobs.c.job_type, jobs.c.status, func.count().label("n"))
            .where(jobs.c.created_at >= since, jobs.c.created_at < until)
            .group_by(jobs.c.job_type, jobs.c.status)
            .order_by(jobs.c.job_type, jobs.c.status)
        )
        with self._read() as connection:
            return [
                TypeStatistics(job_type=row.job_type, status=JobStatus(row.status), count=row.n)
                for row in connection.execute(statement)
            ]


def _holds_key(exc: IntegrityError) -> bool:
    """Whether the violated constraint is the one-active-job-per-key index.

    PostgreSQL names the index; SQLite names its columns.
    """
    text = str(exc.orig)
    return "uq_jobs_active_key" in text or "jobs.concurrency_key" in text


def _transition_values(transition: Transition) -> dict[str, Any]:
    """The columns a transition sets besides status, attempt and the update time."""
    status = transition.status
    values: dict[str, Any] = {}
    if transition.message is not None:
        values["status_text"] = transition.message
    if status is JobStatus.QUEUED:
        values["queued_at"] = transition.at
    elif status is JobStatus.PROCESSING:
        values["started_at"] = transition.at
        values["worker_id"] = transition.worker_id
    else:
        values["completed_at"] = transition.at
        if transition.worker_id is not None:
            values["worker_id"] = transition.worker_id
    if status is JobStatus.COMPLETED:
        values["percent"] = 100
        values["result"] = transition.result
    if status is JobStatus.COMPLETED_WITH_ERRORS and transition.error is not None:
        values["error_type"] = transition.error.type
        values["error_message"] = transition.error.message
        values["error_traceback"] = transition.error.traceback
    return values


def _event_from_row(row: RowMapping) -> JobEvent:
    return JobEvent(
        job_id=row["job_id"],
        at=row["at"],
        status=JobStatus(row["status"]),
        attempt=row["attempt"],
        worker_id=row["worker_id"],
        message=row["message"],
    )


def _job_from_row(row: RowMapping) -> Job:
    error = None
    if row["error_type"] is not None:
        error = JobError(
            type=row["error_type"],
            message=row["error_message"] or "",
            traceback=row["error_traceback"],
        )
    result: JSONValue = row["result"]
    return Job(
        id=row["id"],
        job_type=row["job_type"],
        category=row["category"],
        subcategory=row["subcategory"],
        description=row["description"],
        parameters=row["parameters"] or {},
        identity=row["identity"],
        organization=row["organization"],
        client_request_id=row["client_request_id"],
        key=row["concurrency_key"],
        status=JobStatus(row["status"]),
        status_text=row["status_text"],
        percent=row["percent"],
        worker_id=row["worker_id"],
        attempt=row["attempt"],
        result=result,
        error=error,
        can_cancel=bool(row["can_cancel"]),
        can_rerun=bool(row["can_rerun"]),
        cancel_requested_at=row["cancel_requested_at"],
        created_at=row["created_at"],
        queued_at=row["queued_at"],
        started_at=row["started_at"],
        updated_at=row["updated_at"],
        completed_at=row["completed_at"],
        purge_at=row["purge_at"],
        created_by=row["created_by"],
        modified_by=row["modified_by"],
    )
