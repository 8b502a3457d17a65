"""The names a ``$filter`` or ``$orderby`` may use, and the ``jobs`` column behind each."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from types import MappingProxyType


class FieldKind(enum.StrEnum):
    """What literals a field compares with."""

    GUID = "guid"
    TEXT = "text"
    """Also the only kind ``contains`` and ``startswith`` take."""
    NUMBER = "number"
    DATETIME = "datetime"
    STATUS = "status"
    """A status label (``'Completed'``) or its numeric code, compared as the code."""
    AIMS360_STATUS = "aims360 status"
    """An AIMS360 jobStatus (Queued, Inprogress, Completed, Failed); eq and ne only."""
    BOOLEAN = "boolean"
    """``true`` or ``false``; eq and ne only."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    """A name callers may filter and order by, and the ``jobs`` column behind it."""

    name: str
    column: str
    kind: FieldKind


def _fields(*entries: tuple[str, str, FieldKind]) -> MappingProxyType[str, Field]:
    return MappingProxyType(
        {name: Field(name=name, column=column, kind=kind) for name, column, kind in entries}
    )


_K = FieldKind
FIELDS = _fields(
    ("id", "id", _K.GUID),
    ("jobType", "job_type", _K.TEXT),
    ("type", "job_type", _K.TEXT),
    ("category", "category", _K.TEXT),
    ("subcategory", "subcategory", _K.TEXT),
    ("description", "description", _K.TEXT),
    ("status", "status", _K.STATUS),
    ("statusCode", "status", _K.NUMBER),
    ("percent", "percent", _K.NUMBER),
    ("organization", "organization", _K.TEXT),
    ("identity", "identity", _K.TEXT),
    ("key", "concurrency_key", _K.TEXT),
    ("clientRequestId", "client_request_id", _K.TEXT),
    ("workerId", "worker_id", _K.TEXT),
    ("attempt", "attempt", _K.NUMBER),
    ("retries", "retries", _K.NUMBER),
    ("maxAttempts", "max_attempts", _K.NUMBER),
    ("queue", "queue", _K.TEXT),
    ("priority", "priority", _K.NUMBER),
    ("dueAt", "due_at", _K.DATETIME),
    ("createdAt", "created_at", _K.DATETIME),
    ("queuedAt", "queued_at", _K.DATETIME),
    ("startedAt", "started_at", _K.DATETIME),
    ("updatedAt", "updated_at", _K.DATETIME),
    ("completedAt", "completed_at", _K.DATETIME),
    ("purgeAt", "purge_at", _K.DATETIME),
    ("housekeeping", "housekeeping", _K.BOOLEAN),
)
"""The documented $filter/$orderby names (public API names, case-sensitive).

A filter that does not mention ``housekeeping`` lists no housekeeping jobs
(``jobhub.odata.implied``)."""


def _aims360_fields(*entries: tuple[str, str]) -> MappingProxyType[str, Field]:
    fields = {name: FIELDS[native] for name, native in entries}
    fields["jobStatus"] = Field(name="status", column="status", kind=FieldKind.AIMS360_STATUS)
    return MappingProxyType(fields)


AIMS360_FIELDS = _aims360_fields(
    ("jobId", "id"),
    ("jobID", "id"),
    ("categoryName", "category"),
    ("subCategoryName", "subcategory"),
    ("jobDescription", "description"),
    ("clientID", "organization"),
    ("accountCode", "organization"),
    ("clientRequestId", "clientRequestId"),
    ("percentCompleted", "percent"),
    ("createdBy", "identity"),
    ("createdDate", "createdAt"),
    ("modifiedDate", "updatedAt"),
    ("startDate", "startedAt"),
    ("completedDate", "completedAt"),
    ("purgeDateTime", "purgeAt"),
    ("housekeeping", "housekeeping"),
)
"""The AIMS360 backgroundjob names, for its OData view; each stands for a native field.
``housekeeping`` is jobhub's own, so the view can list housekeeping jobs on request."""
