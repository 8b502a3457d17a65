"""Start options over HTTP and from Python: a real ``jobhub api`` and a real worker on real
PostgreSQL and Redis.

A job started with ``delay`` (or ``startAt``) is Created with its due time, shows as
waiting in every representation, and is not published before it; ``retry-now`` makes a
real worker run it at once. Bad start options are refused, over HTTP (a problem naming
the field), through ``RemoteJobManager`` and ``JobManager`` (InvalidInput), and nothing
is written.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import create_engine, text

from jobhub import InvalidInput, JobManager, JobStatus, RemoteJobManager, Settings
from tests import services as svc
from tests.conftest import ApiServer, Processes

PROBLEM_JSON = "application/problem+json"
ORGANIZATION = "acme"
AIMS360 = "/jobsmanagement/odata/v1.0/backgroundjob"


@pytest.fixture
def count_jobs(database_url: str) -> Iterator[Callable[[], int]]:
    """Count the rows of the jobs table, bypassing jobhub."""
    engine = create_engine(database_url)

    def count() -> int:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM jobs")).scalar_one())

    yield count
    engine.dispose()


@pytest.fixture
def api(processes: Processes, settings: Settings) -> ApiServer:
    return processes.api(settings)


@pytest.fixture
def operator_token(manager: JobManager) -> str:
    issued = manager.access.create_api_key(
        identity="alice", organization=ORGANIZATION, role="operator"
    )
    return issued.token


@pytest.fixture
def client(api: ApiServer, operator_token: str) -> Iterator[httpx.Client]:
    with api.client(operator_token) as client:
        yield client


def _messages_on_broker(services: svc.Services, queue: str) -> int:
    """Messages waiting in ``queue`` on Redis, at every priority step."""
    broker = redis.Redis.from_url(services.redis_url)
    try:
        keys = [key for key in broker.keys(f"{queue}*") if broker.type(key) == b"list"]
        return sum(int(broker.llen(key)) for key in keys)
    finally:
        broker.close()


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


# -- a delayed start, shown as waiting, run at once on request ---------------------------


def test_a_delayed_start_waits_created_unpublished_until_retry_now_runs_it(
    manager: JobManager,
    processes: Processes,
    settings: Settings,
    services: svc.Services,
    client: httpx.Client,
    api: ApiServer,
) -> None:
    processes.worker(settings)
    before = datetime.now(UTC)
    response = client.post(
        "/jobs",
        json={
            "type": "diagnostics.echo",
            "parameters": {"message": "later"},
            "delay": "1h",
            "priority": 6,
            "maxAttempts": 1,
        },
    )
    assert response.status_code == 201, response.text
    record = response.json()
    job_id = record["id"]
    due = _moment(record["due_at"])
    assert before + timedelta(hours=1) <= due <= datetime.now(UTC) + timedelta(hours=1)
    assert (record["status"], record["status_code"], record["api_status"]) == (
        "Created",
        0,
        "idle",
    )
    assert record["status_text"].startswith("starts at ")
    assert (record["queue"], record["priority"]) == (settings.queue, 6)
    assert (record["attempt_in_run"], record["max_attempts"]) == (1, 1)

    # several turns of the workers' due loop (every 0.25 s) leave it where it is
    time.sleep(1.5)
    assert manager.get_job(job_id).status is JobStatus.CREATED
    assert [event.status for event in manager.job_events(job_id)] == [JobStatus.CREATED]
    assert _messages_on_broker(services, settings.queue) == 0

    status = client.get(
        f"/jobs/{job_id}", headers={"Accept": "application/vnd.jobhub.jobstatus+json"}
    )
    assert status.json()["Status"] == 0
    assert _moment(status.json()["Due"]) == due
    assert status.json()["StatusMessage"] == record["status_text"]
    xml = ET.fromstring(client.get(f"/jobs/{job_id}", params={"$format": "xml"}).content)
    assert (xml.get("Status"), xml.get("StatusCode")) == ("Created", "0")
    assert _moment(xml.findtext("Due") or "") == due
    [aims] = client.get(AIMS360, params={"$filter": f"jobId eq '{job_id}'"}).json()["value"]
    assert (aims["jobStatus"], aims["jobStatusText"]) == ("Queued", record["status_text"])

    for query in (
        f"dueAt ne null and queue eq '{settings.queue}'",
        "priority eq 6",
        f"dueAt gt {before.isoformat().replace('+00:00', 'Z')}",
    ):
        found = client.get("/jobs", params={"$filter": query}).json()["value"]
        assert [job["id"] for job in found] == [job_id], query
    assert client.get("/jobs", params={"$filter": "priority lt 6"}).json()["value"] == []

    started = client.post(f"/jobs/{job_id}/retry-now")
    assert started.status_code == 200, started.text
    [done] = manager.wait_for_completion([job_id], timeout=30)
    assert done.status is JobStatus.COMPLETED
    assert done.result == {"message": "later", "data": None}
    assert done.due_at is None
    events = client.get(f"/jobs/{job_id}/events").json()["value"]
    assert [(e["status"], e["message"]) for e in events[:2]] == [
        ("Created", record["status_text"]),
        ("Created", "start now requested by alice"),
    ]
    assert [e["status"] for e in events[2:]] == ["Queued", "Processing", "Completed"]
    assert all(e["error"] is None for e in events)

    again = client.post(f"/jobs/{job_id}/retry-now")
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM_JSON
    assert again.json()["type"] == "urn:jobhub:problem:NotWaiting"


def test_a_viewer_cannot_start_a_waiting_job_now_and_another_organization_not_find_it(
    manager: JobManager, api: ApiServer, client: httpx.Client
) -> None:
    job_id = client.post("/jobs", json={"type": "diagnostics.echo", "delay": 3600}).json()["id"]
    viewer = manager.access.create_api_key(identity="v", organization=ORGANIZATION, role="viewer")
    stranger = manager.access.create_api_key(identity="s", organization="globex", role="operator")

    with api.client(viewer.token) as as_viewer:
        assert as_viewer.post(f"/jobs/{job_id}/retry-now").status_code == 403
    with api.client(stranger.token) as as_stranger:
        assert as_stranger.post(f"/jobs/{job_id}/retry-now").status_code == 404
    assert manager.get_job(job_id).waiting


def test_a_start_time_is_the_due_time_and_remote_callers_see_the_same_job(
    manager: JobManager, api: ApiServer, operator_token: str, client: httpx.Client
) -> None:
    start_at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    response = client.post(
        "/jobs",
        json={"type": "diagnostics.flaky", "startAt": start_at.isoformat(), "maxAttempts": 3},
    )
    assert response.status_code == 201, response.text
    assert _moment(response.json()["due_at"]) == start_at
    assert response.json()["max_attempts"] == 3

    with RemoteJobManager(api.url, operator_token) as remote:
        delayed = remote.start_job(
            "diagnostics.echo", delay=timedelta(minutes=10), priority=9, queue="elsewhere"
        )
        assert delayed == manager.get_job(delayed.id)
        assert delayed.waiting
        assert (delayed.queue, delayed.priority) == ("elsewhere", 9)
        assert remote.retry_now(delayed.id).id == delayed.id
        assert manager.get_job(delayed.id).waiting  # no worker here publishes it
        events = remote.job_events(delayed.id)
        assert [event.message for event in events][-1] == "start now requested by alice"


# -- bad start options: refused on every face, nothing written ---------------------------


def _far_past() -> str:
    return (datetime.now(UTC) - timedelta(hours=1)).isoformat()


def _far_ahead() -> str:
    return (datetime.now(UTC) + timedelta(days=400)).isoformat()


BAD_BODIES: list[tuple[dict[str, Any], int, str, str]] = [
    ({"delay": -5}, 422, "body.delay", "a delay cannot be negative"),
    ({"delay": "-5s"}, 422, "body.delay", "a duration cannot be negative"),
    ({"delay": "400d"}, 422, "body.delay", "a delay cannot be longer than 366 days"),
    ({"delay": 60, "startAt": "2030-01-01T00:00:00Z"}, 422, "body", "not both"),
    ({"queue": "my queue"}, 422, "body.queue", "invalid queue name"),
    ({"queue": "reports*"}, 422, "body.queue", "invalid queue name"),
    ({"priority": 10}, 422, "body.priority", "between 0 and 9"),
    ({"priority": -1}, 422, "body.priority", "between 0 and 9"),
    ({"maxAttempts": 0}, 422, "body.maxAttempts", "greater than or equal to 1"),
    ({"maxAttempts": 2}, 400, "", "max attempts must be between 1 and 1"),
    ({"startAt": "2030-01-01T00:00:00"}, 400, "", "needs its time zone"),
]


@pytest.mark.parametrize(("body", "status", "field", "words"), BAD_BODIES)
def test_a_bad_start_option_is_a_problem_and_starts_nothing(
    client: httpx.Client,
    count_jobs: Callable[[], int],
    body: dict[str, Any],
    status: int,
    field: str,
    words: str,
) -> None:
    before = count_jobs()

    response = client.post("/jobs", json={"type": "diagnostics.echo", **body})

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"] == "urn:jobhub:problem:InvalidInput"
    assert words in problem["detail"]
    if field:
        assert [error["name"] for error in problem["errors"]] == [field]
    assert count_jobs() == before


@pytest.mark.parametrize(
    ("start_at", "words"),
    [(_far_past, "is in the past"), (_far_ahead, "more than 366 days ahead")],
)
def test_a_start_time_in_the_past_or_too_far_ahead_is_refused_and_starts_nothing(
    client: httpx.Client, count_jobs: Callable[[], int], start_at: Callable[[], str], words: str
) -> None:
    before = count_jobs()

    response = client.post("/jobs", json={"type": "diagnostics.echo", "startAt": start_at()})

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert words in response.json()["detail"]
    assert count_jobs() == before


BAD_OPTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("diagnostics.echo", {"delay": timedelta(seconds=-5)}, "negative"),
    ("diagnostics.echo", {"start_at": datetime.now(UTC) - timedelta(hours=1)}, "in the past"),
    ("diagnostics.echo", {"start_at": datetime.now(UTC) + timedelta(days=400)}, "366 days"),
    (
        "diagnostics.echo",
        {"start_at": datetime.now(UTC) + timedelta(hours=1), "delay": timedelta(hours=1)},
        "not both",
    ),
    ("diagnostics.echo", {"queue": "my queue"}, "invalid queue name"),
    ("diagnostics.echo", {"queue": "*"}, "invalid queue name"),
    ("diagnostics.echo", {"priority": 10}, "between 0 and 9"),
    ("diagnostics.echo", {"priority": -1}, "between 0 and 9"),
    ("diagnostics.flaky", {"max_attempts": 0}, "between 1 and 5"),
    ("diagnostics.flaky", {"max_attempts": 6}, "between 1 and 5"),
]


@pytest.mark.parametrize(("job_type", "options", "words"), BAD_OPTIONS)
def test_python_callers_local_and_remote_get_invalid_input_and_nothing_is_written(
    manager: JobManager,
    api: ApiServer,
    operator_token: str,
    count_jobs: Callable[[], int],
    job_type: str,
    options: dict[str, Any],
    words: str,
) -> None:
    before = count_jobs()

    with pytest.raises(InvalidInput, match=words):
        manager.start_job(job_type, **options)
    with RemoteJobManager(api.url, operator_token) as remote, pytest.raises(InvalidInput):
        remote.start_job(job_type, **options)

    assert count_jobs() == before


def test_retry_now_of_a_job_that_waits_for_nothing_is_a_conflict(
    manager: JobManager, client: httpx.Client
) -> None:
    job = manager.start_job("diagnostics.echo", organization=ORGANIZATION)

    response = client.post(f"/jobs/{job.id}/retry-now")

    assert response.status_code == 409
    assert response.json()["type"] == "urn:jobhub:problem:NotWaiting"
    assert client.post("/jobs/not-a-job/retry-now").status_code == 404
