"""Job types: what can run, and for each its parameters, limits, pauses and schedules;
starting a job from a form built from its parameter schema.

The start form goes through ``JobManager.start_job`` exactly as ``POST /jobs`` does: a
bad parameter comes back as the manager's InvalidParameters, shown next to its input
with every value kept, and nothing is started. Each form carries a request id of its
own (the job's client request id), so a form sent twice starts one job.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request, Response

from jobhub.api_keys import Role
from jobhub.audit import check_reason
from jobhub.definitions import JobDefinition
from jobhub.durations import parse_duration
from jobhub.errors import Conflict, InvalidInput, InvalidParameters
from jobhub.gates import Pause, PauseKind
from jobhub.manager import JobManager
from jobhub.placement import LONGEST_DELAY, check_priority, check_queue
from jobhub.scheduling.rules import describe
from jobhub.scheduling.schedules import JobSchedule
from jobhub.ui.auth import Acting, Caller, Manager, Signed
from jobhub.ui.forms import Form, Submitted, fields_of, values_of
from jobhub.ui.routing import ui_router
from jobhub.ui.templates import page, redirect

router = ui_router()

START = "p."
"""Prefix of the start form's parameter inputs (``p.steps``), apart from its options."""
SCHEDULE = "s."
"""Prefix of the schedule form's parameter inputs."""
MAX_DESCRIPTION = 2000
"""Characters of a description, as ``POST /jobs`` allows."""
MAX_REQUEST_ID = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class FormState:
    """A form as sent back after a refusal: what was submitted and what was wrong."""

    submitted: Form | None = None
    errors: dict[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TypeRow:
    definition: JobDefinition
    queue: str
    next_due: datetime | None
    schedules: int
    paused: bool


@router.get("/types")
def job_types(request: Request, caller: Signed, manager: Manager) -> Response:
    schedules = manager.job_schedules()
    paused = {p.target for p in manager.pauses() if p.kind is PauseKind.TYPE}
    rows = []
    for definition in manager.available_job_types():
        own = [s for s in schedules if s.job_type == definition.name]
        due = [s.next_fire_at for s in own if s.next_fire_at is not None]
        rows.append(
            TypeRow(
                definition=definition,
                queue=definition.queue_or(manager.settings.queue),
                next_due=min(due, default=None),
                schedules=len(own),
                paused=definition.name in paused,
            )
        )
    return page(
        request,
        "types.html",
        caller,
        types=[r for r in rows if not r.definition.housekeeping],
        housekeeping=[r for r in rows if r.definition.housekeeping],
    )


@router.get("/types/{name}")
def job_type(request: Request, name: str, caller: Signed, manager: Manager) -> Response:
    return type_page(request, manager, caller, name)


@router.post("/types/{name}/start")
def start_job(
    request: Request, name: str, caller: Acting, manager: Manager, form: Submitted
) -> Response:
    caller.require(Role.OPERATOR)
    definition = manager.job_type(name)
    errors: dict[str, str] = {}
    options = _start_options(form, errors)
    values = values_of(fields_of(definition.parameters_schema()), form, START)
    if errors:  # say what is wrong with the parameters too, in the same words
        try:
            definition.validate(values)
        except InvalidParameters as refused:
            errors.update(refused.problems)
        return _refused(request, manager, caller, definition, form, errors)
    wanted = uuid.uuid4()
    try:
        job = manager.start_job(
            definition,
            values,
            identity=caller.principal.identity,
            organization=caller.principal.organization,
            job_id=wanted,
            actor=caller.actor,
            **options,
        )
    except InvalidParameters as refused:
        return _refused(request, manager, caller, definition, form, refused.problems)
    except InvalidInput as refused:
        return _refused(request, manager, caller, definition, form, {"*": refused.message})
    except Conflict as refused:
        state = FormState(submitted=form, error=refused.message)
        return type_page(request, manager, caller, name, status_code=409, start=state)
    if job.id != wanted:
        notice = "This form was sent before: here is the job it started."
    else:
        notice = f"Started {definition.name} job {job.id}."
    return redirect(f"/ui/jobs/{job.id}", notice=notice)


def _refused(
    request: Request,
    manager: JobManager,
    caller: Caller,
    definition: JobDefinition,
    form: Form,
    problems: dict[str, str],
) -> Response:
    """The type's page again with the start form as sent and each problem by its input."""
    errors = {name: text for name, text in problems.items() if name != "*"}
    state = FormState(submitted=form, errors=errors, error=problems.get("*"))
    return type_page(request, manager, caller, definition.name, status_code=422, start=state)


def _start_options(form: Form, errors: dict[str, str]) -> dict[str, Any]:
    """The start form's options (description, key, queue, priority, delay, reason) as
    ``start_job`` takes them; what cannot be one goes to ``errors`` by input name."""
    options: dict[str, Any] = {}
    description = form.get("description", "").strip()
    if len(description) > MAX_DESCRIPTION:
        errors["description"] = f"at most {MAX_DESCRIPTION} characters"
    options["description"] = description or None
    options["key"] = form.get("key", "").strip() or None
    request_id = form.get("request", "").strip()
    options["client_request_id"] = request_id if 0 < len(request_id) <= MAX_REQUEST_ID else None
    queue = form.get("queue", "").strip()
    priority = form.get("priority", "").strip()
    delay = form.get("delay", "").strip()
    try:
        options["queue"] = check_queue(queue) if queue else None
    except InvalidInput as refused:
        errors["queue"] = refused.message
    try:
        options["priority"] = check_priority(int(priority)) if priority else None
    except ValueError:
        errors["priority"] = f"priority must be a whole number, got {priority!r}"
    except InvalidInput as refused:
        errors["priority"] = refused.message
    try:
        wait = parse_duration(delay) if delay else None
        if wait is not None and wait > LONGEST_DELAY:
            raise InvalidInput(f"a delay cannot be longer than {LONGEST_DELAY.days} days")
        options["delay"] = wait if wait else None
    except InvalidInput as refused:
        errors["delay"] = refused.message
    try:
        options["reason"] = check_reason(form.get("reason"))
    except InvalidInput as refused:
        errors["reason"] = refused.message
    return options


def type_page(
    request: Request,
    manager: JobManager,
    caller: Caller,
    name: str,
    *,
    status_code: int = 200,
    start: FormState | None = None,
    schedule: FormState | None = None,
) -> Response:
    """One job type's page; ``start`` and ``schedule`` hold a refused form to show again."""
    state = manager.get_job_instance(name)
    definition = state.definition
    queue = definition.queue_or(manager.settings.queue)
    schedules = manager.get_job_schedules(definition)
    last_job = state.last_job
    if last_job is not None and not caller.admin and last_job.organization != caller.organization():
        last_job = None  # another organization's run is not shown
    fields = fields_of(definition.parameters_schema())
    start = start or FormState()
    return page(
        request,
        "type.html",
        caller,
        status_code=status_code,
        definition=definition,
        start_type=state.start_type,
        registered=state.registered,
        last_job=last_job,
        queue=queue,
        schema=json.dumps(definition.parameters_schema(), indent=2),
        fields=fields,
        limits=manager.limits(definition),
        pauses=_pauses_of(manager.pauses(), definition.name, queue, schedules),
        schedules=schedules,
        describe=describe,
        schedules_paused=any(
            p.kind is PauseKind.SCHEDULE and p.target == definition.name for p in manager.pauses()
        ),
        start=start,
        start_prefix=START,
        request_id=(start.submitted or {}).get("request") or f"ui-{uuid.uuid4()}",
        schedule=schedule or FormState(),
        schedule_prefix=SCHEDULE,
        longest_delay=LONGEST_DELAY // timedelta(days=1),
    )


def _pauses_of(
    pauses: list[Pause], name: str, queue: str, schedules: list[JobSchedule]
) -> list[Pause]:
    """The pauses that hold this type's jobs or schedules."""
    names = {schedule.name for schedule in schedules}
    return [
        p
        for p in pauses
        if (p.kind is PauseKind.TYPE and p.target == name)
        or (p.kind is PauseKind.QUEUE and p.target == queue)
        or (p.kind is PauseKind.SCHEDULE and (p.target == name or p.target in names))
    ]
