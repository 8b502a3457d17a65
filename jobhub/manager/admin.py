"""``Admin``: what operators check: readiness, workers and dead letters."""

from __future__ import annotations

from datetime import datetime, timedelta

from jobhub.db import migrate
from jobhub.db.dead_letter_store import DeadLetter
from jobhub.db.worker_store import WorkerState
from jobhub.dispatch import JobHubCelery
from jobhub.errors import InvalidInput, JobHubError


class Admin:
    """The health of a jobhub installation, as one process sees it."""

    def __init__(self, app: JobHubCelery) -> None:
        self._app = app
        self._runtime = app.runtime

    def readiness(self) -> dict[str, str]:
        """Whether the database (at this code's schema) and the broker answer.

        Returns ``{"database": ..., "broker": ...}`` with ``"ok"`` or the reason.
        """
        report: dict[str, str] = {}
        try:
            migrate.ensure_current(self._runtime.engine)
            report["database"] = "ok"
        except JobHubError as exc:
            report["database"] = str(exc)
        try:
            with self._app.connection_for_write() as connection:
                connection.ensure_connection(
                    max_retries=1, timeout=int(self._runtime.settings.publish_timeout)
                )
            report["broker"] = "ok"
        except Exception as exc:  # kombu raises many kinds; all mean "not reachable"
            report["broker"] = f"broker unavailable: {exc}"
        return report

    def workers(self) -> list[WorkerState]:
        """Every worker seen, with its last heartbeat (in the database's clock)."""
        return self._runtime.workers.all()

    def silence_cutoff(self) -> datetime:
        """A worker not heard from since this moment (database clock) counts as lost,
        as the reaper counts it: ``WorkerState.silent_since(cutoff)``."""
        timeout = timedelta(seconds=self._runtime.settings.worker_timeout)
        return self._runtime.heartbeats.now() - timeout

    def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        """The newest messages workers received and could not run as jobs."""
        if limit < 1:
            raise InvalidInput("limit must be at least 1")
        return self._runtime.dead_letters.recent(limit)
