"""JobManager: start, find, wait for, cancel and rerun jobs.

The Python face of jobhub, mirroring SanteDB's ``IJobManagerService``, with the queries
of the ``api.job`` module and the 1C background-job operations:

=================================  ==============================================
IJobManagerService / api.job / 1C  JobManager
=================================  ==============================================
Jobs                               ``registered_jobs()``
RegisterJob(Type)                  ``register_job(job_type)``
AddJob(IJob, JobStartType)         ``add_job(job_type, start_type)``
IsJobRegistered(Type)              ``is_job_registered(job_type)``
StartJob(IJob | Type, Object[])    ``start_job(job_type, parameters, ...)``
(a batch)                          ``start_jobs([JobRequest(...), ...])``
GetJobInstance(Guid)               ``get_job(job_id)``
GetJobInstance(Type)               ``get_job_instance(job_type)``
GetAvailableJobs()                 ``available_job_types()``
getPendingJobs / Running / Finis.  ``pending_jobs()`` / ``running_jobs()`` / ``finished_jobs()``
findJob / deleteJob                ``find_job(job_id)`` / ``delete_job(job_id)``
getJobResults / getJobSchema       ``job_results(job_id)`` / ``job_schema()``
Execute(method, params, key, ...)  ``start_job(..., key=...)``
WaitForCompletion(jobs, timeout)   ``wait_for_completion(job_ids, timeout)``
Cancel / GetUserMessages           ``cancel_job(job_id)`` / ``user_messages(job_id)``
(retry or delayed start, now)      ``retry_now(job_id)``
(limits, pauses)                   ``set_limit`` / ``clear_limit`` / ``limits``,
                                   ``pause`` / ``resume`` / ``pauses``
(dashboard, Prometheus figures)    ``overview(period=...)`` / ``metrics()``
=================================  ==============================================

Job types are given by name, by definition or as their task ("by type or by name").
Beside the facade, on the same process handles: ``access`` (API keys, result documents),
``admin`` (readiness, workers, dead letters), ``housekeeping`` (retention, recovery,
statistics) and ``runners`` (claim, report on and finish jobs that run elsewhere).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from uuid import UUID

from jobhub.audit import Actor, AuditAction, acting
from jobhub.config import Settings
from jobhub.db.document_store import remove_files
from jobhub.definitions import (
    resolve,
)
from jobhub.dispatch import JobHubCelery
from jobhub.errors import (
    Conflict,
    DispatchError,
    JobNotFound,
    NotCancellable,
    NotRerunnable,
    NotWaiting,
    WaitTimeout,
)
from jobhub.housekeeping import Housekeeping
from jobhub.jobs import (
    Job,
    JobError,
    JobStatus,
    JSONValue,
)
from jobhub.lifecycle import (
    Reopen,
    ReopenReason,
    Transition,
    can_reopen,
    cancel_event_text,
    cancel_outcome,
)
from jobhub.logs import job_fields
from jobhub.manager.access import Access
from jobhub.manager.admin import Admin
from jobhub.manager.audit_trail import AuditTrail
from jobhub.manager.base import job_uuid
from jobhub.manager.gates import JobGates
from jobhub.manager.job_types import JobTypes
from jobhub.manager.reads import JobReads
from jobhub.manager.runners import Runners
from jobhub.manager.schedules import JobSchedules
from jobhub.manager.starts import JobStarts
from jobhub.manager.stats import JobStatistics
from jobhub.manager.workflows import JobWorkflows
from jobhub.worker.app import create_celery_app

logger = logging.getLogger(__name__)


class JobManager(
    JobStarts,
    JobTypes,
    JobReads,
    JobSchedules,
    JobGates,
    AuditTrail,
    JobStatistics,
    JobWorkflows,
):
    """Jobs for producers: one per process is enough; it is safe to share between threads."""

    def __init__(self, app: JobHubCelery) -> None:
        super().__init__(app)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> JobManager:
        """A manager for ``settings`` (default: the ``JOBHUB_*`` environment)."""
        return cls(create_celery_app(settings))

    def close(self) -> None:
        """Write what is deferred and release database connections."""
        self._runtime.close()

    @cached_property
    def access(self) -> Access:
        """API keys and result documents."""
        return Access(self._runtime)

    @cached_property
    def admin(self) -> Admin:
        """Readiness, workers and dead letters."""
        return Admin(self.app)

    @cached_property
    def runners(self) -> Runners:
        """The runner's side of jobs that run elsewhere: claim, report, finish."""
        return Runners(self._runtime)

    @cached_property
    def housekeeping(self) -> Housekeeping:
        """Retention, recovery of lost and stranded jobs, statistics."""
        return Housekeeping.of_app(self.app)

    # -- acting on jobs ------------------------------------------------------------------

    def delete_job(
        self,
        job_id: UUID | str,
        *,
        actor: Actor | str | None = None,
        reason: str | None = None,
    ) -> None:
        """Delete a job with its history and messages (``api.job`` deleteJob).

        An active job is not deleted: cancel it first.
        """
        who, why = acting(actor, reason)
        job = self.get_job(job_id)
        if job.status.is_active:
            raise Conflict(f"job {job.id} is {job.status.label}; cancel it before deleting")
        remove_files(self.settings.documents_dir, self._jobs.delete(job.id))
        self._record_job(AuditAction.DELETE, job, who, why, status=job.status.label)

    def cancel_job(
        self,
        job_id: UUID | str,
        *,
        actor: Actor | str | None = None,
        reason: str | None = None,
    ) -> Job:
        """Cancel a job.

        A job not yet running ends Cancelled at once and never runs. A running job of a
        cancellable type is flagged; it sees the flag through its context and ends
        Cancelled. The request lives in the database, so it survives worker restarts.
        ``actor`` (default: the local user) and ``reason`` go to the audit trail.
        """
        who, why = acting(actor, reason)
        job = self.get_job(job_id)
        if cancel_outcome(job.status, job.can_cancel) is None:
            raise _cannot_cancel(job)
        status = self._runtime.writes.request_cancel(
            job.id, at=self._runtime.clock(), actor=who.identity, cancel_running=job.can_cancel
        )
        if status is None:  # it started or ended in between
            raise _cannot_cancel(self.get_job(job.id))
        if status is JobStatus.CANCELLED:
            self._revoke(job)
        self._record_job(AuditAction.CANCEL, job, who, why, outcome=cancel_event_text(status))
        logger.info(
            "cancel requested",
            extra=job_fields(job.id, job.job_type, "cancel"),
        )
        return self.get_job(job.id)

    def rerun_job(
        self,
        job_id: UUID | str,
        *,
        actor: Actor | str | None = None,
        reason: str | None = None,
    ) -> Job:
        """Queue a finished job again as a new attempt, keeping its history.

        A step of a workflow reruns as ``rerun_workflow`` reruns it: the steps after it
        that did not complete wait for it again. ``actor`` (default: the local user) and
        ``reason`` go to the audit trail.
        """
        who, why = acting(actor, reason)
        job = self.get_job(job_id)
        if job.workflow_id is not None:
            step = self._runtime.workflows.of_job(job.id)
            if step is not None:
                self.rerun_workflow(step[0], step[1], actor=who, reason=why)
                return self.get_job(job.id)
        return self._rerun(job, who, why)

    def _rerun(self, job: Job, who: Actor, why: str | None) -> Job:
        """A new attempt of ended ``job``, published (or left for its runner)."""
        if not job.can_rerun:
            raise NotRerunnable(f"job {job.id} of type {job.job_type} cannot be rerun")
        if not can_reopen(job.status, ReopenReason.RERUN):
            raise NotRerunnable(f"job {job.id} is {job.status.label}; only ended jobs rerun")
        definition = resolve(job.job_type)
        runtime = self._runtime
        now = runtime.clock()
        attempt = runtime.writes.reopen(
            Reopen(
                job_id=job.id,
                attempt=job.attempt,
                reason=ReopenReason.RERUN,
                at=now,
                message=f"rerun by {who.identity}",
                actor=who.identity,
                purge_at=now + (definition.retention or self.settings.retention),
            )
        )
        if attempt is None:
            raise NotRerunnable(f"job {job.id} changed meanwhile; try again")
        if job.runs_elsewhere:  # its runner claims it again
            logger.info(
                "job rerun", extra=job_fields(job.id, job.job_type, "rerun", attempt=attempt)
            )
            self._record_job(AuditAction.RERUN, job, who, why, attempt=attempt)
            return self.get_job(job.id)
        try:
            self.app.dispatcher.publish(
                definition.name,
                job.id,
                attempt,
                job.parameters,
                queue=job.queue,
                priority=job.priority,
            )
        except DispatchError as exc:
            runtime.writes.write(
                transitions=[
                    Transition(
                        job_id=job.id,
                        attempt=attempt,
                        status=JobStatus.COMPLETED_WITH_ERRORS,
                        at=runtime.clock(),
                        error=JobError(type="DispatchError", message=str(exc)),
                        message="rerun could not be queued",
                    )
                ]
            )
            raise
        logger.info("job rerun", extra=job_fields(job.id, job.job_type, "rerun", attempt=attempt))
        self._record_job(AuditAction.RERUN, job, who, why, attempt=attempt)
        return self.get_job(job.id)

    def retry_now(
        self,
        job_id: UUID | str,
        *,
        actor: Actor | str | None = None,
        reason: str | None = None,
    ) -> Job:
        """Start now a job that waits for its retry or its delayed start (it is published
        within a moment, by the same mechanism that publishes due jobs).

        Raises NotWaiting when it waits for neither (it runs, ended, or was never delayed).
        ``actor`` (default: the local user) and ``reason`` go to the audit trail.
        """
        who, why = acting(actor, reason)
        job = self.get_job(job_id)
        if not job.waiting:
            raise NotWaiting(
                f"job {job.id} is {job.status.label} and waits for no start time or retry"
            )
        text = f"start now requested by {who.identity}"
        if not self._runtime.writes.start_now(
            job.id, at=self._runtime.clock(), actor=who.identity, why=text
        ):
            raise NotWaiting(f"job {job.id} is no longer waiting")
        logger.info("start now requested", extra=job_fields(job.id, job.job_type, "retry-now"))
        due = None if job.due_at is None else job.due_at.isoformat()
        self._record_job(AuditAction.START_NOW, job, who, why, due_at=due)
        return self.get_job(job.id)

    def wait_for_completion(
        self,
        job_ids: Sequence[UUID | str],
        timeout: float | None = None,
        *,
        poll_interval: float | None = None,
        on_poll: Callable[[list[Job]], None] | None = None,
    ) -> list[Job]:
        """Wait until every job has ended; returns them refreshed, in the given order.

        Raises WaitTimeout naming the unfinished ones when ``timeout`` seconds pass first,
        JobNotFound for an unknown id. Polls every ``poll_interval`` seconds (default:
        the ``wait_poll_interval`` setting, 1 s as in 1C).
        """
        ids = [job_uuid(job_id) for job_id in job_ids]
        interval = self.settings.wait_poll_interval if poll_interval is None else poll_interval
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            found = self._jobs.get_many(ids)
            missing = [job_id for job_id in ids if job_id not in found]
            if missing:
                raise JobNotFound(missing[0])
            jobs = [found[job_id] for job_id in ids]
            if on_poll is not None:
                on_poll(jobs)
            unfinished = [job.id for job in jobs if not job.is_terminal]
            if not unfinished:
                return jobs
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(unfinished, timeout or 0.0)
            pause = interval if deadline is None else min(interval, deadline - time.monotonic())
            time.sleep(max(pause, 0.0))

    def _record_job(
        self, action: AuditAction, job: Job, who: Actor, why: str | None, **details: JSONValue
    ) -> None:
        """Record an action on ``job``: its target is the job, its details its type first."""
        facts: dict[str, JSONValue] = {"job_type": job.job_type, **details}
        self._record(action, f"job {job.id}", who, details=facts, reason=why)

    def _revoke(self, job: Job) -> None:
        """Tell workers to drop the message too, where the broker can broadcast."""
        if self.settings.embedded_broker:
            return
        try:
            self.app.control.revoke(str(job.id))
        except Exception as exc:  # the database flag already holds the cancel
            logger.warning(
                "revoke broadcast failed: %s", exc, extra=job_fields(job.id, job.job_type, "cancel")
            )


def _cannot_cancel(job: Job) -> Conflict:
    """Why ``job`` cannot be cancelled now: it ended, or it runs and its type forbids it."""
    if job.status.is_terminal:
        return Conflict(f"job {job.id} already ended {job.status.label}")
    return NotCancellable(f"job {job.id} is running and {job.job_type} cannot be cancelled")
