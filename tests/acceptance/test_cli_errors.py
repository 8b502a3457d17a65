"""The ``jobhub`` CLI on bad input and unreachable services: one line on stderr, no
traceback, the documented exit code (2 invalid input, 3 not found, 4 conflict,
6 database, 7 broker), and nothing written to the database.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, create_engine, text

from jobhub import JobManager, Settings
from tests.conftest import run_cli, settings_env
from tests.services import free_port

UNKNOWN_ID = "0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55"


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    exit_code: int
    mentions: str
    """Text the error line must contain, so it says what was wrong."""
    database_down: bool = False


CASES = {
    "unknown job type": Case(("start", "nosuch.job"), 3, "nosuch.job"),
    "parameter without =": Case(("start", "diagnostics.sleep", "-p", "steps"), 2, "name=value"),
    "mistyped parameter": Case(("start", "diagnostics.sleep", "-p", "steps=abc"), 2, "abc"),
    "out-of-range parameter": Case(
        ("start", "diagnostics.sleep", "-p", "steps=0"), 2, "at least 1"
    ),
    "unknown parameter": Case(("start", "diagnostics.sleep", "-p", "nosuch=1"), 2, "nosuch"),
    "jobs with an unknown status": Case(("jobs", "--status", "Nonsense"), 2, "Nonsense"),
    "wait with a bad timeout": Case(
        ("wait", UNKNOWN_ID, "--timeout", "soon"), 2, "'--timeout': not a duration: 'soon'"
    ),
    "start --wait with a bad timeout": Case(
        ("start", "diagnostics.echo", "--wait", "--timeout", "5 min"), 2, "not a duration"
    ),
    "schedule with units out of order": Case(
        ("schedule", "set", "diagnostics.echo", "--every", "30m1h"), 2, "largest to smallest"
    ),
    "schedule with a zero interval": Case(
        ("schedule", "set", "diagnostics.echo", "--every", "0s"), 2, "must be positive"
    ),
    **{
        f"{command} of an unknown id": Case((command, UNKNOWN_ID), 3, UNKNOWN_ID)
        for command in ("status", "cancel", "rerun", "messages", "events", "wait")
    },
    **{
        f"{command} of a non-UUID id": Case((command, "123"), 3, "123")
        for command in ("status", "cancel", "rerun", "messages", "events", "wait")
    },
    "start with the database down": Case(
        ("start", "diagnostics.echo"), 6, "database unavailable", database_down=True
    ),
    "status with the database down": Case(
        ("status", UNKNOWN_ID), 6, "database unavailable", database_down=True
    ),
    "jobs with the database down": Case(("jobs",), 6, "database unavailable", database_down=True),
}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """This test's database, read directly rather than through jobhub."""
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def _rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in ("jobs", "job_events", "job_messages")
        }


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {result.stderr!r}"
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_prints_one_line_exits_with_its_code_and_writes_nothing(
    case: Case, settings: Settings, manager: JobManager, engine: Engine
) -> None:
    job = manager.start_job("diagnostics.sleep", {"steps": 1})  # a job already there, Queued
    manager.get_job(job.id)  # its deferred Queued write is in: reads settle them first
    before = _rows(engine)
    env = settings_env(settings)
    if case.database_down:
        env["JOBHUB_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{free_port()}/jobhub"

    result = run_cli(list(case.args), env)

    assert result.returncode == case.exit_code, result.stderr
    assert case.mentions in _one_error_line(result)
    assert result.stdout == ""
    assert _rows(engine) == before
    assert before["jobs"] == 1


def test_start_with_the_broker_down_exits_7_and_leaves_the_jobs_table_empty(
    settings: Settings, engine: Engine
) -> None:
    assert _rows(engine) == {"jobs": 0, "job_events": 0, "job_messages": 0}
    env = {**settings_env(settings), "JOBHUB_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"}

    result = run_cli(["start", "diagnostics.echo", "-p", "message=lost"], env)

    assert result.returncode == 7, result.stderr
    assert "broker" in _one_error_line(result)
    assert result.stdout == ""
    assert _rows(engine) == {"jobs": 0, "job_events": 0, "job_messages": 0}
