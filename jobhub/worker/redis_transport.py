"""kombu's Redis transport, with one client per channel for its blocking commands.

kombu builds a new ``redis.Redis`` for every publish, every acknowledgement and every
event it sends (``Channel.conn_or_acquire``). The client is only a façade over the
channel's connection pool, but building one fills its 170-entry table of response
callbacks, which costs about 0.2 ms: a third of a plain publish. The client is
thread-safe (each command takes a connection from the pool) and the pool checks for a
fork, so one per channel serves all of them; it is rebuilt whenever kombu replaces the
pool (after a fork or a lost connection). Nothing else changes: the same pool, the same
commands, the same asynchronous client for consuming, except that a channel whose
connection is already closed says so with a connection error (see ``conn_or_acquire``).

jobhub's Celery app uses this transport when the broker URL is ``redis://``
(see ``celery_app.celery_config``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from kombu.transport import redis as kombu_redis

TRANSPORT = "jobhub.worker.redis_transport:Transport"
"""The value of Celery's ``broker_transport`` setting that selects this transport."""


class Channel(kombu_redis.Channel):
    """A Redis channel that keeps the client of its blocking commands."""

    _blocking_client: Any = None
    _pool: Any  # kombu's (declared for the type checker)

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        if self._pool is None and self.connection.client is None:
            # The connection is closing after the broker went away, and kombu's close
            # path wants a client to restore unacknowledged messages. Rebuilding a pool
            # here raised AttributeError, which stopped the worker for good (kombu#582);
            # a connection error is what that path ignores, so the worker reconnects.
            raise redis.exceptions.ConnectionError("the connection to Redis is closed")
        cached = self._blocking_client
        if cached is None or cached.connection_pool is not self.pool:
            cached = self._blocking_client = self._create_client()  # type: ignore[attr-defined]
        yield cached


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with ``Channel`` above."""

    Channel = Channel
