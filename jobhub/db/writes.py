"""The lifecycle write interface: every change of a job's status goes through it.

Implementations: ``SqlWrites`` (SQLAlchemy Core, any database; the embedded SQLite),
``PostgresWrites`` (the hot path on PostgreSQL) and ``MemoryStore`` (``jobhub.db.memory``,
the in-memory twin for unit tests of the machinery). The rule each applies is
``jobhub.lifecycle``'s; ``tests/integration/test_transition_sql.py`` checks all three
against it.

Besides the writes, two small read interfaces the lifecycle machinery (dispatcher,
reaper, outbox) decides by: ``JobLookups`` and ``WorkerClock``. The job and worker stores
serve them on a database, the twin in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from jobhub.audit import AuditEntry
from jobhub.db.worker_store import WorkerState
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


class Writes(Protocol):
    """The lifecycle write path of one process."""

    def create(self, job: NewJob, audit: AuditEntry | None = None) -> bool:
        """Insert the job as Created with its event, and ``audit`` (its start, stamped
        ``job.created_at``) in the same transaction; False, and nothing written, if its
        (organization, client request id) exists already. Raises KeyConflict when an
        active job of the type holds its key."""
        ...

    def create_many(
        self, jobs: Sequence[NewJob], audits: Sequence[AuditEntry | None]
    ) -> list[bool]:
        """Insert a batch as ``create`` inserts one, in one transaction; for each job,
        whether it was inserted. A job is skipped (False) when its (organization, client
        request id) has its job already, or an active job holds its key, in the table or
        earlier in the batch."""
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

    def request_cancel(
        self, job_id: uuid.UUID, *, at: datetime, actor: str | None, cancel_running: bool
    ) -> JobStatus | None:
        """Cancel a job that has not started (it ends Cancelled), or flag a running one
        when ``cancel_running``; with its event. Returns the status after the request, or
        None when nothing changed (it ended, or it runs and may not be flagged)."""
        ...

    def reopen(self, reopen: Reopen) -> int | None:
        """Reopen the job as its next attempt in Created (resetting ``ATTEMPT_RESET``),
        with its event; returns that attempt, or None when the job moved on. A key now held
        by another active job raises KeyConflict."""
        ...

    def take_due(self, now: datetime, *, limit: int = 100) -> list[Due]:
        """Take up to ``limit`` jobs whose due time has come (oldest due first) for
        publishing: their due time is cleared in the same statement, so of several
        publishers exactly one gets each job. Jobs run elsewhere are never taken."""
        ...

    def start_now(self, job_id: uuid.UUID, *, at: datetime, actor: str | None, why: str) -> bool:
        """Make a job that waits for its start time or its retry due at ``at``, with its
        event and ``why`` as its status text; False when it waits for nothing (it was
        published, ended, or never waited)."""
        ...

    def report(self, report: RunnerReport) -> bool:
        """A runner elsewhere's report, in one transaction: its percent and status text,
        its message, and its heartbeat (``updated_at``). False, with nothing written, when
        the job is not Processing at that attempt under that runner (it ended, was
        reopened, or another runner holds it)."""
        ...

    def take_for_publish(self, job: Job, *, at: datetime, why: str) -> bool:
        """Compare-and-set on (status, attempt, last change): of several reconcilers that
        found ``job`` stranded, exactly one gets True and publishes it; ``why`` goes into
        its history."""
        ...

    def discard_unpublished(self, job_id: uuid.UUID) -> None:
        """Delete a job whose first message never reached the broker, with the audit
        entry of its start (nothing is left)."""
        ...

    def cancel_requested(self, job_id: uuid.UUID) -> bool:
        """Whether someone asked this job to stop."""
        ...

    def close(self) -> None: ...


class JobLookups(Protocol):
    """The reads the lifecycle machinery decides by."""

    def get(self, job_id: uuid.UUID) -> Job:
        """One job; raises JobNotFound."""
        ...

    def by_client_request(self, organization: str, client_request_id: str) -> Job | None:
        """The job an (organization, client request id) already started, if any."""
        ...

    def oldest_in_status(
        self, status: JobStatus, *, changed_before: datetime | None = None, limit: int = 500
    ) -> list[Job]:
        """Jobs in ``status`` (last changed before ``changed_before``), oldest first."""
        ...


class WorkerClock(Protocol):
    """Who is alive, by the one clock every host shares."""

    def now(self) -> datetime:
        """The database's current time."""
        ...

    def seen(self, names: Collection[str]) -> dict[str, WorkerState]:
        """The workers of these names that were ever seen."""
        ...
