"""jobhub's Celery beat scheduler: the schedules are in the database (``job_schedules``).

The Celery app names it in ``beat_scheduler``, so ``jobhub beat`` and ``celery beat`` both
use it. Celery's own scheduler would keep the schedule in each beat's memory and fire every
due time once per beat; this one fires each due time once in all, whatever the number of
beats, and sees schedules changed by other processes within a second.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.beat import Scheduler

from jobhub.dispatch import JobHubCelery
from jobhub.errors import ConfigurationError, JobHubError
from jobhub.logs import job_fields
from jobhub.scheduling.runner import ScheduleRunner

logger = logging.getLogger(__name__)

POLL = 1.0
"""Longest sleep between two looks at the due schedules (seconds)."""


class JobHubScheduler(Scheduler):
    """A ``celery.beat.Scheduler`` that fires jobhub's database schedules."""

    def __init__(self, app: Any, *args: Any, **kwargs: Any) -> None:
        self._runner: ScheduleRunner | None = None
        self._static = dict(app.conf.beat_schedule or {})
        super().__init__(app, *args, **kwargs)

    def setup_schedule(self) -> None:
        if not isinstance(self.app, JobHubCelery):
            raise ConfigurationError("jobhub's beat scheduler needs jobhub's Celery app")
        self._runner = ScheduleRunner(self.app.runtime, self.app.dispatcher)
        try:
            self._runner.start(self._static)
        except JobHubError as exc:  # the database is away: the first good tick retries
            logger.warning("could not prepare the schedules yet: %s", exc)
            self._runner = None

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Fire what is due; returns how long beat may sleep."""
        try:
            if self._runner is None:
                self.setup_schedule()
                if self._runner is None:
                    return POLL
            for fired in self._runner.tick():
                logger.info(
                    "schedule %s fired for %s"
                    if fired.job_id is not None
                    else "schedule %s was due at %s; no job started",
                    fired.schedule,
                    fired.due_at.isoformat(),
                    extra=job_fields(fired.job_id, fired.job_type, "fire", schedule=fired.schedule),
                )
            return self._runner.seconds_to_next(POLL)
        except JobHubError as exc:
            logger.warning("schedules not fired this tick: %s", exc)
            return POLL

    def get_schedule(self) -> dict[str, Any]:
        return {}  # nothing lives in memory: see the job_schedules table

    def set_schedule(self, schedule: dict[str, Any]) -> None:
        pass

    schedule = property(get_schedule, set_schedule)

    @property
    def info(self) -> str:
        return "jobhub schedules in the database (jobhub schedule list)"
