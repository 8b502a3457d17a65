"""A job in other systems' shapes: JobStatusRepr (XML and JSON) and AIMS360's backgroundjob.

These are the foreign representations, kept together so that each field mapping lives in one
place; jobhub's own JSON is ``jobhub.formats.schema.job_record``. Everything here is pure: a Job,
its documents and their publish links go in, a dict or bytes come out. The caller supplies
the addresses (job URI, links, request URL) because only the HTTP edge knows its base URL.
A document without a link (the caller may not read the job's output) is listed without one.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET  # builds only; nothing here parses untrusted XML
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import Any
from uuid import UUID

from jobhub.documents import Document, ResponseType, response_type
from jobhub.formats.vocab import AIMS360_STATUS
from jobhub.jobs import AccessScope, Job, JobStatus, JSONValue

AIMS360_SCOPE: Mapping[AccessScope, str] = MappingProxyType(
    {
        AccessScope.PUBLIC: "Public",
        AccessScope.PRIVATE: "Private",
        AccessScope.ORGANIZATION: "PeopleInOrganization",
    }
)
"""AIMS360 ``publishLinkAccessScope`` for each access scope."""

_BYTES_PER_MB = 1024 * 1024
_ENCODE = {"%": "%25", ";": "%3B", "=": "%3D"}
_ENCODED = re.compile("[%;=]")
_DECODED = re.compile("%(25|3B|3D)", re.IGNORECASE)
_DECODE = {"25": "%", "3B": ";", "3D": "="}
# Everything outside XML 1.0's Char production: C0 controls but tab, LF and CR, lone
# surrogates, U+FFFE and U+FFFF.
_NOT_XML = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# -- parameters list -------------------------------------------------------------------


def _encode(text: str) -> str:
    return _ENCODED.sub(lambda match: _ENCODE[match.group()], text)


def _decode(text: str) -> str:
    return _DECODED.sub(lambda match: _DECODE[match.group(1).upper()], text)


def _parameter_value(value: JSONValue) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def parameters_text(parameters: Mapping[str, JSONValue]) -> str:
    """JobStatusRepr's parameters list, ``name=value;name2=value2``, in the mapping's order.

    A string is written as is, any other value as compact JSON; ``%``, ``;`` and ``=`` are
    percent-encoded in names and values so that ``parse_parameters_text`` splits it back.
    """
    return ";".join(
        f"{_encode(name)}={_encode(_parameter_value(value))}" for name, value in parameters.items()
    )


def parse_parameters_text(text: str) -> dict[str, str]:
    """The inverse of ``parameters_text``: each name and its value as written, decoded.

    Empty items (a trailing ``;``) are skipped; an item without ``=`` or a name given twice
    raises ValueError.
    """
    parameters: dict[str, str] = {}
    for item in text.split(";"):
        if not item:
            continue
        name, separator, value = item.partition("=")
        if not separator:
            raise ValueError(f"parameter {item!r} has no '='")
        key = _decode(name)
        if key in parameters:
            raise ValueError(f"parameter {key!r} is given twice")
        parameters[key] = _decode(value)
    return parameters


# -- JobStatusRepr ---------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _status_message(job: Job) -> str | None:
    """The status text; for a failed job without one, its error message."""
    if (
        job.status_text is None
        and job.status is JobStatus.COMPLETED_WITH_ERRORS
        and job.error is not None
    ):
        return job.error.message
    return job.status_text


def jobstatus_json(
    job: Job,
    *,
    address: str,
    type_code: int,
    documents: Sequence[Document],
    links: Mapping[UUID, str],
) -> dict[str, Any]:
    """JobStatusRepr as JSON; ``TypeName`` is added because ``JobType`` is only a code,
    and ``Due`` while the job waits for its start time or its next attempt.

    ``address`` is the job's resource URI, ``links`` each document's publish link.
    """
    record: dict[str, Any] = {
        "Id": str(job.id),
        "Address": address,
        "Identity": job.identity,
        "WorkerId": job.worker_id,
        "StatusMessage": _status_message(job),
        "Created": job.created_at.isoformat(),
        "Updated": job.updated_at.isoformat(),
        "Completed": _iso(job.completed_at),
        "Progress": {"PercentComplete": job.percent, "StatusText": job.status_text},
        "JobData": [
            {
                "Id": str(document.id),
                "Name": document.name,
                "ContentType": document.content_type,
                "Size": document.size,
                "Address": links.get(document.id),
                "Expires": document.expires_at.isoformat(),
            }
            for document in documents
        ],
        "JobType": type_code,
        "TypeName": job.job_type,
        "Status": int(job.status),
        "Parameters": parameters_text(job.parameters),
    }
    if job.waiting:
        record["Due"] = _iso(job.due_at)
    if job.held:
        record["Held"] = True  # a pause or a limit holds it; StatusText says which
    return record


def _xml(text: str) -> str:
    """``text`` with every character XML 1.0 cannot carry replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def jobstatus_xml(
    job: Job,
    *,
    address: str,
    documents: Sequence[Document],
    links: Mapping[UUID, str],
) -> bytes:
    """JobStatusRepr as an XML document (UTF-8, with its declaration)."""
    root = jobstatus_element(job, address=address, documents=documents, links=links)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def jobstatus_list_xml(
    elements: Sequence[ET.Element], *, count: int | None, next_link: str | None
) -> bytes:
    """A page of ``JobStatus`` elements under ``<JobStatusList>`` (with the total when
    counted and the next page's address when there is one)."""
    root = ET.Element("JobStatusList")
    if count is not None:
        root.set("Count", str(count))
    if next_link is not None:
        root.set("NextLink", _xml(next_link))
    root.extend(elements)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def jobstatus_element(
    job: Job,
    *,
    address: str,
    documents: Sequence[Document],
    links: Mapping[UUID, str],
) -> ET.Element:
    """The ``<JobStatus>`` element of JobStatusRepr.

    The root carries ``StatusCode`` (the JSON ``Status``) beside the seed's attributes,
    and a job waiting for its start time or its next attempt has a ``Due`` element after
    ``Completed``. Elements without a value are left out, but ``Parameters`` and
    ``JobData`` are always there.
    """
    root = ET.Element(
        "JobStatus",
        {
            "Type": _xml(job.job_type),
            "Status": job.status.label,
            "Address": _xml(address),
            "StatusCode": str(int(job.status)),
        },
    )
    ET.SubElement(root, "Parameters").text = _xml(parameters_text(job.parameters))
    children = (
        ("Id", str(job.id)),
        ("Identity", job.identity),
        ("WorkerId", job.worker_id),
        ("StatusMessage", _status_message(job)),
        ("Created", job.created_at.isoformat()),
        ("Updated", job.updated_at.isoformat()),
        ("Completed", _iso(job.completed_at)),
        ("Due", _iso(job.due_at) if job.waiting else None),
        ("Held", "true" if job.held else None),
    )
    for tag, value in children:
        if value is not None:
            ET.SubElement(root, tag).text = _xml(value)
    progress = ET.SubElement(root, "Progress", {"PercentComplete": str(job.percent)})
    if job.status_text is not None:
        progress.text = _xml(job.status_text)
    data = ET.SubElement(root, "JobData")
    for document in documents:
        ET.SubElement(
            data,
            "JobData",
            {
                "Id": str(document.id),
                "Name": _xml(document.name),
                "ContentType": _xml(document.content_type),
                "Size": str(document.size),
                **({"Address": _xml(links[document.id])} if document.id in links else {}),
                "Expires": document.expires_at.isoformat(),
            },
        )
    return root


# -- AIMS360 ---------------------------------------------------------------------------


def _aims_date(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z``, as AIMS360 writes it; a naive value is left as is."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    text = value.isoformat()
    return text[: -len("+00:00")] + "Z" if text.endswith("+00:00") else text


def _aims_status_text(job: Job) -> str | None:
    if job.status_text is None and job.status is JobStatus.CANCELLED:
        return "Cancelled"
    return _status_message(job)


def _publish_link(documents: Sequence[Document], links: Mapping[UUID, str]) -> str | None:
    return links.get(documents[0].id) if documents else None


def _aims_document(document: Document, link: str | None) -> dict[str, Any]:
    return {
        "DocumentID": str(document.id),
        "documentName": document.name,
        "DownloadLink": link,
        "SizeInMB": document.size / _BYTES_PER_MB,
        "Type": PurePosixPath(document.name).suffix,
        "ExpiryDate": _aims_date(document.expires_at),
        "Version": "1.0",
    }


def _aims_response(
    job: Job, kind: ResponseType | None, documents: Sequence[Document], links: Mapping[UUID, str]
) -> str | None:
    """AIMS360 ``response``: a JSON string, the documents or the inline result."""
    if kind is ResponseType.PUBLISH_LINK:
        entries = [_aims_document(document, links.get(document.id)) for document in documents]
        return json.dumps(entries, separators=(",", ":"))
    if kind is ResponseType.INLINE and job.status is JobStatus.COMPLETED:
        return json.dumps(job.result, separators=(",", ":"))
    return None


def aims360_record(
    job: Job,
    *,
    documents: Sequence[Document],
    links: Mapping[UUID, str],
    etag: str,
    request_url: str,
) -> dict[str, Any]:
    """One AIMS360 ``backgroundjob`` as its OData query returns it.

    ``response`` is a string holding JSON, as in AIMS360: the document list for a
    Publishlink job, the result for a completed inline one, otherwise None.
    """
    kind = response_type(job, list(documents))
    return {
        "@odata.etag": etag,
        "jobID": str(job.id),
        "categoryName": job.category,
        "subCategoryName": job.subcategory,
        "jobDescription": job.description,
        "clientID": job.organization,
        "DatabaseName": None,
        "accountCode": job.organization,
        "clientRequestId": job.client_request_id,
        "jobStatus": AIMS360_STATUS[job.status],
        "jobStatusText": _aims_status_text(job),
        "percentCompleted": job.percent,
        "responseType": None if kind is None else kind.value,
        "publishLink": _publish_link(documents, links),
        "publishLinkAccessScope": AIMS360_SCOPE[job.access_scope],
        "response": _aims_response(job, kind, documents, links),
        "requestURL": request_url,
        "startDate": _aims_date(job.started_at),
        "completedDate": _aims_date(job.completed_at),
        "purgeDateTime": _aims_date(job.purge_at),
        "canReRun": "Yes" if job.can_rerun else "No",
        "createdBy": job.created_by,
        "createdDate": _aims_date(job.created_at),
        "modifiedBy": job.modified_by,
        "modifiedDate": _aims_date(job.updated_at),
    }


def aims360_rerun(
    job: Job, *, documents: Sequence[Document], links: Mapping[UUID, str]
) -> dict[str, Any]:
    """AIMS360's answer to ``POST backgroundjob/{jobID}/rerun``, for the job rerun starts."""
    return {
        "jobId": str(job.id),
        "jobStatus": AIMS360_STATUS[job.status],
        "publishLink": _publish_link(documents, links),
        "publishLinkAccessScope": AIMS360_SCOPE[job.access_scope],
    }
