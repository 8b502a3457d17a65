"""A chore done in rounds by a daemon thread of a worker's main process.

The due publisher and the statistics fold both look at the database every few seconds,
from every worker at once, each round decided by a statement (so any number of workers
may run them). A round that fails because the database is away is logged once, until a
round works again; the next round simply tries again.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod

from jobhub.errors import JobHubError

logger = logging.getLogger(__name__)


class RoundLoop(ABC):
    """Calls ``run_round`` every ``interval`` seconds in a daemon thread named ``name``."""

    name: str
    """The thread's name."""
    failure: str
    """What a failed round did not do, for the log."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._stop = threading.Event()
        """Set by ``stop``: a long round may look at it and end early."""
        self._thread: threading.Thread | None = None

    @abstractmethod
    def run_round(self) -> bool:
        """One round; True when there is more to do at once (no wait before the next)."""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            more = False
            try:
                more = self.run_round()
            except JobHubError as exc:  # the database is away: try again next round
                if not failing:
                    logger.warning("%s this round: %s", self.failure, exc)
                failing = True
            else:
                failing = False
            if not more:
                self._stop.wait(self._interval)
