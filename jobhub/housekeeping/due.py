"""Jobs whose due time has come (a delayed start, a retry's next attempt): published.

The due time is a column of the job's row, never a broker message held back (Celery's
ETA and countdown): on Redis an ETA longer than the visibility timeout is delivered twice,
and an ETA message waits in one worker's memory. Every worker's main process runs a
``DueLoop``; each round takes the due jobs with one statement that clears their due time
(``Writes.take_due``), so of any number of publishers exactly one publishes each job, and
a restart of any process loses nothing: what was not taken is still due.

If the broker refuses a taken job, it stays Created with no due time, which is the
outbox's "stranded" case: it is published after ``Settings.publish_grace``.
"""

from __future__ import annotations

import logging
import threading
from uuid import UUID

from jobhub.dispatch import Publish, publish_taken
from jobhub.errors import JobHubError
from jobhub.housekeeping.release import HeldReleaser
from jobhub.runtime import Runtime

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.25
"""Seconds between two looks at the due jobs: a due job is published within this."""


class DuePublisher:
    """Publishes the jobs whose due time has come."""

    def __init__(self, runtime: Runtime, publish: Publish) -> None:
        self._runtime = runtime
        self._publish = publish

    def publish_due(self, *, limit: int = 100) -> list[UUID]:
        """Take and publish up to ``limit`` due jobs; returns those the broker took."""
        runtime = self._runtime
        taken = runtime.writes.take_due(runtime.heartbeats.now(), limit=limit)
        return publish_taken(self._publish, taken, event="publish-due", what="due")


class DueLoop:
    """Runs ``DuePublisher.publish_due`` (and ``HeldReleaser.release_held``, when given)
    every ``interval`` seconds in a daemon thread."""

    def __init__(
        self,
        publisher: DuePublisher,
        interval: float = POLL_INTERVAL,
        *,
        releaser: HeldReleaser | None = None,
    ) -> None:
        self._publisher = publisher
        self._releaser = releaser
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="jobhub-due", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                published = self._publisher.publish_due()
                if self._releaser is not None:
                    self._releaser.release_held()
            except JobHubError as exc:  # the database is away: try again next round
                if not failing:
                    logger.warning("due jobs not published this round: %s", exc)
                failing = True
                published = []
            else:
                failing = False
            if len(published) < 100:  # a full round means more are due: go again at once
                self._stop.wait(self._interval)
