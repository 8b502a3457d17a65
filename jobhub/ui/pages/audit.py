"""The audit trail: who did what (start, cancel, rerun, pauses, limits, schedules, keys),
newest first, filtered by a period and an identity.

Admins only, as ``GET /audit`` in the HTTP API. Where the API shows an admin its own
organization's trail, the dashboard lets an admin look across organizations (every one
by default, or the one asked for), as it does for jobs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from jobhub.api_keys import Role
from jobhub.ui.auth import Manager, Signed
from jobhub.ui.routing import ui_router
from jobhub.ui.templates import page

router = ui_router()

LIMITS = (100, 500, 1000)


@router.get("/audit")
def audit(
    request: Request,
    caller: Signed,
    manager: Manager,
    since: Annotated[str, Query(max_length=100)] = "",
    actor: Annotated[str, Query(max_length=200)] = "",
    organization: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=LIMITS[-1])] = LIMITS[0],
) -> Response:
    caller.require(Role.ADMIN)
    entries = manager.audit_entries(
        since=since.strip() or None,
        actor=actor.strip() or None,
        organization=caller.organization(organization.strip()),
        limit=limit,
    )
    return page(
        request,
        "audit.html",
        caller,
        entries=entries,
        since=since,
        actor=actor,
        organization=organization,
        limit=limit,
        limits=LIMITS,
    )
