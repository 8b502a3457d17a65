"""Limits and pauses as JSON (``jobhub.formats.gates``), what the remote manager asks of
the API for them, and the CLI's tables: no service needed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from click.testing import CliRunner

from jobhub.cli.gates import limits_table, pauses_table
from jobhub.cli.main import cli
from jobhub.errors import Conflict, InvalidLimit, UnknownJobType
from jobhub.formats.gates import limit_from_record, limit_record, pause_from_record, pause_record
from jobhub.gates import Pause, PauseKind, StoredLimit
from jobhub.limits import Limit, LimitKind
from jobhub.remote import RemoteJobManager

T0 = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)


def stored(
    limit: Limit | None, kind: LimitKind = LimitKind.CONCURRENCY, per: str = ""
) -> StoredLimit:
    return StoredLimit(
        job_type="reports.build",
        kind=limit.kind if limit else kind,
        per=limit.per if limit else per,
        limit=limit,
        source="operator",
        updated_at=T0,
        updated_by="admin-ann",
    )


LIMITS = [
    stored(Limit.concurrency(2)),
    stored(Limit.concurrency(10, "customer_id")),
    stored(Limit.rate(100, timedelta(minutes=1))),
    stored(Limit.rate(5, timedelta(seconds=30), "organization")),
    stored(None, LimitKind.RATE, "customer_id"),
]


@pytest.mark.parametrize("limit", LIMITS, ids=lambda s: s.limit.text() if s.limit else "lifted")
def test_a_limit_record_reads_back_as_the_same_limit(limit: StoredLimit) -> None:
    record = limit_record(limit)
    assert limit_from_record(json.loads(json.dumps(record))) == limit


def test_a_limit_record_names_its_parts() -> None:
    assert limit_record(LIMITS[3]) == {
        "job_type": "reports.build",
        "kind": "rate",
        "per": "organization",
        "limit": "5/30s per organization",
        "maximum": 5,
        "period_seconds": 30.0,
        "source": "operator",
        "updated_at": "2026-01-01T09:30:00+00:00",
        "updated_by": "admin-ann",
    }
    lifted = limit_record(LIMITS[4])
    assert (lifted["limit"], lifted["maximum"], lifted["period_seconds"]) == (None, None, None)


def test_a_pause_record_reads_back_as_the_same_pause() -> None:
    pause = Pause(kind=PauseKind.SCHEDULE, target="a/1", paused_at=T0, paused_by="x", reason="y")
    record = pause_record(pause)
    assert record == {
        "kind": "schedule",
        "target": "a/1",
        "paused_at": "2026-01-01T09:30:00+00:00",
        "paused_by": "x",
        "reason": "y",
    }
    assert pause_from_record(json.loads(json.dumps(record))) == pause


def test_the_limits_table_shows_each_limit_and_lifted_ones() -> None:
    lines = limits_table(LIMITS).splitlines()
    assert lines[0].split() == ["TYPE", "LIMIT", "SOURCE", "UPDATED", "BY"]
    assert [line.split("  ")[1].strip() for line in lines[1:]] == [
        "2",
        "10 per customer_id",
        "100/min",
        "5/30s per organization",
        "lifted (rate per customer_id)",
    ]


def test_the_pauses_table_lines_up_its_columns() -> None:
    pauses = [
        Pause(kind=PauseKind.QUEUE, target="reports", paused_at=T0, paused_by="local:ann"),
        Pause(kind=PauseKind.TYPE, target="reports.build", paused_at=T0, reason="migration"),
    ]
    header, first, second = pauses_table(pauses).splitlines()
    by, reason = header.index("BY"), header.index("REASON")
    assert first[by:].split() == ["local:ann"]
    assert (second[by], second[reason:]) == ("-", "migration")


def test_a_kind_that_cannot_be_paused_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["pause", "host", "x"], prog_name="jobhub")
    assert result.exit_code == 2
    assert "'host' is not one of 'queue', 'type', 'schedule'" in result.output


# -- the remote manager: what it asks ----------------------------------------------------


class Recorder:
    """Answers as the API would, recording each request."""

    def __init__(self, status: int = 200, body: object = None) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status
        self.body = body

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status == 204:
            return httpx.Response(204)
        return httpx.Response(self.status, json=self.body)


def remote_on(api: Recorder) -> RemoteJobManager:
    return RemoteJobManager("http://api", "jh_x", transport=httpx.MockTransport(api))


def test_limits_are_read_and_changed_on_their_routes() -> None:
    api = Recorder(body={"value": [limit_record(LIMITS[1])]})
    with remote_on(api) as remote:
        assert remote.limits() == [LIMITS[1]]
        assert remote.limits("reports.build") == [LIMITS[1]]
        remote.set_limit("reports.build", Limit.rate(5, timedelta(seconds=30)), reason="quota")
        remote.clear_limit("reports.build", LimitKind.RATE, "customer_id", reason="done")
        remote.clear_limit("reports.build")
    asked = [(r.method, r.url.path, dict(r.url.params)) for r in api.requests]
    assert asked == [
        ("GET", "/limits", {}),
        ("GET", "/job-types/reports.build/limits", {}),
        ("PUT", "/job-types/reports.build/limits", {}),
        (
            "DELETE",
            "/job-types/reports.build/limits/rate",
            {"per": "customer_id", "reason": "done"},
        ),
        ("DELETE", "/job-types/reports.build/limits/concurrency", {"per": ""}),
    ]
    assert json.loads(api.requests[2].content) == {"limit": "5/30s", "reason": "quota"}


def test_pauses_are_read_made_and_resumed_on_their_routes() -> None:
    pause = Pause(kind=PauseKind.SCHEDULE, target="purge expired/1", paused_at=T0)
    api = Recorder(status=201, body=pause_record(pause))
    with remote_on(api) as remote:
        assert remote.pause(PauseKind.SCHEDULE, "purge expired/1", reason="why") == pause
    api.status = 204
    with remote_on(api) as remote:
        remote.resume("schedule", "purge expired/1")
    post, delete = api.requests
    assert json.loads(post.content) == {
        "kind": "schedule",
        "target": "purge expired/1",
        "reason": "why",
    }
    # the schedule's name is one path segment: its slash and space are encoded
    assert delete.url.raw_path == b"/pauses/schedule/purge%20expired%2F1"


@pytest.mark.parametrize(
    ("problem", "error"),
    [
        ("InvalidLimit", InvalidLimit),
        ("UnknownJobType", UnknownJobType),
        ("Conflict", Conflict),
    ],
)
def test_problems_come_back_as_the_errors_the_manager_raises(
    problem: str, error: type[Exception]
) -> None:
    api = Recorder(status=400, body={"type": f"urn:jobhub:problem:{problem}", "detail": "no"})
    with remote_on(api) as remote, pytest.raises(error, match=r"^no$"):
        remote.set_limit("reports.build", "0")
