"""What jobhub adds to a Celery task message, and how a worker reads it back.

A job's message is an ordinary Celery message (task name = job type, kwargs = parameters,
task id = job id) with a few headers:

* ``jobhub_attempt``: the attempt it was published for (Celery's retries count on top);
* ``jobhub_queued_at``: when it was handed to the broker, so a worker can record Queued
  when its producer could not;
* ``jobhub_job``: the job's row as its producer recorded it (first attempt only), so a
  worker can recreate a row lost with a crashed database before it reached the disk.

A producer that speaks only Celery's protocol sends none of these; it may say who starts
the job with ``jobhub_identity`` and ``jobhub_organization`` (``jobhub.worker.adoption``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobhub.jobs import AccessScope, JSONValue
from jobhub.lifecycle import NewJob

if TYPE_CHECKING:
    from celery.app.task import Context

ATTEMPT_HEADER = "jobhub_attempt"
QUEUED_AT_HEADER = "jobhub_queued_at"
JOB_HEADER = "jobhub_job"
IDENTITY_HEADER = "jobhub_identity"
ORGANIZATION_HEADER = "jobhub_organization"


def _header(request: Context, name: str) -> Any:
    headers = request.headers or {}
    return headers.get(name, getattr(request, name, None))


def attempt_of(request: Context) -> int:
    """The attempt a delivered message belongs to."""
    base = _header(request, ATTEMPT_HEADER)
    return int(base if base is not None else 1) + int(request.retries or 0)


def queued_at_of(request: Context) -> datetime | None:
    """When the delivered message was published, if jobhub stamped it."""
    stamp = _header(request, QUEUED_AT_HEADER)
    try:
        return datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    except ValueError:
        return None


def submitter_of(
    request: Context, identity: str | None, organization: str
) -> tuple[str | None, str]:
    """Who a foreign message says starts its job: its headers, else the defaults given."""
    named = _header(request, IDENTITY_HEADER)
    tenant = _header(request, ORGANIZATION_HEADER)
    return (
        named if isinstance(named, str) and named else identity,
        tenant if isinstance(tenant, str) else organization,
    )


def job_header(job: NewJob) -> dict[str, JSONValue]:
    """The row a producer recorded, minus what the message carries anyway."""
    return {
        "category": job.category,
        "subcategory": job.subcategory,
        "description": job.description,
        "identity": job.identity,
        "organization": job.organization,
        "client_request_id": job.client_request_id,
        "key": job.key,
        "can_cancel": job.can_cancel,
        "can_rerun": job.can_rerun,
        "created_at": job.created_at.isoformat(),
        "purge_at": job.purge_at.isoformat(),
        "created_by": job.created_by,
        "access_scope": job.access_scope.value,
        "housekeeping": job.housekeeping,
        "queue": job.queue,
        "priority": job.priority,
        "max_attempts": job.max_attempts,
    }


def origin_of(
    request: Context, job_type: str, parameters: Mapping[str, JSONValue]
) -> NewJob | None:
    """The row a delivered message's producer recorded, rebuilt from the message."""
    data = _header(request, JOB_HEADER)
    if not isinstance(data, dict) or request.id is None:
        return None
    try:
        return NewJob(
            id=uuid.UUID(request.id),
            job_type=job_type,
            category=str(data["category"]),
            subcategory=str(data["subcategory"]),
            description=str(data["description"]),
            parameters=dict(parameters),
            identity=data.get("identity"),
            organization=str(data.get("organization") or ""),
            client_request_id=data.get("client_request_id"),
            key=data.get("key"),
            can_cancel=bool(data["can_cancel"]),
            can_rerun=bool(data["can_rerun"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            purge_at=datetime.fromisoformat(data["purge_at"]),
            created_by=data.get("created_by"),
            access_scope=AccessScope.parse(str(data.get("access_scope") or "Organization")),
            housekeeping=bool(data.get("housekeeping", False)),
            queue=str(data.get("queue") or "jobhub"),
            priority=int(data.get("priority") or 0),
            max_attempts=int(data.get("max_attempts") or 1),
        )
    except (KeyError, TypeError, ValueError):
        return None
