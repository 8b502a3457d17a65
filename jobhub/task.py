"""The Celery task class behind every job type: claim the attempt, then run the body.

Before a body runs, the worker claims the attempt with the Processing transition. A claim
that does not apply means the job must not run here: it was cancelled while queued, it
already finished (a duplicate delivery), it runs elsewhere, or the message is from an
older attempt. Such a message is acknowledged and dropped with Celery's ``Ignore``.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from celery import Task
from celery.exceptions import Ignore

from jobhub.context import JobContext
from jobhub.db.job_store import JobStore
from jobhub.errors import JobCancelled, JobNotFound
from jobhub.jobs import JobStatus, JSONValue
from jobhub.lifecycle import Transition

if TYPE_CHECKING:
    from celery.app.task import Context

    from jobhub.celery_app import JobHubCelery
    from jobhub.definitions import JobDefinition

logger = logging.getLogger(__name__)

ATTEMPT_HEADER = "jobhub_attempt"
"""Message header carrying the attempt a message was published for."""
QUEUED_AT_HEADER = "jobhub_queued_at"
"""Message header carrying when the message was handed to the broker (ISO 8601)."""


def attempt_of(request: Context) -> int:
    """The attempt a delivered message belongs to.

    jobhub stamps the attempt on every message it publishes; Celery's own retries copy the
    headers and count ``retries`` up, so both add up to the attempt.
    """
    headers = request.headers or {}
    base = headers.get(ATTEMPT_HEADER, getattr(request, ATTEMPT_HEADER, 1))
    return int(base) + int(request.retries or 0)


def queued_at_of(request: Context) -> datetime | None:
    """When the delivered message was published, if jobhub stamped it."""
    stamp = (request.headers or {}).get(QUEUED_AT_HEADER, getattr(request, QUEUED_AT_HEADER, None))
    try:
        return datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    except ValueError:
        return None


def worker_id_of(request: Context) -> str:
    """Which worker process runs it: the Celery node name and the process id."""
    return f"{request.hostname or 'worker'}/{os.getpid()}"


class JobTask(Task):  # type: ignore[type-arg]
    """Base class of every job type's task (set by the ``@job`` decorator)."""

    definition: JobDefinition
    typing = False  # the body takes a JobContext first; parameters are checked by jobhub

    def __call__(self, *args: Any, **kwargs: Any) -> JSONValue:
        app: JobHubCelery = self.app  # type: ignore[assignment]
        runtime = app.runtime
        request = self.request
        job_id = UUID(request.id)
        attempt = attempt_of(request)
        worker_id = worker_id_of(request)
        claim = [
            Transition(
                job_id=job_id,
                attempt=attempt,
                status=JobStatus.PROCESSING,
                at=runtime.clock(),
                worker_id=worker_id,
            )
        ]
        queued_at = queued_at_of(request)
        if queued_at is not None:  # recorded here if its producer died before writing it
            claim.insert(
                0, Transition(job_id=job_id, attempt=attempt, status=JobStatus.QUEUED, at=queued_at)
            )
        applied = runtime.writes.write(transitions=claim)[-1]
        if applied is None:
            self._explain_skip(runtime.jobs, job_id, attempt)
            raise Ignore()
        context = JobContext(app=app, claim=applied, worker_id=worker_id, parameters=kwargs)
        try:
            return self.run(context, *args, **kwargs)  # type: ignore[no-any-return]
        except JobCancelled:
            runtime.write_behind.write_now(
                [
                    Transition(
                        job_id=job_id,
                        attempt=attempt,
                        status=JobStatus.CANCELLED,
                        at=runtime.clock(),
                        worker_id=worker_id,
                        message="Cancelled while running",
                    )
                ]
            )
            logger.info("job cancelled", extra={"job_id": str(job_id), "action": "cancelled"})
            raise Ignore() from None

    def _explain_skip(self, store: JobStore, job_id: UUID, attempt: int) -> None:
        try:
            job = store.get(job_id)
        except JobNotFound:
            logger.warning(
                "message for an unknown job dropped",
                extra={"job_id": str(job_id), "action": "skip", "job_type": self.name},
            )
            return
        logger.info(
            "message not run: job is %s at attempt %d (message attempt %d)",
            job.status.label,
            job.attempt,
            attempt,
            extra={"job_id": str(job_id), "action": "skip"},
        )
