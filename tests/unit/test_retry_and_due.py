"""Retries and due jobs on the in-memory twin: ``jobhub.housekeeping.retry`` and ``.due``.

A failed attempt with attempts left goes back to Created with its due time within the
backoff's bounds, keeping its error in its own event; the due publisher publishes a job
only once its time has come, and only once; a publish the broker refuses is the outbox's.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from uuid import uuid4

import pytest

from jobhub.config import Settings
from jobhub.dispatch import JobHubCelery
from jobhub.errors import DoNotRetry, InvalidInput, InvalidParameters
from jobhub.housekeeping.due import DueLoop, DuePublisher
from jobhub.housekeeping.outbox import Outbox
from jobhub.housekeeping.retry import may_retry, retry_by_id, retry_later
from jobhub.jobs import Job, JobError, JobStatus
from jobhub.lifecycle import Transition
from jobhub.manager.job_manager import JobManager
from jobhub.messages import ATTEMPT_HEADER
from jobhub.placement import starts_text
from jobhub.retries import failed_text, waiting_text
from jobhub.testing import MemoryRuntime
from tests.support.memory import Clock, RecordingBroker, memory_runtime, start
from workers.diagnostics import CanaryError, FlakyError

S = timedelta(seconds=1)
GRACE = 30.0
FLAKY = FlakyError("attempt fails")
BOOM = JobError(type="FlakyError", message="attempt fails", traceback="Traceback: ...")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def broker() -> RecordingBroker:
    return RecordingBroker()


@pytest.fixture
def runtime(clock: Clock) -> MemoryRuntime:
    return memory_runtime(clock, publish_grace=GRACE)


def claim(runtime: MemoryRuntime, job: Job) -> Job:
    """The job's current attempt taken by a worker: Processing."""
    runtime.settle()
    attempt = runtime.store.get(job.id).attempt
    [claimed] = runtime.writes.write(
        transitions=[
            Transition(
                job_id=job.id,
                attempt=attempt,
                status=JobStatus.PROCESSING,
                at=runtime.clock(),
                worker_id="w1@host/1",
            )
        ]
    )
    assert claimed is not None
    return runtime.store.get(job.id)


def fail(runtime: MemoryRuntime, job: Job, cause: BaseException | str = FLAKY) -> datetime | None:
    """The job's current attempt failed with ``cause``: its retry, if any."""
    return retry_later(runtime, job, error=BOOM, cause=cause)


# -- a failed attempt, retried --------------------------------------------------------------------


def test_a_failure_with_attempts_left_waits_for_the_next_attempt_within_the_backoff(
    clock: Clock, runtime: MemoryRuntime, broker: RecordingBroker
) -> None:
    publisher = DuePublisher(runtime, broker.dispatcher(runtime).publish)
    job = claim(runtime, start(broker.dispatcher(runtime), "diagnostics.flaky"))
    failed_at = clock()

    due = fail(runtime, job)

    assert due is not None
    assert failed_at + 0.8 * S <= due <= failed_at + 1.2 * S  # 1 s, jitter 0.2
    waiting = runtime.store.get(job.id)
    assert waiting.waiting
    assert (waiting.status, waiting.attempt, waiting.retries, waiting.worker_id) == (
        JobStatus.CREATED,
        2,
        1,
        None,
    )
    assert (waiting.due_at, waiting.status_text) == (due, waiting_text(2, 5, due))
    ended, created = runtime.store.events(job.id)[-2:]
    assert (ended.status, ended.attempt, ended.error) == (
        JobStatus.COMPLETED_WITH_ERRORS,
        1,
        BOOM,
    )
    assert ended.message == failed_text(1, 5, "FlakyError", "attempt fails")
    assert (created.status, created.attempt, created.message) == (
        JobStatus.CREATED,
        2,
        waiting.status_text,
    )
    assert publisher.publish_due() == []  # not yet due
    assert len(broker.sent) == 1

    clock.now = due
    assert publisher.publish_due() == [job.id]
    assert [m.headers[ATTEMPT_HEADER] for m in broker.sent] == [1, 2]
    runtime.settle()
    assert runtime.store.get(job.id).status_text == "attempt 2 of 5"

    second_failure = clock()
    due = fail(runtime, claim(runtime, job))

    assert due is not None
    assert second_failure + 1.6 * S <= due <= second_failure + 2.4 * S  # 2 s, jitter 0.2


def test_every_attempts_error_stays_readable(
    clock: Clock, runtime: MemoryRuntime, broker: RecordingBroker
) -> None:
    publisher = DuePublisher(runtime, broker.dispatcher(runtime).publish)
    job = start(broker.dispatcher(runtime), "diagnostics.flaky")
    for n in (1, 2, 3):
        error = JobError(type="FlakyError", message=f"attempt {n} fails", traceback=f"tb {n}")
        assert (
            retry_later(runtime, claim(runtime, job), error=error, cause=FlakyError()) is not None
        )
        clock.advance(10)
        assert publisher.publish_due() == [job.id]

    errors = [e.error for e in runtime.store.events(job.id) if e.error is not None]

    assert [(e.type, e.message, e.traceback) for e in errors] == [
        ("FlakyError", f"attempt {n} fails", f"tb {n}") for n in (1, 2, 3)
    ]


def test_when_the_attempts_are_spent_the_failure_is_not_retried(
    clock: Clock, runtime: MemoryRuntime, broker: RecordingBroker
) -> None:
    job = start(broker.dispatcher(runtime), "diagnostics.flaky", max_attempts=2)
    assert fail(runtime, claim(runtime, job)) is not None
    clock.advance(10)
    DuePublisher(runtime, broker.dispatcher(runtime).publish).publish_due()
    last = claim(runtime, job)
    events = len(runtime.store.events(job.id))

    assert fail(runtime, last) is None

    after = runtime.store.get(job.id)
    assert (after.status, after.attempt, after.retries) == (JobStatus.PROCESSING, 2, 1)
    assert len(runtime.store.events(job.id)) == events  # the caller ends the attempt


def test_a_job_whose_cancel_was_requested_is_not_retried(
    runtime: MemoryRuntime, broker: RecordingBroker
) -> None:
    job = claim(runtime, start(broker.dispatcher(runtime), "diagnostics.flaky"))
    runtime.writes.request_cancel(job.id, at=runtime.clock(), actor="bob", cancel_running=True)

    assert fail(runtime, runtime.store.get(job.id)) is None
    assert runtime.store.get(job.id).status is JobStatus.PROCESSING


@pytest.mark.parametrize(
    ("job_type", "cause"),
    [
        ("diagnostics.flaky", DoNotRetry("for good")),
        ("diagnostics.flaky", InvalidParameters("diagnostics.flaky", {"x": "bad"})),
        ("diagnostics.flaky", "ResultNotSerializable"),
        ("diagnostics.sleep", CanaryError("asked for")),  # its policy's never_retry
        ("diagnostics.echo", RuntimeError("one attempt only")),  # no retry policy
    ],
    ids=["do-not-retry", "invalid-parameters", "result-not-json", "never-retry", "no-policy"],
)
def test_a_failure_the_policy_does_not_retry_ends_the_attempt(
    runtime: MemoryRuntime, broker: RecordingBroker, job_type: str, cause: BaseException | str
) -> None:
    job = claim(runtime, start(broker.dispatcher(runtime), job_type))

    assert fail(runtime, job, cause) is None
    assert runtime.store.get(job.id).status is JobStatus.PROCESSING
    assert may_retry(job_type, cause) is False


@pytest.mark.parametrize(
    ("job_type", "cause", "retried"),
    [
        ("diagnostics.flaky", FlakyError(), True),
        ("diagnostics.flaky", "WorkerLost", True),
        ("diagnostics.sleep", "WorkerLost", True),
        ("diagnostics.sleep", TimeoutError(), True),
        ("diagnostics.echo", "WorkerLost", False),
        ("no.such.type", FlakyError(), False),
    ],
)
def test_may_retry_asks_the_types_policy(
    job_type: str, cause: BaseException | str, retried: bool
) -> None:
    assert may_retry(job_type, cause) is retried


def test_a_retry_of_an_attempt_that_already_moved_on_does_nothing(
    runtime: MemoryRuntime, broker: RecordingBroker
) -> None:
    job = claim(runtime, start(broker.dispatcher(runtime), "diagnostics.flaky"))

    assert retry_by_id(runtime, job.id, 2, error=BOOM, cause=FlakyError()) is None
    assert retry_by_id(runtime, uuid4(), 1, error=BOOM, cause=FlakyError()) is None
    assert retry_by_id(runtime, job.id, 1, error=BOOM, cause=FlakyError()) is not None
    assert retry_by_id(runtime, job.id, 1, error=BOOM, cause=FlakyError()) is None  # once
    assert runtime.store.get(job.id).retries == 1


# -- due jobs published ----------------------------------------------------------------------------


def test_a_delayed_job_is_published_once_when_due_and_not_before(
    clock: Clock, runtime: MemoryRuntime, broker: RecordingBroker
) -> None:
    dispatcher = broker.dispatcher(runtime)
    publisher = DuePublisher(runtime, dispatcher.publish)
    due = clock() + 3 * S
    job = start(dispatcher, "diagnostics.echo", {"message": "later"}, due_at=due, queue="later")

    assert (job.status, job.due_at, job.status_text) == (JobStatus.CREATED, due, starts_text(due))
    assert broker.sent == []
    clock.now = due - timedelta(milliseconds=1)
    assert publisher.publish_due() == []

    clock.now = due
    assert publisher.publish_due() == [job.id]
    assert publisher.publish_due() == []

    [message] = broker.sent
    assert (message.task_id, message.headers[ATTEMPT_HEADER]) == (str(job.id), 1)
    assert message.options["queue"] == "later"
    assert message.kwargs == {"message": "later", "data": None}
    runtime.settle()
    published = runtime.store.get(job.id)
    assert (published.status, published.due_at, published.status_text) == (
        JobStatus.QUEUED,
        None,
        None,
    )
    assert [e.status for e in runtime.store.events(job.id)] == [
        JobStatus.CREATED,
        JobStatus.QUEUED,
    ]


def test_of_two_publishers_each_due_job_is_published_by_one(
    clock: Clock, runtime: MemoryRuntime, broker: RecordingBroker
) -> None:
    dispatcher = broker.dispatcher(runtime)
    due = clock() + S
    jobs = [start(dispatcher, "diagnostics.echo", due_at=due) for _ in range(30)]
    publishers = [DuePublisher(runtime, broker.dispatcher(runtime).publish) for _ in range(2)]
    clock.now = due

    published = [job_id for _ in range(3) for p in publishers for job_id in p.publish_due(limit=7)]

    assert sorted(published) == sorted(job.id for job in jobs)
    assert sorted(m.task_id for m in broker.sent) == sorted(str(job.id) for job in jobs)


def test_a_due_job_the_broker_refuses_is_left_to_the_outbox(
    clock: Clock, runtime: MemoryRuntime, broker: RecordingBroker
) -> None:
    dispatcher = broker.dispatcher(runtime)
    publisher = DuePublisher(runtime, dispatcher.publish)
    job = start(dispatcher, "diagnostics.echo", due_at=clock() + S)
    clock.advance(1)
    broker.down = True

    assert publisher.publish_due() == []

    stranded = runtime.store.get(job.id)
    assert (stranded.status, stranded.due_at, stranded.waiting) == (JobStatus.CREATED, None, False)
    broker.down = False
    assert publisher.publish_due() == []  # taken once: the due publisher is done with it
    outbox = Outbox(runtime, dispatcher.publish, lambda queues: set())
    assert outbox.reconcile().published == []  # within its grace
    clock.advance(GRACE + 1)
    assert outbox.reconcile().published == [job.id]
    assert [m.task_id for m in broker.sent] == [str(job.id)]


def test_the_due_loop_publishes_in_the_background_and_outlasts_a_database_outage(
    clock: Clock, runtime: MemoryRuntime, broker: RecordingBroker
) -> None:
    dispatcher = broker.dispatcher(runtime)
    job = start(dispatcher, "diagnostics.echo", due_at=clock() + S)
    clock.advance(2)
    runtime.store.unavailable = True
    loop = DueLoop(DuePublisher(runtime, dispatcher.publish), interval=0.01)
    loop.start()
    try:
        time.sleep(0.1)  # a few rounds against a database that is away
        assert broker.sent == []
        runtime.store.unavailable = False
        deadline = time.monotonic() + 10
        while not broker.sent:
            assert time.monotonic() < deadline, "the due loop never published the job"
            time.sleep(0.01)
    finally:
        loop.stop()

    assert [m.task_id for m in broker.sent] == [str(job.id)]
    assert not any(t.name == "jobhub-due" and t.is_alive() for t in threading.enumerate())


# -- the attempts a start asks for ----------------------------------------------------------------


def test_a_start_may_lower_the_attempts_its_types_policy_allows_but_not_raise_them(
    clock: Clock, runtime: MemoryRuntime
) -> None:
    manager = JobManager(JobHubCelery(Settings(), runtime=runtime))
    later = timedelta(hours=1)  # waits: nothing is published

    assert manager.start_job("diagnostics.flaky", delay=later).max_attempts == 5
    lowered = manager.start_job("diagnostics.flaky", delay=later, max_attempts=2)
    assert runtime.store.get(lowered.id).max_attempts == 2
    for job_type, wrong, allowed in [
        ("diagnostics.flaky", 6, 5),
        ("diagnostics.flaky", 0, 5),
        ("diagnostics.echo", 2, 1),
    ]:
        with pytest.raises(InvalidInput, match=f"between 1 and {allowed}"):
            manager.start_job(job_type, delay=later, max_attempts=wrong)
    assert len(runtime.store.jobs()) == 2  # nothing written for the refused starts
