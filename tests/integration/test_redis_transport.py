"""jobhub's Redis transport: kombu's, keeping one client per channel, on a real Redis."""

from __future__ import annotations

import pytest
import redis
from kombu import Connection, Queue
from kombu.simple import SimpleQueue

from jobhub.config import Settings
from jobhub.worker import redis_transport
from jobhub.worker.app import create_celery_app


def test_the_app_publishes_through_jobhubs_transport(settings: Settings) -> None:
    app = create_celery_app(settings)
    with app.connection_for_write() as connection:
        assert isinstance(connection.default_channel, redis_transport.Channel)


def test_messages_round_trip_with_one_client(settings: Settings) -> None:
    with Connection(settings.broker_url, transport=redis_transport.TRANSPORT) as connection:
        channel = connection.default_channel
        queue = SimpleQueue(channel, Queue(settings.queue, routing_key=settings.queue))
        clients = set()
        for n in range(5):
            queue.put({"n": n})
            clients.add(id(channel._blocking_client))
        received = []
        for _ in range(5):
            message = queue.get(timeout=5)
            received.append(message.payload["n"])
            message.ack()
        queue.close()
        assert received == [0, 1, 2, 3, 4]
        assert len(clients) == 1


def test_a_new_pool_gets_a_new_client(settings: Settings) -> None:
    with Connection(settings.broker_url, transport=redis_transport.TRANSPORT) as connection:
        channel = connection.default_channel
        with channel.conn_or_acquire() as first:
            assert first.ping()
        channel._disconnect_pools()  # what kombu does after a fork
        with channel.conn_or_acquire() as second:
            assert second.ping()
        assert second is not first
        assert second.connection_pool is channel.pool


def test_a_closed_connection_is_a_connection_error_not_an_attribute_error(
    settings: Settings,
) -> None:
    # What a worker's consumer met after a Redis restart: closing the channel of a
    # transport whose connection was already gone must not raise AttributeError, which
    # Celery treats as unrecoverable (the worker stopped consuming for good).
    connection = Connection(settings.broker_url, transport=redis_transport.TRANSPORT)
    channel = connection.default_channel
    channel._disconnect_pools()
    channel.connection.client = None
    with pytest.raises(redis.exceptions.ConnectionError), channel.conn_or_acquire():
        pass
    assert isinstance(redis.exceptions.ConnectionError(), connection.connection_errors)
