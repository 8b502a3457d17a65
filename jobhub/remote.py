"""``RemoteJobManager``: the ``JobService`` over jobhub's HTTP API.

For producers that must not reach the database or the broker, as SanteDB's
UpstreamJobManager works over its REST API. It returns the same ``Job`` values and raises
the same exceptions as ``JobManager``: each problem response names its error class
(``urn:jobhub:problem:JobNotFound``) and is raised as that class. An API that cannot be
reached, or that fails, raises RemoteUnavailable.

Example::

    with RemoteJobManager("https://jobs.example.com", token="jh_...") as jobs:
        job = jobs.start_job("reports.job_statistics", client_request_id="daily-2026-11-21")
        jobs.wait_for_completion([job.id], timeout=60)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from datetime import time as time_of_day
from functools import cached_property
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from jobhub import errors
from jobhub.audit import AuditEntry, since_text
from jobhub.definitions import JobDefinition
from jobhub.durations import format_duration
from jobhub.errors import (
    InvalidInput,
    InvalidParameters,
    JobHubError,
    JobNotFound,
    RemoteUnavailable,
    WaitTimeout,
)
from jobhub.formats.audit_records import audit_from_record
from jobhub.formats.gates import limit_from_record, pause_from_record
from jobhub.formats.schema import event_from_record, job_from_record, message_from_record
from jobhub.formats.vocab import QUERY_GROUPS, ApiJobState
from jobhub.gates import Pause, PauseKind, StoredLimit
from jobhub.jobs import AccessScope, Job, JobError, JobEvent, JobMessage, JobStatus, JSONValue
from jobhub.limits import Limit, LimitKind
from jobhub.manager import JobManager
from jobhub.odata import InvalidFilter
from jobhub.queries import wants_housekeeping
from jobhub.scheduling.schedules import JobSchedule, schedule_from_json
from jobhub.service import GateService, JobService, RunnerService

_FALLBACK: dict[int, type[JobHubError]] = {
    400: InvalidInput,
    401: errors.NotAuthenticated,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    409: errors.Conflict,
    422: InvalidInput,
}
_IDS_PER_QUERY = 40
"""Ids a wait asks for in one ``$filter``: each ``id eq <guid> or`` takes 46 of the 2,000
characters a filter may have (``jobhub.odata.MAX_FILTER_LENGTH``), and the filter also
mentions housekeeping."""
_ANY_HOUSEKEEPING = "housekeeping eq true or housekeeping eq false"
"""Mentions housekeeping, so the API lists every job, not only the users' ones."""


class RemoteJobManager:
    """Jobs through the HTTP API at ``base_url``, as the API key ``token``'s caller."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        poll_interval: float = 1.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.poll_interval = poll_interval
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> RemoteJobManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- transport ---------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RemoteUnavailable(f"jobhub API unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise _error(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # -- starting and reading ----------------------------------------------------------

    def start_job(
        self,
        job_type: str | JobDefinition | object,
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
        body: dict[str, Any] = {
            "type": _type_name(job_type),
            "parameters": dict(parameters or {}),
            "key": key,
            "clientRequestId": client_request_id,
            "description": description,
            "accessScope": str(
                access_scope.value if isinstance(access_scope, AccessScope) else access_scope
            ),
        }
        options = {
            "startAt": None if start_at is None else start_at.isoformat(),
            "delay": None if delay is None else delay.total_seconds(),
            "queue": queue,
            "priority": priority,
            "maxAttempts": max_attempts,
        }
        # only those given: an API from before start options refuses unknown fields
        body.update((name, value) for name, value in options.items() if value is not None)
        return job_from_record(self._call("POST", "/jobs", json=body, params=_why(reason)))

    def get_job(self, job_id: UUID | str) -> Job:
        return job_from_record(self._call("GET", f"/jobs/{_id(job_id)}"))

    def find_job(self, job_id: UUID | str) -> Job | None:
        try:
            return self.get_job(job_id)
        except JobNotFound:
            return None

    def query_jobs(
        self,
        *,
        filter: str | None = None,
        orderby: str | None = None,
        top: int = 100,
        skip: int = 0,
        count: bool = False,
    ) -> tuple[list[Job], int | None]:
        """Jobs by OData-style ``$filter`` / ``$orderby``, following pages up to ``top``."""
        params: dict[str, str] = {"$top": str(top), "$skip": str(skip)}
        if filter:
            params["$filter"] = filter
        if orderby:
            params["$orderby"] = orderby
        if count:
            params["$count"] = "true"
        page = self._call("GET", "/jobs", params=params)
        found = [job_from_record(record) for record in page["value"]]
        total = page.get("@odata.count")
        while page.get("@odata.nextLink"):
            page = self._call("GET", page["@odata.nextLink"])
            found.extend(job_from_record(record) for record in page["value"])
        return found, total

    def find_jobs(
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
        clauses = []
        if status is not None:
            statuses = [status] if isinstance(status, JobStatus) else sorted(status)
            clauses.append(" or ".join(f"statusCode eq {int(s)}" for s in statuses) or "false")
        if job_type is not None:
            clauses.append("jobType eq '" + job_type.replace("'", "''") + "'")
        if wants_housekeeping(housekeeping, job_type):
            clauses.append(_ANY_HOUSEKEEPING)
        filter_text = " and ".join(f"({clause})" for clause in clauses) or None
        return self.query_jobs(filter=filter_text, top=limit, skip=offset)[0]

    def pending_jobs(self, *, limit: int = 100, housekeeping: bool | None = None) -> list[Job]:
        group = QUERY_GROUPS[ApiJobState.PENDING]
        return self.find_jobs(status=group, limit=limit, housekeeping=housekeeping)

    def running_jobs(self, *, limit: int = 100, housekeeping: bool | None = None) -> list[Job]:
        group = QUERY_GROUPS[ApiJobState.RUNNING]
        return self.find_jobs(status=group, limit=limit, housekeeping=housekeeping)

    def finished_jobs(self, *, limit: int = 100, housekeeping: bool | None = None) -> list[Job]:
        group = QUERY_GROUPS[ApiJobState.FINISHED]
        return self.find_jobs(status=group, limit=limit, housekeeping=housekeeping)

    def job_results(self, job_id: UUID | str) -> JSONValue:
        """The inline result; for a Publishlink result, its documents (with their links)."""
        body = self._call("GET", f"/jobs/{_id(job_id)}/result")
        if body["responseType"] == "Publishlink":
            result: JSONValue = {"publishLink": body["publishLink"], "documents": body["documents"]}
            return result
        value: JSONValue = body["result"]
        return value

    def job_events(self, job_id: UUID | str) -> list[JobEvent]:
        found = _id(job_id)
        body = self._call("GET", f"/jobs/{found}/events")
        return [event_from_record(UUID(found), record) for record in body["value"]]

    def user_messages(self, job_id: UUID | str, *, after: int = 0) -> list[JobMessage]:
        found = _id(job_id)
        body = self._call("GET", f"/jobs/{found}/messages", params={"after": after})
        return [message_from_record(UUID(found), record) for record in body["value"]]

    # -- acting on jobs ------------------------------------------------------------------

    def cancel_job(self, job_id: UUID | str, *, reason: str | None = None) -> Job:
        path = f"/jobs/{_id(job_id)}/cancel"
        return job_from_record(self._call("POST", path, params=_why(reason)))

    def rerun_job(self, job_id: UUID | str, *, reason: str | None = None) -> Job:
        path = f"/jobs/{_id(job_id)}/rerun"
        return job_from_record(self._call("POST", path, params=_why(reason)))

    def retry_now(self, job_id: UUID | str, *, reason: str | None = None) -> Job:
        """Start now a job that waits for its start time or its retry; NotWaiting otherwise."""
        path = f"/jobs/{_id(job_id)}/retry-now"
        return job_from_record(self._call("POST", path, params=_why(reason)))

    def wait_for_completion(
        self, job_ids: Sequence[UUID | str], timeout: float | None = None
    ) -> list[Job]:
        """Wait until every job has ended (polling the API); WaitTimeout otherwise."""
        wanted = [UUID(_id(job_id)) for job_id in job_ids]
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            found: dict[UUID, Job] = {}
            for start in range(0, len(wanted), _IDS_PER_QUERY):
                chunk = wanted[start : start + _IDS_PER_QUERY]
                ids = " or ".join(f"id eq {job_id}" for job_id in chunk)
                jobs, _ = self.query_jobs(
                    filter=f"({ids}) and ({_ANY_HOUSEKEEPING})", top=len(chunk)
                )
                found.update((job.id, job) for job in jobs)
            missing = [job_id for job_id in wanted if job_id not in found]
            if missing:
                raise JobNotFound(missing[0])
            unfinished = [job_id for job_id in wanted if not found[job_id].is_terminal]
            if not unfinished:
                return [found[job_id] for job_id in wanted]
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(unfinished, timeout or 0.0)
            pause = self.poll_interval
            if deadline is not None:
                pause = min(pause, deadline - time.monotonic())
            time.sleep(max(pause, 0.0))

    # -- job types and schedules ----------------------------------------------------------

    def job_types(self) -> list[dict[str, Any]]:
        """The job types the API's workers can run, with their parameter schemas."""
        body: list[dict[str, Any]] = self._call("GET", "/job-types")["value"]
        return body

    def get_job_schedules(self, job_type: str | JobDefinition | object) -> list[JobSchedule]:
        body = self._call("GET", f"/job-types/{_type_name(job_type)}/schedules")
        return [schedule_from_json(record) for record in body["value"]]

    def set_job_schedule(
        self,
        job_type: str | JobDefinition | object,
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
        body: dict[str, Any] = {
            "interval": _interval_text(interval),
            "days": days if isinstance(days, str) or days is None else ",".join(map(str, days)),
            "at": at.isoformat() if isinstance(at, time_of_day) else at,
            "tz": tz,
            "parameters": dict(parameters or {}),
            "catchUp": catch_up,
        }
        path = f"/job-types/{_type_name(job_type)}/schedules"
        found = self._call("PUT", path, json=body, params=_why(reason))
        return [schedule_from_json(record) for record in found["value"]]

    def clear_job_schedule(
        self, job_type: str | JobDefinition | object, *, reason: str | None = None
    ) -> None:
        path = f"/job-types/{_type_name(job_type)}/schedules"
        self._call("DELETE", path, params=_why(reason))

    # -- the audit trail --------------------------------------------------------------------

    def audit_entries(
        self,
        *,
        since: datetime | timedelta | str | None = None,
        actor: str | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """The key's organization's audit trail, newest first (needs an admin key); see
        ``JobManager.audit_entries``."""
        params: dict[str, str | int] = {"limit": limit}
        if since is not None:
            params["since"] = since if isinstance(since, str) else since_text(since)
        if actor is not None:
            params["actor"] = actor
        body = self._call("GET", "/audit", params=params)
        return [audit_from_record(record) for record in body["value"]]

    # -- limits and pauses (reading needs any key, changing them an admin key) ------------

    def limits(self, job_type: str | JobDefinition | object | None = None) -> list[StoredLimit]:
        """The limits of one type, or of all; see ``JobManager.limits``."""
        path = "/limits" if job_type is None else f"/job-types/{_type_name(job_type)}/limits"
        return [limit_from_record(record) for record in self._call("GET", path)["value"]]

    def set_limit(
        self,
        job_type: str | JobDefinition | object,
        limit: Limit | str,
        *,
        reason: str | None = None,
    ) -> list[StoredLimit]:
        """Set the type's limit of that kind and key, as the key's identity; returns the
        type's limits. UnknownJobType or InvalidLimit as ``JobManager.set_limit``."""
        body = {"limit": limit.text() if isinstance(limit, Limit) else limit, "reason": reason}
        found = self._call("PUT", f"/job-types/{_type_name(job_type)}/limits", json=body)
        return [limit_from_record(record) for record in found["value"]]

    def clear_limit(
        self,
        job_type: str | JobDefinition | object,
        kind: LimitKind | str = LimitKind.CONCURRENCY,
        per: str = "",
        *,
        reason: str | None = None,
    ) -> list[StoredLimit]:
        """Lift the type's limit of ``kind`` and key ``per``; NotFound when it has none."""
        path = f"/job-types/{_type_name(job_type)}/limits/{_segment(str(kind))}"
        params = {"per": per, **({} if reason is None else {"reason": reason})}
        found = self._call("DELETE", path, params=params)
        return [limit_from_record(record) for record in found["value"]]

    def pauses(self) -> list[Pause]:
        """Every paused queue, job type and schedule."""
        return [pause_from_record(record) for record in self._call("GET", "/pauses")["value"]]

    def pause(self, kind: PauseKind | str, target: str, *, reason: str | None = None) -> Pause:
        """Pause a queue, a job type or a schedule on every host, as the key's identity;
        Conflict when it is paused already."""
        body = {"kind": str(kind), "target": target, "reason": reason}
        return pause_from_record(self._call("POST", "/pauses", json=body))

    def resume(self, kind: PauseKind | str, target: str, *, reason: str | None = None) -> None:
        """Resume a paused queue, job type or schedule; Conflict when it is not paused."""
        path = f"/pauses/{_segment(str(kind))}/{_segment(target)}"
        self._call("DELETE", path, params={} if reason is None else {"reason": reason})

    def job_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = self._call("GET", "/schema/job")
        return schema

    def readiness(self) -> dict[str, str]:
        """What the API reports of its database and broker (``/ready``)."""
        try:
            response = self._http.get("/ready")
        except httpx.HTTPError as exc:
            return {"api": f"unreachable: {exc}"}
        report: dict[str, str] = response.json()
        return report

    # -- jobs run elsewhere: the runner's side -------------------------------------------

    @cached_property
    def runners(self) -> RemoteRunners:
        """Claim, report on and finish jobs that run elsewhere (``JobManager.runners``);
        needs an operator key of the job's organization."""
        return RemoteRunners(self._call)


class RemoteRunners:
    """``Runners`` over the HTTP API: the same operations, values and errors."""

    def __init__(self, call: Callable[..., Any]) -> None:
        self._call = call

    def claim(self, job_id: UUID | str, runner: str) -> Job:
        body = {"runner": runner}
        return job_from_record(self._call("POST", f"/jobs/{_id(job_id)}/claim", json=body))

    def report(
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
        body = {
            "runner": runner,
            "percent": percent,
            "statusText": status_text,
            "message": message,
            "level": level,
            "attempt": attempt,
        }
        return job_from_record(self._call("POST", f"/jobs/{_id(job_id)}/report", json=body))

    def finish(
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
        body: dict[str, Any] = {
            "runner": runner,
            "result": result,
            "cancelled": cancelled,
            "attempt": attempt,
        }
        if isinstance(error, str):
            body["error"] = {"message": error, "retry": retry}
        elif error is not None:
            body["error"] = {
                "type": error.type,
                "message": error.message,
                "traceback": error.traceback,
                "retry": retry,
            }
        return job_from_record(self._call("POST", f"/jobs/{_id(job_id)}/finish", json=body))


def _why(reason: str | None) -> dict[str, str]:
    """The ``reason`` query parameter of an acting route, when there is one."""
    return {} if reason is None else {"reason": reason}


def _id(job_id: UUID | str) -> str:
    try:
        return str(job_id if isinstance(job_id, UUID) else UUID(str(job_id)))
    except ValueError:
        raise JobNotFound(str(job_id)) from None


def _segment(text: str) -> str:
    """``text`` quoted for a path segment."""
    return quote(text, safe="")


def _type_name(job_type: str | JobDefinition | object) -> str:
    if isinstance(job_type, str):
        return job_type
    definition = job_type if isinstance(job_type, JobDefinition) else None
    definition = definition or getattr(job_type, "definition", None)
    if isinstance(definition, JobDefinition):
        return definition.name
    raise errors.UnknownJobType(repr(job_type))


def _interval_text(interval: timedelta | str | None) -> str | None:
    return format_duration(interval) if isinstance(interval, timedelta) else interval


def _error(response: httpx.Response) -> JobHubError:
    """The jobhub exception a problem response names (its class, message and details)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = str(body.get("detail") or response.reason_phrase or response.status_code)
    name = str(body.get("type", "")).rpartition(":")[2]
    kind = getattr(errors, name, None)
    if name == "InvalidFilter":
        return InvalidFilter(detail.rsplit(" at position ", 1)[0], int(body.get("position", 0)))
    if name == "InvalidParameters":
        problems = {e["name"]: e["reason"] for e in body.get("errors", [])}
        return InvalidParameters(
            detail.split(":", 1)[0].removeprefix("invalid parameters for "), problems
        )
    if not (isinstance(kind, type) and issubclass(kind, JobHubError)):
        kind = _FALLBACK.get(response.status_code, RemoteUnavailable)
    error = kind.__new__(kind)
    JobHubError.__init__(error, detail)
    return error


def _both_conform(local: JobManager, remote: RemoteJobManager) -> tuple[JobService, JobService]:
    """Never called: mypy checks here that both managers implement ``JobService``."""
    return local, remote


def _both_gate(local: JobManager, remote: RemoteJobManager) -> tuple[GateService, GateService]:
    """Never called: mypy checks here that both managers implement ``GateService``."""
    return local, remote


def _both_run(local: JobManager, remote: RemoteJobManager) -> tuple[RunnerService, RunnerService]:
    """Never called: mypy checks here that both runner sides implement ``RunnerService``."""
    return local.runners, remote.runners
