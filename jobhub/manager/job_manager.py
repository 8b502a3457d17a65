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
GetJobInstance(Guid)               ``get_job(job_id)``
GetJobInstance(Type)               ``get_job_instance(job_type)``
GetAvailableJobs()                 ``available_job_types()``
getPendingJobs / Running / Finis.  ``pending_jobs()`` / ``running_jobs()`` / ``finished_jobs()``
findJob / deleteJob                ``find_job(job_id)`` / ``delete_job(job_id)``
getJobResults / getJobSchema       ``job_results(job_id)`` / ``job_schema()``
Execute(method, params, key, ...)  ``start_job(..., key=...)``
WaitForCompletion(jobs, timeout)   ``wait_for_completion(job_ids, timeout)``
Cancel / GetUserMessages           ``cancel_job(job_id)`` / ``user_messages(job_id)``
=================================  ==============================================

Job types are given by name, by definition or as their task ("by type or by name").
Beside the facade, on the same process handles: ``access`` (API keys, result documents),
``admin`` (readiness, workers, dead letters) and ``housekeeping`` (retention, recovery,
statistics).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from datetime import time as time_of_day
from functools import cached_property
from typing import Any
from uuid import UUID

from jobhub import odata
from jobhub.config import Settings
from jobhub.db.document_store import remove_files
from jobhub.db.job_store import JobStore
from jobhub.definitions import (
    JobDefinition,
    JobTypeState,
    all_definitions,
    find_definition,
    resolve,
)
from jobhub.dispatch import JobHubCelery
from jobhub.errors import (
    Conflict,
    DispatchError,
    InvalidInput,
    JobNotFound,
    NotCancellable,
    NotRerunnable,
    WaitTimeout,
)
from jobhub.formats.schema import job_json_schema
from jobhub.formats.vocab import QUERY_GROUPS, ApiJobState
from jobhub.housekeeping import Housekeeping
from jobhub.jobs import (
    AccessScope,
    Job,
    JobError,
    JobEvent,
    JobMessage,
    JobSpec,
    JobStatus,
    JSONValue,
    StartType,
)
from jobhub.lifecycle import Transition, can_rerun, cancel_outcome
from jobhub.manager.access import MAX_TEXT, Access
from jobhub.manager.admin import Admin
from jobhub.parameters import unstorable_text
from jobhub.queries import MAX_LIMIT, MAX_SKIP, Cursor, FilteredPage, JobQuery, Page
from jobhub.scheduling import rules as schedule_rules
from jobhub.scheduling.schedules import JobSchedule, ScheduleSpec, runtime_records
from jobhub.worker.app import create_celery_app

logger = logging.getLogger(__name__)

JobTypeRef = str | JobDefinition | object


class JobManager:
    """Jobs for producers: one per process is enough; it is safe to share between threads."""

    def __init__(self, app: JobHubCelery) -> None:
        self.app = app
        self.settings = app.jobhub_settings
        self._runtime = app.runtime

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
    def housekeeping(self) -> Housekeeping:
        """Retention, recovery of lost and stranded jobs, statistics."""
        return Housekeeping.of_app(self.app)

    @property
    def _jobs(self) -> JobStore:
        """The job store, after this process's deferred writes: reads see our own writes."""
        self._runtime.settle()
        return self._runtime.jobs

    # -- the master list of job types (IJobManagerService) ------------------------------

    def available_job_types(self) -> list[JobDefinition]:
        """Every job type this process can start (``GetAvailableJobs``)."""
        return all_definitions()

    def job_type(self, job_type: JobTypeRef) -> JobDefinition:
        """The definition of a job type by name (or definition, or task); UnknownJobType."""
        return resolve(job_type)

    def register_job(self, job_type: JobTypeRef) -> JobTypeState:
        """Put a job type on the master list with its declared start type (``RegisterJob``)."""
        definition = resolve(job_type)
        self._runtime.types.register(
            definition.name, definition.start_type, self._runtime.clock(), overwrite=False
        )
        return self.get_job_instance(definition)

    def add_job(self, job_type: JobTypeRef, start_type: StartType) -> JobTypeState:
        """Register a job type with the given start type (``AddJob(job, startType)``)."""
        definition = resolve(job_type)
        self._runtime.types.register(
            definition.name, StartType(start_type), self._runtime.clock(), overwrite=True
        )
        return self.get_job_instance(definition)

    def is_job_registered(self, job_type: JobTypeRef) -> bool:
        """Whether the job type is on the master list (``IsJobRegistered``)."""
        name = job_type if isinstance(job_type, str) else resolve(job_type).name
        return self._runtime.types.get(name) is not None

    def registered_jobs(self) -> list[JobTypeState]:
        """The master list with each type's latest run (the ``Jobs`` property)."""
        records = {record.name: record for record in self._runtime.types.all()}
        definitions = [d for d in (find_definition(name) for name in records) if d is not None]
        latest = self._jobs.latest_by_type([d.name for d in definitions])
        return [
            JobTypeState(
                definition=d,
                start_type=records[d.name].start_type,
                registered=True,
                last_job=latest.get(d.name),
            )
            for d in definitions
        ]

    def get_job_instance(self, job_type: JobTypeRef) -> JobTypeState:
        """A job type with its start type and latest run (``GetJobInstance(Type)``)."""
        definition = resolve(job_type)
        record = self._runtime.types.get(definition.name)
        latest = self._jobs.latest_by_type([definition.name])
        return JobTypeState(
            definition=definition,
            start_type=record.start_type if record else definition.start_type,
            registered=record is not None,
            last_job=latest.get(definition.name),
        )

    # -- starting ----------------------------------------------------------------------

    def start_job(
        self,
        job_type: JobTypeRef,
        parameters: Mapping[str, object] | None = None,
        *,
        identity: str | None = None,
        organization: str = "",
        client_request_id: str | None = None,
        key: str | None = None,
        description: str | None = None,
        access_scope: AccessScope | str = AccessScope.ORGANIZATION,
        job_id: UUID | None = None,
    ) -> Job:
        """Start a job; returns it Queued.

        Raises UnknownJobType, InvalidParameters or InvalidInput before anything is
        written; KeyConflict when an active job of the type holds ``key``; DispatchError
        when the broker does not take the message (nothing is left behind). Submitting
        the same ``(organization, client_request_id)`` again returns the first job.
        ``access_scope`` says who may read its result and documents. ``job_id`` is the id
        the new job gets (default: a random one); a caller that passes one can tell a new
        job from an idempotent repeat.
        """
        definition = resolve(job_type)
        try:
            scope = AccessScope.parse(access_scope)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        values = definition.validate(parameters or {})
        for label, text in (
            ("identity", identity),
            ("organization", organization),
            ("client request id", client_request_id),
            ("key", key),
        ):
            if text is not None and len(text) > MAX_TEXT:
                raise InvalidInput(f"{label} is longer than {MAX_TEXT} characters")
            if text is not None and unstorable_text(text, label) is not None:
                raise InvalidInput(
                    f"{label} is not storable text (a NUL character or invalid UTF-8)"
                )
        if description is not None and unstorable_text(description, "description") is not None:
            raise InvalidInput(
                "description is not storable text (a NUL character or invalid UTF-8)"
            )
        spec = JobSpec(
            job_type=definition.name,
            parameters=values,
            identity=identity,
            organization=organization,
            client_request_id=client_request_id,
            key=key,
            access_scope=scope,
        )
        return self.app.dispatcher.start(definition, spec, description=description, job_id=job_id)

    # -- reading -----------------------------------------------------------------------

    def get_job(self, job_id: UUID | str) -> Job:
        """One job by id (``GetJobInstance(Guid)``); raises JobNotFound."""
        return self._jobs.get(_uuid(job_id))

    def find_job(self, job_id: UUID | str) -> Job | None:
        """One job by id, or None (``api.job`` findJob)."""
        try:
            return self.get_job(job_id)
        except JobNotFound:
            return None

    def find_jobs(
        self,
        *,
        status: JobStatus | Iterable[JobStatus] | None = None,
        job_type: str | None = None,
        organization: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Job]:
        """Jobs matching the filters, newest first."""
        statuses = [status] if isinstance(status, JobStatus) else status
        query = JobQuery(
            statuses=None if statuses is None else frozenset(statuses),
            job_type=job_type,
            organization=organization,
            limit=limit,
            offset=offset,
        )
        return self._jobs.find(query)

    def find_page(self, query: JobQuery) -> Page:
        """One page of jobs for ``query`` and the cursor of the next page (keyset paging)."""
        found = self._jobs.find(query)
        more = len(found) == query.limit
        return Page(found, Cursor.after_job(found[-1]) if more and found else None)

    def query_jobs(
        self,
        *,
        filter: str | None = None,
        orderby: str | None = None,
        top: int = 100,
        skip: int = 0,
        organization: str | None = None,
        count: bool = False,
        fields: Mapping[str, odata.Field] = odata.FIELDS,
    ) -> tuple[list[Job], int | None]:
        """Jobs by an OData-style ``$filter`` and ``$orderby`` (``jobhub.odata``).

        Returns up to ``top`` jobs and, when ``count``, how many match in all. See
        ``query_page`` for the arguments.
        """
        page = self.query_page(
            filter=filter,
            orderby=orderby,
            top=top,
            skip=skip,
            organization=organization,
            count=count,
            fields=fields,
        )
        return page.jobs, page.total

    def query_page(
        self,
        *,
        filter: str | None = None,
        orderby: str | None = None,
        top: int = 100,
        skip: int = 0,
        organization: str | None = None,
        count: bool = False,
        fields: Mapping[str, odata.Field] = odata.FIELDS,
    ) -> FilteredPage:
        """One page of a ``$filter`` / ``$orderby`` query, saying whether more follow.

        ``organization`` confines the query to one tenant whatever the filter says;
        ``fields`` is the vocabulary (``odata.AIMS360_FIELDS`` for that view). Raises
        InvalidFilter (with the position) or InvalidInput before touching the database.
        """
        node = odata.parse_filter(filter, fields) if filter and filter.strip() else None
        keys = odata.parse_orderby(orderby, fields) if orderby and orderby.strip() else []
        if not 1 <= top <= MAX_LIMIT:
            raise InvalidInput(f"$top must be between 1 and {MAX_LIMIT}")
        if not 0 <= skip <= MAX_SKIP:
            raise InvalidInput(f"$skip must be between 0 and {MAX_SKIP}")
        return self._jobs.query(
            node, keys, top=top, skip=skip, organization=organization, count=count
        )

    def jobs_in_state(self, state: ApiJobState | str, *, limit: int = 100) -> list[Job]:
        """Jobs by ``api.job`` state: pending (not started), running, finished (ended)."""
        group = QUERY_GROUPS.get(ApiJobState(state))
        if group is None:
            raise InvalidInput(f"state must be pending, running or finished, not {state!r}")
        return self.find_jobs(status=group, limit=limit)

    def pending_jobs(self, *, limit: int = 100) -> list[Job]:
        return self.jobs_in_state(ApiJobState.PENDING, limit=limit)

    def running_jobs(self, *, limit: int = 100) -> list[Job]:
        return self.jobs_in_state(ApiJobState.RUNNING, limit=limit)

    def finished_jobs(self, *, limit: int = 100) -> list[Job]:
        return self.jobs_in_state(ApiJobState.FINISHED, limit=limit)

    def job_results(self, job_id: UUID | str) -> JSONValue:
        """The result of a Completed job (``api.job`` getJobResults)."""
        job = self.get_job(job_id)
        if job.status is not JobStatus.COMPLETED:
            raise Conflict(f"job {job.id} has no result: it is {job.status.label}")
        return job.result

    def job_events(self, job_id: UUID | str) -> list[JobEvent]:
        """A job's history of transitions, oldest first."""
        self.get_job(job_id)
        return self._jobs.events(_uuid(job_id))

    def user_messages(self, job_id: UUID | str, *, after: int = 0) -> list[JobMessage]:
        """Messages the job posted for its user, in order (1C ``GetUserMessages``)."""
        if not 0 <= after < 2**63:
            raise InvalidInput(f"after must be a message number, not {after}")
        self.get_job(job_id)
        return self._jobs.messages(_uuid(job_id), after=after)

    def recent_events(self, after: int, *, limit: int = 500) -> list[tuple[int, str, JobEvent]]:
        """Every job's transitions recorded after event id ``after``: a live feed.

        Returns (event id, job type, event) in the order they were recorded.
        """
        return self._jobs.events_since(after, limit=limit)

    def last_event_id(self) -> int:
        """The id of the newest event, to start a live feed from now."""
        return self._jobs.last_event_id()

    @staticmethod
    def job_schema() -> dict[str, Any]:
        """The JSON Schema of a job record (``api.job`` getJobSchema)."""
        return job_json_schema()

    # -- acting on jobs ------------------------------------------------------------------

    def delete_job(self, job_id: UUID | str) -> None:
        """Delete a job with its history and messages (``api.job`` deleteJob).

        An active job is not deleted: cancel it first.
        """
        job = self.get_job(job_id)
        if job.status.is_active:
            raise Conflict(f"job {job.id} is {job.status.label}; cancel it before deleting")
        remove_files(self.settings.documents_dir, self._jobs.delete(job.id))

    def cancel_job(self, job_id: UUID | str, *, actor: str | None = None) -> Job:
        """Cancel a job.

        A job not yet running ends Cancelled at once and never runs. A running job of a
        cancellable type is flagged; it sees the flag through its context and ends
        Cancelled. The request lives in the database, so it survives worker restarts.
        """
        job = self.get_job(job_id)
        outcome = cancel_outcome(job.status, job.can_cancel)
        if outcome is None:
            if job.status.is_terminal:
                raise Conflict(f"job {job.id} already ended {job.status.label}")
            raise NotCancellable(f"job {job.id} is running and {job.job_type} cannot be cancelled")
        status = self._jobs.request_cancel(
            job.id, now=self._runtime.clock(), actor=actor, cancel_running=job.can_cancel
        )
        if status is None:  # it started or ended in between
            job = self.get_job(job.id)
            if job.status.is_terminal:
                raise Conflict(f"job {job.id} already ended {job.status.label}")
            raise NotCancellable(f"job {job.id} is running and {job.job_type} cannot be cancelled")
        if status is JobStatus.CANCELLED:
            self._revoke(job.id)
        logger.info("cancel requested", extra={"job_id": str(job.id), "action": "cancel"})
        return self.get_job(job.id)

    def rerun_job(self, job_id: UUID | str, *, actor: str | None = None) -> Job:
        """Queue a finished job again as a new attempt, keeping its history."""
        job = self.get_job(job_id)
        if not job.can_rerun:
            raise NotRerunnable(f"job {job.id} of type {job.job_type} cannot be rerun")
        if not can_rerun(job.status):
            raise NotRerunnable(f"job {job.id} is {job.status.label}; only ended jobs rerun")
        definition = resolve(job.job_type)
        runtime = self._runtime
        attempt = self._jobs.rerun(
            job.id,
            attempt=job.attempt,
            now=runtime.clock(),
            actor=actor,
            retention=definition.retention or self.settings.retention,
        )
        if attempt is None:
            raise NotRerunnable(f"job {job.id} changed meanwhile; try again")
        try:
            self.app.dispatcher.publish(definition.name, job.id, attempt, job.parameters)
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
        logger.info("job rerun", extra={"job_id": str(job.id), "action": "rerun"})
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
        ids = [_uuid(job_id) for job_id in job_ids]
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

    # -- schedules (SanteDB: SetJobSchedule, GetJobSchedules, ClearJobSchedule) -----------

    def set_job_schedule(
        self,
        job_type: JobTypeRef,
        *,
        interval: timedelta | str | None = None,
        days: Iterable[int] | str | None = None,
        at: time_of_day | str | None = None,
        tz: str = "UTC",
        start: datetime | None = None,
        stop: datetime | None = None,
        parameters: Mapping[str, object] | None = None,
        catch_up: bool = True,
    ) -> list[JobSchedule]:
        """Replace the type's schedules with one: every ``interval``, or on ``days`` at
        ``at`` (wall-clock time in ``tz``). Bad input raises before anything is written."""
        rule = schedule_rules.build_rule(
            interval=interval, days=days, at=at, tz=tz, start=start, stop=stop
        )
        spec = ScheduleSpec(rule=rule, parameters=parameters or {}, catch_up=catch_up)
        return self.set_job_schedules(job_type, [spec])

    def set_job_schedules(
        self, job_type: JobTypeRef, schedules: Sequence[ScheduleSpec]
    ) -> list[JobSchedule]:
        """Replace the type's schedules with ``schedules`` (an empty list clears them)."""
        definition = resolve(job_type)
        records = runtime_records(definition.name, schedules, self._runtime.clock())
        self._runtime.schedules.replace(definition.name, "runtime", records)
        logger.info(
            "schedules set",
            extra={"job_type": definition.name, "action": "schedule", "count": len(records)},
        )
        return self.get_job_schedules(definition.name)

    def get_job_schedules(self, job_type: JobTypeRef) -> list[JobSchedule]:
        """The type's schedules, static and runtime, with their last and next fire."""
        definition = resolve(job_type)
        return [
            JobSchedule.from_record(r) for r in self._runtime.schedules.of_type(definition.name)
        ]

    def clear_job_schedule(self, job_type: JobTypeRef) -> None:
        """Remove the type's runtime schedules (static ones live in ``beat_schedule.py``)."""
        self.set_job_schedules(job_type, [])

    def job_schedules(self) -> list[JobSchedule]:
        """Every schedule, by job type."""
        return [JobSchedule.from_record(r) for r in self._runtime.schedules.all()]

    def _revoke(self, job_id: UUID) -> None:
        """Tell workers to drop the message too, where the broker can broadcast."""
        if self.settings.embedded_broker:
            return
        try:
            self.app.control.revoke(str(job_id))
        except Exception as exc:  # the database flag already holds the cancel
            logger.warning("revoke broadcast failed: %s", exc, extra={"job_id": str(job_id)})


def _uuid(value: UUID | str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise JobNotFound(str(value)) from None
