"""``RemoteJobManager`` against a stand-in API (an httpx mock transport): what it asks."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from jobhub.errors import NotWaiting
from jobhub.formats.schema import job_record
from jobhub.jobs import JobStatus
from jobhub.odata import And, Comparison, InvalidFilter, Node, Or, mentions, parse_filter
from jobhub.remote import RemoteJobManager
from tests.support.rows import echo_row

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class StandInApi:
    """Answers ``GET /jobs`` with a completed job for every id its filter names, after
    parsing the filter as the real API does (a filter it refuses is a 400)."""

    def __init__(self) -> None:
        self.filters: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        text = request.url.params.get("$filter", "")
        self.filters.append(text)
        try:
            node = parse_filter(text) if text else None
        except InvalidFilter as exc:
            body = {"type": "urn:jobhub:problem:InvalidFilter", "detail": str(exc)}
            return httpx.Response(400, json={**body, "position": exc.position})
        records = [
            job_record(replace(echo_row(T0).as_job(), id=job_id, status=JobStatus.COMPLETED))
            for job_id in (_ids(node) if node is not None else [])
        ]
        return httpx.Response(200, json={"value": records})


def _ids(node: Node) -> list[uuid.UUID]:
    """The ids a filter's ``id eq ...`` comparisons name, in order."""
    if isinstance(node, And | Or):
        return [job_id for operand in node.operands for job_id in _ids(operand)]
    if isinstance(node, Comparison) and node.field == "id" and isinstance(node.value, uuid.UUID):
        return [node.value]
    return []


def _asks_for_housekeeping(text: str) -> bool:
    """Whether a ``$filter`` mentions housekeeping (so the API lists those jobs too)."""
    return bool(text) and mentions(parse_filter(text), "housekeeping")


@pytest.fixture
def api() -> StandInApi:
    return StandInApi()


@pytest.fixture
def remote(api: StandInApi) -> Iterator[RemoteJobManager]:
    with RemoteJobManager("http://api", "jh_x", transport=httpx.MockTransport(api)) as jobs:
        yield jobs


def test_waiting_for_many_jobs_asks_in_filters_the_api_accepts(
    remote: RemoteJobManager, api: StandInApi
) -> None:
    wanted = [uuid.uuid4() for _ in range(120)]

    done = remote.wait_for_completion(wanted, timeout=5)

    assert [job.id for job in done] == wanted
    assert len(api.filters) == 3
    # a wait is for the jobs named, housekeeping or not
    assert all(_asks_for_housekeeping(text) for text in api.filters)


@pytest.mark.parametrize(
    ("asked", "mentioned"),
    [
        ({}, False),
        ({"status": JobStatus.QUEUED}, False),
        ({"housekeeping": True}, True),
        ({"job_type": "maintenance.reap_lost_jobs"}, True),
        ({"job_type": "maintenance.reap_lost_jobs", "housekeeping": False}, False),
    ],
)
def test_find_jobs_asks_for_housekeeping_jobs_when_the_local_manager_would_list_them(
    remote: RemoteJobManager, api: StandInApi, asked: dict[str, Any], mentioned: bool
) -> None:
    remote.find_jobs(**asked)

    [text] = api.filters
    assert _asks_for_housekeeping(text) is mentioned


def test_lists_by_state_ask_for_housekeeping_jobs_only_when_told(
    remote: RemoteJobManager, api: StandInApi
) -> None:
    remote.pending_jobs()
    remote.finished_jobs(housekeeping=True)

    assert [_asks_for_housekeeping(text) for text in api.filters] == [False, True]


class RecordingApi:
    """Answers every request with one waiting job, keeping what was asked."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        job = replace(
            echo_row(T0).as_job(),
            due_at=T0 + timedelta(minutes=5),
            queue="reports",
            priority=7,
            max_attempts=3,
        )
        return httpx.Response(200, json=job_record(job))


def test_start_options_are_sent_by_their_api_names_and_only_when_given() -> None:
    api = RecordingApi()
    with RemoteJobManager("http://api", "jh_x", transport=httpx.MockTransport(api)) as remote:
        job = remote.start_job(
            "diagnostics.echo",
            start_at=datetime(2030, 1, 1, 9, tzinfo=UTC),
            queue="reports",
            priority=7,
            max_attempts=3,
        )
        remote.start_job("diagnostics.echo", delay=timedelta(minutes=1, milliseconds=500))
        remote.start_job("diagnostics.echo")

    first, second, third = (json.loads(request.content) for request in api.requests)
    assert {k: first[k] for k in ("startAt", "queue", "priority", "maxAttempts")} == {
        "startAt": "2030-01-01T09:00:00+00:00",
        "queue": "reports",
        "priority": 7,
        "maxAttempts": 3,
    }
    assert "delay" not in first
    assert second["delay"] == 60.5
    assert not {"startAt", "delay", "queue", "priority", "maxAttempts"} & set(third)
    assert (job.due_at, job.queue, job.priority, job.max_attempts) == (
        T0 + timedelta(minutes=5),
        "reports",
        7,
        3,
    )
    assert job.waiting


def test_retry_now_posts_to_the_jobs_retry_now_route() -> None:
    api = RecordingApi()
    job_id = uuid.uuid4()
    with RemoteJobManager("http://api", "jh_x", transport=httpx.MockTransport(api)) as remote:
        remote.retry_now(job_id)

    [request] = api.requests
    assert (request.method, request.url.path) == ("POST", f"/jobs/{job_id}/retry-now")


def test_a_refused_retry_now_raises_not_waiting() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        body = {"type": "urn:jobhub:problem:NotWaiting", "status": 409, "detail": "not waiting"}
        return httpx.Response(409, json=body)

    transport = httpx.MockTransport(refuse)
    with (
        RemoteJobManager("http://api", "jh_x", transport=transport) as remote,
        pytest.raises(NotWaiting, match="not waiting"),
    ):
        remote.retry_now(uuid.uuid4())
