"""The job as a value: its status, its record, its events and messages. No I/O here."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeAlias
from uuid import UUID

from jobhub.errors import JobHubError

JSONValue: TypeAlias = "bool | int | float | str | list[JSONValue] | dict[str, JSONValue] | None"


class JobStatus(enum.IntEnum):
    """Where a job is in its lifecycle; the value is the JobStatusRepr numeric code."""

    CREATED = 0
    """Recorded by the producer; its message is not yet on the broker."""
    QUEUED = 1
    """On the broker, waiting for a worker."""
    PROCESSING = 2
    """A worker is running it."""
    COMPLETED = 3
    """Finished successfully."""
    COMPLETED_WITH_ERRORS = 4
    """Finished with an error that prevented success."""
    CANCELLED = 5
    """Stopped on request before it finished (an extension of JobStatusRepr)."""
    UNKNOWN = 99
    """Reserved by JobStatusRepr; what representations say of an id that is not known."""

    @property
    def label(self) -> str:
        """The JobStatusRepr name: ``Created``, ..., ``CompletedWithErrors``, ``Cancelled``."""
        return _LABELS[self]

    @property
    def rank(self) -> int:
        """Order used by the forward-only rule; all terminal statuses share the top rank."""
        return min(int(self), TERMINAL_RANK)

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATUSES

    @classmethod
    def parse(cls, text: str) -> JobStatus:
        """Accept a label (any case, with or without separators) or a numeric code."""
        raw = text.strip()
        key = raw.replace("_", "").replace("-", "").replace(" ", "").lower()
        for status in cls:
            if key == status.label.lower() or raw == str(int(status)):
                return status
        raise ValueError(f"unknown status {text!r}")


_LABELS = {
    JobStatus.CREATED: "Created",
    JobStatus.QUEUED: "Queued",
    JobStatus.PROCESSING: "Processing",
    JobStatus.COMPLETED: "Completed",
    JobStatus.COMPLETED_WITH_ERRORS: "CompletedWithErrors",
    JobStatus.CANCELLED: "Cancelled",
    JobStatus.UNKNOWN: "Unknown",
}
TERMINAL_RANK = 3
ACTIVE_STATUSES = frozenset({JobStatus.CREATED, JobStatus.QUEUED, JobStatus.PROCESSING})
TERMINAL_STATUSES = frozenset(
    {JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.CANCELLED}
)
STORED_STATUSES = ACTIVE_STATUSES | TERMINAL_STATUSES


class StartType(enum.StrEnum):
    """When a job type starts by itself (SanteDB ``JobStartType``)."""

    IMMEDIATE = "Immediate"
    """Runs when the scheduler starts."""
    DELAY_START = "DelayStart"
    """Runs on the first scheduler tick after start, if it never ran."""
    TIMER_ONLY = "TimerOnly"
    """Runs only on its schedules (or when started explicitly)."""
    NEVER = "Never"
    """Never starts by itself, not even on its schedules."""


class AccessScope(enum.StrEnum):
    """Who may read a job's result and documents (AIMS360 ``publishLinkAccessScope``)."""

    PUBLIC = "Public"
    """Anyone holding the publish link (signed, expiring); no key needed."""
    PRIVATE = "Private"
    """Only the submitter, authenticated."""
    ORGANIZATION = "Organization"
    """Anyone authenticated in the submitter's organization (AIMS360 PeopleInOrganization)."""

    @classmethod
    def parse(cls, text: str) -> AccessScope:
        """A scope by name, any case; AIMS360's ``PeopleInOrganization`` too."""
        key = text.strip().lower()
        if key == "peopleinorganization":
            return cls.ORGANIZATION
        for scope in cls:
            if key == scope.value.lower():
                return scope
        raise ValueError(f"unknown access scope {text!r} (Public, Private or Organization)")


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec:
    """What a caller submits to start a job (parameters already validated)."""

    job_type: str
    parameters: Mapping[str, JSONValue]
    identity: str | None = None
    """Who submits it (JobStatusRepr ``Identity``; AIMS360 ``createdBy``)."""
    organization: str = ""
    """The tenant the job belongs to; empty when there is none."""
    client_request_id: str | None = None
    """The caller's own id for this request: submitting it twice returns the same job."""
    key: str | None = None
    """At most one active job per (organization, job type, key), as 1C background job keys."""
    access_scope: AccessScope = AccessScope.ORGANIZATION
    """Who may read its result and documents."""
    queue: str | None = None
    """The broker queue to publish it to; None: its type's (``jobhub.placement``)."""
    priority: int | None = None
    """0 to 9, higher runs first; None: its type's."""
    due_at: datetime | None = None
    """When it may start (a delayed start); None: now."""
    max_attempts: int | None = None
    """Attempts it may take (at most what its type's retry policy allows); None: the
    type's."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRequest:
    """One job of a ``start_jobs`` batch: ``start_job``'s arguments, as a value."""

    job_type: Any
    """By name, by definition, or as its task."""
    parameters: Mapping[str, object] = field(default_factory=dict)
    identity: str | None = None
    organization: str = ""
    client_request_id: str | None = None
    key: str | None = None
    description: str | None = None
    access_scope: AccessScope | str = AccessScope.ORGANIZATION
    start_at: datetime | None = None
    delay: timedelta | None = None
    queue: str | None = None
    priority: int | None = None
    max_attempts: int | None = None

    def options(self) -> dict[str, Any]:
        """The keyword arguments of ``start_job`` it carries (all but type and parameters)."""
        return {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if name not in ("job_type", "parameters")
        }


class StartState(StrEnum):
    """What became of one job of a batch (``StartOutcome``)."""

    STARTED = "started"
    """Recorded and published (Queued), or recorded to wait (Created: a due time, a
    hold, an outside runner)."""
    REPEATED = "repeated"
    """Its (organization, client request id) had its job already: that one."""
    PENDING = "pending"
    """Recorded, but the broker failed while taking its batch: its message may or may
    not be there. The outbox publishes it if it is not (after ``publish_grace``); the
    claim runs it once either way."""
    REFUSED = "refused"
    """Nothing recorded: a key held by an active job, or the broker was failing before
    it was asked."""


@dataclass(frozen=True, slots=True)
class StartOutcome:
    """One item of ``start_jobs``: its state, its job (None when refused) and the error
    of a refused or pending one."""

    state: StartState
    job: Job | None
    error: JobHubError | None = None

    @property
    def accepted(self) -> bool:
        """Whether the job exists and will run (or ran): all but refused."""
        return self.state is not StartState.REFUSED


@dataclass(frozen=True, slots=True, kw_only=True)
class JobError:
    """Why a job ended CompletedWithErrors."""

    type: str
    message: str
    traceback: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """One job: a persisted run of a job type, with its whole lifecycle."""

    id: UUID
    job_type: str
    category: str
    subcategory: str
    description: str
    parameters: Mapping[str, JSONValue]
    identity: str | None
    organization: str
    client_request_id: str | None
    key: str | None
    status: JobStatus
    status_text: str | None
    percent: int
    worker_id: str | None
    attempt: int
    result: JSONValue
    error: JobError | None
    can_cancel: bool
    can_rerun: bool
    cancel_requested_at: datetime | None
    created_at: datetime
    queued_at: datetime | None
    started_at: datetime | None
    updated_at: datetime
    completed_at: datetime | None
    purge_at: datetime
    created_by: str | None
    modified_by: str | None
    retries: int = 0
    """Attempts queued automatically in this run (a failure its retry policy retries, or
    a lost worker); the current attempt of this run is ``retries + 1``."""
    access_scope: AccessScope = AccessScope.ORGANIZATION
    """Who may read its result and documents."""
    housekeeping: bool = False
    """A run of a housekeeping type (``JobDefinition.housekeeping``): jobhub's own upkeep,
    which listings leave out unless asked."""
    queue: str = "jobhub"
    """The broker queue its messages go to."""
    priority: int = 0
    """0 to 9; higher runs first where the broker orders by priority."""
    due_at: datetime | None = None
    """While Created: when it is published (a delayed start, or the next attempt of a
    retry). None: published at once, or not by jobhub (``runs_elsewhere``)."""
    max_attempts: int = 1
    """Attempts this run may take before it ends CompletedWithErrors."""
    runs_elsewhere: bool = False
    """Run by an outside runner that claims and reports it; never published."""
    held: bool = False
    """Created and kept from starting by a pause or a limit (its status text says which);
    released in order when it may start (``jobhub.gates``)."""
    workflow_id: UUID | None = None
    """The workflow this job is a step of (``jobhub.workflows``)."""
    awaiting_steps: bool = False
    """A workflow step, Created, waiting for the steps it depends on to end."""

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def may_have_documents(self) -> bool:
        """Whether an attempt of it ever ran: only a running attempt, or its end, writes
        documents, so a job that never started has none to look up."""
        return self.attempt > 1 or self.started_at is not None

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_requested_at is not None

    @property
    def attempt_in_run(self) -> int:
        """Which attempt of this run (since its start or last rerun) it is on."""
        return self.retries + 1

    @property
    def waiting(self) -> bool:
        """Created with a due time: waiting for a delayed start or a retry."""
        return self.status is JobStatus.CREATED and self.due_at is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobEvent:
    """One transition in a job's history."""

    job_id: UUID
    at: datetime
    status: JobStatus
    attempt: int
    worker_id: str | None
    message: str | None
    error: JobError | None = None
    """What went wrong in the attempt this event ended (failed, or its worker lost)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobMessage:
    """A message a running job posted for its user (1C ``GetUserMessages``)."""

    job_id: UUID
    seq: int
    at: datetime
    attempt: int
    level: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JobTypeRecord:
    """A registered job type as the database keeps it (SanteDB's master list)."""

    name: str
    start_type: StartType
    registered_at: datetime
    updated_at: datetime
