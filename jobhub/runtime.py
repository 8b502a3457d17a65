"""This process's handles on storage, built on first use and rebuilt in a forked child.

Celery's prefork pool forks worker processes from the main one. A database connection
must never be shared across a fork, so the engine is created lazily and, when the process
id changes, the inherited pool is dropped without closing the parent's sockets.
"""

from __future__ import annotations

import os
import time
from typing import Protocol, TypeVar, cast

from sqlalchemy import Engine

from jobhub.clock import Clock, utcnow
from jobhub.config import Settings
from jobhub.db.api_key_store import ApiKeyStore
from jobhub.db.audit_store import AuditStore
from jobhub.db.dead_letter_store import DeadLetterStore
from jobhub.db.document_store import DocumentStore
from jobhub.db.engine import make_engine
from jobhub.db.gate_store import GateStore
from jobhub.db.held_jobs import HeldJobs
from jobhub.db.job_store import JobStore
from jobhub.db.pg_writes import PostgresWrites
from jobhub.db.schedule_store import ScheduleStore
from jobhub.db.sql_writes import SqlWrites
from jobhub.db.stats_store import StatsStore
from jobhub.db.type_store import JobTypeStore
from jobhub.db.worker_store import WorkerStore
from jobhub.db.workflow_store import WorkflowStore
from jobhub.db.write_behind import WriteBehind
from jobhub.db.writes import JobLookups, WorkerClock, Writes
from jobhub.gates import GateSnapshot

GATE_SNAPSHOT_TTL = 1.0
"""Seconds a producer goes on with the pauses and limits it read (``gate_snapshot``)."""


class Store(Protocol):
    """A store: built on an engine, and bound to it."""

    engine: Engine

    def __init__(self, engine: Engine) -> None: ...


StoreT = TypeVar("StoreT", bound=Store)


class Runtime:
    """Settings, clock, engine, stores and the lifecycle write path for one process."""

    def __init__(self, settings: Settings, clock: Clock = utcnow) -> None:
        self.settings = settings
        self.clock = clock
        self._pid = os.getpid()
        self._engine: Engine | None = None
        self._stores: dict[type[Store], Store] = {}
        self._writes: Writes | None = None
        self._deferred_writes: Writes | None = None
        self._write_behind: WriteBehind | None = None
        self._gate_snapshot: tuple[float, GateSnapshot] | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is not None and self._pid != os.getpid():
            self._engine.dispose(close=False)  # the parent still owns those connections
            self._pid = os.getpid()
        if self._engine is None:
            self._engine = make_engine(self.settings)
        return self._engine

    def _store(self, kind: type[StoreT]) -> StoreT:
        """The store of ``kind`` on this process's engine, built once per engine."""
        engine = self.engine
        store = self._stores.get(kind)
        if store is None or store.engine is not engine:
            store = self._stores[kind] = kind(engine)
        return cast(StoreT, store)

    @property
    def jobs(self) -> JobStore:
        """Reads and the manager's own writes (cancel, rerun, purge), via SQLAlchemy."""
        return self._store(JobStore)

    @property
    def lookups(self) -> JobLookups:
        """The reads the lifecycle machinery (dispatcher, reaper, outbox) decides by."""
        return self.jobs

    @property
    def heartbeats(self) -> WorkerClock:
        """Who is alive, by the database's clock (the reaper, beat)."""
        return self.workers

    @property
    def types(self) -> JobTypeStore:
        return self._store(JobTypeStore)

    @property
    def workers(self) -> WorkerStore:
        """Worker heartbeats, and the database's clock."""
        return self._store(WorkerStore)

    @property
    def schedules(self) -> ScheduleStore:
        """Runtime and static job schedules, as beat fires them."""
        return self._store(ScheduleStore)

    @property
    def dead_letters(self) -> DeadLetterStore:
        """Messages workers received and could not run as jobs."""
        return self._store(DeadLetterStore)

    @property
    def documents(self) -> DocumentStore:
        """Result documents and the publish-link secret."""
        return self._store(DocumentStore)

    @property
    def api_keys(self) -> ApiKeyStore:
        """The HTTP API's keys (hashed)."""
        return self._store(ApiKeyStore)

    @property
    def audit(self) -> AuditStore:
        """The audit trail of operator actions."""
        return self._store(AuditStore)

    @property
    def stats(self) -> StatsStore:
        """The folded history of transitions and the figures ops watch."""
        return self._store(StatsStore)

    @property
    def gates(self) -> GateStore:
        """Pauses, limits and the jobs they hold."""
        return self._store(GateStore)

    @property
    def held(self) -> HeldJobs:
        """Holding jobs a pause or limit gates, and releasing them in order."""
        return self._store(HeldJobs)

    @property
    def workflows(self) -> WorkflowStore:
        """Workflows: their steps, edges and the decisions that start or skip steps."""
        return self._store(WorkflowStore)

    def gate_snapshot(self) -> GateSnapshot:
        """The pauses and limits as read at most ``GATE_SNAPSHOT_TTL`` seconds ago: what
        a producer records gated jobs held by (the claim decides; this saves a trip
        through the broker)."""
        now = time.monotonic()
        cached = self._gate_snapshot
        if cached is None or now - cached[0] > GATE_SNAPSHOT_TTL:
            cached = self._gate_snapshot = (now, self.gates.snapshot())
        return cached[1]

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
