"""Running jobhub's machinery in memory, for fast tests: ``MemoryRuntime``, ``RecordingBroker``.

``MemoryRuntime`` is a ``Runtime`` whose lifecycle store, lookups and worker clock are one
``MemoryStore`` (``jobhub.db.memory``); ``RecordingBroker`` stands in for Celery's
``send_task`` and keeps each message instead of publishing it. Together they run the
write-behind buffer, the dispatcher, the reaper and the outbox as in production, with no
database or broker::

    runtime, broker = MemoryRuntime(), RecordingBroker()
    dispatcher = broker.dispatcher(runtime)
    job = dispatcher.start(definition, JobSpec(job_type=definition.name, parameters={}))
    runtime.settle()
    assert runtime.store.get(job.id).status is JobStatus.QUEUED
    assert broker.sent[0].task_id == str(job.id)

The audit trail is a list (``MemoryAuditStore``, ``runtime.audit.entries``), so the
manager's actions can run here too; the statistics are counted from the store
(``MemoryStatsStore``). The stores the manager reads through (queries,
schedules, documents, keys) need a real database: reaching for them here raises
ConfigurationError.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from celery.result import AsyncResult
from sqlalchemy import Engine

from jobhub.audit import AuditEntry
from jobhub.clock import utcnow
from jobhub.config import Settings
from jobhub.db.audit_store import AuditStore
from jobhub.db.memory import MemoryStore
from jobhub.db.memory_stats import MemoryStatsStore
from jobhub.db.writes import JobLookups, WorkerClock, Writes
from jobhub.dispatch import Dispatcher
from jobhub.errors import ConfigurationError
from jobhub.gates import GateSnapshot
from jobhub.runtime import Runtime


class MemoryRuntime(Runtime):
    """A runtime on a ``MemoryStore`` instead of a database."""

    def __init__(
        self,
        settings: Settings | None = None,
        clock: Callable[[], datetime] = utcnow,
        store: MemoryStore | None = None,
    ) -> None:
        super().__init__(settings or Settings(), clock)
        self.store = store if store is not None else MemoryStore(clock)
        self._audit = MemoryAuditStore(self.store)
        self._stats = MemoryStatsStore(self.store)

    @property
    def engine(self) -> Engine:
        raise ConfigurationError("a MemoryRuntime has no database engine")

    @property
    def audit(self) -> MemoryAuditStore:
        return self._audit

    @property
    def stats(self) -> MemoryStatsStore:
        """Counted from the store's jobs and history at every read."""
        return self._stats

    @property
    def lookups(self) -> JobLookups:
        return self.store

    @property
    def heartbeats(self) -> WorkerClock:
        return self.store

    def _make_writes(self) -> Writes:
        return self.store

    def gate_snapshot(self) -> GateSnapshot:
        """The twin has no pauses or limits (they live in the database's tables)."""
        return GateSnapshot()


class MemoryAuditStore(AuditStore):
    """The audit trail as a list, oldest first (``entries``), read as the store reads."""

    def __init__(self, store: MemoryStore) -> None:  # no engine: nothing of the base is used
        self._store = store

    @property
    def entries(self) -> list[AuditEntry]:
        return self._store.audit_entries

    def append(self, entry: AuditEntry) -> None:
        self._store.append_audit(entry)

    def recent(
        self,
        *,
        organization: str | None = None,
        since: datetime | None = None,
        actor: str | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        found = [
            entry
            for entry in reversed(self.entries)
            if (organization is None or entry.actor.organization == organization)
            and (since is None or entry.at >= since)
            and (actor is None or entry.actor.identity == actor)
        ]
        return sorted(found, key=lambda entry: entry.at, reverse=True)[:limit]

    def purge(self, before: datetime) -> int:
        kept = [entry for entry in self.entries if entry.at >= before]
        purged = len(self.entries) - len(kept)
        self.entries[:] = kept
        return purged


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One message the dispatcher handed to the broker."""

    name: str
    kwargs: Mapping[str, Any]
    options: Mapping[str, Any]

    @property
    def task_id(self) -> str:
        return str(self.options["task_id"])

    @property
    def headers(self) -> Mapping[str, Any]:
        return dict(self.options.get("headers") or {})


@dataclass
class RecordingBroker:
    """Celery's ``send_task`` as a list: what would have been published, in order."""

    sent: list[SentMessage] = field(default_factory=list)
    down: bool = False
    """While True, every publish fails as a broker that cannot be reached does."""
    fail_after: int | None = None
    """Publishes after this many fail (a broker that goes away half way)."""
    buffers: bool = False
    """Whether a publish batch (``Dispatcher.start_many``) is buffered and sent at its
    end, as kombu does on Redis; otherwise each message goes at once."""
    failing_send: bool = False
    """Whether sending a buffered batch fails (after it was handed over whole)."""
    _buffer: list[SentMessage] | None = field(default=None, init=False, repr=False)

    def send_task(
        self, name: str, args: Any = None, kwargs: Any = None, **options: Any
    ) -> AsyncResult:  # type: ignore[type-arg]
        handed = len(self.sent) + len(self._buffer or ())
        if self.down or (self.fail_after is not None and handed >= self.fail_after):
            raise ConnectionError("the broker cannot be reached (RecordingBroker)")
        message = SentMessage(name=name, kwargs=dict(kwargs or {}), options=options)
        (self.sent if self._buffer is None else self._buffer).append(message)
        return AsyncResult(str(options.get("task_id")))

    @contextmanager
    def batch(self, queues: Collection[str]) -> Iterator[tuple[Mapping[str, Any], bool]]:
        """The publish batch ``Dispatcher.start_many`` uses (see ``buffers``)."""
        if not self.buffers:
            yield {}, False
            return
        self._buffer = []
        try:
            yield {}, True
            held = self._buffer
        finally:
            self._buffer = None
        if self.failing_send:
            raise ConnectionError("the broker went away while taking the batch")
        self.sent.extend(held)

    def dispatcher(self, runtime: Runtime) -> Dispatcher:
        """A dispatcher that publishes here."""
        return Dispatcher(runtime, self.send_task, AsyncResult, self.batch)
