"""``RemoteJobManager`` against a stand-in API (an httpx mock transport): what it asks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest

from jobhub.formats.schema import job_record
from jobhub.jobs import JobStatus
from jobhub.odata import And, Comparison, InvalidFilter, Node, Or, parse_filter
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
            node = parse_filter(text)
        except InvalidFilter as exc:
            body = {"type": "urn:jobhub:problem:InvalidFilter", "detail": str(exc)}
            return httpx.Response(400, json={**body, "position": exc.position})
        records = [
            job_record(replace(echo_row(T0).as_job(), id=job_id, status=JobStatus.COMPLETED))
            for job_id in _ids(node)
        ]
        return httpx.Response(200, json={"value": records})


def _ids(node: Node) -> list[uuid.UUID]:
    """The ids a filter's ``id eq ...`` comparisons name, in order."""
    if isinstance(node, And | Or):
        return [job_id for operand in node.operands for job_id in _ids(operand)]
    if isinstance(node, Comparison) and node.field == "id" and isinstance(node.value, uuid.UUID):
        return [node.value]
    return []


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
