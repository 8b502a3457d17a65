"""The plain Celery apps of configurations C, A and B, and their no-op task.

A and B start from ``jobhub.worker.app.celery_config`` (JSON only, late acks, reject on a
lost worker, prefetch 1, task events), so they differ from J only in what they persist.
A keeps no result; B keeps results in Celery's SQLAlchemy database backend with
``result_extended`` and ``task_track_started``, as its users would set it up. C is plain
Celery as it ships: Celery's own defaults (early acks, prefetch 4, no task events), only
the queue named; what a team comparing the two as each ships would run.

Worker processes find ``app_c`` / ``app_a`` / ``app_b`` here
(``celery -A tests.bench.apps:app_a``), built from ``JOBHUB_BENCH_*`` variables the
harness sets.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task

from jobhub.config import Settings
from jobhub.worker.app import celery_config
from tests.bench.body import record_return

PLAIN_TASK = "bench.plain_noop"
CELERY_DEFAULTS = "celery-defaults"
"""In place of a result backend: C's app, Celery as it ships (no backend either)."""
"""Not ``bench.noop``: jobhub's job types are shared tasks, and a name may be taken once."""

ENV_BROKER = "JOBHUB_BENCH_BROKER_URL"
ENV_QUEUE = "JOBHUB_BENCH_QUEUE"
ENV_RESULT_BACKEND = "JOBHUB_BENCH_RESULT_BACKEND"


def plain_config(broker_url: str, queue: str, result_backend: str | None) -> dict[str, Any]:
    """jobhub's Celery settings, with or without Celery's own database result backend;
    for ``CELERY_DEFAULTS`` (C), Celery's own settings with the queue named."""
    if result_backend == CELERY_DEFAULTS:
        return {
            "task_default_queue": queue,
            "task_default_exchange": queue,
            "task_default_routing_key": queue,
            "task_ignore_result": True,
            "broker_connection_retry_on_startup": True,
            "include": [],
        }
    config = celery_config(Settings(broker_url=broker_url, queue=queue))
    config["include"] = []
    # Plain Celery publishes through kombu's own Redis transport, not jobhub's.
    config.pop("broker_transport", None)
    if result_backend is None:
        config["task_ignore_result"] = True
    else:
        config.update(
            result_backend=result_backend,
            result_extended=True,
            task_track_started=True,
            task_ignore_result=False,
        )
    return config


def plain_app(name: str, broker_url: str, queue: str, result_backend: str | None) -> Celery:
    """A plain Celery app with the benchmark's no-op task."""
    app = Celery(f"bench-{name}", broker=broker_url)
    app.conf.update(plain_config(broker_url, queue, result_backend))
    app.task(name=PLAIN_TASK, bind=True)(_noop)
    return app


def plain_env(broker_url: str, queue: str, result_backend: str | None) -> dict[str, str]:
    """The variables a worker process needs to build the same app."""
    env = {ENV_BROKER: broker_url, ENV_QUEUE: queue}
    if result_backend is not None:
        env[ENV_RESULT_BACKEND] = result_backend
    return env


def _noop(self: Task[Any, Any], *, run: str, redis_url: str) -> None:
    record_return(str(self.request.id), run, redis_url)


_built: dict[str, Celery] = {}


def __getattr__(name: str) -> Celery:
    """``app_a``, ``app_b`` and ``app_c`` for ``celery -A``, built from the environment on
    first use."""
    if name not in ("app_a", "app_b", "app_c"):
        raise AttributeError(name)
    if name not in _built:
        backend = os.environ.get(ENV_RESULT_BACKEND) if name == "app_b" else None
        if name == "app_c":
            backend = CELERY_DEFAULTS
        if name == "app_b" and not backend:
            raise RuntimeError(f"app_b needs {ENV_RESULT_BACKEND}")
        _built[name] = plain_app(
            name[-1].upper(), os.environ[ENV_BROKER], os.environ[ENV_QUEUE], backend
        )
    return _built[name]
