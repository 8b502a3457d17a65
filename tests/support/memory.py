"""What the unit tests of the machinery share: a settable clock and job definitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import workers  # noqa: F401  (declares diagnostics.sleep, diagnostics.echo, ...)
from jobhub.config import Settings
from jobhub.definitions import get_definition
from jobhub.dispatch import Dispatcher
from jobhub.jobs import Job, JobSpec, JSONValue
from jobhub.testing import MemoryRuntime, RecordingBroker

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock that moves only when told."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def memory_runtime(clock: Clock, **settings: object) -> MemoryRuntime:
    return MemoryRuntime(Settings(**settings), clock)  # type: ignore[arg-type]


def start(
    dispatcher: Dispatcher,
    job_type: str = "diagnostics.echo",
    parameters: dict[str, JSONValue] | None = None,
    **spec: object,
) -> Job:
    """Start a job of ``job_type`` through ``dispatcher``, as the manager does."""
    definition = get_definition(job_type)
    values = definition.validate(parameters or {})
    return dispatcher.start(definition, JobSpec(job_type=job_type, parameters=values, **spec))  # type: ignore[arg-type]


__all__ = ["T0", "Clock", "RecordingBroker", "memory_runtime", "start"]
