"""Request bodies, as pydantic models: they validate input and document it in OpenAPI.

Field names are camelCase on the wire (``clientRequestId``); snake_case is accepted too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PlainValidator,
    Strict,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from jobhub.audit import MAX_REASON
from jobhub.durations import parse_duration
from jobhub.errors import InvalidDuration, InvalidInput
from jobhub.jobs import JobRequest
from jobhub.manager.starts import MAX_BATCH
from jobhub.parameters import unstorable_text
from jobhub.placement import LONGEST_DELAY, MAX_PRIORITY, MIN_PRIORITY, check_priority, check_queue
from jobhub.retries import MAX_ATTEMPTS
from jobhub.workflows.spec import MAX_STEPS as MAX_WORKFLOW_STEPS


def _duration(value: object) -> timedelta:
    if not isinstance(value, str):
        raise PydanticCustomError("duration_type", "expected a duration as text, e.g. 15m")
    try:
        return parse_duration(value)
    except InvalidDuration as exc:
        raise PydanticCustomError("duration", exc.message) from None


Duration = Annotated[
    timedelta,
    PlainValidator(_duration),
    WithJsonSchema({"type": "string", "examples": ["250ms", "90s", "15m", "1h30m", "2d"]}),
]
"""Duration text (``250ms``, ``90s``, ``1h30m``, ``2d``, a bare number of seconds), read by
``jobhub.durations``; bad text is a 422 naming the field."""


def _delay(value: object) -> timedelta:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise PydanticCustomError("delay", f"not a delay: {value}")
        if value < 0:
            raise PydanticCustomError("delay", f"a delay cannot be negative, got {value}")
        if value > LONGEST_DELAY.total_seconds():
            raise PydanticCustomError(
                "delay", f"a delay cannot be longer than {LONGEST_DELAY.days} days"
            )
        return timedelta(seconds=value)
    if not isinstance(value, str):
        raise PydanticCustomError("delay_type", "expected seconds or a duration, e.g. 90s")
    delay = _duration(value)
    if delay > LONGEST_DELAY:
        raise PydanticCustomError(
            "delay", f"a delay cannot be longer than {LONGEST_DELAY.days} days"
        )
    return delay


Delay = Annotated[
    timedelta,
    PlainValidator(_delay),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": LONGEST_DELAY.total_seconds()},
                {"type": "string"},
            ],
            "description": "seconds, or a duration: 90s, 15m, 1h30m, 2d (at most 366 days)",
            "examples": [90, "90s", "1h30m"],
        }
    ),
]
"""How long to wait before a job starts: a number of seconds or duration text."""


def _placement(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``check`` (``jobhub.placement``'s) as a validator: its words in a 422."""

    def validate(value: Any) -> Any:
        try:
            return check(value)
        except InvalidInput as exc:
            raise PydanticCustomError("placement", exc.message) from None

    return validate


Queue = Annotated[
    str,
    AfterValidator(_placement(check_queue)),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
            "description": "a broker queue: letters, digits, '.', '_', '-'",
            "examples": ["reports"],
        }
    ),
]
Priority = Annotated[
    int,
    Strict(),
    AfterValidator(_placement(check_priority)),
    WithJsonSchema(
        {
            "type": "integer",
            "minimum": MIN_PRIORITY,
            "maximum": MAX_PRIORITY,
            "description": "0 to 9, higher runs first",
        }
    ),
]


class Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class StartJob(Body):
    """``POST /jobs``: what to run, with what, for whom to see."""

    type: str = Field(min_length=1, max_length=200, description="the job type's name")
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    key: str | None = Field(
        None, max_length=200, description="at most one active job of the type per key"
    )
    client_request_id: str | None = Field(
        None,
        max_length=200,
        description="your id for this request: sending it again returns the same job (200)",
    )
    description: str | None = Field(None, max_length=2000)
    access_scope: Literal["Public", "Private", "Organization", "PeopleInOrganization"] = Field(
        "Organization", description="who may read the result and its documents"
    )
    start_at: datetime | None = Field(
        None,
        description="start no earlier than this instant (RFC 3339, with its zone; at most"
        " 366 days ahead); not with delay",
        examples=["2026-12-01T09:00:00Z"],
    )
    delay: Delay | None = Field(None, description="start after this long; not with startAt")
    queue: Queue | None = Field(None, description="the broker queue (default: its type's)")
    priority: Priority | None = Field(None, description="0 to 9 (default: its type's)")
    max_attempts: Annotated[int, Strict()] | None = Field(
        None,
        ge=1,
        le=MAX_ATTEMPTS,
        description="attempts it may take, at most what its type's retry policy allows"
        " (default: that many)",
    )

    def job_request(self, identity: str | None, organization: str) -> JobRequest:
        """This start, for ``identity`` in ``organization`` (the caller's, never the body's)."""
        return JobRequest(
            job_type=self.type,
            parameters=self.parameters,
            identity=identity,
            organization=organization,
            client_request_id=self.client_request_id,
            key=self.key,
            description=self.description,
            access_scope=self.access_scope,
            start_at=self.start_at,
            delay=self.delay,
            queue=self.queue,
            priority=self.priority,
            max_attempts=self.max_attempts,
        )

    @model_validator(mode="after")
    def _one_start_time(self) -> StartJob:
        if self.start_at is not None and self.delay is not None:
            raise PydanticCustomError("start", "give a start time or a delay, not both")
        return self


class StartJobs(Body):
    """``POST /jobs/batch``: jobs to start together, each as ``POST /jobs`` takes one."""

    jobs: list[StartJob] = Field(min_length=1, max_length=MAX_BATCH)


class Schedule(Body):
    """One schedule: every ``interval``, or on ``days`` at ``at`` in ``tz``."""

    interval: Duration | None = Field(
        None, description="a positive duration, e.g. 90s, 15m, 1h30m, 2d", examples=["15m"]
    )
    days: str | None = Field(
        None, description="weekdays, e.g. Mon,Wed or Mon-Fri (all days when omitted)"
    )
    at: str | None = Field(None, description="wall-clock time, HH:MM[:SS]", examples=["09:30"])
    tz: str = Field("UTC", description="an IANA time zone, e.g. Europe/Berlin")
    start: datetime | None = Field(None, description="not before this instant")
    stop: datetime | None = Field(None, description="not after this instant")
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    catch_up: bool = Field(
        True, description="after an outage fire once for what was missed, or skip it"
    )


class Schedules(Body):
    """``PUT /job-types/{name}/schedules``: the type's schedules, replacing the old ones."""

    schedules: list[Schedule] = Field(max_length=100)


def _storable(value: str | None) -> str | None:
    if value is not None and unstorable_text(value, "reason") is not None:
        raise PydanticCustomError("text", "not storable text (a NUL character or invalid UTF-8)")
    return value


Reason = Annotated[
    str | None,
    Field(
        max_length=MAX_REASON,
        description="why you do this, kept with the action in the audit trail",
        examples=["database migration"],
    ),
    AfterValidator(_storable),
]
"""A reason for the audit trail in a body (acting routes also take ``?reason=``:
``jobhub.api.security.Reason``)."""


def one_reason(in_body: str | None, in_query: str | None) -> str | None:
    """The reason sent in the body or as the ``reason`` query parameter (as every acting
    route takes it); InvalidInput when both were sent and differ."""
    if in_body is not None and in_query is not None and in_body != in_query:
        raise InvalidInput("give the reason in the body or as ?reason=, not two different ones")
    return in_body if in_body is not None else in_query


Text = Annotated[str, AfterValidator(_storable)]
"""Text a database column can hold (no NUL, valid UTF-8): a 422 naming the field else."""


class WorkflowStepBody(Body):
    """One step of ``POST /workflows``: a job of ``jobType``, started once the steps
    ``after`` names ended (as ``policy`` says). The step rules (known steps, no cycle,
    the type's parameters, a ``results`` parameter declared as a dict) are the workflow's:
    a 400 or 422 naming the step."""

    name: Text = Field(min_length=1, max_length=200, description="unique within the workflow")
    job_type: Text = Field(min_length=1, max_length=200, description="the job type's name")
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    after: list[Text] | Text = Field(
        default_factory=list,
        validation_alias=AliasChoices("after", "dependsOn", "depends_on"),
        description="the steps it waits for (a name, or a list of names)",
    )
    policy: Literal["completed", "on_failure", "on-failure", "always"] | None = Field(
        None,
        description="when it starts once they ended: completed (all Completed; the default),"
        " on_failure (one did not), always",
    )
    results: Text | None = Field(
        None,
        max_length=200,
        description="the parameter (declared as a dict) that receives {step: result} of the"
        " steps it waits for",
    )
    description: Text | None = Field(None, max_length=2000)
    queue: Text | None = Field(None, description="the broker queue (default: its type's)")
    priority: Annotated[int, Strict()] | None = Field(
        None, description="0 to 9 (default: its type's)"
    )
    max_attempts: Annotated[int, Strict()] | None = Field(
        None, description="attempts it may take (default: what its type's retry policy allows)"
    )


class StartWorkflow(Body):
    """``POST /workflows``: steps (jobs) and the dependencies between them, as the JSON
    or YAML document ``jobhub workflow start`` reads; run for the key's identity in its
    organization."""

    name: Text = Field("", max_length=200)
    steps: list[WorkflowStepBody] = Field(min_length=1, max_length=MAX_WORKFLOW_STEPS)
    access_scope: Literal["Public", "Private", "Organization", "PeopleInOrganization"] = Field(
        "Organization", description="who may read each step's result and its documents"
    )

    def document(self) -> dict[str, Any]:
        """The workflow document (``jobhub.workflows.spec.from_document``'s form)."""
        return {
            "name": self.name,
            "steps": [step.model_dump(exclude_none=True) for step in self.steps],
        }


class RerunWorkflow(Body):
    """``POST /workflows/{id}/rerun``: which step to run again (default: every step that
    failed while the steps it follows Completed)."""

    step: Text | None = Field(None, min_length=1, max_length=200)
    reason: Reason = None


class SetLimit(Body):
    """``PUT /job-types/{name}/limits``: a limit, replacing the type's limit of the same
    kind and key."""

    limit: str = Field(
        min_length=1,
        max_length=200,
        description="at most N at once (`2`, `10 per customer_id`, `2 per organization`) or"
        " N started per period (`100/min`, `5/s per customer_id`, `10/30s`)",
        examples=["2", "10 per customer_id", "100/min"],
    )
    reason: Reason = None


class PauseTarget(Body):
    """``POST /pauses``: what to pause, on every host, until it is resumed."""

    kind: Literal["queue", "type", "schedule"] = Field(
        description="a broker queue, a job type, or a schedule"
    )
    target: str = Field(
        min_length=1,
        max_length=200,
        description="the queue's name (`default`: the configured queue), the job type's, or"
        " the schedule's (or its job type's: all its schedules)",
        examples=["reports"],
    )
    reason: Reason = None


# -- jobs run elsewhere: what their runner sends (``jobhub.manager.runners``) ------------

RunnerName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="who runs it (your service, script or device); a job's worker id",
        examples=["device-agent@site-7"],
    ),
]


ATTEMPT_DOC = "the attempt the claim returned: refused (409) once the job is on another attempt"


class Claim(Body):
    """``POST /jobs/{id}/claim``: take a job that waits for its runner."""

    runner: RunnerName


class Report(Body):
    """``POST /jobs/{id}/report``: progress, a status text, a message, or (with none of
    them) only that the runner is alive."""

    runner: RunnerName
    percent: float | None = Field(None, ge=0, le=100, description="percent complete")
    status_text: str | None = Field(None, description="what it is doing now")
    message: str | None = Field(None, min_length=1, description="a message for its user")
    level: Literal["info", "warning", "error"] = Field("info", description="the message's")
    attempt: int | None = Field(None, ge=1, description=ATTEMPT_DOC)


class RunnerError(Body):
    """Why the job failed."""

    type: str = Field("RunnerError", min_length=1, max_length=200, examples=["DeviceOffline"])
    message: str = Field(min_length=1, examples=["the device stopped answering"])
    traceback: str | None = Field(None, description="details, e.g. the runner's stack trace")
    retry: bool = Field(
        True,
        description="false: another attempt cannot help, it ends now whatever its type's"
        " retry policy allows",
    )


class Finish(Body):
    """``POST /jobs/{id}/finish``: with ``result`` (Completed), with ``error`` (its retry
    policy decides: another attempt, or CompletedWithErrors), or ``cancelled`` once a
    cancel was asked for."""

    runner: RunnerName
    result: JsonValue = Field(None, description="the job's output, any JSON")
    error: RunnerError | None = None
    cancelled: bool = Field(False, description="it stopped because a cancel was asked for")
    attempt: int | None = Field(None, ge=1, description=ATTEMPT_DOC)

    @model_validator(mode="after")
    def _one_ending(self) -> Finish:
        if self.error is not None and self.result is not None:
            raise ValueError("give a result or an error, not both")
        if self.cancelled and (self.error is not None or self.result is not None):
            raise ValueError("a cancelled job has neither a result nor an error")
        return self
