"""Retries and delayed starts with real workers on PostgreSQL and Redis.

The delays between attempts are checked against the retry policy's bounds: never before
the shortest delay, and at most the longest delay plus a round of the due publisher
(``jobhub.housekeeping.due.POLL_INTERVAL``) and a little publishing time. Jobs that wait
(for their start time or their retry) live in the database only, so they outlast every
jobhub process; of several workers, each publishes a due job exactly once between them.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobhub import JobManager, JobStatus, Settings
from jobhub.errors import NotWaiting
from jobhub.housekeeping.due import POLL_INTERVAL
from jobhub.jobs import Job, JobEvent
from tests.conftest import Process, Processes, run_cli, settings_env
from tests.support.retry_jobs import BACKOFF

S = timedelta(seconds=1)
SLACK = timedelta(seconds=POLL_INTERVAL) + 0.75 * S
"""Beyond the policy's longest delay: a round of the due publisher, and publishing."""
RETRY_JOBS = ("workers", "tests.support.retry_jobs")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def first(events: list[JobEvent], status: JobStatus, attempt: int) -> JobEvent:
    [event] = [e for e in events if e.status is status and e.attempt == attempt]
    return event


def count(events: list[JobEvent], status: JobStatus) -> Counter[int]:
    """How many events of ``status`` each attempt has."""
    return Counter(e.attempt for e in events if e.status is status)


@pytest.fixture
def slow_settings(settings: Settings) -> Settings:
    """The test's settings with ``tests.slow_flaky`` (5 s between attempts) declared."""
    return replace(settings, job_modules=RETRY_JOBS)


@pytest.fixture
def slow_manager(slow_settings: Settings) -> Iterator[JobManager]:
    jobs = JobManager.from_settings(slow_settings)
    yield jobs
    jobs.close()


def slow_worker(processes: Processes, settings: Settings) -> Process:
    """A real worker that also runs ``tests.slow_flaky``."""
    node = f"r{uuid.uuid4().hex[:8]}@%h"
    env = settings_env(settings) | {"JOBHUB_JOB_MODULES": ",".join(RETRY_JOBS)}
    process = processes.start("worker", ["worker", "--concurrency=2", f"--hostname={node}"], env)
    process.wait_for_log(" ready.", timeout=60)
    return process


def waiting_for_attempt(manager: JobManager, job_id: uuid.UUID, attempt: int) -> Job:
    """The job once it waits for ``attempt`` of its run."""
    wait_for(
        lambda: (job := manager.get_job(job_id)).waiting and job.attempt_in_run == attempt,
        f"job {job_id} to wait for attempt {attempt}",
    )
    return manager.get_job(job_id)


# -- failures retried -----------------------------------------------------------------------------


def test_a_job_that_fails_twice_completes_on_its_third_attempt_within_the_backoff(
    manager: JobManager, worker: Process
) -> None:
    job = manager.start_job("diagnostics.flaky", {"fail_times": 2})

    (done,) = manager.wait_for_completion([job.id], timeout=30)

    assert done.status is JobStatus.COMPLETED
    assert (done.attempt, done.attempt_in_run, done.retries, done.max_attempts) == (3, 3, 2, 5)
    assert done.result == {"attempt": 3, "failed_before": 2}
    assert done.error is None
    events = manager.job_events(job.id)
    failures = [e for e in events if e.status is JobStatus.COMPLETED_WITH_ERRORS]
    assert [e.attempt for e in failures] == [1, 2]
    for failure in failures:
        assert failure.error is not None
        assert failure.error.type == "FlakyError"
        assert failure.error.message == f"attempt {failure.attempt} fails, as asked"
        assert failure.error.traceback is not None
        assert "FlakyError" in failure.error.traceback
        assert failure.message == (
            f"attempt {failure.attempt} of 5 failed: FlakyError: {failure.error.message}"
        )
    # 1 s then 2 s, jitter 0.2 (workers/diagnostics.py)
    for failure, (low, high) in zip(
        failures, [(0.8 * S, 1.2 * S), (1.6 * S, 2.4 * S)], strict=True
    ):
        waiting = first(events, JobStatus.CREATED, failure.attempt + 1)
        assert waiting.message is not None
        assert waiting.message.startswith(f"attempt {failure.attempt + 1} of 5 at ")
        queued = first(events, JobStatus.QUEUED, failure.attempt + 1)
        delay = queued.at - failure.at
        assert delay >= low, f"attempt {failure.attempt + 1} published after only {delay}"
        assert delay <= high + SLACK, f"attempt {failure.attempt + 1} published after {delay}"
    assert count(events, JobStatus.PROCESSING) == {1: 1, 2: 1, 3: 1}


def test_a_job_that_always_fails_ends_after_its_last_attempt_with_every_error_kept(
    manager: JobManager, worker: Process
) -> None:
    job = manager.start_job("diagnostics.flaky", {"fail_times": 10}, max_attempts=3)

    (done,) = manager.wait_for_completion([job.id], timeout=30)

    assert done.status is JobStatus.COMPLETED_WITH_ERRORS
    assert (done.attempt, done.retries, done.max_attempts) == (3, 2, 3)
    assert done.error is not None
    assert (done.error.type, done.error.message) == ("FlakyError", "attempt 3 fails, as asked")
    events = manager.job_events(job.id)
    kept = [e.error for e in events if e.error is not None]
    assert kept[-1] == done.error
    assert [(error.type, error.message) for error in kept] == [
        ("FlakyError", f"attempt {n} fails, as asked") for n in (1, 2, 3)
    ]
    assert all(error.traceback for error in kept)
    assert count(events, JobStatus.PROCESSING) == {1: 1, 2: 1, 3: 1}
    assert count(events, JobStatus.CREATED) == {1: 1, 2: 1, 3: 1}


def test_a_failure_that_must_not_be_retried_ends_the_job_at_once(
    manager: JobManager, worker: Process
) -> None:
    job = manager.start_job("diagnostics.flaky", {"fail_times": 3, "permanent": True})

    (done,) = manager.wait_for_completion([job.id], timeout=30)

    assert done.status is JobStatus.COMPLETED_WITH_ERRORS
    assert (done.attempt, done.retries) == (1, 0)
    assert done.error is not None
    assert done.error.type == "DoNotRetry"
    assert [(e.status, e.attempt) for e in manager.job_events(job.id)] == [
        (JobStatus.CREATED, 1),
        (JobStatus.QUEUED, 1),
        (JobStatus.PROCESSING, 1),
        (JobStatus.COMPLETED_WITH_ERRORS, 1),
    ]


# -- a delayed start ------------------------------------------------------------------------------


def test_a_job_started_with_a_delay_runs_when_due_and_not_before(
    manager: JobManager, worker: Process
) -> None:
    job = manager.start_job(
        "diagnostics.sleep", {"steps": 1, "seconds": 1.5}, delay=timedelta(seconds=3)
    )
    assert job.due_at is not None
    assert job.waiting
    assert job.status_text == f"starts at {job.due_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"

    seen: list[tuple[datetime, JobStatus]] = []

    def started() -> bool:
        now = datetime.now(UTC)
        seen.append((now, manager.get_job(job.id).status))
        return seen[-1][1] is not JobStatus.CREATED

    wait_for(started, "the delayed job to start", timeout=15)

    assert all(status is JobStatus.CREATED for at, status in seen if at < job.due_at)
    # Queued first, then a worker claims it (the job runs 1.5 s, so Processing is seen)
    wait_for(
        lambda: manager.get_job(job.id).status is not JobStatus.QUEUED,
        "a worker to claim the delayed job",
        timeout=15,
    )
    ran = manager.get_job(job.id)
    assert ran.status is JobStatus.PROCESSING
    assert ran.started_at is not None
    assert job.due_at <= ran.started_at <= job.due_at + 3 * S  # the due loop polls 4/s
    (done,) = manager.wait_for_completion([job.id], timeout=15)
    assert done.status is JobStatus.COMPLETED
    events = manager.job_events(job.id)
    assert first(events, JobStatus.QUEUED, 1).at >= job.due_at
    assert count(events, JobStatus.PROCESSING) == {1: 1}


# -- a job waiting for its retry: cancelled, or started at once ----------------------------------


def test_a_job_waiting_for_its_retry_can_be_cancelled_and_never_runs_again(
    slow_manager: JobManager, processes: Processes, slow_settings: Settings
) -> None:
    slow_worker(processes, slow_settings)
    job = slow_manager.start_job("tests.slow_flaky", {"fail_times": 2})
    waiting = waiting_for_attempt(slow_manager, job.id, 2)
    assert waiting.status_text is not None
    assert waiting.status_text.startswith("attempt 2 of 3 at ")

    cancelled = slow_manager.cancel_job(job.id, actor="tester")

    assert cancelled.status is JobStatus.CANCELLED
    assert cancelled.due_at is None
    assert waiting.due_at is not None
    time.sleep((waiting.due_at - datetime.now(UTC)).total_seconds() + 1.0)  # past its due time
    after = slow_manager.get_job(job.id)
    assert (after.status, after.attempt) == (JobStatus.CANCELLED, 2)
    events = slow_manager.job_events(job.id)
    assert count(events, JobStatus.PROCESSING) == {1: 1}
    assert count(events, JobStatus.QUEUED) == {1: 1}


def test_retry_now_runs_a_job_waiting_for_its_retry_at_once(
    slow_manager: JobManager, processes: Processes, slow_settings: Settings
) -> None:
    slow_worker(processes, slow_settings)
    job = slow_manager.start_job("tests.slow_flaky", {"fail_times": 1})
    waiting = waiting_for_attempt(slow_manager, job.id, 2)
    assert waiting.due_at is not None

    slow_manager.retry_now(job.id, actor="tester")
    (done,) = slow_manager.wait_for_completion([job.id], timeout=30)

    assert done.status is JobStatus.COMPLETED
    assert done.result == {"attempt": 2}
    events = slow_manager.job_events(job.id)
    assert first(events, JobStatus.PROCESSING, 2).at < waiting.due_at  # well before 5 s
    assert [e.message for e in events if e.status is JobStatus.CREATED and e.attempt == 2][
        -1
    ] == "start now requested by tester"
    with pytest.raises(NotWaiting):
        slow_manager.retry_now(job.id)


# -- restarts and several publishers -------------------------------------------------------------


def test_delayed_and_waiting_jobs_outlast_a_restart_of_every_process(
    slow_manager: JobManager, processes: Processes, slow_settings: Settings
) -> None:
    before = slow_worker(processes, slow_settings)
    retried = slow_manager.start_job("tests.slow_flaky", {"fail_times": 1})
    delayed = [
        slow_manager.start_job("diagnostics.echo", {"message": f"later {n}"}, delay=4 * S)
        for n in range(5)
    ]
    waiting_for_attempt(slow_manager, retried.id, 2)

    before.kill()  # every jobhub process is gone; only the database knows the jobs
    assert all(slow_manager.get_job(job.id).waiting for job in [retried, *delayed])
    last_due = max(job.due_at or datetime.now(UTC) for job in delayed)
    time.sleep(max(0.0, (last_due - datetime.now(UTC)).total_seconds()) + 0.5)  # all due now
    slow_worker(processes, slow_settings)
    done = slow_manager.wait_for_completion([retried.id, *(job.id for job in delayed)], timeout=30)

    assert {job.status for job in done} == {JobStatus.COMPLETED}
    for job in delayed:
        events = slow_manager.job_events(job.id)
        assert count(events, JobStatus.QUEUED) == {1: 1}
        assert count(events, JobStatus.PROCESSING) == {1: 1}
    events = slow_manager.job_events(retried.id)
    assert count(events, JobStatus.PROCESSING) == {1: 1, 2: 1}
    assert first(events, JobStatus.QUEUED, 2).at - first(
        events, JobStatus.COMPLETED_WITH_ERRORS, 1
    ).at >= timedelta(seconds=BACKOFF.total_seconds())


DUE_TOGETHER = 250
"""More than one round of a due publisher takes (100): the workers' rounds overlap."""
PUBLISHED = re.compile(r"due job published \| job=(\S+)")
RECEIVED = re.compile(r"Task diagnostics\.echo\[([0-9a-f-]+)\] received")


def test_two_workers_publish_each_due_job_once_between_them(
    manager: JobManager, processes: Processes, settings: Settings
) -> None:
    workers = [processes.worker(settings), processes.worker(settings)]
    due = datetime.now(UTC) + 8 * S
    jobs = [
        manager.start_job("diagnostics.echo", {"message": f"due {n}"}, start_at=due)
        for n in range(DUE_TOGETHER)
    ]
    assert datetime.now(UTC) < due, "the jobs were not all started before their due time"
    assert all(job.due_at == due for job in jobs)

    done = manager.wait_for_completion([job.id for job in jobs], timeout=45)

    assert {job.status for job in done} == {JobStatus.COMPLETED}
    assert {job.attempt for job in done} == {1}
    for job in jobs:
        events = manager.job_events(job.id)
        assert count(events, JobStatus.QUEUED) == {1: 1}
        assert count(events, JobStatus.PROCESSING) == {1: 1}
    time.sleep(0.5)  # a duplicate message would reach a worker by now
    logs = "".join(worker.log() for worker in workers)
    ids = sorted(str(job.id) for job in jobs)
    assert sorted(PUBLISHED.findall(logs)) == ids  # one publish per job, by either worker
    assert sorted(RECEIVED.findall(logs)) == ids  # and one message delivered


# -- a lost worker ---------------------------------------------------------------------------------


def test_a_lost_worker_counts_as_a_failed_attempt_retried_after_its_backoff(
    manager: JobManager, processes: Processes, settings: Settings
) -> None:
    fast = replace(settings, heartbeat_interval=0.5, worker_timeout=3.0)
    doomed = processes.worker(fast)
    job = manager.start_job("diagnostics.sleep", {"steps": 8, "seconds": 0.25})
    wait_for(lambda: manager.get_job(job.id).status is JobStatus.PROCESSING, "the job to run")

    doomed.kill()
    processes.worker(fast)
    reaper = JobManager.from_settings(fast)  # a worker silent for 3 s is lost
    try:
        wait_for(
            lambda: job.id in reaper.housekeeping.reap_lost_jobs().requeued,
            "the reaper to find the lost job",
        )
    finally:
        reaper.close()
    (done,) = manager.wait_for_completion([job.id], timeout=30)

    assert done.status is JobStatus.COMPLETED
    assert (done.attempt, done.retries) == (2, 1)
    events = manager.job_events(job.id)
    lost = first(events, JobStatus.COMPLETED_WITH_ERRORS, 1)
    assert lost.error is not None
    assert lost.error.type == "WorkerLost"
    waiting = first(events, JobStatus.CREATED, 2)
    assert waiting.message is not None
    assert waiting.message.startswith("attempt 2 of 3 at ")
    # diagnostics.sleep keeps the default backoff: 1 s, jitter 0.1
    delay = first(events, JobStatus.QUEUED, 2).at - lost.at
    assert 0.9 * S <= delay <= 1.1 * S + SLACK
    assert count(events, JobStatus.PROCESSING) == {1: 1, 2: 1}


# -- the embedded default ------------------------------------------------------------------------


def test_the_embedded_default_retries_a_flaky_job_to_completion(
    tmp_path: Path, processes: Processes
) -> None:
    env = {"JOBHUB_DATA_DIR": str(tmp_path / "data")}
    assert run_cli(["db", "upgrade"], env).returncode == 0
    processes.start("worker", ["worker", "--concurrency=1"], env).wait_for_log(" ready.")

    result = run_cli(
        ["start", "diagnostics.flaky", "-p", "fail_times=2", "--wait", "--json"], env, timeout=60
    )

    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["status"] == "Completed"
    assert record["result"] == {"attempt": 3, "failed_before": 2}
    events = json.loads(run_cli(["events", record["id"], "--json"], env).stdout)
    failed = [e for e in events if e["status"] == "CompletedWithErrors"]
    assert [(e["attempt"], e["message"]) for e in failed] == [
        (n, f"attempt {n} of 5 failed: FlakyError: attempt {n} fails, as asked") for n in (1, 2)
    ]
    assert [e["attempt"] for e in events if e["status"] == "Processing"] == [1, 2, 3]
