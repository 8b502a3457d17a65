"""The transition table and the forward-only rule, as pure functions.

A job moves Created -> Queued -> Processing -> one terminal status (Completed,
CompletedWithErrors, Cancelled). Writers race: the producer, several worker processes,
Celery's retry path, a canceller. The rule that keeps the lifecycle straight compares
``(attempt, rank of status)``:

* a transition of an older attempt never applies;
* a transition of a newer attempt applies only while the job is not terminal (a retry or
  a redelivery supersedes a live attempt; only an explicit rerun reopens a finished job);
* within an attempt, the status rank must rise, so a duplicated signal or a Processing
  that arrives after Completed changes nothing, and only one terminal status ever lands.

Queued is special: the producer writes it right after publishing, and a fast worker can
overtake it. So Queued is recorded once per attempt (its time and its event) even when
the status has already moved on; it then leaves the status alone. A worker's claim
carries the message's publish time and records Queued itself if nobody did.

The job store compiles this same rule into the WHERE clause of its UPDATE statements; a
test checks the SQL and these functions agree on every case.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from jobhub.jobs import AccessScope, Job, JobError, JobStatus, JSONValue

MOVABLE_STATUSES = frozenset(
    {
        JobStatus.QUEUED,
        JobStatus.PROCESSING,
        JobStatus.COMPLETED,
        JobStatus.COMPLETED_WITH_ERRORS,
        JobStatus.CANCELLED,
    }
)
"""Statuses a transition may carry; Created is only ever written by an insert or a rerun."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """A request to move one job to a status, as one writer saw it."""

    job_id: UUID
    attempt: int
    status: JobStatus
    at: datetime
    worker_id: str | None = None
    message: str | None = None
    """Status text to show and to keep in the event."""
    result: JSONValue = None
    """The return value, for Completed."""
    error: JobError | None = None
    """What went wrong, for CompletedWithErrors."""
    queued_at: datetime | None = None
    """When the message that brought it was published. A transition that applies records
    Queued at that time too, when its attempt has no Queued yet (its producer died before
    writing it)."""

    def __post_init__(self) -> None:
        if self.status not in MOVABLE_STATUSES:
            raise ValueError(f"a transition cannot carry status {self.status.label}")
        if self.attempt < 1:
            raise ValueError("attempts count from 1")


@dataclass(frozen=True, slots=True)
class Position:
    """The part of a job's row the rule looks at."""

    attempt: int
    status: JobStatus
    queued_recorded: bool
    """Whether Queued was already recorded for this attempt."""


def applies(current: Position, transition: Transition) -> bool:
    """Whether ``transition`` changes a job at ``current`` (and so gets an event)."""
    if transition.attempt < current.attempt:
        return False
    if transition.attempt > current.attempt:
        return not current.status.is_terminal
    if transition.status is JobStatus.QUEUED:
        return not current.queued_recorded
    return transition.status.rank > current.status.rank


def apply(current: Position, transition: Transition) -> Position:
    """The position after ``transition``; unchanged when it does not apply."""
    if not applies(current, transition):
        return current
    hinted = transition.queued_at is not None
    if transition.attempt > current.attempt:
        return Position(
            transition.attempt,
            transition.status,
            transition.status is JobStatus.QUEUED or hinted,
        )
    # A late Queued records itself but keeps the status the job already has.
    status = transition.status if transition.status.rank > current.status.rank else current.status
    queued = current.queued_recorded or transition.status is JobStatus.QUEUED or hinted
    return Position(current.attempt, status, queued)


def records_queued(current: Position, transition: Transition) -> bool:
    """Whether an applying transition also records its attempt's Queued (from its hint)."""
    return (
        transition.queued_at is not None
        and transition.status is not JobStatus.QUEUED
        and applies(current, transition)
        and (transition.attempt > current.attempt or not current.queued_recorded)
    )


class ReopenReason(enum.StrEnum):
    """Why a job is reopened as its next attempt."""

    RERUN = "rerun"
    """Someone asked to run an ended job again."""
    WORKER_LOST = "worker lost"
    """Its worker (or runner) was lost mid-run and its retry policy allows another try."""
    RETRY = "retry"
    """Its attempt failed with an error its retry policy retries, attempts permitting."""


def can_reopen(status: JobStatus, reason: ReopenReason) -> bool:
    """A rerun reopens only an ended job; a lost worker's job is reopened from Processing."""
    if reason is ReopenReason.RERUN:
        return status.is_terminal
    return status is JobStatus.PROCESSING


def can_retry(job_retries: int, max_attempts: int, cancel_requested: bool) -> bool:
    """Whether a run whose attempt failed (or was lost) may take another attempt."""
    return not cancel_requested and job_retries + 1 < max_attempts


@dataclass(frozen=True, slots=True, kw_only=True)
class Reopen:
    """Reopen a job as the attempt after ``attempt``, in Created, to be published again.

    Applies only while the job is still at ``attempt`` and ``can_reopen`` allows it, so of
    several reopeners (two reapers, a rerun racing a late signal) at most one succeeds. A
    retry (``RETRY``, ``WORKER_LOST``) also needs the run to have attempts left and no
    cancel requested; the ended attempt's error goes into its own event, and the new
    attempt waits in Created until ``due_at``.
    """

    job_id: UUID
    attempt: int
    """The attempt that ended (rerun) or was lost."""
    reason: ReopenReason
    at: datetime
    message: str
    """What the new attempt's Created event says."""
    actor: str | None = None
    """Who asked (a rerun); recorded as the job's last modifier."""
    purge_at: datetime | None = None
    """A rerun's new purge time (retention counts from the rerun)."""
    failed: JobError | None = None
    """A retry: what ended the attempt; recorded as that attempt's CompletedWithErrors
    event (the job itself does not end)."""
    failed_message: str | None = None
    """That event's text."""
    due_at: datetime | None = None
    """A retry: when the next attempt is published (None: by the caller, at once)."""
    status_text: str | None = None
    """The new attempt's status text while it waits ("attempt 2 of 5 at 12:03:10")."""

    @property
    def is_retry(self) -> bool:
        return self.reason is not ReopenReason.RERUN


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    """What cancelling a job at a given status does."""

    cancel_now: bool
    """Not started yet: it ends Cancelled at once and never runs."""
    flag_running: bool
    """Running: the job sees the flag through its context and stops."""


CANCELLED_BEFORE_START = "Cancelled before it started"
"""The status text of a job cancelled before it ran."""


def cancel_event_text(status: JobStatus) -> str:
    """What a cancel request's event says, by the status it left the job in."""
    return "cancelled" if status is JobStatus.CANCELLED else "cancel requested"


def cancel_outcome(status: JobStatus, can_cancel: bool) -> CancelOutcome | None:
    """How a cancel request lands; None when it cannot (finished, or not cancellable)."""
    if status in (JobStatus.CREATED, JobStatus.QUEUED):
        return CancelOutcome(cancel_now=True, flag_running=False)
    if status is JobStatus.PROCESSING and can_cancel:
        return CancelOutcome(cancel_now=False, flag_running=True)
    return None


# -- what crosses the write interface (jobhub.db.writes) -----------------------------

ATTEMPT_RESET: Mapping[str, JSONValue] = {
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
"""The columns of a job's row a new attempt starts without (the previous attempt's
progress and outcome), with the value each starts from. Every implementation of the write
interface resets exactly these."""


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
    housekeeping: bool = False
    """Its type is housekeeping (``JobDefinition.housekeeping``)."""
    queue: str = "jobhub"
    priority: int = 0
    due_at: datetime | None = None
    """A delayed start: published when due, not by its producer."""
    max_attempts: int = 1
    runs_elsewhere: bool = False
    status_text: str | None = None
    held: bool = False
    """Recorded held (a pause or a limit gates its type or queue): not published; the
    release round publishes it when it may start."""
    """What it says while it waits ("starts at ...")."""

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
            status_text=self.status_text,
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
            housekeeping=self.housekeeping,
            queue=self.queue,
            priority=self.priority,
            due_at=self.due_at,
            max_attempts=self.max_attempts,
            runs_elsewhere=self.runs_elsewhere,
            held=self.held,
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
class RunnerReport:
    """What a runner elsewhere reports on the attempt it claimed: percent, status text, a
    message, or nothing at all (it is alive). It applies only while that runner holds the
    attempt (Processing, with the runner as its worker id); any report that applies moves
    the job's ``updated_at``, which is the runner's heartbeat."""

    job_id: uuid.UUID
    attempt: int
    runner: str
    at: datetime
    percent: int | None = None
    status_text: str | None = None
    message: str | None = None
    level: str = "info"
    """The message's level (info, warning or error)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Applied:
    """A transition that moved its job, with who the job belongs to."""

    job_id: uuid.UUID
    attempt: int
    status: JobStatus
    identity: str | None
    organization: str
    retries: int = 0
    """Retries its run had before this attempt (``Job.retries``)."""
    max_attempts: int = 1
    """Attempts its run may take."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Due:
    """A job taken for publishing because its due time came: what its message needs."""

    job_id: uuid.UUID
    job_type: str
    attempt: int
    parameters: Mapping[str, JSONValue]
    queue: str
    priority: int
