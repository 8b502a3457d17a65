"""Job schedules: what the manager sets and lists, and how beat fires them exactly once.

Every schedule lives in ``job_schedules``: the runtime ones a caller sets per job type
(several per type; setting replaces them all, as in SanteDB) and the static ones of
``beat_schedule.py``, which each beat writes there when it starts. Beat reads only the
schedules that are due (``next_fire_at``, indexed), once a second, so a change is live
within a second and ten thousand schedules cost nothing per tick.

**Exactly once, with any number of beats.** A fire starts its job with the client request
id ``schedule/<schedule id>/<due time>``. The jobs table holds one job per client request
id (a unique index), so a second beat firing the same due time gets the same job back
instead of a new one. Only then is the schedule moved on, by compare-and-set; a beat that
dies in between leaves the due time to the next beat, which finds the job already there.
This is a fire ledger kept in the jobs table itself: no lease to renew, no fencing token,
no gap when a beat dies beyond the next poll.

**Missed runs.** When due times passed while no beat ran, only the latest fires (catch-up,
the default) or none does (``catch_up=False``), never one job per missed time.

**Start types** (``JobTypeState.start_type``): Never types are not started even on their
schedule; Immediate types start when a beat starts; DelayStart types start at the first
tick if they never ran; TimerOnly types only on their schedule.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from jobhub.db.schedule_store import ScheduleRecord, ScheduleStore
from jobhub.definitions import find_definition, resolve
from jobhub.errors import ConfigurationError, Conflict, DispatchError, InvalidInput, NotFound
from jobhub.jobs import JSONValue, StartType
from jobhub.schedule_rules import IntervalRule, Rule, describe, rule_from_json, rule_to_json

if TYPE_CHECKING:
    from jobhub.manager import JobManager

logger = logging.getLogger(__name__)

LATE_TOLERANCE = timedelta(seconds=30)
"""A due time at most this late (or one interval, if shorter, but at least 5 s) is on
time: a slow tick, not an outage. Later than that, it was missed."""


def _tolerance(rule: Rule) -> timedelta:
    if isinstance(rule, IntervalRule):
        return max(timedelta(seconds=5), min(LATE_TOLERANCE, rule.every))
    return LATE_TOLERANCE


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


@dataclass
class Fired:
    schedule: str
    due_at: datetime
    job_id: uuid.UUID | None


class ScheduleRunner:
    """What a beat does each tick; one per beat process."""

    def __init__(self, manager: JobManager) -> None:
        self._manager = manager
        self._runtime = manager.app.runtime
        self._delay_start_done = False

    @property
    def store(self) -> ScheduleStore:
        return self._runtime.schedules

    def now(self) -> datetime:
        """The database's clock: every beat on every host agrees on what is due."""
        now: datetime = self._runtime.workers.now()
        return now

    def start(self, static_entries: Mapping[str, Mapping[str, Any]]) -> None:
        """At beat start: write the static schedules, start the Immediate types."""
        now = self.now()
        self.store.replace_static(static_records(static_entries, now))
        minute = now.replace(second=0, microsecond=0).isoformat()
        for name in self._types_with(StartType.IMMEDIATE):
            self._start(name, {}, f"beat-start/{name}/{minute}", "started with beat")

    def tick(self, limit: int = 100) -> list[Fired]:
        """Fire what is due now; returns what was fired."""
        now = self.now()
        if not self._delay_start_done:
            self._delay_start_done = True
            delayed = self._types_with(StartType.DELAY_START)
            latest = self._runtime.jobs.latest_by_type(delayed)
            for name in delayed:
                if name not in latest:
                    self._start(name, {}, f"delay-start/{name}", "first start after beat")
        never = set(self._types_with(StartType.NEVER))
        fired = []
        for record in self.store.due(now, limit):
            outcome = self._fire(record, now, skip=record.job_type in never)
            if outcome is not None:
                fired.append(outcome)
        return fired

    def seconds_to_next(self, cap: float) -> float:
        """How long beat may sleep before the next due time (at most ``cap``)."""
        upcoming = self.store.next_due_at()
        if upcoming is None:
            return cap
        return max(0.0, min(cap, (upcoming - self.now()).total_seconds()))

    def _fire(self, record: ScheduleRecord, now: datetime, *, skip: bool) -> Fired | None:
        """Fire ``record``'s due time; after an outage, only the latest one, or none."""
        rule = rule_from_json(record.rule)
        assert record.next_fire_at is not None
        due: datetime | None = record.next_fire_at
        if now - record.next_fire_at <= _tolerance(rule):
            following = rule.next_after(record.next_fire_at)  # each due time in turn
        else:  # no beat ran when it was due: at most one fire for all it missed
            latest = rule.latest_due(record.next_fire_at - timedelta(microseconds=1), now)
            due = latest if record.catch_up else None
            following = rule.next_after(now)
        job_id = None
        if due is not None and not skip:
            request = f"schedule/{record.id}/{due.isoformat()}"
            try:
                job_id = self._start(record.job_type, record.parameters, request, record.name)
            except DispatchError as exc:
                logger.warning("schedule %s: the broker refused, retrying: %s", record.name, exc)
                return None  # not moved on: the next tick fires the same due time
        self.store.advance(
            record,
            fired_at=due if job_id is not None else None,
            job_id=job_id,
            next_fire_at=following,
            now=now,
        )
        return None if due is None else Fired(schedule=record.name, due_at=due, job_id=job_id)

    def _start(
        self, job_type: str, parameters: Mapping[str, Any], request: str, why: str
    ) -> uuid.UUID | None:
        """Start one job for beat; None (logged) when the job type refuses it."""
        definition = find_definition(job_type)
        description = f"{definition.description} ({why})" if definition else why
        try:
            job = self._manager.start_job(
                job_type,
                parameters,
                identity="beat",
                client_request_id=request,
                description=description,
            )
        except (InvalidInput, NotFound, Conflict) as exc:
            logger.error("could not start %s for %s: %s", job_type, why, exc)
            return None
        return job.id

    def _types_with(self, start_type: StartType) -> list[str]:
        return [
            record.name for record in self._runtime.types.all() if record.start_type is start_type
        ]
