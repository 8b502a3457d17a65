"""The Jobs list (filtered, sorted, paged by keyset) and bulk actions on its filter.

A viewer or operator lists their own organization's jobs whatever the query string says;
an admin lists every organization's, or one. The page size is fixed and "Next" carries
the last row's cursor, so the thousandth page costs what the first does. A bulk action
first shows how many jobs it would touch, then does it when confirmed (``jobhub.ui.bulk``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response
from starlette.datastructures import FormData

from jobhub.api_keys import Role
from jobhub.audit import check_reason
from jobhub.errors import InvalidInput
from jobhub.queries import Cursor, Page
from jobhub.ui import bulk
from jobhub.ui.auth import Acting, Manager, Signed
from jobhub.ui.bulk import BulkAction
from jobhub.ui.filters import PAGE_SIZE, STATUSES, JobFilter
from jobhub.ui.routing import ui_router
from jobhub.ui.templates import page, redirect

router = ui_router()


async def form_of(request: Request) -> FormData:
    """The posted form, read once (the CSRF check has read it already)."""
    return await request.form()


Form = Annotated[FormData, Depends(form_of)]


@router.get("/jobs")
def jobs_list(request: Request, caller: Signed, manager: Manager) -> Response:
    params = request.query_params
    error = None
    found = Page([], None)
    try:
        chosen = JobFilter.read(params)
        token = params.get("after")
        after = Cursor.decode(token) if token else None
        found = manager.jobs_page(
            chosen.query(organization=caller.organization(chosen.organization), after=after)
        )
    except InvalidInput as problem:
        error, chosen, after = problem.message, JobFilter(), None
    return page(
        request,
        "jobs.html",
        caller,
        status_code=200 if error is None else 400,
        chosen=chosen,
        jobs=found.jobs,
        next_link=None if found.next is None else chosen.link(after=found.next.encode()),
        paged=after is not None,
        statuses=STATUSES,
        job_types=sorted(definition.name for definition in manager.available_job_types()),
        page_size=PAGE_SIZE,
        error=error,
    )


@router.get("/jobs/bulk")
def bulk_confirm(request: Request, caller: Signed, manager: Manager) -> Response:
    caller.require(Role.OPERATOR)
    action = _action(request.query_params.get("action"))
    chosen = JobFilter.read(request.query_params)
    organization = caller.organization(chosen.organization)
    return page(
        request,
        "bulk.html",
        caller,
        action=action,
        chosen=chosen,
        organization=organization,
        count=bulk.count(manager, action, chosen, organization),
        limit=bulk.LIMIT,
        fields=chosen.params(),
    )


@router.post("/jobs/bulk")
def bulk_run(caller: Acting, manager: Manager, form: Form) -> Response:
    caller.require(Role.OPERATOR)
    field = form.get("action")
    action = _action(field if isinstance(field, str) else None)
    chosen = JobFilter.read(form)
    reason = form.get("reason")
    why = check_reason(reason if isinstance(reason, str) else None)
    outcome = bulk.run(
        manager,
        action,
        chosen,
        caller.organization(chosen.organization),
        caller.actor,
        why,
    )
    summary = outcome.summary(action)
    if outcome.stopped:
        return redirect(chosen.link(), error=summary)
    return redirect(chosen.link(), notice=summary)


def _action(value: str | None) -> BulkAction:
    try:
        return BulkAction(value or "")
    except ValueError:
        raise InvalidInput(f"action must be cancel or rerun, not {value!r}") from None
