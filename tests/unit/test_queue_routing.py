"""Every way a job reaches the broker carries its queue and its priority: a start, a
publish around jobhub (``delay()``, ``send_task``), a due job, the outbox."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest

from jobhub.cli.processes import queue_names
from jobhub.definitions import JobDefinition, get_definition
from jobhub.errors import InvalidInput
from jobhub.housekeeping.due import DuePublisher
from jobhub.housekeeping.outbox import Outbox
from jobhub.jobs import JobSpec
from jobhub.placement import unprioritised_queue
from jobhub.testing import SentMessage
from tests.support.memory import Clock, RecordingBroker, memory_runtime, start

REDIS = "redis://127.0.0.1:6379/0"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"


def _reports() -> JobDefinition:
    """``diagnostics.echo`` as a type that names its own queue and priority."""
    return replace(get_definition("diagnostics.echo"), queue="reports", priority=6)


def _placement(message: SentMessage) -> tuple[str, int | None]:
    return message.options["queue"], message.options.get("priority")


@pytest.mark.parametrize(
    ("broker_url", "expected"),
    [(REDIS, 9 - 6), (RABBITMQ, 6), (None, None)],
    ids=["redis", "rabbitmq", "file"],
)
def test_a_start_publishes_to_its_types_queue_at_its_priority_as_the_broker_counts(
    broker_url: str | None, expected: int | None
) -> None:
    runtime = memory_runtime(Clock(), broker_url=broker_url)
    broker = RecordingBroker()
    definition = _reports()

    job = broker.dispatcher(runtime).start(
        definition, JobSpec(job_type=definition.name, parameters={"message": "hi"})
    )

    assert (job.queue, job.priority) == ("reports", 6)
    assert [_placement(m) for m in broker.sent] == [("reports", expected)]
    runtime.close()


def test_a_start_may_name_another_queue_and_priority() -> None:
    runtime = memory_runtime(Clock(), broker_url=REDIS)
    broker = RecordingBroker()

    job = start(broker.dispatcher(runtime), queue="urgent", priority=9)
    plain = start(broker.dispatcher(runtime))

    assert (job.queue, job.priority) == ("urgent", 9)
    assert (plain.queue, plain.priority) == (runtime.settings.queue, 0)
    assert [_placement(m) for m in broker.sent] == [("urgent", 0), (runtime.settings.queue, 9)]
    runtime.close()


def test_a_publish_around_jobhub_keeps_the_queue_and_priority_it_asked_for() -> None:
    runtime = memory_runtime(Clock(), broker_url=RABBITMQ)
    broker = RecordingBroker()
    dispatcher = broker.dispatcher(runtime)
    asked, plain = uuid.uuid4(), uuid.uuid4()

    dispatcher.send(
        "diagnostics.echo",
        None,
        {"message": "asked"},
        definition=_reports(),
        task_id=str(asked),
        queue="other",
        priority=8,
    )
    dispatcher.send(
        "diagnostics.echo",
        None,
        {"message": "plain"},
        definition=_reports(),
        task_id=str(plain),
        queue=None,  # what Task.apply_async passes when nothing was asked
        priority=None,
    )

    assert [_placement(m) for m in broker.sent] == [("other", 8), ("reports", 6)]
    stored = runtime.store.get(asked)
    assert (stored.queue, stored.priority) == ("other", 8)
    runtime.close()


def test_a_publish_around_jobhub_with_a_bad_priority_is_refused() -> None:
    runtime = memory_runtime(Clock(), broker_url=REDIS)
    broker = RecordingBroker()

    with pytest.raises(InvalidInput, match="between 0 and 9"):
        broker.dispatcher(runtime).send(
            "diagnostics.echo", None, {"message": "x"}, definition=_reports(), priority=10
        )
    assert broker.sent == []
    runtime.close()


def test_a_due_job_is_published_to_its_queue_at_its_priority() -> None:
    clock = Clock()
    runtime = memory_runtime(clock, broker_url=REDIS)
    broker = RecordingBroker()
    dispatcher = broker.dispatcher(runtime)
    later = start(dispatcher, queue="reports", priority=2, due_at=clock.now.replace(year=2031))
    assert broker.sent == []

    clock.now = clock.now.replace(year=2032)
    assert DuePublisher(runtime, dispatcher.publish).publish_due() == [later.id]

    assert [_placement(m) for m in broker.sent] == [("reports", 9 - 2)]
    runtime.close()


def test_the_outbox_publishes_again_to_the_jobs_queue_at_its_priority() -> None:
    clock = Clock()
    runtime = memory_runtime(clock, broker_url=REDIS, requeue_grace=60.0)
    broker = RecordingBroker()
    dispatcher = broker.dispatcher(runtime)
    lost = start(dispatcher, queue="reports", priority=7)
    runtime.settle()
    clock.advance(61)
    asked: list[set[str]] = []

    def nothing_on_broker(queues: object) -> set[str]:
        asked.append(set(queues))  # type: ignore[call-overload]
        return set()

    report = Outbox(runtime, dispatcher.publish, nothing_on_broker).reconcile()

    assert report.republished == [lost.id]
    assert asked == [{"reports"}]
    assert [_placement(m) for m in broker.sent] == [("reports", 2), ("reports", 2)]
    runtime.close()


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("reports", ("reports",)),
        ("reports, jobhub", ("reports", "jobhub")),
        ("a,a,b,", ("a", "b")),
        ("reports,default", ("reports", "jobhub")),
        ("default,jobhub", ("jobhub",)),
    ],
)
def test_worker_queues_option_takes_comma_separated_names(
    text: str, names: tuple[str, ...]
) -> None:
    assert queue_names(text, "jobhub") == names


@pytest.mark.parametrize("text", ["", ",", "reports,bad name", "reports,*", "-x"])
def test_worker_queues_option_refuses_bad_names(text: str) -> None:
    with pytest.raises(InvalidInput, match="queue"):
        queue_names(text, "jobhub")


def test_rabbitmqs_refusal_of_a_queue_without_priorities_says_what_to_do() -> None:
    refusal = (
        "Queue.declare: (406) PRECONDITION_FAILED - inequivalent arg 'x-max-priority' for"
        " queue 'reports' in vhost '/': received the value '9' of type 'signedint' but"
        " current is none"
    )

    fix = unprioritised_queue("reports", refusal)

    assert fix is not None
    assert "rabbitmqctl delete_queue reports" in fix
    assert (
        unprioritised_queue("reports", "PRECONDITION_FAILED - inequivalent arg 'durable'") is None
    )
    assert unprioritised_queue("reports", ConnectionError("refused")) is None


@pytest.mark.parametrize("option", ["countdown", "eta"])
def test_a_countdown_or_eta_around_jobhub_becomes_a_due_time_not_a_celery_eta(
    option: str,
) -> None:
    clock = Clock()
    runtime = memory_runtime(clock, broker_url=REDIS)
    broker = RecordingBroker()
    dispatcher = broker.dispatcher(runtime)
    job_id = uuid.uuid4()
    value: object = 30 if option == "countdown" else (clock() + timedelta(seconds=30)).isoformat()

    dispatcher.send(
        "diagnostics.echo",
        None,
        {"message": "later"},
        definition=get_definition("diagnostics.echo"),
        task_id=str(job_id),
        **{option: value},
    )

    waiting = runtime.store.get(job_id)
    assert waiting.due_at == clock() + timedelta(seconds=30)
    assert broker.sent == [], "held back as a broker message"
    clock.advance(31)
    assert DuePublisher(runtime, dispatcher.publish).publish_due() == [job_id]
    assert [m.options.get("eta") or m.options.get("countdown") for m in broker.sent] == [None]
    runtime.close()


def test_a_negative_countdown_around_jobhub_is_refused() -> None:
    runtime = memory_runtime(Clock(), broker_url=REDIS)
    broker = RecordingBroker()

    with pytest.raises(InvalidInput, match="negative"):
        broker.dispatcher(runtime).send(
            "diagnostics.echo",
            None,
            {"message": "x"},
            definition=get_definition("diagnostics.echo"),
            countdown=-5,
        )
    assert runtime.store.jobs() == []
    runtime.close()


def test_default_names_the_configured_queue_wherever_a_queue_is_given() -> None:
    runtime = memory_runtime(Clock(), broker_url=REDIS)
    broker = RecordingBroker()
    definition = replace(get_definition("diagnostics.echo"), queue="default")

    by_type = broker.dispatcher(runtime).start(
        definition, JobSpec(job_type=definition.name, parameters={"message": "a"})
    )
    by_start = start(broker.dispatcher(runtime), queue="default")

    assert (by_type.queue, by_start.queue) == (runtime.settings.queue, runtime.settings.queue)
    assert [m.options["queue"] for m in broker.sent] == [runtime.settings.queue] * 2
    runtime.close()
