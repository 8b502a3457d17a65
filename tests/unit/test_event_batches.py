"""``BatchTaskEvents``: a worker's task events leave in batches, by size or by age."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery.events.dispatcher import EventDispatcher

from jobhub.worker.event_batches import BATCH_DELAY, BATCH_LIMIT, BatchTaskEvents


class Hub:
    """The event loop's timer, run by hand."""

    def __init__(self) -> None:
        self.timers: list[tuple[float, Callable[[], None]]] = []

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        self.timers.append((delay, callback))

    def run_timers(self) -> None:
        due, self.timers = self.timers, []
        for _, callback in due:
            callback()


def _consumer() -> tuple[Any, Hub, list[tuple[str, Any]]]:
    published: list[tuple[str, Any]] = []  # one entry per message
    dispatcher = EventDispatcher(
        connection=None,
        hostname="w@host",
        enabled=True,
        buffer_group=["task"],
        on_send_buffered=lambda: None,
    )
    dispatcher.producer = object()  # _publish needs one; the publish itself is recorded
    dispatcher._publish = lambda event, producer, routing_key, **_: published.append(  # type: ignore[method-assign]
        (routing_key, event)
    )
    hub = Hub()
    consumer = type("Consumer", (), {"event_dispatcher": dispatcher, "hub": hub})()
    BatchTaskEvents(consumer).start(consumer)
    return consumer, hub, published


def test_events_wait_for_the_delay_and_leave_in_one_message() -> None:
    consumer, hub, published = _consumer()
    for n in range(30):
        consumer.event_dispatcher.send("task-succeeded", uuid=str(n))

    assert published == []
    assert [delay for delay, _ in hub.timers] == [BATCH_DELAY]  # armed once
    hub.run_timers()
    [(routing_key, events)] = published
    assert routing_key == "task.multi"
    assert [event["uuid"] for event in events] == [str(n) for n in range(30)]


def test_a_full_buffer_leaves_at_once_and_a_stop_sends_the_rest() -> None:
    consumer, _, published = _consumer()
    for n in range(BATCH_LIMIT + 5):
        consumer.event_dispatcher.send("task-received", uuid=str(n))

    assert [len(events) for _, events in published] == [BATCH_LIMIT]
    BatchTaskEvents(consumer).stop(consumer)
    assert [len(events) for _, events in published] == [BATCH_LIMIT, 5]
