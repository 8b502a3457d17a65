"""What a Redis queue holds, at every priority.

kombu keeps one Redis list per priority step (``jobhub.worker.app`` asks for ten): the
queue's own name for step 0, the name with ``Channel.sep`` and the step for the others.
jobhub's default priority 0 is Redis's 9, so a message is rarely in the bare list.
"""

from __future__ import annotations

import redis
from kombu.transport.redis import Channel

from jobhub.placement import MAX_PRIORITY, MIN_PRIORITY


def priority_lists(queue: str) -> list[str]:
    """The Redis lists of ``queue``, most urgent first."""
    return [queue if step == 0 else f"{queue}{Channel.sep}{step}" for step in _steps()]


def _steps() -> range:
    return range(MIN_PRIORITY, MAX_PRIORITY + 1)


def queued_messages(redis_url: str, queue: str) -> list[tuple[str, bytes]]:
    """(list, raw message) of every message waiting in ``queue``."""
    client = redis.Redis.from_url(redis_url)
    return [
        (name, raw if isinstance(raw, bytes) else raw.encode())
        for name in priority_lists(queue)
        for raw in client.lrange(name, 0, -1)
    ]


def queue_length(redis_url: str, queue: str) -> int:
    """How many messages wait in ``queue``, at every priority."""
    client = redis.Redis.from_url(redis_url)
    return sum(int(client.llen(name)) for name in priority_lists(queue))
