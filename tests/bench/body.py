"""The task body every configuration runs: one Redis round trip and nothing else.

``HINCRBY <run>:runs <task id> 1`` counts executions (the exactly-once check) and
``HSET <run>:returned <task id> <time>`` records when the body returned.
"""

from __future__ import annotations

import time

import redis

_clients: dict[str, redis.Redis] = {}


def runs_key(run: str) -> str:
    """The hash of execution counts per task id."""
    return f"{run}:runs"


def returned_key(run: str) -> str:
    """The hash of return times (Unix seconds) per task id."""
    return f"{run}:returned"


def record_return(task_id: str, run: str, redis_url: str) -> None:
    """Count this execution and note the moment the body returns, in one pipeline."""
    client = _clients.get(redis_url)
    if client is None:
        client = _clients[redis_url] = redis.Redis.from_url(redis_url)
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(runs_key(run), task_id, 1)
    pipe.hset(returned_key(run), task_id, repr(time.time()))
    pipe.execute()
