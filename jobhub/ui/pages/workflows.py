"""Workflows: the list (newest first, by status), and one workflow with its steps; cancel it,
rerun a failed step or every failed step.

Built as the job pages are: the part of a workflow's page that changes while it runs
(its status and times, the steps, the buttons that fit) is one fragment,
``workflow_state.html``, polled from ``/live`` until it says the workflow ended. Each
step links to its job's page, where its history and output are. Actions are forms with
the page's CSRF token, need the operator role, and go through the job manager (which
audits them); a refusal (the workflow already ended, nothing failed) is shown on the
page and changes nothing. Another organization's workflow is "not found", as a job is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import QueryParams

from jobhub.api_keys import Role
from jobhub.errors import Conflict, DispatchError, InvalidInput, WorkflowNotFound
from jobhub.jobs import JobStatus
from jobhub.manager import JobManager
from jobhub.ui.auth import Acting, Caller, Manager, Signed
from jobhub.ui.forms import Submitted
from jobhub.ui.routing import ui_router
from jobhub.ui.templates import page, redirect, templates
from jobhub.workflows.records import Workflow

router = ui_router()

PAGE_SIZE = 50
STATUSES = (
    JobStatus.PROCESSING,
    JobStatus.COMPLETED,
    JobStatus.COMPLETED_WITH_ERRORS,
    JobStatus.CANCELLED,
)
"""The statuses a workflow can be in (the filter's checkboxes): it is Processing until
every step ended."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowFilter:
    """What the Workflows list is filtered by, read from the query string."""

    statuses: tuple[JobStatus, ...] = ()
    organization: str | None = None

    @classmethod
    def read(cls, params: QueryParams) -> WorkflowFilter:
        """The filter a query string holds; InvalidInput naming what is wrong."""
        statuses: list[JobStatus] = []
        for value in params.getlist("status"):
            text = value.strip()
            if not text:
                continue
            try:
                status = JobStatus.parse(text)
            except ValueError:
                raise InvalidInput(f"status: unknown status {text!r}") from None
            if status not in STATUSES:
                raise InvalidInput(f"status: no workflow is ever {status.label}")
            if status not in statuses:
                statuses.append(status)
        organization = (params.get("organization") or "").strip() or None
        return cls(statuses=tuple(sorted(statuses)), organization=organization)

    def link(self, **extra: str) -> str:
        """The list's URL with this filter (and ``extra`` fields) as its query string."""
        fields = [("status", status.label) for status in self.statuses]
        if self.organization:
            fields.append(("organization", self.organization))
        query = urlencode([*fields, *extra.items()])
        return f"/ui/workflows?{query}" if query else "/ui/workflows"


@router.get("/workflows")
def workflows_list(request: Request, caller: Signed, manager: Manager) -> Response:
    params = request.query_params
    error = None
    found: list[Workflow] = []
    more = False
    before = params.get("before")
    try:
        chosen = WorkflowFilter.read(params)
        last = None if not before else _visible(caller, manager, before)
        found = manager.find_workflows(
            status=chosen.statuses or None,
            organization=caller.organization(chosen.organization),
            limit=PAGE_SIZE + 1,  # one more than shown: is there a next page?
            before=last,
        )
        more = len(found) > PAGE_SIZE
        found = found[:PAGE_SIZE]
    except InvalidInput as problem:
        error, chosen, before = problem.message, WorkflowFilter(), None
    return page(
        request,
        "workflows.html",
        caller,
        status_code=200 if error is None else 400,
        chosen=chosen,
        workflows=found,
        next_link=chosen.link(before=str(found[-1].id)) if more else None,
        paged=bool(before),
        statuses=STATUSES,
        page_size=PAGE_SIZE,
        error=error,
        ended=_ended,
        breakdown=_breakdown,
    )


@router.get("/workflows/{workflow_id}")
def workflow_page(workflow_id: str, request: Request, caller: Signed, manager: Manager) -> Response:
    workflow = _visible(caller, manager, workflow_id)
    return page(request, "workflow.html", caller, **_state(caller, workflow))


@router.get("/workflows/{workflow_id}/live")
def workflow_live(workflow_id: str, request: Request, caller: Signed, manager: Manager) -> Response:
    """The changing part of the workflow page: an HTML fragment, or JSON when asked for."""
    workflow = _visible(caller, manager, workflow_id)
    headers = {"Cache-Control": "no-store"}
    if "text/html" not in request.headers.get("accept", ""):
        return JSONResponse(_live_json(workflow), headers=headers)
    return templates.TemplateResponse(
        request,
        "workflow_state.html",
        {"caller": caller, "csrf": caller.csrf, **_state(caller, workflow)},
        headers=headers,
    )


@router.post("/workflows/{workflow_id}/cancel")
def cancel(workflow_id: str, caller: Acting, manager: Manager) -> Response:
    caller.require(Role.OPERATOR)
    workflow = _visible(caller, manager, workflow_id)
    here = f"/ui/workflows/{workflow.id}"
    try:
        done = manager.cancel_workflow(workflow.id, actor=caller.actor)
    except Conflict as error:
        return redirect(here, error=f"Not cancelled: {error.message}")
    if done.status is JobStatus.CANCELLED:
        return redirect(here, notice="Workflow cancelled.")
    return redirect(
        here,
        notice="Cancel requested: steps not yet ended are cancelled; running ones stop "
        "at their next check.",
    )


@router.post("/workflows/{workflow_id}/rerun")
def rerun(workflow_id: str, caller: Acting, manager: Manager, form: Submitted) -> Response:
    """Rerun the step the form names (field ``step``), or every failed step without one."""
    caller.require(Role.OPERATOR)
    workflow = _visible(caller, manager, workflow_id)
    here = f"/ui/workflows/{workflow.id}"
    step = form.get("step") or None
    try:
        manager.rerun_workflow(workflow.id, step, actor=caller.actor)
    except (Conflict, DispatchError, InvalidInput) as error:
        return redirect(here, error=f"Not rerun: {error.message}")
    if step is None:
        return redirect(here, notice="The failed steps run again.")
    return redirect(here, notice=f"Step {step!r} runs again.")


def _visible(caller: Caller, manager: JobManager, workflow_id: str) -> Workflow:
    """The workflow by its id if the caller may see it; an id that is not a UUID names no
    workflow (rather than the manager's "no job")."""
    try:
        wanted = uuid.UUID(workflow_id)
    except ValueError:
        raise WorkflowNotFound(workflow_id) from None
    return caller.visible_workflow(manager.get_workflow(wanted))


def _state(caller: Caller, workflow: Workflow) -> dict[str, Any]:
    """What ``workflow_state.html`` shows of ``workflow`` now."""
    operator = caller.can(Role.OPERATOR)
    return {
        "workflow": workflow,
        "steps": workflow.steps,
        "ended": _ended(workflow),
        "may_cancel": operator
        and not workflow.is_terminal
        and workflow.cancel_requested_at is None,
        "may_rerun_failed": operator and bool(workflow.failed_steps()),
        "may_rerun_step": operator,
        "rerunnable": lambda step: workflow.may_rerun(step.name),
    }


def _ended(workflow: Workflow) -> int:
    return sum(step.status.is_terminal for step in workflow.steps)


def _breakdown(workflow: Workflow) -> str:
    """How many steps are in each status, in words ("3 Completed, 1 Processing")."""
    counts = workflow.counts()
    return ", ".join(f"{counts[status]} {status.label}" for status in sorted(counts))


def _live_json(workflow: Workflow) -> dict[str, Any]:
    return {
        "id": str(workflow.id),
        "name": workflow.name,
        "status": workflow.status.label,
        "final": workflow.is_terminal,
        "cancelRequested": workflow.cancel_requested_at is not None,
        "steps": [
            {
                "name": step.name,
                "jobId": str(step.job.id),
                "status": step.status.label,
                "statusText": step.job.status_text,
                "after": list(step.after),
                "policy": step.policy.value,
                "attempt": step.job.attempt,
            }
            for step in workflow.steps
        ],
    }
