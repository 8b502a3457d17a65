"""Fault injection with real processes: workers killed mid-job, duplicate deliveries,
skewed clocks (server outages: ``test_server_outages``).

``JOBHUB_SOAK_KILLS`` raises the number of kills (``make soak`` sets 100); the default
keeps ``make test`` within minutes.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import psycopg
import pytest

from jobhub import JobManager, JobStatus, Settings
from tests import services as svc
from tests.conftest import Process, Processes, settings_env

KILLS = int(os.environ.get("JOBHUB_SOAK_KILLS", "12"))
TERMINAL = {int(JobStatus.COMPLETED), int(JobStatus.COMPLETED_WITH_ERRORS), 5}


@pytest.fixture
def kills() -> int:
    """How many workers the kill test kills (``JOBHUB_SOAK_KILLS``)."""
    return KILLS


@pytest.fixture
def fast_recovery(settings: Settings) -> Settings:
    """Heartbeats every 0.5 s, a worker lost after 3 s, reaper and outbox every second."""
    return replace(settings, heartbeat_interval=0.5, worker_timeout=3.0, maintenance_interval=1.0)


def _worker(processes: Processes, settings: Settings) -> tuple[Process, str]:
    node = f"k{uuid.uuid4().hex[:8]}@localhost"
    process = processes.start(
        "worker", ["worker", "--concurrency=2", f"--hostname={node}"], settings_env(settings)
    )
    process.wait_for_log(" ready.", timeout=60)
    return process, node


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _terminal_events(database_url: str) -> dict[tuple[str, int], int]:
    """(job id, attempt) -> how many terminal events it has."""
    with psycopg.connect(svc.libpq_url(database_url)) as connection:
        rows = connection.execute(
            "SELECT job_id::text, attempt, count(*) FROM job_events"
            " WHERE status >= 3 GROUP BY job_id, attempt"
        ).fetchall()
    return {(job_id, int(attempt)): int(count) for job_id, attempt, count in rows}


@pytest.mark.timeout(180 + KILLS * 10)
def test_workers_killed_mid_job_leave_no_job_stuck(
    manager: JobManager,
    processes: Processes,
    fast_recovery: Settings,
    database_url: str,
    kills: int,
) -> None:
    processes.start("beat", ["beat"], settings_env(fast_recovery))
    started = [
        manager.start_job("diagnostics.sleep", {"steps": 4, "seconds": 0.25})
        for _ in range(kills + 10)
    ]
    ids = {job.id for job in started}

    for kill in range(kills):
        worker, node = _worker(processes, fast_recovery)

        def running_here(node: str = node) -> list[str]:
            return [
                job.worker_id
                for job in manager.running_jobs(limit=50)
                if job.id in ids and job.worker_id and job.worker_id.startswith(node)
            ]

        _wait_for(lambda: bool(running_here()), 60, f"a job on {node}")
        time.sleep(0.1 + (kill % 4) * 0.1)  # somewhere in the middle of the job
        if kill % 2:
            worker.kill()  # the whole worker: main process and pool
        else:
            pool_process = int(running_here()[0].rsplit("/", 1)[1]) if running_here() else 0
            if pool_process:
                os.kill(pool_process, signal.SIGKILL)  # the main process sees it die
            time.sleep(0.3)
            worker.kill()

    _worker(processes, fast_recovery)
    done = manager.wait_for_completion(list(ids), timeout=180)

    assert all(job.status.is_terminal for job in done)
    statuses = Counter(job.status for job in done)
    print(  # the figures for the README (pytest -s)
        f"\n{kills} kills, {len(ids)} jobs: {dict(statuses)},"
        f" queued again {sum(job.retries for job in done)} times"
    )
    assert statuses[JobStatus.COMPLETED] >= len(ids) // 2, statuses
    assert any(job.retries for job in done), "no job was ever queued again"
    terminal = _terminal_events(database_url)
    for job in done:
        attempts = {a: n for (job_id, a), n in terminal.items() if job_id == str(job.id)}
        assert attempts.get(job.attempt) == 1, (job.id, attempts)
        assert all(n == 1 for n in attempts.values()), (job.id, attempts)
        lost = job.status is JobStatus.COMPLETED_WITH_ERRORS
        assert not lost or (job.error is not None and job.error.type == "WorkerLost"), job


def test_duplicated_deliveries_end_each_job_once(
    manager: JobManager, processes: Processes, settings: Settings, database_url: str
) -> None:
    processes.worker(settings)
    started = []
    for n in range(60):
        job = manager.start_job("diagnostics.echo", {"message": f"dup {n}"})
        for _ in range(2):  # the same attempt's message twice more, as a broker might
            manager.app.dispatcher.publish("diagnostics.echo", job.id, 1, job.parameters)
        started.append(job)

    done = manager.wait_for_completion([job.id for job in started], timeout=60)
    time.sleep(1.0)  # let the duplicates reach the worker too

    assert {job.status for job in done} == {JobStatus.COMPLETED}
    terminal = _terminal_events(database_url)
    assert all(terminal[(str(job.id), 1)] == 1 for job in started)
    assert all(manager.get_job(job.id) == job for job in done)


def _histories(database_url: str) -> dict[str, list[tuple[int, int]]]:
    with psycopg.connect(svc.libpq_url(database_url)) as connection:
        rows = connection.execute(
            "SELECT job_id::text, attempt, status FROM job_events ORDER BY id"
        ).fetchall()
    histories: dict[str, list[tuple[int, int]]] = {}
    for job_id, attempt, status in rows:
        histories.setdefault(job_id, []).append((int(attempt), int(status)))
    return histories


# -- clocks ------------------------------------------------------------------------------


def test_workers_with_skewed_clocks_keep_every_lifecycle_in_order(
    manager: JobManager, processes: Processes, fast_recovery: Settings, database_url: str
) -> None:
    processes.start("beat", ["beat"], settings_env(fast_recovery))  # the reaper runs meanwhile
    for skew in ("600", "-600"):  # ten minutes ahead, ten minutes behind
        env = settings_env(fast_recovery) | {
            "JOBHUB_JOB_MODULES": "workers,tests.support.skewed_clock",
            "JOBHUB_TEST_CLOCK_SKEW": skew,
        }
        node = f"skew{skew}-{uuid.uuid4().hex[:6]}@localhost"
        worker = processes.start("worker", ["worker", "--concurrency=1", f"--hostname={node}"], env)
        worker.wait_for_log(" ready.", timeout=60)
    started = [
        manager.start_job("diagnostics.sleep", {"steps": 2, "seconds": 0.3}) for _ in range(20)
    ]

    done = manager.wait_for_completion([job.id for job in started], timeout=120)

    assert {job.status for job in done} == {JobStatus.COMPLETED}
    assert {job.retries for job in done} == {0}, "a skewed worker was taken for lost"
    ran_on = {(job.worker_id or "").split("-")[0] for job in done}
    assert ran_on == {"skew600", "skew"}, ran_on  # both clocks took part ("skew-600-...")
    behind = [
        job for job in done if job.started_at and job.queued_at and job.started_at < job.queued_at
    ]
    assert behind, "the clock skew did not take effect"
    histories = _histories(database_url)
    for job in done:
        assert histories[str(job.id)] == [(1, 0), (1, 1), (1, 2), (1, 3)]
