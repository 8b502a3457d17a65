"""Queues and worker pools with real ``jobhub worker`` processes: a worker consumes only
the queues it is given, and ``jobhub workers`` says which."""

from __future__ import annotations

import json
import time
from pathlib import Path

from jobhub import JobManager, JobStatus, Settings
from tests.conftest import Processes, run_cli, settings_env
from tests.services import free_port


def test_a_worker_on_other_queues_never_takes_a_job_of_the_default_queue(
    manager: JobManager, processes: Processes, settings: Settings, queue_name: str
) -> None:
    reports = f"{queue_name}-reports"
    processes.worker(settings, "--queues", reports)

    waiting = manager.start_job("diagnostics.echo", {"message": "default queue"})
    first = manager.start_job("diagnostics.echo", {"message": "report 1"}, queue=reports)
    second = manager.start_job("diagnostics.echo", {"message": "report 2"}, queue=reports)
    done = manager.wait_for_completion([first.id, second.id], timeout=30)

    assert [job.status for job in done] == [JobStatus.COMPLETED, JobStatus.COMPLETED]
    assert {job.queue for job in done} == {reports}
    still = manager.get_job(waiting.id)
    assert still.status is JobStatus.QUEUED
    assert still.queue == queue_name
    assert still.started_at is None
    manager.rerun_job(first.id)  # a rerun goes to the job's queue again
    (rerun,) = manager.wait_for_completion([first.id], timeout=30)
    assert (rerun.status, rerun.attempt) == (JobStatus.COMPLETED, 2)
    assert manager.get_job(waiting.id).status is JobStatus.QUEUED

    processes.worker(settings)  # a worker of the default queue takes it
    (taken,) = manager.wait_for_completion([waiting.id], timeout=30)
    assert taken.status is JobStatus.COMPLETED
    assert taken.result == {"message": "default queue", "data": None}


def test_default_in_queues_is_the_configured_queue(
    manager: JobManager, processes: Processes, settings: Settings, queue_name: str
) -> None:
    reports = f"{queue_name}-reports"
    processes.worker(settings, "--queues", f"{reports},default")

    plain = manager.start_job("diagnostics.echo", {"message": "plain"})
    named = manager.start_job("diagnostics.echo", {"message": "named"}, queue="default")
    report = manager.start_job("diagnostics.echo", {"message": "report"}, queue=reports)
    done = manager.wait_for_completion([plain.id, named.id, report.id], timeout=30)

    assert [job.status for job in done] == [JobStatus.COMPLETED] * 3
    assert [job.queue for job in done] == [queue_name, queue_name, reports]
    assert {job.id for job in manager.find_jobs(queue="default")} >= {plain.id, named.id}


def test_jobhub_workers_shows_the_queues_each_worker_consumes(
    processes: Processes, settings: Settings, queue_name: str
) -> None:
    pool = [f"{queue_name}-reports", queue_name]
    pooled = processes.worker(settings, "--queues", ",".join(pool), concurrency=1)
    processes.worker(settings, concurrency=1)
    env = settings_env(settings)
    deadline = time.monotonic() + 30
    while len(seen := json.loads(_ok(["workers", "--json"], env))) < 2:
        assert time.monotonic() < deadline, f"the workers never beat: {seen}"
        time.sleep(0.2)

    assert sorted(worker["queues"] for worker in seen) == [[queue_name], sorted(pool)]
    text = _ok(["workers"], env)
    assert f"queues {','.join(sorted(pool))}  " in text
    assert f"queues {queue_name}  " in text
    assert pooled.stop() == 0  # a warm shutdown is a clean exit


def test_a_bad_queue_name_stops_the_worker_with_one_line(tmp_path: Path) -> None:
    closed = free_port()  # nothing answers: the name is refused before connecting
    env = {
        "JOBHUB_DATA_DIR": str(tmp_path / "data"),
        "JOBHUB_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{closed}/none",
        "JOBHUB_BROKER_URL": f"redis://127.0.0.1:{closed}/0",
    }

    for value in ("reports,bad name", ",", "reports,*"):
        result = run_cli(["worker", "--queues", value], env, timeout=30)

        assert result.returncode == 2, result
        assert result.stdout == ""
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith("error: ")
        assert "queue" in result.stderr


def _ok(args: list[str], env: dict[str, str]) -> str:
    result = run_cli(args, env)
    assert result.returncode == 0, result.stderr
    return result.stdout
