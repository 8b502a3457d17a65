"""The lifecycle through real Redis, PostgreSQL and ``jobhub worker`` processes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from jobhub import JobManager, JobStatus, Settings
from tests.conftest import Process, Processes


def test_job_runs_through_every_status_with_ordered_timestamps(
    manager: JobManager, worker: Process
) -> None:
    job = manager.start_job(
        "diagnostics.sleep", {"steps": 3, "seconds": 0.1}, identity="alice", organization="acme"
    )
    assert job.status is JobStatus.QUEUED

    (done,) = manager.wait_for_completion([job.id], timeout=30)

    assert done.status is JobStatus.COMPLETED
    assert done.percent == 100
    assert done.result == {"steps": 3, "seconds": 0.1}
    assert done.worker_id is not None
    assert done.worker_id.startswith("w")
    assert done.attempt == 1
    assert done.identity == "alice"
    assert done.organization == "acme"
    assert done.queued_at is not None
    assert done.started_at is not None
    assert done.completed_at is not None
    assert done.created_at <= done.queued_at <= done.started_at <= done.completed_at
    statuses = [event.status for event in manager.job_events(job.id)]
    assert statuses == [
        JobStatus.CREATED,
        JobStatus.QUEUED,
        JobStatus.PROCESSING,
        JobStatus.COMPLETED,
    ]
    assert [m.text for m in manager.user_messages(job.id)] == [
        "step 1 of 3 done",
        "step 2 of 3 done",
        "step 3 of 3 done",
    ]


def test_progress_and_messages_are_visible_while_the_job_runs(
    manager: JobManager, worker: Process
) -> None:
    job = manager.start_job("diagnostics.sleep", {"steps": 4, "seconds": 0.6})
    deadline = time.monotonic() + 20
    seen = manager.get_job(job.id)
    while not (seen.status is JobStatus.PROCESSING and 0 < seen.percent < 100):
        assert time.monotonic() < deadline, f"never saw progress: {seen}"
        time.sleep(0.05)
        seen = manager.get_job(job.id)
    assert seen.status_text is not None
    assert seen.status_text.startswith("step ")
    assert manager.user_messages(job.id)
    manager.wait_for_completion([job.id], timeout=30)


def test_failing_job_ends_completed_with_errors_with_its_traceback(
    manager: JobManager, worker: Process
) -> None:
    job = manager.start_job("diagnostics.sleep", {"steps": 3, "seconds": 0.05, "fail_at_step": 2})

    (done,) = manager.wait_for_completion([job.id], timeout=30)

    assert done.status is JobStatus.COMPLETED_WITH_ERRORS
    assert done.error is not None
    assert done.error.type == "CanaryError"
    assert "failing at step 2 of 3" in done.error.message
    assert done.error.traceback is not None
    assert "CanaryError" in done.error.traceback
    assert done.completed_at is not None
    assert done.result is None
    assert [e.status for e in manager.job_events(job.id)][-1] is JobStatus.COMPLETED_WITH_ERRORS


def test_cancelled_queued_job_never_runs(manager: JobManager, worker: Process) -> None:
    busy = [manager.start_job("diagnostics.sleep", {"steps": 40, "seconds": 0.1}) for _ in range(2)]
    _wait_for(lambda: all(manager.get_job(j.id).status is JobStatus.PROCESSING for j in busy))
    waiting = manager.start_job("diagnostics.echo", {"message": "never"})

    cancelled = manager.cancel_job(waiting.id)
    assert cancelled.status is JobStatus.CANCELLED
    for job in busy:
        manager.cancel_job(job.id)
    manager.wait_for_completion([j.id for j in busy], timeout=20)
    worker.wait_for_log(str(waiting.id), timeout=20)  # the worker got the message and dropped it

    final = manager.get_job(waiting.id)
    assert final.status is JobStatus.CANCELLED
    assert final.started_at is None
    assert final.worker_id is None
    assert JobStatus.PROCESSING not in [e.status for e in manager.job_events(waiting.id)]


def test_cancelled_running_job_stops_within_seconds(manager: JobManager, worker: Process) -> None:
    job = manager.start_job("diagnostics.sleep", {"steps": 100, "seconds": 0.5})
    _wait_for(lambda: manager.get_job(job.id).status is JobStatus.PROCESSING)

    asked = manager.cancel_job(job.id, actor="ops")
    assert asked.status is JobStatus.PROCESSING
    assert asked.cancel_requested
    started = time.monotonic()
    (done,) = manager.wait_for_completion([job.id], timeout=10)

    assert done.status is JobStatus.CANCELLED
    assert time.monotonic() - started < 3
    assert done.percent < 100
    assert done.completed_at is not None
    assert done.modified_by == "ops"


def test_rerun_queues_a_new_attempt_and_keeps_the_history(
    manager: JobManager, worker: Process
) -> None:
    job = manager.start_job("diagnostics.echo", {"message": "again"})
    manager.wait_for_completion([job.id], timeout=20)

    rerun = manager.rerun_job(job.id)
    assert rerun.attempt == 2
    (done,) = manager.wait_for_completion([job.id], timeout=20)

    assert done.status is JobStatus.COMPLETED
    assert done.attempt == 2
    assert done.result == {"message": "again", "data": None}
    history = [(e.attempt, e.status) for e in manager.job_events(job.id)]
    assert history == [
        (1, JobStatus.CREATED),
        (1, JobStatus.QUEUED),
        (1, JobStatus.PROCESSING),
        (1, JobStatus.COMPLETED),
        (2, JobStatus.CREATED),
        (2, JobStatus.QUEUED),
        (2, JobStatus.PROCESSING),
        (2, JobStatus.COMPLETED),
    ]


def test_duplicate_delivery_after_completion_changes_nothing(
    manager: JobManager, worker: Process
) -> None:
    job = manager.start_job("diagnostics.echo", {"message": "once"})
    (done,) = manager.wait_for_completion([job.id], timeout=20)
    events_before = manager.job_events(job.id)

    # the same message again, as a broker redelivery would bring it
    manager.app.dispatcher.publish("diagnostics.echo", job.id, 1, done.parameters)
    worker.wait_for_log("message not run: job is Completed", timeout=20)

    after = manager.get_job(job.id)
    assert after == done
    assert manager.job_events(job.id) == events_before


def test_job_over_its_time_limit_ends_completed_with_errors(
    manager: JobManager, processes: Processes, settings: Settings
) -> None:
    processes.worker(replace(settings, default_time_limit=1.0))
    job = manager.start_job("diagnostics.sleep", {"steps": 1, "seconds": 5})

    (done,) = manager.wait_for_completion([job.id], timeout=30)

    assert done.status is JobStatus.COMPLETED_WITH_ERRORS
    assert done.error is not None
    assert done.error.type == "SoftTimeLimitExceeded"
    assert "time limit" in done.error.message


def _wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.05)


def test_a_started_worker_registers_the_job_types_it_runs(
    manager: JobManager, worker: Process
) -> None:
    _wait_for(lambda: manager.is_job_registered("diagnostics.sleep"))

    registered = {state.name: state for state in manager.registered_jobs()}

    # this test process may have loaded test-only (and benchmark) job modules the worker
    # does not run
    shipped = {
        d.name for d in manager.available_job_types() if not d.name.startswith(("tests.", "bench."))
    }
    assert set(registered) == shipped
    assert registered["maintenance.purge_jobs"].start_type.value == "TimerOnly"
    assert registered["diagnostics.echo"].last_job is None
