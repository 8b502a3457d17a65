"""Jobs run elsewhere, as their runners meet them: a real ``jobhub api``, a runner in a
process of its own (``RemoteJobManager`` over HTTP, or the ``jobhub runner`` CLI), a real
worker that must never get such a job, and the reaper finding a silent runner."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import httpx
import pytest
import redis

from jobhub import JobManager, Settings
from jobhub.jobs import Job, JobStatus
from tests.conftest import Processes, run_cli, settings_env, subprocess_env
from tests.support.elsewhere_jobs import RUNNER_TIMEOUT

ELSEWHERE = "tests.elsewhere"
PROBLEM_JSON = "application/problem+json"
REFUSED = "urn:jobhub:problem:ReportRefused"

RUNNER = """
import json, sys
from jobhub import RemoteJobManager, ReportRefused

url, token, job_id = sys.argv[1:4]
with RemoteJobManager(url, token) as jobs:
    runners = jobs.runners
    claimed = runners.claim(job_id, "agent-1")
    print(json.dumps({"claimed": claimed.status.label, "by": claimed.worker_id}), flush=True)
    for step in (1, 2):
        runners.report(
            job_id, "agent-1", percent=50 * step, status_text=f"step {step} of 2",
            message=f"step {step} synced",
        )
    done = runners.finish(job_id, "agent-1", result={"synced": 2})
    print(json.dumps({"finished": done.status.label, "result": done.result}), flush=True)
    try:
        runners.report(job_id, "agent-1", percent=10, message="too late")
    except ReportRefused as exc:
        print(json.dumps({"refused": str(exc)}), flush=True)
"""
"""A runner in a process of its own: no database, no broker, only the HTTP API."""


@pytest.fixture
def elsewhere_settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings,
        job_modules=("workers", "tests.support.elsewhere_jobs"),
        publish_grace=0.2,
        inline_result_limit=100,
    )


@pytest.fixture
def jobs(elsewhere_settings: Settings) -> Iterator[JobManager]:
    manager = JobManager.from_settings(elsewhere_settings)
    yield manager
    manager.close()


def _key(jobs: JobManager, role: str = "operator", organization: str = "acme") -> str:
    return jobs.access.create_api_key(identity="agent", organization=organization, role=role).token


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def _start(client: httpx.Client, job_type: str = ELSEWHERE) -> dict[str, Any]:
    parameters = {"device": "d-7"} if job_type == ELSEWHERE else {}
    response = client.post("/jobs", json={"type": job_type, "parameters": parameters})
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def _reaped(jobs: JobManager, job_id: UUID, timeout: float = 30.0) -> Job:
    """Run the reaper until it recovers ``job_id`` (its runner went silent)."""
    deadline = time.monotonic() + timeout
    while True:
        report = jobs.housekeeping.reap_lost_jobs()
        if job_id in report.requeued or job_id in report.failed:
            return jobs.get_job(job_id)
        assert time.monotonic() < deadline, "the reaper never found the silent runner"
        time.sleep(RUNNER_TIMEOUT / 4)


# -- over HTTP ---------------------------------------------------------------------------------


def test_a_runner_in_another_process_claims_reports_and_finishes_over_http(
    jobs: JobManager, processes: Processes, elsewhere_settings: Settings
) -> None:
    api = processes.api(elsewhere_settings)
    token = _key(jobs)
    with api.client(token) as client:
        started = _start(client)
    assert (started["status"], started["api_status"], started["worker_id"]) == (
        "Created",
        "idle",
        None,
    )

    runner = subprocess.run(
        [sys.executable, "-c", RUNNER, api.url, token, started["id"]],
        capture_output=True,
        text=True,
        env=subprocess_env({}),  # no JOBHUB_* at all: it reaches only the API
        timeout=60,
        check=False,
    )

    assert runner.returncode == 0, runner.stderr
    said = [json.loads(line) for line in runner.stdout.splitlines()]
    assert said[:2] == [
        {"claimed": "Processing", "by": "agent-1"},
        {"finished": "Completed", "result": {"synced": 2}},
    ]
    assert "already ended Completed" in said[2]["refused"]
    done = jobs.get_job(started["id"])
    assert (done.status, done.result, done.worker_id, done.percent) == (
        JobStatus.COMPLETED,
        {"synced": 2},
        "agent-1",
        100,
    )
    assert done.status_text == "step 2 of 2"
    assert [(e.status, e.worker_id) for e in jobs.job_events(done.id)] == [
        (JobStatus.CREATED, None),
        (JobStatus.PROCESSING, "agent-1"),
        (JobStatus.COMPLETED, "agent-1"),
    ]
    assert [m.text for m in jobs.user_messages(done.id)] == ["step 1 synced", "step 2 synced"]

    with api.client(token) as client:
        backwards = client.post(
            f"/jobs/{done.id}/report", json={"runner": "agent-1", "percent": 50}
        )
        again = client.post(f"/jobs/{done.id}/finish", json={"runner": "agent-1", "result": 3})
        viewed = client.get(f"/jobs/{done.id}").json()
    assert _problem(backwards, 409)["type"] == REFUSED
    assert _problem(again, 409)["type"] == REFUSED
    assert (viewed["status"], viewed["api_status"], viewed["result"]) == (
        "Completed",
        "finished",
        {"synced": 2},
    )


def test_over_http_a_second_runner_and_foreign_callers_are_refused(
    jobs: JobManager, processes: Processes, elsewhere_settings: Settings
) -> None:
    api = processes.api(elsewhere_settings)
    with api.client(_key(jobs)) as client:
        job_id = _start(client)["id"]
        claimed = client.post(f"/jobs/{job_id}/claim", json={"runner": "agent-1"})
        assert claimed.status_code == 200, claimed.text
        assert (claimed.json()["api_status"], claimed.json()["worker_id"]) == (
            "running",
            "agent-1",
        )
        # claiming again is a retried request, not a second claim
        assert client.post(f"/jobs/{job_id}/claim", json={"runner": "agent-1"}).status_code == 200

        second = _problem(client.post(f"/jobs/{job_id}/claim", json={"runner": "agent-2"}), 409)
        assert second["type"] == REFUSED
        assert "'agent-1' holds it" in second["detail"]
        stranger = client.post(f"/jobs/{job_id}/report", json={"runner": "agent-2", "percent": 9})
        assert _problem(stranger, 409)["type"] == REFUSED
        other_attempt = {"runner": "agent-1", "percent": 9, "attempt": 2}
        stale = _problem(client.post(f"/jobs/{job_id}/report", json=other_attempt), 409)
        assert "it is on attempt 1" in stale["detail"]
        same_attempt = {"runner": "agent-1", "percent": 9, "attempt": 1}
        assert client.post(f"/jobs/{job_id}/report", json=same_attempt).status_code == 200

        report = {"runner": "agent-1", "percent": 150}
        _problem(client.post(f"/jobs/{job_id}/report", json=report), 422)
        both = {"runner": "agent-1", "result": 1, "error": {"message": "and failed"}}
        _problem(client.post(f"/jobs/{job_id}/finish", json=both), 422)
        worker_job = _start(client, "diagnostics.echo")["id"]  # no worker here: it waits
        _problem(client.post(f"/jobs/{worker_job}/claim", json={"runner": "agent-1"}), 400)

        large = {"runner": "agent-1", "result": {"rows": ["x" * 50] * 10}}
        finished = client.post(f"/jobs/{job_id}/finish", json=large)
        assert finished.status_code == 200, finished.text
        result = client.get(f"/jobs/{job_id}/result").json()
        assert result["responseType"] == "Publishlink"
        document = client.get(result["publishLink"])
        assert document.json() == {"rows": ["x" * 50] * 10}

    with api.client(_key(jobs, role="viewer")) as viewer:
        _problem(viewer.post(f"/jobs/{job_id}/claim", json={"runner": "agent-3"}), 403)
    with api.client(_key(jobs, organization="globex")) as other:
        _problem(other.post(f"/jobs/{job_id}/claim", json={"runner": "agent-3"}), 404)


# -- never published ---------------------------------------------------------------------------


def test_a_job_run_elsewhere_never_reaches_the_broker_even_with_the_outbox_run(
    jobs: JobManager, processes: Processes, elsewhere_settings: Settings
) -> None:
    processes.worker(elsewhere_settings)
    waiting = jobs.start_job(ELSEWHERE)
    retried = jobs.start_job(ELSEWHERE)
    jobs.runners.claim(retried.id, "agent-1")
    jobs.runners.finish(retried.id, "agent-1", error="flaky link")  # attempt 2 waits
    time.sleep(elsewhere_settings.publish_grace * 2)

    outbox = jobs.housekeeping.reconcile_outbox()

    assert outbox.published == []
    queue = redis.Redis.from_url(str(elsewhere_settings.broker_url))
    assert queue.llen(elsewhere_settings.queue) == 0
    assert jobs.admin.dead_letters() == []
    assert [e.status for e in jobs.job_events(waiting.id)] == [JobStatus.CREATED]
    again = jobs.get_job(retried.id)
    assert (again.status, again.attempt, again.queued_at) == (JobStatus.CREATED, 2, None)


# -- a silent runner, with the CLI as the runner --------------------------------------------------


def test_a_silent_runner_is_found_and_its_job_retried_then_ended_runner_lost(
    jobs: JobManager, elsewhere_settings: Settings
) -> None:
    env = settings_env(elsewhere_settings)
    job = jobs.start_job(ELSEWHERE)

    claimed = run_cli(["runner", "claim", str(job.id), "--runner", "agent-1", "--json"], env)
    assert claimed.returncode == 0, claimed.stderr
    assert json.loads(claimed.stdout)["worker_id"] == "agent-1"
    reported = run_cli(
        ["runner", "report", str(job.id), "--runner", "agent-1", "--percent", "30"], env
    )
    assert reported.returncode == 0, reported.stderr
    assert "Processing (attempt 1) on agent-1  30%" in reported.stdout

    reopened = _reaped(jobs, job.id)  # agent-1 says nothing more

    assert (reopened.status, reopened.attempt, reopened.due_at) == (JobStatus.CREATED, 2, None)
    lost = jobs.job_events(job.id)[-2]
    assert (lost.status, lost.attempt) == (JobStatus.COMPLETED_WITH_ERRORS, 1)
    assert lost.error is not None
    assert lost.error.type == "RunnerLost"
    late = run_cli(["runner", "finish", str(job.id), "--runner", "agent-1", "--result", "1"], env)
    assert late.returncode == 4
    assert late.stderr.startswith("error: runner 'agent-1' cannot finish job")
    assert len(late.stderr.splitlines()) == 1

    second = run_cli(["runner", "claim", str(job.id), "--runner", "agent-2"], env)
    assert second.returncode == 0, second.stderr
    ended = _reaped(jobs, job.id)  # agent-2 goes silent too: no attempt is left

    assert (ended.status, ended.attempt, ended.worker_id) == (
        JobStatus.COMPLETED_WITH_ERRORS,
        2,
        "agent-2",
    )
    assert ended.error is not None
    assert ended.error.type == "RunnerLost"


def test_the_runner_cli_refuses_bad_input_in_one_line(
    jobs: JobManager, elsewhere_settings: Settings
) -> None:
    env = settings_env(elsewhere_settings)
    job = jobs.start_job(ELSEWHERE)
    run_cli(["runner", "claim", str(job.id), "--runner", "agent-1"], env)

    neither = run_cli(["runner", "finish", str(job.id), "--runner", "agent-1"], env)
    not_json = run_cli(
        ["runner", "finish", str(job.id), "--runner", "agent-1", "--result", "{oops"], env
    )
    failed = run_cli(
        [
            "runner",
            "finish",
            str(job.id),
            "--runner",
            "agent-1",
            "--error",
            "serial number unknown",
            "--error-type",
            "UnknownDevice",
            "--no-retry",
        ],
        env,
    )

    assert (neither.returncode, not_json.returncode) == (2, 2)
    for refused in (neither, not_json):
        assert refused.stderr.startswith("error: ")
        assert len(refused.stderr.splitlines()) == 1
    assert failed.returncode == 0, failed.stderr
    ended = jobs.get_job(job.id)
    assert (ended.status, ended.attempt) == (JobStatus.COMPLETED_WITH_ERRORS, 1)
    assert ended.error is not None
    assert (ended.error.type, ended.error.message) == ("UnknownDevice", "serial number unknown")
