"""Ops watch Flower: a real worker and real Flower show jobs by their job id."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from jobhub import JobManager, Settings
from tests.conftest import Processes, settings_env
from tests.services import free_port


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _poll(url: str, found: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            body = _get(url)
            if found(body):
                return body
        except (urllib.error.URLError, ConnectionError):
            pass
        assert time.monotonic() < deadline, f"{url} never showed what was expected"
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
