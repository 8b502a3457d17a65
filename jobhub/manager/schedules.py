"""A job type's schedules, as SanteDB's ``SetJobSchedule``, ``GetJobSchedules`` and
``ClearJobSchedule`` set and read them (beat fires them: ``jobhub.scheduling``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from datetime import time as time_of_day

from jobhub.definitions import resolve
from jobhub.logs import job_fields
from jobhub.manager.base import JobTypeRef, ManagerBase
from jobhub.scheduling import rules as schedule_rules
from jobhub.scheduling.schedules import JobSchedule, ScheduleSpec, runtime_records

logger = logging.getLogger(__name__)


class JobSchedules(ManagerBase):
    """The job manager's schedule operations."""

    def set_job_schedule(
        self,
        job_type: JobTypeRef,
        *,
        interval: timedelta | str | None = None,
        days: Iterable[int] | str | None = None,
        at: time_of_day | str | None = None,
        tz: str = "UTC",
        start: datetime | None = None,
        stop: datetime | None = None,
        parameters: Mapping[str, object] | None = None,
        catch_up: bool = True,
    ) -> list[JobSchedule]:
        """Replace the type's schedules with one: every ``interval``, or on ``days`` at
        ``at`` (wall-clock time in ``tz``). Bad input raises before anything is written."""
        rule = schedule_rules.build_rule(
            interval=interval, days=days, at=at, tz=tz, start=start, stop=stop
        )
        spec = ScheduleSpec(rule=rule, parameters=parameters or {}, catch_up=catch_up)
        return self.set_job_schedules(job_type, [spec])

    def set_job_schedules(
        self, job_type: JobTypeRef, schedules: Sequence[ScheduleSpec]
    ) -> list[JobSchedule]:
        """Replace the type's schedules with ``schedules`` (an empty list clears them)."""
        definition = resolve(job_type)
        records = runtime_records(definition.name, schedules, self._runtime.clock())
        self._runtime.schedules.replace(definition.name, "runtime", records)
        logger.info(
            "%d schedule(s) set", len(records), extra=job_fields(None, definition.name, "schedule")
        )
        return self.get_job_schedules(definition.name)

    def get_job_schedules(self, job_type: JobTypeRef) -> list[JobSchedule]:
        """The type's schedules, static and runtime, with their last and next fire."""
        definition = resolve(job_type)
        return [
            JobSchedule.from_record(r) for r in self._runtime.schedules.of_type(definition.name)
        ]

    def clear_job_schedule(self, job_type: JobTypeRef) -> None:
        """Remove the type's runtime schedules (static ones live in ``beat_schedule.py``)."""
        self.set_job_schedules(job_type, [])

    def job_schedules(self) -> list[JobSchedule]:
        """Every schedule, by job type."""
        return [JobSchedule.from_record(r) for r in self._runtime.schedules.all()]
