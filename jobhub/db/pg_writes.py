"""The lifecycle write path on PostgreSQL: lean statements on one reused connection.

Each process keeps one psycopg connection for it, with server-side prepared statements. A
group of transitions is one ``UPDATE ... FROM jsonb_to_recordset(...)`` (the batch travels
as one JSON parameter) whose WHERE clause is the forward-only rule and whose CTEs append
the event rows, so a batch of any size is one statement and one commit. No ORM, no
statement building per call: the SQL below is all there is.

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

import json
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from jobhub.db.sql_writes import holds_key
from jobhub.errors import KeyConflict, SchemaOutOfDate, StorageError, StorageUnavailable
from jobhub.jobs import JobStatus
from jobhub.lifecycle import Applied, NewJob, NewMessage, Progress, Transition

logger = logging.getLogger(__name__)
T = TypeVar("T")

CREATE = """
WITH job AS (
    INSERT INTO jobs (id, job_type, category, subcategory, description, parameters, identity,
                      organization, client_request_id, concurrency_key, status, percent, attempt,
                      can_cancel, can_rerun, created_at, updated_at, purge_at, created_by,
                      modified_by, access_scope)
    VALUES (%(id)s, %(job_type)s, %(category)s, %(subcategory)s, %(description)s,
            %(parameters)s, %(identity)s, %(organization)s, %(client_request_id)s, %(key)s,
            0, 0, 1, %(can_cancel)s, %(can_rerun)s, %(created_at)s, %(created_at)s,
            %(purge_at)s, %(created_by)s, %(created_by)s, %(access_scope)s)
    ON CONFLICT (organization, client_request_id) DO NOTHING
    RETURNING id, created_at
), event AS (
    INSERT INTO job_events (job_id, at, status, attempt) SELECT id, created_at, 0, 1 FROM job
)
SELECT id FROM job
"""

# The forward-only rule (jobhub.lifecycle) for a batch: t.* is the transition, j.* the row
# before it. "newer" means the transition belongs to a later attempt than the row.
_BATCH = """
    SELECT * FROM jsonb_to_recordset(%s::jsonb)
        AS t(id uuid, attempt int, status smallint, at timestamptz, worker_id text,
             message text, result jsonb, error_type text, error_message text,
             error_traceback text, queued_at timestamptz)
"""
_SINGLE = """
    SELECT %s::uuid AS id, %s::int AS attempt, %s::smallint AS status, %s::timestamptz AS at,
           %s::text AS worker_id, %s::text AS message, %s::jsonb AS result,
           %s::text AS error_type, %s::text AS error_message, %s::text AS error_traceback,
           %s::timestamptz AS queued_at
"""
_RULE = """
WITH t AS ({source}), old AS (
    -- for transitions that carry their message's publish time: the row as it is now,
    -- locked, says whether the attempt still lacks its Queued (only these rows are locked)
    SELECT j.id, (j.attempt < t.attempt OR j.queued_at IS NULL) AS record_queued
    FROM jobs j JOIN t ON j.id = t.id
    WHERE t.queued_at IS NOT NULL AND t.status <> 1
    FOR UPDATE OF j
), moved AS (
    UPDATE jobs j SET
        status = CASE WHEN t.status = 1 AND j.attempt = t.attempt AND j.status > 1
                      THEN j.status ELSE t.status END,
        attempt = t.attempt,
        updated_at = GREATEST(j.updated_at, t.at),
        queued_at = CASE WHEN t.status = 1 THEN t.at
                         WHEN old.record_queued IS TRUE THEN t.queued_at
                         WHEN j.attempt < t.attempt THEN NULL ELSE j.queued_at END,
        started_at = CASE WHEN t.status = 2 THEN t.at
                          WHEN j.attempt < t.attempt THEN NULL ELSE j.started_at END,
        completed_at = CASE WHEN t.status >= 3 THEN t.at
                            WHEN j.attempt < t.attempt THEN NULL ELSE j.completed_at END,
        worker_id = CASE WHEN t.status = 2 OR (t.status >= 3 AND t.worker_id IS NOT NULL)
                         THEN t.worker_id
                         WHEN j.attempt < t.attempt THEN NULL ELSE j.worker_id END,
        percent = CASE WHEN t.status = 3 THEN 100
                       WHEN j.attempt < t.attempt THEN 0 ELSE j.percent END,
        status_text = CASE WHEN t.message IS NOT NULL THEN t.message
                           WHEN j.attempt < t.attempt THEN NULL ELSE j.status_text END,
        result = CASE WHEN t.status = 3 THEN t.result
                      WHEN j.attempt < t.attempt THEN NULL ELSE j.result END,
        error_type = CASE WHEN t.status = 4 AND t.error_type IS NOT NULL THEN t.error_type
                          WHEN j.attempt < t.attempt THEN NULL ELSE j.error_type END,
        error_message = CASE WHEN t.status = 4 AND t.error_type IS NOT NULL THEN t.error_message
                             WHEN j.attempt < t.attempt THEN NULL ELSE j.error_message END,
        error_traceback = CASE WHEN t.status = 4 AND t.error_type IS NOT NULL
                               THEN t.error_traceback
                               WHEN j.attempt < t.attempt THEN NULL ELSE j.error_traceback END
    FROM t LEFT JOIN old ON old.id = t.id
    WHERE j.id = t.id AND (
        (j.attempt < t.attempt AND j.status < 3)
        OR (j.attempt = t.attempt AND CASE WHEN t.status = 1 THEN j.queued_at IS NULL
                                           ELSE LEAST(j.status, 3) < LEAST(t.status, 3) END))
    RETURNING j.id, t.attempt, t.status, t.at, t.worker_id, t.message, j.identity,
              j.organization, old.record_queued, t.queued_at
), event AS (
    INSERT INTO job_events (job_id, at, status, attempt, worker_id, message)
    SELECT id, queued_at, 1, attempt, NULL, NULL FROM moved WHERE record_queued IS TRUE
    UNION ALL
    SELECT id, at, status, attempt, worker_id, message FROM moved
)
SELECT id, status, identity, organization FROM moved
"""
TRANSITIONS = _RULE.format(source=_BATCH)
"""A batch of transitions of distinct jobs, as one JSON parameter."""
TRANSITION = _RULE.format(source=_SINGLE)
"""The same for one transition, its fields as plain parameters (cheaper to send)."""

PROGRESS = """
UPDATE jobs j SET
    percent = COALESCE(p.percent, j.percent),
    status_text = COALESCE(p.status_text, j.status_text),
    updated_at = GREATEST(j.updated_at, p.at)
FROM jsonb_to_recordset(%s::jsonb)
    AS p(id uuid, attempt int, at timestamptz, percent smallint, status_text text)
WHERE j.id = p.id AND j.attempt = p.attempt AND j.status = 2
"""

MESSAGES = """
INSERT INTO job_messages (job_id, attempt, at, level, text)
SELECT id, attempt, at, level, text
FROM jsonb_to_recordset(%s::jsonb)
    AS m(n int, id uuid, attempt int, at timestamptz, level text, text text)
ORDER BY n
"""

CANCEL_REQUESTED = "SELECT cancel_requested_at IS NOT NULL FROM jobs WHERE id = %s"

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
        self._recent: deque[tuple[float, NewJob | Transition]] = deque()
        self._replay_pending = False

    def create(self, job: NewJob) -> bool:
        try:
            row = self._run(lambda c: _create(c, job), remember=(job,))
        except pg_errors.UniqueViolation as exc:
            if job.key is not None and holds_key(exc.diag.constraint_name or exc):
                raise KeyConflict(job.job_type, job.key) from exc
            if exc.diag.constraint_name == "pk_jobs":
                return True  # written again after a lost reply: our own insert had landed
            raise StorageError(f"could not record the job: {exc}") from exc
        return row is not None

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
                    connection.execute(MESSAGES, _message_columns(messages), prepare=True)
                if progress:
                    connection.execute(PROGRESS, _progress_columns(progress), prepare=True)
                sent = [(wave, _send_transitions(connection, wave)) for wave in waves]
                found: dict[int, Applied | None] = {}
                for wave, cursor in sent:
                    found.update(zip(wave.keys(), _moved(wave, cursor), strict=True))
            return [found[index] for index in range(len(transitions))]

        return self._run(everything, remember=transitions)

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
        remember: Sequence[NewJob | Transition] = (),
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

    def _remember(self, written: Sequence[NewJob | Transition]) -> None:
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
            if isinstance(item, NewJob):
                try:
                    with connection.transaction():
                        _create(connection, item)
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


def _create(connection: psycopg.Connection[Any], job: NewJob) -> Any:
    params = {
        "id": job.id,
        "job_type": job.job_type,
        "category": job.category,
        "subcategory": job.subcategory,
        "description": job.description,
        "parameters": Jsonb(dict(job.parameters)),
        "identity": job.identity,
        "organization": job.organization,
        "client_request_id": job.client_request_id,
        "key": job.key,
        "can_cancel": job.can_cancel,
        "can_rerun": job.can_rerun,
        "created_at": job.created_at,
        "purge_at": job.purge_at,
        "created_by": job.created_by,
        "access_scope": job.access_scope.value,
    }
    return connection.execute(CREATE, params, prepare=True).fetchone()


def _send_transitions(
    connection: psycopg.Connection[Any], wave: dict[int, Transition]
) -> psycopg.Cursor[Any]:
    """Send one UPDATE for transitions of distinct jobs (results are read later)."""
    if len(wave) == 1:
        (one,) = wave.values()
        return connection.execute(TRANSITION, _transition_params(one), prepare=True)
    return connection.execute(TRANSITIONS, _transition_columns(list(wave.values())), prepare=True)


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


def _transition_params(t: Transition) -> tuple[Any, ...]:
    error = t.error
    return (
        t.job_id,
        t.attempt,
        int(t.status),
        t.at,
        t.worker_id,
        t.message,
        Jsonb(t.result) if t.status is JobStatus.COMPLETED else None,
        error.type if error else None,
        error.message if error else None,
        error.traceback if error else None,
        t.queued_at,
    )


def _transition_columns(batch: Sequence[Transition]) -> tuple[str]:
    """A batch as the one JSON parameter ``jsonb_to_recordset`` reads (cheapest to send)."""
    return (
        json.dumps(
            [
                {
                    "id": str(t.job_id),
                    "attempt": t.attempt,
                    "status": int(t.status),
                    "at": t.at.isoformat(),
                    "worker_id": t.worker_id,
                    "message": t.message,
                    "result": t.result if t.status is JobStatus.COMPLETED else None,
                    "error_type": t.error.type if t.error else None,
                    "error_message": t.error.message if t.error else None,
                    "error_traceback": t.error.traceback if t.error else None,
                    "queued_at": t.queued_at.isoformat() if t.queued_at else None,
                }
                for t in batch
            ]
        ),
    )


def _progress_columns(batch: Sequence[Progress]) -> tuple[str]:
    return (
        json.dumps(
            [
                {
                    "id": str(p.job_id),
                    "attempt": p.attempt,
                    "at": p.at.isoformat(),
                    "percent": p.percent,
                    "status_text": p.status_text,
                }
                for p in batch
            ]
        ),
    )


def _message_columns(batch: Sequence[NewMessage]) -> tuple[str]:
    return (
        json.dumps(
            [
                {
                    "n": n,
                    "id": str(m.job_id),
                    "attempt": m.attempt,
                    "at": m.at.isoformat(),
                    "level": m.level,
                    "text": m.text,
                }
                for n, m in enumerate(batch)
            ]
        ),
    )


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
