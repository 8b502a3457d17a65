"""What a beat does each tick: fire the due schedules, each due time exactly once.

Beat reads only the schedules that are due (``next_fire_at``, indexed), once a second, so
a change is live within a second and ten thousand schedules cost nothing per tick.

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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jobhub.db.schedule_store import ScheduleRecord, ScheduleStore
from jobhub.definitions import get_definition
from jobhub.dispatch import Dispatcher
from jobhub.errors import Conflict, DispatchError, InvalidInput, NotFound
from jobhub.jobs import JobSpec, StartType
from jobhub.logs import job_fields
from jobhub.runtime import Runtime
from jobhub.scheduling.rules import IntervalRule, Rule, rule_from_json
from jobhub.scheduling.schedules import static_records

logger = logging.getLogger(__name__)

LATE_TOLERANCE = timedelta(seconds=30)
"""A due time at most this late (or one interval, if shorter, but at least 5 s) is on
time: a slow tick, not an outage. Later than that, it was missed."""


def _tolerance(rule: Rule) -> timedelta:
    if isinstance(rule, IntervalRule):
        return max(timedelta(seconds=5), min(LATE_TOLERANCE, rule.every))
    return LATE_TOLERANCE


@dataclass
class Fired:
    schedule: str
    job_type: str
    due_at: datetime
    job_id: uuid.UUID | None


class ScheduleRunner:
    """What a beat does each tick; one per beat process."""

    def __init__(self, runtime: Runtime, dispatcher: Dispatcher) -> None:
        self._runtime = runtime
        self._dispatcher = dispatcher
        self._delay_start_done = False

    @property
    def store(self) -> ScheduleStore:
        return self._runtime.schedules

    def now(self) -> datetime:
        """The database's clock: every beat on every host agrees on what is due."""
        now: datetime = self._runtime.heartbeats.now()
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
                logger.warning(
                    "schedule %s: the broker refused, retrying: %s",
                    record.name,
                    exc,
                    extra=job_fields(None, record.job_type, "fire", schedule=record.name),
                )
                return None  # not moved on: the next tick fires the same due time
        self.store.advance(
            record,
            fired_at=due if job_id is not None else None,
            job_id=job_id,
            next_fire_at=following,
            now=now,
        )
        if due is None:
            return None
        return Fired(schedule=record.name, job_type=record.job_type, due_at=due, job_id=job_id)

    def _start(
        self, job_type: str, parameters: Mapping[str, Any], request: str, why: str
    ) -> uuid.UUID | None:
        """Start one job for beat; None (logged) when the job type refuses it."""
        try:
            definition = get_definition(job_type)
            spec = JobSpec(
                job_type=definition.name,
                parameters=definition.validate(parameters),
                identity="beat",
                client_request_id=request,
            )
            job = self._dispatcher.start(
                definition, spec, description=f"{definition.description} ({why})"
            )
        except (InvalidInput, NotFound, Conflict) as exc:
            logger.error(
                "could not start %s for %s: %s",
                job_type,
                why,
                exc,
                extra=job_fields(None, job_type, "fire"),
            )
            return None
        return job.id

    def _types_with(self, start_type: StartType) -> list[str]:
        return [
            record.name for record in self._runtime.types.all() if record.start_type is start_type
        ]
