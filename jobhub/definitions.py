"""Job types as jobhub knows them, and this process's registry of them (no Celery here).

A job type is what jobhub needs to know before anything runs: its stable name,
description, category, declared parameters, start type, whether it can be cancelled or
rerun, its time limit, its retry policy, queue and priority, and whether it is
housekeeping. ``@job`` (``jobhub.worker.declare``) declares one as a Celery task and
registers its definition here; ``declare_elsewhere`` declares one that an outside runner
runs; ``load_job_modules`` imports the modules that declare them (``JOBHUB_JOB_MODULES``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from jobhub.errors import ConfigurationError, InvalidInput, UnknownJobType
from jobhub.jobs import Job, JobStatus, JSONValue, StartType
from jobhub.limits import Limit
from jobhub.parameters import Param, parameters_schema, validate
from jobhub.placement import DEFAULT_PRIORITY, check_priority, check_queue, resolve_queue
from jobhub.retries import NO_RETRY, RetryPolicy


@dataclass(frozen=True, slots=True, kw_only=True)
class JobDefinition:
    """Everything declared about one job type."""

    name: str
    description: str
    category: str = "General"
    subcategory: str = ""
    params: tuple[Param, ...] = ()
    start_type: StartType = StartType.TIMER_ONLY
    can_cancel: bool = True
    can_rerun: bool = True
    time_limit: float | None = None
    """Seconds a run may take; None means the configured default."""
    retry: RetryPolicy = NO_RETRY
    """How many attempts a run may take (a failure it retries, or a lost worker, starts
    the next one after its backoff) before it ends CompletedWithErrors."""
    queue: str | None = None
    """The broker queue its jobs go to; None means the configured one (``Settings.queue``)."""
    priority: int = DEFAULT_PRIORITY
    """Its jobs' default priority, 0 to 9 (``jobhub.placement``)."""
    runs_elsewhere: bool = False
    """Run by an outside runner (a service, a script, a device) that claims its jobs and
    reports on them; jobhub never publishes them to a worker."""
    runner_timeout: float | None = None
    """Seconds a claimed job of a type that runs elsewhere may go without a report before
    its runner counts as lost; None means ``Settings.worker_timeout``."""
    retention: timedelta | None = None
    """How long its jobs are kept; None means ``Settings.retention``."""
    type_code: int = 0
    """Its numeric ``JobType`` in JobStatusRepr JSON (0: reserved, none declared)."""
    housekeeping: bool = False
    """Whether its jobs are jobhub's own upkeep (purging, reaping, the outbox) rather than
    work users asked for. Its jobs are recorded as housekeeping, and listings leave them
    out unless asked, so frequent maintenance does not bury the users' jobs."""
    limits: tuple[Limit, ...] = ()
    """Its declared limits (``jobhub.limits``): workers put them in the database when
    they start, unless an operator changed them there (``jobhub.gates``)."""
    func: Callable[..., JSONValue] | None = field(default=None, repr=False, compare=False)
    """The body workers run; None for a type that runs elsewhere."""

    def __post_init__(self) -> None:
        try:
            if self.queue is not None:
                check_queue(self.queue)
            check_priority(self.priority)
        except InvalidInput as exc:
            raise ConfigurationError(f"job type {self.name!r}: {exc.message}") from None
        if self.runs_elsewhere != (self.func is None):
            raise ConfigurationError(
                f"job type {self.name!r}: a type has a body exactly when it is not run elsewhere"
            )
        try:
            for limit in self.limits:
                limit.check_key(self.name, {param.name for param in self.params})
        except InvalidInput as exc:
            raise ConfigurationError(f"job type {self.name!r}: {exc.message}") from None
        if self.runner_timeout is not None and self.runner_timeout <= 0:
            raise ConfigurationError(f"job type {self.name!r}: runner_timeout must be positive")

    def queue_or(self, default: str) -> str:
        """Its queue, or ``default`` (the configured one) when it names none or names
        ``default``."""
        return resolve_queue(self.queue, default) if self.queue else default

    def validate(self, values: Mapping[str, object]) -> dict[str, JSONValue]:
        """Check and normalise parameters; raises InvalidParameters."""
        return validate(self.name, self.params, values)

    def parameters_schema(self) -> dict[str, JSONValue]:
        return parameters_schema(self.params)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobTypeState:
    """A job type on the manager's master list, with its latest run (SanteDB ``IJob``)."""

    definition: JobDefinition
    start_type: StartType
    registered: bool
    last_job: Job | None

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def current_state(self) -> JobStatus | None:
        return None if self.last_job is None else self.last_job.status


_REGISTRY: dict[str, JobDefinition] = {}


def register_definition(definition: JobDefinition) -> None:
    """Add a definition to this process's registry (the ``@job`` decorator does this)."""
    existing = _REGISTRY.get(definition.name)
    if existing is not None and (
        existing.func is not definition.func or (definition.func is None and existing != definition)
    ):
        module = getattr(existing.func, "__module__", "?")
        raise ConfigurationError(f"job type {definition.name!r} is already declared in {module}")
    _REGISTRY[definition.name] = definition


def find_definition(name: str) -> JobDefinition | None:
    return _REGISTRY.get(name)


def get_definition(name: str) -> JobDefinition:
    definition = _REGISTRY.get(name)
    if definition is None:
        raise UnknownJobType(name, _REGISTRY)
    return definition


def all_definitions() -> list[JobDefinition]:
    return sorted(_REGISTRY.values(), key=lambda d: d.name)


def resolve(job_type: str | JobDefinition | object) -> JobDefinition:
    """Accept a job type by name, by definition, or as its task (start "by type or by name")."""
    if isinstance(job_type, JobDefinition):
        return job_type
    if isinstance(job_type, str):
        return get_definition(job_type)
    definition = getattr(job_type, "definition", None)
    if isinstance(definition, JobDefinition):
        return definition
    raise UnknownJobType(repr(job_type), _REGISTRY)


def declare_elsewhere(
    name: str,
    *,
    description: str,
    category: str = "General",
    subcategory: str = "",
    params: Iterable[Param] = (),
    can_cancel: bool = True,
    can_rerun: bool = True,
    retry: RetryPolicy = NO_RETRY,
    runner_timeout: float | None = None,
    retention: timedelta | None = None,
    type_code: int = 0,
) -> JobDefinition:
    """Declare a job type whose jobs an outside runner claims, reports on and finishes
    (the ``api.job`` way): jobhub records and tracks them but never publishes them."""
    definition = JobDefinition(
        name=name,
        description=description,
        category=category,
        subcategory=subcategory,
        params=tuple(params),
        start_type=StartType.NEVER,
        can_cancel=can_cancel,
        can_rerun=can_rerun,
        retry=retry,
        runs_elsewhere=True,
        runner_timeout=runner_timeout,
        retention=retention,
        type_code=type_code,
    )
    register_definition(definition)
    return definition


def load_job_modules(modules: Iterable[str]) -> None:
    """Import the modules that declare job types."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigurationError(f"cannot import job module {module!r}: {exc}") from exc
