"""The outbox (``jobhub.housekeeping.outbox``) on the in-memory twin: stranded and vanished
messages published again, once."""

from __future__ import annotations

from jobhub.housekeeping.outbox import Outbox
from jobhub.jobs import JobStatus
from jobhub.lifecycle import NewJob
from jobhub.testing import MemoryRuntime
from tests.support.memory import Clock, RecordingBroker, memory_runtime, start
from tests.support.rows import echo_row

GRACE = 30.0
REQUEUE_GRACE = 300.0


def _runtime(clock: Clock) -> MemoryRuntime:
    return memory_runtime(clock, publish_grace=GRACE, requeue_grace=REQUEUE_GRACE)


def test_a_job_stranded_in_created_is_published_once_past_its_grace() -> None:
    clock, broker = Clock(), RecordingBroker()
    runtime = _runtime(clock)
    runtime.store.create(_stranded(runtime))
    [job] = runtime.store.jobs()
    outbox = Outbox(runtime, broker.dispatcher(runtime).publish, lambda: set())

    assert outbox.reconcile().published == []  # still within its grace
    clock.advance(GRACE + 1)
    assert outbox.reconcile().published == [job.id]
    assert outbox.reconcile().published == []  # taken: not again

    runtime.settle()
    assert runtime.store.get(job.id).status is JobStatus.QUEUED
    assert [m.task_id for m in broker.sent] == [str(job.id)]


def test_of_two_outboxes_only_one_publishes_a_stranded_job() -> None:
    clock, broker = Clock(), RecordingBroker()
    runtime = _runtime(clock)
    runtime.store.create(_stranded(runtime))
    clock.advance(GRACE + 1)
    outboxes = [Outbox(runtime, broker.dispatcher(runtime).publish, set) for _ in range(2)]

    published = [job_id for outbox in outboxes for job_id in outbox.reconcile().published]

    assert len(published) == 1
    assert len(broker.sent) == 1


def test_a_queued_job_whose_message_vanished_is_published_again() -> None:
    clock, broker = Clock(), RecordingBroker()
    runtime = _runtime(clock)
    dispatcher = broker.dispatcher(runtime)
    lost, kept = start(dispatcher), start(dispatcher)
    runtime.settle()
    clock.advance(REQUEUE_GRACE + 1)
    on_broker = {str(kept.id)}

    report = Outbox(runtime, dispatcher.publish, lambda queues: on_broker).reconcile()

    assert (report.broker_checked, report.republished) == (True, [lost.id])
    assert [m.task_id for m in broker.sent] == [str(lost.id), str(kept.id), str(lost.id)]


def test_queued_jobs_are_left_alone_when_the_broker_cannot_be_read() -> None:
    clock, broker = Clock(), RecordingBroker()
    runtime = _runtime(clock)
    dispatcher = broker.dispatcher(runtime)
    start(dispatcher)
    runtime.settle()
    clock.advance(REQUEUE_GRACE + 1)

    report = Outbox(runtime, dispatcher.publish, lambda queues: None).reconcile()

    assert (report.broker_checked, report.republished) == (False, [])
    assert len(broker.sent) == 1


def _stranded(runtime: MemoryRuntime) -> NewJob:
    """A Created row as a producer that died before publishing left it."""
    return echo_row(runtime.clock(), "stranded")
