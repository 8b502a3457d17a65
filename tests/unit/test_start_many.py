"""A batch of starts on the in-memory twin (``Dispatcher.start_many``): what each item
becomes, and what a broker failing half way leaves, buffered (Redis) or not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobhub.audit import Actor, AuditAction
from jobhub.definitions import get_definition
from jobhub.dispatch import PUBLISH_CHUNK, StartRequest
from jobhub.errors import DispatchError, KeyConflict
from jobhub.jobs import JobSpec, JobStatus, StartOutcome, StartState
from jobhub.testing import MemoryRuntime
from tests.support.memory import Clock, RecordingBroker, memory_runtime, start

ALICE = Actor(identity="alice", organization="acme")


def _item(**spec: object) -> StartRequest:
    definition = get_definition("diagnostics.echo")
    values = definition.validate({"message": "hi"})
    return StartRequest(definition, JobSpec(job_type=definition.name, parameters=values, **spec))  # type: ignore[arg-type]


def _states(outcomes: list[StartOutcome]) -> dict[StartState, int]:
    return {state: sum(o.state is state for o in outcomes) for state in StartState}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def runtime(clock: Clock) -> MemoryRuntime:
    return memory_runtime(clock)


def test_each_item_is_started_repeated_or_refused(runtime: MemoryRuntime, clock: Clock) -> None:
    broker = RecordingBroker(buffers=True)
    dispatcher = broker.dispatcher(runtime)
    earlier = start(dispatcher, client_request_id="r-1")
    holder = start(dispatcher, key="k-held")

    outcomes = dispatcher.start_many(
        [
            _item(),
            _item(due_at=clock.now + timedelta(minutes=5)),
            _item(client_request_id="r-1"),
            _item(key="k-held"),
            _item(key="k-new"),
            _item(key="k-new"),  # the batch's own earlier item holds it now
        ],
        actor=ALICE,
    )
    runtime.settle()

    assert [o.state for o in outcomes] == [
        StartState.STARTED,
        StartState.STARTED,
        StartState.REPEATED,
        StartState.REFUSED,
        StartState.STARTED,
        StartState.REFUSED,
    ]
    queued, delayed, repeat, _, keyed, _ = (o.job for o in outcomes)
    assert queued is not None
    assert keyed is not None
    assert delayed is not None
    assert runtime.store.get(queued.id).status is JobStatus.QUEUED
    assert runtime.store.get(delayed.id).status is JobStatus.CREATED
    assert repeat is not None
    assert repeat.id == earlier.id
    assert all(isinstance(outcomes[i].error, KeyConflict) for i in (3, 5))
    assert holder.id not in {o.job.id for o in outcomes if o.job is not None}
    assert [m.task_id for m in broker.sent[2:]] == [str(queued.id), str(keyed.id)]
    started = [e for e in runtime.audit.entries if e.action is AuditAction.START]
    assert [e.target for e in started] == [f"job {job.id}" for job in (queued, delayed, keyed)]
    assert len(runtime.store.jobs()) == 5


def test_a_broker_failing_half_way_one_message_at_a_time(runtime: MemoryRuntime) -> None:
    broker = RecordingBroker(fail_after=PUBLISH_CHUNK + 200)
    outcomes = broker.dispatcher(runtime).start_many([_item() for _ in range(1200)])
    runtime.settle()

    # Sent before the failure: started. The one that failed: may be there. The rest: gone.
    assert _states(outcomes) == {
        StartState.STARTED: PUBLISH_CHUNK + 200,
        StartState.REPEATED: 0,
        StartState.PENDING: 1,
        StartState.REFUSED: 1200 - PUBLISH_CHUNK - 201,
    }
    pending = outcomes[PUBLISH_CHUNK + 200]
    assert isinstance(pending.error, DispatchError)
    assert pending.job is not None
    assert runtime.store.get(pending.job.id).status is JobStatus.CREATED  # the outbox's
    assert len(broker.sent) == PUBLISH_CHUNK + 200
    assert len(runtime.store.jobs()) == PUBLISH_CHUNK + 201
    assert {o.job.id for o in outcomes if o.accepted and o.job} == {
        job.id for job in runtime.store.jobs()
    }


def test_a_buffered_batch_that_fails_before_it_is_sent_sends_none_of_it(
    runtime: MemoryRuntime,
) -> None:
    broker = RecordingBroker(buffers=True, fail_after=PUBLISH_CHUNK + 200)
    outcomes = broker.dispatcher(runtime).start_many([_item() for _ in range(1200)])

    assert _states(outcomes)[StartState.STARTED] == PUBLISH_CHUNK
    assert _states(outcomes)[StartState.REFUSED] == 1200 - PUBLISH_CHUNK
    assert len(broker.sent) == len(runtime.store.jobs()) == PUBLISH_CHUNK


def test_a_buffered_batch_that_fails_while_sent_is_pending(runtime: MemoryRuntime) -> None:
    broker = RecordingBroker(buffers=True)
    dispatcher = broker.dispatcher(runtime)
    first = dispatcher.start_many([_item() for _ in range(PUBLISH_CHUNK)])
    broker.failing_send = True
    outcomes = dispatcher.start_many([_item() for _ in range(PUBLISH_CHUNK + 10)])

    assert _states(first)[StartState.STARTED] == PUBLISH_CHUNK
    assert _states(outcomes) == {
        StartState.STARTED: 0,
        StartState.REPEATED: 0,
        StartState.PENDING: PUBLISH_CHUNK,
        StartState.REFUSED: 10,
    }
    assert len(runtime.store.jobs()) == 2 * PUBLISH_CHUNK
    assert all(
        runtime.store.get(o.job.id).status is JobStatus.CREATED
        for o in outcomes
        if o.job is not None
    )
