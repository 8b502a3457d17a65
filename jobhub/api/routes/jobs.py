"""``/jobs``: start (now or later), query (OData-style), read, follow, cancel, rerun and
start-now jobs."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from jobhub.api import links, paging
from jobhub.api import responses as doc
from jobhub.api.bodies import StartJob, StartJobs
from jobhub.api.problems import problem_body
from jobhub.api.security import (
    Manager,
    Operator,
    Reason,
    Viewer,
    actor_of,
    check_output_access,
    visible_job,
)
from jobhub.api.views import JobViews, choose, etag, not_modified
from jobhub.errors import Conflict
from jobhub.formats.schema import event_record, message_record
from jobhub.jobs import JobStatus, StartState

router = APIRouter(prefix="/jobs", tags=["jobs"])
_NEGOTIATED: dict[str, Any] = {"application/vnd.jobhub.jobstatus+json": {}, "application/xml": {}}

MAX_SEQ = 2**63 - 1


@router.post(
    "",
    status_code=201,
    summary="Start a job",
    responses={
        **doc.job("the new job", 201),
        **doc.job("the job an earlier request with this clientRequestId started"),
        **doc.problems(400, 401, 403, 404, 406, 409, 422),
    },
)
def start_job(
    body: StartJob, request: Request, manager: Manager, caller: Operator, reason: Reason = None
) -> Response:
    """201 with ``Location`` for a new job; 200 with the same job when ``clientRequestId``
    was sent before; 409 when an active job holds ``key``; 404 for an unknown type; 422
    naming each bad parameter or field. With ``startAt`` or ``delay`` it is Created and
    waits until then (``dueAt``); 400 for a start time in the past or more than 366 days
    ahead, or more ``maxAttempts`` than its type's retry policy allows."""
    representation = choose(request)  # a refused Accept must not start anything
    wanted = uuid.uuid4()
    start = body.job_request(caller.identity, caller.organization)
    job = manager.start_job(
        start.job_type,
        start.parameters,
        job_id=wanted,
        actor=actor_of(caller),
        reason=reason,
        **start.options(),
    )
    response = JobViews(request, manager, caller).one(job, representation)
    response.status_code = 201 if job.id == wanted else 200
    response.headers["Location"] = links.job_url(request, manager, job.id)
    return response


@router.post(
    "/batch",
    summary="Start a batch of jobs",
    responses={
        **doc.body(doc.BatchStarted, "what became of each job, in order"),
        **doc.problems(400, 401, 403, 404, 422),
    },
)
def start_jobs(
    body: StartJobs, request: Request, manager: Manager, caller: Operator, reason: Reason = None
) -> JSONResponse:
    """Start up to 10,000 jobs, each as ``POST /jobs`` takes one, with one insert and
    pipelined publishes. Every item is judged first: one bad item starts none (404 or
    422, naming it by its index). Each item's ``state``: ``started``, ``repeated`` (its
    ``clientRequestId`` had its job: that job), ``refused`` (nothing recorded; ``error``
    says why: a held key, or the broker failing before it was asked) or ``pending``
    (recorded; the broker failed while taking it, so the outbox publishes it if its
    message is missing: it runs once either way)."""
    requests = [item.job_request(caller.identity, caller.organization) for item in body.jobs]
    outcomes = manager.start_jobs(requests, actor=actor_of(caller), reason=reason)
    records = iter(JobViews(request, manager, caller).native([o.job for o in outcomes if o.job]))
    items: list[doc.BatchItem] = [
        {
            "index": index,
            "state": outcome.state.value,
            "job": next(records) if outcome.job is not None else None,
            "error": None if outcome.error is None else problem_body(outcome.error),  # type: ignore[typeddict-item]
        }
        for index, outcome in enumerate(outcomes)
    ]
    counts = {state.value: sum(o.state is state for o in outcomes) for state in StartState}
    return JSONResponse({**counts, "items": items})


@router.get(
    "",
    summary="Query jobs",
    responses={
        200: {"model": doc.JobPage, "description": "a page of jobs", "content": _NEGOTIATED},
        **doc.problems(400, 401, 406),
    },
)
def query_jobs(
    request: Request, manager: Manager, caller: Viewer, options: paging.Options
) -> Response:
    """Your organization's jobs, newest first unless ``$orderby`` says otherwise, a page
    at a time: follow ``@odata.nextLink`` until it is absent. Fields and operators are
    listed in the README (HTTP API)."""
    page, envelope = paging.query(request, manager, caller, options)
    return JobViews(request, manager, caller).many(page.jobs, choose(request), envelope)


@router.get(
    "/{job_id}",
    summary="One job",
    responses={
        **doc.job("the job"),
        304: {"description": "unchanged since the ETag given in If-None-Match"},
        **doc.problems(401, 404, 406),
    },
)
def get_job(job_id: str, request: Request, manager: Manager, caller: Viewer) -> Response:
    """With a weak ``ETag``; ``If-None-Match`` with it answers 304 while nothing changed."""
    job = visible_job(manager, caller, job_id)
    tag = etag(job)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return JobViews(request, manager, caller).one(job, choose(request))


@router.get(
    "/{job_id}/messages",
    summary="The messages a job posted for its user",
    responses={**doc.body(doc.MessageList, "in order"), **doc.problems(400, 401, 404)},
)
def job_messages(
    job_id: str,
    manager: Manager,
    caller: Viewer,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ, description="only messages after this seq")] = 0,
) -> dict[str, Any]:
    job = visible_job(manager, caller, job_id)
    return {"value": [message_record(m) for m in manager.user_messages(job.id, after=after)]}


@router.get(
    "/{job_id}/events",
    summary="A job's history of transitions",
    responses={**doc.body(doc.EventList, "oldest first"), **doc.problems(401, 404)},
)
def job_events(job_id: str, manager: Manager, caller: Viewer) -> dict[str, Any]:
    job = visible_job(manager, caller, job_id)
    return {"value": [event_record(event) for event in manager.job_events(job.id)]}


@router.post(
    "/{job_id}/cancel",
    summary="Cancel a job",
    responses={
        **doc.job("the job, Cancelled or asked to stop"),
        **doc.problems(400, 401, 403, 404, 406, 409),
    },
)
def cancel_job(
    job_id: str, request: Request, manager: Manager, caller: Operator, reason: Reason = None
) -> Response:
    """A job not yet running ends Cancelled at once; a running one is asked to stop (409
    when its type cannot be cancelled or it already ended)."""
    representation = choose(request)
    job = visible_job(manager, caller, job_id)
    job = manager.cancel_job(job.id, actor=actor_of(caller), reason=reason)
    return JobViews(request, manager, caller).one(job, representation)


@router.post(
    "/{job_id}/rerun",
    summary="Run an ended job again",
    responses={
        **doc.job("the job, queued as a new attempt"),
        **doc.problems(400, 401, 403, 404, 406, 409),
    },
)
def rerun_job(
    job_id: str, request: Request, manager: Manager, caller: Operator, reason: Reason = None
) -> Response:
    """Queues it again as a new attempt, keeping its history; 409 when it cannot rerun."""
    representation = choose(request)
    job = visible_job(manager, caller, job_id)
    job = manager.rerun_job(job.id, actor=actor_of(caller), reason=reason)
    return JobViews(request, manager, caller).one(job, representation)


@router.post(
    "/{job_id}/retry-now",
    summary="Start now a job that waits for its start time or its next attempt",
    responses={
        **doc.job("the job, published within a moment"),
        **doc.problems(400, 401, 403, 404, 406, 409),
    },
)
def retry_job_now(
    job_id: str, request: Request, manager: Manager, caller: Operator, reason: Reason = None
) -> Response:
    """For a delayed start or a retry waiting out its backoff; 409 when it waits for
    neither (it is queued, running or ended)."""
    representation = choose(request)
    job = visible_job(manager, caller, job_id)
    job = manager.retry_now(job.id, actor=actor_of(caller), reason=reason)
    return JobViews(request, manager, caller).one(job, representation)


@router.get(
    "/{job_id}/result",
    summary="A job's result",
    responses={**doc.body(doc.ResultRecord, "the output"), **doc.problems(401, 403, 404, 409)},
)
def job_result(job_id: str, request: Request, manager: Manager, caller: Viewer) -> Response:
    """``In-line JSON``: the result itself is in ``result``. ``Publishlink``: the result is
    a document; follow ``publishLink`` (or each document's ``link``). 409 until the job
    completed; 403 when its access scope excludes you."""
    job = visible_job(manager, caller, job_id)
    check_output_access(caller, job)
    if job.status is not JobStatus.COMPLETED:
        raise Conflict(f"job {job.id} has no result: it is {job.status.label}")
    record = JobViews(request, manager, caller).native([job])[0]
    body = {
        "jobId": record["id"],
        "responseType": record["response_type"],
        "result": record["result"],
        "publishLink": record["publish_link"],
        "documents": record["documents"],
    }
    return JSONResponse(body)
