"""A job's run on PostgreSQL: Queued and Processing touch no index (heap-only updates),
and ``final_status`` follows ``status`` through every change (migration 0010)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from jobhub.db.pg_writes import PostgresWrites
from jobhub.jobs import JobStatus
from jobhub.lifecycle import Transition
from tests import services as svc
from tests.support.rows import echo_row

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def writes(database_url: str) -> Iterator[PostgresWrites]:
    writes = PostgresWrites(database_url, connect_timeout=5)
    yield writes
    writes.close()


def _read(database_url: str, sql: str, *params: Any) -> Any:
    with psycopg.connect(svc.libpq_url(database_url), autocommit=True) as connection:
        return connection.execute(sql, params).fetchone()


def _updates(database_url: str, want: int) -> tuple[int, int]:
    """(updates, heap-only updates) of ``jobs``, once the writer's statistics arrived."""
    deadline = time.monotonic() + 15
    while True:
        row = _read(
            database_url,
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'jobs'",
        )
        if row[0] >= want or time.monotonic() > deadline:
            return int(row[0]), int(row[1])
        time.sleep(0.1)


def _step(job_id: uuid.UUID, status: JobStatus, seconds: int) -> Transition:
    return Transition(
        job_id=job_id,
        attempt=1,
        status=status,
        at=T0 + timedelta(seconds=seconds),
        worker_id="w@host" if status >= JobStatus.PROCESSING else None,
    )


def test_queued_and_processing_are_heap_only_updates(
    database_url: str, writes: PostgresWrites
) -> None:
    # Few enough rows that every new version fits on their page.
    jobs = [echo_row(T0) for _ in range(5)]
    for job in jobs:
        assert writes.create(job)
    for status, seconds in ((JobStatus.QUEUED, 1), (JobStatus.PROCESSING, 2)):
        applied = writes.write(transitions=[_step(job.id, status, seconds) for job in jobs])
        assert all(applied)
    writes.write(transitions=[_step(job.id, JobStatus.COMPLETED, 3) for job in jobs])
    writes.close()  # a backend reports its statistics when it ends

    assert _updates(database_url, 15) == (15, 10)  # the ends are not: they leave indexes


def test_final_status_follows_status(database_url: str, writes: PostgresWrites) -> None:
    job = echo_row(T0)
    writes.create(job)

    def final() -> tuple[int, int | None]:
        row = _read(database_url, "SELECT status, final_status FROM jobs WHERE id = %s", job.id)
        return int(row[0]), row[1]

    assert final() == (0, None)
    writes.write(transitions=[_step(job.id, JobStatus.QUEUED, 1)])
    writes.write(transitions=[_step(job.id, JobStatus.PROCESSING, 2)])
    assert final() == (2, None)
    writes.write(transitions=[_step(job.id, JobStatus.COMPLETED_WITH_ERRORS, 3)])
    assert final() == (4, 4)
