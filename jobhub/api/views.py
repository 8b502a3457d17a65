"""How a job is shown: content negotiation between the native JSON and JobStatusRepr.

=================================================  =============================
Accept (or ``$format``)                            representation
=================================================  =============================
``application/json`` (default), ``json``           native (``jobhub.formats.schema``)
``application/vnd.jobhub.jobstatus+json``,         JobStatusRepr JSON (numeric
``jobstatus``                                      JobType and Status codes)
``application/xml``, ``text/xml``, ``xml``         JobStatusRepr XML
=================================================  =============================

A job's result and publish links are only shown to callers its access scope admits;
others see the record without them. Views carry a weak ETag of the job's state.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID
from xml.etree import ElementTree

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from jobhub.api import links
from jobhub.api.problems import NotAcceptable
from jobhub.api.security import check_output_access
from jobhub.api_keys import Principal
from jobhub.definitions import find_definition
from jobhub.documents import Document
from jobhub.errors import AccessDenied, InvalidInput, JobNotFound
from jobhub.formats import representations
from jobhub.formats.schema import JobRecord, job_record
from jobhub.jobs import Job
from jobhub.manager import JobManager


class Representation(enum.Enum):
    NATIVE = "application/json"
    JOBSTATUS = "application/vnd.jobhub.jobstatus+json"
    XML = "application/xml"


_FORMATS = {
    "json": Representation.NATIVE,
    "jobstatus": Representation.JOBSTATUS,
    "xml": Representation.XML,
}
_MEDIA = {
    "application/json": Representation.NATIVE,
    "application/*": Representation.NATIVE,
    "*/*": Representation.NATIVE,
    "application/vnd.jobhub.jobstatus+json": Representation.JOBSTATUS,
    "application/xml": Representation.XML,
    "text/xml": Representation.XML,
}


def choose(request: Request) -> Representation:
    """The representation asked for by ``$format``, else by ``Accept`` (with q-values)."""
    wanted = request.query_params.get("$format")
    if wanted is not None:
        chosen = _FORMATS.get(wanted.lower())
        if chosen is None:
            raise InvalidInput("$format must be json, jobstatus or xml")
        return chosen
    accept = request.headers.get("accept", "")
    if not accept.strip():
        return Representation.NATIVE
    ranked: list[tuple[float, int, Representation]] = []
    for order, item in enumerate(accept.split(",")):
        media, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        representation = _MEDIA.get(media.strip().lower())
        if representation is not None and quality > 0:
            ranked.append((-quality, order, representation))
    if not ranked:
        raise NotAcceptable(
            "acceptable: application/json, application/vnd.jobhub.jobstatus+json, application/xml"
        )
    return min(ranked, key=lambda entry: entry[:2])[2]


class JobViews:
    """Renders jobs for one request: loads their documents at once, signs their links."""

    def __init__(self, request: Request, manager: JobManager, caller: Principal | None) -> None:
        self.request = request
        self.manager = manager
        self.caller = caller

    def _readable(self, job: Job) -> bool:
        try:
            check_output_access(self.caller, job)
        except (AccessDenied, JobNotFound):
            return False
        return True

    def prepared(self, jobs: Sequence[Job]) -> list[tuple[Job, list[Document], dict[UUID, str]]]:
        """Each job (its result hidden when the caller may not read it), documents, links."""
        documents = self.manager.access.job_documents(
            job.id for job in jobs if job.may_have_documents
        )
        prepared = []
        for job in jobs:
            own = documents.get(job.id, [])
            if self._readable(job):
                prepared.append((job, own, links.publish_links(self.request, self.manager, own)))
            else:
                prepared.append((dataclasses.replace(job, result=None), own, {}))
        return prepared

    def native(self, jobs: Sequence[Job]) -> list[JobRecord]:
        return [job_record(job, docs, found) for job, docs, found in self.prepared(jobs)]

    def jobstatus(self, jobs: Sequence[Job]) -> list[dict[str, Any]]:
        return [
            representations.jobstatus_json(
                job,
                address=links.job_url(self.request, self.manager, job.id),
                type_code=_type_code(job),
                documents=docs,
                links=found,
            )
            for job, docs, found in self.prepared(jobs)
        ]

    def xml(self, jobs: Sequence[Job]) -> list[ElementTree.Element]:
        return [
            representations.jobstatus_element(
                job,
                address=links.job_url(self.request, self.manager, job.id),
                documents=docs,
                links=found,
            )
            for job, docs, found in self.prepared(jobs)
        ]

    def one(self, job: Job, representation: Representation) -> Response:
        """A single job in the chosen representation, with its ETag."""
        headers = {"ETag": etag(job), "Vary": "Accept, Authorization"}
        if representation is Representation.XML:
            [(shown, docs, found)] = self.prepared([job])
            xml = representations.jobstatus_xml(
                shown,
                address=links.job_url(self.request, self.manager, job.id),
                documents=docs,
                links=found,
            )
            return Response(xml, media_type="application/xml", headers=headers)
        body: Any = (
            self.native([job])[0]
            if representation is Representation.NATIVE
            else self.jobstatus([job])[0]
        )
        return JSONResponse(body, media_type=representation.value, headers=headers)

    def many(
        self, jobs: Sequence[Job], representation: Representation, envelope: dict[str, Any]
    ) -> Response:
        """A page of jobs: ``value`` plus the OData envelope (count, next link)."""
        if representation is Representation.XML:
            body = representations.jobstatus_list_xml(
                self.xml(jobs),
                count=envelope.get("@odata.count"),
                next_link=envelope.get("@odata.nextLink"),
            )
            return Response(body, media_type="application/xml", headers={"Vary": "Accept"})
        value: Any = (
            self.native(jobs) if representation is Representation.NATIVE else self.jobstatus(jobs)
        )
        return JSONResponse(
            {**envelope, "value": value},
            media_type=representation.value,
            headers={"Vary": "Accept"},
        )


def etag(job: Job) -> str:
    """A weak ETag that changes whenever anything shown of the job changes."""
    state = json.dumps(job_record(job), sort_keys=True, default=str).encode()
    return f'W/"{hashlib.blake2b(state, digest_size=12).hexdigest()}"'


def not_modified(request: Request, tag: str) -> bool:
    """Whether ``If-None-Match`` already names ``tag`` (weak comparison)."""
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    if header.strip() == "*":
        return True
    wanted = {item.strip().removeprefix("W/") for item in header.split(",")}
    return tag.removeprefix("W/") in wanted


def _type_code(job: Job) -> int:
    definition = find_definition(job.job_type)
    return 0 if definition is None else definition.type_code
