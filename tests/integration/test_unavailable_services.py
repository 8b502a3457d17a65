"""What the manager does when its database or broker is down, or the schema is missing.

A database or Redis "down" is a closed port on 127.0.0.1; a missing schema is a brand new
empty PostgreSQL database. Failures must be quick, typed (StorageUnavailable,
DispatchError, SchemaOutOfDate) and leave nothing behind.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest

from jobhub import (
    DispatchError,
    JobManager,
    JobNotFound,
    JobStatus,
    Settings,
    StorageUnavailable,
)
from jobhub.errors import SchemaOutOfDate
from tests import services as svc
from tests.support import redis_queue

QUICK = 10.0
"""Seconds a failure may take to surface."""


def _admin(url: str, statement: str) -> None:
    with psycopg.connect(svc.libpq_url(url), autocommit=True) as connection:
        connection.execute(statement)


def job_count(database_url: str) -> int:
    with psycopg.connect(svc.libpq_url(database_url)) as connection:
        row = connection.execute("SELECT count(*) FROM jobs").fetchone()
    assert row is not None
    return int(row[0])


def queue_length(services: svc.Services, queue_name: str) -> int:
    return redis_queue.queue_length(services.redis_url, queue_name)


@pytest.fixture
def empty_database_url(services: svc.Services) -> Iterator[str]:
    """A brand new PostgreSQL database with no jobhub schema at all."""
    name = f"jobhub_empty_{uuid.uuid4().hex[:10]}"
    _admin(services.postgres_url, f'CREATE DATABASE "{name}"')
    yield svc.with_database(services.postgres_url, name)
    _admin(services.postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manager(settings: Settings) -> Iterator[JobManager]:
    jobs = JobManager.from_settings(settings)
    yield jobs
    jobs.close()


@pytest.fixture
def no_database_manager(settings: Settings) -> Iterator[JobManager]:
    """A manager whose database URL points at a port nothing listens on (broker is fine)."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{svc.free_port()}/jobhub"
    yield from _manager(replace(settings, database_url=url, database_timeout=2.0))


@pytest.fixture
def no_broker_manager(settings: Settings) -> Iterator[JobManager]:
    """A manager whose Redis URL points at a port nothing listens on (database is fine)."""
    url = f"redis://127.0.0.1:{svc.free_port()}/0"
    yield from _manager(replace(settings, broker_url=url, publish_timeout=2.0))


@pytest.fixture
def no_schema_manager(settings: Settings, empty_database_url: str) -> Iterator[JobManager]:
    yield from _manager(replace(settings, database_url=empty_database_url))


# -- database down -----------------------------------------------------------------------------


def test_start_job_fails_quickly_with_storage_unavailable_when_the_database_is_down(
    no_database_manager: JobManager, services: svc.Services, queue_name: str
) -> None:
    started = time.monotonic()
    with pytest.raises(StorageUnavailable, match="database unavailable"):
        no_database_manager.start_job("diagnostics.echo", {"message": "lost"})
    assert time.monotonic() - started < QUICK
    assert queue_length(services, queue_name) == 0  # nothing published for an unrecorded job


def test_reads_fail_with_storage_unavailable_when_the_database_is_down(
    no_database_manager: JobManager,
) -> None:
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        no_database_manager.get_job(uuid.uuid4())
    with pytest.raises(StorageUnavailable):
        no_database_manager.find_jobs()
    with pytest.raises(StorageUnavailable):
        no_database_manager.find_job(uuid.uuid4())  # unreachable is not "not found"
    assert time.monotonic() - started < QUICK


def test_readiness_reports_the_database_down_and_the_broker_up(
    no_database_manager: JobManager,
) -> None:
    report = no_database_manager.admin.readiness()

    assert report["broker"] == "ok"
    assert report["database"] != "ok"
    assert "database unavailable" in report["database"]


# -- broker down -------------------------------------------------------------------------------


def test_start_job_fails_with_dispatch_error_and_leaves_no_row_when_the_broker_is_down(
    no_broker_manager: JobManager, manager: JobManager, database_url: str
) -> None:
    started = time.monotonic()
    with pytest.raises(DispatchError, match="broker did not take job"):
        no_broker_manager.start_job(
            "diagnostics.sleep", key="nightly", organization="acme", client_request_id="req-1"
        )
    assert time.monotonic() - started < QUICK

    assert manager.find_jobs() == []
    assert job_count(database_url) == 0
    assert manager.audit_entries() == []  # the start's entry went with its row
    # Nothing left behind holds the key or the request id: the same start now succeeds.
    job = manager.start_job(
        "diagnostics.sleep", key="nightly", organization="acme", client_request_id="req-1"
    )
    assert job.status is JobStatus.QUEUED
    assert job_count(database_url) == 1


def test_rerun_that_cannot_be_queued_ends_the_new_attempt_with_errors(
    no_broker_manager: JobManager, manager: JobManager
) -> None:
    job = manager.start_job("diagnostics.echo")
    manager.cancel_job(job.id)

    with pytest.raises(DispatchError):
        no_broker_manager.rerun_job(job.id)

    after = manager.get_job(job.id)
    assert after.attempt == 2
    assert after.status is JobStatus.COMPLETED_WITH_ERRORS
    assert after.error is not None
    assert after.error.type == "DispatchError"
    assert [(e.attempt, e.status) for e in manager.job_events(job.id)][-2:] == [
        (2, JobStatus.CREATED),
        (2, JobStatus.COMPLETED_WITH_ERRORS),
    ]


def test_readiness_reports_the_broker_down_and_the_database_up(
    no_broker_manager: JobManager,
) -> None:
    started = time.monotonic()
    report = no_broker_manager.admin.readiness()

    assert time.monotonic() - started < QUICK
    assert report["database"] == "ok"
    assert report["broker"].startswith("broker unavailable")


def test_readiness_reports_ok_when_both_answer(manager: JobManager) -> None:
    assert manager.admin.readiness() == {"database": "ok", "broker": "ok"}


# -- schema missing or old -----------------------------------------------------------------------


def test_start_job_on_a_database_without_schema_says_to_run_db_upgrade(
    no_schema_manager: JobManager, services: svc.Services, queue_name: str
) -> None:
    with pytest.raises(SchemaOutOfDate, match="run `jobhub db upgrade`"):
        no_schema_manager.start_job("diagnostics.echo")
    with pytest.raises(SchemaOutOfDate, match="run `jobhub db upgrade`"):
        no_schema_manager.get_job(uuid.uuid4())
    assert queue_length(services, queue_name) == 0


def test_readiness_reports_a_missing_schema(no_schema_manager: JobManager) -> None:
    report = no_schema_manager.admin.readiness()

    assert report["broker"] == "ok"
    assert report["database"] == "the database has no jobhub schema; run `jobhub db upgrade`"


def test_readiness_reports_an_old_schema_revision(
    no_schema_manager: JobManager, empty_database_url: str
) -> None:
    with psycopg.connect(svc.libpq_url(empty_database_url), autocommit=True) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
        connection.execute("INSERT INTO alembic_version VALUES ('0000')")

    report = no_schema_manager.admin.readiness()

    assert report["database"] == "the database is at revision 0000; run `jobhub db upgrade`"


def test_unknown_id_is_not_found_once_the_schema_is_there(manager: JobManager) -> None:
    # The control for the failures above: the same call on a migrated database.
    with pytest.raises(JobNotFound):
        manager.get_job(uuid.uuid4())
