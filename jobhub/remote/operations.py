"""Every operation of the remote managers, written once and free of I/O.

Each operation is a generator: it yields the ``Call`` it needs (or a ``Pause`` while it
polls), is sent the decoded answer, and returns its value. ``RemoteJobManager`` runs them
with ``httpx.Client`` and ``time.sleep``, ``AsyncRemoteJobManager`` with
``httpx.AsyncClient`` and ``asyncio.sleep``: the two cannot drift apart, because neither
holds any of the API's paths, bodies or decoding.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as time_of_day
from typing import Any, TypeVar
from urllib.parse import quote
from uuid import UUID

from jobhub import errors
from jobhub.audit import AuditEntry, since_text
from jobhub.definitions import JobDefinition
from jobhub.durations import format_duration
from jobhub.errors import (
    InvalidInput,
    InvalidParameters,
    JobHubError,
    JobNotFound,
    WaitTimeout,
    WorkflowNotFound,
)
from jobhub.formats.audit_records import audit_from_record
from jobhub.formats.gates import limit_from_record, pause_from_record
from jobhub.formats.schema import event_from_record, job_from_record, message_from_record
from jobhub.formats.vocab import QUERY_GROUPS, ApiJobState
from jobhub.gates import Pause as StoredPause
from jobhub.gates import PauseKind, StoredLimit
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
    StartState,
)
from jobhub.limits import Limit, LimitKind
from jobhub.odata import InvalidFilter
from jobhub.queries import wants_housekeeping
from jobhub.scheduling.schedules import JobSchedule, schedule_from_json
from jobhub.workflows.spec import Step as SpecStep
from jobhub.workflows.spec import WorkflowSpec

T = TypeVar("T")

JobTypeRef = str | JobDefinition | object
"""A job type by name, by definition, or as its task."""


@dataclass(frozen=True, slots=True)
class Call:
    """One request to the API; the answer sent back is its decoded JSON (None if empty)."""

    method: str
    path: str
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None
    problems: bool = True
    """Whether a 4xx/5xx answer raises its error (else the body is sent back as is)."""


@dataclass(frozen=True, slots=True)
class Pause:
    """Wait this many seconds before the next call (a poll)."""

    seconds: float


Step = Call | Pause
Operation = Generator[Step, Any, T]
"""What every operation is: yields steps, is sent their answers, returns ``T``."""

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


# -- starting and reading ------------------------------------------------------------------


def start_job(request: JobRequest, reason: str | None) -> Operation[Job]:
    found = yield Call("POST", "/jobs", params=_why(reason), json=_start_body(request))
    return job_from_record(found)


def start_jobs(requests: Sequence[JobRequest], reason: str | None) -> Operation[list[StartOutcome]]:
    body = {"jobs": [_start_body(request) for request in requests]}
    found = yield Call("POST", "/jobs/batch", params=_why(reason), json=body)
    return [
        StartOutcome(
            StartState(item["state"]),
            None if item["job"] is None else job_from_record(item["job"]),
            None if item["error"] is None else problem_error(item["error"], 0),
        )
        for item in found["items"]
    ]


def get_job(job_id: UUID | str) -> Operation[Job]:
    return job_from_record((yield Call("GET", f"/jobs/{_id(job_id)}")))


def find_job(job_id: UUID | str) -> Operation[Job | None]:
    try:
        return (yield from get_job(job_id))
    except JobNotFound:
        return None


def query_jobs(
    filter: str | None, orderby: str | None, top: int, skip: int, count: bool
) -> Operation[tuple[list[Job], int | None]]:
    params: dict[str, str] = {"$top": str(top), "$skip": str(skip)}
    if filter:
        params["$filter"] = filter
    if orderby:
        params["$orderby"] = orderby
    if count:
        params["$count"] = "true"
    page = yield Call("GET", "/jobs", params=params)
    found = [job_from_record(record) for record in page["value"]]
    total = page.get("@odata.count")
    while page.get("@odata.nextLink"):
        page = yield Call("GET", page["@odata.nextLink"])
        found.extend(job_from_record(record) for record in page["value"])
    return found, total


def find_jobs(
    status: JobStatus | Iterable[JobStatus] | None,
    job_type: str | None,
    limit: int,
    offset: int,
    housekeeping: bool | None,
) -> Operation[list[Job]]:
    clauses = []
    if status is not None:
        statuses = [status] if isinstance(status, JobStatus) else sorted(status)
        clauses.append(" or ".join(f"statusCode eq {int(s)}" for s in statuses) or "false")
    if job_type is not None:
        clauses.append("jobType eq '" + job_type.replace("'", "''") + "'")
    if wants_housekeeping(housekeeping, job_type):
        clauses.append(_ANY_HOUSEKEEPING)
    filter_text = " and ".join(f"({clause})" for clause in clauses) or None
    jobs, _ = yield from query_jobs(filter_text, None, limit, offset, False)
    return jobs


def jobs_in(group: ApiJobState, limit: int, housekeeping: bool | None) -> Operation[list[Job]]:
    """``pending_jobs``, ``running_jobs``, ``finished_jobs``: an ``api.job`` group."""
    return (yield from find_jobs(QUERY_GROUPS[group], None, limit, 0, housekeeping))


def job_results(job_id: UUID | str) -> Operation[JSONValue]:
    body = yield Call("GET", f"/jobs/{_id(job_id)}/result")
    if body["responseType"] == "Publishlink":
        result: JSONValue = {"publishLink": body["publishLink"], "documents": body["documents"]}
        return result
    value: JSONValue = body["result"]
    return value


def job_events(job_id: UUID | str) -> Operation[list[JobEvent]]:
    found = _id(job_id)
    body = yield Call("GET", f"/jobs/{found}/events")
    return [event_from_record(UUID(found), record) for record in body["value"]]


def user_messages(job_id: UUID | str, after: int) -> Operation[list[JobMessage]]:
    found = _id(job_id)
    body = yield Call("GET", f"/jobs/{found}/messages", params={"after": after})
    return [message_from_record(UUID(found), record) for record in body["value"]]


# -- acting on jobs ------------------------------------------------------------------------


def act_on_job(job_id: UUID | str, action: str, reason: str | None) -> Operation[Job]:
    """``cancel``, ``rerun`` or ``retry-now``."""
    found = yield Call("POST", f"/jobs/{_id(job_id)}/{action}", params=_why(reason))
    return job_from_record(found)


def wait_for_completion(
    job_ids: Sequence[UUID | str], timeout: float | None, poll_interval: float
) -> Operation[list[Job]]:
    wanted = [UUID(_id(job_id)) for job_id in job_ids]
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        found: dict[UUID, Job] = {}
        for start in range(0, len(wanted), _IDS_PER_QUERY):
            chunk = wanted[start : start + _IDS_PER_QUERY]
            ids = " or ".join(f"id eq {job_id}" for job_id in chunk)
            filter_text = f"({ids}) and ({_ANY_HOUSEKEEPING})"
            jobs, _ = yield from query_jobs(filter_text, None, len(chunk), 0, False)
            found.update((job.id, job) for job in jobs)
        missing = [job_id for job_id in wanted if job_id not in found]
        if missing:
            raise JobNotFound(missing[0])
        unfinished = [job_id for job_id in wanted if not found[job_id].is_terminal]
        if not unfinished:
            return [found[job_id] for job_id in wanted]
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimeout(unfinished, timeout or 0.0)
        pause = poll_interval
        if deadline is not None:
            pause = min(pause, deadline - time.monotonic())
        yield Pause(max(pause, 0.0))


# -- workflows -----------------------------------------------------------------------------

WorkflowDocument = WorkflowSpec | Sequence[SpecStep] | Mapping[str, Any]
"""A workflow as the builders make it, a list of steps, or its JSON/YAML document."""
WorkflowRecord = dict[str, Any]
"""A workflow as ``GET /workflows/{id}`` answers it: its steps name their jobs (``job_id``,
``link``), read with ``get_job``."""


def start_workflow(
    workflow: WorkflowDocument,
    name: str | None,
    access_scope: AccessScope | str,
    reason: str | None,
) -> Operation[WorkflowRecord]:
    if isinstance(workflow, WorkflowSpec):
        document: dict[str, Any] = dict(workflow.to_document())
    elif isinstance(workflow, Mapping):
        document = dict(workflow)
    else:
        document = dict(WorkflowSpec(tuple(workflow)).to_document())
    if name is not None:
        document["name"] = name
    scope = access_scope.value if isinstance(access_scope, AccessScope) else access_scope
    body = {**document, "accessScope": str(scope)}
    found: WorkflowRecord = yield Call("POST", "/workflows", params=_why(reason), json=body)
    return found


def get_workflow(workflow_id: UUID | str) -> Operation[WorkflowRecord]:
    found: WorkflowRecord = yield Call("GET", f"/workflows/{_workflow_id(workflow_id)}")
    return found


def find_workflows(
    status: JobStatus | Iterable[JobStatus] | None,
    identity: str | None,
    limit: int,
    before: Mapping[str, Any] | UUID | str | None,
) -> Operation[list[WorkflowRecord]]:
    params: dict[str, Any] = {"limit": limit}
    if status is not None:
        statuses = [status] if isinstance(status, JobStatus) else sorted(status)
        params["status"] = [s.label for s in statuses]
    if identity is not None:
        params["identity"] = identity
    if before is not None:
        last = before["id"] if isinstance(before, Mapping) else before
        params["after"] = _workflow_id(last)
    page = yield Call("GET", "/workflows", params=params)
    found: list[WorkflowRecord] = page["value"]
    return found


def act_on_workflow(
    workflow_id: UUID | str, action: str, reason: str | None, body: Any = None
) -> Operation[WorkflowRecord]:
    """``cancel`` or ``rerun``."""
    path = f"/workflows/{_workflow_id(workflow_id)}/{action}"
    found: WorkflowRecord = yield Call("POST", path, params=_why(reason), json=body)
    return found


# -- job types and schedules ---------------------------------------------------------------


def job_types() -> Operation[list[dict[str, Any]]]:
    body: list[dict[str, Any]] = (yield Call("GET", "/job-types"))["value"]
    return body


def get_job_schedules(job_type: JobTypeRef) -> Operation[list[JobSchedule]]:
    body = yield Call("GET", f"/job-types/{_type_name(job_type)}/schedules")
    return [schedule_from_json(record) for record in body["value"]]


def set_job_schedule(
    job_type: JobTypeRef,
    interval: timedelta | str | None,
    days: Iterable[int] | str | None,
    at: time_of_day | str | None,
    tz: str,
    parameters: Mapping[str, object] | None,
    catch_up: bool,
    reason: str | None,
) -> Operation[list[JobSchedule]]:
    body: dict[str, Any] = {
        "interval": format_duration(interval) if isinstance(interval, timedelta) else interval,
        "days": days if isinstance(days, str) or days is None else ",".join(map(str, days)),
        "at": at.isoformat() if isinstance(at, time_of_day) else at,
        "tz": tz,
        "parameters": dict(parameters or {}),
        "catchUp": catch_up,
    }
    path = f"/job-types/{_type_name(job_type)}/schedules"
    found = yield Call("PUT", path, params=_why(reason), json=body)
    return [schedule_from_json(record) for record in found["value"]]


def clear_job_schedule(job_type: JobTypeRef, reason: str | None) -> Operation[None]:
    yield Call("DELETE", f"/job-types/{_type_name(job_type)}/schedules", params=_why(reason))


# -- the audit trail -----------------------------------------------------------------------


def audit_entries(
    since: datetime | timedelta | str | None, actor: str | None, limit: int
) -> Operation[list[AuditEntry]]:
    params: dict[str, str | int] = {"limit": limit}
    if since is not None:
        params["since"] = since if isinstance(since, str) else since_text(since)
    if actor is not None:
        params["actor"] = actor
    body = yield Call("GET", "/audit", params=params)
    return [audit_from_record(record) for record in body["value"]]


# -- limits and pauses ---------------------------------------------------------------------


def limits(job_type: JobTypeRef | None) -> Operation[list[StoredLimit]]:
    path = "/limits" if job_type is None else f"/job-types/{_type_name(job_type)}/limits"
    return [limit_from_record(record) for record in (yield Call("GET", path))["value"]]


def set_limit(
    job_type: JobTypeRef, limit: Limit | str, reason: str | None
) -> Operation[list[StoredLimit]]:
    body = {"limit": limit.text() if isinstance(limit, Limit) else limit, "reason": reason}
    found = yield Call("PUT", f"/job-types/{_type_name(job_type)}/limits", json=body)
    return [limit_from_record(record) for record in found["value"]]


def clear_limit(
    job_type: JobTypeRef, kind: LimitKind | str, per: str, reason: str | None
) -> Operation[list[StoredLimit]]:
    path = f"/job-types/{_type_name(job_type)}/limits/{_segment(str(kind))}"
    params = {"per": per, **({} if reason is None else {"reason": reason})}
    found = yield Call("DELETE", path, params=params)
    return [limit_from_record(record) for record in found["value"]]


def pauses() -> Operation[list[StoredPause]]:
    return [pause_from_record(record) for record in (yield Call("GET", "/pauses"))["value"]]


def pause(kind: PauseKind | str, target: str, reason: str | None) -> Operation[StoredPause]:
    body = {"kind": str(kind), "target": target, "reason": reason}
    return pause_from_record((yield Call("POST", "/pauses", json=body)))


def resume(kind: PauseKind | str, target: str, reason: str | None) -> Operation[None]:
    path = f"/pauses/{_segment(str(kind))}/{_segment(target)}"
    yield Call("DELETE", path, params={} if reason is None else {"reason": reason})


def job_schema() -> Operation[dict[str, Any]]:
    schema: dict[str, Any] = yield Call("GET", "/schema/job")
    return schema


def readiness() -> Operation[dict[str, str]]:
    """``/ready`` answers 503 with the same report when something is down."""
    try:
        report: dict[str, str] = yield Call("GET", "/ready", problems=False)
    except errors.RemoteUnavailable as exc:
        return {"api": f"unreachable: {exc.__cause__ or exc}"}
    return report


# -- jobs run elsewhere: the runner's side -------------------------------------------------


def claim(job_id: UUID | str, runner: str) -> Operation[Job]:
    found = yield Call("POST", f"/jobs/{_id(job_id)}/claim", json={"runner": runner})
    return job_from_record(found)


def report(
    job_id: UUID | str,
    runner: str,
    percent: float | None,
    status_text: str | None,
    message: str | None,
    level: str,
    attempt: int | None,
) -> Operation[Job]:
    body = {
        "runner": runner,
        "percent": percent,
        "statusText": status_text,
        "message": message,
        "level": level,
        "attempt": attempt,
    }
    return job_from_record((yield Call("POST", f"/jobs/{_id(job_id)}/report", json=body)))


def finish(
    job_id: UUID | str,
    runner: str,
    result: JSONValue,
    error: JobError | str | None,
    retry: bool,
    cancelled: bool,
    attempt: int | None,
) -> Operation[Job]:
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
    return job_from_record((yield Call("POST", f"/jobs/{_id(job_id)}/finish", json=body)))


# -- answers and errors --------------------------------------------------------------------


def problem_error(body: Mapping[str, Any], status: int, reason: str = "") -> JobHubError:
    """The jobhub exception a problem (a response's, or a batch item's) names: its class,
    message and details; a class it does not name falls back by ``status``."""
    detail = str(body.get("detail") or reason or status)
    name = str(body.get("type", "")).rpartition(":")[2]
    kind = getattr(errors, name, None)
    if name == "InvalidFilter":
        return InvalidFilter(detail.rsplit(" at position ", 1)[0], int(body.get("position", 0)))
    if name == "InvalidParameters":
        problems = {e["name"]: e["reason"] for e in body.get("errors", [])}
        item, _, rest = detail.rpartition("invalid parameters for ")  # "item 3: " of a batch
        found = InvalidParameters(rest.split(":", 1)[0], problems)
        found.args = (item + found.message,)
        return found
    if not (isinstance(kind, type) and issubclass(kind, JobHubError)):
        kind = _FALLBACK.get(status, errors.RemoteUnavailable)
    error = kind.__new__(kind)
    JobHubError.__init__(error, detail)
    return error


# -- request pieces ------------------------------------------------------------------------


def _why(reason: str | None) -> dict[str, str]:
    """The ``reason`` query parameter of an acting route, when there is one."""
    return {} if reason is None else {"reason": reason}


def _id(job_id: UUID | str) -> str:
    try:
        return str(job_id if isinstance(job_id, UUID) else UUID(str(job_id)))
    except ValueError:
        raise JobNotFound(str(job_id)) from None


def _workflow_id(workflow_id: UUID | str) -> str:
    try:
        return str(workflow_id if isinstance(workflow_id, UUID) else UUID(str(workflow_id)))
    except ValueError:
        raise WorkflowNotFound(str(workflow_id)) from None


def _segment(text: str) -> str:
    """``text`` quoted for a path segment."""
    return quote(text, safe="")


def _type_name(job_type: JobTypeRef) -> str:
    if isinstance(job_type, str):
        return job_type
    definition = job_type if isinstance(job_type, JobDefinition) else None
    definition = definition or getattr(job_type, "definition", None)
    if isinstance(definition, JobDefinition):
        return definition.name
    raise errors.UnknownJobType(repr(job_type))


def _start_body(request: JobRequest) -> dict[str, Any]:
    """``POST /jobs``'s body for ``request`` (its identity and organization are the key's)."""
    scope = request.access_scope
    body: dict[str, Any] = {
        "type": _type_name(request.job_type),
        "parameters": dict(request.parameters),
        "key": request.key,
        "clientRequestId": request.client_request_id,
        "description": request.description,
        "accessScope": str(scope.value if isinstance(scope, AccessScope) else scope),
    }
    options = {
        "startAt": None if request.start_at is None else request.start_at.isoformat(),
        "delay": None if request.delay is None else request.delay.total_seconds(),
        "queue": request.queue,
        "priority": request.priority,
        "maxAttempts": request.max_attempts,
    }
    # only those given: an API from before start options refuses unknown fields
    body.update((name, value) for name, value in options.items() if value is not None)
    return body
