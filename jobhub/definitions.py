"""Job types as jobhub knows them, and this process's registry of them (no Celery here).

A job type is what jobhub needs to know before anything runs: its stable name,
description, category, declared parameters, start type, whether it can be cancelled or
rerun, its time limit, and whether it is housekeeping. ``@job``
(``jobhub.worker.declare``) declares one as a Celery task and registers its definition
here; ``load_job_modules`` imports the modules that declare them (``JOBHUB_JOB_MODULES``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from jobhub.errors import ConfigurationError, UnknownJobType
from jobhub.jobs import Job, JobStatus, JSONValue, StartType
from jobhub.parameters import Param, parameters_schema, validate


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
    max_retries: int = 0
    """Times a run whose worker was lost is queued again as a new attempt before it ends
    CompletedWithErrors ("worker lost"). Only for jobs that are safe to run again."""
    retention: timedelta | None = None
    """How long its jobs are kept; None means ``Settings.retention``."""
    type_code: int = 0
    """Its numeric ``JobType`` in JobStatusRepr JSON (0: reserved, none declared)."""
    housekeeping: bool = False
    """Whether its jobs are jobhub's own upkeep (purging, reaping, the outbox) rather than
    work users asked for. Its jobs are recorded as housekeeping, and listings leave them
    out unless asked, so frequent maintenance does not bury the users' jobs."""
    func: Callable[..., JSONValue] = field(repr=False, compare=False)

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
    if existing is not None and existing.func is not definition.func:
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


def load_job_modules(modules: Iterable[str]) -> None:
    """Import the modules that declare job types."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigurationError(f"cannot import job module {module!r}: {exc}") from exc
