"""What real ``jobhub worker``, ``beat`` and ``api`` processes log (``jobhub.logs``):
Celery's and uvicorn's lines in jobhub's format, one JSON object per line with
``JOBHUB_LOG_FORMAT=json``, and a job's failure with its id, type and action."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import httpx

from jobhub import Job, JobManager, JobStatus, Settings
from tests.conftest import Process, Processes, run_cli, settings_env
from tests.services import free_port


def _failed_job(manager: JobManager) -> Job:
    job = manager.start_job("diagnostics.sleep", {"steps": 2, "seconds": 0, "fail_at_step": 1})
    (done,) = manager.wait_for_completion([job.id], timeout=30)
    assert done.status is JobStatus.COMPLETED_WITH_ERRORS
    return done


def _json_lines(process: Process) -> list[dict[str, Any]]:
    """Every line of the process's output, each of which must be one JSON object."""
    records = []
    for number, line in enumerate(process.log().splitlines(), start=1):
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"line {number} is not JSON: {line!r}") from None
        assert isinstance(record, dict), line
        records.append(record)
    return records


def test_text_worker_log_shows_a_failure_with_the_job_id_type_and_action(
    manager: JobManager, worker: Process
) -> None:
    job = _failed_job(manager)
    worker.wait_for_log(f"job={job.id}", timeout=10)

    lines = worker.log().splitlines()
    [failure] = [line for line in lines if f"job={job.id}" in line and "action=fail" in line]
    assert " ERROR " in failure
    assert " jobhub.worker.signals] job failed: CanaryError: failing at step 1" in failure
    assert failure.endswith(f"| job={job.id} type=diagnostics.sleep action=fail attempt=1")
    # Celery's own lines come through the same formatter
    assert any(
        re.search(r" INFO MainProcess celery\.apps\.worker\] \S+@\S+ ready\.$", line)
        for line in lines
    )


def test_json_worker_logs_one_object_per_line_and_the_failure_with_its_job_fields(
    manager: JobManager, processes: Processes, settings: Settings
) -> None:
    worker = processes.worker(replace(settings, log_format="json"))
    job = _failed_job(manager)
    worker.wait_for_log(f'"job_id": "{job.id}"', timeout=10)

    records = _json_lines(worker)
    [failure] = [r for r in records if r["logger"] == "jobhub.worker.signals"]
    assert failure["level"] == "ERROR"
    assert failure["message"].startswith("job failed: CanaryError: failing at step 1")
    assert (failure["job_id"], failure["job_type"], failure["action"]) == (
        str(job.id),
        "diagnostics.sleep",
        "fail",
    )
    assert failure["attempt"] == 1
    assert failure["time"].endswith("Z")
    [ready] = [r for r in records if r["message"].endswith(" ready.")]
    assert (ready["logger"], ready["level"]) == ("celery.apps.worker", "INFO")
    # Celery's line about the same failure, its traceback inside the object
    [trace] = [r for r in records if r["logger"] == "celery.app.trace"]
    assert "CanaryError" in trace["exc_info"]


def test_json_beat_and_api_log_one_object_per_line(
    processes: Processes, settings: Settings
) -> None:
    env = settings_env(replace(settings, log_format="json"))
    beat = processes.start("beat", ["beat", "--loglevel=INFO"], env)
    beat.wait_for_log("beat: Starting", timeout=60)
    port = free_port()
    api = processes.start("api", ["api", f"--port={port}", "--loglevel=info"], env)
    api.wait_for_log("Uvicorn running on", timeout=60)
    assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 200
    api.wait_for_log("GET /health", timeout=10)

    assert any(r["logger"] == "celery.beat" for r in _json_lines(beat))
    loggers = {r["logger"] for r in _json_lines(api)}
    assert {"uvicorn.error", "uvicorn.access"} <= loggers


def test_cli_error_line_is_the_same_with_json_logs(settings: Settings) -> None:
    env = settings_env(replace(settings, log_format="json"))
    result = run_cli(["status", "0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55"], env)
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr == "error: no job with id 0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55\n"
