"""The history of transitions folded into the statistics, from every worker's main process.

A scrape of ``/metrics`` or an overview folds too, but a system nobody looks at for hours
would leave a long unfolded tail for the first look to read live. So every worker's main
process runs a ``FoldLoop``: every ``FOLD_INTERVAL`` seconds it folds what has settled
(batch after batch, until caught up) and, once an hour, deletes the finished-job counts
past their retention (``jobhub.stats.WIDTHS``). Several workers contend harmlessly: a fold
that finds another at work skips its turn (``jobhub.db.stats_store``).
"""

from __future__ import annotations

import threading
import time

from jobhub.housekeeping.rounds import RoundLoop
from jobhub.runtime import Runtime

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


class FoldLoop(RoundLoop):
    """Runs ``fold_statistics`` every ``interval`` seconds in a daemon thread, and prunes
    expired counts every ``PRUNE_INTERVAL``."""

    name = "jobhub-fold"
    failure = "statistics not folded"

    def __init__(self, runtime: Runtime, interval: float = FOLD_INTERVAL) -> None:
        super().__init__(interval)
        self._runtime = runtime
        self._pruned: float | None = None

    def run_round(self) -> bool:
        fold_statistics(self._runtime, stop=self._stop)
        if self._pruned is None or time.monotonic() - self._pruned >= PRUNE_INTERVAL:
            self._runtime.stats.prune(self._runtime.clock())
            self._pruned = time.monotonic()
        return False
