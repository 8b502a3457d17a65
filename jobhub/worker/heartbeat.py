"""A worker's heartbeat, and the names that tie its jobs to it.

A worker node (``celery@host``) gets a fresh token each time it starts, so a restarted
node never vouches for the jobs of its previous life. Its name in the ``workers`` table
is ``node/token``; a job it runs records ``node/token/pid`` (the pool process) as its
worker id. The reaper (``jobhub.housekeeping.reaper``) matches the two.

The heartbeat is a thread in the worker's main process: beats every
``Settings.heartbeat_interval`` seconds, a last mark when the worker stops cleanly. A beat
that fails (the database is down) is logged and retried every second until one succeeds.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from typing import TYPE_CHECKING

from jobhub.db.worker_store import WorkerStore, job_worker_id
from jobhub.errors import JobHubError

if TYPE_CHECKING:
    from celery.app.task import Context

logger = logging.getLogger(__name__)

INCARNATION = secrets.token_hex(4)
"""This process tree's token; pool processes inherit it when they are forked."""


def worker_name(node: str) -> str:
    """The ``workers`` row of this start of ``node``."""
    return f"{node}/{INCARNATION}"


def worker_id(node: str) -> str:
    """The worker id a job run in this process records."""
    return job_worker_id(worker_name(node), os.getpid())


def worker_id_of(request: Context) -> str:
    """Which worker process runs a delivered message: node name, this start's token, pid."""
    return worker_id(request.hostname or "worker")


class Heartbeat:
    """Beats for one worker node until stopped."""

    def __init__(
        self, store: WorkerStore, node: str, interval: float, *, queues: tuple[str, ...] = ()
    ) -> None:
        self.name = worker_name(node)
        self.queues = queues
        self._store = store
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.beat()
        self._thread = threading.Thread(target=self._run, name="jobhub-heartbeat", daemon=True)
        self._thread.start()

    def beat(self) -> bool:
        try:
            self._store.beat(self.name, socket.gethostname(), os.getpid(), self.queues)
        except JobHubError as exc:
            logger.warning("heartbeat of %s failed: %s", self.name, exc)
            return False
        return True

    def stop(self) -> None:
        """Stop beating and record the clean stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        try:
            self._store.stopped(self.name)
        except JobHubError as exc:
            logger.warning("could not record the stop of %s: %s", self.name, exc)

    def _run(self) -> None:
        wait = self._interval
        while not self._stop.wait(wait):
            # after a failure, beat again soon: a reaper must not mistake a database
            # outage for this worker's death once the database is back
            wait = self._interval if self.beat() else min(1.0, self._interval)
