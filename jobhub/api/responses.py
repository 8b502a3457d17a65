"""What the routes answer, for the OpenAPI document: bodies and problem responses.

The routes build their responses themselves (content negotiation, ETags), so FastAPI
cannot infer these; declaring them here lets client generators and readers of ``/docs``
see the shapes. The job record's shape is ``jobhub.formats.schema.JobRecord``, the same one
``/schema/job`` serves.
"""

from __future__ import annotations

from typing import Any, NotRequired

from pydantic import JsonValue
from typing_extensions import TypedDict

from jobhub.api.problems import PROBLEM_JSON
from jobhub.formats.schema import DocumentRecord, EventRecord, JobRecord, MessageRecord

_REASONS = {
    400: "bad query or input (a bad $filter names its position)",
    401: "no valid API key",
    403: "the key's role, or the job's access scope, does not allow it",
    404: "no such job, type or document in your organization",
    406: "none of the accepted media types is available",
    409: "the job's state does not allow it",
    422: "invalid body; `errors` names each bad field",
    503: "the database or the broker is unavailable",
}


class Problem(TypedDict):
    """An RFC 9457 problem; ``type`` names the jobhub error class."""

    type: str
    title: str
    status: int
    detail: str
    errors: NotRequired[list[dict[str, str]]]
    position: NotRequired[int]


JobPage = TypedDict(
    "JobPage",
    {
        "@odata.count": NotRequired[int],
        "@odata.nextLink": NotRequired[str],
        "value": list[JobRecord],
    },
)


class BatchItem(TypedDict):
    """What became of one job of a batch (``jobhub.jobs.StartState``)."""

    index: int
    state: str
    job: JobRecord | None
    error: Problem | None


class BatchStarted(TypedDict):
    """``POST /jobs/batch``: how many of each state, and each item in order."""

    started: int
    repeated: int
    pending: int
    refused: int
    items: list[BatchItem]


class MessageList(TypedDict):
    value: list[MessageRecord]


class EventList(TypedDict):
    value: list[EventRecord]


class ResultRecord(TypedDict):
    """A completed job's output: inline, or behind a publish link."""

    jobId: str
    responseType: str | None
    result: JsonValue
    publishLink: str | None
    documents: list[DocumentRecord]


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The problem responses a route can give (503 always)."""
    return {
        code: {
            "description": _REASONS[code],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in (*codes, 503)
    }


def job(description: str, code: int = 200) -> dict[int | str, dict[str, Any]]:
    """A job record, in JSON or (negotiated) JobStatusRepr JSON or XML."""
    return {
        code: {
            "model": JobRecord,
            "description": description,
            "content": {
                "application/vnd.jobhub.jobstatus+json": {},
                "application/xml": {},
            },
        }
    }


def body(model: type, description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "description": description}}


def problem_schema() -> dict[str, Any]:
    """The Problem model's JSON Schema, for the OpenAPI components."""
    from pydantic import TypeAdapter

    return TypeAdapter(Problem).json_schema(ref_template="#/components/schemas/{model}")
