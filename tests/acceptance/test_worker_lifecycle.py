"""The lifecycle through real Redis, PostgreSQL and ``jobhub worker`` processes."""

from __future__ import annotations

import time

from jobhub import JobManager, JobStatus
from tests.conftest import Process


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
