"""Reading jobs, their events and messages, and the manager's own writes.

The manager's writes (cancel, rerun, delete, purge) are single guarded statements too; the
lifecycle's hot writes (Created, transitions, progress, messages) live in ``writes.py``.
SQLAlchemy Core only, no ORM sessions.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    RowMapping,
    Table,
    Text,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    tuple_,
)

from jobhub.db.engine import translated_errors
from jobhub.db.models import DocumentRow, JobEventRow, JobMessageRow, JobRow, JobTextRow
from jobhub.db.odata_sql import compile_filter, order_by_clauses
from jobhub.db.stats_store import count_before_delete
from jobhub.db.status_sql import status_in
from jobhub.errors import JobNotFound
from jobhub.jobs import (
    AccessScope,
    Job,
    JobError,
    JobEvent,
    JobMessage,
    JobStatus,
    JSONValue,
)
from jobhub.odata import Node
from jobhub.queries import FilteredPage, JobOrder, JobQuery

jobs = cast(Table, JobRow.__table__)
events = cast(Table, JobEventRow.__table__)
messages = cast(Table, JobMessageRow.__table__)
texts = cast(Table, JobTextRow.__table__)
documents = cast(Table, DocumentRow.__table__)

_TERMINAL = jobs.c.final_status.is_not(None)


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

    def by_client_request(self, organization: str, client_request_id: str) -> Job | None:
        """The job an (organization, client request id) already started, if any."""
        with self._read() as connection:
            row = connection.execute(
                select(jobs).where(
                    jobs.c.organization == organization,
                    jobs.c.client_request_id == client_request_id,
                )
            ).first()
        return None if row is None else _job_from_row(row._mapping)

    def delete(self, job_id: uuid.UUID) -> list[str]:
        """Delete a job with its events, messages and documents (``api.job`` deleteJob).

        Returns the document files to remove (``document_store.remove_files``).
        """
        with self._write() as connection:
            files = _document_files(connection, [job_id])
            count_before_delete(connection, [job_id])
            deleted = connection.execute(delete(jobs).where(jobs.c.id == job_id)).rowcount
        if not deleted:
            raise JobNotFound(job_id)
        return files

    def purge_expired(self, now: datetime, batch_size: int) -> tuple[int, list[str]]:
        """Delete one batch of finished jobs whose purge time has passed.

        Their transitions not folded into the statistics yet are counted in the same
        transaction (``stats_store.count_before_delete``), so no counter goes down.
        Returns how many, and the document files to remove.
        """
        with self._write() as connection:
            ids = (
                select(jobs.c.id)
                .where(jobs.c.purge_at <= now, _TERMINAL)
                .order_by(jobs.c.purge_at)
                .limit(batch_size)
            )
            expired = [row.id for row in connection.execute(ids)]
            if not expired:
                return 0, []
            files = _document_files(connection, expired)
            count_before_delete(connection, expired)
            # Events, messages and documents go with their job (ON DELETE CASCADE).
            count = connection.execute(delete(jobs).where(jobs.c.id.in_(expired))).rowcount
            return count, files

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

    def oldest_in_status(
        self, status: JobStatus, *, changed_before: datetime | None = None, limit: int = 500
    ) -> list[Job]:
        """Jobs in ``status`` (last changed before ``changed_before``), oldest first:
        what the reaper and the outbox reconciler work through. Of Created, only the jobs
        jobhub publishes at once: not those waiting for a due time, an outside runner, a
        release from a pause or limit, or the earlier steps of their workflow."""
        statement = select(jobs).where(status_in(jobs, [status]))
        if status is JobStatus.CREATED:
            statement = statement.where(
                jobs.c.due_at.is_(None),
                jobs.c.runs_elsewhere.is_(False),
                jobs.c.held.is_(False),
                jobs.c.awaiting_steps.is_(False),
            )
        if changed_before is not None:
            statement = statement.where(jobs.c.updated_at < changed_before)
        statement = statement.order_by(jobs.c.created_at, jobs.c.id).limit(limit)
        with self._read() as connection:
            return [_job_from_row(row._mapping) for row in connection.execute(statement)]

    def statuses(self, job_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, JobStatus]:
        """Just the statuses: what a wait loop polls."""
        with self._read() as connection:
            rows = connection.execute(
                select(jobs.c.id, jobs.c.status).where(jobs.c.id.in_(list(job_ids)))
            )
            return {row.id: JobStatus(row.status) for row in rows}

    def find(self, query: JobQuery) -> list[Job]:
        """Jobs matching every filter of ``query``, in its order (newest first by default)."""
        newest = query.order is JobOrder.NEWEST
        conditions = _conditions(query)
        if query.after is not None:
            position = tuple_(jobs.c.created_at, jobs.c.id)
            cursor = tuple_(
                literal(query.after.created_at, jobs.c.created_at.type),
                literal(query.after.id, jobs.c.id.type),
            )
            conditions.append(position < cursor if newest else position > cursor)
        order = (
            (jobs.c.created_at.desc(), jobs.c.id.desc())
            if newest
            else (jobs.c.created_at.asc(), jobs.c.id.asc())
        )
        statement = (
            select(jobs).where(*conditions).order_by(*order).limit(query.limit).offset(query.offset)
        )
        with self._read() as connection:
            return [_job_from_row(row._mapping) for row in connection.execute(statement)]

    def count(self, query: JobQuery, *, up_to: int) -> int:
        """How many jobs match the filters of ``query`` (its page ignored), counting no
        further than ``up_to``: a bound that keeps a count over millions of rows cheap."""
        matching = (
            select(literal(1)).select_from(jobs).where(*_conditions(query)).limit(up_to).subquery()
        )
        with self._read() as connection:
            return int(connection.execute(select(func.count()).select_from(matching)).scalar_one())

    def query(
        self,
        node: Node | None,
        keys: Sequence[tuple[str, bool]],
        *,
        top: int,
        skip: int,
        organization: str | None,
        count: bool,
    ) -> FilteredPage:
        """A page of jobs for a parsed OData filter and ordering, and the total if asked.

        Ties (and no ordering) fall back to newest first, then id, so pages are stable.
        """
        conditions: list[ColumnElement[bool]] = []
        if organization is not None:
            conditions.append(jobs.c.organization == organization)
        if node is not None:
            conditions.append(compile_filter(node))
        order = [*order_by_clauses(keys), jobs.c.created_at.desc(), jobs.c.id.desc()]
        statement = select(jobs).where(*conditions).order_by(*order).limit(top + 1).offset(skip)
        with self._read() as connection:
            found = [_job_from_row(row._mapping) for row in connection.execute(statement)]
            total = None
            if count:
                counted = select(func.count()).select_from(jobs).where(*conditions)
                total = int(connection.execute(counted).scalar_one())
        return FilteredPage(found[:top], total, more=len(found) > top)

    def events(self, job_id: uuid.UUID) -> list[JobEvent]:
        """A job's history, oldest first."""
        # Lifecycle order, whichever writer reached the database first: the rule lets at
        # most one event per status into an attempt (bar a "cancel requested" note) and
        # round. A job held by a pause or a limit goes back to Created and round again
        # (Created, Queued, Created: held, Queued: released, Processing, ...): a round
        # begins with each Created event, in the order written.
        round_ = func.sum(case((events.c.status == int(JobStatus.CREATED), 1), else_=0)).over(
            partition_by=events.c.attempt, order_by=events.c.id
        )
        history = select(events, round_.label("round")).where(events.c.job_id == job_id)
        ordered = history.subquery()
        statement = select(ordered).order_by(
            ordered.c.attempt, ordered.c.round, ordered.c.status, ordered.c.id
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


def _conditions(query: JobQuery) -> list[ColumnElement[bool]]:
    """The WHERE clause of ``query``'s filters (not of its page)."""
    conditions: list[ColumnElement[bool]] = []
    if query.statuses is not None:
        conditions.append(status_in(jobs, query.statuses))
    if query.job_type is not None:
        conditions.append(jobs.c.job_type == query.job_type)
    if query.organization is not None:
        conditions.append(jobs.c.organization == query.organization)
    if query.queue is not None:
        conditions.append(jobs.c.queue == query.queue)
    if query.created_from is not None:
        conditions.append(jobs.c.created_at >= query.created_from)
    if query.created_until is not None:
        conditions.append(jobs.c.created_at < query.created_until)
    if query.text is not None:
        conditions.append(_text_found(query.text))
    if not query.housekeeping:
        conditions.append(jobs.c.housekeeping.is_(False))
    if query.can_cancel is not None:
        conditions.append(jobs.c.can_cancel.is_(query.can_cancel))
    if query.can_rerun is not None:
        conditions.append(jobs.c.can_rerun.is_(query.can_rerun))
    return conditions


def _text_found(text: str) -> ColumnElement[bool]:
    """``text`` in the description, the concurrency key or the client request id, any case.

    Looked up in ``job_texts`` by ILIKE: on PostgreSQL its trigram index finds it (a query
    text always has a trigram: ``JobQuery`` sees to that); SQLite's LIKE ignores the case
    of ASCII letters. Wildcards in ``text`` are only characters. Whether PostgreSQL walks
    the newest jobs checking each (a common text) or collects the matches from the index
    and sorts them (a rare one) rests on its column statistics (see migration 0009).
    """
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    pattern = literal(f"%{escaped}%", Text())
    columns = (texts.c.description, texts.c.concurrency_key, texts.c.client_request_id)
    found = select(texts.c.job_id).where(or_(*(c.ilike(pattern, escape="/") for c in columns)))
    return jobs.c.id.in_(found)


def _document_files(connection: Connection, job_ids: list[uuid.UUID]) -> list[str]:
    """The files (under the documents folder) of these jobs' documents."""
    statement = select(documents.c.path).where(
        documents.c.job_id.in_(job_ids), documents.c.path.is_not(None)
    )
    return [row.path for row in connection.execute(statement)]


def _event_from_row(row: RowMapping) -> JobEvent:
    return JobEvent(
        job_id=row["job_id"],
        at=row["at"],
        status=JobStatus(row["status"]),
        attempt=row["attempt"],
        worker_id=row["worker_id"],
        message=row["message"],
        error=None
        if row["error_type"] is None
        else JobError(
            type=row["error_type"],
            message=row["error_message"] or "",
            traceback=row["error_traceback"],
        ),
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
        retries=row["retries"],
        access_scope=AccessScope(row["access_scope"]),
        housekeeping=bool(row["housekeeping"]),
        queue=row["queue"],
        priority=row["priority"],
        due_at=row["due_at"],
        max_attempts=row["max_attempts"],
        runs_elsewhere=bool(row["runs_elsewhere"]),
        held=bool(row["held"]),
        workflow_id=row["workflow_id"],
        awaiting_steps=bool(row["awaiting_steps"]),
    )
