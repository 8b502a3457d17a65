"""The AIMS360 background-job API, so that an AIMS360 client works unchanged.

``GET /jobsmanagement/odata/v1.0/backgroundjob`` answers AIMS360's OData view (its field
names in ``$filter`` and in the records, ``@odata.context``, ``@odata.etag``,
``@odata.nextLink``); ``POST /jobsmanagement/v1.0/backgroundjob/{jobID}/rerun`` reruns.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from jobhub import odata
from jobhub.api import links, paging
from jobhub.api import responses as doc
from jobhub.api.security import Manager, Operator, Reason, Viewer, actor_of, visible_job
from jobhub.api.views import JobViews, etag
from jobhub.formats import representations
from jobhub.jobs import Job

router = APIRouter(prefix="/jobsmanagement", tags=["AIMS360"])


@router.get(
    "/odata/v1.0/backgroundjob",
    summary="AIMS360: query background jobs",
    responses=doc.problems(400, 401),
)
def background_jobs(
    request: Request, manager: Manager, caller: Viewer, options: paging.Options
) -> dict[str, Any]:
    """Filter with AIMS360's names: ``jobId eq '{jobID}'``, ``jobStatus eq 'Failed'``."""
    page, envelope = paging.query(request, manager, caller, options, odata.AIMS360_FIELDS)
    base = links.base_url(request, manager)
    context = f"{base}/jobsmanagement/odata/v1.0/$metadata#backgroundjob"
    return {
        "@odata.context": context,
        **{k: v for k, v in envelope.items() if k == "@odata.count"},
        "value": _records(request, manager, caller, page.jobs),
        **{k: v for k, v in envelope.items() if k == "@odata.nextLink"},
    }


@router.post(
    "/v1.0/backgroundjob/{job_id}/rerun",
    summary="AIMS360: rerun a job",
    responses=doc.problems(400, 401, 403, 404, 409),
)
def rerun(
    job_id: str, request: Request, manager: Manager, caller: Operator, reason: Reason = None
) -> dict[str, Any]:
    """Only when ``canReRun`` is Yes and the job ended; 409 otherwise."""
    visible = visible_job(manager, caller, job_id)
    job = manager.rerun_job(visible.id, actor=actor_of(caller), reason=reason)
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
