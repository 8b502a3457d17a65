"""Worker heartbeats, kept in the database's clock so that skewed hosts agree on who is silent.

A worker's row is named ``node/token`` (a fresh token each time it starts); a job it runs
records ``node/token/pid`` as its worker id. The reaper matches the two.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Engine, Table, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from jobhub.db.engine import translated_errors
from jobhub.db.models import WorkerRow

workers = cast(Table, WorkerRow.__table__)


def job_worker_id(worker_name: str, pid: int) -> str:
    """The worker id a job records: its worker's row name and the pool process's id."""
    return f"{worker_name}/{pid}"


def worker_name_of(job_worker_id: str) -> str:
    """The ``workers`` row a job's worker id belongs to (what ``job_worker_id`` was given)."""
    return job_worker_id.rsplit("/", 1)[0]


@dataclass(frozen=True, slots=True)
class WorkerState:
    """One worker incarnation (a node name and the token of this start) as last seen."""

    name: str
    hostname: str
    pid: int
    started_at: datetime
    last_seen_at: datetime
    stopped_at: datetime | None
    queues: str | None = None
    """The queues it consumes, comma-separated, as it reported them."""

    @property
    def queue_names(self) -> tuple[str, ...]:
        return tuple(q for q in (self.queues or "").split(",") if q)

    def silent_since(self, cutoff: datetime) -> bool:
        """Stopped, or no heartbeat since ``cutoff``."""
        return self.stopped_at is not None or self.last_seen_at < cutoff


class WorkerStore:
    """The ``workers`` table: heartbeats in, who is alive out."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name

    def now(self) -> datetime:
        """The database's current time: the one clock every host shares."""
        with translated_errors(), self.engine.connect() as connection:
            if self._dialect == "sqlite":
                value = connection.execute(
                    text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")
                ).scalar_one()
                return datetime.fromisoformat(value).replace(tzinfo=UTC)
            stamp = connection.execute(select(func.now())).scalar_one()
        return stamp.astimezone(UTC)

    def beat(self, name: str, hostname: str, pid: int, queues: Sequence[str] = ()) -> datetime:
        """Record that the worker ``name`` (consuming ``queues``) is alive now; returns the
        time recorded."""
        now = self.now()
        dialect = postgresql if self._dialect == "postgresql" else sqlite
        statement = dialect.insert(workers).values(
            name=name,
            hostname=hostname,
            pid=pid,
            started_at=now,
            last_seen_at=now,
            queues=",".join(queues) or None,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["name"], set_={"last_seen_at": now, "stopped_at": None}
        )
        with translated_errors(), self.engine.begin() as connection:
            connection.execute(statement)
        return now

    def stopped(self, name: str) -> None:
        """Record a clean stop: its jobs, if any are left Processing, are lost at once."""
        now = self.now()
        with translated_errors(), self.engine.begin() as connection:
            connection.execute(update(workers).where(workers.c.name == name).values(stopped_at=now))

    def seen(self, names: Collection[str]) -> dict[str, WorkerState]:
        if not names:
            return {}
        with translated_errors(), self.engine.connect() as connection:
            rows = connection.execute(select(workers).where(workers.c.name.in_(list(names))))
            return {row.name: WorkerState(**row._mapping) for row in rows}

    def all(self) -> list[WorkerState]:
        """Every worker seen, most recently seen first."""
        with translated_errors(), self.engine.connect() as connection:
            rows = connection.execute(select(workers).order_by(workers.c.last_seen_at.desc()))
            return [WorkerState(**row._mapping) for row in rows]
