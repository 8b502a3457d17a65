"""Ops watch Flower: a real worker and real Flower show jobs by their job id."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from jobhub import JobManager, JobStatus, Settings
from tests.conftest import Processes, settings_env
from tests.services import free_port


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _poll(url: str, found: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None  # the last answer or error, for the failure message
    while True:
        try:
            last = _get(url)
            if found(last):
                return last
        except urllib.error.HTTPError as exc:
            last = f"{exc.code} {exc.read()!r}"
        except (urllib.error.URLError, ConnectionError) as exc:
            last = exc
        assert time.monotonic() < deadline, f"{url} never showed what was expected: {last}"
        time.sleep(0.2)


def test_flower_lists_a_job_by_its_id_with_name_arguments_and_state(
    manager: JobManager, processes: Processes, settings: Settings
) -> None:
    worker = processes.worker(settings)
    port = free_port()
    env = {**settings_env(settings), "FLOWER_UNAUTHENTICATED_API": "true"}
    processes.start("flower", ["flower", f"--port={port}"], env)
    base = f"http://127.0.0.1:{port}"
    node = worker.log().split("ready.")[0].rsplit("] ", 1)[-1].strip()
    _poll(f"{base}/api/workers?refresh=1", lambda body: node in body)

    job = manager.start_job("diagnostics.echo", {"message": "seen by flower"})
    manager.wait_for_completion([job.id], timeout=20)

    tasks = _poll(
        f"{base}/api/tasks",
        lambda body: body.get(str(job.id), {}).get("state") == "SUCCESS",
    )
    task = tasks[str(job.id)]
    assert task["name"] == "diagnostics.echo"
    assert "seen by flower" in task["kwargs"]
    assert task["worker"] == node

    # A burst: the worker sends its events in batches; Flower still sees every job end.
    burst = [manager.start_job("diagnostics.echo", {"message": f"b{n}"}) for n in range(100)]
    manager.wait_for_completion([job.id for job in burst], timeout=60)
    wanted = {str(job.id) for job in burst}
    tasks = _poll(
        f"{base}/api/tasks?limit=1000",
        lambda body: all(body.get(i, {}).get("state") == "SUCCESS" for i in wanted),
    )
    assert {
        tasks[i]["received"] is not None and tasks[i]["started"] is not None for i in wanted
    } == {True}


def test_flower_shows_the_queues_a_worker_consumes_and_the_jobs_waiting_in_them(
    manager: JobManager, processes: Processes, settings: Settings, queue_name: str
) -> None:
    reports = f"{queue_name}-reports"
    worker = processes.worker(settings, "--queues", f"{reports},{queue_name}", concurrency=1)
    port = free_port()
    env = {**settings_env(settings), "FLOWER_UNAUTHENTICATED_API": "true"}
    processes.start("flower", ["flower", f"--port={port}"], env)
    base = f"http://127.0.0.1:{port}"
    node = worker.log().split("ready.")[0].rsplit("] ", 1)[-1].strip()

    workers = _poll(f"{base}/api/workers?refresh=1", lambda body: node in body)
    assert {queue["name"] for queue in workers[node]["active_queues"]} == {reports, queue_name}

    busy = manager.start_job("diagnostics.sleep", {"steps": 1, "seconds": 120})
    deadline = time.monotonic() + 30
    while manager.get_job(busy.id).status is not JobStatus.PROCESSING:
        assert time.monotonic() < deadline, "the worker never started the first job"
        time.sleep(0.05)
    waiting = [
        manager.start_job("diagnostics.echo", {"message": "wait"}, queue=reports, priority=p)
        for p in (0, 5, 9)  # each priority is a list of its own on Redis: all are counted
    ]

    lengths = _poll(
        f"{base}/api/queues/length",
        lambda body: {"name": reports, "messages": 3} in body["active_queues"],
    )
    assert {"name": queue_name, "messages": 0} in lengths["active_queues"]
    manager.cancel_job(busy.id)
    manager.wait_for_completion([job.id for job in waiting], timeout=30)
