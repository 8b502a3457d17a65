"""The three configurations: what each enqueues with, persists, and counts as Completed.

* **C**: plain Celery as it ships (Celery's defaults: early acks, prefetch 4, no task
  events), no result backend. Completed = the task body ran (its Redis count).
* **A**: plain Celery with jobhub's Celery settings, no result backend. Completed as C.
* **B**: Celery with its database result backend in this run's database,
  ``result_extended`` and ``task_track_started`` on. Completed = a ``celery_taskmeta``
  row with status SUCCESS; its time is ``date_done``.
* **J**: jobhub, every transition persisted. Completed = a ``jobs`` row with status 3;
  its time is ``completed_at``.
* **L**: J while another type's jobs (``bench.limited``, ``LIMITED_JOBS`` of them queued
  first) wait under a rate limit and are released beside it: what a limit costs the
  jobs it does not limit. Counted like J, over ``bench.noop`` only.

They share the worker command line, the Celery settings and the task body.
"""

from __future__ import annotations

import abc
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, cast

import psycopg
from celery import Celery
from sqlalchemy import create_engine

from jobhub import JobManager, JobStatus, Settings
from jobhub.db import migrate
from tests.bench.apps import CELERY_DEFAULTS, PLAIN_TASK, plain_app, plain_env
from tests.bench.jobs import LIMITED, NOOP
from tests.bench.pg import sqlalchemy_url
from tests.bench.services import Space

Connection = psycopg.Connection[Any]
JOB_MODULES = ("workers", "tests.bench.jobs")
LIFECYCLE = (JobStatus.CREATED, JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.COMPLETED)


class Configuration(abc.ABC):
    """One configuration in one run's space."""

    name: ClassVar[str]
    polls_database: ClassVar[bool]
    """Whether detecting completion costs a transaction in the run's database."""

    def __init__(self, space: Space) -> None:
        self.space = space

    @abc.abstractmethod
    def prepare(self) -> None:
        """Create what the database needs before any worker starts."""

    @abc.abstractmethod
    def worker_command(self) -> list[str]:
        """``python -m`` arguments that run this configuration's worker."""

    @abc.abstractmethod
    def worker_env(self) -> dict[str, str]: ...

    @abc.abstractmethod
    def enqueue(self, kwargs: Mapping[str, str]) -> str:
        """Enqueue one task the configuration's own way; returns its id."""

    @abc.abstractmethod
    def completed(self, connection: Connection | None) -> int:
        """How many tasks are Completed by this configuration's definition."""

    @abc.abstractmethod
    def completed_times(self, connection: Connection | None) -> dict[str, float]:
        """When each task became Completed (Unix seconds)."""

    def verify(self, connection: Connection | None, ids: Collection[str]) -> list[str]:
        """What the configuration's own records say is wrong (Redis is checked apart)."""
        return []

    def figures(self, connection: Connection | None) -> dict[str, float]:
        """Figures of the configuration's own, read after the round."""
        return {}

    @abc.abstractmethod
    def close(self) -> None:
        """Release producer connections (and write what the producer deferred)."""


class PlainA(Configuration):
    name = "A"
    polls_database = False
    result_backend: str | None = None

    def __init__(self, space: Space) -> None:
        super().__init__(space)
        self.app: Celery | None = None

    def prepare(self) -> None:
        self.app = plain_app(
            self.name, self.space.services.redis_url, self.space.queue, self.result_backend
        )
        self.task = self.app.tasks[PLAIN_TASK]

    def worker_command(self) -> list[str]:
        return ["celery", "-A", f"tests.bench.apps:app_{self.name.lower()}", "worker"]

    def worker_env(self) -> dict[str, str]:
        return plain_env(self.space.services.redis_url, self.space.queue, self.result_backend)

    def enqueue(self, kwargs: Mapping[str, str]) -> str:
        return str(self.task.apply_async(kwargs=dict(kwargs)).id)

    def completed(self, connection: Connection | None) -> int:
        return self.space.runs_count()

    def completed_times(self, connection: Connection | None) -> dict[str, float]:
        return self.space.returned()

    def close(self) -> None:
        if self.app is not None:
            self.app.close()
            self.app = None


class PlainC(PlainA):
    """Plain Celery as it ships: its own defaults (``tests.bench.apps``)."""

    name = "C"
    result_backend = CELERY_DEFAULTS


class PlainB(PlainA):
    name = "B"
    polls_database = True

    def __init__(self, space: Space) -> None:
        super().__init__(space)
        self.result_backend = "db+" + sqlalchemy_url(space.database_url)

    def prepare(self) -> None:
        super().prepare()
        assert self.app is not None
        # Celery creates its tables on first use; do it now, outside the measured window.
        backend = cast(Any, self.app.backend)
        backend.ResultSession().close()

    def completed(self, connection: Connection | None) -> int:
        assert connection is not None
        row = connection.execute(
            "SELECT count(*) FROM celery_taskmeta WHERE status = 'SUCCESS'"
        ).fetchone()
        return int(row[0]) if row else 0

    def completed_times(self, connection: Connection | None) -> dict[str, float]:
        assert connection is not None
        # date_done is a timestamp without zone written in the session's zone
        rows = connection.execute(
            "SELECT task_id, date_done AT TIME ZONE current_setting('TimeZone') "
            "FROM celery_taskmeta WHERE status = 'SUCCESS'"
        ).fetchall()
        return {str(task_id): _unix(done) for task_id, done in rows}

    def verify(self, connection: Connection | None, ids: Collection[str]) -> list[str]:
        assert connection is not None
        rows = connection.execute(
            "SELECT task_id, status, name, worker, encode(substring(result FROM 1 FOR 200), "
            "'escape') FROM celery_taskmeta"
        ).fetchall()
        found = {str(row[0]): str(row[1]) for row in rows}
        problems = [f"B: task {i} has no result row" for i in ids if i not in found]
        problems += [
            f"B: task {i} is {found[i]}, not SUCCESS"
            for i in ids
            if i in found and found[i] != "SUCCESS"
        ]
        known = set(ids)
        extra = [row for row in rows if str(row[0]) not in known]
        if extra or len(rows) != len(found):
            problems.append(f"B: {len(extra)} unexpected result rows, {len(rows)} rows in all")
            problems += [f"B: unexpected row {tuple(map(str, row))}" for row in extra[:3]]
        return problems


class Jobhub(Configuration):
    name = "J"
    polls_database = True

    def __init__(self, space: Space) -> None:
        super().__init__(space)
        self.manager: JobManager | None = None

    @property
    def settings(self) -> Settings:
        return Settings(
            data_dir=self.space.folder / "data",
            database_url=sqlalchemy_url(self.space.database_url),
            broker_url=self.space.services.redis_url,
            queue=self.space.queue,
            job_modules=JOB_MODULES,
        )

    def prepare(self) -> None:
        engine = create_engine(sqlalchemy_url(self.space.database_url))
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()
        self.manager = JobManager.from_settings(self.settings)

    def worker_command(self) -> list[str]:
        return ["jobhub", "worker"]

    def worker_env(self) -> dict[str, str]:
        settings = self.settings
        return {
            "JOBHUB_DATA_DIR": str(settings.data_dir),
            "JOBHUB_DATABASE_URL": str(settings.database_url),
            "JOBHUB_BROKER_URL": str(settings.broker_url),
            "JOBHUB_QUEUE": settings.queue,
            "JOBHUB_JOB_MODULES": ",".join(JOB_MODULES),
        }

    def enqueue(self, kwargs: Mapping[str, str]) -> str:
        assert self.manager is not None
        return str(self.manager.start_job(NOOP, kwargs).id)

    def start(self, kwargs: Mapping[str, str]) -> tuple[str, datetime]:
        """Enqueue one job; returns its id and its created_at."""
        assert self.manager is not None
        job = self.manager.start_job(NOOP, kwargs)
        return str(job.id), job.created_at

    def completed(self, connection: Connection | None) -> int:
        assert connection is not None
        row = connection.execute(
            "SELECT count(*) FROM jobs WHERE status = 3 AND job_type = %s", (NOOP,)
        ).fetchone()
        return int(row[0]) if row else 0

    def completed_times(self, connection: Connection | None) -> dict[str, float]:
        assert connection is not None
        rows = connection.execute(
            "SELECT id, completed_at FROM jobs WHERE status = 3 AND job_type = %s", (NOOP,)
        ).fetchall()
        return {str(job_id): _unix(done) for job_id, done in rows}

    def verify(self, connection: Connection | None, ids: Collection[str]) -> list[str]:
        assert connection is not None
        statuses = {
            str(job_id): int(status)
            for job_id, status in connection.execute(
                "SELECT id, status FROM jobs WHERE job_type = %s", (NOOP,)
            ).fetchall()
        }
        history: dict[str, Counter[int]] = defaultdict(Counter)
        for job_id, status, count in connection.execute(
            "SELECT job_id, status, count(*) FROM job_events GROUP BY job_id, status"
        ).fetchall():
            history[str(job_id)][int(status)] = int(count)
        problems: list[str] = []
        expected = Counter({int(status): 1 for status in LIFECYCLE})
        for job_id in ids:
            status = statuses.get(job_id)
            if status is None:
                problems.append(f"J: job {job_id} has no row")
                continue
            if status != JobStatus.COMPLETED:
                problems.append(f"J: job {job_id} is {JobStatus(status).label}, not Completed")
            if history[job_id] != expected:
                seen = {JobStatus(s).label: n for s, n in sorted(history[job_id].items())}
                problems.append(
                    f"J: job {job_id} events {seen}, want one of each of "
                    "Created, Queued, Processing, Completed"
                )
        extra = len(set(statuses) - set(ids))
        if extra:
            problems.append(f"J: {extra} unexpected job rows")
        return problems

    def close(self) -> None:
        if self.manager is not None:
            self.manager.close()
            self.manager.app.close()
            self.manager = None


class JobhubBesideLimited(Jobhub):
    name = "L"

    LIMITED_JOBS = 300
    RATE = "50/s"

    def prepare(self) -> None:
        super().prepare()
        assert self.manager is not None
        self.manager.set_limit(LIMITED, self.RATE)
        for _ in range(self.LIMITED_JOBS):
            self.manager.start_job(LIMITED)

    def figures(self, connection: Connection | None) -> dict[str, float]:
        """How fast the limited type started, against its limit: a sliding window lets
        the first period's N start at once, so the rate is taken over the starts after
        those, (started - N) / (last start - first start)."""
        assert connection is not None
        row = connection.execute(
            "SELECT count(*), extract(epoch FROM max(started_at) - min(started_at))"
            " FROM jobs WHERE job_type = %s AND started_at IS NOT NULL",
            (LIMITED,),
        ).fetchone()
        started, span = (int(row[0]), float(row[1] or 0)) if row else (0, 0.0)
        limit = float(self.RATE.split("/")[0])
        return {
            "limited_started": started,
            "limited_per_second": (started - limit) / span if started > limit and span else 0.0,
            "limited_limit_per_second": limit,
        }


CONFIGURATIONS: dict[str, type[Configuration]] = {
    "C": PlainC,
    "A": PlainA,
    "B": PlainB,
    "J": Jobhub,
    "L": JobhubBesideLimited,
}


def _unix(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
