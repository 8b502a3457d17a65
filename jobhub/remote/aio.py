"""``AsyncRemoteJobManager``: ``RemoteJobManager`` for asyncio producers.

Celery has no asyncio API; a FastAPI service that starts jobs would block its event loop
on every publish. This manager talks to jobhub's HTTP API with ``httpx.AsyncClient``, so
every call is awaited and nothing blocks the loop. It runs the same ``operations`` as
``RemoteJobManager``: the same paths, values and exceptions.

Example::

    async with AsyncRemoteJobManager("https://jobs.example.com", token="jh_...") as jobs:
        job = await jobs.start_job("reports.job_statistics")
        [done] = await jobs.wait_for_completion([job.id], timeout=60)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from datetime import time as time_of_day
from functools import cached_property
from typing import Any, TypeVar
from uuid import UUID

import httpx

from jobhub.audit import AuditEntry
from jobhub.errors import JobHubError
from jobhub.formats.vocab import ApiJobState
from jobhub.gates import Pause, PauseKind, StoredLimit
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
)
from jobhub.limits import Limit, LimitKind
from jobhub.remote import operations as op
from jobhub.remote.client import answer_of, http_headers, unreachable
from jobhub.remote.operations import (
    Call,
    JobTypeRef,
    Operation,
    WorkflowDocument,
    WorkflowRecord,
)
from jobhub.scheduling.schedules import JobSchedule

T = TypeVar("T")


class AsyncRemoteJobManager:
    """``RemoteJobManager`` for asyncio: the same operations, values and errors, awaited.

    Nothing it does blocks the event loop: requests go through ``httpx.AsyncClient`` and
    waits through ``asyncio.sleep``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        poll_interval: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.poll_interval = poll_interval
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=http_headers(token),
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> AsyncRemoteJobManager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    # -- running an operation ----------------------------------------------------------

    async def _run(self, operation: Operation[T]) -> T:
        answer: Any = None
        error: JobHubError | None = None
        while True:
            try:
                step = operation.send(answer) if error is None else operation.throw(error)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            answer, error = None, None
            if isinstance(step, op.Pause):
                await asyncio.sleep(step.seconds)
                continue
            try:
                answer = await self._call(step)
            except JobHubError as exc:
                error = exc

    async def _call(self, call: Call) -> Any:
        try:
            response = await self._http.request(
                call.method, call.path, params=call.params or None, json=call.json
            )
        except httpx.HTTPError as exc:
            raise unreachable(exc) from exc
        return answer_of(response, call)

    # -- starting and reading ----------------------------------------------------------

    async def start_job(
        self,
        job_type: JobTypeRef,
        parameters: Mapping[str, object] | None = None,
        *,
        client_request_id: str | None = None,
        key: str | None = None,
        description: str | None = None,
        access_scope: AccessScope | str = AccessScope.ORGANIZATION,
        start_at: datetime | None = None,
        delay: timedelta | None = None,
        queue: str | None = None,
        priority: int | None = None,
        max_attempts: int | None = None,
        reason: str | None = None,
    ) -> Job:
        """Start a job as the key's identity in its organization; see ``JobManager``.
        The server records the start in its audit trail as the key's, with ``reason``."""
        request = JobRequest(
            job_type=job_type,
            parameters=parameters or {},
            client_request_id=client_request_id,
            key=key,
            description=description,
            access_scope=access_scope,
            start_at=start_at,
            delay=delay,
            queue=queue,
            priority=priority,
            max_attempts=max_attempts,
        )
        return await self._run(op.start_job(request, reason))

    async def start_jobs(
        self, requests: Sequence[JobRequest], *, reason: str | None = None
    ) -> list[StartOutcome]:
        """Start a batch as the key's identity in its organization (``POST /jobs/batch``;
        see ``JobManager.start_jobs``). A request's identity and organization are the
        key's, whatever it carries."""
        return await self._run(op.start_jobs(requests, reason))

    async def get_job(self, job_id: UUID | str) -> Job:
        return await self._run(op.get_job(job_id))

    async def find_job(self, job_id: UUID | str) -> Job | None:
        return await self._run(op.find_job(job_id))

    async def query_jobs(
        self,
        *,
        filter: str | None = None,
        orderby: str | None = None,
        top: int = 100,
        skip: int = 0,
        count: bool = False,
    ) -> tuple[list[Job], int | None]:
        """Jobs by OData-style ``$filter`` / ``$orderby``, following pages up to ``top``."""
        return await self._run(op.query_jobs(filter, orderby, top, skip, count))

    async def find_jobs(
        self,
        *,
        status: JobStatus | Iterable[JobStatus] | None = None,
        job_type: str | None = None,
        limit: int = 100,
        offset: int = 0,
        housekeeping: bool | None = None,
    ) -> list[Job]:
        """Jobs matching the filters, newest first; housekeeping jobs as ``JobManager``
        lists them (``find_jobs``)."""
        return await self._run(op.find_jobs(status, job_type, limit, offset, housekeeping))

    async def pending_jobs(
        self, *, limit: int = 100, housekeeping: bool | None = None
    ) -> list[Job]:
        return await self._run(op.jobs_in(ApiJobState.PENDING, limit, housekeeping))

    async def running_jobs(
        self, *, limit: int = 100, housekeeping: bool | None = None
    ) -> list[Job]:
        return await self._run(op.jobs_in(ApiJobState.RUNNING, limit, housekeeping))

    async def finished_jobs(
        self, *, limit: int = 100, housekeeping: bool | None = None
    ) -> list[Job]:
        return await self._run(op.jobs_in(ApiJobState.FINISHED, limit, housekeeping))

    async def job_results(self, job_id: UUID | str) -> JSONValue:
        """The inline result; for a Publishlink result, its documents (with their links)."""
        return await self._run(op.job_results(job_id))

    async def job_events(self, job_id: UUID | str) -> list[JobEvent]:
        return await self._run(op.job_events(job_id))

    async def user_messages(self, job_id: UUID | str, *, after: int = 0) -> list[JobMessage]:
        return await self._run(op.user_messages(job_id, after))

    # -- acting on jobs ------------------------------------------------------------------

    async def cancel_job(self, job_id: UUID | str, *, reason: str | None = None) -> Job:
        return await self._run(op.act_on_job(job_id, "cancel", reason))

    async def rerun_job(self, job_id: UUID | str, *, reason: str | None = None) -> Job:
        return await self._run(op.act_on_job(job_id, "rerun", reason))

    async def retry_now(self, job_id: UUID | str, *, reason: str | None = None) -> Job:
        """Start now a job that waits for its start time or its retry; NotWaiting otherwise."""
        return await self._run(op.act_on_job(job_id, "retry-now", reason))

    async def wait_for_completion(
        self, job_ids: Sequence[UUID | str], timeout: float | None = None
    ) -> list[Job]:
        """Wait until every job has ended (polling the API); WaitTimeout otherwise."""
        return await self._run(op.wait_for_completion(job_ids, timeout, self.poll_interval))

    # -- workflows -------------------------------------------------------------------------

    async def start_workflow(
        self,
        workflow: WorkflowDocument,
        *,
        name: str | None = None,
        access_scope: AccessScope | str = AccessScope.ORGANIZATION,
        reason: str | None = None,
    ) -> WorkflowRecord:
        """Start a workflow (a ``WorkflowSpec``, a list of ``Step``, or its JSON/YAML
        document) as the key's identity in its organization; returns its record, whose
        steps name their jobs (``get_job``). InvalidWorkflow, UnknownJobType or
        InvalidParameters as ``JobManager.start_workflow``, before anything is written."""
        return await self._run(op.start_workflow(workflow, name, access_scope, reason))

    async def get_workflow(self, workflow_id: UUID | str) -> WorkflowRecord:
        """A workflow of the key's organization; WorkflowNotFound otherwise."""
        return await self._run(op.get_workflow(workflow_id))

    async def find_workflows(
        self,
        *,
        status: JobStatus | Iterable[JobStatus] | None = None,
        identity: str | None = None,
        limit: int = 100,
        before: Mapping[str, Any] | UUID | str | None = None,
    ) -> list[WorkflowRecord]:
        """The key's organization's workflows, newest first; ``before`` is the last one
        (or its id) of the previous page."""
        return await self._run(op.find_workflows(status, identity, limit, before))

    async def cancel_workflow(
        self, workflow_id: UUID | str, *, reason: str | None = None
    ) -> WorkflowRecord:
        """Cancel every step not yet ended; Conflict when the workflow already ended."""
        return await self._run(op.act_on_workflow(workflow_id, "cancel", reason))

    async def rerun_workflow(
        self, workflow_id: UUID | str, step: str | None = None, *, reason: str | None = None
    ) -> WorkflowRecord:
        """Run ``step`` (default: every failed step) again and re-arm the steps after it;
        NotRerunnable as ``JobManager.rerun_workflow``."""
        body = {"step": step} if step is not None else None
        return await self._run(op.act_on_workflow(workflow_id, "rerun", reason, body))

    # -- job types and schedules ----------------------------------------------------------

    async def job_types(self) -> list[dict[str, Any]]:
        """The job types the API's workers can run, with their parameter schemas."""
        return await self._run(op.job_types())

    async def get_job_schedules(self, job_type: JobTypeRef) -> list[JobSchedule]:
        return await self._run(op.get_job_schedules(job_type))

    async def set_job_schedule(
        self,
        job_type: JobTypeRef,
        *,
        interval: timedelta | str | None = None,
        days: Iterable[int] | str | None = None,
        at: time_of_day | str | None = None,
        tz: str = "UTC",
        parameters: Mapping[str, object] | None = None,
        catch_up: bool = True,
        reason: str | None = None,
    ) -> list[JobSchedule]:
        """Replace the type's schedules with one (needs an admin key)."""
        return await self._run(
            op.set_job_schedule(job_type, interval, days, at, tz, parameters, catch_up, reason)
        )

    async def clear_job_schedule(self, job_type: JobTypeRef, *, reason: str | None = None) -> None:
        await self._run(op.clear_job_schedule(job_type, reason))

    # -- the audit trail --------------------------------------------------------------------

    async def audit_entries(
        self,
        *,
        since: datetime | timedelta | str | None = None,
        actor: str | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """The key's organization's audit trail, newest first (needs an admin key); see
        ``JobManager.audit_entries``."""
        return await self._run(op.audit_entries(since, actor, limit))

    # -- limits and pauses (reading needs any key, changing them an admin key) ------------

    async def limits(self, job_type: JobTypeRef | None = None) -> list[StoredLimit]:
        """The limits of one type, or of all; see ``JobManager.limits``."""
        return await self._run(op.limits(job_type))

    async def set_limit(
        self, job_type: JobTypeRef, limit: Limit | str, *, reason: str | None = None
    ) -> list[StoredLimit]:
        """Set the type's limit of that kind and key, as the key's identity; returns the
        type's limits. UnknownJobType or InvalidLimit as ``JobManager.set_limit``."""
        return await self._run(op.set_limit(job_type, limit, reason))

    async def clear_limit(
        self,
        job_type: JobTypeRef,
        kind: LimitKind | str = LimitKind.CONCURRENCY,
        per: str = "",
        *,
        reason: str | None = None,
    ) -> list[StoredLimit]:
        """Lift the type's limit of ``kind`` and key ``per``; NotFound when it has none."""
        return await self._run(op.clear_limit(job_type, kind, per, reason))

    async def pauses(self) -> list[Pause]:
        """Every paused queue, job type and schedule."""
        return await self._run(op.pauses())

    async def pause(
        self, kind: PauseKind | str, target: str, *, reason: str | None = None
    ) -> Pause:
        """Pause a queue, a job type or a schedule on every host, as the key's identity;
        Conflict when it is paused already."""
        return await self._run(op.pause(kind, target, reason))

    async def resume(
        self, kind: PauseKind | str, target: str, *, reason: str | None = None
    ) -> None:
        """Resume a paused queue, job type or schedule; Conflict when it is not paused."""
        await self._run(op.resume(kind, target, reason))

    async def job_schema(self) -> dict[str, Any]:
        return await self._run(op.job_schema())

    async def readiness(self) -> dict[str, str]:
        """What the API reports of its database and broker (``/ready``)."""
        return await self._run(op.readiness())

    # -- jobs run elsewhere: the runner's side -------------------------------------------

    @cached_property
    def runners(self) -> AsyncRemoteRunners:
        """Claim, report on and finish jobs that run elsewhere (``JobManager.runners``);
        needs an operator key of the job's organization."""
        return AsyncRemoteRunners(self._run)


class AsyncRemoteRunners:
    """``RemoteRunners`` for asyncio."""

    def __init__(self, run: Callable[[Operation[Job]], Awaitable[Job]]) -> None:
        self._run = run

    async def claim(self, job_id: UUID | str, runner: str) -> Job:
        return await self._run(op.claim(job_id, runner))

    async def report(
        self,
        job_id: UUID | str,
        runner: str,
        *,
        percent: float | None = None,
        status_text: str | None = None,
        message: str | None = None,
        level: str = "info",
        attempt: int | None = None,
    ) -> Job:
        return await self._run(
            op.report(job_id, runner, percent, status_text, message, level, attempt)
        )

    async def finish(
        self,
        job_id: UUID | str,
        runner: str,
        *,
        result: JSONValue = None,
        error: JobError | str | None = None,
        retry: bool = True,
        cancelled: bool = False,
        attempt: int | None = None,
    ) -> Job:
        return await self._run(op.finish(job_id, runner, result, error, retry, cancelled, attempt))
