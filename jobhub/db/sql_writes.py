"""The lifecycle write interface in SQLAlchemy Core, for any database (the embedded SQLite).

Each transition is one guarded UPDATE (the forward-only rule as SQL) with its event row;
``write`` takes a group and writes it in one transaction. ``PostgresWrites``
(``pg_writes.py``) is the hot path on PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    String,
    Table,
    and_,
    case,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from jobhub.audit import AuditAction, AuditEntry
from jobhub.db.audit_store import audit_columns
from jobhub.db.audit_store import entries as audit_entries
from jobhub.db.engine import translated_errors
from jobhub.db.gate_sql import ungated
from jobhub.db.models import JobEventRow, JobMessageRow, JobRow
from jobhub.errors import KeyConflict, StorageError
from jobhub.jobs import TERMINAL_RANK, Job, JobStatus
from jobhub.lifecycle import (
    ATTEMPT_RESET,
    CANCELLED_BEFORE_START,
    Applied,
    Due,
    NewJob,
    NewMessage,
    Progress,
    Reopen,
    ReopenReason,
    RunnerReport,
    Transition,
    cancel_event_text,
)

jobs = cast(Table, JobRow.__table__)
events = cast(Table, JobEventRow.__table__)
job_messages = cast(Table, JobMessageRow.__table__)


class SqlWrites:
    """The write path in SQLAlchemy Core, for any database (used for SQLite)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with translated_errors(), self.engine.begin() as connection:
            yield connection

    def create(self, job: NewJob, audit: AuditEntry | None = None) -> bool:
        try:
            with self._transaction() as connection:
                return insert_job(connection, job, audit, skip_any_conflict=False)
        except IntegrityError as exc:
            if job.key is not None and holds_key(exc.orig):
                raise KeyConflict(job.job_type, job.key) from exc
            raise StorageError(f"could not record the job: {exc.orig}") from exc

    def create_many(
        self, jobs: Sequence[NewJob], audits: Sequence[AuditEntry | None]
    ) -> list[bool]:
        try:
            with self._transaction() as connection:
                return [
                    insert_job(connection, job, audit, skip_any_conflict=True)
                    for job, audit in zip(jobs, audits, strict=True)
                ]
        except IntegrityError as exc:
            raise StorageError(f"could not record the jobs: {exc.orig}") from exc

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
            return [apply_transition(connection, transition) for transition in transitions]

    def request_cancel(
        self, job_id: uuid.UUID, *, at: datetime, actor: str | None, cancel_running: bool
    ) -> JobStatus | None:
        not_started = jobs.c.status < int(JobStatus.PROCESSING)
        allowed = not_started if not cancel_running else jobs.c.status < TERMINAL_RANK
        statement = (
            update(jobs)
            .where(jobs.c.id == job_id, allowed)
            .values(
                cancel_requested_at=func.coalesce(jobs.c.cancel_requested_at, at),
                status=case((not_started, int(JobStatus.CANCELLED)), else_=jobs.c.status),
                completed_at=case((not_started, at), else_=jobs.c.completed_at),
                status_text=case((not_started, CANCELLED_BEFORE_START), else_=jobs.c.status_text),
                due_at=case((not_started, None), else_=jobs.c.due_at),
                held=and_(jobs.c.held, ~not_started),
                released=and_(jobs.c.released, ~not_started),
                awaiting_steps=and_(jobs.c.awaiting_steps, ~not_started),
                updated_at=at,
                modified_by=actor,
            )
            .returning(jobs.c.status, jobs.c.attempt)
        )
        with self._transaction() as connection:
            row = connection.execute(statement).first()
            if row is None:
                return None
            status = JobStatus(row.status)
            connection.execute(
                insert(events).values(
                    job_id=job_id,
                    at=at,
                    status=row.status,
                    attempt=row.attempt,
                    message=cancel_event_text(status),
                )
            )
        return status

    def reopen(self, reopen: Reopen) -> int | None:
        values: dict[str, Any] = dict(ATTEMPT_RESET, held=False, released=False)
        values.update(status=int(JobStatus.CREATED), attempt=reopen.attempt + 1)
        values["updated_at"] = reopen.at
        conditions: list[Any] = [jobs.c.id == reopen.job_id, jobs.c.attempt == reopen.attempt]
        if reopen.reason is ReopenReason.RERUN:
            conditions.append(jobs.c.status >= TERMINAL_RANK)
            values.update(retries=0, cancel_requested_at=None, modified_by=reopen.actor)
            values["due_at"] = None
            if reopen.purge_at is not None:
                values["purge_at"] = reopen.purge_at
        else:
            conditions += [
                jobs.c.status == int(JobStatus.PROCESSING),
                jobs.c.cancel_requested_at.is_(None),
                jobs.c.retries + 1 < jobs.c.max_attempts,
            ]
            values.update(
                retries=jobs.c.retries + 1, due_at=reopen.due_at, status_text=reopen.status_text
            )
        statement = update(jobs).where(*conditions).values(values).returning(jobs.c.job_type)
        try:
            with self._transaction() as connection:
                if connection.execute(statement).first() is None:
                    return None
                if reopen.failed is not None:
                    connection.execute(
                        insert(events).values(
                            job_id=reopen.job_id,
                            at=reopen.at,
                            status=int(JobStatus.COMPLETED_WITH_ERRORS),
                            attempt=reopen.attempt,
                            message=reopen.failed_message,
                            error_type=reopen.failed.type,
                            error_message=reopen.failed.message,
                            error_traceback=reopen.failed.traceback,
                        )
                    )
                connection.execute(
                    insert(events).values(
                        job_id=reopen.job_id,
                        at=reopen.at,
                        status=int(JobStatus.CREATED),
                        attempt=reopen.attempt + 1,
                        message=reopen.message,
                    )
                )
        except IntegrityError as exc:
            if holds_key(exc.orig):
                with translated_errors(), self.engine.connect() as connection:
                    row = connection.execute(
                        select(jobs.c.job_type, jobs.c.concurrency_key).where(
                            jobs.c.id == reopen.job_id
                        )
                    ).one()
                raise KeyConflict(row.job_type, row.concurrency_key or "") from exc
            raise StorageError(f"could not reopen the job: {exc.orig}") from exc
        return reopen.attempt + 1

    def take_due(self, now: datetime, *, limit: int = 100) -> list[Due]:
        candidates = (
            select(
                jobs.c.id,
                jobs.c.job_type,
                jobs.c.attempt,
                jobs.c.parameters,
                jobs.c.queue,
                jobs.c.priority,
            )
            .where(
                jobs.c.status == int(JobStatus.CREATED),
                jobs.c.due_at <= now,
                jobs.c.runs_elsewhere.is_(False),
            )
            .order_by(jobs.c.due_at)
            .limit(limit)
        )
        taken: list[Due] = []
        with self._transaction() as connection:
            for row in connection.execute(candidates).all():
                claimed = connection.execute(
                    update(jobs)
                    .where(
                        jobs.c.id == row.id,
                        jobs.c.attempt == row.attempt,
                        jobs.c.status == int(JobStatus.CREATED),
                        jobs.c.due_at.is_not(None),
                    )
                    .values(due_at=None, updated_at=now, status_text=_RUN_ATTEMPT_TEXT)
                ).rowcount
                if claimed:
                    taken.append(
                        Due(
                            job_id=row.id,
                            job_type=row.job_type,
                            attempt=row.attempt,
                            parameters=row.parameters or {},
                            queue=row.queue,
                            priority=row.priority,
                        )
                    )
        return taken

    def start_now(self, job_id: uuid.UUID, *, at: datetime, actor: str | None, why: str) -> bool:
        statement = (
            update(jobs)
            .where(
                jobs.c.id == job_id,
                jobs.c.status == int(JobStatus.CREATED),
                jobs.c.due_at.is_not(None),
            )
            .values(due_at=at, updated_at=at, modified_by=actor, status_text=why)
            .returning(jobs.c.attempt)
        )
        with self._transaction() as connection:
            row = connection.execute(statement).first()
            if row is None:
                return False
            connection.execute(
                insert(events).values(
                    job_id=job_id,
                    at=at,
                    status=int(JobStatus.CREATED),
                    attempt=row.attempt,
                    message=why,
                )
            )
        return True

    def report(self, report: RunnerReport) -> bool:
        values: dict[str, Any] = {}
        if report.percent is not None:
            values["percent"] = report.percent
        if report.status_text is not None:
            values["status_text"] = report.status_text
        at = literal(report.at, jobs.c.updated_at.type)
        values["updated_at"] = case((jobs.c.updated_at > at, jobs.c.updated_at), else_=at)
        statement = (
            update(jobs)
            .where(
                jobs.c.id == report.job_id,
                jobs.c.attempt == report.attempt,
                jobs.c.status == int(JobStatus.PROCESSING),
                jobs.c.worker_id == report.runner,
            )
            .values(values)
        )
        with self._transaction() as connection:
            if not connection.execute(statement).rowcount:
                return False
            if report.message is not None:
                connection.execute(
                    insert(job_messages).values(
                        job_id=report.job_id,
                        attempt=report.attempt,
                        at=report.at,
                        level=report.level,
                        text=report.message,
                    )
                )
        return True

    def take_for_publish(self, job: Job, *, at: datetime, why: str) -> bool:
        statement = (
            update(jobs)
            .where(
                jobs.c.id == job.id,
                jobs.c.status == int(job.status),
                jobs.c.attempt == job.attempt,
                jobs.c.updated_at == job.updated_at,
            )
            .values(updated_at=at)
        )
        with self._transaction() as connection:
            if not connection.execute(statement).rowcount:
                return False
            connection.execute(
                insert(events).values(
                    job_id=job.id, at=at, status=int(job.status), attempt=job.attempt, message=why
                )
            )
        return True

    def discard_unpublished(self, job_id: uuid.UUID) -> None:
        with self._transaction() as connection:
            created_at = connection.execute(
                delete(jobs)
                .where(
                    jobs.c.id == job_id,
                    jobs.c.status == int(JobStatus.CREATED),
                    jobs.c.attempt == 1,
                )
                .returning(jobs.c.created_at)
            ).scalar_one_or_none()
            if created_at is not None:
                connection.execute(
                    delete(audit_entries).where(
                        audit_entries.c.at == created_at,
                        audit_entries.c.action == AuditAction.START.value,
                        audit_entries.c.target == f"job {job_id}",
                    )
                )

    def cancel_requested(self, job_id: uuid.UUID) -> bool:
        with translated_errors(), self.engine.connect() as connection:
            value = connection.execute(
                select(jobs.c.cancel_requested_at).where(jobs.c.id == job_id)
            ).scalar_one_or_none()
        return value is not None

    def close(self) -> None:
        """Nothing of its own to release: the engine belongs to the runtime."""


def job_row(job: NewJob, columns: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The columns of ``job``'s row as recorded Created (and ``columns``)."""
    return dict(
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
        housekeeping=job.housekeeping,
        queue=job.queue,
        priority=job.priority,
        due_at=job.due_at,
        max_attempts=job.max_attempts,
        runs_elsewhere=job.runs_elsewhere,
        status_text=job.status_text,
        held=job.held,
        **(columns or {}),
    )


def insert_job(
    connection: Connection,
    job: NewJob,
    audit: AuditEntry | None,
    *,
    skip_any_conflict: bool,
    columns: Mapping[str, Any] | None = None,
) -> bool:
    """Insert ``job`` with its event and ``audit``; False when a unique index skipped
    it: only the client request id's, or (``skip_any_conflict``) the key's as well.
    ``columns`` sets more of the row (a workflow step's link and wait)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(jobs).values(job_row(job, columns))
    skipping = (
        statement.on_conflict_do_nothing()
        if skip_any_conflict
        else statement.on_conflict_do_nothing(
            index_elements=["organization", "client_request_id"],
            index_where=jobs.c.client_request_id.is_not(None),
        )
    )
    if connection.execute(skipping.returning(jobs.c.id)).first() is None:
        return False
    connection.execute(
        insert(events).values(
            job_id=job.id, at=job.created_at, status=0, attempt=1, message=job.status_text
        )
    )
    if audit is not None:
        connection.execute(
            insert(audit_entries).values({**audit_columns(audit), "at": job.created_at})
        )
    return True


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


_RUN_ATTEMPT_TEXT = case(
    (
        jobs.c.retries > 0,
        literal("attempt ")
        + sql_cast(jobs.c.retries + 1, String)
        + literal(" of ")
        + sql_cast(jobs.c.max_attempts, String),
    ),
    else_=None,
)
"""What a retried job's status text says once its attempt is published: "attempt 2 of 5"."""

_RANK = case((jobs.c.status >= TERMINAL_RANK, TERMINAL_RANK), else_=jobs.c.status)


def apply_transition(connection: Connection, transition: Transition) -> Applied | None:
    """One guarded UPDATE (the forward-only rule as SQL) and, if it applied, its event."""
    attempt = transition.attempt
    same_attempt = jobs.c.attempt == attempt
    newer_attempt = and_(jobs.c.attempt < attempt, jobs.c.status < TERMINAL_RANK)
    if transition.status is JobStatus.QUEUED:
        # a held job's late Queued (its publisher was overtaken by the refused claim)
        # must not make it look queued: it waits in Created until released
        same = and_(same_attempt, jobs.c.queued_at.is_(None), ~jobs.c.held)
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
        for name, reset in ATTEMPT_RESET.items()
    }
    values.update(_transition_values(transition))
    record_queued = _missing_queued(connection, transition)
    if record_queued:
        values["queued_at"] = literal(transition.queued_at, jobs.c.queued_at.type)
    values["status"] = status
    values["attempt"] = attempt
    values["released"] = (
        false()
        if transition.status.is_terminal
        else and_(jobs.c.released, jobs.c.attempt == attempt)
    )
    if transition.status is not JobStatus.QUEUED:  # started or ended: held no more
        values["held"] = false()
    # a late Queued must not move the update time back
    at = literal(transition.at, jobs.c.updated_at.type)
    values["updated_at"] = case((jobs.c.updated_at > at, jobs.c.updated_at), else_=at)
    statement = (
        update(jobs)
        .where(jobs.c.id == transition.job_id, or_(newer_attempt, same), *_gates(transition))
        .values(values)
        .returning(jobs.c.identity, jobs.c.organization, jobs.c.retries, jobs.c.max_attempts)
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
    failed = transition.error if transition.status is JobStatus.COMPLETED_WITH_ERRORS else None
    connection.execute(
        insert(events).values(
            job_id=transition.job_id,
            at=transition.at,
            status=int(transition.status),
            attempt=attempt,
            worker_id=transition.worker_id,
            message=transition.message,
            error_type=failed.type if failed else None,
            error_message=failed.message if failed else None,
            error_traceback=failed.traceback if failed else None,
        )
    )
    return Applied(
        job_id=transition.job_id,
        attempt=attempt,
        status=transition.status,
        identity=row.identity,
        organization=row.organization,
        retries=row.retries,
        max_attempts=row.max_attempts,
    )


def _gates(transition: Transition) -> list[ColumnElement[bool]]:
    """A claim passes pauses and limits only when released (``jobhub.db.gate_sql``)."""
    if transition.status is not JobStatus.PROCESSING:
        return []
    released = and_(jobs.c.released, jobs.c.attempt == transition.attempt)
    return [or_(released, text(ungated("jobs")))]


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
