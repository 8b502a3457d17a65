"""Jobs whose worker was lost: tried again as a new attempt, or ended "worker lost".

A job is lost when it is Processing and its worker (``jobhub.worker.heartbeat``) stopped, or
has been silent for ``Settings.worker_timeout`` by the database's clock. A worker's main
process also reports a pool process that died under a job (Celery's ``WorkerLostError``)
without waiting for the timeout. A job run elsewhere is lost when its runner has not
reported for its type's ``runner_timeout``. Either way, ``recover`` decides:

* the type's retry policy has attempts left for this run: the job is reopened as the next
  attempt, due after the policy's backoff (``jobhub.housekeeping.retry``), as a failed
  attempt would be;
* otherwise the attempt ends CompletedWithErrors, error type ``WorkerLost`` (a worker)
  or ``RunnerLost`` (a runner elsewhere).

Both steps are compare-and-set on (attempt, Processing), so several reapers at once, or a
reaper racing the job's own late completion, change a job at most once. A message of the
lost attempt that the broker delivers again later is skipped by the claim (older attempt).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from uuid import UUID

from jobhub.db.worker_store import worker_name_of
from jobhub.definitions import find_definition
from jobhub.errors import JobNotFound
from jobhub.housekeeping.retry import retry_later
from jobhub.jobs import Job, JobError, JobStatus
from jobhub.lifecycle import ReopenReason, Transition
from jobhub.logs import job_fields
from jobhub.runtime import Runtime

logger = logging.getLogger(__name__)


class Recovered(StrEnum):
    REQUEUED = "requeued"
    FAILED = "failed"
    MOVED_ON = "moved on"
    """The job was no longer Processing at that attempt: nothing to do."""


@dataclass
class ReapReport:
    examined: int = 0
    requeued: list[UUID] = field(default_factory=list)
    failed: list[UUID] = field(default_factory=list)


class Reaper:
    """Finds and recovers the jobs of lost workers."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def reap(self, *, limit: int = 500) -> ReapReport:
        """Recover every Processing job (up to ``limit``, oldest first) whose worker is lost."""
        runtime = self._runtime
        cutoff = runtime.heartbeats.now() - timedelta(seconds=runtime.settings.worker_timeout)
        report = ReapReport()
        now = cutoff + timedelta(seconds=runtime.settings.worker_timeout)
        processing = runtime.lookups.oldest_in_status(JobStatus.PROCESSING, limit=limit)
        names = {
            worker_name_of(job.worker_id)
            for job in processing
            if job.worker_id and not job.runs_elsewhere
        }
        workers = runtime.heartbeats.seen(names)
        for job in processing:
            report.examined += 1
            if job.runs_elsewhere:
                timeout = self._runner_timeout(job.job_type)
                if job.updated_at >= now - timedelta(seconds=timeout):
                    continue
                why = f"runner silent for over {timeout:g} s: {job.worker_id}"
                outcome = self.recover(job, why)
                if outcome is Recovered.REQUEUED:
                    report.requeued.append(job.id)
                elif outcome is Recovered.FAILED:
                    report.failed.append(job.id)
                continue
            state = workers.get(worker_name_of(job.worker_id)) if job.worker_id else None
            if state is not None:
                if not state.silent_since(cutoff):
                    continue
                why = "worker stopped" if state.stopped_at else "worker silent"
            elif job.updated_at < cutoff:
                why = "worker never seen"  # it died before its first heartbeat
            else:
                continue
            outcome = self.recover(job, f"{why}: {job.worker_id}")
            if outcome is Recovered.REQUEUED:
                report.requeued.append(job.id)
            elif outcome is Recovered.FAILED:
                report.failed.append(job.id)
        return report

    def recover_by_id(self, job_id: UUID, attempt: int, why: str) -> Recovered:
        """``recover`` for a job known by id, at the attempt that was lost."""
        try:
            job = self._runtime.lookups.get(job_id)
        except JobNotFound:
            return Recovered.MOVED_ON
        if job.attempt != attempt or job.status is not JobStatus.PROCESSING:
            return Recovered.MOVED_ON
        return self.recover(job, why)

    def recover(self, job: Job, why: str) -> Recovered:
        """Try ``job`` again or end its attempt "worker lost" (see the module docstring)."""
        runtime = self._runtime
        lost = "RunnerLost" if job.runs_elsewhere else "WorkerLost"
        who = "runner" if job.runs_elsewhere else "worker"
        error = JobError(type=lost, message=f"the {who} running this job was lost ({why})")
        if retry_later(runtime, job, error=error, cause=lost, reason=ReopenReason.WORKER_LOST):
            return Recovered.REQUEUED
        applied = runtime.writes.write(
            transitions=[
                Transition(
                    job_id=job.id,
                    attempt=job.attempt,
                    status=JobStatus.COMPLETED_WITH_ERRORS,
                    at=runtime.clock(),
                    error=error,
                    message=why,
                )
            ]
        )[0]
        if applied is None:
            return Recovered.MOVED_ON
        logger.error(
            "job lost with its %s (%s)",
            who,
            why,
            extra=job_fields(job.id, job.job_type, "fail", attempt=job.attempt),
        )
        return Recovered.FAILED

    def _runner_timeout(self, job_type: str) -> float:
        definition = find_definition(job_type)
        if definition is not None and definition.runner_timeout is not None:
            return definition.runner_timeout
        return self._runtime.settings.worker_timeout
