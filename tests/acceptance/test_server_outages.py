"""Server outages under load, with real processes: PostgreSQL stopped and started during
a run, Redis restarted without persistence, a RabbitMQ node restarted. Apart from
``test_faults`` so that the two run side by side (``make test`` spreads files over its
workers)."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import create_engine

from jobhub import DispatchError, JobManager, JobStatus, Settings, StorageError
from jobhub.db import migrate
from tests import services as svc
from tests.acceptance.test_faults import (
    _histories,
    _terminal_events,
    _wait_for,
    fast_recovery,
)
from tests.conftest import Processes, settings_env

__all__ = ["fast_recovery"]


def _produce(manager: JobManager, count: int, parameters: dict[str, object]) -> list[UUID]:
    """Start ``count`` jobs, retrying the starts an outage refuses (those are not accepted)."""
    accepted: list[UUID] = []
    refused = 0
    while len(accepted) < count:
        try:
            accepted.append(manager.start_job("diagnostics.sleep", parameters).id)
        except (StorageError, DispatchError):
            refused += 1
            time.sleep(0.05)
    return accepted


@pytest.fixture
def own_postgres() -> Iterator[svc.ThrowawayPostgres]:
    root = Path(tempfile.mkdtemp(prefix="jobhub-restart-"))  # the postgres user must reach it
    server = svc.ThrowawayPostgres(root).initialise()
    server.start()
    engine = create_engine(server.url)
    migrate.upgrade(engine)
    engine.dispose()
    yield server
    server.stop("immediate")
    shutil.rmtree(root, ignore_errors=True)


def test_a_postgres_restart_during_a_run_loses_no_transition(
    processes: Processes, settings: Settings, own_postgres: svc.ThrowawayPostgres
) -> None:
    on_own = replace(settings, database_url=own_postgres.url)
    worker = processes.worker(on_own)
    manager = JobManager.from_settings(on_own)
    accepted: list[UUID] = []
    producer = threading.Thread(
        target=lambda: accepted.extend(_produce(manager, 2000, {"steps": 1, "seconds": 0}))
    )
    try:
        producer.start()
        _wait_for(lambda: len(manager.finished_jobs(limit=300)) >= 300, 60, "300 jobs done")
        own_postgres.stop("fast")
        time.sleep(3.0)  # workers keep running what they have; starts are refused
        own_postgres.start()
        producer.join(timeout=120)
        done = manager.wait_for_completion(accepted, timeout=180)
    finally:
        producer.join(timeout=5)
        manager.close()

    assert len(accepted) == 2000
    assert "running the job with its claim buffered" in worker.log()  # it kept working
    assert {job.status for job in done} == {JobStatus.COMPLETED}
    histories = _histories(own_postgres.url)
    complete = [(1, 0), (1, 1), (1, 2), (1, 3)]
    incomplete = {i: h for i, h in histories.items() if UUID(i) in set(accepted) and h != complete}
    assert not incomplete, list(incomplete.items())[:5]


@pytest.fixture
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[svc.ThrowawayRedis]:
    server = svc.ThrowawayRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


def test_a_redis_restart_under_load_loses_no_accepted_job(
    processes: Processes, fast_recovery: Settings, own_redis: svc.ThrowawayRedis
) -> None:
    on_own = replace(fast_recovery, broker_url=own_redis.url, requeue_grace=2.0)
    processes.worker(on_own)
    processes.start("beat", ["beat"], settings_env(on_own))
    manager = JobManager.from_settings(on_own)
    try:
        first = _produce(manager, 300, {"steps": 1, "seconds": 0.02})
        own_redis.stop()  # nothing on disk: every message waiting or reserved is gone
        time.sleep(1.0)
        own_redis.start()
        second = _produce(manager, 100, {"steps": 1, "seconds": 0.02})
        done = manager.wait_for_completion(first + second, timeout=120)
        republished = [
            job.id
            for job in done
            if any("vanished" in (event.message or "") for event in manager.job_events(job.id))
        ]
    finally:
        manager.close()

    assert {job.status for job in done} == {JobStatus.COMPLETED}
    assert republished, "no job needed the outbox: Redis lost nothing?"
    print(f"\n{len(republished)} of {len(first)} jobs published again after the restart")


@pytest.fixture
def own_rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[svc.ThrowawayRabbitMQ]:
    server = svc.ThrowawayRabbitMQ(tmp_path_factory.mktemp("rabbitmq"))
    server.start()
    yield server
    server.stop()


def test_a_rabbitmq_restart_under_load_loses_no_accepted_job(
    processes: Processes, fast_recovery: Settings, own_rabbitmq: svc.ThrowawayRabbitMQ
) -> None:
    """RabbitMQ keeps jobhub's queues durable and its messages persistent: a restart loses
    none, so the outbox publishes nothing again (it has no probe of RabbitMQ's queues), and
    a message whose ack the restart cut off comes back and is skipped by the claim."""
    on_own = replace(fast_recovery, broker_url=own_rabbitmq.url, requeue_grace=2.0)
    worker = processes.worker(on_own)
    processes.start("beat", ["beat"], settings_env(on_own))
    manager = JobManager.from_settings(on_own)
    try:
        first = _produce(manager, 300, {"steps": 1, "seconds": 0.02})
        own_rabbitmq.stop()
        time.sleep(1.0)
        own_rabbitmq.start()
        second = _produce(manager, 100, {"steps": 1, "seconds": 0.02})
        done = manager.wait_for_completion(first + second, timeout=180)
        republished = [
            job.id
            for job in done
            if any("vanished" in (event.message or "") for event in manager.job_events(job.id))
        ]
    finally:
        manager.close()

    assert {job.status for job in done} == {JobStatus.COMPLETED}
    assert {job.attempt for job in done} == {1}
    assert not republished
    _, lost, after = worker.log().partition("Connection to broker lost")
    assert lost, "the worker never saw the restart"
    assert "Connected to amqp://" in after  # and came back by itself
    terminal = _terminal_events(on_own.database_url or "")
    assert all(terminal.get((str(job.id), 1)) == 1 for job in done)
