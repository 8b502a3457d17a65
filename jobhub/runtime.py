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
from jobhub.db.dead_letter_store import DeadLetterStore
from jobhub.db.engine import make_engine
from jobhub.db.job_store import JobStore
from jobhub.db.pg_writes import PostgresWrites
from jobhub.db.schedule_store import ScheduleStore
from jobhub.db.type_store import JobTypeStore
from jobhub.db.worker_store import WorkerStore
from jobhub.db.write_behind import WriteBehind
from jobhub.db.writes import SqlWrites, Writes


class Runtime:
    """Settings, clock, engine, stores and the lifecycle write path for one process."""

    def __init__(self, settings: Settings, clock: Clock = utcnow) -> None:
        self.settings = settings
        self.clock = clock
        self._pid = os.getpid()
        self._engine: Engine | None = None
        self._jobs: JobStore | None = None
        self._types: JobTypeStore | None = None
        self._workers: WorkerStore | None = None
        self._dead_letters: DeadLetterStore | None = None
        self._schedules: ScheduleStore | None = None
        self._writes: Writes | None = None
        self._deferred_writes: Writes | None = None
        self._write_behind: WriteBehind | None = None

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
        """Reads and the manager's own writes (cancel, rerun, purge), via SQLAlchemy."""
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

    @property
    def workers(self) -> WorkerStore:
        """Worker heartbeats, and the database's clock."""
        engine = self.engine
        if self._workers is None or self._workers.engine is not engine:
            self._workers = WorkerStore(engine)
        return self._workers

    @property
    def schedules(self) -> ScheduleStore:
        """Runtime and static job schedules, as beat fires them."""
        engine = self.engine
        if self._schedules is None or self._schedules.engine is not engine:
            self._schedules = ScheduleStore(engine)
        return self._schedules

    @property
    def dead_letters(self) -> DeadLetterStore:
        """Messages workers received and could not run as jobs."""
        engine = self.engine
        if self._dead_letters is None or self._dead_letters.engine is not engine:
            self._dead_letters = DeadLetterStore(engine)
        return self._dead_letters

    @property
    def writes(self) -> Writes:
        """The lifecycle write path (see ``jobhub.db.pg_writes`` for what it promises)."""
        if self._writes is None:
            self._writes = self._make_writes()
        return self._writes

    @property
    def write_behind(self) -> WriteBehind:
        """Writes nobody waits for (Queued, progress, messages), grouped."""
        if self._write_behind is None:
            # its own connection: a flush never makes a producer's insert or a claim wait
            self._deferred_writes = self._make_writes()
            self._write_behind = WriteBehind(deferred=self._deferred_writes, now=self.writes)
        return self._write_behind

    def _make_writes(self) -> Writes:
        engine = self.engine
        if engine.dialect.name == "postgresql":
            return PostgresWrites(
                engine.url.render_as_string(hide_password=False),
                connect_timeout=self.settings.database_timeout,
            )
        return SqlWrites(engine)

    def settle(self) -> None:
        """Write what this process deferred, so its own reads see its own writes."""
        if self._write_behind is not None:
            self._write_behind.flush()

    def close(self) -> None:
        if self._write_behind is not None:
            self._write_behind.close()
            self._write_behind = None
        for writes in (self._writes, self._deferred_writes):
            if writes is not None:
                writes.close()
        self._writes = self._deferred_writes = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
