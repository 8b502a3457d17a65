"""What a Redis broker holds for a queue, read the way kombu lays it out."""

from __future__ import annotations

import redis
from kombu.transport.redis import Channel

from jobhub.placement import MAX_PRIORITY, MIN_PRIORITY


def redis_queue_length(redis_url: str, queue: str) -> int:
    """Messages waiting in ``queue`` at every priority (kombu keeps one list per priority:
    the queue's name, then the name, its separator and the priority)."""
    client = redis.Redis.from_url(redis_url)
    names = [queue] + [
        f"{queue}{Channel.sep}{priority}" for priority in range(MIN_PRIORITY + 1, MAX_PRIORITY + 1)
    ]
    return sum(int(client.llen(name)) for name in names)
