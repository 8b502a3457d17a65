"""jobhub: background jobs on Celery with a persisted lifecycle.

Producers use ``JobManager`` (or ``RemoteJobManager`` over the HTTP API); job types are
declared with ``@job``; a running job reports through its ``JobContext``. See README.md.
"""

from jobhub.config import Settings
from jobhub.definitions import JobDefinition, JobTypeState, declare_elsewhere
from jobhub.errors import (
    AccessDenied,
    Conflict,
    DispatchError,
    DoNotRetry,
    InvalidDuration,
    InvalidInput,
    InvalidParameters,
    InvalidWorkflow,
    JobCancelled,
    JobHubError,
    JobNotFound,
    KeyConflict,
    NotAuthenticated,
    NotCancellable,
    NotFound,
    NotRerunnable,
    NotWaiting,
    PermissionDenied,
    RemoteUnavailable,
    ReportRefused,
    StorageError,
    StorageUnavailable,
    UnknownJobType,
    WaitTimeout,
    WorkflowNotFound,
)
from jobhub.jobs import (
    AccessScope,
    Job,
    JobError,
    JobEvent,
    JobMessage,
    JobRequest,
    JobStatus,
    JSONValue,
    StartOutcome,
    StartState,
    StartType,
)
from jobhub.manager import Access, Admin, JobManager
from jobhub.parameters import Param
from jobhub.remote import AsyncRemoteJobManager, RemoteJobManager
from jobhub.retries import Backoff, RetryPolicy
from jobhub.scheduling.rules import IntervalRule, WeeklyRule
from jobhub.scheduling.schedules import JobSchedule, ScheduleSpec
from jobhub.service import JobService
from jobhub.worker.context import JobContext
from jobhub.worker.declare import job
from jobhub.workflows import (
    Step,
    StepPolicy,
    Workflow,
    WorkflowSpec,
    WorkflowStep,
    chain,
    fan_in,
    fan_out,
)

__all__ = [
    "Access",
    "AccessDenied",
    "AccessScope",
    "Admin",
    "AsyncRemoteJobManager",
    "Backoff",
    "Conflict",
    "DispatchError",
    "DoNotRetry",
    "IntervalRule",
    "InvalidDuration",
    "InvalidInput",
    "InvalidParameters",
    "InvalidWorkflow",
    "JSONValue",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobDefinition",
    "JobError",
    "JobEvent",
    "JobHubError",
    "JobManager",
    "JobMessage",
    "JobNotFound",
    "JobRequest",
    "JobSchedule",
    "JobService",
    "JobStatus",
    "JobTypeState",
    "KeyConflict",
    "NotAuthenticated",
    "NotCancellable",
    "NotFound",
    "NotRerunnable",
    "NotWaiting",
    "Param",
    "PermissionDenied",
    "RemoteJobManager",
    "RemoteUnavailable",
    "ReportRefused",
    "RetryPolicy",
    "ScheduleSpec",
    "Settings",
    "StartOutcome",
    "StartState",
    "StartType",
    "Step",
    "StepPolicy",
    "StorageError",
    "StorageUnavailable",
    "UnknownJobType",
    "WaitTimeout",
    "WeeklyRule",
    "Workflow",
    "WorkflowNotFound",
    "WorkflowSpec",
    "WorkflowStep",
    "chain",
    "declare_elsewhere",
    "fan_in",
    "fan_out",
    "job",
]
