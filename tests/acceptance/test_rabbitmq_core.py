"""The acceptance core on RabbitMQ, as on Redis: the same tests, run again here with every
fixture's broker on RabbitMQ (``JOBHUB_TEST_RABBITMQ_URL``, by default the one on
127.0.0.1:5672).

pytest runs the test functions a module holds, imported or not, with that module's
fixtures: this module imports the Redis modules' tests and overrides ``settings``, on
which ``manager``, ``worker`` and the rest depend. Priorities and Celery-protocol
producers run on both brokers in their own modules (``test_priorities``,
``test_foreign_producers``).

Queues too: a worker on other queues never takes the default queue's jobs. And the
outbox: a job stranded in Created is published by beat's outbox and run once.

What replaces the Redis checks: RabbitMQ keeps jobhub's queues durable and its messages
persistent, and gives a dead consumer's unacknowledged messages back to the queue, so the
outbox has no message probe here (``jobhub.housekeeping.broker_probe`` answers "unknown")
and a killed worker's jobs come back through redelivery and the reaper.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from kombu import Connection

from jobhub import JobManager, JobStatus, Settings
from tests import services as svc
from tests.acceptance.test_faults import (
    fast_recovery,
    test_workers_killed_mid_job_leave_no_job_stuck,
)
from tests.acceptance.test_flower import (
    test_flower_lists_a_job_by_its_id_with_name_arguments_and_state,
)
from tests.acceptance.test_queues import (
    test_a_worker_on_other_queues_never_takes_a_job_of_the_default_queue,
)
from tests.acceptance.test_worker_lifecycle import (
    test_cancelled_queued_job_never_runs,
    test_cancelled_running_job_stops_within_seconds,
    test_duplicate_delivery_after_completion_changes_nothing,
    test_failing_job_ends_completed_with_errors_with_its_traceback,
    test_job_runs_through_every_status_with_ordered_timestamps,
    test_rerun_queues_a_new_attempt_and_keeps_the_history,
)
from tests.conftest import (
    RABBITMQ_URL,
    Process,
    Processes,
    on_rabbitmq,
    quick_settings,
    settings_env,
)
from tests.support.rows import echo_row

__all__ = [
    "fast_recovery",
    "test_a_worker_on_other_queues_never_takes_a_job_of_the_default_queue",
    "test_cancelled_queued_job_never_runs",
    "test_cancelled_running_job_stops_within_seconds",
    "test_duplicate_delivery_after_completion_changes_nothing",
    "test_failing_job_ends_completed_with_errors_with_its_traceback",
    "test_flower_lists_a_job_by_its_id_with_name_arguments_and_state",
    "test_job_runs_through_every_status_with_ordered_timestamps",
    "test_rerun_queues_a_new_attempt_and_keeps_the_history",
    "test_workers_killed_mid_job_leave_no_job_stuck",
]


@pytest.fixture
def settings(
    database_url: str, services: svc.Services, queue_name: str, tmp_path: Path
) -> Iterator[Settings]:
    with on_rabbitmq(quick_settings(tmp_path / "data", database_url, services, queue_name)) as s:
        yield s
    with Connection(RABBITMQ_URL) as connection:  # the other queue test_queues makes
        connection.default_channel.queue_delete(f"{queue_name}-reports")  # type: ignore[attr-defined]


@pytest.fixture
def kills() -> int:
    """Fewer than on Redis: the kill paths are the same, only the broker differs."""
    return 4


def test_the_tests_here_run_on_rabbitmq(settings: Settings, worker: Process) -> None:
    assert (settings.broker_url or "").startswith("amqp://")
    assert "Connected to amqp://" in worker.log()


def test_the_outbox_publishes_a_job_stranded_in_created_once(
    settings: Settings, processes: Processes, manager: JobManager
) -> None:
    """A producer that died between its insert and its publish: beat's outbox publishes
    the job on RabbitMQ as on Redis, and the worker runs it once."""
    quick = replace(settings, publish_grace=0.5, maintenance_interval=1.0)
    runtime = manager.app.runtime
    stranded = replace(
        echo_row(runtime.clock() - timedelta(seconds=5), "stranded"), queue=quick.queue
    )
    assert runtime.writes.create(stranded)
    processes.worker(quick)
    processes.start("beat", ["beat"], settings_env(quick))

    (done,) = manager.wait_for_completion([stranded.id], timeout=60)

    assert done.status is JobStatus.COMPLETED
    events = [(event.status, event.message) for event in manager.job_events(stranded.id)]
    assert events == [
        (JobStatus.CREATED, None),
        (JobStatus.CREATED, "published by the outbox: its producer never did"),
        (JobStatus.QUEUED, None),
        (JobStatus.PROCESSING, None),
        (JobStatus.COMPLETED, None),
    ]
