"""``MemoryStore``: the in-memory twin of the write interface, for fast tests of the machinery.

It implements ``Writes``, ``JobLookups`` and ``WorkerClock`` (``jobhub.db.writes``) on
plain dictionaries, applying the same rules as the SQL: the forward-only rule of
``jobhub.lifecycle`` (the same functions decide), one active job per key, one job per
client request id, and ``ATTEMPT_RESET`` on a new attempt. The transition-rule test runs
it beside PostgreSQL and SQLite, so the three cannot drift apart.

``jobhub.testing.MemoryRuntime`` puts it under a dispatcher, a write-behind buffer, the
reaper and the outbox, so they can be unit-tested without servers.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Collection, Sequence
from datetime import datetime

from jobhub.audit import AuditAction, AuditEntry
from jobhub.clock import utcnow
from jobhub.db.worker_store import WorkerState
from jobhub.errors import JobNotFound, KeyConflict, StorageUnavailable
from jobhub.jobs import Job, JobError, JobEvent, JobMessage, JobStatus, JSONValue
from jobhub.lifecycle import (
    ATTEMPT_RESET,
    CANCELLED_BEFORE_START,
    Applied,
    Due,
    NewJob,
    NewMessage,
    Position,
    Progress,
    Reopen,
    ReopenReason,
    RunnerReport,
    Transition,
    applies,
    can_reopen,
    can_retry,
    cancel_event_text,
    records_queued,
)

_JOB_FIELDS = frozenset(field.name for field in dataclasses.fields(Job))
_ERROR_COLUMNS = frozenset({"error_type", "error_message", "error_traceback"})
if not set(ATTEMPT_RESET) <= _JOB_FIELDS | _ERROR_COLUMNS:  # pragma: no cover - at import
    raise RuntimeError("every column an attempt resets must map to a field of Job")


def _reset_values() -> dict[str, JSONValue]:
    """``ATTEMPT_RESET`` as ``Job`` fields (the three error columns are its ``error``)."""
    values = {name: value for name, value in ATTEMPT_RESET.items() if name in _JOB_FIELDS}
    values["error"] = None
    return values


class MemoryStore:
    """Jobs, their events and messages, and worker heartbeats, in this process's memory."""

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._jobs: dict[uuid.UUID, Job] = {}
        self._events: list[JobEvent] = []
        self._messages: list[JobMessage] = []
        self._workers: dict[str, WorkerState] = {}
        self.audit_entries: list[AuditEntry] = []
        """The audit trail, oldest first (``jobhub.testing.MemoryAuditStore`` reads it)."""
        self.unavailable = False
        """While True, every call raises StorageUnavailable (a database outage)."""

    # -- Writes --------------------------------------------------------------------------

    def create(self, job: NewJob, audit: AuditEntry | None = None) -> bool:
        with self._lock:
            self._check_available()
            if job.client_request_id is not None and self.by_client_request(
                job.organization, job.client_request_id
            ):
                return False
            if job.key is not None and self._holder_of_key(job.organization, job.job_type, job.key):
                raise KeyConflict(job.job_type, job.key)
            self._jobs[job.id] = job.as_job()
            self._event(job.id, job.created_at, JobStatus.CREATED, 1, message=job.status_text)
            if audit is not None:
                self.append_audit(dataclasses.replace(audit, at=job.created_at))
            return True

    def create_many(
        self, jobs: Sequence[NewJob], audits: Sequence[AuditEntry | None]
    ) -> list[bool]:
        with self._lock:
            self._check_available()
            inserted = []
            for job, audit in zip(jobs, audits, strict=True):
                try:
                    inserted.append(self.create(job, audit))
                except KeyConflict:
                    inserted.append(False)
            return inserted

    def append_audit(self, entry: AuditEntry) -> None:
        with self._lock:
            self.audit_entries.append(dataclasses.replace(entry, id=len(self.audit_entries) + 1))

    def write(
        self,
        transitions: Sequence[Transition] = (),
        progress: Sequence[Progress] = (),
        messages: Sequence[NewMessage] = (),
    ) -> list[Applied | None]:
        with self._lock:
            self._check_available()
            for message in messages:
                self._messages.append(
                    JobMessage(
                        job_id=message.job_id,
                        seq=len(self._messages) + 1,
                        at=message.at,
                        attempt=message.attempt,
                        level=message.level,
                        text=message.text,
                    )
                )
            for report in progress:
                self._progress(report)
            return [self._transition(transition) for transition in transitions]

    def request_cancel(
        self, job_id: uuid.UUID, *, at: datetime, actor: str | None, cancel_running: bool
    ) -> JobStatus | None:
        with self._lock:
            self._check_available()
            job = self._jobs.get(job_id)
            if job is None:
                return None
            not_started = job.status < JobStatus.PROCESSING
            if not (not_started or (cancel_running and not job.status.is_terminal)):
                return None
            changes: dict[str, object] = {
                "cancel_requested_at": job.cancel_requested_at or at,
                "updated_at": at,
                "modified_by": actor,
            }
            if not_started:
                changes.update(
                    status=JobStatus.CANCELLED,
                    completed_at=at,
                    status_text=CANCELLED_BEFORE_START,
                    due_at=None,
                    awaiting_steps=False,
                )
            job = self._jobs[job_id] = dataclasses.replace(job, **changes)  # type: ignore[arg-type]
            self._event(job_id, at, job.status, job.attempt, message=cancel_event_text(job.status))
            return job.status

    def reopen(self, reopen: Reopen) -> int | None:
        with self._lock:
            self._check_available()
            job = self._jobs.get(reopen.job_id)
            if (
                job is None
                or job.attempt != reopen.attempt
                or not can_reopen(job.status, reopen.reason)
            ):
                return None
            if reopen.is_retry and not can_retry(
                job.retries, job.max_attempts, job.cancel_requested
            ):
                return None
            if job.key is not None:
                holder = self._holder_of_key(job.organization, job.job_type, job.key)
                if holder is not None and holder != job.id:
                    raise KeyConflict(job.job_type, job.key)
            changes: dict[str, object] = {
                **_reset_values(),
                "status": JobStatus.CREATED,
                "attempt": reopen.attempt + 1,
                "updated_at": reopen.at,
            }
            if reopen.reason is ReopenReason.RERUN:
                changes.update(
                    retries=0, cancel_requested_at=None, modified_by=reopen.actor, due_at=None
                )
                if reopen.purge_at is not None:
                    changes["purge_at"] = reopen.purge_at
            else:
                changes.update(
                    retries=job.retries + 1, due_at=reopen.due_at, status_text=reopen.status_text
                )
            self._jobs[job.id] = dataclasses.replace(job, **changes)  # type: ignore[arg-type]
            if reopen.failed is not None:
                self._event(
                    job.id,
                    reopen.at,
                    JobStatus.COMPLETED_WITH_ERRORS,
                    reopen.attempt,
                    message=reopen.failed_message,
                    error=reopen.failed,
                )
            self._event(
                job.id, reopen.at, JobStatus.CREATED, reopen.attempt + 1, message=reopen.message
            )
            return reopen.attempt + 1

    def take_due(self, now: datetime, *, limit: int = 100) -> list[Due]:
        with self._lock:
            self._check_available()
            due = sorted(
                (
                    job
                    for job in self._jobs.values()
                    if job.status is JobStatus.CREATED
                    and job.due_at is not None
                    and job.due_at <= now
                    and not job.runs_elsewhere
                ),
                key=lambda job: job.due_at or now,
            )[:limit]
            for job in due:
                text = f"attempt {job.retries + 1} of {job.max_attempts}" if job.retries else None
                self._jobs[job.id] = dataclasses.replace(
                    job, due_at=None, updated_at=now, status_text=text
                )
            return [
                Due(
                    job_id=job.id,
                    job_type=job.job_type,
                    attempt=job.attempt,
                    parameters=job.parameters,
                    queue=job.queue,
                    priority=job.priority,
                )
                for job in due
            ]

    def start_now(self, job_id: uuid.UUID, *, at: datetime, actor: str | None, why: str) -> bool:
        with self._lock:
            self._check_available()
            job = self._jobs.get(job_id)
            if job is None or job.status is not JobStatus.CREATED or job.due_at is None:
                return False
            self._jobs[job_id] = dataclasses.replace(
                job, due_at=at, updated_at=at, modified_by=actor, status_text=why
            )
            self._event(job_id, at, JobStatus.CREATED, job.attempt, message=why)
            return True

    def report(self, report: RunnerReport) -> bool:
        with self._lock:
            self._check_available()
            job = self._jobs.get(report.job_id)
            if (
                job is None
                or job.attempt != report.attempt
                or job.status is not JobStatus.PROCESSING
                or job.worker_id != report.runner
            ):
                return False
            self._jobs[job.id] = dataclasses.replace(
                job,
                percent=job.percent if report.percent is None else report.percent,
                status_text=job.status_text if report.status_text is None else report.status_text,
                updated_at=max(job.updated_at, report.at),
            )
            if report.message is not None:
                self._messages.append(
                    JobMessage(
                        job_id=job.id,
                        seq=len(self._messages) + 1,
                        at=report.at,
                        attempt=report.attempt,
                        level=report.level,
                        text=report.message,
                    )
                )
            return True

    def take_for_publish(self, job: Job, *, at: datetime, why: str) -> bool:
        with self._lock:
            self._check_available()
            current = self._jobs.get(job.id)
            if current is None or (current.status, current.attempt, current.updated_at) != (
                job.status,
                job.attempt,
                job.updated_at,
            ):
                return False
            self._jobs[job.id] = dataclasses.replace(current, updated_at=at)
            self._event(job.id, at, job.status, job.attempt, message=why)
            return True

    def discard_unpublished(self, job_id: uuid.UUID) -> None:
        with self._lock:
            self._check_available()
            job = self._jobs.get(job_id)
            if job is not None and job.status is JobStatus.CREATED and job.attempt == 1:
                del self._jobs[job_id]
                self._events = [event for event in self._events if event.job_id != job_id]
                self.audit_entries[:] = [
                    entry
                    for entry in self.audit_entries
                    if not (
                        entry.action is AuditAction.START
                        and entry.target == f"job {job_id}"
                        and entry.at == job.created_at
                    )
                ]

    def cancel_requested(self, job_id: uuid.UUID) -> bool:
        with self._lock:
            self._check_available()
            job = self._jobs.get(job_id)
            return job is not None and job.cancel_requested

    def close(self) -> None:
        """Nothing to release."""

    # -- JobLookups ----------------------------------------------------------------------

    def get(self, job_id: uuid.UUID) -> Job:
        with self._lock:
            self._check_available()
            job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    def by_client_request(self, organization: str, client_request_id: str) -> Job | None:
        with self._lock:
            self._check_available()
            return next(
                (
                    job
                    for job in self._jobs.values()
                    if job.organization == organization
                    and job.client_request_id == client_request_id
                ),
                None,
            )

    def oldest_in_status(
        self, status: JobStatus, *, changed_before: datetime | None = None, limit: int = 500
    ) -> list[Job]:
        with self._lock:
            self._check_available()
            found = [
                job
                for job in self._jobs.values()
                if job.status is status
                and (changed_before is None or job.updated_at < changed_before)
                and not (
                    status is JobStatus.CREATED
                    and (
                        job.due_at is not None
                        or job.runs_elsewhere
                        or job.held
                        or job.awaiting_steps
                    )
                )
            ]
        return sorted(found, key=lambda job: (job.created_at, job.id))[:limit]

    # -- WorkerClock, and heartbeats to drive it ------------------------------------------

    def now(self) -> datetime:
        self._check_available()
        return self._clock()

    def beat(self, name: str, hostname: str = "memory", pid: int = 0) -> None:
        """Record that worker ``name`` is alive now."""
        with self._lock:
            now = self._clock()
            seen = self._workers.get(name)
            started = seen.started_at if seen is not None else now
            self._workers[name] = WorkerState(
                name=name,
                hostname=hostname,
                pid=pid,
                started_at=started,
                last_seen_at=now,
                stopped_at=None,
            )

    def stopped(self, name: str) -> None:
        """Record that worker ``name`` stopped cleanly."""
        with self._lock:
            seen = self._workers[name]
            self._workers[name] = dataclasses.replace(seen, stopped_at=self._clock())

    def seen(self, names: Collection[str]) -> dict[str, WorkerState]:
        with self._lock:
            return {name: self._workers[name] for name in names if name in self._workers}

    # -- what tests read and set up ------------------------------------------------------

    def put(self, job: Job) -> None:
        """Set a job's row as it is, with no event (a test's starting position)."""
        with self._lock:
            self._jobs[job.id] = job

    def events(self, job_id: uuid.UUID) -> list[JobEvent]:
        """The job's history in the order it was written."""
        with self._lock:
            return [event for event in self._events if event.job_id == job_id]

    def history(self) -> list[JobEvent]:
        """Every job's events, in the order written."""
        with self._lock:
            return list(self._events)

    def all_workers(self) -> list[WorkerState]:
        with self._lock:
            return list(self._workers.values())

    def messages(self, job_id: uuid.UUID) -> list[JobMessage]:
        with self._lock:
            return [message for message in self._messages if message.job_id == job_id]

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    # -- the rules -----------------------------------------------------------------------

    def _check_available(self) -> None:
        if self.unavailable:
            raise StorageUnavailable("database unavailable: the in-memory store is set down")

    def _holder_of_key(self, organization: str, job_type: str, key: str) -> uuid.UUID | None:
        return next(
            (
                job.id
                for job in self._jobs.values()
                if job.status.is_active
                and (job.organization, job.job_type, job.key) == (organization, job_type, key)
            ),
            None,
        )

    def _event(
        self,
        job_id: uuid.UUID,
        at: datetime,
        status: JobStatus,
        attempt: int,
        *,
        worker_id: str | None = None,
        message: str | None = None,
        error: JobError | None = None,
    ) -> None:
        self._events.append(
            JobEvent(
                job_id=job_id,
                at=at,
                status=status,
                attempt=attempt,
                worker_id=worker_id,
                message=message,
                error=error,
            )
        )

    def _progress(self, report: Progress) -> None:
        job = self._jobs.get(report.job_id)
        if job is None or job.attempt != report.attempt or job.status is not JobStatus.PROCESSING:
            return
        self._jobs[job.id] = dataclasses.replace(
            job,
            percent=job.percent if report.percent is None else report.percent,
            status_text=job.status_text if report.status_text is None else report.status_text,
            updated_at=max(job.updated_at, report.at),
        )

    def _transition(self, t: Transition) -> Applied | None:
        """One transition, as the guarded UPDATE applies it (see ``pg_statements._RULE``)."""
        job = self._jobs.get(t.job_id)
        if job is None:
            return None
        position = Position(job.attempt, job.status, job.queued_at is not None)
        if not applies(position, t):
            return None
        record_queued = records_queued(position, t)
        newer = t.attempt > job.attempt
        base = dataclasses.replace(job, **_reset_values()) if newer else job  # type: ignore[arg-type]
        keep_status = t.status is JobStatus.QUEUED and not newer and job.status > JobStatus.QUEUED
        changes: dict[str, object] = {
            "status": job.status if keep_status else t.status,
            "attempt": t.attempt,
            "updated_at": max(job.updated_at, t.at),
        }
        if t.status is JobStatus.QUEUED:
            changes["queued_at"] = t.at
        elif record_queued:
            changes["queued_at"] = t.queued_at
        if t.status is JobStatus.PROCESSING:
            changes.update(started_at=t.at, worker_id=t.worker_id)
        if t.status.is_terminal:
            changes["completed_at"] = t.at
            if t.worker_id is not None:
                changes["worker_id"] = t.worker_id
        if t.status is JobStatus.COMPLETED:
            changes.update(percent=100, result=t.result)
        if t.message is not None:
            changes["status_text"] = t.message
        if t.status is JobStatus.COMPLETED_WITH_ERRORS and t.error is not None:
            changes["error"] = t.error
        moved = self._jobs[t.job_id] = dataclasses.replace(base, **changes)  # type: ignore[arg-type]
        if record_queued and t.queued_at is not None:
            self._event(t.job_id, t.queued_at, JobStatus.QUEUED, t.attempt)
        self._event(
            t.job_id,
            t.at,
            t.status,
            t.attempt,
            worker_id=t.worker_id,
            message=t.message,
            error=t.error if t.status is JobStatus.COMPLETED_WITH_ERRORS else None,
        )
        return Applied(
            job_id=t.job_id,
            attempt=t.attempt,
            status=t.status,
            identity=moved.identity,
            organization=moved.organization,
            retries=moved.retries,
            max_attempts=moved.max_attempts,
        )
