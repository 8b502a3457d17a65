"""The ``jobhub`` CLI as a subprocess: starting, inspecting, waiting for, cancelling and
rerunning jobs with real PostgreSQL, Redis and worker processes; plus ``available``,
``check``, ``db current`` and every command's ``--help``.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import create_engine, text

from jobhub import JobManager, JobStatus, Settings
from jobhub.audit import Actor
from jobhub.db import migrate
from tests.conftest import Process, Processes, run_cli, settings_env
from tests.services import free_port

# -- helpers -----------------------------------------------------------------------------


def _cli(args: list[str], settings: Settings) -> subprocess.CompletedProcess[str]:
    return run_cli(args, settings_env(settings))


def _ok(args: list[str], settings: Settings) -> str:
    """Run a command that must succeed; return its stdout."""
    result = _cli(args, settings)
    assert result.returncode == 0, f"jobhub {' '.join(args)}: {result.stderr}"
    return result.stdout


def _start(settings: Settings, job_type: str, *params: str) -> str:
    """``jobhub start`` without --wait; returns the id it printed."""
    args = ["start", job_type]
    for param in params:
        args += ["-p", param]
    return _job_id(_ok(args, settings))


def _job_id(stdout: str) -> str:
    """The one UUID a command printed, checking it printed nothing else."""
    lines = stdout.splitlines()
    assert len(lines) == 1, f"expected just an id, got {stdout!r}"
    return str(UUID(lines[0]))


def _status(settings: Settings, job_id: str) -> dict[str, Any]:
    record = json.loads(_ok(["status", job_id, "--json"], settings))
    assert isinstance(record, dict)
    return record


def _wait_for_status(
    settings: Settings, job_id: str, status: str, timeout: float = 30.0
) -> dict[str, Any]:
    """Poll ``jobhub status --json`` until the job shows ``status``."""
    deadline = time.monotonic() + timeout
    record = _status(settings, job_id)
    while record["status"] != status:
        assert time.monotonic() < deadline, f"never {status}: {record}"
        time.sleep(0.05)
        record = _status(settings, job_id)
    return record


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line a failed command printed on stderr, with no traceback anywhere."""
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {result.stderr!r}"
    return lines[0]


def _stop_job(manager: JobManager, job_id: str) -> None:
    """Cancel a long job so the worker shuts down without waiting for it."""
    if not manager.get_job(job_id).is_terminal:
        manager.cancel_job(job_id)
    manager.wait_for_completion([job_id], timeout=20)


@pytest.fixture
def count_jobs(database_url: str) -> Iterator[Callable[[], int]]:
    """Count the rows of the jobs table in this test's database, bypassing jobhub."""
    engine = create_engine(database_url)

    def count() -> int:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM jobs")).scalar_one())

    yield count
    engine.dispose()


# -- start and wait ----------------------------------------------------------------------


def test_start_wait_json_prints_one_completed_job_record(
    settings: Settings, worker: Process
) -> None:
    result = _cli(
        ["start", "diagnostics.sleep", "-p", "steps=2", "-p", "seconds=0.1", "--wait", "--json"],
        settings,
    )

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    record = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert isinstance(record, dict)
    UUID(record["id"])
    assert record["job_type"] == "diagnostics.sleep"
    assert record["status"] == "Completed"
    assert record["status_code"] == 3
    assert record["percent"] == 100
    assert record["result"] == {"steps": 2, "seconds": 0.1}
    assert record["error"] is None
    assert record["attempt"] == 1
    times = [
        datetime.fromisoformat(record[name])
        for name in ("created_at", "queued_at", "started_at", "completed_at")
    ]
    assert times == sorted(times), f"lifecycle times out of order: {times}"


def test_start_wait_of_a_failing_job_exits_1_and_status_shows_its_error(
    settings: Settings, worker: Process
) -> None:
    result = _cli(
        [
            "start",
            "diagnostics.sleep",
            "-p",
            "steps=2",
            "-p",
            "seconds=0.05",
            "-p",
            "fail_at_step=1",
            "--wait",
        ],
        settings,
    )

    assert result.returncode == 1, result.stderr
    job_id = _job_id(result.stderr)  # without --json the id goes to stderr while waiting
    assert job_id in result.stdout.splitlines()[0]
    assert "CompletedWithErrors" in result.stdout
    assert "CanaryError" in result.stdout
    record = _status(settings, job_id)
    assert record["status"] == "CompletedWithErrors"
    assert record["status_code"] == 4
    assert record["result"] is None
    assert record["error"]["type"] == "CanaryError"
    assert "failing at step 1 of 2" in record["error"]["message"]
    assert "CanaryError" in record["error"]["traceback"]


def test_start_prints_the_id_and_status_jobs_messages_events_show_the_job(
    settings: Settings, processes: Processes
) -> None:
    # an echo job cancelled before any worker runs: an echo that did not complete
    cancelled = _start(settings, "diagnostics.echo", "message=never")
    assert "Cancelled" in _ok(["cancel", cancelled], settings)
    assert _status(settings, cancelled)["status"] == "Cancelled"
    processes.worker(settings)
    first = _start(settings, "diagnostics.echo", "message=first")
    second = _start(settings, "diagnostics.echo", "message=second")
    sleeper = _start(settings, "diagnostics.sleep", "steps=3", "seconds=0.05")
    _ok(["wait", first, second, sleeper, "--timeout", "30"], settings)

    details = _ok(["status", first], settings)
    assert f"job        {first}" in details
    assert "diagnostics.echo" in details
    assert "Completed (3)  100%" in details
    (result_line,) = [line for line in details.splitlines() if line.startswith("result ")]
    assert json.loads(result_line.removeprefix("result ")) == {"message": "first", "data": None}
    record = _status(settings, first)
    assert record["id"] == first
    assert record["status"] == "Completed"
    assert record["parameters"] == {"message": "first", "data": None}
    assert record["result"] == {"message": "first", "data": None}

    listed = json.loads(
        _ok(
            [
                "jobs",
                "--status",
                "Completed",
                "--type",
                "diagnostics.echo",
                "--limit",
                "5",
                "--json",
            ],
            settings,
        )
    )
    assert [job["id"] for job in listed] == [second, first]  # newest first
    assert {job["status"] for job in listed} == {"Completed"}
    newest = json.loads(
        _ok(
            ["jobs", "--status", "3", "--type", "diagnostics.echo", "--limit", "1", "--json"],
            settings,
        )
    )
    assert [job["id"] for job in newest] == [second]

    posted = json.loads(_ok(["messages", sleeper, "--json"], settings))
    assert [m["text"] for m in posted] == [
        "step 1 of 3 done",
        "step 2 of 3 done",
        "step 3 of 3 done",
    ]
    seqs = [m["seq"] for m in posted]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3

    history = json.loads(_ok(["events", first, "--json"], settings))
    assert [(e["status"], e["status_code"], e["attempt"]) for e in history] == [
        ("Created", 0, 1),
        ("Queued", 1, 1),
        ("Processing", 2, 1),
        ("Completed", 3, 1),
    ]


def test_wait_times_out_with_exit_5_and_waits_for_several_jobs(
    settings: Settings, manager: JobManager, worker: Process
) -> None:
    long_job = _start(settings, "diagnostics.sleep", "steps=20", "seconds=1")
    try:
        started = time.monotonic()
        timed_out = _cli(["wait", long_job, "--timeout", "0.5"], settings)
        assert time.monotonic() - started < 10

        assert timed_out.returncode == 5, timed_out.stderr
        assert long_job in _one_error_line(timed_out)
        assert timed_out.stdout == ""

        short = [_start(settings, "diagnostics.echo", f"message=m{n}") for n in range(2)]
        both = _cli(["wait", *short, "--timeout", "30"], settings)

        assert both.returncode == 0, both.stderr
        for job_id in short:
            line = next(line for line in both.stdout.splitlines() if job_id in line)
            assert "Completed" in line
            assert _status(settings, job_id)["status"] == "Completed"
    finally:
        _stop_job(manager, long_job)


def test_cancel_stops_a_running_job_and_refuses_a_finished_one(
    settings: Settings, worker: Process
) -> None:
    job_id = _start(settings, "diagnostics.sleep", "steps=100", "seconds=0.2")
    _wait_for_status(settings, job_id, "Processing")

    asked = time.monotonic()
    cancelled = _cli(["cancel", job_id], settings)
    waited = _cli(["wait", job_id, "--timeout", "10"], settings)
    elapsed = time.monotonic() - asked

    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.startswith(f"{job_id} cancel requested")
    assert waited.returncode == 1, waited.stderr  # ended, but not Completed
    assert elapsed < 15  # left alone, it would run 20 s
    record = _status(settings, job_id)
    assert record["status"] == "Cancelled"
    assert record["status_code"] == 5
    assert record["percent"] < 100
    assert record["modified_by"] == Actor.local().identity  # the local user

    again = _cli(["cancel", job_id], settings)
    assert again.returncode == 4
    assert job_id in _one_error_line(again)
    done = json.loads(_ok(["start", "diagnostics.echo", "--wait", "--json"], settings))
    finished = _cli(["cancel", done["id"]], settings)
    assert finished.returncode == 4
    assert "Completed" in _one_error_line(finished)
    assert _status(settings, done["id"])["status"] == "Completed"


def test_rerun_queues_a_completed_job_again_and_refuses_a_running_one(
    settings: Settings, manager: JobManager, worker: Process
) -> None:
    first = json.loads(
        _ok(["start", "diagnostics.echo", "-p", "message=again", "--wait", "--json"], settings)
    )
    assert first["status"] == "Completed"
    assert first["attempt"] == 1
    job_id = first["id"]

    rerun = _cli(["rerun", job_id], settings)

    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.startswith(job_id)
    assert "(attempt 2)" in rerun.stdout
    done = json.loads(_ok(["wait", job_id, "--timeout", "20", "--json"], settings))
    assert done["status"] == "Completed"
    assert done["attempt"] == 2
    assert done["result"] == {"message": "again", "data": None}
    history = json.loads(_ok(["events", job_id, "--json"], settings))
    assert [(e["attempt"], e["status"]) for e in history] == [
        (1, "Created"),
        (1, "Queued"),
        (1, "Processing"),
        (1, "Completed"),
        (2, "Created"),
        (2, "Queued"),
        (2, "Processing"),
        (2, "Completed"),
    ]

    running = _start(settings, "diagnostics.sleep", "steps=100", "seconds=0.2")
    try:
        _wait_for_status(settings, running, "Processing")
        refused = _cli(["rerun", running], settings)

        assert refused.returncode == 4
        assert running in _one_error_line(refused)
        assert refused.stdout == ""
        still = _status(settings, running)
        assert still["status"] == "Processing"
        assert still["attempt"] == 1
    finally:
        _stop_job(manager, running)


# -- keys and client request ids ---------------------------------------------------------


def test_jobs_pages_newest_first_with_the_cursor_it_prints(
    manager: JobManager, settings: Settings
) -> None:
    started = [manager.start_job("diagnostics.echo", {"message": str(n)}).id for n in range(5)]
    newest_first = [str(job_id) for job_id in reversed(started)]

    pages: list[list[str]] = []
    after: list[str] = []
    while True:
        result = _cli(["jobs", "--limit", "2", "--json", *after], settings)
        assert result.returncode == 0, result.stderr
        pages.append([record["id"] for record in json.loads(result.stdout)])
        hint = [line for line in result.stderr.splitlines() if line.startswith("more: ")]
        if not hint:
            break
        after = hint[0].removeprefix("more: ").split()

    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:5]]
    bad = _cli(["jobs", "--after", "not-a-cursor"], settings)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: not a page cursor")


def test_start_with_a_key_held_by_an_active_job_exits_4(
    settings: Settings, count_jobs: Callable[[], int]
) -> None:
    holder = _ok(["start", "diagnostics.sleep", "--key", "nightly"], settings)
    _job_id(holder)  # Queued: no worker runs it, so it keeps the key

    clash = _cli(["start", "diagnostics.sleep", "--key", "nightly"], settings)

    assert clash.returncode == 4
    assert "nightly" in _one_error_line(clash)
    assert clash.stdout == ""
    assert count_jobs() == 1


def test_start_with_the_same_client_request_id_prints_the_same_id(
    settings: Settings, count_jobs: Callable[[], int]
) -> None:
    args = ["start", "diagnostics.echo", "-p", "message=once", "--client-request-id", "req-42"]

    first = _job_id(_ok(args, settings))
    second = _job_id(_ok(args, settings))

    assert first == second
    assert count_jobs() == 1
    assert _status(settings, first)["client_request_id"] == "req-42"


def test_start_many_starts_a_file_of_jobs_and_exits_1_for_a_refused_one(
    settings: Settings,
    manager: JobManager,
    worker: Process,
    tmp_path: Path,
    count_jobs: Callable[[], int],
) -> None:
    jobs = [{"type": "diagnostics.echo", "parameters": {"message": f"m{n}"}} for n in range(20)]
    jobs += [
        {"type": "diagnostics.sleep", "parameters": {"steps": 5, "seconds": 0.1}, "key": "k"},
        {"type": "diagnostics.sleep", "key": "k"},
    ]
    path = tmp_path / "jobs.jsonl"
    path.write_text("\n".join(json.dumps(job) for job in jobs) + "\n")

    result = _cli(["start-many", str(path), "--organization", "acme", "--json"], settings)

    assert result.returncode == 1, result.stderr  # the second holder of "k" was refused
    items = json.loads(result.stdout)
    assert [item["state"] for item in items] == ["started"] * 21 + ["refused"]
    assert "'k'" in items[21]["error"]
    assert {item["job"]["organization"] for item in items[:21]} == {"acme"}
    done = manager.wait_for_completion([item["job"]["id"] for item in items[:21]], timeout=60)
    assert [job.result for job in done[:20]] == [
        {"message": f"m{n}", "data": None} for n in range(20)
    ]
    assert {job.status for job in done} == {JobStatus.COMPLETED}
    assert count_jobs() == 21

    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    bad = _cli(["start-many", str(empty)], settings)
    assert bad.returncode == 2
    assert _one_error_line(bad) == "error: no jobs in the file"
    assert count_jobs() == 21


# -- available, check, db current --------------------------------------------------------


def test_available_json_lists_the_shipped_job_types_with_parameter_schemas(
    settings: Settings,
) -> None:
    listed = json.loads(_ok(["available", "--json"], settings))

    by_name = {entry["name"]: entry for entry in listed}
    assert sorted(by_name) == [
        "diagnostics.echo",
        "diagnostics.flaky",
        "diagnostics.sleep",
        "external.device_sync",
        "maintenance.purge_jobs",
        "maintenance.reap_lost_jobs",
        "maintenance.reconcile_outbox",
        "reports.job_statistics",
    ]
    assert by_name["diagnostics.sleep"]["max_attempts"] == 3
    assert by_name["diagnostics.flaky"]["max_attempts"] == 5
    assert by_name["diagnostics.echo"]["max_attempts"] == 1
    assert {entry["queue"] for entry in listed} == {settings.queue}
    recovery = {"maintenance.reap_lost_jobs", "maintenance.reconcile_outbox"}
    assert {entry["priority"] for entry in listed if entry["name"] not in recovery} == {0}
    assert {by_name[name]["priority"] for name in recovery} == {9}  # ahead of any backlog
    assert by_name["external.device_sync"]["runs_elsewhere"] is True
    for entry in listed:
        assert entry["parameters"]["type"] == "object"
        assert entry["parameters"]["additionalProperties"] is False
    sleep = by_name["diagnostics.sleep"]["parameters"]
    assert sorted(sleep["properties"]) == ["fail_at_step", "seconds", "steps"]
    assert sleep["properties"]["steps"]["type"] == ["integer", "null"]
    assert sleep["properties"]["steps"]["minimum"] == 1
    assert sleep["properties"]["steps"]["maximum"] == 10_000
    assert sleep["properties"]["steps"]["default"] == 5
    assert sleep["required"] == []
    echo = by_name["diagnostics.echo"]["parameters"]
    assert sorted(echo["properties"]) == ["data", "message"]
    purge = by_name["maintenance.purge_jobs"]
    assert sorted(purge["parameters"]["properties"]) == ["batch_size"]
    assert purge["can_cancel"] is False
    assert purge["housekeeping"] is True
    assert by_name["diagnostics.echo"]["housekeeping"] is False
    stats = by_name["reports.job_statistics"]["parameters"]
    assert stats["properties"]["since"]["format"] == "date-time"


def test_check_exits_0_when_everything_answers_and_1_with_the_broker_down(
    settings: Settings,
) -> None:
    good = _cli(["check"], settings)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "database: ok" in good.stdout
    assert "broker: ok" in good.stdout

    env = {**settings_env(settings), "JOBHUB_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"}
    down = run_cli(["check", "--json"], env)

    assert down.returncode == 1
    assert "Traceback" not in down.stdout + down.stderr
    report = json.loads(down.stdout)
    assert report["database"] == "ok"
    assert report["broker"].startswith("broker unavailable")


def test_db_current_prints_the_revision(settings: Settings) -> None:
    head = migrate.head_revision()

    output = _ok(["db", "current"], settings)

    assert output.strip() == f"database {head}, code {head}"


# -- help --------------------------------------------------------------------------------

COMMANDS = [
    "worker",
    "beat",
    "flower",
    "serve",
    "db upgrade",
    "db current",
    "check",
    "start",
    "status",
    "jobs",
    "messages",
    "events",
    "wait",
    "cancel",
    "rerun",
    "retry-now",
    "available",
    "workers",
    "dead-letters",
    "audit",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_exits_0_with_an_example(command: str, tmp_path: Path) -> None:
    # nothing is configured to answer: help must not connect anywhere
    closed = free_port()
    env = {
        "JOBHUB_DATA_DIR": str(tmp_path / "data"),
        "JOBHUB_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{closed}/none",
        "JOBHUB_BROKER_URL": f"redis://127.0.0.1:{closed}/0",
    }

    result = run_cli([*command.split(), "--help"], env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert f"Usage: jobhub {command}" in result.stdout
    assert "Example" in result.stdout
    assert result.stderr == ""
