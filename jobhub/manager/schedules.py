"""A job type's schedules, as SanteDB's ``SetJobSchedule``, ``GetJobSchedules`` and
``ClearJobSchedule`` set and read them (beat fires them: ``jobhub.scheduling``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from datetime import time as time_of_day

from jobhub.audit import Actor, AuditAction, acting
from jobhub.db.schedule_store import ScheduleRecord
from jobhub.definitions import resolve
from jobhub.jobs import JSONValue
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
        actor: Actor | str | None = None,
        reason: str | None = None,
    ) -> list[JobSchedule]:
        """Replace the type's schedules with one: every ``interval``, or on ``days`` at
        ``at`` (wall-clock time in ``tz``). Bad input raises before anything is written.
        ``actor`` (default: the local user) and ``reason`` go to the audit trail."""
        rule = schedule_rules.build_rule(
            interval=interval, days=days, at=at, tz=tz, start=start, stop=stop
        )
        spec = ScheduleSpec(rule=rule, parameters=parameters or {}, catch_up=catch_up)
        return self.set_job_schedules(job_type, [spec], actor=actor, reason=reason)

    def set_job_schedules(
        self,
        job_type: JobTypeRef,
        schedules: Sequence[ScheduleSpec],
        *,
        actor: Actor | str | None = None,
        reason: str | None = None,
    ) -> list[JobSchedule]:
        """Replace the type's schedules with ``schedules`` (an empty list clears them).

        Recorded in the audit trail with the rules set (or those cleared)."""
        who, why = acting(actor, reason)
        definition = resolve(job_type)
        records = runtime_records(definition.name, schedules, self._runtime.clock())
        removed = [] if records else self._runtime_schedules(definition.name)
        self._runtime.schedules.replace(definition.name, "runtime", records)
        logger.info(
            "%d schedule(s) set", len(records), extra=job_fields(None, definition.name, "schedule")
        )
        action = AuditAction.SCHEDULE_SET if records else AuditAction.SCHEDULE_CLEAR
        details: dict[str, JSONValue] = {
            "schedules": [_rule_details(record) for record in records or removed]
        }
        self._record(action, f"type {definition.name}", who, details=details, reason=why)
        return self.get_job_schedules(definition.name)

    def get_job_schedules(self, job_type: JobTypeRef) -> list[JobSchedule]:
        """The type's schedules, static and runtime, with their last and next fire."""
        definition = resolve(job_type)
        return [
            JobSchedule.from_record(r) for r in self._runtime.schedules.of_type(definition.name)
        ]

    def clear_job_schedule(
        self,
        job_type: JobTypeRef,
        *,
        actor: Actor | str | None = None,
        reason: str | None = None,
    ) -> None:
        """Remove the type's runtime schedules (static ones live in ``beat_schedule.py``);
        recorded in the audit trail with the rules removed."""
        self.set_job_schedules(job_type, [], actor=actor, reason=reason)

    def job_schedules(self) -> list[JobSchedule]:
        """Every schedule, by job type."""
        return [JobSchedule.from_record(r) for r in self._runtime.schedules.all()]

    def _runtime_schedules(self, job_type: str) -> list[ScheduleRecord]:
        return [r for r in self._runtime.schedules.of_type(job_type) if r.source == "runtime"]


def _rule_details(record: ScheduleRecord) -> dict[str, JSONValue]:
    """What the audit trail keeps of a schedule: its rule (as text and as JSON), its
    parameters and whether it catches up."""
    return {
        "when": schedule_rules.describe(schedule_rules.rule_from_json(record.rule)),
        "rule": record.rule,
        "parameters": dict(record.parameters),
        "catch_up": record.catch_up,
    }
