"""Workflows through their faces: a real ``jobhub api`` (uvicorn), the remote manager and
the real CLI, with a real worker on PostgreSQL and Redis.

Over HTTP a workflow is started, read until it ends, listed, cancelled and rerun; each
step links its job, whose record names the workflow; bad input is a problem+json 4xx that
writes nothing; another organization's key sees nothing of it. The CLI starts YAML and
JSON files and refuses a bad one in one line. One worker and one API server serve the
whole module; each test keeps to an organization of its own on the shared database.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from jobhub import JobManager, JobStatus, RemoteJobManager, Settings, Step, WorkflowNotFound
from jobhub import chain as chain_of
from jobhub.db.models import JobRow, WorkflowRow
from tests import services as svc
from tests.conftest import (
    ApiServer,
    manager_of,
    module_settings,
    run_cli,
    settings_env,
    worker_and_api,
)
from tests.support.workflow_jobs import JOB_MODULES

PROBLEM_JSON = "application/problem+json"


def chain(*adds: int, name: str = "nightly", **first: Any) -> dict[str, Any]:
    """A document: a chain of ``tests.wf.add`` steps, each after the one before, each
    receiving the results of the one before (``first`` adds to the first's parameters)."""
    steps: list[dict[str, Any]] = []
    for index, add in enumerate(adds):
        step: dict[str, Any] = {"name": f"s{index}", "jobType": "tests.wf.add"}
        step["parameters"] = {"add": add, **(first if index == 0 else {})}
        if index:
            step["after"] = [f"s{index - 1}"]
            step["results"] = "inputs"
        steps.append(step)
    return {"name": name, "steps": steps}


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 45) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


# -- the module's database, queue, worker and API server ---------------------------------


@pytest.fixture(scope="module")
def faces_settings(
    services: svc.Services, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    data = tmp_path_factory.mktemp("workflow-faces-data")
    with module_settings(services, template_database, data, job_modules=JOB_MODULES) as found:
        yield found


@pytest.fixture(scope="module")
def jobs(faces_settings: Settings) -> Iterator[JobManager]:
    with manager_of(faces_settings) as manager:
        yield manager


@pytest.fixture(scope="module")
def server(
    faces_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    folder = tmp_path_factory.mktemp("workflow-faces-processes")
    with worker_and_api(faces_settings, folder, concurrency=3) as api:
        yield api


class Keys:
    """Clients on the server, each with a new key of its own organization and role."""

    def __init__(self, server: ApiServer, jobs: JobManager) -> None:
        self.server = server
        self._jobs = jobs
        self.opened: list[httpx.Client] = []

    def token(self, organization: str, role: str = "operator", identity: str = "ann") -> str:
        issued = self._jobs.access.create_api_key(
            identity=identity, organization=organization, role=role
        )
        return issued.token

    def client(
        self, organization: str, role: str = "operator", identity: str = "ann"
    ) -> httpx.Client:
        client = self.server.client(self.token(organization, role, identity))
        self.opened.append(client)
        return client


@pytest.fixture
def keys(server: ApiServer, jobs: JobManager) -> Iterator[Keys]:
    made = Keys(server, jobs)
    yield made
    for client in made.opened:
        client.close()


def _org() -> str:
    return f"org-{uuid.uuid4().hex[:10]}"


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def _problem(response: httpx.Response, status: int, kind: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["detail"]
    if kind is not None:
        assert body["type"] == f"urn:jobhub:problem:{kind}", body
    return body


def _ended(client: httpx.Client, workflow_id: str, timeout: float = 45) -> dict[str, Any]:
    """The workflow's record once it ended."""
    found: dict[str, Any] = {}

    def done() -> bool:
        found.update(_ok(client.get(f"/workflows/{workflow_id}")))
        return found["status"] in ("Completed", "CompletedWithErrors", "Cancelled")

    wait_for(done, f"workflow {workflow_id}", timeout)
    return found


def _rows(settings: Settings, organization: str) -> tuple[int, int]:
    """How many jobs and workflows the organization has in the database."""
    assert settings.database_url is not None
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            count_jobs = connection.execute(
                select(func.count()).select_from(JobRow).where(JobRow.organization == organization)
            ).scalar_one()
            count_workflows = connection.execute(
                select(func.count())
                .select_from(WorkflowRow)
                .where(WorkflowRow.organization == organization)
            ).scalar_one()
    finally:
        engine.dispose()
    return count_jobs, count_workflows


def _cli(*commands: list[str], settings: Settings) -> list[subprocess.CompletedProcess[str]]:
    """Each command's run, all at once: a CLI start takes seconds of imports."""
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda args: run_cli(args, settings_env(settings)), commands))


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# -- HTTP --------------------------------------------------------------------------------


def test_a_chain_posted_runs_to_the_end_with_each_step_linking_its_job(
    keys: Keys, server: ApiServer
) -> None:
    org = _org()
    client = keys.client(org)

    response = client.post("/workflows", json=chain(1, 10, 100), params={"reason": "nightly"})
    started = _ok(response, 201)
    assert response.headers["location"] == f"{server.url}/workflows/{started['id']}"
    assert started["status"] == "Processing"
    assert started["name"] == "nightly"
    assert (started["identity"], started["organization"]) == ("ann", org)
    assert started["created_by"] == "ann"
    assert [s["name"] for s in started["steps"]] == ["s0", "s1", "s2"]
    assert started["steps"][1]["after"] == ["s0"]
    assert started["steps"][1]["results"] == "inputs"
    assert started["steps"][1]["policy"] == "completed"
    assert started["steps"][1]["status"] == "Created"
    assert started["steps"][1]["status_text"] == "Waits for s0"

    done = _ended(client, started["id"])
    assert done["status"] == "Completed"
    assert done["started_at"] is not None
    assert done["completed_at"] is not None
    assert done["cancel_requested"] is False
    for step in done["steps"]:
        assert step["status"] == "Completed", step
        assert step["link"] == f"{server.url}/jobs/{step['job_id']}"
        job = _ok(client.get(step["link"]))
        assert job["workflow_id"] == done["id"]
        assert job["organization"] == org
    last = _ok(client.get(f"/jobs/{done['steps'][2]['job_id']}"))
    assert last["result"] == {"total": 111, "inputs": ["s1"]}

    again = client.get(f"/workflows/{done['id']}")
    tag = again.headers["etag"]
    assert client.get(f"/workflows/{done['id']}", headers={"If-None-Match": tag}).status_code == 304

    listed = _ok(client.get("/workflows", params={"status": "Completed"}))
    assert [w["id"] for w in listed["value"]] == [done["id"]]
    assert _ok(client.get("/workflows", params={"status": "Processing"}))["value"] == []
    _problem(client.get("/workflows", params={"status": "Sleeping"}), 400)


def test_bad_workflows_are_problems_and_write_nothing(keys: Keys, faces_settings: Settings) -> None:
    org = _org()
    client = keys.client(org)
    cycle = {
        "steps": [
            {"name": "a", "job_type": "tests.wf.add", "after": ["c"]},
            {"name": "b", "job_type": "tests.wf.add", "after": ["a"]},
            {"name": "c", "job_type": "tests.wf.add", "after": ["b"]},
        ]
    }
    assert (
        "cycle" in _problem(client.post("/workflows", json=cycle), 400, "InvalidWorkflow")["detail"]
    )
    unknown_step = {"steps": [{"name": "a", "job_type": "tests.wf.add", "after": ["zzz"]}]}
    _problem(client.post("/workflows", json=unknown_step), 400, "InvalidWorkflow")
    unknown_type = {"steps": [{"name": "a", "job_type": "tests.no.such"}]}
    _problem(client.post("/workflows", json=unknown_type), 404, "UnknownJobType")
    bad_parameter = {
        "steps": [{"name": "a", "job_type": "tests.wf.add", "parameters": {"add": "x"}}]
    }
    body = _problem(client.post("/workflows", json=bad_parameter), 422, "InvalidParameters")
    assert "'a'" in body["detail"]
    no_steps = {"name": "empty", "steps": []}
    _problem(client.post("/workflows", json=no_steps), 422)
    stray_field = {"steps": [{"name": "a", "job_type": "tests.wf.add", "retries": 3}]}
    _problem(client.post("/workflows", json=stray_field), 422)
    not_a_key_of_the_body = {**chain(1), "organization": "someone-else"}
    _problem(client.post("/workflows", json=not_a_key_of_the_body), 422)
    assert _rows(faces_settings, org) == (0, 0)
    assert _ok(client.get("/workflows"))["value"] == []


def test_an_unknown_workflow_is_not_found(keys: Keys) -> None:
    client = keys.client(_org(), "viewer")
    _problem(client.get(f"/workflows/{uuid.uuid4()}"), 404, "WorkflowNotFound")
    _problem(client.get("/workflows/not-a-uuid"), 404, "WorkflowNotFound")
    operator = keys.client(_org())
    _problem(operator.post(f"/workflows/{uuid.uuid4()}/cancel"), 404, "WorkflowNotFound")
    _problem(operator.post(f"/workflows/{uuid.uuid4()}/rerun", json={}), 404, "WorkflowNotFound")


def test_cancel_and_rerun_over_http(keys: Keys) -> None:
    client = keys.client(_org())
    slow = _ok(client.post("/workflows", json=chain(1, 2, seconds=60)), 201)
    cancelled = _ok(client.post(f"/workflows/{slow['id']}/cancel", params={"reason": "not today"}))
    assert cancelled["cancel_requested"] is True
    done = _ended(client, slow["id"])
    assert done["status"] == "Cancelled"
    assert [s["status"] for s in done["steps"]] == ["Cancelled", "Cancelled"]
    _problem(client.post(f"/workflows/{slow['id']}/cancel"), 409, "Conflict")

    flaky = _ok(client.post("/workflows", json=chain(1, 2, fail_attempts=1)), 201)
    failed = _ended(client, flaky["id"])
    assert failed["status"] == "CompletedWithErrors"
    assert [s["status"] for s in failed["steps"]] == ["CompletedWithErrors", "Cancelled"]
    _problem(client.post(f"/workflows/{flaky['id']}/rerun", json={"step": "nope"}), 400)
    rerun = _ok(client.post(f"/workflows/{flaky['id']}/rerun", json={"step": "s0"}))
    assert rerun["status"] == "Processing"
    assert rerun["completed_at"] is None
    done = _ended(client, flaky["id"])
    assert done["status"] == "Completed"
    assert [s["status"] for s in done["steps"]] == ["Completed", "Completed"]
    _problem(client.post(f"/workflows/{flaky['id']}/rerun"), 409, "NotRerunnable")


def test_another_organization_sees_and_touches_nothing(keys: Keys) -> None:
    org = _org()
    owner = keys.client(org)
    started = _ok(owner.post("/workflows", json=chain(1, seconds=0.2)), 201)
    path = f"/workflows/{started['id']}"

    stranger = keys.client(_org(), "admin")
    _problem(stranger.get(path), 404, "WorkflowNotFound")
    _problem(stranger.post(f"{path}/cancel"), 404, "WorkflowNotFound")
    _problem(stranger.post(f"{path}/rerun", json={"step": "s0"}), 404, "WorkflowNotFound")
    assert started["id"] not in {w["id"] for w in _ok(stranger.get("/workflows"))["value"]}
    _problem(stranger.get("/workflows", params={"after": started["id"]}), 404)

    viewer = keys.client(org, "viewer")
    assert _ok(viewer.get(path))["id"] == started["id"]
    _problem(viewer.post("/workflows", json=chain(1)), 403, "PermissionDenied")
    _problem(viewer.post(f"{path}/cancel"), 403, "PermissionDenied")
    _problem(keys.server.client().get(path), 401, "NotAuthenticated")
    assert _ended(owner, started["id"])["status"] == "Completed"


def test_the_list_pages_newest_first(keys: Keys) -> None:
    client = keys.client(_org())
    made = [
        _ok(client.post("/workflows", json=chain(n, name=f"w{n}")), 201)["id"] for n in range(3)
    ]
    first = _ok(client.get("/workflows", params={"limit": 2}))
    assert [w["id"] for w in first["value"]] == made[::-1][:2]
    assert "after=" in first["nextLink"]
    second = _ok(client.get(first["nextLink"]))
    assert [w["id"] for w in second["value"]] == made[:1]
    assert "nextLink" not in second


# -- the remote manager --------------------------------------------------------------------


def test_the_remote_manager_starts_a_built_workflow(keys: Keys, server: ApiServer) -> None:
    org = _org()
    spec = chain_of(
        Step("import", "tests.wf.add", {"add": 1}),
        Step("report", "tests.wf.add", {"add": 10}, results="inputs"),
        name="remote",
    )
    with RemoteJobManager(server.url, keys.token(org), poll_interval=0.1) as remote:
        started = remote.start_workflow(spec, reason="from a service")
        assert started["name"] == "remote"
        assert started["organization"] == org
        wait_for(
            lambda: remote.get_workflow(started["id"])["status"] == "Completed",
            "the remote workflow",
        )
        [listed] = remote.find_workflows(status=JobStatus.COMPLETED)
        assert listed["id"] == started["id"]
        job = remote.get_job(listed["steps"][1]["job_id"])
        assert job.workflow_id == uuid.UUID(started["id"])
        assert job.result == {"total": 11, "inputs": ["import"]}
        by_document = remote.start_workflow(chain(5), name="renamed")
        assert by_document["name"] == "renamed"
        with pytest.raises(WorkflowNotFound):
            remote.get_workflow(uuid.uuid4())


# -- the CLI -------------------------------------------------------------------------------

YAML_WORKFLOW = """\
name: from-yaml
steps:
  - name: first
    job_type: tests.wf.add
    parameters: {add: 2}
  - name: second
    job_type: tests.wf.add
    parameters: {add: 20}
    after: [first]
    results: inputs
"""


def test_the_cli_starts_yaml_and_json_files(
    faces_settings: Settings, jobs: JobManager, tmp_path: Path
) -> None:
    org = _org()
    yaml_file = tmp_path / "nightly.yaml"
    yaml_file.write_text(YAML_WORKFLOW)
    json_file = tmp_path / "nightly.workflow"  # no telling suffix: JSON is tried first
    json_file.write_text(json.dumps(chain(3, 30, name="from-json")))
    waited, started = _cli(
        ["workflow", "start", str(yaml_file), "--organization", org, "--identity", "bob", "--wait"],
        ["workflow", "start", str(json_file), "--organization", org],
        settings=faces_settings,
    )

    assert waited.returncode == 0, waited.stderr
    yaml_id = waited.stderr.strip().splitlines()[0]
    assert f"workflow   {yaml_id}  from-yaml" in waited.stdout
    assert "Completed" in waited.stdout
    done = jobs.get_workflow(yaml_id)
    assert done.status is JobStatus.COMPLETED
    assert done.identity == "bob"
    assert done.step("second").job.result == {"total": 22, "inputs": ["first"]}

    assert started.returncode == 0, started.stderr
    lines = started.stdout.splitlines()
    json_id = lines[0]
    assert lines[2].split()[0] == "s0"
    assert lines[3].split()[0] == "s1"
    wait_for(lambda: jobs.get_workflow(json_id).is_terminal, "the JSON workflow")

    shown, listed = _cli(
        ["workflow", "show", json_id, "--json"],
        ["workflow", "list", "--organization", org],
        settings=faces_settings,
    )
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["name"] == "from-json"
    assert record["status"] == "Completed"
    assert [s["link"] for s in record["steps"]] == [None, None]
    assert listed.returncode == 0, listed.stderr
    rows = listed.stdout.splitlines()[1:]
    assert {row.split()[0] for row in rows} == {json_id, yaml_id}
    assert all("2/2" in row for row in rows), rows


def test_the_cli_refuses_a_bad_file_in_one_line(faces_settings: Settings, tmp_path: Path) -> None:
    org = _org()
    cycle = tmp_path / "cycle.yaml"
    cycle.write_text(
        "steps:\n"
        "  - {name: a, job_type: tests.wf.add, after: [b]}\n"
        "  - {name: b, job_type: tests.wf.add, after: [a]}\n"
    )
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"steps": [{"name": "a", "job_type": "tests.no.such"}]}))
    broken = tmp_path / "broken.yml"
    broken.write_text("steps:\n  - {name: a, job_type: [unclosed\n")
    cases = [(cycle, 2, "cycle"), (unknown, 3, "unknown job type"), (broken, 2, "not YAML")]
    results = _cli(
        *(["workflow", "start", str(path), "--organization", org] for path, _, _ in cases),
        settings=faces_settings,
    )
    for (path, code, words), result in zip(cases, results, strict=True):
        line = _one_error_line(result)
        assert result.returncode == code, (path.name, result.returncode, line)
        assert words in line, line
    assert _rows(faces_settings, org) == (0, 0)
