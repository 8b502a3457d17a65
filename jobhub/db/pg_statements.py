"""The SQL of the PostgreSQL write path, and the parameters each statement takes.

Every statement finds its rows by primary key and appends its event rows in the same
statement (a CTE), so each write is one round trip. A batch of transitions travels as one
JSON parameter read by ``jsonb_to_recordset``. What a new attempt resets comes from
``jobhub.lifecycle.ATTEMPT_RESET``, so this SQL cannot drift from the other
implementations of the write interface.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from jobhub.audit import AuditEntry
from jobhub.db.audit_store import AUDIT_COLUMNS, audit_columns
from jobhub.db.gate_sql import claim_passes_gates
from jobhub.jobs import JobStatus, JSONValue
from jobhub.lifecycle import (
    ATTEMPT_RESET,
    CANCELLED_BEFORE_START,
    NewJob,
    NewMessage,
    Progress,
    Reopen,
    ReopenReason,
    Transition,
)


def _sql(value: JSONValue) -> str:
    """A reset value as SQL: NULL or a number (the only kinds ``ATTEMPT_RESET`` holds)."""
    if value is None:
        return "NULL"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"no SQL for reset value {value!r}")


_CREATE = """
WITH job AS (
    INSERT INTO jobs (id, job_type, category, subcategory, description, parameters, identity,
                      organization, client_request_id, concurrency_key, status, percent, attempt,
                      can_cancel, can_rerun, created_at, updated_at, purge_at, created_by,
                      modified_by, access_scope, housekeeping, queue, priority, due_at,
                      max_attempts, runs_elsewhere, status_text, held)
    VALUES (%(id)s, %(job_type)s, %(category)s, %(subcategory)s, %(description)s,
            %(parameters)s, %(identity)s, %(organization)s, %(client_request_id)s, %(key)s,
            0, 0, 1, %(can_cancel)s, %(can_rerun)s, %(created_at)s, %(created_at)s,
            %(purge_at)s, %(created_by)s, %(created_by)s, %(access_scope)s,
            %(housekeeping)s, %(queue)s, %(priority)s, %(due_at)s, %(max_attempts)s,
            %(runs_elsewhere)s, %(status_text)s, %(held)s)
    {on_conflict}
    RETURNING id, created_at, status_text
), event AS (
    INSERT INTO job_events (job_id, at, status, attempt, message)
    SELECT id, created_at, 0, 1, status_text FROM job
), audit AS (
    INSERT INTO audit_entries (at, actor, key_id, organization, action, target, details,
                               reason)
    SELECT created_at, %(audit_actor)s, %(audit_key_id)s, %(audit_organization)s,
           %(audit_action)s::text, %(audit_target)s, %(audit_details)s, %(audit_reason)s
    FROM job WHERE %(audit_action)s::text IS NOT NULL
)
SELECT id FROM job
"""
CREATE = _CREATE.format(on_conflict="")
"""A new job, its Created event and (when given) the audit entry of its start."""
CREATE_ONCE = _CREATE.format(
    on_conflict="ON CONFLICT (organization, client_request_id)"
    " WHERE client_request_id IS NOT NULL DO NOTHING"
)
"""The same for a job with a client request id: nothing when that id has its job already.
(Only such a job pays for the speculative insert ``ON CONFLICT`` makes.)"""

_NEW_JOB_TYPES = {
    "id": "uuid",
    "job_type": "text",
    "category": "text",
    "subcategory": "text",
    "description": "text",
    "parameters": "jsonb",
    "identity": "text",
    "organization": "text",
    "client_request_id": "text",
    "key": "text",
    "can_cancel": "boolean",
    "can_rerun": "boolean",
    "created_at": "timestamptz",
    "purge_at": "timestamptz",
    "created_by": "text",
    "access_scope": "text",
    "housekeeping": "boolean",
    "queue": "text",
    "priority": "smallint",
    "due_at": "timestamptz",
    "max_attempts": "int",
    "runs_elsewhere": "boolean",
    "status_text": "text",
    "held": "boolean",
    **{f"audit_{column}": "text" for column in ("actor", "key_id", "organization", "action")},
    "audit_target": "text",
    "audit_details": "jsonb",
    "audit_reason": "text",
}
"""The fields of ``create_params``, as a batch's JSON records are read."""

CREATE_MANY = f"""
WITH t AS (
    SELECT * FROM jsonb_to_recordset(%s::jsonb)
        AS t(n int, {", ".join(f"{name} {kind}" for name, kind in _NEW_JOB_TYPES.items())})
), job AS (
    INSERT INTO jobs (id, job_type, category, subcategory, description, parameters, identity,
                      organization, client_request_id, concurrency_key, status, percent, attempt,
                      can_cancel, can_rerun, created_at, updated_at, purge_at, created_by,
                      modified_by, access_scope, housekeeping, queue, priority, due_at,
                      max_attempts, runs_elsewhere, status_text, held)
    SELECT id, job_type, category, subcategory, description, parameters, identity,
           organization, client_request_id, key, 0, 0, 1, can_cancel, can_rerun, created_at,
           created_at, purge_at, created_by, created_by, access_scope, housekeeping, queue,
           priority, due_at, max_attempts, runs_elsewhere, status_text, held
    FROM t ORDER BY n
    ON CONFLICT DO NOTHING
    RETURNING id, created_at, status_text
), event AS (
    INSERT INTO job_events (job_id, at, status, attempt, message)
    SELECT id, created_at, 0, 1, status_text FROM job
), audit AS (
    INSERT INTO audit_entries (at, actor, key_id, organization, action, target, details,
                               reason)
    SELECT job.created_at, t.audit_actor, t.audit_key_id, t.audit_organization,
           t.audit_action, t.audit_target, t.audit_details, t.audit_reason
    FROM job JOIN t ON t.id = job.id WHERE t.audit_action IS NOT NULL
)
SELECT id FROM job
"""
"""A batch of new jobs (``create_params`` of each, as JSON records): each with its event
and audit entry, skipping those a unique index refuses (a client request id that has
its job, a key an active job holds; also against earlier rows of the batch)."""

BATCH_PLANS = "SET LOCAL enable_hashjoin TO on; SET LOCAL enable_mergejoin TO on"
"""For ``CREATE_MANY``'s transaction: its audit rows join the batch to what was inserted,
a join the write path's session settings (index lookups only) would make quadratic."""

EXISTING_IDS = "SELECT id FROM jobs WHERE id = ANY(%s)"

# -- transitions: the forward-only rule (jobhub.lifecycle) as one UPDATE -----------------
# t.* is the transition, j.* the row before it; "newer" means the transition belongs to a
# later attempt than the row, which then starts from ATTEMPT_RESET.

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

_FAILED = "t.status = 4 AND t.error_type IS NOT NULL"
_SETS_BY_TRANSITION: Mapping[str, tuple[tuple[str, str], ...]] = {
    "queued_at": (("t.status = 1", "t.at"), ("old.record_queued IS TRUE", "t.queued_at")),
    "started_at": (("t.status = 2", "t.at"),),
    "completed_at": (("t.status >= 3", "t.at"),),
    "worker_id": (("t.status = 2 OR (t.status >= 3 AND t.worker_id IS NOT NULL)", "t.worker_id"),),
    "percent": (("t.status = 3", "100"),),
    "status_text": (("t.message IS NOT NULL", "t.message"),),
    "result": (("t.status = 3", "t.result"),),
    "error_type": ((_FAILED, "t.error_type"),),
    "error_message": ((_FAILED, "t.error_message"),),
    "error_traceback": ((_FAILED, "t.error_traceback"),),
}
"""When a transition sets each per-attempt column, and to what."""

if set(_SETS_BY_TRANSITION) != set(ATTEMPT_RESET):  # pragma: no cover - caught at import
    raise RuntimeError("the transition SQL must set exactly the columns an attempt resets")


def _per_attempt_columns() -> str:
    clauses = []
    for column, reset in ATTEMPT_RESET.items():
        whens = " ".join(f"WHEN {when} THEN {value}" for when, value in _SETS_BY_TRANSITION[column])
        clauses.append(
            f"{column} = CASE {whens} WHEN j.attempt < t.attempt THEN {_sql(reset)}"
            f" ELSE j.{column} END"
        )
    return ",\n        ".join(clauses)


_RULE = f"""
WITH t AS ({{source}}), old AS (
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
        released = j.released AND j.attempt = t.attempt AND t.status < 3,
        held = j.held AND t.status < 2,
        {_per_attempt_columns()}
    FROM t LEFT JOIN old ON old.id = t.id
    WHERE j.id = t.id AND (
        (j.attempt < t.attempt AND j.status < 3)
        OR (j.attempt = t.attempt AND CASE WHEN t.status = 1 THEN j.queued_at IS NULL AND NOT j.held
                                           ELSE LEAST(j.status, 3) < LEAST(t.status, 3) END))
        AND {claim_passes_gates("j", "t")}
    RETURNING j.id, t.attempt, t.status, t.at, t.worker_id, t.message, j.identity,
              j.organization, old.record_queued, t.queued_at, j.retries, j.max_attempts,
              CASE WHEN {_FAILED} THEN t.error_type END AS error_type,
              CASE WHEN {_FAILED} THEN t.error_message END AS error_message,
              CASE WHEN {_FAILED} THEN t.error_traceback END AS error_traceback
), event AS (
    INSERT INTO job_events (job_id, at, status, attempt, worker_id, message, error_type,
                            error_message, error_traceback)
    SELECT id, queued_at, 1, attempt, NULL, NULL, NULL, NULL, NULL
    FROM moved WHERE record_queued IS TRUE
    UNION ALL
    SELECT id, at, status, attempt, worker_id, message, error_type, error_message,
           error_traceback
    FROM moved
)
SELECT id, status, identity, organization, retries, max_attempts FROM moved
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

REPORT = """
WITH moved AS (
    UPDATE jobs SET
        percent = COALESCE(%(percent)s::smallint, percent),
        status_text = COALESCE(%(status_text)s::text, status_text),
        updated_at = GREATEST(updated_at, %(at)s)
    WHERE id = %(id)s AND attempt = %(attempt)s AND status = 2 AND worker_id = %(runner)s
    RETURNING id, attempt
), posted AS (
    INSERT INTO job_messages (job_id, attempt, at, level, text)
    SELECT id, attempt, %(at)s, %(level)s, %(text)s::text FROM moved
    WHERE %(text)s::text IS NOT NULL
)
SELECT id FROM moved
"""
"""A runner elsewhere's report: applies (message included) only while it holds the attempt."""

CANCEL_REQUESTED = "SELECT cancel_requested_at IS NOT NULL FROM jobs WHERE id = %s"

# -- operator actions: rare, each committed to disk before it returns ----------------------

DURABLE = "SET LOCAL synchronous_commit TO on"
"""Run first in the transaction of an operator action: unlike a transition, nothing
replays a cancel or a reopen that a database crash lost."""

# In an UPDATE's SET list every column reads the row as it was, so "status < 2" below is
# the status before the request.
REQUEST_CANCEL = f"""
WITH moved AS (
    UPDATE jobs SET
        cancel_requested_at = COALESCE(cancel_requested_at, %(at)s),
        status = CASE WHEN status < 2 THEN 5 ELSE status END,
        completed_at = CASE WHEN status < 2 THEN %(at)s ELSE completed_at END,
        status_text = CASE WHEN status < 2 THEN '{CANCELLED_BEFORE_START}' ELSE status_text END,
        due_at = CASE WHEN status < 2 THEN NULL ELSE due_at END,
        held = held AND status >= 2,
        released = released AND status >= 2,
        awaiting_steps = awaiting_steps AND status >= 2,
        updated_at = %(at)s,
        modified_by = %(actor)s
    WHERE id = %(id)s AND (status < 2 OR (%(cancel_running)s AND status < 3))
    RETURNING id, status, attempt
), event AS (
    INSERT INTO job_events (job_id, at, status, attempt, message)
    SELECT id, %(at)s, status, attempt,
           CASE WHEN status = 5 THEN 'cancelled' ELSE 'cancel requested' END FROM moved
)
SELECT status FROM moved
"""


def _reset(*but: str) -> str:
    """``ATTEMPT_RESET`` as SET assignments, leaving out the columns in ``but``."""
    return ", ".join(
        f"{column} = {_sql(value)}" for column, value in ATTEMPT_RESET.items() if column not in but
    )


_REOPEN = """
WITH moved AS (
    UPDATE jobs SET status = 0, attempt = %(attempt)s + 1, updated_at = %(at)s, {reset},
        held = false, released = false,
        {changes}
    WHERE id = %(id)s AND attempt = %(attempt)s AND {condition}
    RETURNING id, attempt
), event AS (
    INSERT INTO job_events (job_id, at, status, attempt, message, error_type, error_message,
                            error_traceback)
    SELECT id, %(at)s, 4, attempt - 1, %(failed_message)s, %(error_type)s, %(error_message)s,
           %(error_traceback)s
    FROM moved WHERE %(error_type)s::text IS NOT NULL
    UNION ALL
    SELECT id, %(at)s, 0, attempt, %(message)s, NULL, NULL, NULL FROM moved
)
SELECT attempt FROM moved
"""
_RETRY = _REOPEN.format(
    reset=_reset("status_text"),
    changes="retries = retries + 1, due_at = %(due_at)s, status_text = %(status_text)s",
    condition="status = 2 AND cancel_requested_at IS NULL AND retries + 1 < max_attempts",
)
REOPEN: Mapping[ReopenReason, str] = {
    ReopenReason.RERUN: _REOPEN.format(
        reset=_reset(),
        changes="retries = 0, cancel_requested_at = NULL, modified_by = %(actor)s,"
        " due_at = NULL, purge_at = COALESCE(%(purge_at)s, purge_at)",
        condition="status >= 3",
    ),
    ReopenReason.WORKER_LOST: _RETRY,
    ReopenReason.RETRY: _RETRY,
}
"""A rerun reopens an ended job afresh; a retry (a failure, a lost worker) counts one more
retry of the run, records the ended attempt's error, and waits until it is due."""

TAKE_DUE = """
WITH due AS (
    SELECT id FROM jobs
    WHERE due_at <= %(now)s AND status = 0 AND NOT runs_elsewhere
    ORDER BY due_at LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs j SET due_at = NULL, updated_at = %(now)s,
    status_text = CASE WHEN j.retries > 0
                       THEN 'attempt ' || (j.retries + 1) || ' of ' || j.max_attempts END
FROM due WHERE j.id = due.id
RETURNING j.id, j.job_type, j.attempt, j.parameters, j.queue, j.priority
"""
"""Take the due jobs for publishing: each row is taken by exactly one caller (its lock is
skipped by the others, and its due time is gone once they look again)."""

START_NOW = """
WITH moved AS (
    UPDATE jobs SET due_at = %(at)s, updated_at = %(at)s, modified_by = %(actor)s,
        status_text = %(why)s
    WHERE id = %(id)s AND status = 0 AND due_at IS NOT NULL
    RETURNING id, attempt
), event AS (
    INSERT INTO job_events (job_id, at, status, attempt, message)
    SELECT id, %(at)s, 0, attempt, %(why)s FROM moved
)
SELECT id FROM moved
"""

KEY_OF = "SELECT job_type, concurrency_key FROM jobs WHERE id = %s"

TAKE_FOR_PUBLISH = """
WITH taken AS (
    UPDATE jobs SET updated_at = %(at)s
    WHERE id = %(id)s AND status = %(status)s AND attempt = %(attempt)s
          AND updated_at = %(updated_at)s
    RETURNING id, status, attempt
), event AS (
    INSERT INTO job_events (job_id, at, status, attempt, message)
    SELECT id, %(at)s, status, attempt, %(why)s FROM taken
)
SELECT id FROM taken
"""

DISCARD_UNPUBLISHED = """
WITH job AS (
    DELETE FROM jobs WHERE id = %(id)s AND status = 0 AND attempt = 1
    RETURNING id, created_at
)
DELETE FROM audit_entries a USING job
WHERE a.at = job.created_at AND a.action = 'start' AND a.target = 'job ' || job.id
RETURNING a.id
"""
"""A job whose first message the broker refused, with the audit entry of its start."""


# -- parameters ----------------------------------------------------------------------------


def create_params(job: NewJob, audit: AuditEntry | None) -> dict[str, Any]:
    entry = audit_columns(audit) if audit is not None else dict.fromkeys(AUDIT_COLUMNS)
    if entry["details"] is not None:
        entry["details"] = Jsonb(entry["details"])
    return {
        **{f"audit_{column}": value for column, value in entry.items() if column != "at"},
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
        "housekeeping": job.housekeeping,
        "queue": job.queue,
        "priority": job.priority,
        "due_at": job.due_at,
        "max_attempts": job.max_attempts,
        "runs_elsewhere": job.runs_elsewhere,
        "status_text": job.status_text,
        "held": job.held,
    }


def create_many_param(jobs: Sequence[NewJob], audits: Sequence[AuditEntry | None]) -> str:
    """A batch of new jobs as ``CREATE_MANY``'s one JSON parameter."""
    records = []
    for n, (job, audit) in enumerate(zip(jobs, audits, strict=True)):
        record: dict[str, Any] = {"n": n}
        for name, value in create_params(job, audit).items():
            if isinstance(value, Jsonb):
                value = value.obj
            elif isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, uuid.UUID):
                value = str(value)
            record[name] = value
        records.append(record)
    return json.dumps(records)


def reopen_params(reopen: Reopen) -> dict[str, Any]:
    return {
        "id": reopen.job_id,
        "attempt": reopen.attempt,
        "at": reopen.at,
        "message": reopen.message,
        "actor": reopen.actor,
        "purge_at": reopen.purge_at,
        "due_at": reopen.due_at,
        "status_text": reopen.status_text,
        "failed_message": reopen.failed_message,
        "error_type": reopen.failed.type if reopen.failed else None,
        "error_message": reopen.failed.message if reopen.failed else None,
        "error_traceback": reopen.failed.traceback if reopen.failed else None,
    }


def transition_params(t: Transition) -> tuple[Any, ...]:
    """One transition as ``TRANSITION``'s plain parameters."""
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


def transition_columns(batch: Sequence[Transition]) -> tuple[str]:
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


def progress_columns(batch: Sequence[Progress]) -> tuple[str]:
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


def message_columns(batch: Sequence[NewMessage]) -> tuple[str]:
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
