"""The history of transitions folded into the statistics, from every worker's main process.

A scrape of ``/metrics`` or an overview folds too, but a system nobody looks at for hours
would leave a long unfolded tail for the first look to read live. So every worker's main
process runs a ``FoldLoop``: every ``FOLD_INTERVAL`` seconds it folds what has settled
(batch after batch, until caught up) and, once an hour, deletes the finished-job counts
past their retention (``jobhub.stats.WIDTHS``). Several workers contend harmlessly: a fold
that finds another at work skips its turn (``jobhub.db.stats_store``).
"""

from __future__ import annotations

import logging
import threading
import time

from jobhub.errors import JobHubError
from jobhub.runtime import Runtime

logger = logging.getLogger(__name__)

FOLD_INTERVAL = 10.0
"""Seconds between two folds of a worker: the fold horizon's length, so the unfolded tail
stays between one and two horizons of events."""
PRUNE_INTERVAL = 3600.0
"""Seconds between two deletions of expired counts by a worker."""


def fold_statistics(
    runtime: Runtime, *, batches: int = 1000, stop: threading.Event | None = None
) -> int:
    """Fold the settled history, up to ``batches`` batches (or until ``stop`` is set);
    returns the event ids passed."""
    total = 0
    for _ in range(batches):
        moved = runtime.stats.fold()
        total += moved
        if not moved or (stop is not None and stop.is_set()):
            break
    return total


class FoldLoop:
    """Runs ``fold_statistics`` every ``interval`` seconds in a daemon thread."""

    def __init__(self, runtime: Runtime, interval: float = FOLD_INTERVAL) -> None:
        self._runtime = runtime
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="jobhub-fold", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        failing = False
        pruned = time.monotonic() - PRUNE_INTERVAL
        while not self._stop.wait(self._interval):
            try:
                fold_statistics(self._runtime, stop=self._stop)
                if time.monotonic() - pruned >= PRUNE_INTERVAL:
                    self._runtime.stats.prune(self._runtime.clock())
                    pruned = time.monotonic()
            except JobHubError as exc:  # the database is away: try again next round
                if not failing:
                    logger.warning("statistics not folded this round: %s", exc)
                failing = True
            else:
                failing = False
