"""The lifecycle write path: what it writes, and the interface every backend implements.

Every write a job's lifecycle makes goes through a ``Writes``: the producer's Created
insert, the transitions (guarded UPDATEs that enforce the forward-only rule, each with
its event row), progress reports and user messages. ``write`` takes them in groups and
writes a group in one transaction, which is what lets ``WriteBehind`` batch them.

``SqlWrites`` here speaks SQLAlchemy Core to any database (the embedded SQLite);
``PostgresWrites`` (``pg_writes.py``) is the hot path on PostgreSQL: one reused
connection per process, prepared statements, a batch of transitions in one UPDATE.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    case,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from jobhub.db.engine import translated_errors
from jobhub.db.models import JobEventRow, JobMessageRow, JobRow
from jobhub.errors import KeyConflict, StorageError
from jobhub.jobs import TERMINAL_RANK, AccessScope, Job, JobStatus, JSONValue
from jobhub.lifecycle import Transition

jobs = cast(Table, JobRow.__table__)
events = cast(Table, JobEventRow.__table__)
job_messages = cast(Table, JobMessageRow.__table__)

PER_ATTEMPT_RESET: Mapping[str, Any] = {
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
class NewJob:
    """Everything a job's row holds when the producer records it as Created."""

    id: uuid.UUID
    job_type: str
    category: str
    subcategory: str
    description: str
    parameters: Mapping[str, JSONValue]
    identity: str | None
    organization: str
    client_request_id: str | None
    key: str | None
    can_cancel: bool
    can_rerun: bool
    created_at: datetime
    purge_at: datetime
    created_by: str | None
    access_scope: AccessScope = AccessScope.ORGANIZATION

    def as_job(self, *, queued_at: datetime | None = None) -> Job:
        """The job as it stands right after the insert (and its publish, if ``queued_at``)."""
        return Job(
            id=self.id,
            job_type=self.job_type,
            category=self.category,
            subcategory=self.subcategory,
            description=self.description,
            parameters=self.parameters,
            identity=self.identity,
            organization=self.organization,
            client_request_id=self.client_request_id,
            key=self.key,
            status=JobStatus.CREATED if queued_at is None else JobStatus.QUEUED,
            status_text=None,
            percent=0,
            worker_id=None,
            attempt=1,
            result=None,
            error=None,
            can_cancel=self.can_cancel,
            can_rerun=self.can_rerun,
            cancel_requested_at=None,
            created_at=self.created_at,
            queued_at=queued_at,
            started_at=None,
            updated_at=queued_at or self.created_at,
            completed_at=None,
            purge_at=self.purge_at,
            created_by=self.created_by,
            modified_by=self.created_by,
            access_scope=self.access_scope,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    """A running attempt's percent complete and status text (None: unchanged)."""

    job_id: uuid.UUID
    attempt: int
    at: datetime
    percent: int | None = None
    status_text: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewMessage:
    """A user message a running job posts."""

    job_id: uuid.UUID
    attempt: int
    at: datetime
    level: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Applied:
    """A transition that moved its job, with who the job belongs to."""

    job_id: uuid.UUID
    attempt: int
    status: JobStatus
    identity: str | None
    organization: str


class Writes(Protocol):
    """The lifecycle write path of one process."""

    def create(self, job: NewJob) -> bool:
        """Insert the job as Created with its event; False if its (organization, client
        request id) exists already. Raises KeyConflict when an active job of the type
        holds its key."""
        ...

    def write(
        self,
        transitions: Sequence[Transition] = (),
        progress: Sequence[Progress] = (),
        messages: Sequence[NewMessage] = (),
    ) -> list[Applied | None]:
        """Write all of it in one transaction, in order: messages, progress, transitions.

        Returns, for each transition, what it moved, or None where the forward-only rule
        refused it.
        """
        ...

    def cancel_requested(self, job_id: uuid.UUID) -> bool:
        """Whether someone asked this job to stop."""
        ...

    def close(self) -> None: ...


class SqlWrites:
    """The write path in SQLAlchemy Core, for any database (used for SQLite)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with translated_errors(), self.engine.begin() as connection:
            yield connection

    def create(self, job: NewJob) -> bool:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(jobs)
            .values(
                id=job.id,
                job_type=job.job_type,
                category=job.category,
                subcategory=job.subcategory,
                description=job.description,
                parameters=dict(job.parameters),
                identity=job.identity,
                organization=job.organization,
                client_request_id=job.client_request_id,
                concurrency_key=job.key,
                status=int(JobStatus.CREATED),
                percent=0,
                attempt=1,
                can_cancel=job.can_cancel,
                can_rerun=job.can_rerun,
                created_at=job.created_at,
                updated_at=job.created_at,
                purge_at=job.purge_at,
                created_by=job.created_by,
                modified_by=job.created_by,
                access_scope=job.access_scope.value,
            )
            .on_conflict_do_nothing(index_elements=["organization", "client_request_id"])
            .returning(jobs.c.id)
        )
        try:
            with self._transaction() as connection:
                if connection.execute(statement).first() is None:
                    return False
                connection.execute(
                    insert(events).values(
                        job_id=job.id, at=job.created_at, status=0, attempt=1, message=None
                    )
                )
                return True
        except IntegrityError as exc:
            if job.key is not None and holds_key(exc.orig):
                raise KeyConflict(job.job_type, job.key) from exc
            raise StorageError(f"could not record the job: {exc.orig}") from exc

    def write(
        self,
        transitions: Sequence[Transition] = (),
        progress: Sequence[Progress] = (),
        messages: Sequence[NewMessage] = (),
    ) -> list[Applied | None]:
        with self._transaction() as connection:
            if messages:
                connection.execute(
                    insert(job_messages),
                    [
                        {
                            "job_id": m.job_id,
                            "attempt": m.attempt,
                            "at": m.at,
                            "level": m.level,
                            "text": m.text,
                        }
                        for m in messages
                    ],
                )
            for report in progress:
                connection.execute(_progress_statement(report))
            return [_apply_one(connection, transition) for transition in transitions]

    def cancel_requested(self, job_id: uuid.UUID) -> bool:
        with translated_errors(), self.engine.connect() as connection:
            value = connection.execute(
                select(jobs.c.cancel_requested_at).where(jobs.c.id == job_id)
            ).scalar_one_or_none()
        return value is not None

    def close(self) -> None:
        """Nothing of its own to release: the engine belongs to the runtime."""


def holds_key(error: object) -> bool:
    """Whether a unique violation is the one-active-job-per-key index.

    PostgreSQL names the index; SQLite names its columns.
    """
    text = str(error)
    return "uq_jobs_active_key" in text or "jobs.concurrency_key" in text


def _progress_statement(report: Progress) -> Any:
    values: dict[str, Any] = {}
    if report.percent is not None:
        values["percent"] = report.percent
    if report.status_text is not None:
        values["status_text"] = report.status_text
    at = literal(report.at, jobs.c.updated_at.type)
    values["updated_at"] = case((jobs.c.updated_at > at, jobs.c.updated_at), else_=at)
    return (
        update(jobs)
        .where(
            jobs.c.id == report.job_id,
            jobs.c.attempt == report.attempt,
            jobs.c.status == int(JobStatus.PROCESSING),
        )
        .values(values)
    )


_RANK = case((jobs.c.status >= TERMINAL_RANK, TERMINAL_RANK), else_=jobs.c.status)


def _apply_one(connection: Connection, transition: Transition) -> Applied | None:
    """One guarded UPDATE (the forward-only rule as SQL) and, if it applied, its event."""
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
        for name, reset in PER_ATTEMPT_RESET.items()
    }
    values.update(_transition_values(transition))
    record_queued = _missing_queued(connection, transition)
    if record_queued:
        values["queued_at"] = literal(transition.queued_at, jobs.c.queued_at.type)
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
    if row is None:
        return None
    if record_queued:
        connection.execute(
            insert(events).values(
                job_id=transition.job_id,
                at=transition.queued_at,
                status=int(JobStatus.QUEUED),
                attempt=attempt,
            )
        )
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
    return Applied(
        job_id=transition.job_id,
        attempt=attempt,
        status=transition.status,
        identity=row.identity,
        organization=row.organization,
    )


def _missing_queued(connection: Connection, transition: Transition) -> bool:
    """Whether a transition with a publish time must record its attempt's Queued too."""
    if transition.queued_at is None or transition.status is JobStatus.QUEUED:
        return False
    row = connection.execute(
        select(jobs.c.attempt, jobs.c.queued_at)
        .where(jobs.c.id == transition.job_id)
        .with_for_update()
    ).first()
    return row is not None and (row.attempt < transition.attempt or row.queued_at is None)


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
