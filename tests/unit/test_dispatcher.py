"""The producer side (``jobhub.dispatch``) on the in-memory twin: Created, publish, Queued."""

from __future__ import annotations

import uuid

import pytest

from jobhub.audit import Actor, AuditAction
from jobhub.definitions import get_definition
from jobhub.errors import DispatchError, KeyConflict
from jobhub.jobs import JobSpec, JobStatus
from jobhub.messages import ATTEMPT_HEADER, JOB_HEADER, QUEUED_AT_HEADER
from tests.support.memory import Clock, RecordingBroker, memory_runtime, start


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def broker() -> RecordingBroker:
    return RecordingBroker()


def test_start_records_created_then_publishes_then_records_queued(
    clock: Clock, broker: RecordingBroker
) -> None:
    runtime = memory_runtime(clock)
    job = start(broker.dispatcher(runtime), "diagnostics.echo", {"message": "hi"})

    assert job.status is JobStatus.QUEUED
    [message] = broker.sent
    assert (message.name, message.task_id, message.kwargs) == (
        "diagnostics.echo",
        str(job.id),
        {"message": "hi", "data": None},
    )
    assert message.headers[ATTEMPT_HEADER] == 1
    assert message.headers[QUEUED_AT_HEADER] == clock.now.isoformat()
    assert message.headers[JOB_HEADER]["organization"] == ""
    runtime.settle()  # Queued is a grouped write
    stored = runtime.store.get(job.id)
    assert (stored.status, stored.queued_at) == (JobStatus.QUEUED, clock.now)
    assert [e.status for e in runtime.store.events(job.id)] == [
        JobStatus.CREATED,
        JobStatus.QUEUED,
    ]
    runtime.close()


@pytest.mark.parametrize(
    ("job_type", "housekeeping"),
    [("diagnostics.echo", False), ("maintenance.reconcile_outbox", True)],
)
def test_a_job_is_housekeeping_when_its_type_is_and_its_message_says_so(
    clock: Clock, broker: RecordingBroker, job_type: str, housekeeping: bool
) -> None:
    runtime = memory_runtime(clock)

    job = start(broker.dispatcher(runtime), job_type)

    assert job.housekeeping is housekeeping
    assert runtime.store.get(job.id).housekeeping is housekeeping
    [message] = broker.sent
    assert message.headers[JOB_HEADER]["housekeeping"] is housekeeping
    runtime.close()


def test_the_same_client_request_id_returns_the_first_job_and_publishes_once(
    clock: Clock, broker: RecordingBroker
) -> None:
    runtime = memory_runtime(clock)
    dispatcher = broker.dispatcher(runtime)

    first = start(dispatcher, client_request_id="req-1", organization="acme")
    again = start(dispatcher, client_request_id="req-1", organization="acme")
    other_tenant = start(dispatcher, client_request_id="req-1", organization="zeta")

    assert again.id == first.id
    assert other_tenant.id != first.id
    assert [m.task_id for m in broker.sent] == [str(first.id), str(other_tenant.id)]
    runtime.close()


def test_a_start_the_broker_refuses_leaves_nothing_behind(
    clock: Clock, broker: RecordingBroker
) -> None:
    runtime = memory_runtime(clock)
    broker.down = True

    with pytest.raises(DispatchError, match="broker did not take"):
        start(broker.dispatcher(runtime))

    assert runtime.store.jobs() == []
    runtime.close()


def test_a_start_is_audited_with_its_row_and_taken_back_with_it(
    clock: Clock, broker: RecordingBroker
) -> None:
    runtime = memory_runtime(clock)
    dispatcher = broker.dispatcher(runtime)
    definition = get_definition("diagnostics.echo")
    spec = JobSpec(job_type=definition.name, parameters=definition.validate({}))
    alice = Actor(identity="alice", organization="acme")

    job = dispatcher.start(definition, spec, actor=alice, reason="nightly")
    broker.down = True
    with pytest.raises(DispatchError):
        dispatcher.start(definition, spec, actor=alice)

    [entry] = runtime.audit.entries
    assert (entry.action, entry.target, entry.actor, entry.reason, entry.at) == (
        AuditAction.START,
        f"job {job.id}",
        alice,
        "nightly",
        job.created_at,
    )
    assert entry.details == {"job_type": "diagnostics.echo", "queue": job.queue, "priority": 0}
    runtime.close()


def test_a_held_key_refuses_the_start_before_anything_is_published(
    clock: Clock, broker: RecordingBroker
) -> None:
    runtime = memory_runtime(clock)
    dispatcher = broker.dispatcher(runtime)
    holder = start(dispatcher, key="nightly")

    with pytest.raises(KeyConflict):
        start(dispatcher, key="nightly")

    assert [m.task_id for m in broker.sent] == [str(holder.id)]
    assert len(runtime.store.jobs()) == 1
    runtime.close()


def test_a_message_published_around_jobhub_becomes_a_job(
    clock: Clock, broker: RecordingBroker
) -> None:
    """``task.delay()``, ``send_task`` or beat: the dispatcher records the job first."""
    runtime = memory_runtime(clock)
    task_id = uuid.uuid4()

    broker.dispatcher(runtime).send(
        "diagnostics.echo",
        None,
        {"message": "from celery"},
        definition=get_definition("diagnostics.echo"),
        task_id=str(task_id),
    )

    runtime.settle()
    job = runtime.store.get(task_id)
    assert (job.status, job.created_by, job.parameters) == (
        JobStatus.QUEUED,
        "celery",
        {"message": "from celery", "data": None},
    )
    assert [m.task_id for m in broker.sent] == [str(task_id)]
    runtime.close()
