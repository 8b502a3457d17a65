"""``/pauses``: queues, job types and schedules paused on every host until resumed. Any
key reads them; pausing and resuming need the admin role and are recorded in the audit
trail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from typing_extensions import TypedDict

from jobhub.api import responses as doc
from jobhub.api.bodies import PauseTarget, one_reason
from jobhub.api.security import Admin, Manager, Reason, Viewer, actor_of
from jobhub.formats.gates import PauseRecord, pause_record

router = APIRouter(prefix="/pauses", tags=["limits and pauses"])


class PauseList(TypedDict):
    value: list[PauseRecord]


@router.get(
    "",
    summary="What is paused",
    responses={**doc.body(PauseList, "by kind and target"), **doc.problems(401)},
)
def pauses(manager: Manager, caller: Viewer) -> dict[str, Any]:
    """Every paused queue, job type and schedule, with who paused it, when and why."""
    return {"value": [pause_record(pause) for pause in manager.pauses()]}


@router.post(
    "",
    status_code=201,
    summary="Pause a queue, a job type or a schedule",
    responses={
        201: {"model": PauseRecord, "description": "the pause"},
        **doc.problems(400, 401, 403, 404, 409, 422),
    },
)
def pause(
    body: PauseTarget, manager: Manager, caller: Admin, reason: Reason = None
) -> dict[str, Any]:
    """On every host, until resumed: the jobs of a paused queue or type wait as Created
    (their status text says who paused them) and no worker starts them; a paused schedule
    does not fire. 409 when it is paused already; 404 for an unknown type or schedule;
    400 for a queue name that cannot be one. The reason may be sent in the body or as
    ``?reason=``."""
    actor = actor_of(caller)
    why = one_reason(body.reason, reason)
    return dict(pause_record(manager.pause(body.kind, body.target, actor=actor, reason=why)))


@router.delete(
    "/{kind}/{target:path}",
    status_code=204,
    summary="Resume a paused queue, job type or schedule",
    responses=doc.problems(400, 401, 403, 404, 409),
)
def resume(
    kind: Annotated[str, Path(description="`queue`, `type` or `schedule`", examples=["queue"])],
    target: Annotated[str, Path(description="its name, as it was paused", examples=["reports"])],
    manager: Manager,
    caller: Admin,
    reason: Reason = None,
) -> Response:
    """Its held jobs are released in order (priority, then age) within about a second.
    409 when it is not paused; 404 for an unknown type or schedule; 400 for a kind that
    is not ``queue``, ``type`` or ``schedule``."""
    actor = actor_of(caller)
    manager.resume(kind, target, actor=actor, reason=reason)
    return Response(status_code=204)
