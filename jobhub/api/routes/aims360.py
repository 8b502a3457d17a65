"""The AIMS360 background-job API, so that an AIMS360 client works unchanged.

``GET /jobsmanagement/odata/v1.0/backgroundjob`` answers AIMS360's OData view (its field
names in ``$filter`` and in the records, ``@odata.context``, ``@odata.etag``,
``@odata.nextLink``); ``POST /jobsmanagement/v1.0/backgroundjob/{jobID}/rerun`` reruns.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from jobhub import odata, representations
from jobhub.api import links
from jobhub.api.routes.jobs import page_size
from jobhub.api.security import Manager, Operator, Viewer, visible_job
from jobhub.api.views import JobViews, etag
from jobhub.jobs import Job
from jobhub.queries import MAX_LIMIT, MAX_SKIP

router = APIRouter(prefix="/jobsmanagement", tags=["AIMS360"])


@router.get("/odata/v1.0/backgroundjob", summary="AIMS360: query background jobs")
def background_jobs(
    request: Request,
    manager: Manager,
    caller: Viewer,
    filter: Annotated[
        str | None,
        Query(alias="$filter", max_length=2000, description="e.g. jobId eq '{jobID}'"),
    ] = None,
    orderby: Annotated[str | None, Query(alias="$orderby", max_length=500)] = None,
    top: Annotated[int | None, Query(alias="$top", ge=1, le=MAX_LIMIT)] = None,
    skip: Annotated[int, Query(alias="$skip", ge=0, le=MAX_SKIP)] = 0,
    count: Annotated[bool, Query(alias="$count")] = False,
) -> dict[str, Any]:
    size = min(page_size(request), top or MAX_LIMIT)
    page = manager.query_page(
        filter=filter,
        orderby=orderby,
        top=size,
        skip=skip,
        organization=caller.organization,
        count=count,
        fields=odata.AIMS360_FIELDS,
    )
    base = links.base_url(request, manager)
    context = f"{base}/jobsmanagement/odata/v1.0/$metadata#backgroundjob"
    body: dict[str, Any] = {"@odata.context": context}
    if page.total is not None:
        body["@odata.count"] = page.total
    body["value"] = _records(request, manager, caller, page.jobs)
    following = links.next_page(request, manager, skip=skip, size=size, top=top, more=page.more)
    if following is not None:
        body["@odata.nextLink"] = following
    return body


@router.post("/v1.0/backgroundjob/{job_id}/rerun", summary="AIMS360: rerun a job")
def rerun(job_id: str, request: Request, manager: Manager, caller: Operator) -> dict[str, Any]:
    """Only when ``canReRun`` is Yes and the job ended; 409 otherwise."""
    job = manager.rerun_job(visible_job(manager, caller, job_id).id, actor=caller.identity)
    [(shown, documents, found)] = JobViews(request, manager, caller).prepared([job])
    return representations.aims360_rerun(shown, documents=documents, links=found)


def _records(request: Request, manager: Manager, caller: Any, jobs: list[Job]) -> list[Any]:
    return [
        representations.aims360_record(
            job,
            documents=documents,
            links=found,
            etag=etag(job),
            request_url=links.job_url(request, manager, job.id),
        )
        for job, documents, found in JobViews(request, manager, caller).prepared(jobs)
    ]
