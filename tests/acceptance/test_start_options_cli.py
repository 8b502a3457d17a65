"""Start options and ``retry-now`` through the real ``jobhub`` CLI, with real PostgreSQL,
Redis and worker processes.

``jobhub start --in`` leaves the job Created with its due time and unpublished;
``jobhub retry-now`` makes a real worker run it. Bad options print one line, exit 2
and write nothing. ``jobhub status`` shows the queue, priority, due time and "attempt N
of M"; ``jobhub events`` shows the error of each failed attempt.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import redis
from sqlalchemy import create_engine, text

from jobhub import JobManager, JobStatus, Settings
from tests import services as svc
from tests.conftest import Process, run_cli, settings_env


def _cli(args: list[str], settings: Settings) -> subprocess.CompletedProcess[str]:
    return run_cli(args, settings_env(settings))


def _ok(args: list[str], settings: Settings) -> str:
    result = _cli(args, settings)
    assert result.returncode == 0, f"jobhub {' '.join(args)}: {result.stderr}"
    return result.stdout


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {result.stderr!r}"
    assert lines[0].startswith("error: ")
    return lines[0]


def _status(settings: Settings, job_id: str) -> dict[str, Any]:
    record = json.loads(_ok(["status", job_id, "--json"], settings))
    assert isinstance(record, dict)
    return record


def _messages_on_broker(services: svc.Services, queue: str) -> int:
    broker = redis.Redis.from_url(services.redis_url)
    try:
        keys = [key for key in broker.keys(f"{queue}*") if broker.type(key) == b"list"]
        return sum(int(broker.llen(key)) for key in keys)
    finally:
        broker.close()


@pytest.fixture
def count_jobs(database_url: str) -> Iterator[Callable[[], int]]:
    """Count the rows of the jobs table, bypassing jobhub."""
    engine = create_engine(database_url)

    def count() -> int:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM jobs")).scalar_one())

    yield count
    engine.dispose()


def test_start_in_waits_created_with_its_due_time_until_retry_now_runs_it(
    settings: Settings, services: svc.Services, worker: Process, manager: JobManager
) -> None:
    before = datetime.now(UTC)
    job_id = _ok(
        ["start", "diagnostics.echo", "-p", "message=later", "--in", "1h", "--priority", "5"],
        settings,
    ).strip()
    UUID(job_id)

    record = _status(settings, job_id)
    assert (record["status"], record["status_code"]) == ("Created", 0)
    due = datetime.fromisoformat(record["due_at"])
    assert before + timedelta(hours=1) <= due <= datetime.now(UTC) + timedelta(hours=1)
    assert (record["queue"], record["priority"]) == (settings.queue, 5)
    details = _ok(["status", job_id], settings)
    assert f"queue      {settings.queue}  priority 5" in details
    assert "attempt    1 of 1" in details
    assert "due        " in details
    assert "starts at " in details

    listed = json.loads(_ok(["jobs", "--queue", settings.queue, "--json"], settings))
    assert [job["id"] for job in listed] == [job_id]
    assert json.loads(_ok(["jobs", "--queue", "other", "--json"], settings)) == []

    # several turns of the worker's due loop (every 0.25 s) leave it where it is
    time.sleep(1.5)
    assert _status(settings, job_id)["status"] == "Created"
    assert _messages_on_broker(services, settings.queue) == 0

    started = _ok(["retry-now", job_id], settings)
    assert started.strip() == f"{job_id} starts now (attempt 1 of 1)"
    _ok(["wait", job_id, "--timeout", "30"], settings)
    done = _status(settings, job_id)
    assert done["status"] == "Completed"
    assert done["due_at"] is None
    assert done["result"] == {"message": "later", "data": None}

    refused = _cli(["retry-now", job_id], settings)
    assert refused.returncode == 4
    assert "waits for no start time or retry" in _one_error_line(refused)


def test_start_at_is_the_due_time(settings: Settings, manager: JobManager) -> None:
    start_at = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    job_id = _ok(
        ["start", "diagnostics.flaky", "--at", start_at.isoformat(), "--attempts", "2"], settings
    ).strip()

    job = manager.get_job(job_id)
    assert job.due_at == start_at
    assert job.max_attempts == 2
    assert job.status is JobStatus.CREATED


def _in_the_past() -> str:
    return (datetime.now(UTC) - timedelta(hours=1)).isoformat()


def _too_far_ahead() -> str:
    return (datetime.now(UTC) + timedelta(days=400)).isoformat()


BAD: list[tuple[list[str], str]] = [
    (["--in", "-5s"], "a duration cannot be negative"),
    (["--in", "400d"], "a delay cannot be longer than 366 days"),
    (["--in", "soon"], "not a duration"),
    (["--at", "yesterday"], "not an ISO 8601 time"),
    (["--at", "2030-01-01T09:00:00"], "needs its time zone"),
    (["--at", "2030-01-01T09:00:00Z", "--in", "1h"], "not both"),
    (["--queue", "my queue"], "invalid queue name"),
    (["--queue", "reports*"], "invalid queue name"),
    (["--priority", "10"], "priority must be between 0 and 9"),
    (["--priority", "-1"], "priority must be between 0 and 9"),
    (["--priority", "high"], "not a valid integer"),
    (["--attempts", "0"], "max attempts must be between 1 and 1"),
    (["--attempts", "2"], "max attempts must be between 1 and 1"),
]


@pytest.mark.parametrize(("options", "words"), BAD, ids=[" ".join(o) for o, _ in BAD])
def test_a_bad_start_option_prints_one_line_exits_2_and_starts_nothing(
    settings: Settings, count_jobs: Callable[[], int], options: list[str], words: str
) -> None:
    before = count_jobs()

    result = _cli(["start", "diagnostics.echo", *options], settings)

    assert result.returncode == 2
    assert words in _one_error_line(result)
    assert result.stdout == ""
    assert count_jobs() == before


@pytest.mark.parametrize(
    ("when", "words"), [(_in_the_past, "is in the past"), (_too_far_ahead, "366 days ahead")]
)
def test_a_start_time_in_the_past_or_too_far_ahead_exits_2_and_starts_nothing(
    settings: Settings, count_jobs: Callable[[], int], when: Callable[[], str], words: str
) -> None:
    before = count_jobs()

    result = _cli(["start", "diagnostics.echo", "--at", when()], settings)

    assert result.returncode == 2
    assert words in _one_error_line(result)
    assert count_jobs() == before


def test_jobs_by_a_queue_no_queue_can_have_exits_2(settings: Settings) -> None:
    result = _cli(["jobs", "--queue", "a b"], settings)

    assert result.returncode == 2
    assert "invalid queue name" in _one_error_line(result)


def test_retry_now_of_a_job_not_waiting_exits_4_and_of_no_job_3(
    settings: Settings, manager: JobManager
) -> None:
    job = manager.start_job("diagnostics.echo")

    refused = _cli(["retry-now", str(job.id)], settings)
    missing = _cli(["retry-now", "00000000-0000-0000-0000-000000000000"], settings)

    assert refused.returncode == 4
    assert "waits for no start time or retry" in _one_error_line(refused)
    assert missing.returncode == 3
    assert "no job with id" in _one_error_line(missing)


def test_events_show_the_error_of_each_failed_attempt_and_status_the_attempt_of_its_run(
    settings: Settings, worker: Process
) -> None:
    result = _cli(
        ["start", "diagnostics.flaky", "-p", "fail_times=1", "--wait", "--timeout", "60", "--json"],
        settings,
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    job_id = record["id"]
    assert (record["status"], record["attempt_in_run"], record["max_attempts"]) == (
        "Completed",
        2,
        5,
    )
    assert "attempt    2 of 5" in _ok(["status", job_id], settings)

    history = json.loads(_ok(["events", job_id, "--json"], settings))
    failed = [event for event in history if event["error"] is not None]
    assert [(e["status"], e["attempt"]) for e in failed] == [("CompletedWithErrors", 1)]
    assert failed[0]["error"]["type"] == "FlakyError"
    assert failed[0]["error"]["message"] == "attempt 1 fails, as asked"
    assert "FlakyError" in (failed[0]["error"]["traceback"] or "")

    lines = _ok(["events", job_id], settings).splitlines()
    [failed_line] = [line for line in lines if "CompletedWithErrors" in line]
    assert "FlakyError: attempt 1 fails, as asked" in failed_line
    assert lines[-1].split()[1:4] == ["Completed", "attempt", "2"]
