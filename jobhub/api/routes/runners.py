"""``/jobs/{id}/claim | report | finish``: a runner elsewhere working on a job.

For job types declared with ``declare_elsewhere``, whose jobs jobhub never publishes to a
worker. The runner calls with an operator key of the job's organization; the rules are
``jobhub.manager.runners``'. A claim, report or finish the job's state refuses (another
runner holds it, it already ended) is a 409 ``ReportRefused`` problem.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from jobhub.api import responses as doc
from jobhub.api.bodies import Claim, Finish, Report
from jobhub.api.security import Manager, Operator, visible_job
from jobhub.api.views import JobViews, choose
from jobhub.jobs import JobError

router = APIRouter(prefix="/jobs", tags=["runners"])

_REFUSALS = doc.problems(400, 401, 403, 404, 406, 409, 422)


@router.post(
    "/{job_id}/claim",
    summary="Claim a job that runs elsewhere",
    responses={**doc.job("the job, Processing under the runner"), **_REFUSALS},
)
def claim_job(
    job_id: str, body: Claim, request: Request, manager: Manager, caller: Operator
) -> Response:
    """The job becomes Processing with ``runner`` as its worker id; claiming again a job
    the same runner holds returns it. 409 when another runner holds it or it ended; 400
    when its type is run by jobhub's workers."""
    representation = choose(request)
    job = visible_job(manager, caller, job_id)
    job = manager.runners.claim(job.id, body.runner)
    return JobViews(request, manager, caller).one(job, representation)


@router.post(
    "/{job_id}/report",
    summary="Report on a claimed job",
    responses={**doc.job("the job (cancelRequested: stop and finish it)"), **_REFUSALS},
)
def report_job(
    job_id: str, body: Report, request: Request, manager: Manager, caller: Operator
) -> Response:
    """Percent, status text and a message, any of them; every report is also the
    runner's heartbeat (silent past its type's runner timeout, the job counts as lost).
    409 when the runner does not hold the job (not claimed, ended, another runner's)."""
    representation = choose(request)
    job = visible_job(manager, caller, job_id)
    job = manager.runners.report(
        job.id,
        body.runner,
        percent=body.percent,
        status_text=body.status_text,
        message=body.message,
        level=body.level,
        attempt=body.attempt,
    )
    return JobViews(request, manager, caller).one(job, representation)


@router.post(
    "/{job_id}/finish",
    summary="Finish a claimed job",
    responses={**doc.job("the job, ended (or waiting for its next attempt)"), **_REFUSALS},
)
def finish_job(
    job_id: str, body: Finish, request: Request, manager: Manager, caller: Operator
) -> Response:
    """With ``result``: Completed (a large result becomes a document). With ``error``:
    its next attempt, waiting Created for a runner, when its type's retry policy allows,
    else CompletedWithErrors. With ``cancelled``: Cancelled (only once a cancel was
    asked for). 409 when the runner does not hold the job (it already ended, another
    runner's)."""
    representation = choose(request)
    job = visible_job(manager, caller, job_id)
    error = body.error
    job = manager.runners.finish(
        job.id,
        body.runner,
        result=body.result,
        error=None
        if error is None
        else JobError(type=error.type, message=error.message, traceback=error.traceback),
        retry=True if error is None else error.retry,
        cancelled=body.cancelled,
        attempt=body.attempt,
    )
    return JobViews(request, manager, caller).one(job, representation)
