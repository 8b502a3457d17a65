"""This process's handles on storage, built on first use and rebuilt in a forked child.

Celery's prefork pool forks worker processes from the main one. A database connection
must never be shared across a fork, so the engine is created lazily and, when the process
id changes, the inherited pool is dropped without closing the parent's sockets.
"""

from __future__ import annotations

import os

from sqlalchemy import Engine

from jobhub.clock import Clock, utcnow
from jobhub.config import Settings
from jobhub.db.engine import make_engine
from jobhub.db.job_store import JobStore
from jobhub.db.type_store import JobTypeStore


class Runtime:
    """Settings, clock, engine and stores for one process."""

    def __init__(self, settings: Settings, clock: Clock = utcnow) -> None:
        self.settings = settings
        self.clock = clock
        self._pid = os.getpid()
        self._engine: Engine | None = None
        self._jobs: JobStore | None = None
        self._types: JobTypeStore | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is not None and self._pid != os.getpid():
            self._engine.dispose(close=False)  # the parent still owns those connections
            self._pid = os.getpid()
        if self._engine is None:
            self._engine = make_engine(self.settings)
        return self._engine

    @property
    def jobs(self) -> JobStore:
        engine = self.engine
        if self._jobs is None or self._jobs.engine is not engine:
            self._jobs = JobStore(engine)
        return self._jobs

    @property
    def types(self) -> JobTypeStore:
        engine = self.engine
        if self._types is None or self._types.engine is not engine:
            self._types = JobTypeStore(engine)
        return self._types

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
