"""The lifecycle write path on PostgreSQL: lean statements on one reused connection.

Each process keeps one psycopg connection for it, with server-side prepared statements. A
group of transitions is one ``UPDATE ... FROM jsonb_to_recordset(...)`` (the batch travels
as one JSON parameter) whose WHERE clause is the forward-only rule and whose CTEs append
the event rows, so a batch of any size is one statement and one commit. No ORM, no
statement building per call: the SQL is in ``pg_statements.py``.

Commits do not wait for the WAL flush (``synchronous_commit=off``): a write is visible,
ordered and safe from the death of any client process once its statement returns, and
PostgreSQL's WAL writer puts it on disk within a fraction of a second (at most three
``wal_writer_delay``, 600 ms by default). Waiting for that flush on every transition cost
a worker a third of its throughput. What the relaxed flush risks is a crash of the
database server itself (not a clean restart) losing the last fraction of a second of
commits, and three things cover it:

* each process keeps what it wrote in the last ``REPLAY_WINDOW`` and, when it finds its
  connection broken, writes it again after reconnecting; the forward-only rule makes the
  replay change nothing that had survived;
* a job's message carries its row, so a worker recreates a Created row that was lost;
* a claim carries the message's publish time, so a lost Queued is recorded again.

Only a database crash together with the death of the writing process within the same
second can still lose a transition.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors

from jobhub.audit import AuditEntry
from jobhub.db.pg_statements import (
    BATCH_PLANS,
    CANCEL_REQUESTED,
    CREATE,
    CREATE_MANY,
    CREATE_ONCE,
    DISCARD_UNPUBLISHED,
    DURABLE,
    EXISTING_IDS,
    KEY_OF,
    MESSAGES,
    PROGRESS,
    REOPEN,
    REPORT,
    REQUEST_CANCEL,
    START_NOW,
    TAKE_DUE,
    TAKE_FOR_PUBLISH,
    TRANSITION,
    TRANSITIONS,
    create_many_param,
    create_params,
    message_columns,
    progress_columns,
    reopen_params,
    transition_columns,
    transition_params,
)
from jobhub.db.sql_writes import holds_key
from jobhub.errors import KeyConflict, SchemaOutOfDate, StorageError, StorageUnavailable
from jobhub.jobs import Job, JobStatus
from jobhub.lifecycle import (
    Applied,
    Due,
    NewJob,
    NewMessage,
    Progress,
    Reopen,
    RunnerReport,
    Transition,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

SESSION_OPTIONS = (
    "-c synchronous_commit=off -c plan_cache_mode=force_generic_plan"
    " -c enable_seqscan=off -c enable_hashjoin=off -c enable_mergejoin=off"
)
"""Settings of the write path's own connection. Commits as described above. Every
statement here finds its rows by primary key; planning each execution again (PostgreSQL's
choice for statements over ``jsonb_to_recordset`` of a parameter) costs more than running
it, and on a young table with no statistics yet the planner would pick a sequential scan.
So: one generic plan, index only."""

REPLAY_WINDOW = 1.0
"""Seconds of recent writes a process writes again after losing its connection."""


class PostgresWrites:
    """The ``Writes`` of one process on PostgreSQL (thread-safe; one connection)."""

    def __init__(self, url: str, *, connect_timeout: float) -> None:
        self._url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._connect_timeout = max(1, int(connect_timeout))
        self._lock = threading.Lock()
        self._connection: psycopg.Connection[Any] | None = None
        self._pid = os.getpid()
        self._recent: deque[tuple[float, _Written]] = deque()
        self._replay_pending = False

    def create(self, job: NewJob, audit: AuditEntry | None = None) -> bool:
        try:
            creation = _Creation(job, audit)
            row = self._run(lambda c: _insert(c, creation), remember=(creation,))
        except pg_errors.UniqueViolation as exc:
            if job.key is not None and holds_key(exc.diag.constraint_name or exc):
                raise KeyConflict(job.job_type, job.key) from exc
            if exc.diag.constraint_name == "pk_jobs":
                return True  # written again after a lost reply: our own insert had landed
            raise StorageError(f"could not record the job: {exc}") from exc
        return row is not None

    def create_many(
        self, jobs: Sequence[NewJob], audits: Sequence[AuditEntry | None]
    ) -> list[bool]:
        if not jobs:
            return []
        param = create_many_param(jobs, audits)

        def insert(connection: psycopg.Connection[Any]) -> set[uuid.UUID]:
            with connection.transaction():
                connection.execute(BATCH_PLANS)
                rows = connection.execute(CREATE_MANY, (param,), prepare=False).fetchall()
            inserted = {row[0] for row in rows}
            skipped = [job.id for job in jobs if job.id not in inserted]
            if skipped:  # ids are new: one that exists is ours (written again after a lost reply)
                found = connection.execute(EXISTING_IDS, (skipped,), prepare=True).fetchall()
                inserted.update(row[0] for row in found)
            return inserted

        inserted = self._run(insert)
        with self._lock:  # only what was inserted is written again after a lost connection
            self._remember(
                [
                    _Creation(job, audit)
                    for job, audit in zip(jobs, audits, strict=True)
                    if job.id in inserted
                ]
            )
        return [job.id in inserted for job in jobs]

    def write(
        self,
        transitions: Sequence[Transition] = (),
        progress: Sequence[Progress] = (),
        messages: Sequence[NewMessage] = (),
    ) -> list[Applied | None]:
        waves = _waves(transitions)
        if not progress and not messages and len(waves) <= 1:
            if not waves:
                return []
            return self._run(lambda c: _transitions(c, waves[0]), remember=transitions)

        def everything(connection: psycopg.Connection[Any]) -> list[Applied | None]:
            # One transaction, sent as one pipeline: one round trip whatever the count.
            with connection.pipeline(), connection.transaction():
                if messages:
                    connection.execute(MESSAGES, message_columns(messages), prepare=True)
                if progress:
                    connection.execute(PROGRESS, progress_columns(progress), prepare=True)
                sent = [(wave, _send_transitions(connection, wave)) for wave in waves]
                found: dict[int, Applied | None] = {}
                for wave, cursor in sent:
                    found.update(zip(wave.keys(), _moved(wave, cursor), strict=True))
            return [found[index] for index in range(len(transitions))]

        return self._run(everything, remember=transitions)

    def request_cancel(
        self, job_id: uuid.UUID, *, at: datetime, actor: str | None, cancel_running: bool
    ) -> JobStatus | None:
        params = {"id": job_id, "at": at, "actor": actor, "cancel_running": cancel_running}
        row = self._run(lambda c: _durable(c, REQUEST_CANCEL, params))
        return None if row is None else JobStatus(row[0])

    def reopen(self, reopen: Reopen) -> int | None:
        statement = REOPEN[reopen.reason]
        try:
            row = self._run(lambda c: _durable(c, statement, reopen_params(reopen)))
        except pg_errors.UniqueViolation as exc:
            if holds_key(exc.diag.constraint_name or exc):
                found = self._run(lambda c: c.execute(KEY_OF, (reopen.job_id,)).fetchone())
                job_type, key = found if found is not None else ("?", None)
                raise KeyConflict(job_type, key or "") from exc
            raise StorageError(f"could not reopen the job: {exc}") from exc
        return None if row is None else int(row[0])

    def report(self, report: RunnerReport) -> bool:
        params = {
            "id": report.job_id,
            "attempt": report.attempt,
            "runner": report.runner,
            "at": report.at,
            "percent": report.percent,
            "status_text": report.status_text,
            "level": report.level,
            "text": report.message,
        }
        row = self._run(lambda c: c.execute(REPORT, params, prepare=True).fetchone())
        return row is not None

    def take_for_publish(self, job: Job, *, at: datetime, why: str) -> bool:
        params = {
            "id": job.id,
            "status": int(job.status),
            "attempt": job.attempt,
            "updated_at": job.updated_at,
            "at": at,
            "why": why,
        }
        return self._run(lambda c: _durable(c, TAKE_FOR_PUBLISH, params)) is not None

    def take_due(self, now: datetime, *, limit: int = 100) -> list[Due]:
        params = {"now": now, "limit": limit}
        rows = self._run(lambda c: c.execute(TAKE_DUE, params, prepare=True).fetchall())
        return [
            Due(
                job_id=row[0],
                job_type=row[1],
                attempt=row[2],
                parameters=row[3] or {},
                queue=row[4],
                priority=row[5],
            )
            for row in rows
        ]

    def start_now(self, job_id: uuid.UUID, *, at: datetime, actor: str | None, why: str) -> bool:
        params = {"id": job_id, "at": at, "actor": actor, "why": why}
        return self._run(lambda c: _durable(c, START_NOW, params)) is not None

    def discard_unpublished(self, job_id: uuid.UUID) -> None:
        self._run(lambda c: _durable(c, DISCARD_UNPUBLISHED, {"id": job_id}))

    def cancel_requested(self, job_id: uuid.UUID) -> bool:
        row = self._run(lambda c: c.execute(CANCEL_REQUESTED, (job_id,), prepare=True).fetchone())
        return bool(row and row[0])

    def close(self) -> None:
        with self._lock:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None

    # -- the connection ------------------------------------------------------------------

    def _run(
        self,
        action: Callable[[psycopg.Connection[Any]], T],
        remember: Sequence[_Written] = (),
    ) -> T:
        """Run ``action`` on this process's connection; after a lost connection,
        reconnect, write the recent writes again, and run it once more.

        Every write here is safe to repeat: transitions are guarded by the forward-only
        rule, a repeated Created insert finds its own row.
        """
        with self._lock, _translated():
            for tries_left in (1, 0):
                connection = self._connect()
                try:
                    result = action(connection)
                except psycopg.OperationalError:
                    if connection.broken:
                        self._connection = None
                        self._replay_pending = True
                    if not connection.broken or not tries_left:
                        raise
                    logger.warning("database connection lost; reconnecting")
                    continue
                self._remember(remember)
                return result
            raise AssertionError("unreachable")

    def _remember(self, written: Sequence[_Written]) -> None:
        now = time.monotonic()
        recent = self._recent
        recent.extend((now, item) for item in written)
        while recent and recent[0][0] < now - REPLAY_WINDOW:
            recent.popleft()

    def _replay(self, connection: psycopg.Connection[Any]) -> None:
        """Write again what the lost connection committed last: the server may have
        crashed before those commits reached its disk."""
        items = [item for _, item in self._recent]
        if not items:
            return
        logger.warning("writing the last %d writes again after reconnecting", len(items))
        for item in items:
            if isinstance(item, _Creation):
                try:
                    with connection.transaction():
                        _insert(connection, item)
                except pg_errors.UniqueViolation:
                    pass  # it survived (or its key is taken again): nothing to restore
        transitions = [item for item in items if isinstance(item, Transition)]
        for wave in _waves(transitions):
            _transitions(connection, wave)

    def _connect(self) -> psycopg.Connection[Any]:
        if self._pid != os.getpid():  # forked: the parent owns that socket and those writes
            self._connection, self._pid = None, os.getpid()
            self._recent.clear()
            self._replay_pending = False
        if self._connection is None or self._connection.closed:
            connection = psycopg.connect(
                self._url,
                autocommit=True,
                connect_timeout=self._connect_timeout,
                application_name="jobhub",
                options=SESSION_OPTIONS,
            )
            if self._replay_pending:
                self._replay(connection)
                self._replay_pending = False
            self._connection = connection
        return self._connection


def _send_transitions(
    connection: psycopg.Connection[Any], wave: dict[int, Transition]
) -> psycopg.Cursor[Any]:
    """Send one UPDATE for transitions of distinct jobs (results are read later)."""
    if len(wave) == 1:
        (one,) = wave.values()
        return connection.execute(TRANSITION, transition_params(one), prepare=True)
    return connection.execute(TRANSITIONS, transition_columns(list(wave.values())), prepare=True)


def _moved(wave: dict[int, Transition], cursor: psycopg.Cursor[Any]) -> list[Applied | None]:
    """What each transition of ``wave`` moved, in order, from its UPDATE's rows."""
    moved = {row[0]: row for row in cursor.fetchall()}
    result: list[Applied | None] = []
    for transition in wave.values():
        row = moved.get(transition.job_id)
        result.append(
            None
            if row is None
            else Applied(
                job_id=transition.job_id,
                attempt=transition.attempt,
                status=JobStatus(row[1]),
                identity=row[2],
                organization=row[3],
                retries=row[4],
                max_attempts=row[5],
            )
        )
    return result


def _transitions(
    connection: psycopg.Connection[Any], wave: dict[int, Transition]
) -> list[Applied | None]:
    return _moved(wave, _send_transitions(connection, wave))


def _waves(transitions: Sequence[Transition]) -> list[dict[int, Transition]]:
    """Split into groups with each job at most once (one UPDATE moves a row once)."""
    waves: list[dict[int, Transition]] = []
    seen: list[set[uuid.UUID]] = []
    for index, transition in enumerate(transitions):
        free = next((n for n, ids in enumerate(seen) if transition.job_id not in ids), None)
        if free is None:
            waves.append({})
            seen.append(set())
            free = len(waves) - 1
        waves[free][index] = transition
        seen[free].add(transition.job_id)
    return waves


@dataclass(frozen=True, slots=True)
class _Creation:
    """A new job with the audit entry of its start, as written (and written again)."""

    job: NewJob
    audit: AuditEntry | None


_Written = _Creation | Transition


def _insert(connection: psycopg.Connection[Any], creation: _Creation) -> Any:
    params = create_params(creation.job, creation.audit)
    statement = CREATE if creation.job.client_request_id is None else CREATE_ONCE
    return connection.execute(statement, params, prepare=True).fetchone()


def _durable(
    connection: psycopg.Connection[Any], statement: str, params: Mapping[str, Any] | Sequence[Any]
) -> Any:
    """Run an operator action in a transaction whose commit waits for the disk."""
    with connection.transaction():
        connection.execute(DURABLE)
        return connection.execute(statement, params, prepare=True).fetchone()


@contextmanager
def _translated() -> Iterator[None]:
    """psycopg errors as jobhub's (unique violations pass: the caller knows their meaning)."""
    try:
        yield
    except pg_errors.UniqueViolation:
        raise
    except pg_errors.UndefinedTable as exc:
        raise SchemaOutOfDate() from exc
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "connection failed"
        raise StorageUnavailable(f"database unavailable: {first}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"database error: {exc}") from exc
