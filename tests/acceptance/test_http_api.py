"""The HTTP API as callers meet it: a real ``jobhub api`` (uvicorn) and a real worker on
real PostgreSQL and Redis.

Starting jobs, idempotent repeats, key conflicts and problem responses; OData queries,
paging and counting; ETags, messages, events, cancel, rerun and results; job types and
their schedules; the JSON Schema; health and readiness; JobStatusRepr content
negotiation; the AIMS360 view; API keys, roles, tenants, access scopes and publish links.

One worker and one API server serve the whole module (starting them costs seconds); each
test keeps to organizations of its own on the shared database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import jsonschema
import pytest

from jobhub import JobManager, Settings
from jobhub.errors import Conflict, NotFound
from jobhub.jobs import Job, JobStatus
from tests import services as svc
from tests.conftest import (
    ApiServer,
    Processes,
    module_settings,
    own_queue,
    run_cli,
    settings_env,
)

PROBLEM_JSON = "application/problem+json"
AIMS360 = "/jobsmanagement/odata/v1.0/backgroundjob"
WORKER_CONCURRENCY = 4
LARGE = "x" * 500
"""An echo of this is larger than the module's inline result limit: it becomes a document."""


def _echoed(message: str) -> dict[str, Any]:
    """What diagnostics.echo returns for ``{"message": message}``: every parameter."""
    return {"message": message, "data": None}


# -- the module's database, queue, worker and API server ---------------------------------


@pytest.fixture(scope="module")
def api_settings(
    services: svc.Services, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Settings on a database and a queue of this module's own, copied from the template."""
    data = tmp_path_factory.mktemp("http-api-data")
    with module_settings(services, template_database, data, inline_result_limit=200) as found:
        yield found


@pytest.fixture(scope="module")
def api_manager(api_settings: Settings) -> Iterator[JobManager]:
    jobs = JobManager.from_settings(api_settings)
    yield jobs
    jobs.close()


@pytest.fixture(scope="module")
def server(api_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One worker and one API server for the module, started side by side."""
    processes = Processes(tmp_path_factory.mktemp("http-api"))
    try:
        worker = processes.start(
            "worker",
            [
                "worker",
                f"--concurrency={WORKER_CONCURRENCY}",
                f"--hostname=api-{uuid.uuid4().hex[:6]}@%h",
            ],
            settings_env(api_settings),
        )
        api = processes.api(api_settings)
        worker.wait_for_log(" ready.", timeout=60)
        yield api
    finally:
        processes.stop_all()


class Connect(Protocol):
    def __call__(
        self, organization: str | None, role: str = "operator", identity: str = "alice"
    ) -> httpx.Client: ...


@pytest.fixture
def connect(server: ApiServer, api_manager: JobManager) -> Iterator[Connect]:
    """Clients on the server with a new key of ``organization`` (none for None)."""
    opened: list[httpx.Client] = []

    def connect(
        organization: str | None, role: str = "operator", identity: str = "alice"
    ) -> httpx.Client:
        token = None
        if organization is not None:
            issued = api_manager.access.create_api_key(
                identity=identity, organization=organization, role=role
            )
            token = issued.token
        client = server.client(token)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()


# -- helpers -----------------------------------------------------------------------------


def _org() -> str:
    return f"org-{uuid.uuid4().hex[:10]}"


def _start(
    client: httpx.Client,
    job_type: str,
    parameters: dict[str, Any] | None = None,
    **body: Any,
) -> dict[str, Any]:
    """``POST /jobs`` that must create a job; returns its native record."""
    response = client.post("/jobs", json={"type": job_type, "parameters": parameters or {}, **body})
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def _finished(manager: JobManager, *job_ids: str) -> list[Job]:
    return manager.wait_for_completion(list(job_ids), timeout=30)


def _until(found: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not found():
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.05)


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem+json body of an error response with ``status``."""
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [record["id"] for record in response.json()["value"]]


@contextlib.contextmanager
def _running_sleep(
    client: httpx.Client, manager: JobManager, **body: Any
) -> Iterator[dict[str, Any]]:
    """A diagnostics.sleep of about ten seconds, Processing; cancelled afterwards."""
    record = _start(client, "diagnostics.sleep", {"steps": 50, "seconds": 0.2}, **body)
    try:
        _until(
            lambda: manager.get_job(record["id"]).status is JobStatus.PROCESSING,
            "Processing",
        )
        yield record
    finally:
        with contextlib.suppress(Conflict):  # it may end between the check and the cancel
            if not manager.get_job(record["id"]).is_terminal:
                manager.cancel_job(record["id"])
        _finished(manager, record["id"])


# -- health, readiness, keys -------------------------------------------------------------


def test_health_and_readiness_answer_without_a_key(server: ApiServer) -> None:
    with server.client() as client:
        health = client.get("/health")
        ready = client.get("/ready")

    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_every_protected_route_refuses_a_missing_malformed_unknown_or_revoked_key(
    server: ApiServer, connect: Connect, api_manager: JobManager
) -> None:
    org = _org()
    job_id = _start(connect(org), "diagnostics.echo")["id"]
    _finished(api_manager, job_id)
    revoked = api_manager.access.create_api_key(identity="rex", organization=org, role="admin")
    api_manager.access.revoke_api_key(revoked.key.id)
    live = api_manager.access.create_api_key(identity="liv", organization=org, role="admin")
    keys = {
        "no key": None,
        "malformed": "not-a-key",
        "unknown": f"jh_{'0' * 16}_{'A' * 43}",
        "wrong secret": f"jh_{live.key.id}_{'B' * 43}",
        "revoked": revoked.token,
    }
    schedules = "/job-types/diagnostics.echo/schedules"
    routes: list[tuple[str, str, Any]] = [
        ("GET", "/jobs", None),
        ("POST", "/jobs", {"type": "diagnostics.echo"}),
        ("GET", f"/jobs/{job_id}", None),
        ("GET", f"/jobs/{job_id}/messages", None),
        ("GET", f"/jobs/{job_id}/events", None),
        ("POST", f"/jobs/{job_id}/cancel", None),
        ("POST", f"/jobs/{job_id}/rerun", None),
        ("GET", f"/jobs/{job_id}/result", None),
        ("GET", "/job-types", None),
        ("GET", "/job-types/diagnostics.echo", None),
        ("GET", schedules, None),
        ("PUT", schedules, {"interval": "1h"}),
        ("DELETE", schedules, None),
        ("GET", "/schema/job", None),
        ("GET", AIMS360, None),
        ("POST", f"/jobsmanagement/v1.0/backgroundjob/{job_id}/rerun", None),
    ]

    for label, token in keys.items():
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        for method, path, body in routes:
            response = httpx.request(
                method, server.url + path, json=body, headers=headers, timeout=30
            )
            assert response.status_code == 401, f"{label}: {method} {path}: {response.text}"
            assert response.headers["www-authenticate"] == "Bearer", f"{label}: {method} {path}"
            _problem(response, 401)

    job = api_manager.get_job(job_id)
    assert job.attempt == 1
    assert job.status is JobStatus.COMPLETED
    assert api_manager.get_job_schedules("diagnostics.echo") == []
    with server.client(live.token) as client:
        assert _ids(client.get("/jobs")) == [job_id]  # no unauthenticated start got through


def test_a_key_created_with_the_cli_works_until_revoked_with_the_cli(
    server: ApiServer, api_settings: Settings, api_manager: JobManager
) -> None:
    env = settings_env(api_settings)
    created = run_cli(
        ["apikey", "create", "--identity", "alice", "--organization", "acme", "--role", "operator"],
        env,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.splitlines()[0]
    key_id = token.split("_")[1]

    with server.client(token) as client:
        record = _start(client, "diagnostics.echo", {"message": "from acme"})
        assert (record["identity"], record["organization"]) == ("alice", "acme")
        _finished(api_manager, record["id"])
        assert client.get(f"/jobs/{record['id']}").status_code == 200

        revoked = run_cli(["apikey", "revoke", key_id], env)
        assert revoked.returncode == 0, revoked.stderr

        refused = client.get(f"/jobs/{record['id']}")
    _problem(refused, 401)
    assert refused.headers["www-authenticate"] == "Bearer"


# -- POST /jobs --------------------------------------------------------------------------


def test_post_jobs_creates_repeats_by_client_request_id_and_refuses_with_problems(
    server: ApiServer, connect: Connect, api_manager: JobManager
) -> None:
    org = _org()
    client = connect(org)
    body = {
        "type": "diagnostics.echo",
        "parameters": {"message": "once"},
        "clientRequestId": "req-1",
    }

    created = client.post("/jobs", json=body)
    assert created.status_code == 201, created.text
    record = created.json()
    assert created.headers["location"] == f"{server.url}/jobs/{record['id']}"
    assert record["job_type"] == "diagnostics.echo"
    assert (record["organization"], record["identity"]) == (org, "alice")
    assert record["client_request_id"] == "req-1"
    assert client.get(created.headers["location"]).json()["id"] == record["id"]

    again = client.post("/jobs", json=body)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == record["id"]
    assert again.headers["location"] == created.headers["location"]

    elsewhere = connect(_org()).post("/jobs", json=body)
    assert elsewhere.status_code == 201, "another organization's request id is its own"
    assert elsewhere.json()["id"] != record["id"]

    unknown = _problem(client.post("/jobs", json={"type": "diagnostics.nope"}), 404)
    assert unknown["type"] == "urn:jobhub:problem:UnknownJobType"
    bad = _problem(
        client.post(
            "/jobs",
            json={"type": "diagnostics.sleep", "parameters": {"steps": "many", "seconds": -1}},
        ),
        422,
    )
    assert {"steps", "seconds"} <= {error["name"] for error in bad["errors"]}
    untyped = _problem(client.post("/jobs", json={"parameters": {}}), 422)
    assert any(error["name"].endswith("type") for error in untyped["errors"]), untyped
    foreign = _problem(
        client.post("/jobs", json={"type": "diagnostics.echo", "organization": "someone-else"}),
        422,
    )
    assert any("organization" in error["name"] for error in foreign["errors"]), foreign
    _problem(client.post("/jobs", json={"type": "diagnostics.echo", "accessScope": "World"}), 422)

    listed = client.get("/jobs", params={"$count": "true"}).json()
    assert listed["@odata.count"] == 1, "a refused request started a job"
    _finished(api_manager, record["id"], elsewhere.json()["id"])


def test_post_jobs_batch_starts_each_item_or_says_why_not(
    connect: Connect, api_manager: JobManager
) -> None:
    org = _org()
    client = connect(org)
    first = _start(client, "diagnostics.echo", {"message": "0"}, clientRequestId="r-0")
    _start(client, "diagnostics.sleep", {"steps": 1, "seconds": 0.1}, key="held")
    jobs = [
        {"type": "diagnostics.echo", "parameters": {"message": str(n)}, "clientRequestId": f"r-{n}"}
        for n in range(30)
    ] + [{"type": "diagnostics.sleep", "parameters": {"steps": 1, "seconds": 0}, "key": "held"}]

    response = client.post("/jobs/batch", json={"jobs": jobs}, params={"reason": "import"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert {k: body[k] for k in ("started", "repeated", "pending", "refused")} == {
        "started": 29,
        "repeated": 1,
        "pending": 0,
        "refused": 1,
    }
    items = body["items"]
    assert [item["index"] for item in items] == list(range(31))
    assert items[0]["job"]["id"] == first["id"]
    assert items[30]["job"] is None
    assert items[30]["error"]["type"] == "urn:jobhub:problem:KeyConflict"
    assert items[30]["error"]["status"] == 409
    assert {item["job"]["organization"] for item in items[:30]} == {org}
    ids = [item["job"]["id"] for item in items[1:30]]
    assert [job.status for job in _finished(api_manager, *ids)] == [JobStatus.COMPLETED] * 29

    # One bad item starts none, and the problem names it by its index.
    bad = _problem(
        client.post(
            "/jobs/batch",
            json={"jobs": [jobs[1], {"type": "diagnostics.echo", "parameters": {"x": 1}}]},
        ),
        422,
    )
    assert bad["detail"].startswith("item 1: "), bad
    _problem(client.post("/jobs/batch", json={"jobs": []}), 422)
    _problem(client.post("/jobs/batch", json={"jobs": [{"type": "diagnostics.nope"}]}), 404)
    listed = client.get("/jobs", params={"$count": "true"}).json()
    assert listed["@odata.count"] == 31  # the two singles and the batch's 29


def test_a_key_held_by_an_active_job_refuses_another_until_that_one_is_cancelled(
    connect: Connect, api_manager: JobManager
) -> None:
    client = connect(_org())

    with _running_sleep(client, api_manager, key="nightly") as holder:
        clash = client.post(
            "/jobs",
            json={
                "type": "diagnostics.sleep",
                "parameters": {"steps": 1, "seconds": 0},
                "key": "nightly",
            },
        )
        assert _problem(clash, 409)["type"] == "urn:jobhub:problem:KeyConflict"

        cancelled = client.post(f"/jobs/{holder['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["cancel_requested"] is True
        [job] = _finished(api_manager, holder["id"])
        assert job.status is JobStatus.CANCELLED
        assert client.get(f"/jobs/{holder['id']}").json()["status"] == "Cancelled"
        _problem(client.post(f"/jobs/{holder['id']}/cancel"), 409)

    freed = _start(client, "diagnostics.sleep", {"steps": 1, "seconds": 0}, key="nightly")
    [job] = _finished(api_manager, freed["id"])
    assert job.status is JobStatus.COMPLETED


# -- one job: messages, events, ETag, rerun, result --------------------------------------


def test_messages_and_events_follow_a_job_through_its_lifecycle(
    connect: Connect, api_manager: JobManager
) -> None:
    client = connect(_org())
    job_id = _start(client, "diagnostics.sleep", {"steps": 3, "seconds": 0.05})["id"]
    _finished(api_manager, job_id)

    messages = client.get(f"/jobs/{job_id}/messages").json()["value"]
    assert [m["text"] for m in messages] == [f"step {n} of 3 done" for n in (1, 2, 3)]
    later = client.get(f"/jobs/{job_id}/messages", params={"after": messages[0]["seq"]})
    assert [m["seq"] for m in later.json()["value"]] == [m["seq"] for m in messages[1:]]

    events = client.get(f"/jobs/{job_id}/events").json()["value"]
    assert [e["status"] for e in events] == ["Created", "Queued", "Processing", "Completed"]
    moments = [datetime.fromisoformat(e["at"]) for e in events]
    assert moments == sorted(moments)


def test_etag_answers_304_until_a_rerun_changes_the_job(
    connect: Connect, api_manager: JobManager
) -> None:
    client = connect(_org())
    job_id = _start(client, "diagnostics.echo", {"message": "tagged"})["id"]
    _finished(api_manager, job_id)

    first = client.get(f"/jobs/{job_id}")
    tag = first.headers["etag"]
    assert tag.startswith('W/"'), tag
    unchanged = client.get(f"/jobs/{job_id}", headers={"If-None-Match": tag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == tag

    rerun = client.post(f"/jobs/{job_id}/rerun")
    assert rerun.status_code == 200, rerun.text
    assert rerun.json()["attempt"] == 2
    [job] = _finished(api_manager, job_id)
    assert (job.status, job.attempt) == (JobStatus.COMPLETED, 2)

    changed = client.get(f"/jobs/{job_id}", headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag
    assert (changed.json()["status"], changed.json()["attempt"]) == ("Completed", 2)
    assert changed.json()["result"] == _echoed("tagged")
    again = client.get(f"/jobs/{job_id}", headers={"If-None-Match": changed.headers["etag"]})
    assert again.status_code == 304


def test_a_running_job_cannot_be_rerun_nor_give_a_result_and_an_ended_one_not_cancelled(
    connect: Connect, api_manager: JobManager
) -> None:
    client = connect(_org())
    done = _start(client, "diagnostics.echo")["id"]
    _finished(api_manager, done)

    with _running_sleep(client, api_manager) as running:
        rerun = _problem(client.post(f"/jobs/{running['id']}/rerun"), 409)
        assert rerun["type"] == "urn:jobhub:problem:NotRerunnable"
        _problem(client.get(f"/jobs/{running['id']}/result"), 409)
        assert api_manager.get_job(running["id"]).attempt == 1

    _problem(client.post(f"/jobs/{done}/cancel"), 409)
    assert api_manager.get_job(done).status is JobStatus.COMPLETED


def test_a_small_result_is_inline_and_a_large_one_a_document_behind_a_publish_link(
    server: ApiServer, connect: Connect, api_manager: JobManager, api_settings: Settings
) -> None:
    client = connect(_org())
    small = _start(client, "diagnostics.echo", {"message": "small"})
    large = _start(client, "diagnostics.echo", {"message": LARGE})
    _finished(api_manager, small["id"], large["id"])

    inline = client.get(f"/jobs/{small['id']}/result")
    assert inline.status_code == 200, inline.text
    assert inline.json() == {
        "jobId": small["id"],
        "responseType": "In-line JSON",
        "result": _echoed("small"),
        "publishLink": None,
        "documents": [],
    }

    linked = client.get(f"/jobs/{large['id']}/result").json()
    assert linked["responseType"] == "Publishlink"
    assert linked["result"] is None
    link = linked["publishLink"]
    assert link.startswith(f"{server.url}/documents/"), link
    [document] = linked["documents"]
    assert document["link"] == link
    assert document["content_type"] == "application/json"
    record = client.get(f"/jobs/{large['id']}").json()
    assert (record["response_type"], record["publish_link"]) == ("Publishlink", link)

    download = client.get(link)
    assert download.status_code == 200, download.text
    assert download.headers["content-type"].startswith("application/json")
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.json() == large["parameters"] == _echoed(LARGE)
    assert document["size"] == len(download.content)

    shown = run_cli(["status", large["id"], "--json"], settings_env(api_settings))
    assert shown.returncode == 0, shown.stderr
    local = json.loads(shown.stdout)  # the CLI lists the document too (without a link)
    assert (local["response_type"], local["documents"][0]["id"]) == ("Publishlink", document["id"])
    written = run_cli(["result", large["id"]], settings_env(api_settings))
    assert (written.returncode, json.loads(written.stdout)) == (0, _echoed(LARGE))


# -- GET /jobs: OData --------------------------------------------------------------------


def _utc_literal(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_query_filters_with_every_operator_function_and_literal_then_orders_and_slices(
    connect: Connect, api_manager: JobManager
) -> None:
    client = connect(_org())
    e1 = _start(client, "diagnostics.echo", description="alpha one")
    e2 = _start(client, "diagnostics.echo", description="alpha two", clientRequestId="r2")
    e3 = _start(client, "diagnostics.echo", description="beta", key="k3")
    s1 = _start(
        client,
        "diagnostics.sleep",
        {"steps": 1, "seconds": 0, "fail_at_step": 1},
        description="failing",
    )
    ids = {"e1": e1["id"], "e2": e2["id"], "e3": e3["id"], "s1": s1["id"]}
    _finished(api_manager, *ids.values())
    when = client.get(f"/jobs/{ids['e2']}").json()["created_at"]
    at_e2 = _utc_literal(when)
    at_e2_east = datetime.fromisoformat(when).astimezone(timezone(timedelta(hours=2)))

    names = {job_id: name for name, job_id in ids.items()}

    def matching(text: str) -> set[str]:
        return {names[job_id] for job_id in _ids(client.get("/jobs", params={"$filter": text}))}

    cases = {
        "status eq 'Completed'": {"e1", "e2", "e3"},
        "status ne 'Completed'": {"s1"},
        "status eq 'CompletedWithErrors'": {"s1"},
        "statusCode eq 4": {"s1"},
        "statusCode ne 4": {"e1", "e2", "e3"},
        "statusCode gt 3": {"s1"},
        "statusCode ge 3": {"e1", "e2", "e3", "s1"},
        "statusCode lt 4": {"e1", "e2", "e3"},
        "statusCode le 3": {"e1", "e2", "e3"},
        f"createdAt gt {at_e2}": {"e3", "s1"},
        f"createdAt ge {at_e2}": {"e2", "e3", "s1"},
        f"createdAt lt {at_e2}": {"e1"},
        f"createdAt le {at_e2_east.isoformat()}": {"e1", "e2"},
        f"id eq {ids['e1']}": {"e1"},
        f"id ne {ids['e1']}": {"e2", "e3", "s1"},
        "contains(description, 'alpha')": {"e1", "e2"},
        "startswith(description, 'alp')": {"e1", "e2"},
        "startswith(description, 'lpha')": set(),
        "description eq 'beta' or description eq 'failing'": {"e3", "s1"},
        "jobType eq 'diagnostics.echo' and not (description eq 'beta')": {"e1", "e2"},
        "(contains(description, 'alpha') and not clientRequestId eq 'r2') or statusCode eq 4": {
            "e1",
            "s1",
        },
        "not (statusCode eq 3 or statusCode eq 4)": set(),
        "status eq 'Completed' AND description eq 'beta'": {"e3"},
        "key eq null": {"e1", "e2", "s1"},
        "key ne null": {"e3"},
        "key eq 'k3'": {"e3"},
    }
    for text, expected in cases.items():
        assert matching(text) == expected, text

    def ordered(**params: str) -> list[str]:
        return [names[job_id] for job_id in _ids(client.get("/jobs", params=params))]

    assert ordered() == ["s1", "e3", "e2", "e1"]  # newest first
    assert ordered(**{"$orderby": "createdAt asc"}) == ["e1", "e2", "e3", "s1"]
    assert ordered(**{"$orderby": "description desc"}) == ["s1", "e3", "e2", "e1"]
    assert ordered(**{"$orderby": "statusCode desc, createdAt"}) == ["s1", "e1", "e2", "e3"]
    assert ordered(**{"$orderby": "createdAt", "$top": "2", "$skip": "1"}) == ["e2", "e3"]

    counted = client.get("/jobs", params={"$count": "true", "$top": "1"}).json()
    assert counted["@odata.count"] == 4
    assert len(counted["value"]) == 1
    assert "@odata.nextLink" not in counted  # $top is all the caller wants
    assert "@odata.count" not in client.get("/jobs").json()

    paged = client.get(
        "/jobs",
        params={"$orderby": "createdAt", "$top": "3"},
        headers={"Prefer": "odata.maxpagesize=2"},
    ).json()
    assert [r["id"] for r in paged["value"]] == [ids["e1"], ids["e2"]]
    rest = client.get(paged["@odata.nextLink"], headers={"Prefer": "odata.maxpagesize=2"}).json()
    assert [r["id"] for r in rest["value"]] == [ids["e3"]]
    assert "@odata.nextLink" not in rest

    assert client.get("/jobs", params={"$top": "1000"}).status_code == 200
    for params in ({"$top": "1001"}, {"$top": "0"}, {"$skip": "-1"}):
        _problem(client.get("/jobs", params=params), 400)

    for text, position in (
        ("percent eq 'x'", 11),
        ("statuz eq 'Completed'", 0),
        ("status eq 'Completed' and", len("status eq 'Completed' and")),
        ("createdAt gt 2026-01-01", 13),
        ("contains(statusCode, '3')", 9),
    ):
        problem = _problem(client.get("/jobs", params={"$filter": text}), 400)
        assert problem["position"] == position, (text, problem)
    problem = _problem(client.get("/jobs", params={"$orderby": "createdAt sideways"}), 400)
    assert problem["position"] == len("createdAt ")


def test_query_pages_of_100_reach_every_job_once_by_next_links(
    connect: Connect, api_manager: JobManager
) -> None:
    org = _org()
    client = connect(org)
    started = {
        str(api_manager.start_job("diagnostics.echo", {"message": f"n{n}"}, organization=org).id)
        for n in range(130)
    }
    _finished(api_manager, *started)

    first = client.get("/jobs", params={"$count": "true"}).json()
    assert first["@odata.count"] == 130
    assert len(first["value"]) == 100
    seen = [record["id"] for record in first["value"]]
    following = first.get("@odata.nextLink")
    while following is not None:
        page = client.get(following).json()
        seen += [record["id"] for record in page["value"]]
        following = page.get("@odata.nextLink")
    assert len(seen) == 130
    assert set(seen) == started

    small: list[str] = []
    sizes: list[int] = []
    following = "/jobs"
    while following is not None:
        page = client.get(following, headers={"Prefer": "odata.maxpagesize=10"}).json()
        small += [record["id"] for record in page["value"]]
        sizes.append(len(page["value"]))
        following = page.get("@odata.nextLink")
    assert sizes == [10] * 13
    assert small == seen

    view = client.get(AIMS360).json()
    assert len(view["value"]) == 100
    link = view["@odata.nextLink"]
    assert parse_qs(urlsplit(link).query)["$skip"] == ["100"]
    rest = client.get(link).json()
    assert len(rest["value"]) == 30
    assert "@odata.nextLink" not in rest
    assert {r["jobID"] for r in view["value"] + rest["value"]} == started

    listing = client.get(
        "/jobs",
        params={"$format": "xml", "$count": "true"},
        headers={"Prefer": "odata.maxpagesize=10"},
    )
    root = ET.fromstring(listing.content)
    assert root.tag == "JobStatusList"
    assert root.get("Count") == "130"
    assert "%24skip=10" in (root.get("NextLink") or "")
    assert [e.findtext("Id") for e in root.findall("JobStatus")] == seen[:10]


# -- representations ---------------------------------------------------------------------


def test_a_job_is_shown_as_jobstatus_xml_or_json_by_accept_or_format(
    server: ApiServer, connect: Connect, api_manager: JobManager
) -> None:
    client = connect(_org())
    job_id = _start(client, "diagnostics.echo", {"message": "hi there", "data": {"a": 1}})["id"]
    statistics = _start(client, "reports.job_statistics")["id"]
    _finished(api_manager, job_id, statistics)

    as_xml = client.get(f"/jobs/{job_id}", headers={"Accept": "application/xml"})
    assert as_xml.status_code == 200, as_xml.text
    assert as_xml.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(as_xml.content)
    assert root.tag == "JobStatus"
    assert root.get("Status") == "Completed"
    assert root.get("StatusCode") == "3"
    assert root.get("Type") == "diagnostics.echo"
    assert root.findtext("Id") == job_id
    parameters = root.findtext("Parameters") or ""
    assert dict(item.split("=", 1) for item in parameters.split(";")) == {
        "message": "hi there",
        "data": '{"a":1}',
    }

    as_json = client.get(
        f"/jobs/{job_id}", headers={"Accept": "application/vnd.jobhub.jobstatus+json"}
    )
    assert as_json.headers["content-type"].startswith("application/vnd.jobhub.jobstatus+json")
    record = as_json.json()
    assert (record["Id"], record["Status"], record["JobType"]) == (job_id, 3, 0)
    assert record["TypeName"] == "diagnostics.echo"
    assert record["Parameters"] == parameters
    assert record["Address"] == f"{server.url}/jobs/{job_id}"
    exported = client.get(f"/jobs/{statistics}", params={"$format": "jobstatus"}).json()
    assert (exported["JobType"], exported["TypeName"]) == (3, "reports.job_statistics")

    formatted = client.get(
        f"/jobs/{job_id}", params={"$format": "xml"}, headers={"Accept": "application/json"}
    )
    assert ET.fromstring(formatted.content).get("StatusCode") == "3"
    ranked = client.get(
        f"/jobs/{job_id}",
        headers={"Accept": "application/xml;q=0.5, application/vnd.jobhub.jobstatus+json"},
    )
    assert ranked.json()["Status"] == 3
    listed = client.get("/jobs", params={"$format": "jobstatus"}).json()["value"]
    assert {(r["TypeName"], r["Status"]) for r in listed} == {
        ("diagnostics.echo", 3),
        ("reports.job_statistics", 3),
    }

    _problem(client.get(f"/jobs/{job_id}", headers={"Accept": "text/csv"}), 406)
    _problem(client.get("/jobs", headers={"Accept": "text/csv"}), 406)
    _problem(client.get(f"/jobs/{job_id}", params={"$format": "csv"}), 400)


def test_job_records_validate_against_the_published_json_schema(
    connect: Connect, api_manager: JobManager
) -> None:
    client = connect(_org())
    schema = client.get("/schema/job").json()
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    small = _start(client, "diagnostics.echo")["id"]
    large = _start(client, "diagnostics.echo", {"message": LARGE})["id"]
    failed = _start(client, "diagnostics.sleep", {"steps": 1, "seconds": 0, "fail_at_step": 1})
    _finished(api_manager, small, large, failed["id"])

    records = [client.get(f"/jobs/{job_id}").json() for job_id in (small, large, failed["id"])]
    for record in records:
        jsonschema.validate(record, schema, cls=validator)
    assert records[1]["documents"]
    assert records[2]["error"]

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**records[0], "status": "Finished"}, schema, cls=validator)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {k: v for k, v in records[0].items() if k != "id"}, schema, cls=validator
        )


# -- job types and schedules -------------------------------------------------------------


def test_job_types_list_what_can_run_with_parameters_and_abilities(connect: Connect) -> None:
    viewer = connect(_org(), role="viewer")

    listed = viewer.get("/job-types")
    assert listed.status_code == 200, listed.text
    types = {record["name"]: record for record in listed.json()["value"]}
    echo = types["diagnostics.echo"]
    assert echo["parameters"]["type"] == "object"
    assert set(echo["parameters"]["properties"]) == {"message", "data"}
    assert echo["start_type"] == "TimerOnly"
    assert (echo["can_cancel"], echo["can_rerun"]) == (True, True)
    assert types["maintenance.purge_jobs"]["can_cancel"] is False
    assert types["maintenance.purge_jobs"]["housekeeping"] is True
    assert echo["housekeeping"] is False
    assert types["reports.job_statistics"]["type_code"] == 3

    one = viewer.get("/job-types/diagnostics.echo").json()
    assert one["name"] == "diagnostics.echo"
    assert one["parameters"] == echo["parameters"]
    _problem(viewer.get("/job-types/diagnostics.nope"), 404)


def test_admins_set_and_clear_schedules_and_bad_ones_change_nothing(connect: Connect) -> None:
    org = _org()
    admin = connect(org, role="admin")
    operator = connect(org, role="operator")
    viewer = connect(org, role="viewer")
    path = "/job-types/diagnostics.sleep/schedules"
    assert admin.get(path).json() == {"value": []}

    compound = admin.put(path, json={"interval": "1h30m"})
    assert compound.status_code == 200, compound.text
    assert compound.json()["value"][0]["rule"]["every"] == 5400

    hourly = admin.put(path, json={"interval": "1h"})
    assert hourly.status_code == 200, hourly.text
    [schedule] = hourly.json()["value"]
    assert schedule["rule"]["kind"] == "interval"
    assert schedule["rule"]["every"] == 3600
    assert (schedule["job_type"], schedule["source"]) == ("diagnostics.sleep", "runtime")
    assert viewer.get(path).json() == hourly.json()

    weekly = admin.put(path, json={"days": "Mon,Wed", "at": "09:30", "tz": "Europe/Berlin"})
    assert weekly.status_code == 200, weekly.text
    [schedule] = weekly.json()["value"]
    assert schedule["rule"]["kind"] == "weekly"
    assert schedule["rule"]["tz"] == "Europe/Berlin"
    assert len(schedule["rule"]["days"]) == 2
    fire = datetime.fromisoformat(schedule["next_fire_at"]).astimezone(ZoneInfo("Europe/Berlin"))
    assert (fire.weekday() in (0, 2), fire.hour, fire.minute) == (True, 9, 30)

    both = admin.put(
        path,
        json={
            "schedules": [
                {"interval": "15m", "parameters": {"steps": 1, "seconds": 0}},
                {"days": "Fri", "at": "18:00"},
            ]
        },
    )
    assert both.status_code == 200, both.text
    fifteen, friday = both.json()["value"]
    assert (fifteen["rule"]["kind"], fifteen["rule"]["every"]) == ("interval", 900)
    assert fifteen["parameters"]["steps"] == 1
    assert (friday["rule"]["kind"], friday["rule"]["at"]) == ("weekly", "18:00:00")
    before = admin.get(path).json()
    assert len(before["value"]) == 2

    for bad in (
        {"interval": "soon"},
        {"interval": "1h", "at": "09:00"},
        {"at": "09:00", "tz": "Mars/Olympus"},
        {"days": "Funday", "at": "09:00"},
        {"at": "25:00"},
        {},
        {"interval": "1h", "colour": "red"},
        {"interval": "1h", "parameters": {"steps": "many"}},
        {"schedules": [{"interval": "1h"}, {"interval": "never"}]},
    ):
        response = admin.put(path, json=bad)
        assert 400 <= response.status_code < 500, (bad, response.text)
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        assert admin.get(path).json() == before, bad

    for bad, field in (
        ({"interval": "soon"}, "interval"),
        ({"interval": "30m1h"}, "interval"),
        ({"schedules": [{"interval": "1h"}, {"interval": "-5m"}]}, "schedules.1.interval"),
    ):
        problem = _problem(admin.put(path, json=bad), 422)
        named = [e for e in problem["errors"] if e["name"].endswith(f".{field}")]
        assert named, problem
        assert "e.g. 250ms, 90s, 1h30m" in named[0]["reason"], problem
    assert admin.get(path).json() == before

    for caller in (viewer, operator):
        _problem(caller.put(path, json={"interval": "1h"}), 403)
        _problem(caller.delete(path), 403)
    assert admin.get(path).json() == before
    _problem(admin.put("/job-types/diagnostics.nope/schedules", json={"interval": "1h"}), 404)

    cleared = admin.delete(path)
    assert cleared.status_code == 204
    assert cleared.content == b""
    assert admin.get(path).json() == {"value": []}


# -- AIMS360 -----------------------------------------------------------------------------


def test_aims360_view_finds_jobs_by_its_names_and_reruns_them(
    server: ApiServer, connect: Connect, api_manager: JobManager
) -> None:
    org = _org()
    client = connect(org)
    done = _start(client, "diagnostics.echo", {"message": "aims"}, clientRequestId="aims-1")
    failed = _start(client, "diagnostics.sleep", {"steps": 1, "seconds": 0, "fail_at_step": 1})
    _finished(api_manager, done["id"], failed["id"])

    view = client.get(AIMS360, params={"$filter": f"jobId eq '{done['id']}'"})
    assert view.status_code == 200, view.text
    body = view.json()
    assert body["@odata.context"] == (
        f"{server.url}/jobsmanagement/odata/v1.0/$metadata#backgroundjob"
    )
    [record] = body["value"]
    assert record["jobID"] == done["id"]
    assert record["jobStatus"] == "Completed"
    assert record["canReRun"] == "Yes"
    assert record["responseType"] == "In-line JSON"
    assert json.loads(record["response"]) == _echoed("aims")
    assert (record["clientRequestId"], record["accountCode"]) == ("aims-1", org)
    assert record["@odata.etag"] == client.get(f"/jobs/{done['id']}").headers["etag"]
    named = client.get(
        AIMS360,
        params={"$filter": "jobStatus eq 'Completed' and clientRequestId eq 'aims-1'"},
    ).json()["value"]
    assert [r["jobID"] for r in named] == [done["id"]]
    refused = _problem(client.get(AIMS360, params={"$filter": "jobStatus gt 'Failed'"}), 400)
    assert refused["position"] == len("jobStatus ")
    _problem(client.get(AIMS360, params={"$filter": "status eq 'Completed'"}), 400)

    with contextlib.ExitStack() as stack:
        # every worker process busy, so that the rerun is still Queued when it answers
        sleepers = [
            stack.enter_context(_running_sleep(client, api_manager))["id"]
            for _ in range(WORKER_CONCURRENCY)
        ]
        _problem(client.post(f"/jobsmanagement/v1.0/backgroundjob/{sleepers[0]}/rerun"), 409)
        rerun = client.post(f"/jobsmanagement/v1.0/backgroundjob/{done['id']}/rerun")
        assert rerun.status_code == 200, rerun.text
        assert rerun.json() == {
            "jobId": done["id"],
            "jobStatus": "Queued",
            "publishLink": None,
            "publishLinkAccessScope": "PeopleInOrganization",
        }
        for sleeper in sleepers:
            assert client.post(f"/jobs/{sleeper}/cancel").status_code == 200
    [job] = _finished(api_manager, done["id"])
    assert (job.status, job.attempt) == (JobStatus.COMPLETED, 2)

    failures = client.get(AIMS360, params={"$filter": "jobStatus eq 'Failed'"}).json()["value"]
    assert {r["jobID"] for r in failures} == {failed["id"], *sleepers}
    assert {r["jobStatus"] for r in failures} == {"Failed"}
    statuses = {api_manager.get_job(sleeper).status for sleeper in sleepers}
    assert statuses == {JobStatus.CANCELLED}


# -- tenants and roles -------------------------------------------------------------------


def test_another_organization_can_neither_see_nor_touch_a_job(
    connect: Connect, api_manager: JobManager
) -> None:
    org_a = _org()
    a = connect(org_a)
    b = connect(_org(), role="admin")
    shared = _start(a, "diagnostics.echo", {"message": LARGE})
    private = _start(a, "diagnostics.echo", {"message": LARGE}, accessScope="Private")
    _finished(api_manager, shared["id"], private["id"])
    links = [a.get(f"/jobs/{r['id']}").json()["publish_link"] for r in (shared, private)]
    assert all(links)

    with _running_sleep(a, api_manager) as running:
        for job_id in (shared["id"], private["id"], running["id"]):
            for suffix in ("", "/messages", "/events", "/result"):
                _problem(b.get(f"/jobs/{job_id}{suffix}"), 404)
        _problem(b.post(f"/jobs/{running['id']}/cancel"), 404)
        _problem(b.post(f"/jobs/{shared['id']}/rerun"), 404)
        _problem(b.post(f"/jobsmanagement/v1.0/backgroundjob/{shared['id']}/rerun"), 404)
        for link in links:
            _problem(b.get(link), 404)

        assert _ids(b.get("/jobs")) == []
        assert _ids(b.get("/jobs", params={"$filter": f"organization eq '{org_a}'"})) == []
        assert _ids(b.get("/jobs", params={"$filter": f"id eq {shared['id']}"})) == []
        for text in (f"jobId eq '{shared['id']}'", f"accountCode eq '{org_a}'"):
            assert b.get(AIMS360, params={"$filter": text}).json()["value"] == []

        job = api_manager.get_job(running["id"])
        assert job.status is JobStatus.PROCESSING
        assert not job.cancel_requested
        assert api_manager.get_job(shared["id"]).attempt == 1
        assert a.get(links[0]).status_code == 200
        assert len(_ids(a.get("/jobs"))) == 3


def test_a_viewer_reads_but_cannot_start_cancel_or_rerun(
    connect: Connect, api_manager: JobManager
) -> None:
    org = _org()
    operator = connect(org)
    viewer = connect(org, role="viewer", identity="victor")
    done = _start(operator, "diagnostics.echo", {"message": "look"})["id"]
    _finished(api_manager, done)

    with _running_sleep(operator, api_manager) as running:
        assert viewer.get(f"/jobs/{done}").status_code == 200
        assert viewer.get(f"/jobs/{done}/result").json()["result"] == _echoed("look")
        assert set(_ids(viewer.get("/jobs"))) == {done, running["id"]}
        assert viewer.get(AIMS360).status_code == 200

        denied = _problem(viewer.post("/jobs", json={"type": "diagnostics.echo"}), 403)
        assert denied["type"] == "urn:jobhub:problem:PermissionDenied"
        _problem(viewer.post(f"/jobs/{running['id']}/cancel"), 403)
        _problem(viewer.post(f"/jobs/{done}/rerun"), 403)
        _problem(viewer.post(f"/jobsmanagement/v1.0/backgroundjob/{done}/rerun"), 403)

        job = api_manager.get_job(running["id"])
        assert job.status is JobStatus.PROCESSING
        assert not job.cancel_requested
        assert api_manager.get_job(done).attempt == 1
        assert len(_ids(operator.get("/jobs"))) == 2


# -- access scopes and publish links -----------------------------------------------------


def _publish_link(client: httpx.Client, job_id: str) -> str:
    link = client.get(f"/jobs/{job_id}").json()["publish_link"]
    assert isinstance(link, str), f"job {job_id} has no publish link"
    return link


def test_a_public_publish_link_downloads_without_any_key(
    connect: Connect, api_manager: JobManager
) -> None:
    alice = connect(_org())
    record = _start(alice, "diagnostics.echo", {"message": LARGE}, accessScope="Public")
    _finished(api_manager, record["id"])
    link = _publish_link(alice, record["id"])

    download = connect(None).get(link)

    assert download.status_code == 200, download.text
    assert download.json() == _echoed(LARGE)
    assert alice.get(f"/jobs/{record['id']}").json()["access_scope"] == "Public"


def test_a_public_publish_link_downloads_with_another_organizations_key_too(
    connect: Connect, api_manager: JobManager
) -> None:
    alice = connect(_org())
    record = _start(alice, "diagnostics.echo", {"message": LARGE}, accessScope="Public")
    _finished(api_manager, record["id"])
    link = _publish_link(alice, record["id"])

    download = connect(_org()).get(link)

    assert download.status_code == 200, download.text
    assert download.json() == _echoed(LARGE)


def test_private_output_is_only_for_its_submitter(
    connect: Connect, api_manager: JobManager
) -> None:
    org = _org()
    alice = connect(org, identity="alice")
    bob = connect(org, identity="bob")
    boss = connect(org, role="admin", identity="boss")
    stranger = connect(_org(), identity="alice")
    anonymous = connect(None)
    large = _start(alice, "diagnostics.echo", {"message": LARGE}, accessScope="Private")
    small = _start(alice, "diagnostics.echo", {"message": "secret"}, accessScope="Private")
    _finished(api_manager, large["id"], small["id"])
    link = _publish_link(alice, large["id"])

    assert alice.get(link).json() == _echoed(LARGE)
    assert alice.get(f"/jobs/{small['id']}/result").json()["result"] == _echoed("secret")
    for colleague in (bob, boss):
        _problem(colleague.get(link), 403)
        for job_id in (large["id"], small["id"]):
            _problem(colleague.get(f"/jobs/{job_id}/result"), 403)
            seen = colleague.get(f"/jobs/{job_id}").json()
            assert (seen["result"], seen["publish_link"]) == (None, None)
            assert all(document["link"] is None for document in seen["documents"])
    refused = _problem(anonymous.get(link), 401)
    assert refused["type"] == "urn:jobhub:problem:NotAuthenticated"
    _problem(stranger.get(link), 404)


def test_a_colleague_lists_a_private_job_with_a_document_in_every_representation(
    connect: Connect, api_manager: JobManager
) -> None:
    org = _org()
    alice = connect(org, identity="alice")
    record = _start(alice, "diagnostics.echo", {"message": LARGE}, accessScope="Private")
    _finished(api_manager, record["id"])

    answers: dict[str, tuple[int, bool]] = {}
    for path, params in (
        (f"/jobs/{record['id']}", {"$format": "jobstatus"}),
        (f"/jobs/{record['id']}", {"$format": "xml"}),
        ("/jobs", {"$format": "jobstatus"}),
        ("/jobs", {"$format": "xml"}),
        (AIMS360, {}),
    ):
        bob = connect(org, identity="bob")  # a server fault drops the connection
        response = bob.get(path, params=params)
        answers[str(response.request.url)] = (response.status_code, record["id"] in response.text)
    assert answers == {url: (200, True) for url in answers}


def test_organization_output_is_for_any_key_of_the_organization(
    connect: Connect, api_manager: JobManager
) -> None:
    org = _org()
    alice = connect(org, identity="alice")
    reader = connect(org, role="viewer", identity="rita")
    record = _start(
        alice, "diagnostics.echo", {"message": LARGE}, accessScope="PeopleInOrganization"
    )
    _finished(api_manager, record["id"])
    link = _publish_link(alice, record["id"])
    assert reader.get(f"/jobs/{record['id']}").json()["access_scope"] == "Organization"

    for colleague in (alice, reader):
        assert colleague.get(link).json() == _echoed(LARGE)
        assert colleague.get(f"/jobs/{record['id']}/result").status_code == 200
    _problem(connect(None).get(link), 401)
    _problem(connect(_org()).get(link), 404)


def test_an_altered_or_borrowed_publish_link_is_not_found(
    server: ApiServer, connect: Connect, api_manager: JobManager
) -> None:
    alice = connect(_org())
    anonymous = connect(None)
    first = _start(alice, "diagnostics.echo", {"message": LARGE}, accessScope="Public")
    second = _start(alice, "diagnostics.echo", {"message": LARGE + "y"}, accessScope="Public")
    _finished(api_manager, first["id"], second["id"])
    link = _publish_link(alice, first["id"])
    other = _publish_link(alice, second["id"])
    assert anonymous.get(link).status_code == 200

    prefix, token = link.rsplit("/", 1)
    altered = token[:2] + ("A" if token[2] != "A" else "B") + token[3:]
    _problem(anonymous.get(f"{prefix}/{altered}"), 404)
    _problem(anonymous.get(f"{prefix}/{other.rsplit('/', 1)[1]}"), 404)
    _problem(anonymous.get(f"{server.url}/documents/{uuid.uuid4()}/{token}"), 404)
    _problem(anonymous.get(f"{server.url}/documents/not-a-document/{token}"), 404)
    assert anonymous.get(link).status_code == 200


@pytest.fixture
def short_link_settings(
    api_settings: Settings, services: svc.Services, tmp_path: Path
) -> Iterator[Settings]:
    """The module's database with a worker of its own whose publish links live 3 s."""
    with own_queue(services) as queue:
        settings = dataclasses.replace(
            api_settings, queue=queue, publish_link_ttl=timedelta(seconds=3)
        )
        processes = Processes(tmp_path)
        try:
            processes.worker(settings, concurrency=1)
            yield settings
        finally:
            processes.stop_all()


def test_a_publish_link_works_until_it_expires(
    connect: Connect, short_link_settings: Settings
) -> None:
    org = _org()
    alice = connect(org)
    anonymous = connect(None)
    producer = JobManager.from_settings(short_link_settings)
    try:
        job = producer.start_job(
            "diagnostics.echo",
            {"message": LARGE},
            organization=org,
            identity="alice",
            access_scope="Public",
        )
        [done] = producer.wait_for_completion([job.id], timeout=30)
    finally:
        producer.close()
    link = _publish_link(alice, str(job.id))

    assert anonymous.get(link).status_code == 200
    [document] = alice.get(f"/jobs/{job.id}").json()["documents"]
    assert done.completed_at is not None
    lifetime = datetime.fromisoformat(document["expires_at"]) - done.completed_at
    assert timedelta(seconds=2) < lifetime <= timedelta(seconds=3), lifetime

    _until(lambda: anonymous.get(link).status_code != 200, "expired", timeout=10)
    _problem(anonymous.get(link), 404)
    _problem(alice.get(link), 404)


def test_documents_are_purged_with_their_job(
    api_settings: Settings, connect: Connect, api_manager: JobManager
) -> None:
    org = _org()
    alice = connect(org)
    anonymous = connect(None)
    producer = JobManager.from_settings(
        dataclasses.replace(api_settings, retention=timedelta(seconds=4))
    )
    try:
        job = producer.start_job(
            "diagnostics.echo",
            {"message": LARGE},
            organization=org,
            identity="alice",
            access_scope="Public",
        )
        producer.wait_for_completion([job.id], timeout=30)
    finally:
        producer.close()
    [document] = alice.get(f"/jobs/{job.id}").json()["documents"]
    link = document["link"]
    assert anonymous.get(link).status_code == 200
    assert api_manager.access.get_document(document["id"]).job_id == job.id

    purged = 0

    def gone() -> bool:
        nonlocal purged
        purged += api_manager.housekeeping.purge_expired_jobs()
        return api_manager.find_job(job.id) is None

    _until(gone, "purged", timeout=15)
    assert purged >= 1
    # the link expired with the job's purge time; purging is what removes the document
    with pytest.raises(NotFound):
        api_manager.access.get_document(document["id"])
    _problem(anonymous.get(link), 404)
    _problem(alice.get(f"/jobs/{job.id}"), 404)


# -- what the API must not do ------------------------------------------------------------


def test_a_post_refused_as_not_acceptable_starts_no_job(connect: Connect) -> None:
    client = connect(_org())

    refused = client.post(
        "/jobs",
        json={"type": "diagnostics.echo", "clientRequestId": "csv-please"},
        headers={"Accept": "text/csv"},
    )

    _problem(refused, 406)
    assert client.get("/jobs", params={"$count": "true"}).json()["@odata.count"] == 0


def test_job_types_do_not_reveal_another_organizations_job_id(
    connect: Connect, api_manager: JobManager
) -> None:
    theirs = _start(connect(_org()), "diagnostics.echo", {"message": "mine"})["id"]
    _finished(api_manager, theirs)

    listed = connect(_org(), role="viewer").get("/job-types/diagnostics.echo")

    assert listed.status_code == 200
    assert theirs not in listed.text
