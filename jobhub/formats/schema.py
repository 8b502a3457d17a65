"""The job record as JSON, and its JSON Schema (the ``api.job`` seed's getJobSchema).

``job_record`` is the one place that turns a Job into its native JSON form; the CLI's
``--json`` output and the HTTP API use it. The schema is generated from the TypedDict
by pydantic, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import JsonValue, TypeAdapter
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from jobhub.documents import Document, response_type
from jobhub.formats.vocab import API_JOB_STATUS
from jobhub.jobs import AccessScope, Job, JobError, JobEvent, JobMessage, JobStatus

StatusLabel = Literal[
    "Created", "Queued", "Processing", "Completed", "CompletedWithErrors", "Cancelled"
]
ApiJobStatus = Literal["idle", "pending", "running", "finished", "error"]


class ErrorRecord(TypedDict):
    type: str
    message: str
    traceback: str | None


class DocumentRecord(TypedDict):
    """A stored output of the job; ``link`` is its publish link where one was made."""

    id: str
    name: str
    content_type: str
    size: int
    expires_at: str
    link: str | None


class JobRecord(TypedDict):
    """One job as JSON."""

    id: str
    job_type: str
    category: str
    subcategory: str
    description: str
    parameters: dict[str, JsonValue]
    identity: str | None
    organization: str
    client_request_id: str | None
    key: str | None
    status: StatusLabel
    status_code: int
    api_status: ApiJobStatus
    status_text: str | None
    percent: int
    worker_id: str | None
    attempt: int
    retries: int
    attempt_in_run: int
    """Which attempt of this run (since its start or last rerun) it is on: ``retries + 1``."""
    max_attempts: int
    """Attempts this run may take before it ends CompletedWithErrors."""
    queue: str
    """The broker queue its messages go to."""
    priority: int
    """0 to 9; higher runs first where the broker orders by priority."""
    due_at: str | None
    """While Created: when it starts (a delayed start, or its next attempt after a failure).
    None: it is not waiting for a time."""
    runs_elsewhere: bool
    """Run by an outside runner that claims it and reports on it; never published."""
    result: JsonValue
    error: ErrorRecord | None
    can_cancel: bool
    can_rerun: bool
    cancel_requested: bool
    cancel_requested_at: str | None
    created_at: str
    queued_at: str | None
    started_at: str | None
    updated_at: str
    completed_at: str | None
    purge_at: str
    created_by: str | None
    modified_by: str | None
    access_scope: Literal["Public", "Private", "Organization"]
    housekeeping: bool
    """jobhub's own upkeep (purging, reaping, the outbox); listings leave these out unless
    asked."""
    response_type: Literal["In-line JSON", "Publishlink"] | None
    """In-line JSON: ``result`` holds the output; Publishlink: ``documents`` do."""
    publish_link: str | None
    documents: list[DocumentRecord]
    workflow_id: str | None
    """The workflow this job is a step of (``GET /workflows/{id}``); None for a job of none."""


class EventRecord(TypedDict):
    at: str
    status: StatusLabel
    status_code: int
    attempt: int
    worker_id: str | None
    message: str | None
    error: ErrorRecord | None
    """What ended the attempt, on the event of an attempt that failed."""


class MessageRecord(TypedDict):
    seq: int
    at: str
    attempt: int
    level: str
    text: str


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def job_record(
    job: Job,
    documents: Sequence[Document] = (),
    links: Mapping[UUID, str] | None = None,
) -> JobRecord:
    """The native JSON form of a job, with its documents and their publish links."""
    links = links or {}
    kind = response_type(job, list(documents))
    document_records: list[DocumentRecord] = [
        {
            "id": str(document.id),
            "name": document.name,
            "content_type": document.content_type,
            "size": document.size,
            "expires_at": document.expires_at.isoformat(),
            "link": links.get(document.id),
        }
        for document in documents
    ]
    return {
        "id": str(job.id),
        "job_type": job.job_type,
        "category": job.category,
        "subcategory": job.subcategory,
        "description": job.description,
        "parameters": dict(job.parameters),
        "identity": job.identity,
        "organization": job.organization,
        "client_request_id": job.client_request_id,
        "key": job.key,
        "status": job.status.label,  # type: ignore[typeddict-item]
        "status_code": int(job.status),
        "api_status": API_JOB_STATUS[job.status].value,
        "status_text": job.status_text,
        "percent": job.percent,
        "worker_id": job.worker_id,
        "attempt": job.attempt,
        "retries": job.retries,
        "attempt_in_run": job.attempt_in_run,
        "max_attempts": job.max_attempts,
        "queue": job.queue,
        "priority": job.priority,
        "due_at": _iso(job.due_at),
        "runs_elsewhere": job.runs_elsewhere,
        "result": job.result,
        "error": _error_record(job.error),
        "can_cancel": job.can_cancel,
        "can_rerun": job.can_rerun,
        "cancel_requested": job.cancel_requested,
        "cancel_requested_at": _iso(job.cancel_requested_at),
        "created_at": job.created_at.isoformat(),
        "queued_at": _iso(job.queued_at),
        "started_at": _iso(job.started_at),
        "updated_at": job.updated_at.isoformat(),
        "completed_at": _iso(job.completed_at),
        "purge_at": job.purge_at.isoformat(),
        "created_by": job.created_by,
        "modified_by": job.modified_by,
        "access_scope": job.access_scope.value,
        "housekeeping": job.housekeeping,
        "response_type": None if kind is None else kind.value,
        "publish_link": document_records[0]["link"] if document_records else None,
        "documents": document_records,
        "workflow_id": None if job.workflow_id is None else str(job.workflow_id),
    }


def _error_record(error: JobError | None) -> ErrorRecord | None:
    if error is None:
        return None
    return {"type": error.type, "message": error.message, "traceback": error.traceback}


def event_record(event: JobEvent) -> EventRecord:
    return {
        "at": event.at.isoformat(),
        "status": event.status.label,  # type: ignore[typeddict-item]
        "status_code": int(event.status),
        "attempt": event.attempt,
        "worker_id": event.worker_id,
        "message": event.message,
        "error": _error_record(event.error),
    }


def message_record(message: JobMessage) -> MessageRecord:
    return {
        "seq": message.seq,
        "at": message.at.isoformat(),
        "attempt": message.attempt,
        "level": message.level,
        "text": message.text,
    }


def job_json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of ``job_record``'s output."""
    schema = TypeAdapter(JobRecord).json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "jobhub job"
    return schema


# -- back from JSON (the remote manager reads what the HTTP API wrote) ------------------


def _moment(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _error(record: Mapping[str, Any] | None) -> JobError | None:
    return None if record is None else JobError(**record)


def job_from_record(record: Mapping[str, Any]) -> Job:
    """The Job a native JSON record describes (the inverse of ``job_record``). Fields an
    older API did not send take their defaults."""
    return Job(
        id=UUID(record["id"]),
        job_type=record["job_type"],
        category=record["category"],
        subcategory=record["subcategory"],
        description=record["description"],
        parameters=record["parameters"],
        identity=record["identity"],
        organization=record["organization"],
        client_request_id=record["client_request_id"],
        key=record["key"],
        status=JobStatus(record["status_code"]),
        status_text=record["status_text"],
        percent=record["percent"],
        worker_id=record["worker_id"],
        attempt=record["attempt"],
        result=record["result"],
        error=_error(record.get("error")),
        can_cancel=record["can_cancel"],
        can_rerun=record["can_rerun"],
        cancel_requested_at=_moment(record["cancel_requested_at"]),
        created_at=datetime.fromisoformat(record["created_at"]),
        queued_at=_moment(record["queued_at"]),
        started_at=_moment(record["started_at"]),
        updated_at=datetime.fromisoformat(record["updated_at"]),
        completed_at=_moment(record["completed_at"]),
        purge_at=datetime.fromisoformat(record["purge_at"]),
        created_by=record["created_by"],
        modified_by=record["modified_by"],
        retries=record["retries"],
        access_scope=AccessScope(record["access_scope"]),
        housekeeping=bool(record.get("housekeeping", False)),
        queue=record.get("queue", "jobhub"),
        priority=record.get("priority", 0),
        due_at=_moment(record.get("due_at")),
        max_attempts=record.get("max_attempts", 1),
        runs_elsewhere=bool(record.get("runs_elsewhere", False)),
        workflow_id=None if record.get("workflow_id") is None else UUID(record["workflow_id"]),
    )


def event_from_record(job_id: UUID, record: Mapping[str, Any]) -> JobEvent:
    return JobEvent(
        job_id=job_id,
        at=datetime.fromisoformat(record["at"]),
        status=JobStatus(record["status_code"]),
        attempt=record["attempt"],
        worker_id=record["worker_id"],
        message=record["message"],
        error=_error(record.get("error")),
    )


def message_from_record(job_id: UUID, record: Mapping[str, Any]) -> JobMessage:
    return JobMessage(
        job_id=job_id,
        seq=record["seq"],
        at=datetime.fromisoformat(record["at"]),
        attempt=record["attempt"],
        level=record["level"],
        text=record["text"],
    )
