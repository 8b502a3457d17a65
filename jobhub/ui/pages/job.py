"""One job: its facts and parameters, its live state, its history, its output; cancel, rerun.

The part that changes while the job runs (status, progress, status text, user messages,
the timeline, the output and the buttons that fit) is one fragment, ``job_state.html``:
the page polls ``/live`` for it every second and stops once the fragment says the job
ended. Polling, not server-sent events: any API process answers from the database, no
connection is held open per viewer, and a proxy in between needs nothing special.

Another organization's job is "not found" for a viewer or operator; an admin sees it, but
reads its output only where its access scope allows, as in the HTTP API. Documents are
downloaded through the dashboard (the session signs in, not a bearer key). A workflow's
step names its workflow and step, linked: the steps around it are one click away.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from jobhub.api_keys import Role
from jobhub.clock import utcnow
from jobhub.documents import Document
from jobhub.errors import Conflict, DispatchError, NotFound, PermissionDenied, WorkflowNotFound
from jobhub.jobs import Job, JobStatus
from jobhub.lifecycle import cancel_outcome
from jobhub.manager import JobManager
from jobhub.ui.auth import Acting, Caller, Manager, Signed
from jobhub.ui.routing import ui_router
from jobhub.ui.templates import page, redirect, templates
from jobhub.ui.timeline import attempts, recent_messages
from jobhub.workflows.records import Workflow

router = ui_router()


@router.get("/jobs/{job_id}")
def job_page(job_id: str, request: Request, caller: Signed, manager: Manager) -> Response:
    job = caller.visible(manager.get_job(job_id))
    return page(
        request,
        "job.html",
        caller,
        parameters=_pretty(job.parameters),
        workflow=_workflow_of(manager, job),
        **_state(manager, caller, job),
    )


@router.get("/jobs/{job_id}/live")
def job_live(job_id: str, request: Request, caller: Signed, manager: Manager) -> Response:
    """The changing part of the job page: an HTML fragment, or JSON when asked for."""
    job = caller.visible(manager.get_job(job_id))
    state = _state(manager, caller, job)
    headers = {"Cache-Control": "no-store"}
    if "text/html" not in request.headers.get("accept", ""):
        return JSONResponse(_live_json(job, state), headers=headers)
    return templates.TemplateResponse(
        request,
        "job_state.html",
        {"caller": caller, "csrf": caller.csrf, **state},
        headers=headers,
    )


@router.post("/jobs/{job_id}/cancel")
def cancel(job_id: str, caller: Acting, manager: Manager) -> Response:
    caller.require(Role.OPERATOR)
    job = caller.visible(manager.get_job(job_id))
    here = f"/ui/jobs/{job.id}"
    try:
        done = manager.cancel_job(job.id, actor=caller.actor)
    except Conflict as error:
        return redirect(here, error=f"Not cancelled: {error.message}")
    if done.status is JobStatus.CANCELLED:
        return redirect(here, notice="Cancelled.")
    return redirect(here, notice="Cancel requested: the job stops at its next check.")


@router.post("/jobs/{job_id}/rerun")
def rerun(job_id: str, caller: Acting, manager: Manager) -> Response:
    caller.require(Role.OPERATOR)
    job = caller.visible(manager.get_job(job_id))
    here = f"/ui/jobs/{job.id}"
    try:
        done = manager.rerun_job(job.id, actor=caller.actor)
    except (Conflict, DispatchError) as error:
        return redirect(here, error=f"Not rerun: {error.message}")
    return redirect(here, notice=f"Rerun as attempt {done.attempt}.")


@router.get("/jobs/{job_id}/documents/{document_id}")
def document(job_id: str, document_id: str, caller: Signed, manager: Manager) -> Response:
    job = caller.visible(manager.get_job(job_id))
    gone = NotFound("no such document, or it has expired")
    try:
        found = manager.access.get_document(document_id)
    except NotFound:
        raise gone from None
    if found.job_id != job.id or found.expired(utcnow()):
        raise gone
    refusal = manager.access.output_refusal(caller.principal, job)
    if refusal is not None:
        raise PermissionDenied(f"This document is not yours to read: {refusal}.")
    return Response(
        manager.access.document_content(found),
        media_type=found.content_type,
        headers={
            "Content-Disposition": _attachment(found.name),
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _state(manager: JobManager, caller: Caller, job: Job) -> dict[str, Any]:
    """What ``job_state.html`` shows of ``job`` now."""
    messages, left_out = recent_messages(manager.user_messages(job.id))
    refusal = manager.access.output_refusal(caller.principal, job)
    documents: list[Document] = []
    if refusal is None:
        now = utcnow()
        found = manager.access.job_documents([job.id]).get(job.id, [])
        documents = [document for document in found if not document.expired(now)]
    operator = caller.can(Role.OPERATOR)
    return {
        "job": job,
        "attempts": attempts(manager.job_events(job.id)),
        "messages": messages,
        "messages_left_out": left_out,
        "output_refusal": refusal,
        "result": None if refusal or job.result is None else _pretty(job.result),
        "documents": documents,
        "may_cancel": operator
        and not job.cancel_requested
        and cancel_outcome(job.status, job.can_cancel) is not None,
        "may_rerun": operator and job.can_rerun and job.is_terminal,
    }


def _workflow_of(manager: JobManager, job: Job) -> tuple[Workflow | None, str | None] | None:
    """The workflow a step's job belongs to (None if it is gone) and the step's name, for
    a link back to it; None for a job of no workflow. The job's organization is the
    workflow's, so whoever sees the job may see it."""
    if job.workflow_id is None:
        return None
    try:
        workflow = manager.get_workflow(job.workflow_id)
    except WorkflowNotFound:
        return None, None
    return workflow, next((step.name for step in workflow.steps if step.job.id == job.id), None)


def _live_json(job: Job, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(job.id),
        "status": job.status.label,
        "percent": job.percent,
        "statusText": job.status_text,
        "attempt": job.attempt,
        "cancelRequested": job.cancel_requested,
        "final": job.is_terminal,
        "messages": [
            {"seq": m.seq, "at": m.at.isoformat(), "level": m.level, "text": m.text}
            for m in state["messages"]
        ],
    }


def _pretty(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def _attachment(name: str) -> str:
    """A Content-Disposition that no document name can break out of."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "document"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
