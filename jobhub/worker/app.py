"""The Celery app as workers and beat run it: jobhub's reliable defaults, its job types,
its transports and its lifecycle hooks.

``create_celery_app(settings)`` builds one. ``celery -A jobhub.worker.app`` finds ``app``,
which is built from ``Settings.from_env()`` on first access, never at import; as a
composition root, it also has Celery log through jobhub's handler (``log_through_jobhub``).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import signals as celery_signals
from celery.utils.log import get_multiprocessing_logger

from jobhub.config import Settings
from jobhub.definitions import load_job_modules
from jobhub.dispatch import JobHubCelery
from jobhub.logs import configure_logging
from jobhub.placement import MAX_PRIORITY, MIN_PRIORITY
from jobhub.worker import signals
from jobhub.worker.declare import TIME_LIMIT_GRACE
from jobhub.worker.event_batches import BatchTaskEvents
from jobhub.worker.file_transport import TRANSPORT as FILE_TRANSPORT
from jobhub.worker.redis_transport import TRANSPORT as REDIS_TRANSPORT
from jobhub.worker.timer_pruning import PruneCancelledTimers


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery settings jobhub runs with (see README, "Reliable defaults")."""
    config: dict[str, Any] = {
        # JSON only: messages are readable by any producer and never unpickled.
        "task_serializer": "json",
        "result_serializer": "json",
        "event_serializer": "json",
        "accept_content": ["json"],
        # A job is acknowledged after it ran; a worker that dies mid-job gives it back.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": settings.prefetch_multiplier,
        # jobhub's database is the result store; Celery keeps none.
        "task_ignore_result": True,
        "task_store_errors_even_if_ignored": False,
        "task_default_queue": settings.queue,
        "task_default_exchange": settings.queue,
        "task_default_routing_key": settings.queue,
        # Flower sees every job by its id, name, arguments (from the worker's task-received
        # event) and state; the worker sends them in batches (BatchTaskEvents). Producers
        # send no task-sent event: it would double the cost of every publish for nothing
        # Flower lacks.
        "worker_send_task_events": True,
        "task_send_sent_event": False,
        "task_soft_time_limit": settings.default_time_limit,
        "task_time_limit": settings.default_time_limit + TIME_LIMIT_GRACE,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": settings.publish_timeout,
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1.0,
        },
        "enable_utc": True,
        "timezone": "UTC",
        "beat_schedule_filename": str((settings.data_dir / "beat-schedule").resolve()),
        # the schedules live in the database; every beat fires each due time once in all
        "beat_scheduler": "jobhub.scheduling.beat:JobHubScheduler",
        "include": list(settings.job_modules),
    }
    if settings.effective_broker_url.startswith("redis://"):
        # kombu's transport, without a new client per publish and acknowledgement.
        config["broker_transport"] = REDIS_TRANSPORT
        # one list per priority (0 to 9), read most urgent first (jobhub.placement)
        config["broker_transport_options"] = {
            "priority_steps": list(range(MIN_PRIORITY, MAX_PRIORITY + 1)),
            "queue_order_strategy": "priority",
        }
    if settings.effective_broker_url.startswith(("amqp://", "amqps://", "pyamqp://")):
        # RabbitMQ orders a queue by priority only when it is declared with a maximum; a
        # queue declared earlier without one must be deleted first (README, Priorities).
        config["task_queue_max_priority"] = MAX_PRIORITY
    if settings.worker_concurrency is not None:
        config["worker_concurrency"] = settings.worker_concurrency
    if settings.embedded_broker:
        folder = settings.broker_folder
        config["broker_transport"] = FILE_TRANSPORT  # kombu's, without half-written reads
        config["broker_transport_options"] = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.1,
        }
    return config


def create_celery_app(settings: Settings | None = None) -> JobHubCelery:
    """Build the app for ``settings`` (default: from the environment), job types loaded."""
    settings = settings or Settings.from_env()
    if settings.embedded_broker:
        for sub in ("queue", "control"):
            (settings.broker_folder / sub).mkdir(parents=True, exist_ok=True)
    app = JobHubCelery(settings)
    app.conf.update(celery_config(settings))
    load_job_modules(settings.job_modules)
    app.conf.beat_schedule = _static_schedules(settings)
    app.steps["worker"].add(PruneCancelledTimers)
    app.steps["consumer"].add(BatchTaskEvents)
    signals.connect()
    return app


def log_through_jobhub(settings: Settings) -> None:
    """Have the Celery worker or beat this process runs log through ``jobhub.logs``.

    Celery sends ``setup_logging`` with the ``--loglevel`` (and ``--logfile``) it was given;
    with a receiver connected, it installs no handler or formatter of its own, so its
    lines and jobhub's share the format ``settings.log_format`` names. Celery's banner is
    printed, not logged: with ``json``, run Celery with ``--quiet`` (``jobhub worker`` and
    ``jobhub beat`` do).
    """

    def setup(loglevel: int | None = None, logfile: str | None = None, **_: Any) -> None:
        handler = configure_logging(settings, loglevel or "INFO", logfile=logfile)
        # billiard's pool supervisor logs to its own logger, which does not propagate;
        # Celery gives it the root's handler at ERROR ("Process ... exited with ...").
        pool = get_multiprocessing_logger()
        if pool is not None:
            for old in [h for h in pool.handlers if h.get_name() == handler.get_name()]:
                pool.removeHandler(old)
            pool.addHandler(handler)
            pool.setLevel(logging.ERROR)

    celery_signals.setup_logging.connect(setup, weak=False, dispatch_uid="jobhub.logging")


def _static_schedules(settings: Settings) -> dict[str, Any]:
    import beat_schedule

    schedules = {name: dict(entry) for name, entry in beat_schedule.BEAT_SCHEDULE.items()}
    if settings.maintenance_interval is not None:
        for name in beat_schedule.RECOVERY_ENTRIES:
            schedules[name]["schedule"] = settings.maintenance_interval
    return schedules


_default_app: JobHubCelery | None = None


def __getattr__(name: str) -> JobHubCelery:
    """``app`` for ``celery -A jobhub.worker.app``, built on first access."""
    global _default_app
    if name in ("app", "celery"):
        if _default_app is None:
            settings = Settings.from_env()
            log_through_jobhub(settings)
            _default_app = create_celery_app(settings)
        return _default_app
    raise AttributeError(name)
