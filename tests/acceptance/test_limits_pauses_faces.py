"""Limits and pauses through their faces: the ``jobhub`` CLI as a subprocess, a real
``jobhub api`` server, and the remote manager over it, on real PostgreSQL and Redis.

Reading, setting and clearing limits; pausing and resuming queues, types and schedules;
who may change them (admin keys only); and bad input, which gets a clear error from each
face and writes nothing: neither a limit, nor a pause, nor an audit entry.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from jobhub import (
    JobManager,
    JobStatus,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RemoteJobManager,
    Settings,
    UnknownJobType,
)
from jobhub.errors import Conflict, InvalidInput, InvalidLimit
from jobhub.gates import PauseKind
from jobhub.limits import Limit, LimitKind
from tests.conftest import ApiServer, Processes, run_cli, settings_env
from tests.support.limited_jobs import LIMITED_JOBS

PROBLEM_JSON = "application/problem+json"
BAD_LIMITS = {
    "0": "a limit must be 1 to 1000000, not 0",
    "-1": "a limit must be 1 to 1000000, not -1",
    "abc": "'abc' is not a limit (use e.g. 2, 10 per customer_id, 100/min",
    "5/fortnight": "'fortnight' is not a period",
    "3 per nope": "tests.limited has no parameter 'nope' to limit per",
    "1000001": "a limit must be 1 to 1000000, not 1000001",
    "2/0s": "a rate limit's period must be longer than zero",
}
"""Limits every face refuses, and what each says."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's settings with the job types of ``tests.support.limited_jobs``."""
    return replace(settings, job_modules=LIMITED_JOBS)


@pytest.fixture
def api(processes: Processes, settings: Settings) -> ApiServer:
    return processes.api(settings)


@pytest.fixture
def keys(manager: JobManager) -> dict[str, str]:
    """A token per role, all of organization acme."""
    return {
        role: manager.access.create_api_key(
            identity=f"{role}-ann", organization="acme", role=role
        ).token
        for role in ("viewer", "operator", "admin")
    }


@pytest.fixture
def client(api: ApiServer, keys: dict[str, str]) -> Iterator[httpx.Client]:
    """An admin's client."""
    with api.client(keys["admin"]) as admin:
        yield admin


class Written:
    """What limits, pauses and audit entries the database holds, to show that a refused
    request wrote nothing."""

    def __init__(self, manager: JobManager, settings: Settings) -> None:
        self.manager = manager
        assert settings.database_url is not None
        self.engine = create_engine(settings.database_url)

    def audit(self) -> list[dict[str, Any]]:
        """The audit trail's limit and pause changes, oldest first (the test's own key
        and schedule set-up is recorded too, and is not what these tests look at)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT actor, key_id, organization, action, target, details, reason"
                    " FROM audit_entries"
                    " WHERE action IN ('limit-set', 'limit-clear', 'pause', 'resume')"
                    " ORDER BY id"
                )
            )
            return [dict(row._mapping) for row in rows]

    def snapshot(self) -> tuple[object, ...]:
        return (self.manager.limits(), self.manager.pauses(), len(self.audit()))


@pytest.fixture
def written(manager: JobManager, settings: Settings) -> Iterator[Written]:
    found = Written(manager, settings)
    yield found
    found.engine.dispose()


def _problem(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert body["type"] == f"urn:jobhub:problem:{kind}"
    detail: str = body["detail"]
    return detail


def _cli(args: list[str], settings: Settings) -> subprocess.CompletedProcess[str]:
    return run_cli(args, settings_env(settings))


def _ok(args: list[str], settings: Settings) -> str:
    result = _cli(args, settings)
    assert result.returncode == 0, f"jobhub {' '.join(args)}: {result.stderr}"
    assert result.stderr == ""
    return result.stdout


def _refused(args: list[str], settings: Settings, code: int) -> str:
    """Run a command that must fail with one line on stderr; return that line."""
    result = _cli(args, settings)
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def _all_refused(calls: Sequence[tuple[list[str], int]], settings: Settings) -> list[str]:
    """``_refused`` for each (args, code), a few CLI processes at a time (they write
    nothing, so their order does not matter); the lines in the calls' order."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        return list(pool.map(lambda call: _refused(call[0], settings, call[1]), calls))


def _wait_for(manager: JobManager, job_id: str, what: str, check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        job = manager.get_job(job_id)
        if check(job):
            return job
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {job}"
        time.sleep(0.05)


# -- limits over HTTP --------------------------------------------------------------------


def test_an_admin_reads_sets_and_clears_limits_over_http(
    processes: Processes,
    settings: Settings,
    api: ApiServer,
    client: httpx.Client,
    keys: dict[str, str],
    written: Written,
) -> None:
    processes.worker(settings)  # a worker syncs the types' declared limits at its start
    declared = client.get("/job-types/tests.limited/limits")
    assert declared.status_code == 200
    [limit] = declared.json()["value"]
    assert limit == {
        "job_type": "tests.limited",
        "kind": "concurrency",
        "per": "",
        "limit": "2",
        "maximum": 2,
        "period_seconds": None,
        "source": "declared",
        "updated_at": limit["updated_at"],
        "updated_by": None,
    }
    every = client.get("/limits").json()["value"]
    assert [(r["job_type"], r["limit"]) for r in every] == [
        ("tests.limited", "2"),
        ("tests.per_tenant", "1 per organization"),
    ]
    assert client.get("/job-types/tests.unlimited/limits").json() == {"value": []}

    replaced = client.put("/job-types/tests.limited/limits", json={"limit": "5"})
    assert replaced.status_code == 200
    [five] = replaced.json()["value"]
    assert (five["limit"], five["source"], five["updated_by"]) == ("5", "operator", "admin-ann")

    body = {"limit": "100/min per customer_id", "reason": "the partner's quota"}
    added = client.put("/job-types/tests.limited/limits", json=body).json()["value"]
    assert [(r["kind"], r["per"], r["limit"], r["period_seconds"]) for r in added] == [
        ("concurrency", "", "5", None),
        ("rate", "customer_id", "100/min per customer_id", 60.0),
    ]
    assert client.get("/job-types/tests.limited/limits").json()["value"] == added

    left = client.delete(
        "/job-types/tests.limited/limits/rate",
        params={"per": "customer_id", "reason": "quota raised"},
    )
    assert left.status_code == 200
    assert [r["limit"] for r in left.json()["value"]] == ["5"]
    lifted = client.delete("/job-types/tests.limited/limits/concurrency").json()["value"]
    assert [(r["limit"], r["maximum"], r["source"]) for r in lifted] == [(None, None, "operator")]
    # a lifted declared limit has nothing left to lift
    detail = _problem(client.delete("/job-types/tests.limited/limits/concurrency"), 404, "NotFound")
    assert detail == "tests.limited has no concurrency limit"

    with api.client(keys["viewer"]) as viewer:
        assert viewer.get("/limits").json()["value"] == client.get("/limits").json()["value"]
        assert viewer.get("/job-types/tests.limited/limits").status_code == 200

    trail = [(e["action"], e["target"], e["details"], e["reason"]) for e in written.audit()]
    assert trail == [
        ("limit-set", "type tests.limited", {"limit": "5"}, None),
        ("limit-set", "type tests.limited", {"limit": "100/min per customer_id"}, body["reason"]),
        (
            "limit-clear",
            "type tests.limited",
            {"kind": "rate", "per": "customer_id"},
            "quota raised",
        ),
        ("limit-clear", "type tests.limited", {"kind": "concurrency", "per": ""}, None),
    ]
    admin_key = written.manager.access.authenticate(keys["admin"])
    assert {(e["actor"], e["key_id"], e["organization"]) for e in written.audit()} == {
        ("admin-ann", admin_key.key_id, "acme")
    }


def test_a_bad_limit_over_http_is_a_400_and_writes_nothing(
    client: httpx.Client, written: Written
) -> None:
    client.put("/job-types/tests.limited/limits", json={"limit": "3"})
    before = written.snapshot()
    for limit, says in BAD_LIMITS.items():
        response = client.put("/job-types/tests.limited/limits", json={"limit": limit})
        assert _problem(response, 400, "InvalidLimit").startswith(says)
    # the body's shape is checked first: an empty limit is a 422 naming the field
    empty = client.put("/job-types/tests.limited/limits", json={"limit": ""})
    assert _problem(empty, 422, "InvalidInput").startswith("body.limit:")
    assert written.snapshot() == before


def test_other_bad_limit_requests_over_http_are_refused_and_write_nothing(
    client: httpx.Client, written: Written
) -> None:
    client.put("/job-types/tests.limited/limits", json={"limit": "3"})
    before = written.snapshot()
    refusals = [
        (client.put("/job-types/no.such/limits", json={"limit": "2"}), 404, "UnknownJobType"),
        (client.get("/job-types/no.such/limits"), 404, "UnknownJobType"),
        (client.delete("/job-types/no.such/limits/concurrency"), 404, "UnknownJobType"),
        (client.delete("/job-types/tests.limited/limits/speed"), 400, "InvalidInput"),
        (client.delete("/job-types/tests.unlimited/limits/rate"), 404, "NotFound"),
        (
            client.delete("/job-types/tests.limited/limits/concurrency", params={"per": "x"}),
            404,
            "NotFound",
        ),
        (client.put("/job-types/tests.limited/limits", json={}), 422, "InvalidInput"),
        (client.put("/job-types/tests.limited/limits", json={"limit": 2}), 422, "InvalidInput"),
        (
            client.put("/job-types/tests.limited/limits", json={"limit": "2", "max": 3}),
            422,
            "InvalidInput",
        ),
        (
            client.put(
                "/job-types/tests.limited/limits",
                json={"limit": "2", "reason": "a"},
                params={"reason": "b"},
            ),
            400,
            "InvalidInput",
        ),
        (
            client.put("/job-types/tests.limited/limits", json={"limit": "2", "reason": "a\x00"}),
            422,
            "InvalidInput",
        ),
        (
            client.put(
                "/job-types/tests.limited/limits", json={"limit": "2", "reason": "x" * 1001}
            ),
            422,
            "InvalidInput",
        ),
        (
            client.delete("/job-types/tests.limited/limits/concurrency", params={"reason": "\x00"}),
            400,
            "InvalidInput",
        ),
        (
            client.delete("/job-types/tests.limited/limits/concurrency", params={"per": "a\x00"}),
            400,
            "InvalidInput",
        ),
    ]
    for response, status, kind in refusals:
        _problem(response, status, kind)
    assert written.snapshot() == before


# -- pauses over HTTP --------------------------------------------------------------------


def test_an_admin_pauses_and_resumes_over_http(
    api: ApiServer,
    client: httpx.Client,
    keys: dict[str, str],
    manager: JobManager,
    settings: Settings,
    written: Written,
) -> None:
    assert client.get("/pauses").json() == {"value": []}
    created = client.post(
        "/pauses", json={"kind": "queue", "target": "reports", "reason": "migration"}
    )
    assert created.status_code == 201
    pause = created.json()
    assert pause == {
        "kind": "queue",
        "target": "reports",
        "paused_at": pause["paused_at"],
        "paused_by": "admin-ann",
        "reason": "migration",
    }
    # "default" names the configured queue
    configured = client.post("/pauses", json={"kind": "queue", "target": "default"}).json()
    assert configured["target"] == settings.queue
    typed = client.post(
        "/pauses", json={"kind": "type", "target": "tests.limited"}, params={"reason": "why"}
    )
    assert typed.json()["reason"] == "why"
    manager.set_job_schedule("tests.unlimited", interval="1h")
    [schedule] = manager.get_job_schedules("tests.unlimited")
    assert "/" in schedule.name
    assert (
        client.post("/pauses", json={"kind": "schedule", "target": schedule.name}).status_code
        == 201
    )
    with api.client(keys["viewer"]) as viewer:
        listed = viewer.get("/pauses").json()["value"]
    assert [(p["kind"], p["target"]) for p in listed] == sorted(
        [
            ("queue", "reports"),
            ("queue", settings.queue),
            ("type", "tests.limited"),
            ("schedule", schedule.name),
        ]
    )

    before = written.snapshot()
    again = client.post("/pauses", json={"kind": "queue", "target": "reports"})
    assert _problem(again, 409, "Conflict") == "queue reports is paused already"
    assert written.snapshot() == before

    assert client.delete("/pauses/queue/reports", params={"reason": "done"}).status_code == 204
    assert client.delete("/pauses/queue/default").status_code == 204
    assert client.delete("/pauses/type/tests.limited").status_code == 204
    # a schedule's name has a slash: it is one path segment, encoded or not
    assert client.delete(f"/pauses/schedule/{schedule.name.replace('/', '%2F')}").status_code == 204
    assert client.get("/pauses").json() == {"value": []}
    after = written.snapshot()
    assert _problem(client.delete("/pauses/queue/reports"), 409, "Conflict") == (
        "queue reports is not paused"
    )
    assert written.snapshot() == after
    trail = [(e["action"], e["target"], e["reason"]) for e in written.audit()]
    assert trail == [
        ("pause", "queue reports", "migration"),
        ("pause", f"queue {settings.queue}", None),
        ("pause", "type tests.limited", "why"),
        ("pause", f"schedule {schedule.name}", None),
        ("resume", "queue reports", "done"),
        ("resume", f"queue {settings.queue}", None),
        ("resume", "type tests.limited", None),
        ("resume", f"schedule {schedule.name}", None),
    ]


def test_bad_pause_requests_over_http_are_refused_and_write_nothing(
    client: httpx.Client, written: Written
) -> None:
    client.post("/pauses", json={"kind": "queue", "target": "reports"})
    before = written.snapshot()
    refusals = [
        (client.post("/pauses", json={"kind": "host", "target": "a"}), 422, "InvalidInput"),
        (client.post("/pauses", json={"kind": "queue"}), 422, "InvalidInput"),
        (client.post("/pauses", json={"kind": "queue", "target": ""}), 422, "InvalidInput"),
        (client.post("/pauses", json={"kind": "queue", "target": "a b!"}), 400, "InvalidInput"),
        (client.post("/pauses", json={"kind": "type", "target": "no.such"}), 404, "UnknownJobType"),
        (client.post("/pauses", json={"kind": "schedule", "target": "nope"}), 404, "NotFound"),
        (client.post("/pauses", json={"kind": "queue", "target": "reports"}), 409, "Conflict"),
        (client.delete("/pauses/host/reports"), 400, "InvalidInput"),
        (client.delete("/pauses/type/no.such"), 404, "UnknownJobType"),
        (client.delete("/pauses/type/tests.limited"), 409, "Conflict"),
        (client.delete("/pauses/queue/other"), 409, "Conflict"),
        (
            client.post("/pauses", json={"kind": "queue", "target": "x", "reason": "\x00"}),
            422,
            "InvalidInput",
        ),
        (client.delete("/pauses/queue/reports", params={"reason": "\x00"}), 400, "InvalidInput"),
    ]
    for response, status, kind in refusals:
        _problem(response, status, kind)
    assert written.snapshot() == before


def test_only_admins_change_limits_and_pauses(
    api: ApiServer, client: httpx.Client, keys: dict[str, str], written: Written
) -> None:
    client.post("/pauses", json={"kind": "type", "target": "tests.limited"})
    client.put("/job-types/tests.limited/limits", json={"limit": "3"})
    before = written.snapshot()
    for role in ("viewer", "operator", None):
        with api.client(None if role is None else keys[role]) as caller:
            status, kind = (401, "NotAuthenticated") if role is None else (403, "PermissionDenied")
            changes = [
                caller.put("/job-types/tests.limited/limits", json={"limit": "9"}),
                caller.delete("/job-types/tests.limited/limits/concurrency"),
                caller.post("/pauses", json={"kind": "queue", "target": "reports"}),
                caller.delete("/pauses/type/tests.limited"),
            ]
            for response in changes:
                _problem(response, status, kind)
            if role is None:
                _problem(caller.get("/limits"), 401, "NotAuthenticated")
                _problem(caller.get("/pauses"), 401, "NotAuthenticated")
            else:
                assert caller.get("/limits").status_code == 200
                assert caller.get("/pauses").status_code == 200
    assert written.snapshot() == before


def test_the_openapi_document_describes_limits_and_pauses(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/job-types/{name}/limits"]) == {"get", "put"}
    assert set(paths["/job-types/{name}/limits/{kind}"]) == {"delete"}
    assert set(paths["/pauses"]) == {"get", "post"}
    assert set(paths["/pauses/{kind}/{target}"]) == {"delete"}
    assert "403" in paths["/pauses"]["post"]["responses"]
    assert "409" in paths["/pauses"]["post"]["responses"]


# -- the CLI -----------------------------------------------------------------------------


def test_the_cli_sets_reads_and_clears_limits(
    settings: Settings, manager: JobManager, written: Written
) -> None:
    assert _ok(["limits"], settings) == "no limits\n"
    table = _ok(
        ["limit", "set", "tests.limited", "10 per customer_id", "--reason", "fair"], settings
    )
    assert table.splitlines()[0].split() == ["TYPE", "LIMIT", "SOURCE", "UPDATED", "BY"]
    assert "tests.limited  10 per customer_id  operator" in table
    _ok(["limit", "set", "tests.limited", "5/s"], settings)
    records = json.loads(_ok(["limits", "tests.limited", "--json"], settings))
    assert [(r["kind"], r["per"], r["limit"]) for r in records] == [
        ("concurrency", "customer_id", "10 per customer_id"),
        ("rate", "", "5/s"),
    ]
    assert {r["updated_by"] for r in records} == {manager.limits()[0].updated_by}
    assert records[0]["updated_by"].startswith("local:")
    assert json.loads(_ok(["limits", "--json"], settings)) == records

    left = json.loads(_ok(["limit", "clear", "tests.limited", "--rate", "--json"], settings))
    assert [r["limit"] for r in left] == ["10 per customer_id"]
    _ok(["limit", "clear", "tests.limited", "--per", "customer_id", "--reason", "done"], settings)
    assert manager.limits() == []
    trail = [(e["action"], e["details"], e["reason"]) for e in written.audit()]
    assert trail == [
        ("limit-set", {"limit": "10 per customer_id"}, "fair"),
        ("limit-set", {"limit": "5/s"}, None),
        ("limit-clear", {"kind": "rate", "per": ""}, None),
        ("limit-clear", {"kind": "concurrency", "per": "customer_id"}, "done"),
    ]
    assert {e["key_id"] for e in written.audit()} == {None}


def test_bad_limits_on_the_cli_are_one_line_and_write_nothing(
    settings: Settings, manager: JobManager, written: Written
) -> None:
    manager.set_limit("tests.limited", "3")
    before = written.snapshot()
    bad = {**BAD_LIMITS, "": "'' is not a limit"}
    lines = _all_refused(
        [
            *[(["limit", "set", "tests.limited", limit], 2) for limit in bad],
            (["limit", "set", "no.such", "2"], 3),
            (["limits", "no.such"], 3),
            (["limit", "clear", "tests.limited", "--rate"], 3),
            (["limit", "clear", "tests.limited", "--per", "customer_id"], 3),
            (["limit", "set", "tests.limited"], 2),  # no LIMIT
        ],
        settings,
    )
    for line, says in zip(lines[: len(bad)], bad.values(), strict=True):
        assert line.startswith(f"error: {says}")
    unknown_type, unknown_type_read, no_rate = lines[len(bad) : len(bad) + 3]
    assert "unknown job type 'no.such'" in unknown_type
    assert "unknown job type" in unknown_type_read
    assert "has no rate limit" in no_rate
    assert written.snapshot() == before


def test_the_cli_pauses_and_resumes_queues_types_and_schedules(
    settings: Settings, manager: JobManager, written: Written
) -> None:
    assert _ok(["pauses"], settings) == "nothing is paused\n"
    assert _ok(["pause", "queue", "reports", "--reason", "migration"], settings) == (
        "paused queue reports\n"
    )
    assert _ok(["pause", "type", "tests.limited"], settings) == "paused type tests.limited\n"
    manager.set_job_schedule("tests.unlimited", interval="1h")
    assert _ok(["pause", "schedule", "tests.unlimited"], settings) == (
        "paused schedule tests.unlimited\n"
    )
    table = _ok(["pauses"], settings).splitlines()
    assert table[0].split() == ["KIND", "TARGET", "SINCE", "BY", "REASON"]
    assert [row.split()[:2] for row in table[1:]] == [
        ["queue", "reports"],
        ["schedule", "tests.unlimited"],
        ["type", "tests.limited"],
    ]
    assert table[1].endswith("migration")
    records = json.loads(_ok(["pauses", "--json"], settings))
    assert {r["paused_by"] for r in records} == {table[1].split()[3]}
    assert records[0]["paused_by"].startswith("local:")

    before = written.snapshot()
    again, host, no_type, no_schedule, bad_queue, not_paused = _all_refused(
        [
            (["pause", "queue", "reports"], 4),
            (["pause", "host", "x"], 2),
            (["pause", "type", "no.such"], 3),
            (["pause", "schedule", "nope"], 3),
            (["pause", "queue", "a b!"], 2),
            (["resume", "queue", "other"], 4),
        ],
        settings,
    )
    assert again == "error: queue reports is paused already\n"
    assert "'host' is not one of" in host
    assert "unknown job type" in no_type
    assert "no schedule named 'nope'" in no_schedule
    assert "invalid queue name" in bad_queue
    assert not_paused == "error: queue other is not paused\n"
    assert written.snapshot() == before

    assert _ok(["resume", "queue", "reports", "--reason", "done"], settings) == (
        "resumed queue reports\n"
    )
    _ok(["resume", "type", "tests.limited"], settings)
    _ok(["resume", "schedule", "tests.unlimited"], settings)
    assert manager.pauses() == []
    trail = [(e["action"], e["target"], e["reason"]) for e in written.audit()]
    assert trail == [
        ("pause", "queue reports", "migration"),
        ("pause", "type tests.limited", None),
        ("pause", "schedule tests.unlimited", None),
        ("resume", "queue reports", "done"),
        ("resume", "type tests.limited", None),
        ("resume", "schedule tests.unlimited", None),
    ]


def test_clearing_a_declared_limit_lifts_it_before_any_worker_synced_it(
    settings: Settings, manager: JobManager, written: Written
) -> None:
    assert manager.limits() == []  # no worker started: tests.limited's 2 is not stored yet
    lifted = json.loads(_ok(["limit", "clear", "tests.limited", "--json"], settings))
    assert [(r["kind"], r["limit"], r["source"]) for r in lifted] == [
        ("concurrency", None, "operator")
    ]
    assert [e["action"] for e in written.audit()] == ["limit-clear"]
    before = written.snapshot()
    line = _refused(["limit", "clear", "tests.limited"], settings, 3)
    assert line == "error: tests.limited has no concurrency limit\n"
    assert written.snapshot() == before


# -- the remote manager ------------------------------------------------------------------


def test_the_remote_manager_reads_and_changes_limits_and_pauses(
    api: ApiServer, keys: dict[str, str], manager: JobManager, written: Written
) -> None:
    with RemoteJobManager(api.url, keys["admin"]) as remote:
        assert remote.limits() == []
        limits = remote.set_limit("tests.limited", "10 per customer_id", reason="fair")
        assert limits == manager.limits("tests.limited")
        assert limits[0].limit == Limit.concurrency(10, "customer_id")
        assert limits[0].updated_by == "admin-ann"
        remote.set_limit("tests.per_tenant", Limit.rate(5, timedelta(seconds=30)))
        assert remote.limits() == manager.limits()
        assert (
            remote.limits("tests.per_tenant")[0].limit
            == manager.limits("tests.per_tenant")[0].limit
        )
        assert remote.clear_limit("tests.per_tenant", LimitKind.RATE) == []
        assert remote.clear_limit("tests.limited", "concurrency", "customer_id") == []

        pause = remote.pause(PauseKind.QUEUE, "reports", reason="migration")
        assert (pause.kind, pause.target, pause.paused_by, pause.reason) == (
            PauseKind.QUEUE,
            "reports",
            "admin-ann",
            "migration",
        )
        assert remote.pauses() == manager.pauses() == [pause]
        remote.resume("queue", "reports", reason="done")
        assert remote.pauses() == []

        before = written.snapshot()
        for limit, says in BAD_LIMITS.items():
            with pytest.raises(InvalidLimit) as refused:
                remote.set_limit("tests.limited", limit)
            assert refused.value.message.startswith(says)
        with pytest.raises(UnknownJobType):
            remote.set_limit("no.such", "2")
        with pytest.raises(UnknownJobType):
            remote.limits("no.such")
        with pytest.raises(InvalidInput):
            remote.clear_limit("tests.limited", "speed")
        with pytest.raises(NotFound):
            remote.clear_limit("tests.unlimited")
        with pytest.raises(InvalidInput):
            remote.pause("host", "x")
        with pytest.raises(UnknownJobType):
            remote.pause("type", "no.such")
        with pytest.raises(NotFound):
            remote.pause("schedule", "nope")
        with pytest.raises(Conflict):
            remote.resume("queue", "reports")
        assert written.snapshot() == before
        remote.pause("queue", "reports")
        before = written.snapshot()
        with pytest.raises(Conflict):
            remote.pause("queue", "reports")
        assert written.snapshot() == before

    for role in ("viewer", "operator"):
        with RemoteJobManager(api.url, keys[role]) as remote:
            assert remote.pauses() == manager.pauses()
            with pytest.raises(PermissionDenied):
                remote.set_limit("tests.limited", "2")
            with pytest.raises(PermissionDenied):
                remote.resume("queue", "reports")
    with RemoteJobManager(api.url, "jh_not_a_key") as remote, pytest.raises(NotAuthenticated):
        remote.pauses()
    assert written.snapshot() == before


# -- what a pause set through a face does ------------------------------------------------


def test_a_type_paused_over_http_holds_its_jobs_until_resumed_remotely(
    processes: Processes,
    settings: Settings,
    api: ApiServer,
    client: httpx.Client,
    keys: dict[str, str],
    manager: JobManager,
) -> None:
    processes.worker(settings)
    body = {"kind": "type", "target": "tests.unlimited", "reason": "maintenance"}
    assert client.post("/pauses", json=body).status_code == 201
    job = manager.start_job("tests.unlimited", {"seconds": 0})
    held = _wait_for(manager, str(job.id), "held", lambda j: j.status_text is not None, 15)
    assert held.status is JobStatus.CREATED
    assert held.status_text == "Paused: type tests.unlimited, by admin-ann (maintenance)"
    time.sleep(1.5)  # it stays held: no worker starts it
    assert manager.get_job(job.id).status is JobStatus.CREATED
    with RemoteJobManager(api.url, keys["admin"]) as remote:
        remote.resume("type", "tests.unlimited")
    [done] = manager.wait_for_completion([job.id], timeout=30)
    assert done.status is JobStatus.COMPLETED
