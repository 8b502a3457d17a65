"""Priorities on the real brokers: on one busy worker, a high-priority job queued behind
many low-priority ones runs before them, on Redis and on RabbitMQ.

Why "before all of them" is guaranteed here: the worker runs one job at a time
(concurrency 1) and takes one message more than it runs (prefetch multiplier 1), and a
message is acknowledged only when its job has ended (acks_late). So while the first job
runs, its unacknowledged message fills the worker's only slot and every later message
waits on the broker, which hands out the most urgent one when the slot frees.
"""

from __future__ import annotations

import time

import pytest
from kombu import Connection, Exchange, Queue

from jobhub import JobManager, JobStatus, Settings
from jobhub.errors import DispatchError
from tests.conftest import RABBITMQ_URL, Processes, run_cli, settings_env

LOW_JOBS = 20


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_a_high_priority_job_overtakes_the_low_priority_ones_queued_before_it(
    request: pytest.FixtureRequest, processes: Processes, broker: str
) -> None:
    settings: Settings = request.getfixturevalue(
        "settings" if broker == "redis" else "rabbitmq_settings"
    )
    processes.worker(settings, concurrency=1)
    manager = JobManager.from_settings(settings)
    try:
        busy = manager.start_job("diagnostics.sleep", {"steps": 1, "seconds": 120})
        deadline = time.monotonic() + 30
        while manager.get_job(busy.id).status is not JobStatus.PROCESSING:
            assert time.monotonic() < deadline, "the worker never started the first job"
            time.sleep(0.05)

        low = [
            manager.start_job("diagnostics.echo", {"message": f"low {n}"}, priority=0)
            for n in range(LOW_JOBS)
        ]
        high = manager.start_job("diagnostics.echo", {"message": "high"}, priority=9)
        manager.cancel_job(busy.id)  # the worker's slot frees only now
        done = manager.wait_for_completion([high.id, *(job.id for job in low)], timeout=45)
    finally:
        manager.close()

    assert {job.status for job in done} == {JobStatus.COMPLETED}
    first, *rest = sorted(done, key=lambda job: job.started_at or job.completed_at)
    assert first.id == high.id, f"{first.result} ran first"
    assert first.priority == 9
    assert {job.priority for job in rest} == {0}


def test_a_rabbitmq_queue_made_without_priorities_is_refused_with_what_to_do(
    rabbitmq_settings: Settings,
) -> None:
    queue = rabbitmq_settings.queue
    with Connection(RABBITMQ_URL) as connection:  # as an older jobhub or a person made it
        Queue(queue, Exchange(queue), queue).bind(connection.default_channel).declare()
    fix = f"rabbitmqctl delete_queue {queue}"

    worker = run_cli(["worker", "--concurrency=1"], settings_env(rabbitmq_settings), timeout=60)

    assert worker.returncode == 8, worker.stdout + worker.stderr
    assert worker.stderr.count("\n") == 1
    assert worker.stderr.startswith("error: ")
    assert fix in worker.stderr
    manager = JobManager.from_settings(rabbitmq_settings)
    try:
        with pytest.raises(DispatchError, match=fix):
            manager.start_job("diagnostics.echo", {"message": "refused"})
        assert manager.find_jobs() == []  # nothing is left behind
    finally:
        manager.close()
