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

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from jobhub.jobs import JobError, JobStatus, JSONValue

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


def can_rerun(status: JobStatus) -> bool:
    """Only a finished job can be queued again, as a new attempt."""
    return status.is_terminal


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    """What cancelling a job at a given status does."""

    cancel_now: bool
    """Not started yet: it ends Cancelled at once and never runs."""
    flag_running: bool
    """Running: the job sees the flag through its context and stops."""


def cancel_outcome(status: JobStatus, can_cancel: bool) -> CancelOutcome | None:
    """How a cancel request lands; None when it cannot (finished, or not cancellable)."""
    if status in (JobStatus.CREATED, JobStatus.QUEUED):
        return CancelOutcome(cancel_now=True, flag_running=False)
    if status is JobStatus.PROCESSING and can_cancel:
        return CancelOutcome(cancel_now=False, flag_running=True)
    return None
