"""``/audit``: the audit trail of the caller's organization (admin keys only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from typing_extensions import TypedDict

from jobhub.api import responses as doc
from jobhub.api.security import Admin, Manager
from jobhub.audit import MAX_ENTRIES
from jobhub.formats.audit_records import AuditRecord, audit_record


class AuditList(TypedDict):
    value: list[AuditRecord]


router = APIRouter(tags=["audit"])


@router.get(
    "/audit",
    summary="Who did what: the audit trail of your organization",
    responses={**doc.body(AuditList, "newest first"), **doc.problems(400, 401, 403)},
)
def audit_trail(
    manager: Manager,
    caller: Admin,
    since: Annotated[
        str | None,
        Query(
            description="Only entries from then on: a duration back from now (90m, 1h, 7d) "
            "or an ISO 8601 time with its zone (2026-12-01T09:00:00Z)."
        ),
    ] = None,
    actor: Annotated[
        str | None, Query(description="Only this identity's actions (a key's identity).")
    ] = None,
    limit: Annotated[
        int, Query(description=f"At most this many entries, 1 to {MAX_ENTRIES}.")
    ] = 100,
) -> dict[str, Any]:
    """The operator actions done with keys of your organization (start, cancel, rerun,
    start now, schedule changes, ...), newest first: when, who (identity and key id),
    what (action, target, details) and why (``reason``). Another organization's actions
    are never shown; those of local users (the CLI) only through ``jobhub audit``. 400
    for a malformed ``since`` or a ``limit`` out of range."""
    entries = manager.audit_entries(
        since=since, actor=actor, organization=caller.organization, limit=limit
    )
    return {"value": [audit_record(entry) for entry in entries]}
