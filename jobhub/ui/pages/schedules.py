"""A job type's schedules, changed from its page: set, pause, resume, clear (admins).

Setting takes what ``jobhub schedule set`` and ``PUT /job-types/{name}/schedules`` take
(every interval, or weekdays at a time in a time zone, with parameters) and replaces the
type's runtime schedules with that one. Pausing holds every schedule of the type on
every host until resumed. Each change is the manager's, audited with the caller's key.
"""

from __future__ import annotations

from fastapi import Request, Response

from jobhub.api_keys import Role
from jobhub.errors import InvalidInput, InvalidParameters
from jobhub.gates import PauseKind
from jobhub.scheduling.rules import describe
from jobhub.ui.auth import Acting, Manager
from jobhub.ui.forms import Submitted, fields_of, values_of
from jobhub.ui.pages.types import SCHEDULE, FormState, type_page
from jobhub.ui.routing import ui_router
from jobhub.ui.templates import redirect

router = ui_router()


@router.post("/types/{name}/schedules")
def set_schedule(
    request: Request, name: str, caller: Acting, manager: Manager, form: Submitted
) -> Response:
    caller.require(Role.ADMIN)
    definition = manager.job_type(name)
    values = values_of(fields_of(definition.parameters_schema()), form, SCHEDULE)
    weekly = form.get("mode") == "weekly"
    try:
        schedules = manager.set_job_schedule(
            definition,
            interval=None if weekly else _text(form, "interval"),
            days=_text(form, "days") if weekly else None,
            at=_text(form, "at") if weekly else None,
            tz=_text(form, "tz") or "UTC",
            parameters=values,
            catch_up="catch_up" in form,
            actor=caller.actor,
            reason=form.get("reason"),
        )
    except InvalidParameters as refused:
        errors = {key: text for key, text in refused.problems.items() if key != "*"}
        state = FormState(submitted=form, errors=errors, error=refused.problems.get("*"))
        return type_page(request, manager, caller, name, status_code=422, schedule=state)
    except InvalidInput as refused:
        state = FormState(submitted=form, error=refused.message)
        return type_page(request, manager, caller, name, status_code=422, schedule=state)
    when = "; ".join(describe(s.rule) for s in schedules if s.source == "runtime")
    return redirect(f"/ui/types/{definition.name}#schedules", notice=f"Schedule set: {when}.")


@router.post("/types/{name}/schedules/pause")
def pause_schedules(name: str, caller: Acting, manager: Manager, form: Submitted) -> Response:
    caller.require(Role.ADMIN)
    definition = manager.job_type(name)
    manager.pause(
        PauseKind.SCHEDULE, definition.name, actor=caller.actor, reason=form.get("reason")
    )
    return redirect(
        f"/ui/types/{definition.name}#schedules",
        notice=f"The schedules of {definition.name} are paused: they do not fire.",
    )


@router.post("/types/{name}/schedules/resume")
def resume_schedules(name: str, caller: Acting, manager: Manager, form: Submitted) -> Response:
    caller.require(Role.ADMIN)
    definition = manager.job_type(name)
    manager.resume(
        PauseKind.SCHEDULE, definition.name, actor=caller.actor, reason=form.get("reason")
    )
    return redirect(
        f"/ui/types/{definition.name}#schedules",
        notice=f"The schedules of {definition.name} are resumed.",
    )


@router.post("/types/{name}/schedules/clear")
def clear_schedules(name: str, caller: Acting, manager: Manager, form: Submitted) -> Response:
    caller.require(Role.ADMIN)
    definition = manager.job_type(name)
    manager.clear_job_schedule(definition, actor=caller.actor, reason=form.get("reason"))
    return redirect(
        f"/ui/types/{definition.name}#schedules",
        notice=f"The runtime schedules of {definition.name} are cleared.",
    )


def _text(form: dict[str, str], name: str) -> str | None:
    return form.get(name, "").strip() or None
