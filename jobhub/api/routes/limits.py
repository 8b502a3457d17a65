"""``/limits`` and ``/job-types/{name}/limits``: how many of a type may run at once or
start per period, on every host together. Any key reads them; changing them needs the
admin role, takes effect at once on every host and is recorded in the audit trail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from typing_extensions import TypedDict

from jobhub.api import responses as doc
from jobhub.api.bodies import SetLimit, one_reason
from jobhub.api.security import Admin, Manager, Reason, Viewer, actor_of
from jobhub.formats.gates import LimitRecord, limit_record

router = APIRouter(tags=["limits and pauses"])

PER_PATTERN = r"^([A-Za-z_][A-Za-z0-9_]{0,99})?$"
"""What a limit's key can be (``jobhub.limits``): a parameter name or ``organization``."""


class LimitList(TypedDict):
    value: list[LimitRecord]


@router.get(
    "/limits",
    summary="Every job type's limits",
    responses={**doc.body(LimitList, "by job type, kind and key"), **doc.problems(401)},
)
def all_limits(manager: Manager, caller: Viewer) -> dict[str, Any]:
    """The limits in force on every host: those the types declare (``@job(concurrency=2,
    limits=[...])``, as the workers last synced them) and those operators set. A declared
    limit an operator lifted is listed with ``limit`` null until it is set again."""
    return {"value": [limit_record(limit) for limit in manager.limits()]}


@router.get(
    "/job-types/{name}/limits",
    summary="A job type's limits",
    responses={**doc.body(LimitList, "by kind and key"), **doc.problems(401, 404)},
)
def type_limits(name: str, manager: Manager, caller: Viewer) -> dict[str, Any]:
    """404 for an unknown type; an empty list for a type without limits."""
    return {"value": [limit_record(limit) for limit in manager.limits(name)]}


@router.put(
    "/job-types/{name}/limits",
    summary="Set a limit of a job type",
    responses={
        **doc.body(LimitList, "the type's limits, the new one among them"),
        **doc.problems(400, 401, 403, 404, 422),
    },
)
def set_limit(
    name: str, body: SetLimit, manager: Manager, caller: Admin, reason: Reason = None
) -> dict[str, Any]:
    """Replaces the type's limit of the same kind and key (a type has one concurrency
    limit and one rate limit per key); jobs held by the old one start as the new one
    allows, within about a second. 400 for a limit that does not read (``0``, ``-1``,
    ``5/fortnight``) or a key that is neither ``organization`` nor a parameter of the
    type; 404 for an unknown type. Bad input changes nothing. The reason may be sent in
    the body or as ``?reason=``."""
    actor = actor_of(caller)
    why = one_reason(body.reason, reason)
    limits = manager.set_limit(name, body.limit, actor=actor, reason=why)
    return {"value": [limit_record(limit) for limit in limits]}


@router.delete(
    "/job-types/{name}/limits/{kind}",
    summary="Lift a limit of a job type",
    responses={
        **doc.body(LimitList, "the type's limits left"),
        **doc.problems(400, 401, 403, 404),
    },
)
def clear_limit(
    name: str,
    kind: Annotated[str, Path(description="`concurrency` or `rate`", examples=["concurrency"])],
    manager: Manager,
    caller: Admin,
    per: Annotated[
        str,
        Query(
            pattern=PER_PATTERN,
            description="the limit's key, a parameter or `organization` (none: the type's"
            " overall limit)",
        ),
    ] = "",
    reason: Reason = None,
) -> dict[str, Any]:
    """Lifts the type's ``kind`` limit for the key ``per``; its held jobs start within
    about a second. A limit the type declares stays lifted, across worker restarts, until
    it is set again. 404 when the type has no such limit; 400 for a kind that is neither
    ``concurrency`` nor ``rate``."""
    actor = actor_of(caller)
    limits = manager.clear_limit(name, kind, per, actor=actor, reason=reason)
    return {"value": [limit_record(limit) for limit in limits]}
