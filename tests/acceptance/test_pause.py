"""Pause and resume with real ``jobhub worker`` and ``jobhub beat`` processes on
PostgreSQL and Redis.

A paused queue or job type holds its jobs in Created, visibly (their status text says
paused, and by whom), on every worker, across restarts of the worker and of beat; no job
runs, and none loops through the broker (a held job's history does not grow while it
waits). Resumed, they run in order: with one worker running one job at a time, in the
order they were created. A paused job can be cancelled, and then never runs. A paused
schedule does not fire, across a restart of beat, and fires again when resumed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from jobhub import JobManager, JobStatus, Settings
from jobhub.audit import Actor
from jobhub.jobs import Job
from tests.conftest import Process, Processes, settings_env

JOBS = 6
ECHO = "diagnostics.echo"


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def start_beat(processes: Processes, settings: Settings) -> Process:
    beat = processes.start("beat", ["beat", "--loglevel=INFO"], settings_env(settings))
    beat.wait_for_log("beat: Starting", timeout=60)
    return beat


def held_jobs(manager: JobManager, ids: list[uuid.UUID]) -> list[Job]:
    return [manager.get_job(job_id) for job_id in ids]


def all_held(manager: JobManager, ids: list[uuid.UUID]) -> bool:
    return all(job.held for job in held_jobs(manager, ids))


def histories(manager: JobManager, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[object]]:
    """Each job's history as (attempt, status, message) of its events."""
    return {
        job_id: [(e.attempt, e.status, e.message) for e in manager.job_events(job_id)]
        for job_id in ids
    }


def assert_held_and_never_ran(manager: JobManager, ids: list[uuid.UUID], why: str) -> None:
    for job in held_jobs(manager, ids):
        assert (job.status, job.held, job.status_text) == (JobStatus.CREATED, True, why)
        assert job.started_at is None, f"job {job.id} ran while paused"
        statuses = {event.status for event in manager.job_events(job.id)}
        assert statuses <= {JobStatus.CREATED, JobStatus.QUEUED}, statuses


def restart(
    processes: Processes, settings: Settings, worker: Process, beat: Process
) -> tuple[Process, Process]:
    """Stop the worker and beat, then start new ones."""
    worker.stop()
    beat.stop()
    return processes.worker(settings, concurrency=1), start_beat(processes, settings)


def run_in_creation_order(manager: JobManager, ids: list[uuid.UUID]) -> list[Job]:
    done = manager.wait_for_completion(ids, timeout=60)
    assert {job.status for job in done} == {JobStatus.COMPLETED}
    assert [job.held for job in done] == [False] * len(done)
    by_start = sorted(done, key=lambda job: job.started_at or datetime.max)
    assert [job.id for job in by_start] == ids, "resumed jobs did not run in order"
    return done


@pytest.fixture
def outbox_settings(settings: Settings) -> Settings:
    """Maintenance every second and stranded jobs published after a second: the outbox
    looks at Created jobs all the time (held ones are not stranded)."""
    return replace(settings, maintenance_interval=1.0, publish_grace=1.0)


def test_a_paused_queue_holds_its_jobs_across_restarts_and_resume_runs_them_in_order(
    manager: JobManager, processes: Processes, settings: Settings
) -> None:
    worker = processes.worker(settings, concurrency=1)
    beat = start_beat(processes, settings)
    busy = manager.start_job("diagnostics.sleep", {"steps": 1, "seconds": 60})
    wait_for(lambda: manager.get_job(busy.id).status is JobStatus.PROCESSING, "a busy worker")
    # queued before the pause: the worker holds them when it gets their messages
    ids = [manager.start_job(ECHO, {"message": f"job {n}"}).id for n in range(JOBS // 2)]
    pause = manager.pause("queue", "default", reason="migration")
    why = f"Paused: queue {settings.queue}, by {Actor.local().identity} (migration)"
    assert pause.text() == why
    # started while paused: recorded held
    ids += [manager.start_job(ECHO, {"message": f"job {n}"}).id for n in range(JOBS // 2, JOBS)]
    manager.cancel_job(busy.id)  # a running job is not paused: it goes on unless stopped

    wait_for(lambda: all_held(manager, ids), "the jobs to be held")
    time.sleep(1.5)  # several release rounds
    assert_held_and_never_ran(manager, ids, why)
    before = histories(manager, ids)
    assert all(len(history) <= 3 for history in before.values()), before  # no churn
    for job_id in ids[: JOBS // 2]:  # published, refused by the worker's claim, held
        assert before[job_id] == [
            (1, JobStatus.CREATED, None),
            (1, JobStatus.QUEUED, None),
            (1, JobStatus.CREATED, why),
        ]

    worker, beat = restart(processes, settings, worker, beat)
    time.sleep(3)  # the new worker's release rounds, the new beat's ticks
    assert_held_and_never_ran(manager, ids, why)
    assert histories(manager, ids) == before, "held jobs went round through the broker"
    assert [p.target for p in manager.pauses()] == [settings.queue]

    manager.resume("queue", settings.queue)

    run_in_creation_order(manager, ids)
    assert manager.pauses() == []


def test_a_paused_type_holds_its_jobs_while_others_run_and_resume_runs_them_in_order(
    processes: Processes, outbox_settings: Settings
) -> None:
    settings = outbox_settings
    manager = JobManager.from_settings(settings)
    try:
        worker = processes.worker(settings, concurrency=1)
        beat = start_beat(processes, settings)
        manager.pause("type", ECHO, actor="ops@example.com")
        why = f"Paused: type {ECHO}, by ops@example.com"

        ids = [manager.start_job(ECHO, {"message": f"job {n}"}).id for n in range(JOBS)]
        wait_for(lambda: all_held(manager, ids), "the jobs to be held")
        other = manager.start_job("diagnostics.sleep", {"steps": 1, "seconds": 0})
        (done,) = manager.wait_for_completion([other.id], timeout=30)
        assert done.status is JobStatus.COMPLETED, "another type's job was held too"
        time.sleep(2.5)  # the outbox ran at least twice (publish grace: 1 s)
        assert_held_and_never_ran(manager, ids, why)
        before = histories(manager, ids)
        assert all(len(history) <= 3 for history in before.values()), before

        worker, beat = restart(processes, settings, worker, beat)
        time.sleep(3)
        assert_held_and_never_ran(manager, ids, why)
        assert histories(manager, ids) == before, "the outbox or the broker moved held jobs"

        manager.resume("type", ECHO)

        run_in_creation_order(manager, ids)
    finally:
        manager.close()


@pytest.mark.parametrize("kind", ["queue", "type"])
def test_cancelling_a_paused_job_ends_it_cancelled_and_it_never_runs(
    manager: JobManager, processes: Processes, settings: Settings, kind: str
) -> None:
    processes.worker(settings, concurrency=1)
    manager.pause(kind, settings.queue if kind == "queue" else ECHO)
    ids = [manager.start_job(ECHO, {"message": f"job {n}"}).id for n in range(3)]
    wait_for(lambda: all_held(manager, ids), "the jobs to be held")

    cancelled = manager.cancel_job(ids[1])

    assert cancelled.status is JobStatus.CANCELLED
    assert not cancelled.held
    manager.resume(kind, settings.queue if kind == "queue" else ECHO)
    done = manager.wait_for_completion([ids[0], ids[2]], timeout=30)
    assert {job.status for job in done} == {JobStatus.COMPLETED}
    time.sleep(1)  # a round or two more: the cancelled one stays as it is
    job = manager.get_job(ids[1])
    assert (job.status, job.held, job.started_at) == (JobStatus.CANCELLED, False, None)
    assert JobStatus.PROCESSING not in {e.status for e in manager.job_events(ids[1])}


# -- a paused schedule -------------------------------------------------------------------


def due_times(manager: JobManager) -> list[datetime]:
    """The due times the echo schedule fired, each as often as it fired."""
    found = []
    for job in manager.find_jobs(job_type=ECHO, limit=1000):
        request = job.client_request_id or ""
        if request.startswith("schedule/"):
            found.append(datetime.fromisoformat(request.rsplit("/", 1)[1]))
    return sorted(found)


@pytest.mark.parametrize("by", ["schedule name", "job type"])
def test_a_paused_schedule_does_not_fire_across_a_beat_restart_and_fires_after_resume(
    manager: JobManager, processes: Processes, settings: Settings, by: str
) -> None:
    beat = start_beat(processes, settings)
    (schedule,) = manager.set_job_schedule(ECHO, interval=timedelta(seconds=1))
    target = schedule.name if by == "schedule name" else ECHO
    wait_for(lambda: len(due_times(manager)) >= 2, "two fires")

    manager.pause("schedule", target, reason="quiet please")
    paused_at = manager.app.runtime.workers.now()
    time.sleep(1.5)  # a fire already under way when the pause came may still land
    fired = len(due_times(manager))
    time.sleep(2)
    assert len(due_times(manager)) == fired, "a paused schedule fired"
    beat.stop()
    start_beat(processes, settings)
    time.sleep(4)
    assert len(due_times(manager)) == fired, "a paused schedule fired after beat restarted"
    (still,) = manager.get_job_schedules(ECHO)
    assert still.next_fire_at is not None

    manager.resume("schedule", target)
    resumed_at = manager.app.runtime.workers.now()

    wait_for(lambda: len(due_times(manager)) >= fired + 2, "fires after resume", timeout=10)
    due = due_times(manager)
    assert len(due) == len(set(due)), "a due time fired twice"
    while_paused = [
        t for t in due if paused_at + timedelta(seconds=1.5) < t < resumed_at - timedelta(seconds=1)
    ]
    # paused longer than a slow tick's tolerance: missed due times are not fired one by
    # one on resume; at most the latest one (catch-up) fires
    assert while_paused == [], while_paused
