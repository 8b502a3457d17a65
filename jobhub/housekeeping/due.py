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

from uuid import UUID

from jobhub.dispatch import Publish, publish_taken
from jobhub.housekeeping.advance import WorkflowAdvancer
from jobhub.housekeeping.release import HeldReleaser
from jobhub.housekeeping.rounds import RoundLoop
from jobhub.runtime import Runtime

POLL_INTERVAL = 0.25
"""Seconds between two looks at the due jobs: a due job is published within this."""
ROUND = 100
"""Due jobs taken by one round."""


class DuePublisher:
    """Publishes the jobs whose due time has come."""

    def __init__(self, runtime: Runtime, publish: Publish) -> None:
        self._runtime = runtime
        self._publish = publish

    def publish_due(self, *, limit: int = ROUND) -> list[UUID]:
        """Take and publish up to ``limit`` due jobs; returns those the broker took."""
        runtime = self._runtime
        taken = runtime.writes.take_due(runtime.heartbeats.now(), limit=limit)
        return publish_taken(self._publish, taken, event="publish-due", what="due")


class DueLoop(RoundLoop):
    """Runs ``DuePublisher.publish_due`` (and, when given, ``HeldReleaser.release_held``
    and ``WorkflowAdvancer.advance``) every ``interval`` seconds in a daemon thread."""

    name = "jobhub-due"
    failure = "due jobs not published"

    def __init__(
        self,
        publisher: DuePublisher,
        interval: float = POLL_INTERVAL,
        *,
        releaser: HeldReleaser | None = None,
        advancer: WorkflowAdvancer | None = None,
    ) -> None:
        super().__init__(interval)
        self._publisher = publisher
        self._releaser = releaser
        self._advancer = advancer

    def run_round(self) -> bool:
        published = self._publisher.publish_due(limit=ROUND)
        if self._releaser is not None:
            self._releaser.release_held()
        if self._advancer is not None:
            self._advancer.advance()
        return len(published) >= ROUND  # a full round means more are due: go again at once
