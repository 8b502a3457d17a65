"""A worker bootstep that keeps the event loop's timer heap from growing with every job.

The prefork pool arms one kombu timer per job for its time limit and, when the job ends,
only marks it cancelled; kombu's ``Timer`` drops a cancelled entry when its due time
comes, an hour later with jobhub's default limit. So the worker's main process holds
about 0.6 KB per job run in the last hour (celery#1129, #5200): 0.8 GB at 400 jobs/s.
Every minute, this step removes the cancelled entries, from inside the event loop (no
lock needed). It reads kombu's ``Timer._queue``: check it when upgrading kombu.
"""

from __future__ import annotations

import heapq
from typing import Any

from celery import bootsteps

PRUNE_INTERVAL = 60.0


def prune_cancelled(timer: Any) -> int:
    """Drop the cancelled entries of a kombu ``Timer`` in place; returns how many."""
    queue = getattr(timer, "_queue", None)
    if not isinstance(queue, list):
        return 0
    live = [item for item in queue if not item[2].canceled]
    dropped = len(queue) - len(live)
    if dropped:
        heapq.heapify(live)
        queue[:] = live  # in place: the timer's iterator holds this very list
    return dropped


class PruneCancelledTimers(bootsteps.StartStopStep):
    """Prunes the hub's timer every ``PRUNE_INTERVAL`` seconds."""

    requires = ("celery.worker.components:Hub",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        self._tref: Any = None
        super().__init__(worker, **kwargs)

    def start(self, worker: Any) -> None:
        hub = getattr(worker, "hub", None)
        if hub is None:  # no event loop (the solo pool, the file broker): nothing to prune
            return
        timer = hub.timer
        self._tref = timer.call_repeatedly(PRUNE_INTERVAL, prune_cancelled, (timer,))

    def stop(self, worker: Any) -> None:
        if self._tref is not None:
            self._tref.cancel()
            self._tref = None
