"""Held jobs that a pause or a limit now lets start: released in order and published.

Runs in every worker's main process, in the same loop as the due jobs
(``jobhub.housekeeping.due.DueLoop``), every quarter of a second: a held job starts
within about that long after a slot frees or its pause is resumed. Which jobs may start
is decided by the database (``HeldJobs.release``); this only publishes them. A released
job the broker refuses stays Created and released: the outbox publishes it after
``Settings.publish_grace``, and its claim needs no new slot.
"""

from __future__ import annotations

import logging
from uuid import UUID

from jobhub.dispatch import Publish, publish_taken
from jobhub.runtime import Runtime

logger = logging.getLogger(__name__)


class HeldReleaser:
    """Releases and publishes the held jobs that may start now."""

    def __init__(self, runtime: Runtime, publish: Publish) -> None:
        self._runtime = runtime
        self._publish = publish

    def release_held(self) -> list[UUID]:
        """One round over every type with held jobs; returns those the broker took."""
        runtime = self._runtime
        held = runtime.held
        published: list[UUID] = []
        for job_type in held.held_types():
            released = held.release(job_type, now=runtime.heartbeats.now())
            published += publish_taken(self._publish, released, event="release", what="released")
        return published
