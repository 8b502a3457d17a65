"""Where a benchmark runs: the servers, the worker size, and one run's private names.

A ``Space`` is what one configuration run owns and removes afterwards: a database, a
broker queue, the Redis keys its task body writes, and a scratch folder for logs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import redis

from tests.bench.body import returned_key, runs_key
from tests.bench.pg import Postgres

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class Services:
    """PostgreSQL (admin URL), Redis, and the worker size every configuration gets."""

    postgres: Postgres
    redis_url: str
    concurrency: int = field(default_factory=lambda: os.cpu_count() or 1)
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="jobhub-bench-")))
    keep_logs: bool = False

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)

    def redis_version(self) -> str:
        info = self.redis().info("server")
        return str(info.get("redis_version", "unknown"))

    def close(self) -> None:
        if not self.keep_logs:
            shutil.rmtree(self.scratch, ignore_errors=True)


@dataclass
class Space:
    """One run's database, queue, Redis key prefix and folder."""

    services: Services
    label: str
    token: str
    database: str | None
    queue: str
    run_key: str
    folder: Path

    @classmethod
    def create(cls, services: Services, label: str, *, database: bool = True) -> Space:
        token = uuid.uuid4().hex[:10]
        folder = services.scratch / f"{label}-{token}"
        folder.mkdir(parents=True)
        name = services.postgres.create_database() if database else None
        return cls(
            services=services,
            label=label,
            token=token,
            database=name,
            queue=f"jobhub-bench-{token}",
            run_key=f"jobhub-bench:{token}",
            folder=folder,
        )

    @property
    def database_url(self) -> str:
        """libpq URL of this run's database."""
        if self.database is None:
            raise RuntimeError("this run has no database")
        return self.services.postgres.url(self.database)

    def task_kwargs(self) -> dict[str, str]:
        """The keyword arguments of every task this run enqueues (identical for A, B, J)."""
        return {"run": self.run_key, "redis_url": self.services.redis_url}

    def runs(self) -> dict[str, int]:
        """Executions per task id, as the task bodies counted them."""
        raw = cast(dict[bytes, bytes], self.services.redis().hgetall(runs_key(self.run_key)))
        return {k.decode(): int(v) for k, v in raw.items()}

    def runs_count(self) -> int:
        return int(self.services.redis().hlen(runs_key(self.run_key)))

    def returned(self) -> dict[str, float]:
        """When each task body returned (Unix seconds)."""
        raw = cast(dict[bytes, bytes], self.services.redis().hgetall(returned_key(self.run_key)))
        return {k.decode(): float(v) for k, v in raw.items()}

    def remove(self) -> None:
        """Drop the database, the queue and the run's keys."""
        client = self.services.redis()
        keys: list[str | bytes] = [
            self.queue,
            f"_kombu.binding.{self.queue}",
            runs_key(self.run_key),
            returned_key(self.run_key),
            *cast(list[bytes], client.keys(f"{self.queue}*")),
        ]
        client.delete(*keys)
        if self.database is not None:
            self.services.postgres.drop_database(self.database)
