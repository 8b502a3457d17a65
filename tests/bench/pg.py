"""The benchmark's PostgreSQL: one throwaway database per run, and its commit counters.

Each configuration run gets a database of its own (``jobhub_bench_<random>``), so
``pg_stat_database`` counts exactly the transactions made in it. Those counters are
flushed by each backend with a delay (at most about a second while it idles, at once
when it disconnects), so a reading is taken only once it has stopped moving.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import psycopg

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def libpq_url(url: str) -> str:
    """``postgresql://...`` as psycopg takes it, from any SQLAlchemy spelling."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def sqlalchemy_url(url: str) -> str:
    """The same database for SQLAlchemy with psycopg 3."""
    return "postgresql+psycopg://" + libpq_url(url)[len("postgresql://") :]


def with_database(url: str, name: str) -> str:
    return urlsplit(libpq_url(url))._replace(path=f"/{name}").geturl()


@dataclass(frozen=True, slots=True)
class Counters:
    """``pg_stat_database`` transaction counters of one database, and the server's WAL
    position (the whole server's: the benchmark runs alone on it)."""

    commits: int
    rollbacks: int
    wal_bytes: int = 0

    def __sub__(self, other: Counters) -> Counters:
        return Counters(
            self.commits - other.commits,
            self.rollbacks - other.rollbacks,
            self.wal_bytes - other.wal_bytes,
        )

    def transactions(self) -> tuple[int, int]:
        return self.commits, self.rollbacks


class Postgres:
    """The server, reached through an admin URL (a database the benchmark never uses)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = libpq_url(admin_url)

    @contextmanager
    def admin(self) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as connection:
            connection.execute("SET stats_fetch_consistency = none")
            yield connection

    def url(self, database: str) -> str:
        return with_database(self.admin_url, database)

    def create_database(self) -> str:
        name = f"jobhub_bench_{uuid.uuid4().hex[:12]}"
        with self.admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def counters(self, database: str) -> Counters:
        with self.admin() as connection:
            return self._read(connection, database)

    def settled_counters(
        self, database: str, *, quiet: float = 1.5, timeout: float = 15.0
    ) -> Counters:
        """The counters once they have not moved for ``quiet`` seconds (all flushed)."""
        deadline = time.monotonic() + timeout
        with self.admin() as connection:
            last = self._read(connection, database)
            still_since = time.monotonic()
            while time.monotonic() - still_since < quiet and time.monotonic() < deadline:
                time.sleep(0.25)
                now = self._read(connection, database)
                if now.transactions() != last.transactions():
                    last, still_since = now, time.monotonic()
            return last

    @staticmethod
    def _read(connection: psycopg.Connection[Any], database: str) -> Counters:
        connection.execute("SELECT pg_stat_clear_snapshot()")
        row = connection.execute(
            "SELECT xact_commit, xact_rollback, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') "
            "FROM pg_stat_database WHERE datname = %s",
            (database,),
        ).fetchone()
        if row is None:
            return Counters(0, 0)
        return Counters(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))

    def describe(self) -> dict[str, str]:
        """Server version and the settings that decide what a commit costs."""
        names = (
            "server_version",
            "synchronous_commit",
            "fsync",
            "wal_sync_method",
            "shared_buffers",
            "max_connections",
        )
        with self.admin() as connection:
            return {
                name: str(connection.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
                for name in names
            }
