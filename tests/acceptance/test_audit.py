"""The audit trail as operators meet it: a real ``jobhub api`` (uvicorn), a real worker
and the real CLI on real PostgreSQL and Redis.

Each action over HTTP, through the remote manager and with the CLI leaves exactly one
entry naming its key (id, identity, organization) or the local user, its target and its
reason; ``GET /audit`` shows an admin its own organization's entries and never another's,
and refuses viewers and operators; bad input is a problem+json 4xx or one CLI line and
writes nothing; ``maintenance.purge_jobs`` drops entries past ``audit_retention``.

One worker and one API server serve the whole module; each test keeps to organizations
of its own on the shared database.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from jobhub import InvalidInput, JobManager, JobStatus, RemoteJobManager, Settings
from jobhub.api_keys import split_token
from jobhub.audit import Actor, AuditAction, AuditEntry
from tests import services as svc
from tests.conftest import (
    ApiServer,
    manager_of,
    module_settings,
    run_cli,
    settings_env,
    worker_and_api,
)

PROBLEM_JSON = "application/problem+json"
LOCAL = Actor.local().identity
"""Who the CLI acts as: the local user running the tests."""

# -- the module's database, queue, worker and API server ---------------------------------


@pytest.fixture(scope="module")
def audit_settings(
    services: svc.Services, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Settings on a database and a queue of this module's own; entries kept a day."""
    data = tmp_path_factory.mktemp("audit-data")
    with module_settings(
        services, template_database, data, audit_retention=timedelta(days=1)
    ) as found:
        yield found


@pytest.fixture(scope="module")
def jobs(audit_settings: Settings) -> Iterator[JobManager]:
    with manager_of(audit_settings) as manager:
        yield manager


@pytest.fixture(scope="module")
def server(
    audit_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    folder = tmp_path_factory.mktemp("audit-processes")
    with worker_and_api(audit_settings, folder, concurrency=2) as api:
        yield api


class Keys:
    """API keys (made with the manager) and clients on the server that send them."""

    def __init__(self, server: ApiServer, jobs: JobManager) -> None:
        self._server = server
        self._jobs = jobs
        self.opened: list[httpx.Client] = []

    def client(
        self, organization: str, role: str = "operator", identity: str = "alice"
    ) -> tuple[httpx.Client, Actor]:
        """A client with a new key, and the actor its actions are recorded as."""
        issued = self._jobs.access.create_api_key(
            identity=identity, organization=organization, role=role
        )
        client = self._server.client(issued.token)
        self.opened.append(client)
        return client, Actor(identity=identity, key_id=issued.key.id, organization=organization)

    def token(self, organization: str, role: str, identity: str = "alice") -> tuple[str, Actor]:
        issued = self._jobs.access.create_api_key(
            identity=identity, organization=organization, role=role
        )
        return issued.token, Actor(
            identity=identity, key_id=issued.key.id, organization=organization
        )


@pytest.fixture
def keys(server: ApiServer, jobs: JobManager) -> Iterator[Keys]:
    made = Keys(server, jobs)
    yield made
    for client in made.opened:
        client.close()


# -- helpers -----------------------------------------------------------------------------


def _org() -> str:
    return f"org-{uuid.uuid4().hex[:10]}"


def _trail(jobs: JobManager, organization: str | None = None) -> list[AuditEntry]:
    """The organization's entries (every one's for None), oldest first."""
    return list(reversed(jobs.audit_entries(organization=organization, limit=1000)))


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["detail"]
    return body


def _cli(args: list[str], settings: Settings) -> subprocess.CompletedProcess[str]:
    return run_cli(args, settings_env(settings))


def _cli_ok(args: list[str], settings: Settings) -> str:
    result = _cli(args, settings)
    assert result.returncode == 0, f"jobhub {' '.join(args)}: {result.stderr}"
    return result.stdout


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {result.stderr!r}"
    assert lines[0].startswith("error: ")
    return lines[0]


def _seen(entries: list[AuditEntry]) -> list[tuple[AuditAction, str, Actor, str | None]]:
    return [(e.action, e.target, e.actor, e.reason) for e in entries]


# -- HTTP: who did what ------------------------------------------------------------------


def test_each_http_action_is_recorded_once_as_its_key_with_its_reason(
    keys: Keys, jobs: JobManager
) -> None:
    org = _org()
    operator, alice = keys.client(org, "operator", "alice")
    admin, root = keys.client(org, "admin", "root")

    body = {"type": "diagnostics.echo", "delay": 3600, "clientRequestId": "once", "priority": 4}
    started = _ok(operator.post("/jobs", json=body, params={"reason": "month end"}), 201)
    job_id = started["id"]
    _ok(operator.post("/jobs", json=body, params={"reason": "again"}))  # a repeat: 200
    _ok(operator.post(f"/jobs/{job_id}/retry-now", params={"reason": "cannot wait"}))
    jobs.wait_for_completion([job_id], timeout=30)
    _ok(operator.post(f"/jobs/{job_id}/rerun", params={"reason": "numbers changed"}))
    jobs.wait_for_completion([job_id], timeout=30)
    aims = f"/jobsmanagement/v1.0/backgroundjob/{job_id}/rerun"
    _ok(operator.post(aims, params={"reason": "from AIMS360"}))
    jobs.wait_for_completion([job_id], timeout=30)
    other = _ok(operator.post("/jobs", json={"type": "diagnostics.echo", "delay": "1h"}), 201)
    _ok(operator.post(f"/jobs/{other['id']}/cancel", params={"reason": "not needed"}))
    schedules = "/job-types/diagnostics.sleep/schedules"
    _ok(admin.put(schedules, json={"interval": "1h"}, params={"reason": "hourly now"}))
    assert admin.delete(schedules, params={"reason": "paused for the migration"}).status_code == 204

    job, second = f"job {job_id}", f"job {other['id']}"
    assert _seen(_trail(jobs, org)) == [
        (AuditAction.START, job, alice, "month end"),
        (AuditAction.START_NOW, job, alice, "cannot wait"),
        (AuditAction.RERUN, job, alice, "numbers changed"),
        (AuditAction.RERUN, job, alice, "from AIMS360"),
        (AuditAction.START, second, alice, None),
        (AuditAction.CANCEL, second, alice, "not needed"),
        (AuditAction.SCHEDULE_SET, "type diagnostics.sleep", root, "hourly now"),
        (AuditAction.SCHEDULE_CLEAR, "type diagnostics.sleep", root, "paused for the migration"),
    ]
    first = _trail(jobs, org)[0]
    assert first.details["priority"] == 4
    assert first.details["start_at"] == started["due_at"]


def test_get_audit_shows_an_admin_its_own_organization_only(
    server: ApiServer, keys: Keys, jobs: JobManager
) -> None:
    org_a, org_b = _org(), _org()
    operator_a, alice = keys.client(org_a, "operator", "alice")
    admin_a, _ = keys.client(org_a, "admin", "root")
    admin_b, bob = keys.client(org_b, "admin", "bob")
    viewer_a, _ = keys.client(org_a, "viewer")
    for reason in ("first", "second"):
        _ok(
            operator_a.post("/jobs", json={"type": "diagnostics.echo"}, params={"reason": reason}),
            201,
        )
    _ok(admin_b.post("/jobs", json={"type": "diagnostics.echo"}), 201)

    seen_a = _ok(admin_a.get("/audit"))["value"]
    assert [
        (r["action"], r["actor"], r["key_id"], r["organization"], r["reason"]) for r in seen_a
    ] == [
        ("start", "alice", alice.key_id, org_a, "second"),
        ("start", "alice", alice.key_id, org_a, "first"),
    ]
    assert seen_a[0]["target"].startswith("job ")
    assert seen_a[0]["details"]["job_type"] == "diagnostics.echo"
    seen_b = _ok(admin_b.get("/audit"))["value"]
    assert [(r["actor"], r["key_id"], r["organization"]) for r in seen_b] == [
        ("bob", bob.key_id, org_b)
    ]
    # another organization's entries stay hidden whatever the filters say
    assert _ok(admin_b.get("/audit", params={"actor": "alice"}))["value"] == []
    assert _ok(admin_b.get("/audit", params={"since": "1h", "limit": 1000}))["value"] == seen_b
    # and the filters narrow one's own
    assert len(_ok(admin_a.get("/audit", params={"limit": 1}))["value"]) == 1
    assert _ok(admin_a.get("/audit", params={"actor": "bob"}))["value"] == []
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert _ok(admin_a.get("/audit", params={"since": later}))["value"] == []
    assert len(_ok(admin_a.get("/audit", params={"since": "10m", "actor": "alice"}))["value"]) == 2

    for client in (viewer_a, operator_a):
        assert _problem(client.get("/audit"), 403)["type"] == "urn:jobhub:problem:PermissionDenied"
    with server.client() as anonymous:
        _problem(anonymous.get("/audit"), 401)


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"since": "1x"}, "since: not a duration"),
        ({"since": "2026-11-30T09:00:00"}, "give the time's zone"),
        ({"since": ""}, "since: give a duration"),
        ({"limit": "0"}, "limit must be 1 to 1000"),
        ({"limit": "1001"}, "limit must be 1 to 1000"),
        ({"limit": "many"}, "limit"),
        ({"actor": "a\x00b"}, "actor"),
    ],
)
def test_bad_audit_queries_are_problems_and_write_nothing(
    keys: Keys, jobs: JobManager, params: dict[str, str], detail: str
) -> None:
    admin, _ = keys.client(_org(), "admin")
    before = _trail(jobs)

    problem = _problem(admin.get("/audit", params=params), 400)

    assert detail in problem["detail"]
    assert problem["type"] == "urn:jobhub:problem:InvalidInput"
    assert _trail(jobs) == before


@pytest.mark.parametrize("reason", ["x" * 1001, "nul\x00byte"])
def test_a_bad_reason_is_a_problem_and_changes_nothing(
    keys: Keys, jobs: JobManager, reason: str
) -> None:
    org = _org()
    operator, _ = keys.client(org, "operator")
    waiting = _ok(operator.post("/jobs", json={"type": "diagnostics.echo", "delay": "1h"}), 201)
    before = _trail(jobs)

    for response in (
        operator.post("/jobs", json={"type": "diagnostics.echo"}, params={"reason": reason}),
        operator.post(f"/jobs/{waiting['id']}/cancel", params={"reason": reason}),
        operator.post(f"/jobs/{waiting['id']}/retry-now", params={"reason": reason}),
    ):
        assert "reason" in _problem(response, 400)["detail"]

    assert _trail(jobs) == before
    assert jobs.get_job(waiting["id"]).status is JobStatus.CREATED
    assert [job.id for job in jobs.find_jobs(limit=1000) if job.organization == org] == [
        uuid.UUID(waiting["id"])
    ]


def test_the_remote_manager_acts_and_reads_as_its_key(
    server: ApiServer, keys: Keys, jobs: JobManager
) -> None:
    org = _org()
    token, admin = keys.token(org, "admin", "svc")
    with RemoteJobManager(server.url, token) as remote:
        job = remote.start_job("diagnostics.echo", delay=timedelta(hours=1), reason="remote")
        remote.cancel_job(job.id, reason="changed my mind")
        remote.set_job_schedule("diagnostics.sleep", interval="2h", reason="slower")
        remote.clear_job_schedule("diagnostics.sleep")

        read = remote.audit_entries(since=timedelta(hours=1))
        assert _seen(list(reversed(read))) == [
            (AuditAction.START, f"job {job.id}", admin, "remote"),
            (AuditAction.CANCEL, f"job {job.id}", admin, "changed my mind"),
            (AuditAction.SCHEDULE_SET, "type diagnostics.sleep", admin, "slower"),
            (AuditAction.SCHEDULE_CLEAR, "type diagnostics.sleep", admin, None),
        ]
        assert read == jobs.audit_entries(organization=org)
        assert remote.audit_entries(actor="svc", limit=1) == read[:1]
        with pytest.raises(InvalidInput, match="limit"):
            remote.audit_entries(limit=0)


# -- the CLI -------------------------------------------------------------------------------


def test_each_cli_action_is_recorded_once_as_the_local_user(
    server: ApiServer, audit_settings: Settings, jobs: JobManager
) -> None:
    since = datetime.now(UTC).isoformat()
    org = _org()
    settings = audit_settings
    first = _cli_ok(["start", "diagnostics.echo", "--in", "1h", "--reason", "by hand"], settings)
    job_id = first.strip()
    _cli_ok(["retry-now", job_id, "--reason", "now please"], settings)
    jobs.wait_for_completion([job_id], timeout=30)
    _cli_ok(["rerun", job_id, "--reason", "once more"], settings)
    jobs.wait_for_completion([job_id], timeout=30)
    other = _cli_ok(["start", "diagnostics.echo", "--in", "1h"], settings).strip()
    _cli_ok(["cancel", other, "--reason", "not needed"], settings)
    _cli_ok(
        ["schedule", "set", "diagnostics.sleep", "--every", "1h", "--reason", "hourly"], settings
    )
    _cli_ok(["schedule", "clear", "diagnostics.sleep", "--reason", "stop"], settings)
    create = ["apikey", "create", "--identity", "ci", "--organization", org, "--role", "viewer"]
    created = _cli_ok([*create, "--reason", "for CI", "--json"], settings)
    key_id = json.loads(created)["id"]
    _cli_ok(["apikey", "revoke", key_id, "--reason", "CI moved"], settings)

    read = json.loads(_cli_ok(["audit", "--since", since, "--actor", LOCAL, "--json"], settings))
    local = Actor(identity=LOCAL)
    job, second, sleep, key = (
        f"job {job_id}",
        f"job {other}",
        "type diagnostics.sleep",
        f"key {key_id}",
    )
    assert [
        (r["action"], r["target"], r["actor"], r["key_id"], r["reason"]) for r in reversed(read)
    ] == [
        ("start", job, LOCAL, None, "by hand"),
        ("start-now", job, LOCAL, None, "now please"),
        ("rerun", job, LOCAL, None, "once more"),
        ("start", second, LOCAL, None, None),
        ("cancel", second, LOCAL, None, "not needed"),
        ("schedule-set", sleep, LOCAL, None, "hourly"),
        ("schedule-clear", sleep, LOCAL, None, "stop"),
        ("key-create", key, LOCAL, None, "for CI"),
        ("key-revoke", key, LOCAL, None, "CI moved"),
    ]
    assert all(record["organization"] == "" for record in read)
    assert read[0]["details"] == {"identity": "ci", "organization": org, "role": "viewer"}
    parts = split_token(json.loads(created)["token"])
    assert parts is not None
    assert parts[1] not in json.dumps(read)  # the secret
    assert jobs.audit_entries(since=since, actor=local.identity) != []

    table = _cli_ok(["audit", "--since", since, "--limit", "3"], settings).splitlines()
    assert table[0].split()[:3] == ["AT", "ORGANIZATION", "ACTOR"]
    assert len(table) == 4
    assert "key-revoke" in table[1]
    assert table[1].endswith("reason: CI moved")
    assert "schedule-clear" in table[3]
    assert "schedules=every 1h" in table[3]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["audit", "--since", "1x"], "error: since: not a duration"),
        (["audit", "--since", "2026-11-30T09:00"], "error: since: give the time's zone"),
        (["audit", "--limit", "0"], "0 is not in the range 1<=x<=1000"),
        (["audit", "--limit", "lots"], "'lots' is not a valid integer"),
    ],
)
def test_bad_cli_audit_reads_are_one_line(
    audit_settings: Settings, args: list[str], message: str
) -> None:
    assert message in _one_error_line(_cli(args, audit_settings))


def test_a_bad_cli_reason_is_one_line_and_changes_nothing(
    server: ApiServer, audit_settings: Settings, jobs: JobManager
) -> None:
    waiting = jobs.start_job("diagnostics.echo", delay=timedelta(hours=1))
    before = _trail(jobs)
    long = "x" * 1001

    calls = (
        ["cancel", str(waiting.id), "--reason", long],
        ["retry-now", str(waiting.id), "--reason", long],
        ["start", "diagnostics.echo", "--organization", "nobody", "--reason", long],
        ["schedule", "set", "diagnostics.sleep", "--every", "1h", "--reason", long],
        ["apikey", "create", "--identity", "x", "--organization", "nobody", "--reason", long],
    )
    # a few CLI processes at a time: each is refused and changes nothing, in any order
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda args: _cli(args, audit_settings), calls))
    for result in results:
        line = _one_error_line(result)
        assert line == "error: reason is longer than 1000 characters"

    assert _trail(jobs) == before
    assert jobs.get_job(waiting.id).status is JobStatus.CREATED
    assert not [job for job in jobs.find_jobs(limit=1000) if job.organization == "nobody"]
    assert jobs.get_job_schedules("diagnostics.sleep") == []
    assert not [key for key in jobs.access.api_keys() if key.organization == "nobody"]


# -- retention -----------------------------------------------------------------------------


def test_maintenance_purge_drops_entries_past_the_audit_retention(
    server: ApiServer, audit_settings: Settings, jobs: JobManager
) -> None:
    store = jobs.app.runtime.audit
    now = jobs.app.runtime.clock()
    org = _org()
    actor = Actor(identity="old-timer", key_id="00000000000000aa", organization=org)
    for age, target in [(timedelta(days=1, hours=1), "old"), (timedelta(hours=23), "recent")]:
        store.append(AuditEntry(at=now - age, actor=actor, action=AuditAction.START, target=target))

    out = _cli_ok(["start", "maintenance.purge_jobs", "--wait", "--json"], audit_settings)

    assert json.loads(out)["result"]["audit_purged"] == 1
    assert [e.target for e in _trail(jobs, org)] == ["recent"]
