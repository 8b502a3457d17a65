"""The write path commits without waiting for the WAL flush; a database crash that loses
those commits is repaired by the writer writing its recent writes again.

A throwaway PostgreSQL whose WAL writer waits 10 s is crashed (``pg_ctl -m immediate``)
right after the writes, so they are lost for sure; the next write reconnects and replays.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine

from jobhub.db import migrate
from jobhub.db.pg_writes import PostgresWrites
from jobhub.jobs import JobStatus
from jobhub.lifecycle import Transition
from tests.services import ThrowawayPostgres, libpq_url
from tests.support.rows import echo_row


@pytest.fixture
def crashable() -> Iterator[ThrowawayPostgres]:
    root = Path(tempfile.mkdtemp(prefix="jobhub-crash-"))
    server = ThrowawayPostgres(root, fast=False).initialise()
    with (server.data / "postgresql.conf").open("a") as conf:
        conf.write("\nwal_writer_delay = 10000ms\nwal_writer_flush_after = 0\n")
    server.start()
    engine = create_engine(server.url)
    migrate.upgrade(engine)
    engine.dispose()
    # A fresh table's first writes may make PostgreSQL write out the WAL before the test's
    # crash (here a write to a never-vacuumed table with partial or GIN indexes did):
    # vacuumed, the table is
    # as a running installation's is, and only the writer's own commits are at stake.
    with psycopg.connect(libpq_url(server.url), autocommit=True) as connection:
        for table in ("jobs", "job_texts"):
            connection.execute(f"VACUUM ANALYZE {table}")
    yield server
    server.stop()


def _status(url: str, job_id: uuid.UUID) -> int | None:
    with psycopg.connect(libpq_url(url)) as connection:
        row = connection.execute("SELECT status FROM jobs WHERE id = %s", (job_id,)).fetchone()
    return None if row is None else int(row[0])


def test_writes_lost_in_a_database_crash_are_written_again_after_reconnecting(
    crashable: ThrowawayPostgres,
) -> None:
    writes = PostgresWrites(crashable.url, connect_timeout=5)
    now = datetime.now(UTC)
    job = echo_row(now, "crash test")
    assert writes.create(job)
    processing = Transition(job_id=job.id, attempt=1, status=JobStatus.PROCESSING, at=now)
    assert writes.write(transitions=[processing])[0] is not None
    assert _status(crashable.url, job.id) == JobStatus.PROCESSING

    crashable.kill()  # the unflushed commits are gone
    crashable.start()
    assert _status(crashable.url, job.id) is None

    later = echo_row(now, "crash test")
    assert writes.create(later)  # finds the connection broken, reconnects, replays

    assert _status(crashable.url, job.id) == JobStatus.PROCESSING
    assert _status(crashable.url, later.id) == JobStatus.CREATED
    writes.close()
