"""What a producer asks for: steps (jobs) and the dependencies between them.

A ``WorkflowSpec`` is checked whole before anything is written (``checked``): names
unique, dependencies on known steps, no cycle, every job type known, every step's
parameters valid, a results parameter declared by its type as a ``dict``. The builders
(``chain``, ``fan_out``, ``fan_in``) give the common shapes; ``from_document`` reads the
JSON/YAML form the HTTP API and the CLI take.
"""

from __future__ import annotations

import enum
import graphlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from jobhub.definitions import JobDefinition, resolve
from jobhub.errors import InvalidWorkflow, JobHubError
from jobhub.jobs import JSONValue
from jobhub.parameters import unstorable_text
from jobhub.placement import check_priority, check_queue

MAX_STEPS = 1_000
"""Steps one workflow may have."""
MAX_NAME = 200
"""Characters of a workflow's or a step's name."""


class StepPolicy(enum.StrEnum):
    """When a step starts, once every step it depends on has ended."""

    COMPLETED = "completed"
    """Only if they all Completed (the default)."""
    ON_FAILURE = "on_failure"
    """Only if one of them did not (it ended CompletedWithErrors or Cancelled)."""
    ALWAYS = "always"
    """Either way."""

    @classmethod
    def parse(cls, text: str) -> StepPolicy:
        key = text.strip().lower().replace("-", "_")
        try:
            return cls(key)
        except ValueError:
            known = ", ".join(policy.value for policy in cls)
            raise InvalidWorkflow(f"unknown step policy {text!r} (known: {known})") from None

    def runs_after(self, all_completed: bool) -> bool:
        """Whether a step of this policy runs, given how its dependencies ended."""
        if self is StepPolicy.ALWAYS:
            return True
        return all_completed is (self is StepPolicy.COMPLETED)


@dataclass(frozen=True, slots=True)
class Step:
    """One step: a job of ``job_type``, started once the steps ``after`` names ended."""

    name: str
    job_type: str | JobDefinition
    parameters: Mapping[str, JSONValue] = field(default_factory=dict)
    after: tuple[str, ...] = ()
    policy: StepPolicy | str = StepPolicy.COMPLETED
    results: str | None = None
    """The parameter that receives ``{step name: result}`` of the steps ``after`` names."""
    description: str | None = None
    queue: str | None = None
    priority: int | None = None
    max_attempts: int | None = None

    def then(self, *names: str) -> Step:
        """This step, also after ``names``."""
        return replace(self, after=(*self.after, *names))


@dataclass(frozen=True, slots=True)
class WorkflowSpec:
    """Steps in the order given; each names the steps it depends on."""

    steps: tuple[Step, ...]
    name: str = ""

    def __add__(self, other: WorkflowSpec) -> WorkflowSpec:
        """Both sets of steps, side by side (``other``'s may name this one's)."""
        return WorkflowSpec((*self.steps, *other.steps), self.name or other.name)

    def to_document(self) -> dict[str, JSONValue]:
        """The JSON form ``from_document`` reads: what a remote producer sends to ``POST
        /workflows``. Only fields given are written, so the server's defaults apply."""
        steps: list[JSONValue] = []
        for step in self.steps:
            job_type = step.job_type if isinstance(step.job_type, str) else step.job_type.name
            item: dict[str, JSONValue] = {
                "name": step.name,
                "job_type": job_type,
                "parameters": dict(step.parameters),
                "after": list(step.after),
                "policy": str(step.policy),
            }
            optional: dict[str, JSONValue] = {
                "results": step.results,
                "description": step.description,
                "queue": step.queue,
                "priority": step.priority,
                "max_attempts": step.max_attempts,
            }
            item.update((key, value) for key, value in optional.items() if value is not None)
            steps.append(item)
        return {"name": self.name, "steps": steps}

    @property
    def last(self) -> tuple[str, ...]:
        """The steps nothing depends on: where a following step attaches."""
        needed = {name for step in self.steps for name in step.after}
        return tuple(step.name for step in self.steps if step.name not in needed)


@dataclass(frozen=True, slots=True)
class CheckedStep:
    """A step as it will be recorded: its type resolved and its parameters normalised."""

    name: str
    definition: JobDefinition
    parameters: dict[str, JSONValue]
    after: tuple[str, ...]
    policy: StepPolicy
    results: str | None
    description: str | None
    queue: str | None
    priority: int | None
    max_attempts: int | None


def chain(*steps: Step | WorkflowSpec, name: str = "") -> WorkflowSpec:
    """Each step (or part) after the one before it."""
    parts: list[Step] = []
    previous: tuple[str, ...] = ()
    for item in steps:
        part = item if isinstance(item, WorkflowSpec) else WorkflowSpec((item,))
        roots = {step.name for step in part.steps if not step.after}
        parts += [step.then(*previous) if step.name in roots else step for step in part.steps]
        previous = part.last
    return WorkflowSpec(tuple(parts), name)


def fan_out(first: Step, parallel: Iterable[Step], *, name: str = "") -> WorkflowSpec:
    """``first``, then every step of ``parallel`` at once after it."""
    return WorkflowSpec((first, *(step.then(first.name) for step in parallel)), name)


def fan_in(parallel: Iterable[Step], then: Step, *, name: str = "") -> WorkflowSpec:
    """The ``parallel`` steps at once, then ``then`` after all of them (give it
    ``results=`` to receive all their results)."""
    steps = tuple(parallel)
    return WorkflowSpec((*steps, then.then(*(step.name for step in steps))), name)


def checked(spec: WorkflowSpec) -> list[CheckedStep]:
    """The steps of ``spec`` checked, in an order where each comes after its
    dependencies; raises InvalidWorkflow (or UnknownJobType, InvalidParameters naming
    the step) before anything is written."""
    if len(spec.name) > MAX_NAME:
        raise InvalidWorkflow(f"a workflow's name has at most {MAX_NAME} characters")
    _check_text("the workflow's name", spec.name)
    if not spec.steps:
        raise InvalidWorkflow("a workflow needs at least one step")
    if len(spec.steps) > MAX_STEPS:
        raise InvalidWorkflow(
            f"a workflow has at most {MAX_STEPS:,} steps, not {len(spec.steps):,}"
        )
    by_name: dict[str, Step] = {}
    for step in spec.steps:
        if not step.name or len(step.name) > MAX_NAME or step.name != step.name.strip():
            raise InvalidWorkflow(
                f"step name {step.name!r}: 1 to {MAX_NAME} characters, no surrounding spaces"
            )
        _check_text(f"step name {step.name!r}", step.name)
        if step.description is not None:
            _check_text(f"step {step.name!r}: description", step.description)
        if step.name in by_name:
            raise InvalidWorkflow(f"two steps are named {step.name!r}")
        by_name[step.name] = step
    for step in spec.steps:
        for name in step.after:
            if name not in by_name:
                raise InvalidWorkflow(f"step {step.name!r} depends on an unknown step {name!r}")
            if name == step.name:
                raise InvalidWorkflow(f"step {step.name!r} depends on itself")
    sorter = graphlib.TopologicalSorter({step.name: set(step.after) for step in spec.steps})
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise InvalidWorkflow(
            f"the steps depend on each other in a cycle (each runs before the next): {cycle}"
        ) from None
    return [_checked_step(by_name[name]) for name in order]


def _check_text(label: str, text: str) -> None:
    if unstorable_text(text, label) is not None:
        raise InvalidWorkflow(f"{label} is not storable text (a NUL character or invalid UTF-8)")


def _checked_step(step: Step) -> CheckedStep:
    try:
        definition = resolve(step.job_type)
        policy = (
            step.policy if isinstance(step.policy, StepPolicy) else StepPolicy.parse(step.policy)
        )
        if policy is not StepPolicy.COMPLETED and not step.after:
            raise InvalidWorkflow(f"a {policy.value} step must depend on another step")
        parameters = dict(step.parameters)
        if step.results is not None:
            _check_results_parameter(definition, step, parameters)
            parameters[step.results] = {}  # its place holder: checked again when it starts
        values = definition.validate(parameters)
        if step.results is not None:
            del values[step.results]
        if definition.runs_elsewhere:
            raise InvalidWorkflow(f"{definition.name} runs elsewhere; a step runs on workers")
        queue = check_queue(step.queue) if step.queue is not None else None
        priority = check_priority(step.priority) if step.priority is not None else None
        max_attempts = definition.retry.attempts_for(step.max_attempts)
    except JobHubError as exc:
        exc.args = (f"step {step.name!r}: {exc}", *exc.args[1:])
        raise
    return CheckedStep(
        name=step.name,
        definition=definition,
        parameters=values,
        after=tuple(dict.fromkeys(step.after)),
        policy=policy,
        results=step.results,
        description=step.description,
        queue=queue,
        priority=priority,
        max_attempts=max_attempts,
    )


def _check_results_parameter(
    definition: JobDefinition, step: Step, parameters: Mapping[str, object]
) -> None:
    name = step.results
    declared = {param.name: param for param in definition.params}
    if not step.after:
        raise InvalidWorkflow(f"results parameter {name!r}: the step depends on no step")
    if name not in declared:
        raise InvalidWorkflow(f"results parameter {name!r} is not a parameter of {definition.name}")
    if declared[name].type is not dict:
        raise InvalidWorkflow(f"results parameter {name!r} must be declared as a dict")
    if name in parameters:
        raise InvalidWorkflow(
            f"parameter {name!r} is set by the workflow (results); do not give it"
        )


def from_document(document: object) -> WorkflowSpec:
    """The JSON/YAML form: ``{"name": ..., "steps": [{"name", "job_type", "parameters",
    "after", "policy", "results", "description", "queue", "priority", "max_attempts"}]}``
    (``jobType``, ``maxAttempts`` also accepted); raises InvalidWorkflow for a bad shape."""
    if not isinstance(document, Mapping):
        raise InvalidWorkflow("a workflow is an object with a list of steps")
    unknown = set(document) - {"name", "steps"}
    if unknown:
        raise InvalidWorkflow(f"unknown workflow field(s): {', '.join(sorted(map(str, unknown)))}")
    name = document.get("name") or ""
    steps = document.get("steps")
    if not isinstance(name, str):
        raise InvalidWorkflow("the workflow's name must be text")
    if not isinstance(steps, Sequence) or isinstance(steps, str | bytes):
        raise InvalidWorkflow("steps must be a list")
    return WorkflowSpec(tuple(_step_of(index, item) for index, item in enumerate(steps)), name)


_ALIASES = {"jobType": "job_type", "maxAttempts": "max_attempts", "dependsOn": "after"}
_FIELDS = {
    "name",
    "job_type",
    "parameters",
    "after",
    "policy",
    "results",
    "description",
    "queue",
    "priority",
    "max_attempts",
}


def _step_of(index: int, item: object) -> Step:
    where = f"step {index}"
    if not isinstance(item, Mapping):
        raise InvalidWorkflow(f"{where}: a step is an object")
    fields = {_ALIASES.get(str(key), str(key)): value for key, value in item.items()}
    unknown = set(fields) - _FIELDS
    if unknown:
        raise InvalidWorkflow(f"{where}: unknown field(s): {', '.join(sorted(unknown))}")
    name, job_type = fields.get("name"), fields.get("job_type")
    if not isinstance(name, str):
        raise InvalidWorkflow(f"{where}: a step needs a name (text)")
    where = f"step {name!r}"
    if not isinstance(job_type, str):
        raise InvalidWorkflow(f"{where}: a step needs a job_type (text)")
    after = fields.get("after") or []
    if isinstance(after, str):
        after = [after]
    if not isinstance(after, Sequence) or not all(isinstance(n, str) for n in after):
        raise InvalidWorkflow(f"{where}: after must be a list of step names")
    parameters = fields.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        raise InvalidWorkflow(f"{where}: parameters must be an object")
    texts = {key: fields.get(key) for key in ("policy", "results", "description", "queue")}
    for key, value in texts.items():
        if value is not None and not isinstance(value, str):
            raise InvalidWorkflow(f"{where}: {key} must be text")
    numbers = {key: fields.get(key) for key in ("priority", "max_attempts")}
    for key, value in numbers.items():
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise InvalidWorkflow(f"{where}: {key} must be a whole number")
    return Step(
        name=name,
        job_type=job_type,
        parameters=dict(parameters),
        after=tuple(after),
        policy=texts["policy"] or StepPolicy.COMPLETED,
        results=texts["results"],
        description=texts["description"],
        queue=texts["queue"],
        priority=numbers["priority"],
        max_attempts=numbers["max_attempts"],
    )
