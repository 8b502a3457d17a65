"""jobhub: background jobs on Celery with a persisted lifecycle.

Producers use ``JobManager``; job types are declared with ``@job``; a running job reports
through its ``JobContext``. See README.md.
"""

from jobhub.config import Settings
from jobhub.context import JobContext
from jobhub.definitions import JobDefinition, JobTypeState, job
from jobhub.errors import (
    Conflict,
    DispatchError,
    InvalidInput,
    InvalidParameters,
    JobCancelled,
    JobHubError,
    JobNotFound,
    KeyConflict,
    NotCancellable,
    NotFound,
    NotRerunnable,
    StorageError,
    StorageUnavailable,
    UnknownJobType,
    WaitTimeout,
)
from jobhub.jobs import Job, JobError, JobEvent, JobMessage, JobStatus, JSONValue, StartType
from jobhub.manager import JobManager
from jobhub.parameters import Param
from jobhub.schedule_rules import IntervalRule, WeeklyRule
from jobhub.schedules import JobSchedule, ScheduleSpec

__all__ = [
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
    "JobStatus",
    "JobTypeState",
    "KeyConflict",
    "NotCancellable",
    "NotFound",
    "NotRerunnable",
    "Param",
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
