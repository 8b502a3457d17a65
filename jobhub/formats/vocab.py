"""How each source system names jobhub's statuses (pure tables, see DESIGN.md).

jobhub speaks the shapes of SanteDB, AIMS360, the ``api.job`` module, 1C background jobs
and Celery; each representation looks its words up here, in one place.
"""

from __future__ import annotations

import enum
from types import MappingProxyType

from jobhub.jobs import JobStatus


class ApiJobState(enum.StrEnum):
    """The ``api.job`` module's states and the queries named after them."""

    IDLE = "idle"
    PENDING = "pending"
    RUNNING = "running"
    FINISHED = "finished"
    ERROR = "error"


AIMS360_STATUS = MappingProxyType(
    {
        JobStatus.CREATED: "Queued",
        JobStatus.QUEUED: "Queued",
        JobStatus.PROCESSING: "Inprogress",
        JobStatus.COMPLETED: "Completed",
        JobStatus.COMPLETED_WITH_ERRORS: "Failed",
        JobStatus.CANCELLED: "Failed",
    }
)
"""AIMS360 ``jobStatus``; a cancelled job is Failed and its status text says cancelled."""

API_JOB_STATUS = MappingProxyType(
    {
        JobStatus.CREATED: ApiJobState.IDLE,
        JobStatus.QUEUED: ApiJobState.PENDING,
        JobStatus.PROCESSING: ApiJobState.RUNNING,
        JobStatus.COMPLETED: ApiJobState.FINISHED,
        JobStatus.COMPLETED_WITH_ERRORS: ApiJobState.ERROR,
        JobStatus.CANCELLED: ApiJobState.ERROR,
    }
)
"""The ``status`` field of the ``api.job`` job schema."""

ONEC_STATE = MappingProxyType(
    {
        JobStatus.CREATED: "Active",
        JobStatus.QUEUED: "Active",
        JobStatus.PROCESSING: "Active",
        JobStatus.COMPLETED: "Completed",
        JobStatus.COMPLETED_WITH_ERRORS: "Failed",
        JobStatus.CANCELLED: "Cancelled",
    }
)
"""1C ``BackgroundJobState`` (СостояниеФоновогоЗадания)."""

SANTEDB_STATE = MappingProxyType(
    {
        JobStatus.CREATED: "NotRun",
        JobStatus.QUEUED: "Starting",
        JobStatus.PROCESSING: "Running",
        JobStatus.COMPLETED: "Completed",
        JobStatus.COMPLETED_WITH_ERRORS: "Aborted",
        JobStatus.CANCELLED: "Cancelled",
    }
)
"""SanteDB ``JobStateType``."""

CELERY_STATE = MappingProxyType(
    {
        JobStatus.CREATED: "PENDING",
        JobStatus.QUEUED: "PENDING",
        JobStatus.PROCESSING: "STARTED",
        JobStatus.COMPLETED: "SUCCESS",
        JobStatus.COMPLETED_WITH_ERRORS: "FAILURE",
        JobStatus.CANCELLED: "REVOKED",
    }
)
"""Celery's task state names."""

QUERY_GROUPS = MappingProxyType(
    {
        ApiJobState.PENDING: frozenset({JobStatus.CREATED, JobStatus.QUEUED}),
        ApiJobState.RUNNING: frozenset({JobStatus.PROCESSING}),
        ApiJobState.FINISHED: frozenset(
            {JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.CANCELLED}
        ),
    }
)
"""The statuses behind ``api.job``'s getPendingJobs, getRunningJobs and getFinishedJobs.

Pending means "not started yet" (idle and pending alike); finished means "will not change
again", whether it succeeded or not, so that nothing falls between the three queries.
"""
