"""Which job messages the broker still holds: how the outbox tells a vanished message.

Only Redis can lose a message it accepted (a restart without persistence): its queue is a
list and its reserved messages a hash, both readable. RabbitMQ keeps jobhub's messages
durable and the file broker keeps them on disk, so for those the answer is "unknown" and
nothing is published again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection
from typing import Any

from celery import Celery
from kombu.transport.redis import Transport as RedisTransport

logger = logging.getLogger(__name__)

MessageIds = Callable[[Collection[str]], "set[str] | None"]
"""The task ids of the job messages the broker holds in these queues, or None when it
cannot tell."""

MAX_SCAN = 50_000
"""Messages beyond which the queue is not read (a backlog that long is not a loss)."""


def message_ids_on_broker(app: Celery, queues: Collection[str] | str) -> set[str] | None:
    """Task ids of the messages waiting in ``queues`` (each at every priority) or reserved
    by a worker; None when the broker cannot be read this way (or holds too many)."""
    names = [queues] if isinstance(queues, str) else sorted(queues)
    with app.connection_for_read() as connection:
        if not _is_redis(connection):
            return None
        channel: Any = connection.default_channel
        with channel.conn_or_acquire() as client:
            lists = [
                channel._q_for_pri(queue, pri) for queue in names for pri in channel.priority_steps
            ]
            sizes = [client.llen(name) for name in lists]
            if sum(sizes) + client.hlen(channel.unacked_key) > MAX_SCAN:
                return None
            ids: set[str] = set()
            for name in lists:
                for raw in client.lrange(name, 0, -1):
                    _add_id(ids, raw)
            for raw in client.hvals(channel.unacked_key):
                _add_id(ids, raw, reserved=True)
    return ids


def _is_redis(connection: Any) -> bool:
    return isinstance(connection.transport, RedisTransport)


def _add_id(ids: set[str], raw: bytes, *, reserved: bool = False) -> None:
    try:
        payload = json.loads(raw)
        message = payload[0] if reserved else payload
        task_id = message["headers"]["id"]
    except (ValueError, KeyError, IndexError, TypeError):
        return
    if isinstance(task_id, str):
        ids.add(task_id)
