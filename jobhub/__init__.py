"""jobhub: background jobs on Celery with a persisted lifecycle.

Producers use ``JobManager`` (or ``RemoteJobManager`` over the HTTP API); job types are
declared with ``@job``; a running job reports through its ``JobContext``. See README.md.
"""

from jobhub.config import Settings
from jobhub.context import JobContext
from jobhub.definitions import JobDefinition, JobTypeState, job
from jobhub.errors import (
    AccessDenied,
    Conflict,
    DispatchError,
    InvalidInput,
    InvalidParameters,
    JobCancelled,
    JobHubError,
    JobNotFound,
    KeyConflict,
    NotAuthenticated,
    NotCancellable,
    NotFound,
    NotRerunnable,
    PermissionDenied,
    RemoteUnavailable,
    StorageError,
    StorageUnavailable,
    UnknownJobType,
    WaitTimeout,
)
from jobhub.jobs import (
    AccessScope,
    Job,
    JobError,
    JobEvent,
    JobMessage,
    JobStatus,
    JSONValue,
    StartType,
)
from jobhub.manager import JobManager
from jobhub.parameters import Param
from jobhub.remote import RemoteJobManager
from jobhub.schedule_rules import IntervalRule, WeeklyRule
from jobhub.schedules import JobSchedule, ScheduleSpec
from jobhub.service import JobService

__all__ = [
    "AccessDenied",
    "AccessScope",
    "Conflict",
    "DispatchError",
    "IntervalRule",
    "InvalidInput",
    "InvalidParameters",
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
    "JobSchedule",
    "JobService",
    "JobStatus",
    "JobTypeState",
    "KeyConflict",
    "NotAuthenticated",
    "NotCancellable",
    "NotFound",
    "NotRerunnable",
    "Param",
    "PermissionDenied",
    "RemoteJobManager",
    "RemoteUnavailable",
    "ScheduleSpec",
    "Settings",
    "StartType",
    "StorageError",
    "StorageUnavailable",
    "UnknownJobType",
    "WaitTimeout",
    "WeeklyRule",
    "job",
]
