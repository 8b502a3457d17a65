"""An attempt that failed, or whose worker was lost: its next attempt, when the policy allows.

The job's type's retry policy (``jobhub.retries``) says whether the error is retried and
how long to wait; the database decides whether attempts are left and that nobody else
moved the job first (``Writes.reopen`` is a compare-and-set on the attempt, with
``retries + 1 < max_attempts`` and no cancel requested in its WHERE clause). The job goes
back to Created with its due time; ``jobhub.housekeeping.due`` publishes it then. The
failed attempt's error is kept in its own event, so every attempt's error stays readable.
"""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

from jobhub.definitions import find_definition
from jobhub.errors import JobNotFound
from jobhub.jobs import Job, JobError
from jobhub.lifecycle import Reopen, ReopenReason, can_retry
from jobhub.logs import job_fields
from jobhub.retries import NO_RETRY, failed_text, waiting_text
from jobhub.runtime import Runtime

logger = logging.getLogger(__name__)


def may_retry(job_type: str, cause: BaseException | str) -> bool:
    """Whether the type's policy would retry ``cause`` at all (attempts aside): lets the
    hot path skip reading the job when it cannot be retried."""
    definition = find_definition(job_type)
    policy = definition.retry if definition is not None else NO_RETRY
    return policy.attempts > 1 and policy.retries(cause)


def retry_later(
    runtime: Runtime,
    job: Job,
    *,
    error: JobError,
    cause: BaseException | str,
    reason: ReopenReason = ReopenReason.RETRY,
) -> datetime | None:
    """Reopen ``job`` (at its current attempt, which failed) as its next attempt, due after
    the policy's backoff; returns the due time, or None when it is not retried."""
    definition = find_definition(job.job_type)
    policy = definition.retry if definition is not None else NO_RETRY
    if not policy.retries(cause) or not can_retry(
        job.retries, job.max_attempts, job.cancel_requested
    ):
        return None
    now = runtime.clock()
    failed = job.retries + 1
    due_at = now + policy.backoff.delay(failed)
    next_attempt = failed + 1
    if job.runs_elsewhere:
        text = f"attempt {next_attempt} of {job.max_attempts}: waiting for its runner"
    else:
        text = waiting_text(next_attempt, job.max_attempts, due_at)
    attempt = runtime.writes.reopen(
        Reopen(
            job_id=job.id,
            attempt=job.attempt,
            reason=reason,
            at=now,
            message=text,
            failed=error,
            failed_message=failed_text(failed, job.max_attempts, error.type, error.message),
            due_at=None if job.runs_elsewhere else due_at,
            status_text=text,
        )
    )
    if attempt is None:
        return None
    logger.warning(
        "job attempt %d of %d failed (%s: %s); next at %s",
        failed,
        job.max_attempts,
        error.type,
        error.message,
        due_at.isoformat(),
        extra=job_fields(job.id, job.job_type, "retry", attempt=attempt),
    )
    return due_at


def retry_by_id(
    runtime: Runtime, job_id: UUID, attempt: int, *, error: JobError, cause: BaseException | str
) -> datetime | None:
    """``retry_later`` for a job known by id, at the attempt that failed."""
    try:
        job = runtime.lookups.get(job_id)
    except JobNotFound:
        return None
    if job.attempt != attempt:
        return None
    return retry_later(runtime, job, error=error, cause=cause)
