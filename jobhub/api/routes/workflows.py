"""``/workflows``: start workflows (steps that are jobs, with dependencies between them),
read them, cancel them and run their failed steps again.

As for jobs, a caller acts in its own organization only: another organization's workflow
is "not found", never "forbidden"; a workflow runs for the key's identity in the key's
organization, whatever the body says. Each step is a job: its record (``GET
/jobs/{id}``, the step's ``link``) names its workflow (``workflow_id``).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, NotRequired
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from typing_extensions import TypedDict

from jobhub.api import links
from jobhub.api import responses as doc
from jobhub.api.bodies import RerunWorkflow, StartWorkflow, one_reason
from jobhub.api.security import Manager, Operator, Reason, Viewer, actor_of
from jobhub.api.views import not_modified
from jobhub.api.workflow_views import WorkflowRecord, workflow_etag, workflow_record
from jobhub.api_keys import Principal
from jobhub.errors import InvalidInput, WorkflowNotFound
from jobhub.jobs import JobStatus
from jobhub.manager import JobManager
from jobhub.parameters import unstorable_text
from jobhub.workflows.records import Workflow

router = APIRouter(prefix="/workflows", tags=["workflows"])

MAX_PAGE = 1000
"""Workflows one page may hold (``limit``); the manager reads at most this many at once."""

_REASONS = {
    404: "no such workflow in your organization",
    409: "the workflow's state does not allow it",
}


class WorkflowPage(TypedDict):
    """A page of workflows, newest first; ``nextLink`` (absent on the last page) reads the
    next one."""

    value: list[WorkflowRecord]
    nextLink: NotRequired[str]


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The problem responses of a workflow route, in a workflow's words."""
    found = doc.problems(*codes)
    for code, text in _REASONS.items():
        if code in found:
            found[code] = {**found[code], "description": text}
    return found


def _one(description: str, code: int = 200) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": WorkflowRecord, "description": description}}


def visible_workflow(manager: JobManager, caller: Principal, workflow_id: str) -> Workflow:
    """The workflow if it belongs to the caller's organization; WorkflowNotFound otherwise
    (also for an id that is not a UUID)."""
    try:
        wanted = uuid.UUID(workflow_id)
    except ValueError:
        raise WorkflowNotFound(workflow_id) from None
    workflow = manager.get_workflow(wanted)
    if workflow.organization != caller.organization:
        raise WorkflowNotFound(workflow_id)
    return workflow


def _record(request: Request, manager: JobManager, workflow: Workflow) -> WorkflowRecord:
    return workflow_record(workflow, lambda job_id: links.job_url(request, manager, job_id))


def _response(record: WorkflowRecord, status_code: int = 200) -> JSONResponse:
    headers = {"ETag": workflow_etag(record), "Vary": "Authorization"}
    return JSONResponse(dict(record), status_code=status_code, headers=headers)


def workflow_url(request: Request, manager: JobManager, workflow_id: uuid.UUID) -> str:
    return f"{links.base_url(request, manager)}/workflows/{workflow_id}"


@router.post(
    "",
    status_code=201,
    summary="Start a workflow",
    responses={
        **_one("the new workflow, its first steps queued", 201),
        **_problems(400, 401, 403, 404, 422),
    },
)
def start_workflow(
    body: StartWorkflow,
    request: Request,
    manager: Manager,
    caller: Operator,
    reason: Reason = None,
) -> Response:
    """201 with ``Location``. The whole workflow is checked before anything is written:
    400 for a cycle, a dependency on an unknown step, two steps of one name or a bad
    ``results`` parameter; 404 for an unknown job type; 422 naming each bad parameter of
    a step, or a bad field of the body. Its steps that depend on nothing are queued at
    once; the others wait (Created) until the steps they follow ended."""
    workflow = manager.start_workflow(
        body.document(),
        identity=caller.identity,
        organization=caller.organization,
        access_scope=body.access_scope,
        actor=actor_of(caller),
        reason=reason,
    )
    response = _response(_record(request, manager, workflow), 201)
    response.headers["Location"] = workflow_url(request, manager, workflow.id)
    return response


@router.get(
    "",
    summary="List workflows",
    responses={
        200: {"model": WorkflowPage, "description": "a page of workflows, newest first"},
        **_problems(400, 401),
    },
)
def list_workflows(
    request: Request,
    manager: Manager,
    caller: Viewer,
    status: Annotated[
        list[str] | None,
        Query(
            description="only these statuses (a label such as Processing or Completed, or its"
            " code); repeat it, or separate them with commas"
        ),
    ] = None,
    identity: Annotated[str | None, Query(description="only those of this identity")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="at most this many")] = 100,
    after: Annotated[
        str | None,
        Query(description="the last workflow id of the previous page (as in nextLink)"),
    ] = None,
) -> JSONResponse:
    """Your organization's workflows, newest first, a page at a time: follow ``nextLink``
    until it is absent. 400 for an unknown status."""
    statuses: list[JobStatus] = []
    for item in (part.strip() for text in status or [] for part in text.split(",")):
        if item:
            try:
                statuses.append(JobStatus.parse(item))
            except ValueError as exc:
                raise InvalidInput(f"status: {exc}") from None
    if identity is not None and unstorable_text(identity, "identity") is not None:
        raise InvalidInput("identity is not storable text (a NUL character or invalid UTF-8)")
    before = None if after is None else visible_workflow(manager, caller, after)
    found = manager.find_workflows(
        status=statuses or None,
        organization=caller.organization,
        identity=identity,
        limit=min(limit + 1, MAX_PAGE),
        before=before,
    )
    more = len(found) > limit or len(found) == MAX_PAGE
    page = found[:limit]
    body: dict[str, Any] = {"value": [_record(request, manager, w) for w in page]}
    if more and page:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "after"]
        params.append(("after", str(page[-1].id)))
        body["nextLink"] = (
            f"{links.base_url(request, manager)}{request.url.path}?{urlencode(params)}"
        )
    return JSONResponse(body, headers={"Vary": "Authorization"})


@router.get(
    "/{workflow_id}",
    summary="One workflow",
    responses={
        **_one("the workflow with its steps"),
        304: {"description": "unchanged since the ETag given in If-None-Match"},
        **_problems(401, 404),
    },
)
def get_workflow(workflow_id: str, request: Request, manager: Manager, caller: Viewer) -> Response:
    """With a weak ``ETag``; ``If-None-Match`` with it answers 304 while nothing changed."""
    record = _record(request, manager, visible_workflow(manager, caller, workflow_id))
    tag = workflow_etag(record)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return _response(record)


@router.post(
    "/{workflow_id}/cancel",
    summary="Cancel a workflow",
    responses={
        **_one("the workflow, its unended steps Cancelled or asked to stop"),
        **_problems(400, 401, 403, 404, 409),
    },
)
def cancel_workflow(
    workflow_id: str, request: Request, manager: Manager, caller: Operator, reason: Reason = None
) -> Response:
    """Waiting steps end Cancelled at once, queued ones before they run, running ones are
    asked to stop (as ``POST /jobs/{id}/cancel``); it ends Cancelled once they all ended.
    409 when it already ended."""
    workflow = visible_workflow(manager, caller, workflow_id)
    workflow = manager.cancel_workflow(workflow.id, actor=actor_of(caller), reason=reason)
    return _response(_record(request, manager, workflow))


@router.post(
    "/{workflow_id}/rerun",
    summary="Run a workflow's failed steps again",
    responses={
        **_one("the workflow, the step(s) queued again as a new attempt"),
        **_problems(400, 401, 403, 404, 409, 422),
    },
)
def rerun_workflow(
    workflow_id: str,
    request: Request,
    manager: Manager,
    caller: Operator,
    body: RerunWorkflow | None = None,
    reason: Reason = None,
) -> Response:
    """Runs ``step`` again (default: every step that ended without completing while the
    steps it follows Completed) as a new attempt, and re-arms the steps after it that did
    not complete; steps that Completed do not run again. 409 when the step Completed or
    has not ended, or nothing failed; 400 for a step the workflow does not have. The
    reason may be sent in the body or as ``?reason=``."""
    wanted = body or RerunWorkflow.model_validate({})
    why = one_reason(wanted.reason, reason)
    workflow = visible_workflow(manager, caller, workflow_id)
    workflow = manager.rerun_workflow(workflow.id, wanted.step, actor=actor_of(caller), reason=why)
    return _response(_record(request, manager, workflow))
