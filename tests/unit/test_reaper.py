"""The reaper (``jobhub.housekeeping.reaper``) on the in-memory twin: lost workers' jobs."""

from __future__ import annotations

from jobhub.db.worker_store import job_worker_id
from jobhub.housekeeping.due import DuePublisher
from jobhub.housekeeping.reaper import Reaper, Recovered
from jobhub.jobs import Job, JobStatus
from jobhub.lifecycle import Transition
from jobhub.testing import MemoryRuntime
from tests.support.memory import Clock, RecordingBroker, memory_runtime, start

TIMEOUT = 60.0
WORKER = "w1@host/abcd"


def _running(runtime: MemoryRuntime, broker: RecordingBroker, job_type: str) -> Job:
    """A job claimed by a process of ``WORKER``."""
    job = start(broker.dispatcher(runtime), job_type)
    runtime.settle()
    [claimed] = runtime.writes.write(
        transitions=[
            Transition(
                job_id=job.id,
                attempt=1,
                status=JobStatus.PROCESSING,
                at=runtime.clock(),
                worker_id=job_worker_id(WORKER, 4242),
            )
        ]
    )
    assert claimed is not None
    return runtime.store.get(job.id)


def _setup(job_type: str) -> tuple[Clock, MemoryRuntime, RecordingBroker, Job]:
    clock = Clock()
    runtime = memory_runtime(clock, worker_timeout=TIMEOUT)
    broker = RecordingBroker()
    runtime.store.beat(WORKER)
    return clock, runtime, broker, _running(runtime, broker, job_type)


def test_a_silent_workers_job_is_tried_again_after_its_backoff() -> None:
    clock, runtime, broker, job = _setup("diagnostics.sleep")  # 3 attempts
    clock.advance(TIMEOUT + 1)

    report = Reaper(runtime).reap()

    assert (report.examined, report.requeued, report.failed) == (1, [job.id], [])
    runtime.settle()
    waiting = runtime.store.get(job.id)
    assert (waiting.status, waiting.attempt, waiting.retries, waiting.worker_id) == (
        JobStatus.CREATED,
        2,
        1,
        None,
    )
    assert waiting.due_at is not None
    assert waiting.due_at > clock()
    assert waiting.status_text is not None
    assert waiting.status_text.startswith("attempt 2 of 3 at")
    failed, created = runtime.store.events(job.id)[-2:]
    assert (failed.status, failed.attempt) == (JobStatus.COMPLETED_WITH_ERRORS, 1)
    assert failed.error is not None
    assert failed.error.type == "WorkerLost"
    assert (created.status, created.attempt) == (JobStatus.CREATED, 2)
    assert len(broker.sent) == 1, "published before its due time"

    clock.advance(5)
    published = DuePublisher(runtime, broker.dispatcher(runtime).publish).publish_due()

    assert published == [job.id]
    runtime.settle()
    assert runtime.store.get(job.id).status is JobStatus.QUEUED
    assert [(m.task_id, m.headers["jobhub_attempt"]) for m in broker.sent[1:]] == [(str(job.id), 2)]


def test_a_lost_job_whose_type_allows_no_retry_ends_worker_lost() -> None:
    _, runtime, broker, job = _setup("diagnostics.echo")  # max_retries=0
    runtime.store.stopped(WORKER)

    report = Reaper(runtime).reap()

    assert report.failed == [job.id]
    after = runtime.store.get(job.id)
    assert after.status is JobStatus.COMPLETED_WITH_ERRORS
    assert after.error is not None
    assert after.error.type == "WorkerLost"
    assert len(broker.sent) == 1  # only the original publish


def test_a_job_of_a_live_worker_is_left_alone() -> None:
    clock, runtime, _, job = _setup("diagnostics.sleep")
    clock.advance(TIMEOUT - 1)

    report = Reaper(runtime).reap()

    assert (report.requeued, report.failed) == ([], [])
    assert runtime.store.get(job.id).status is JobStatus.PROCESSING


def test_of_two_reapers_only_one_recovers_the_job() -> None:
    clock, runtime, _, job = _setup("diagnostics.sleep")
    clock.advance(TIMEOUT + 1)
    first = Reaper(runtime)
    second = Reaper(runtime)
    stale = runtime.store.get(job.id)

    assert first.recover(stale, "worker silent") is Recovered.REQUEUED
    assert second.recover(stale, "worker silent") is Recovered.MOVED_ON
    assert runtime.store.get(job.id).retries == 1


def test_a_requeue_the_broker_refuses_is_left_created_for_the_outbox() -> None:
    clock, runtime, broker, job = _setup("diagnostics.sleep")
    clock.advance(TIMEOUT + 1)
    broker.down = True

    report = Reaper(runtime).reap()

    assert report.requeued == [job.id]
    after = runtime.store.get(job.id)
    assert (after.status, after.attempt) == (JobStatus.CREATED, 2)
