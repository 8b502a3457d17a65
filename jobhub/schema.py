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
from jobhub.jobs import Job, JobEvent, JobMessage
from jobhub.vocab import API_JOB_STATUS

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
    result: JsonValue
    error: ErrorRecord | None
    can_cancel: bool
    can_rerun: bool
    cancel_requested: bool
    created_at: str
    queued_at: str | None
    started_at: str | None
    updated_at: str
    completed_at: str | None
    purge_at: str
    created_by: str | None
    modified_by: str | None
    access_scope: Literal["Public", "Private", "Organization"]
    response_type: Literal["In-line JSON", "Publishlink"] | None
    """In-line JSON: ``result`` holds the output; Publishlink: ``documents`` do."""
    publish_link: str | None
    documents: list[DocumentRecord]


class EventRecord(TypedDict):
    at: str
    status: StatusLabel
    status_code: int
    attempt: int
    worker_id: str | None
    message: str | None


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
    error: ErrorRecord | None = None
    if job.error is not None:
        error = {
            "type": job.error.type,
            "message": job.error.message,
            "traceback": job.error.traceback,
        }
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
        "result": job.result,
        "error": error,
        "can_cancel": job.can_cancel,
        "can_rerun": job.can_rerun,
        "cancel_requested": job.cancel_requested,
        "created_at": job.created_at.isoformat(),
        "queued_at": _iso(job.queued_at),
        "started_at": _iso(job.started_at),
        "updated_at": job.updated_at.isoformat(),
        "completed_at": _iso(job.completed_at),
        "purge_at": job.purge_at.isoformat(),
        "created_by": job.created_by,
        "modified_by": job.modified_by,
        "access_scope": job.access_scope.value,
        "response_type": None if kind is None else kind.value,
        "publish_link": document_records[0]["link"] if document_records else None,
        "documents": document_records,
    }


def event_record(event: JobEvent) -> EventRecord:
    return {
        "at": event.at.isoformat(),
        "status": event.status.label,  # type: ignore[typeddict-item]
        "status_code": int(event.status),
        "attempt": event.attempt,
        "worker_id": event.worker_id,
        "message": event.message,
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
