"""Job schedules as values: what a caller sets (``ScheduleSpec``), what is stored and
listed (``JobSchedule``), and the rows they become.

Every schedule lives in ``job_schedules``: the runtime ones a caller sets per job type
(several per type; setting replaces them all, as in SanteDB) and the static ones of
``beat_schedule.py``, which each beat writes there when it starts. How beat fires them,
exactly once, is ``jobhub.scheduling.runner``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jobhub.db.schedule_store import ScheduleRecord
from jobhub.definitions import find_definition, resolve
from jobhub.errors import ConfigurationError
from jobhub.jobs import JSONValue
from jobhub.scheduling.rules import IntervalRule, Rule, describe, rule_from_json, rule_to_json

logger = logging.getLogger(__name__)

_NAMESPACE = uuid.UUID("5b8f2f0e-4c1d-4f5e-9a53-0f3b9d1c2e77")


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleSpec:
    """One schedule to set: when, with which parameters, and what to do after an outage."""

    rule: Rule
    parameters: Mapping[str, object] = field(default_factory=dict)
    catch_up: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSchedule:
    """A schedule as stored, with its history."""

    id: uuid.UUID
    name: str
    job_type: str
    source: str
    rule: Rule
    parameters: Mapping[str, JSONValue]
    catch_up: bool
    next_fire_at: datetime | None
    last_fire_at: datetime | None
    last_job_id: uuid.UUID | None

    @classmethod
    def from_record(cls, record: ScheduleRecord) -> JobSchedule:
        return cls(
            id=record.id,
            name=record.name,
            job_type=record.job_type,
            source=record.source,
            rule=rule_from_json(record.rule),
            parameters=record.parameters,
            catch_up=record.catch_up,
            next_fire_at=record.next_fire_at,
            last_fire_at=record.last_fire_at,
            last_job_id=record.last_job_id,
        )


def schedule_record(schedule: JobSchedule) -> dict[str, JSONValue]:
    """The JSON shape of a schedule (CLI ``--json``, HTTP)."""
    return {
        "id": str(schedule.id),
        "name": schedule.name,
        "job_type": schedule.job_type,
        "source": schedule.source,
        "when": describe(schedule.rule),
        "rule": rule_to_json(schedule.rule),
        "parameters": dict(schedule.parameters),
        "catch_up": schedule.catch_up,
        "next_fire_at": _iso(schedule.next_fire_at),
        "last_fire_at": _iso(schedule.last_fire_at),
        "last_job_id": None if schedule.last_job_id is None else str(schedule.last_job_id),
    }


def schedule_from_json(record: Mapping[str, Any]) -> JobSchedule:
    """The schedule a ``schedule_record`` describes (the remote manager reads them)."""

    def moment(value: Any) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)

    return JobSchedule(
        id=uuid.UUID(record["id"]),
        name=record["name"],
        job_type=record["job_type"],
        source=record["source"],
        rule=rule_from_json(record["rule"]),
        parameters=record["parameters"],
        catch_up=record["catch_up"],
        next_fire_at=moment(record["next_fire_at"]),
        last_fire_at=moment(record["last_fire_at"]),
        last_job_id=None if record["last_job_id"] is None else uuid.UUID(record["last_job_id"]),
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def runtime_records(
    job_type: str, specs: Sequence[ScheduleSpec], now: datetime
) -> list[ScheduleRecord]:
    """Validate ``specs`` for ``job_type`` and turn them into rows (nothing is written)."""
    definition = resolve(job_type)
    records = []
    for number, spec in enumerate(specs, start=1):
        parameters = definition.validate(spec.parameters)
        records.append(
            ScheduleRecord(
                id=uuid.uuid4(),
                name=f"{definition.name}/{number}",
                job_type=definition.name,
                source="runtime",
                rule=rule_to_json(spec.rule),
                parameters=parameters,
                catch_up=spec.catch_up,
                created_at=now,
                updated_at=now,
                next_fire_at=spec.rule.next_after(now),
                last_fire_at=None,
                last_job_id=None,
            )
        )
    return records


def static_records(entries: Mapping[str, Mapping[str, Any]], now: datetime) -> list[ScheduleRecord]:
    """``beat_schedule.py``'s entries as rows; their ids and due times are the same on
    every beat."""
    records = []
    for name, entry in entries.items():
        every = entry.get("schedule")
        if isinstance(every, timedelta):
            every = every.total_seconds()
        if not isinstance(every, int | float) or isinstance(every, bool):
            raise ConfigurationError(
                f"static schedule {name!r}: 'schedule' must be seconds or a timedelta"
            )
        task = str(entry.get("task"))
        definition = find_definition(task)
        if definition is None:
            raise ConfigurationError(f"static schedule {name!r}: no job type {task!r}")
        rule = IntervalRule(every=timedelta(seconds=every))  # on the same grid on every beat
        records.append(
            ScheduleRecord(
                id=uuid.uuid5(_NAMESPACE, name),
                name=name,
                job_type=definition.name,
                source="static",
                rule=rule_to_json(rule),
                parameters=definition.validate(dict(entry.get("kwargs") or {})),
                catch_up=bool(entry.get("catch_up", True)),
                created_at=now,
                updated_at=now,
                next_fire_at=rule.next_after(now),
                last_fire_at=None,
                last_job_id=None,
            )
        )
    return records
