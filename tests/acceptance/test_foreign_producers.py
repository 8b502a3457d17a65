"""Producers that speak only Celery's protocol: a plain Celery app's ``send_task`` in a
process of its own (``tests/support/celery_producer.py``, no jobhub code), on Redis and
RabbitMQ, against a real ``jobhub worker``. Its message for a known job type becomes a job
with the whole lifecycle; an unknown task name stays a dead letter; with adoption off,
every such message is one."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from jobhub import Job, JobManager, JobStatus, Settings
from tests.acceptance.test_bad_input import _dead_letter
from tests.conftest import Processes, subprocess_env

PRODUCER = Path(__file__).resolve().parents[1] / "support" / "celery_producer.py"


def _send(settings: Settings, **spec: Any) -> str:
    """Send with plain Celery from a separate process; returns the task id."""
    spec.setdefault("task_id", str(uuid.uuid4()))
    broker = settings.broker_url or ""
    subprocess.run(
        [sys.executable, str(PRODUCER), broker, settings.queue, json.dumps(spec)],
        check=True,
        env=subprocess_env({}),
        timeout=60,
        cwd=PRODUCER.parent,  # nothing of jobhub's importable by accident
    )
    return str(spec["task_id"])


def _ended(manager: JobManager, task_id: str, timeout: float = 30) -> Job:
    deadline = time.monotonic() + timeout
    while (job := manager.find_job(task_id)) is None or job.status < JobStatus.COMPLETED:
        assert time.monotonic() < deadline, f"job {task_id} never ended: {job}"
        time.sleep(0.1)
    return job


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_settings(request: pytest.FixtureRequest) -> Settings:
    name = "settings" if request.param == "redis" else "rabbitmq_settings"
    settings: Settings = request.getfixturevalue(name)
    return settings


def test_a_plain_celery_send_task_becomes_a_job_with_its_whole_lifecycle(
    processes: Processes, broker_settings: Settings
) -> None:
    processes.worker(broker_settings)
    manager = JobManager.from_settings(broker_settings)
    try:
        task_id = _send(
            broker_settings,
            name="diagnostics.echo",
            kwargs={"message": "hi"},
            headers={"jobhub_identity": "svc-billing", "jobhub_organization": "acme"},
            copies=2,  # a redelivered copy is the same job
        )
        done = _ended(manager, task_id)

        assert done.status is JobStatus.COMPLETED
        assert done.result == done.parameters  # the body got them checked, with defaults
        assert str(done.id) == task_id
        assert (done.identity, done.organization) == ("svc-billing", "acme")
        assert done.parameters["message"] == "hi"
        assert done.queue == broker_settings.queue
        assert done.created_at <= done.queued_at <= done.started_at <= done.completed_at  # type: ignore[operator]
        time.sleep(1.0)  # the second copy has been received and refused by now
        statuses = [event.status for event in manager.job_events(task_id)]
        assert statuses == [
            JobStatus.CREATED,
            JobStatus.QUEUED,
            JobStatus.PROCESSING,
            JobStatus.COMPLETED,
        ]
        assert len(manager.find_jobs(job_type="diagnostics.echo")) == 1
    finally:
        manager.close()


def test_invalid_parameters_end_the_adopted_job_with_the_reasons(
    processes: Processes, broker_settings: Settings
) -> None:
    processes.worker(broker_settings)
    manager = JobManager.from_settings(broker_settings)
    try:
        wrong = _send(broker_settings, name="diagnostics.sleep", kwargs={"steps": "many"})
        positional = _send(broker_settings, name="diagnostics.echo", args=["hi"])

        for task_id, reason in ((wrong, "steps"), (positional, "keyword parameters only")):
            done = _ended(manager, task_id)
            assert done.status is JobStatus.COMPLETED_WITH_ERRORS
            assert done.error is not None
            assert reason in done.error.message
            assert done.started_at is None  # its body never ran
            assert [e.status for e in manager.job_events(task_id)] == [
                JobStatus.CREATED,
                JobStatus.QUEUED,
                JobStatus.COMPLETED_WITH_ERRORS,
            ]
    finally:
        manager.close()


def test_an_unknown_task_name_from_a_celery_producer_stays_a_dead_letter(
    processes: Processes, settings: Settings
) -> None:
    processes.worker(settings)
    manager = JobManager.from_settings(settings)
    try:
        task_id = _send(settings, name="nobody.knows", kwargs={"x": 1})

        letter = _dead_letter(manager, lambda letter: letter.task_id == task_id)

        assert letter.task_name == "nobody.knows"
        assert manager.find_job(task_id) is None
    finally:
        manager.close()


def test_with_adoption_off_a_foreign_message_is_a_dead_letter_and_no_job(
    processes: Processes, settings: Settings
) -> None:
    closed = replace(settings, adopt_foreign=False)
    processes.worker(closed)
    manager = JobManager.from_settings(closed)
    try:
        task_id = _send(closed, name="diagnostics.echo", kwargs={"message": "hi"})

        letter = _dead_letter(manager, lambda letter: letter.task_id == task_id)

        assert letter.reason == "no job record"
        assert "JOBHUB_ADOPT_FOREIGN" in (letter.detail or "")
        assert manager.find_job(task_id) is None
        job = manager.start_job("diagnostics.echo", {"message": "still here"})
        (done,) = manager.wait_for_completion([job.id], timeout=20)
        assert done.status is JobStatus.COMPLETED
    finally:
        manager.close()
