"""The reaper and the outbox reconciler on real PostgreSQL and Redis, without workers.

Lost workers are played by heartbeat rows and Processing transitions written directly;
messages are read back from the Redis queue. Worker processes that really die are in
tests/acceptance/test_faults.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
import redis

from jobhub import JobManager, JobStatus, Settings
from jobhub.clock import utcnow
from jobhub.db import migrate
from jobhub.housekeeping.broker_probe import message_ids_on_broker
from jobhub.housekeeping.due import DuePublisher
from jobhub.lifecycle import NewJob, Transition
from tests import services as svc
from tests.support.redis_queue import queued_messages
from tests.support.rows import echo_row

TIMEOUT = 0.5


@pytest.fixture
def jobs(settings: Settings) -> Iterator[JobManager]:
    manager = JobManager.from_settings(
        replace(settings, worker_timeout=TIMEOUT, publish_grace=0.3, requeue_grace=0.3)
    )
    yield manager
    manager.close()


def _claim(manager: JobManager, job_id: UUID, worker: str, attempt: int = 1) -> None:
    runtime = manager.app.runtime
    transition = Transition(
        job_id=job_id,
        attempt=attempt,
        status=JobStatus.PROCESSING,
        at=runtime.clock(),
        worker_id=f"{worker}/4242",
    )
    assert runtime.writes.write(transitions=[transition])[0] is not None


def _queue(settings: Settings) -> list[bytes]:
    return [raw for _, raw in queued_messages(str(settings.broker_url), settings.queue)]


def _events(database_url: str, job_id: UUID) -> list[tuple[int, int, str | None]]:
    with psycopg.connect(svc.libpq_url(database_url)) as connection:
        rows = connection.execute(
            "SELECT attempt, status, message FROM job_events WHERE job_id = %s ORDER BY id",
            (job_id,),
        ).fetchall()
    return [(int(a), int(s), m) for a, s, m in rows]


# -- the reaper ------------------------------------------------------------------------


def test_a_silent_workers_job_is_queued_again_after_its_backoff_while_attempts_remain(
    jobs: JobManager, settings: Settings
) -> None:
    job = jobs.start_job("diagnostics.sleep", {"steps": 1, "seconds": 0})  # 3 attempts
    jobs.app.runtime.workers.beat("celery@gone/aaaa", "gone", 1)
    _claim(jobs, job.id, "celery@gone/aaaa")
    time.sleep(TIMEOUT + 0.2)

    report = jobs.housekeeping.reap_lost_jobs()

    assert report.requeued == [job.id]
    waiting = jobs.get_job(job.id)
    assert (waiting.status, waiting.attempt, waiting.retries) == (JobStatus.CREATED, 2, 1)
    assert waiting.waiting
    assert waiting.due_at is not None
    publisher = DuePublisher(jobs.app.runtime, jobs.app.dispatcher.publish)
    assert publisher.publish_due() == []  # its backoff: about a second
    time.sleep(max(0.0, (waiting.due_at - utcnow()).total_seconds()) + 0.1)
    assert publisher.publish_due() == [job.id]
    again = jobs.get_job(job.id)
    assert (again.status, again.attempt, again.retries) == (JobStatus.QUEUED, 2, 1)
    assert sum(str(job.id).encode() in raw for raw in _queue(settings)) == 2  # first + again


def test_without_retries_left_the_job_ends_worker_lost(jobs: JobManager) -> None:
    job = jobs.start_job("diagnostics.echo", {})  # max_retries=0
    jobs.app.runtime.workers.beat("celery@gone/bbbb", "gone", 1)
    _claim(jobs, job.id, "celery@gone/bbbb")
    time.sleep(TIMEOUT + 0.2)

    report = jobs.housekeeping.reap_lost_jobs()

    assert report.failed == [job.id]
    ended = jobs.get_job(job.id)
    assert ended.status is JobStatus.COMPLETED_WITH_ERRORS
    assert ended.error is not None
    assert ended.error.type == "WorkerLost"


def test_the_job_of_a_live_worker_is_left_alone(jobs: JobManager) -> None:
    job = jobs.start_job("diagnostics.echo", {})
    _claim(jobs, job.id, "celery@alive/cccc")
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            jobs.app.runtime.workers.beat("celery@alive/cccc", "alive", 1)
            stop.wait(0.1)

    beating = threading.Thread(target=beat)
    beating.start()
    try:
        time.sleep(TIMEOUT + 0.3)
        assert jobs.housekeeping.reap_lost_jobs().examined == 1
    finally:
        stop.set()
        beating.join()
    assert jobs.get_job(job.id).status is JobStatus.PROCESSING


def test_a_stopped_workers_job_is_lost_at_once(jobs: JobManager) -> None:
    job = jobs.start_job("diagnostics.echo", {})
    jobs.app.runtime.workers.beat("celery@done/dddd", "done", 1)
    _claim(jobs, job.id, "celery@done/dddd")
    jobs.app.runtime.workers.stopped("celery@done/dddd")

    assert jobs.housekeeping.reap_lost_jobs().failed == [job.id]


def test_a_worker_never_seen_is_lost_after_the_timeout(jobs: JobManager) -> None:
    job = jobs.start_job("diagnostics.echo", {})
    _claim(jobs, job.id, "celery@ghost/eeee")
    assert jobs.housekeeping.reap_lost_jobs().failed == []
    time.sleep(TIMEOUT + 0.2)
    assert jobs.housekeeping.reap_lost_jobs().failed == [job.id]


def test_concurrent_reapers_recover_each_job_once(
    jobs: JobManager, settings: Settings, database_url: str
) -> None:
    started = [jobs.start_job("diagnostics.sleep", {"steps": 1, "seconds": 0}) for _ in range(20)]
    jobs.app.runtime.workers.beat("celery@gone/ffff", "gone", 1)
    for job in started:
        _claim(jobs, job.id, "celery@gone/ffff")
    time.sleep(TIMEOUT + 0.2)
    reapers = [
        JobManager.from_settings(replace(settings, worker_timeout=TIMEOUT)) for _ in range(4)
    ]
    reports = []
    threads = [
        threading.Thread(target=lambda m=m: reports.append(m.housekeeping.reap_lost_jobs()))
        for m in reapers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for reaper in reapers:
        reaper.close()

    requeued = [job_id for report in reports for job_id in report.requeued]
    assert sorted(requeued) == sorted(job.id for job in started)
    for job in started:
        assert jobs.get_job(job.id).attempt == 2
        reopened = [e for e in _events(database_url, job.id) if e[1] == 0 and e[0] == 2]
        assert len(reopened) == 1


# -- the outbox ------------------------------------------------------------------------


def _stranded(jobs: JobManager) -> NewJob:
    """A row whose producer died between the insert and the publish."""
    runtime = jobs.app.runtime
    new = replace(
        echo_row(runtime.clock() - timedelta(seconds=5), "stranded"), queue=jobs.settings.queue
    )
    assert runtime.writes.create(new)
    return new


def test_a_job_stranded_in_created_is_published_once(jobs: JobManager, settings: Settings) -> None:
    new = _stranded(jobs)
    reconcilers = [JobManager.from_settings(replace(settings, publish_grace=0.3)) for _ in range(4)]
    reports = []
    threads = [
        threading.Thread(target=lambda m=m: reports.append(m.housekeeping.reconcile_outbox()))
        for m in reconcilers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for reconciler in reconcilers:
        reconciler.close()

    assert [job_id for report in reports for job_id in report.published] == [new.id]
    assert sum(str(new.id).encode() in raw for raw in _queue(settings)) == 1
    assert jobs.get_job(new.id).status is JobStatus.QUEUED


def test_a_fresh_created_job_is_not_published_by_the_outbox(jobs: JobManager) -> None:
    new = _stranded(jobs)
    patient = JobManager.from_settings(replace(jobs.settings, publish_grace=3600))
    try:
        assert patient.housekeeping.reconcile_outbox().published == []
    finally:
        patient.close()
    assert jobs.get_job(new.id).status is JobStatus.CREATED


def test_a_queued_job_whose_message_vanished_is_published_again(
    jobs: JobManager, settings: Settings
) -> None:
    lost = jobs.start_job("diagnostics.echo", {"message": "lost"})
    kept = jobs.start_job("diagnostics.echo", {"message": "kept"})
    client = redis.Redis.from_url(str(settings.broker_url))
    client.lrem(
        *next(
            (name, 0, raw)
            for name, raw in queued_messages(str(settings.broker_url), settings.queue)
            if str(lost.id).encode() in raw
        )
    )
    on_broker = message_ids_on_broker(jobs.app, settings.queue)
    assert on_broker is not None
    assert str(kept.id) in on_broker
    assert str(lost.id) not in on_broker
    time.sleep(0.5)

    report = jobs.housekeeping.reconcile_outbox()

    assert report.broker_checked
    assert report.republished == [lost.id]
    on_broker = message_ids_on_broker(jobs.app, settings.queue)
    assert on_broker is not None
    assert {str(lost.id), str(kept.id)} <= on_broker
    assert sum(str(kept.id).encode() in raw for raw in _queue(settings)) == 1


def test_the_reaper_and_the_outbox_work_on_the_embedded_default(tmp_path: Path) -> None:
    embedded = Settings(data_dir=tmp_path / "data", worker_timeout=TIMEOUT, publish_grace=0.3)
    manager = JobManager.from_settings(embedded)
    try:
        migrate.upgrade(manager.app.runtime.engine)
        lost = manager.start_job("diagnostics.sleep", {"steps": 1, "seconds": 0})
        manager.app.runtime.workers.beat("celery@here/abcd", "here", 1)
        _claim(manager, lost.id, "celery@here/abcd")
        stranded = _stranded(manager)
        time.sleep(TIMEOUT + 0.2)

        assert manager.housekeeping.reap_lost_jobs().requeued == [lost.id]
        report = manager.housekeeping.reconcile_outbox()
        assert report.published == [stranded.id]
        assert not report.broker_checked  # the file broker keeps its messages on disk
        assert manager.get_job(stranded.id).status is JobStatus.QUEUED
        assert [w.name for w in manager.admin.workers()] == ["celery@here/abcd"]
    finally:
        manager.close()
