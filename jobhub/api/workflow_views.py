"""How a workflow is shown: its native JSON record, with each step's job and its link.

A workflow's record names its steps' jobs, not their whole records: a step's job is read
at its own address (``GET /jobs/{id}``, the step's ``link``), so a workflow of many steps
stays small and a job is rendered in one place (``jobhub.formats.schema``). The CLI's
``--json`` output uses the same record, without links (it has no base URL).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Literal
from uuid import UUID

from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from jobhub.formats.schema import StatusLabel
from jobhub.workflows.records import Workflow


class StepRecord(TypedDict):
    """One step: when it may start, and the job that runs it."""

    name: str
    after: list[str]
    policy: Literal["completed", "on_failure", "always"]
    results: str | None
    job_id: str
    job_type: str
    status: StatusLabel
    status_code: int
    status_text: str | None
    link: str | None
    """The step's job (``GET /jobs/{id}``); None where there is no base URL (the CLI)."""


class WorkflowRecord(TypedDict):
    """One workflow as JSON; ``status`` is derived from its steps (Processing until every
    step ended)."""

    id: str
    name: str
    status: StatusLabel
    status_code: int
    identity: str | None
    organization: str
    created_by: str | None
    created_at: str
    updated_at: str
    started_at: str | None
    completed_at: str | None
    cancel_requested: bool
    cancel_requested_at: str | None
    steps: list[StepRecord]


def workflow_record(
    workflow: Workflow, job_link: Callable[[UUID], str] | None = None
) -> WorkflowRecord:
    """The native JSON form of a workflow; ``job_link`` gives a step's job address."""
    started = workflow.started_at
    return {
        "id": str(workflow.id),
        "name": workflow.name,
        "status": workflow.status.label,  # type: ignore[typeddict-item]
        "status_code": int(workflow.status),
        "identity": workflow.identity,
        "organization": workflow.organization,
        "created_by": workflow.created_by,
        "created_at": workflow.created_at.isoformat(),
        "updated_at": workflow.updated_at.isoformat(),
        "started_at": None if started is None else started.isoformat(),
        "completed_at": None
        if workflow.completed_at is None
        else workflow.completed_at.isoformat(),
        "cancel_requested": workflow.cancel_requested_at is not None,
        "cancel_requested_at": None
        if workflow.cancel_requested_at is None
        else workflow.cancel_requested_at.isoformat(),
        "steps": [
            {
                "name": step.name,
                "after": list(step.after),
                "policy": step.policy.value,
                "results": step.results,
                "job_id": str(step.job.id),
                "job_type": step.job.job_type,
                "status": step.status.label,  # type: ignore[typeddict-item]
                "status_code": int(step.status),
                "status_text": step.job.status_text,
                "link": None if job_link is None else job_link(step.job.id),
            }
            for step in workflow.steps
        ],
    }


def workflow_etag(record: WorkflowRecord) -> str:
    """A weak ETag that changes whenever anything shown of the workflow changes."""
    state = json.dumps(record, sort_keys=True).encode()
    return f'W/"{hashlib.blake2b(state, digest_size=12).hexdigest()}"'
