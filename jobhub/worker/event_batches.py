"""A consumer bootstep that sends Flower's task events in batches, not one by one.

Celery buffers a worker's task events, but flushes the buffer at the next turn of its
event loop: under load that is one publish (a Redis PUBLISH, a RabbitMQ message) for
nearly every event, three per job. Here the buffer is flushed when it holds
``BATCH_LIMIT`` events or ``BATCH_DELAY`` seconds after its first one, whichever comes
first: Flower sees a job's events at most that much later, in one ``task.multi``
message that it reads as it reads Celery's own.
"""

from __future__ import annotations

from typing import Any

from celery import bootsteps

BATCH_DELAY = 0.1
"""Seconds an event may wait in the buffer."""
BATCH_LIMIT = 200
"""Events that make the buffer flush at once."""


class BatchTaskEvents(bootsteps.StartStopStep):
    """Makes the consumer's event dispatcher flush by size or age."""

    requires = ("celery.worker.consumer.events:Events",)

    def __init__(self, consumer: Any, **kwargs: Any) -> None:
        self._armed = False
        super().__init__(consumer, **kwargs)

    def start(self, consumer: Any) -> None:
        dispatcher = consumer.event_dispatcher
        hub = consumer.hub
        if dispatcher is None or hub is None or not dispatcher.on_send_buffered:
            return  # no buffering without the event loop: Celery sends each at once
        self._armed = False

        def flush() -> None:
            self._armed = False
            dispatcher.flush()

        def later() -> None:
            if not self._armed:
                self._armed = True
                hub.call_later(BATCH_DELAY, flush)

        dispatcher.buffer_limit = BATCH_LIMIT
        dispatcher.on_send_buffered = later

    def stop(self, consumer: Any) -> None:
        """Send what waits before the dispatcher closes (a stop or a restart of the
        consumer), so Flower sees the last jobs end."""
        dispatcher = consumer.event_dispatcher
        if dispatcher is not None:
            dispatcher.flush()

    shutdown = stop
