"""Bad input at every edge, through real workers and the real CLI.

Messages that are not jobs are published straight to the queue, around jobhub, as a
foreign producer or a corrupted publisher would: each becomes one dead letter and the
worker goes on running jobs.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

import psycopg
import pytest
from kombu import Exchange, Producer

from jobhub import InvalidInput, InvalidParameters, JobManager, JobStatus, Settings
from jobhub.db.dead_letter_store import DeadLetter
from tests import services as svc
from tests.conftest import Process, Processes, run_cli, settings_env


def _publish_raw(manager: JobManager, headers: dict[str, object], body: object) -> None:
    settings = manager.settings
    with manager.app.connection_for_write() as connection:
        producer = Producer(connection.default_channel)
        producer.publish(
            json.dumps(body),
            exchange=Exchange(settings.queue, type="direct"),
            routing_key=settings.queue,
            headers=headers,
            content_type="application/json",
            content_encoding="utf-8",
        )


def _dead_letter(manager: JobManager, predicate: Callable[[DeadLetter], bool]) -> DeadLetter:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for letter in manager.admin.dead_letters(limit=50):
            if predicate(letter):
                return letter
        time.sleep(0.1)
    raise AssertionError("no such dead letter was recorded")


def _still_runs_jobs(manager: JobManager, worker: Process) -> None:
    job = manager.start_job("diagnostics.echo", {"message": "still here"})
    (done,) = manager.wait_for_completion([job.id], timeout=20)
    assert done.status is JobStatus.COMPLETED
    assert worker.popen.poll() is None


def test_an_unknown_task_name_is_a_dead_letter(manager: JobManager, worker: Process) -> None:
    task_id = str(uuid.uuid4())
    _publish_raw(
        manager,
        {"lang": "py", "task": "nobody.declares.this", "id": task_id, "root_id": task_id},
        [[], {"x": 1}, {}],
    )

    letter = _dead_letter(manager, lambda letter: letter.task_id == task_id)

    assert letter.reason == "unknown task"
    assert letter.task_name == "nobody.declares.this"
    assert '"x": 1' in (letter.body or "")
    _still_runs_jobs(manager, worker)


def test_a_message_that_is_not_a_task_is_a_dead_letter(
    manager: JobManager, worker: Process
) -> None:
    marker = uuid.uuid4().hex
    _publish_raw(manager, {"something": marker}, {"not": "a task"})

    letter = _dead_letter(manager, lambda letter: marker in json.dumps(letter.headers))

    assert letter.reason == "invalid message"
    _still_runs_jobs(manager, worker)


def test_a_raw_protocol_2_message_published_around_jobhub_is_adopted_as_a_job(
    manager: JobManager, worker: Process
) -> None:
    task_id = str(uuid.uuid4())
    _publish_raw(
        manager,
        {"lang": "py", "task": "diagnostics.echo", "id": task_id, "root_id": task_id},
        [[], {"message": "from elsewhere"}, {}],
    )

    (done,) = manager.wait_for_completion([_found(manager, task_id)], timeout=20)

    assert done.status is JobStatus.COMPLETED
    assert done.parameters["message"] == "from elsewhere"
    assert done.organization == ""
    _still_runs_jobs(manager, worker)


def _found(manager: JobManager, task_id: str) -> uuid.UUID:
    deadline = time.monotonic() + 20
    while (job := manager.find_job(task_id)) is None:
        assert time.monotonic() < deadline, "the message never became a job"
        time.sleep(0.1)
    return job.id


def test_a_result_that_is_not_json_fails_the_job_and_the_worker_survives(
    processes: Processes, settings: Settings
) -> None:
    with_edges = replace(settings, job_modules=("workers", "tests.support.edge_jobs"))
    env = settings_env(with_edges) | {"JOBHUB_JOB_MODULES": "workers,tests.support.edge_jobs"}
    worker = processes.start("worker", ["worker", "--concurrency=1"], env)
    worker.wait_for_log(" ready.", timeout=60)
    manager = JobManager.from_settings(with_edges)
    try:
        job = manager.start_job("tests.not_json")
        (done,) = manager.wait_for_completion([job.id], timeout=20)
        assert done.status is JobStatus.COMPLETED_WITH_ERRORS
        assert done.error is not None
        assert done.error.type == "ResultNotSerializable"
        _still_runs_jobs(manager, worker)
    finally:
        manager.close()


# -- refused before anything is written --------------------------------------------------


def _job_count(database_url: str) -> int:
    with psycopg.connect(svc.libpq_url(database_url)) as connection:
        row = connection.execute("SELECT count(*) FROM jobs").fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize(
    "value",
    ["nul \x00 inside", "lone surrogate \udcff", "x" * (300 * 1024)],
    ids=["nul", "invalid-utf8", "huge"],
)
def test_unstorable_parameters_are_refused_by_the_api(
    manager: JobManager, database_url: str, value: str
) -> None:
    with pytest.raises(InvalidParameters):
        manager.start_job("diagnostics.echo", {"message": value})
    with pytest.raises(InvalidParameters):
        manager.start_job("diagnostics.echo", {"data": {"nested": [value]}})
    assert _job_count(database_url) == 0


def test_unstorable_text_in_the_job_fields_is_refused(manager: JobManager) -> None:
    with pytest.raises(InvalidInput, match="identity is not storable text"):
        manager.start_job("diagnostics.echo", {}, identity="bad\x00")


def test_invalid_utf8_on_the_command_line_is_refused_in_one_line(
    settings: Settings, database_url: str
) -> None:
    # bytes that are not UTF-8 arrive in argv as lone surrogates (surrogateescape)
    result = run_cli(
        ["start", "diagnostics.echo", "-p", "message=caf\udce9"], settings_env(settings)
    )

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "not storable text" in result.stderr
    assert "Traceback" not in result.stderr
    assert _job_count(database_url) == 0
