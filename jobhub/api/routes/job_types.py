"""``/job-types``: what can run, and each type's schedules (SanteDB's master list)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from jobhub.api import responses as doc
from jobhub.api.bodies import Schedule, Schedules
from jobhub.api.security import Admin, Manager, Reason, Viewer, actor_of
from jobhub.definitions import JobTypeState
from jobhub.scheduling import rules as schedule_rules
from jobhub.scheduling.schedules import ScheduleSpec, schedule_record

router = APIRouter(prefix="/job-types", tags=["job types"])


def type_record(state: JobTypeState) -> dict[str, Any]:
    definition = state.definition
    return {
        "name": definition.name,
        "description": definition.description,
        "category": definition.category,
        "subcategory": definition.subcategory,
        "start_type": state.start_type.value,
        "registered": state.registered,
        "can_cancel": definition.can_cancel,
        "can_rerun": definition.can_rerun,
        "time_limit": definition.time_limit,
        "type_code": definition.type_code,
        "housekeeping": definition.housekeeping,
        "runs_elsewhere": definition.runs_elsewhere,
        "runner_timeout": definition.runner_timeout,
        "parameters": definition.parameters_schema(),
    }


@router.get("", summary="The job types that can be started", responses=doc.problems(401))
def job_types(manager: Manager, caller: Viewer) -> dict[str, Any]:
    """Each with its parameters' JSON Schema, start type, and whether it can be cancelled
    or rerun. (Runs are not shown here: they belong to organizations; query ``/jobs``.)"""
    return {
        "value": [type_record(manager.get_job_instance(d)) for d in manager.available_job_types()]
    }


@router.get("/{name}", summary="One job type", responses=doc.problems(401, 404))
def job_type(name: str, manager: Manager, caller: Viewer) -> dict[str, Any]:
    return type_record(manager.get_job_instance(name))


@router.get("/{name}/schedules", summary="A job type's schedules", responses=doc.problems(401, 404))
def get_schedules(name: str, manager: Manager, caller: Viewer) -> dict[str, Any]:
    """Static ones (``beat_schedule.py``) and runtime ones, with their last and next fire."""
    return {"value": [schedule_record(s) for s in manager.get_job_schedules(name)]}


@router.put(
    "/{name}/schedules",
    summary="Replace a job type's schedules",
    responses=doc.problems(400, 401, 403, 404, 422),
)
def put_schedules(
    name: str, body: Schedule | Schedules, manager: Manager, caller: Admin, reason: Reason = None
) -> dict[str, Any]:
    """One schedule, or ``{"schedules": [...]}``; beat picks the change up within a
    second. Bad input changes nothing."""
    wanted = body.schedules if isinstance(body, Schedules) else [body]
    specs = [
        ScheduleSpec(
            rule=schedule_rules.build_rule(
                interval=s.interval, days=s.days, at=s.at, tz=s.tz, start=s.start, stop=s.stop
            ),
            parameters=s.parameters,
            catch_up=s.catch_up,
        )
        for s in wanted
    ]
    schedules = manager.set_job_schedules(name, specs, actor=actor_of(caller), reason=reason)
    return {"value": [schedule_record(s) for s in schedules]}


@router.delete(
    "/{name}/schedules",
    status_code=204,
    summary="Clear a job type's schedules",
    responses=doc.problems(400, 401, 403, 404),
)
def clear_schedules(name: str, manager: Manager, caller: Admin, reason: Reason = None) -> Response:
    """Removes the runtime schedules; static ones stay (they live in beat_schedule.py)."""
    manager.clear_job_schedule(name, actor=actor_of(caller), reason=reason)
    return Response(status_code=204)
