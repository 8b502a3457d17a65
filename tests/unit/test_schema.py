"""The job record as JSON (``jobhub.formats.schema.job_record``) against its JSON Schema, no
database."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jsonschema
import pytest

from jobhub.formats.schema import (
    event_from_record,
    event_record,
    job_from_record,
    job_json_schema,
    job_record,
    message_record,
)
from jobhub.formats.vocab import API_JOB_STATUS
from jobhub.jobs import Job, JobError, JobEvent, JobMessage, JobStatus

JOB_ID = UUID("0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55")
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
STORED = sorted(set(JobStatus) - {JobStatus.UNKNOWN})


def make_job(**changes: Any) -> Job:
    job = Job(
        id=JOB_ID,
        job_type="diagnostics.sleep",
        category="Diagnostics",
        subcategory="Canary",
        description="Sleeps step by step",
        parameters={"steps": 2, "seconds": 0.5, "fail_at_step": None},
        identity="alice",
        organization="acme",
        client_request_id="req-1",
        key="nightly",
        status=JobStatus.COMPLETED,
        status_text="step 2 of 2",
        percent=100,
        worker_id="celery@host/4242",
        attempt=1,
        result={"steps": 2, "seconds": 0.5},
        error=None,
        can_cancel=True,
        can_rerun=True,
        cancel_requested_at=None,
        created_at=T0,
        queued_at=T0 + timedelta(milliseconds=5),
        started_at=T0 + timedelta(milliseconds=20),
        updated_at=T0 + timedelta(seconds=1),
        completed_at=T0 + timedelta(seconds=1),
        purge_at=T0 + timedelta(days=30),
        created_by="alice",
        modified_by="celery@host/4242",
    )
    return replace(job, **changes)


def failed_job() -> Job:
    return make_job(
        status=JobStatus.COMPLETED_WITH_ERRORS,
        status_text="CanaryError: failing at step 1 of 2, as asked",
        percent=0,
        result=None,
        error=JobError(
            type="workers.diagnostics.CanaryError",
            message="failing at step 1 of 2, as asked",
            traceback='Traceback (most recent call last):\n  File "x.py", line 1\n',
        ),
        attempt=2,
    )


def schema_validator() -> jsonschema.Draft202012Validator:
    schema = job_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


# -- the schema itself -----------------------------------------------------------------


def test_schema_is_draft_2020_12_and_titled() -> None:
    schema = job_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "jobhub job"
    assert schema["type"] == "object"


def test_schema_requires_every_field_of_the_record() -> None:
    schema = job_json_schema()
    assert set(schema["required"]) == set(job_record(make_job()))
    assert set(schema["properties"]) == set(job_record(make_job()))


def test_schema_is_json() -> None:
    assert json.loads(json.dumps(job_json_schema())) == job_json_schema()


# -- records ---------------------------------------------------------------------------


def test_completed_job_with_a_result_matches_the_schema() -> None:
    validator = schema_validator()
    record = job_record(make_job())
    validator.validate(record)
    assert record["status"] == "Completed"
    assert record["result"] == {"steps": 2, "seconds": 0.5}
    assert record["error"] is None


def test_failed_job_with_an_error_matches_the_schema() -> None:
    validator = schema_validator()
    record = job_record(failed_job())
    validator.validate(record)
    assert record["status"] == "CompletedWithErrors"
    assert record["status_code"] == 4
    assert record["api_status"] == "error"
    assert record["result"] is None
    assert record["error"] == {
        "type": "workers.diagnostics.CanaryError",
        "message": "failing at step 1 of 2, as asked",
        "traceback": 'Traceback (most recent call last):\n  File "x.py", line 1\n',
    }
    assert record["attempt"] == 2


def test_a_fresh_job_with_no_times_yet_matches_the_schema() -> None:
    validator = schema_validator()
    job = make_job(
        status=JobStatus.CREATED,
        status_text=None,
        percent=0,
        worker_id=None,
        result=None,
        queued_at=None,
        started_at=None,
        completed_at=None,
        identity=None,
        client_request_id=None,
        key=None,
        created_by=None,
        modified_by=None,
        parameters={},
    )
    record = job_record(job)
    validator.validate(record)
    assert record["queued_at"] is None
    assert record["started_at"] is None
    assert record["completed_at"] is None


@pytest.mark.parametrize("status", STORED)
def test_a_job_of_every_stored_status_matches_the_schema(status: JobStatus) -> None:
    schema_validator().validate(job_record(make_job(status=status)))


@pytest.mark.parametrize("status", STORED)
def test_status_code_label_and_api_status_agree(status: JobStatus) -> None:
    record = job_record(make_job(status=status))
    assert record["status"] == status.label
    assert record["status_code"] == int(status)
    assert record["api_status"] == API_JOB_STATUS[status].value
    assert JobStatus.parse(record["status"]) is status


def test_record_fields_copy_the_job() -> None:
    requested = T0 + timedelta(milliseconds=500)
    record = job_record(make_job(cancel_requested_at=requested, can_rerun=False))
    assert record["id"] == str(JOB_ID)
    assert record["job_type"] == "diagnostics.sleep"
    assert record["parameters"] == {"steps": 2, "seconds": 0.5, "fail_at_step": None}
    assert record["cancel_requested"] is True
    assert record["can_cancel"] is True
    assert record["can_rerun"] is False
    assert record["created_at"] == "2024-05-01T12:00:00+00:00"
    assert record["started_at"] == "2024-05-01T12:00:00.020000+00:00"
    assert record["purge_at"] == "2024-05-31T12:00:00+00:00"


def test_a_housekeeping_job_says_so_and_matches_the_schema() -> None:
    record = job_record(make_job(job_type="maintenance.reap_lost_jobs", housekeeping=True))

    schema_validator().validate(record)
    assert record["housekeeping"] is True
    assert job_record(make_job())["housekeeping"] is False


@pytest.mark.parametrize("housekeeping", [False, True])
def test_a_record_reads_back_as_the_job_it_was_made_from(housekeeping: bool) -> None:
    job = make_job(housekeeping=housekeeping, cancel_requested_at=T0, retries=1)

    assert job_from_record(json.loads(json.dumps(job_record(job)))) == job
    assert job_from_record(job_record(failed_job())) == failed_job()


def waiting_job() -> Job:
    """The second attempt of a run of five, waiting out its backoff on its own queue."""
    return make_job(
        status=JobStatus.CREATED,
        status_text="attempt 2 of 5 at 12:00:05 UTC",
        percent=0,
        result=None,
        attempt=2,
        retries=1,
        max_attempts=5,
        queue="reports",
        priority=7,
        due_at=T0 + timedelta(seconds=5),
        queued_at=None,
        started_at=None,
        completed_at=None,
    )


def test_a_waiting_job_shows_its_placement_due_time_and_attempt_of_its_run() -> None:
    record = job_record(waiting_job())

    schema_validator().validate(record)
    assert record["status"] == "Created"
    assert record["status_code"] == 0
    assert record["api_status"] == "idle"
    assert record["status_text"] == "attempt 2 of 5 at 12:00:05 UTC"
    assert record["due_at"] == "2024-05-01T12:00:05+00:00"
    assert (record["attempt_in_run"], record["max_attempts"]) == (2, 5)
    assert (record["queue"], record["priority"]) == ("reports", 7)
    assert record["runs_elsewhere"] is False


def test_a_job_not_waiting_has_no_due_time() -> None:
    assert job_record(make_job())["due_at"] is None


def test_a_waiting_job_reads_back_as_itself() -> None:
    job = waiting_job()
    assert job_from_record(json.loads(json.dumps(job_record(job)))) == job


def test_a_record_from_an_api_without_placement_fields_reads_with_defaults() -> None:
    record: dict[str, Any] = dict(job_record(make_job()))
    for name in ("attempt_in_run", "max_attempts", "queue", "priority", "due_at"):
        del record[name]
    del record["runs_elsewhere"]

    job = job_from_record(record)

    assert (job.queue, job.priority, job.due_at, job.max_attempts) == ("jobhub", 0, None, 1)


def test_record_survives_a_json_round_trip() -> None:
    validator = schema_validator()
    record = job_record(failed_job())
    again = json.loads(json.dumps(record))
    assert again == record
    validator.validate(again)


# -- what the schema rejects -----------------------------------------------------------


@pytest.mark.parametrize("label", ["Unknown", "Failed", "completed", "Done"])
def test_schema_rejects_an_unknown_status_label(label: str) -> None:
    validator = schema_validator()
    record: dict[str, Any] = dict(job_record(make_job()))
    record["status"] = label
    assert not validator.is_valid(record)


def test_schema_rejects_an_unknown_api_status() -> None:
    validator = schema_validator()
    record: dict[str, Any] = dict(job_record(make_job()))
    record["api_status"] = "done"
    assert not validator.is_valid(record)


def test_schema_rejects_a_record_missing_a_field() -> None:
    validator = schema_validator()
    record: dict[str, Any] = dict(job_record(make_job()))
    del record["status_code"]
    assert not validator.is_valid(record)


def test_schema_rejects_an_error_without_its_message() -> None:
    validator = schema_validator()
    record: dict[str, Any] = dict(job_record(failed_job()))
    record["error"] = {"type": "RuntimeError", "traceback": None}
    assert not validator.is_valid(record)


# -- events and messages ---------------------------------------------------------------


def test_event_record() -> None:
    event = JobEvent(
        job_id=JOB_ID,
        at=T0,
        status=JobStatus.PROCESSING,
        attempt=1,
        worker_id="celery@host/1",
        message=None,
    )
    assert event_record(event) == {
        "at": "2024-05-01T12:00:00+00:00",
        "status": "Processing",
        "status_code": 2,
        "attempt": 1,
        "worker_id": "celery@host/1",
        "message": None,
        "error": None,
    }


def test_the_event_of_a_failed_attempt_carries_its_error_and_reads_back() -> None:
    event = JobEvent(
        job_id=JOB_ID,
        at=T0,
        status=JobStatus.COMPLETED_WITH_ERRORS,
        attempt=1,
        worker_id="celery@host/1",
        message="attempt 1 of 5 failed: FlakyError: failing 1 of 2",
        error=JobError(type="FlakyError", message="failing 1 of 2", traceback="Traceback..."),
    )
    record = event_record(event)

    assert record["error"] == {
        "type": "FlakyError",
        "message": "failing 1 of 2",
        "traceback": "Traceback...",
    }
    assert event_from_record(JOB_ID, json.loads(json.dumps(record))) == event


def test_message_record() -> None:
    message = JobMessage(job_id=JOB_ID, seq=3, at=T0, attempt=1, level="info", text="step 3")
    assert message_record(message) == {
        "seq": 3,
        "at": "2024-05-01T12:00:00+00:00",
        "attempt": 1,
        "level": "info",
        "text": "step 3",
    }
