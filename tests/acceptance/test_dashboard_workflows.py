"""The dashboard's Workflows pages over HTTP: a real ``jobhub api`` (uvicorn), a real worker,
real PostgreSQL and Redis.

A workflow's page shows each step's status and status text as the workers' advance
rounds decided them, and links each step to its job (whose page links back). Cancel and
rerun go through the page's forms with its CSRF token and need the operator role; a
refusal (nothing failed, the workflow already ended) is shown and changes nothing.
Another organization's workflow is "not found", in the list, on its page and to its
actions; an admin sees it.

One worker and one API server serve the whole module; each test keeps to organizations
of its own on the shared database.
"""

from __future__ import annotations

import html
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TypeVar

import httpx
import pytest

from jobhub import JobManager, JobStatus, Settings, Step, StepPolicy, Workflow, WorkflowSpec
from jobhub.audit import AuditAction
from tests import services as svc
from tests.acceptance.test_dashboard_jobs import Keys
from tests.conftest import (
    ApiServer,
    manager_of,
    module_settings,
    worker_and_api,
)
from tests.support.workflow_jobs import JOB_MODULES

T = TypeVar("T")


@pytest.fixture(scope="module")
def ui_settings(
    services: svc.Services, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """A database and queue of this module's own, with the workflow test job types."""
    data = tmp_path_factory.mktemp("ui-workflows-data")
    with module_settings(services, template_database, data, job_modules=JOB_MODULES) as found:
        yield found


@pytest.fixture(scope="module")
def jobs(ui_settings: Settings) -> Iterator[JobManager]:
    with manager_of(ui_settings) as manager:
        yield manager


@pytest.fixture(scope="module")
def server(ui_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    folder = tmp_path_factory.mktemp("ui-workflows-processes")
    with worker_and_api(ui_settings, folder, concurrency=3) as api:
        yield api


@pytest.fixture
def keys(server: ApiServer, jobs: JobManager) -> Iterator[Keys]:
    made = Keys(server, jobs)
    yield made
    for client in made.opened:
        client.close()


# -- helpers ---------------------------------------------------------------------------------


def _org() -> str:
    return f"org-{uuid.uuid4().hex[:8]}"


def _until(what: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = what()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def _ended(jobs: JobManager, workflow: Workflow) -> Workflow:
    return _until(lambda: w if (w := jobs.get_workflow(workflow.id)).is_terminal else None)


def _steps(page: httpx.Response) -> dict[str, tuple[str, str]]:
    """Each step row of a workflow page: name -> (status, status text), in page order."""
    assert page.status_code == 200, page.text
    rows = re.findall(
        r'<tr data-step="([^"]+)" data-status="([^"]+)">(.*?)</tr>', page.text, re.DOTALL
    )
    found = {}
    for name, status, cells in rows:
        text = re.search(r'<td class="status-text">(.*?)</td>', cells, re.DOTALL)
        assert text is not None
        plain = re.sub(r"<[^>]+>", " ", text.group(1))
        found[html.unescape(name)] = (status, " ".join(html.unescape(plain).split()))
    return found


def _listed(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return re.findall(r'data-workflow="([0-9a-f-]{36})"', page.text)


def _buttons(page: httpx.Response) -> list[str]:
    found = re.findall(r"<button[^>]*>\s*([^<]+?)\s*</button>", page.text)
    return sorted(set(found) - {"Sign out"})


def _failing_middle(organization: str) -> WorkflowSpec:
    """extract -> transform (fails its first attempt) -> load -> publish, with a handler
    and a cleanup after transform: it ends CompletedWithErrors, and a rerun completes it."""
    return WorkflowSpec(
        (
            Step("extract", "tests.wf.add", {"add": 1}),
            Step("transform", "tests.wf.add", {"add": 2, "fail_attempts": 1}, after=("extract",)),
            Step("load", "tests.wf.add", {"add": 3}, after=("transform",), results="inputs"),
            Step("publish", "tests.wf.add", {"add": 4}, after=("load",)),
            Step(
                "tell-owner",
                "tests.wf.notify",
                after=("transform",),
                policy=StepPolicy.ON_FAILURE,
                results="inputs",
            ),
            Step("cleanup", "tests.wf.add", after=("transform",), policy="always"),
        ),
        name=f"etl of {organization}",
    )


def _slow_chain(name: str) -> WorkflowSpec:
    return WorkflowSpec(
        (
            Step("quick", "tests.wf.add"),
            Step("slow", "tests.wf.add", {"seconds": 60}, after=("quick",)),
            Step("never", "tests.wf.add", after=("slow",)),
        ),
        name=name,
    )


# -- tests -----------------------------------------------------------------------------------


def test_a_failed_workflows_page_shows_each_step_and_a_rerun_from_it_completes_it(
    keys: Keys, jobs: JobManager
) -> None:
    acme = _org()
    started = jobs.start_workflow(_failing_middle(acme), organization=acme, identity="ann")
    done = _ended(jobs, started)
    assert done.status is JobStatus.COMPLETED_WITH_ERRORS
    viewer = keys.sign_in(acme, "viewer")
    operator = keys.sign_in(acme, "operator")

    listed = viewer.get("/ui/workflows")
    assert _listed(listed) == [str(done.id)]
    row = listed.text[listed.text.index(f'data-workflow="{done.id}"') :]
    assert "CompletedWithErrors" in row[:400]
    assert ">6/6<" in row
    assert _listed(viewer.get("/ui/workflows", status="CompletedWithErrors")) == [str(done.id)]
    assert _listed(viewer.get("/ui/workflows", status="Processing")) == []
    assert viewer.get("/ui/workflows", status="Queued").status_code == 400
    assert 'href="/ui/workflows"' in viewer.get("/ui/jobs").text  # in the navigation

    here = f"/ui/workflows/{done.id}"
    page = viewer.get(here)
    steps = _steps(page)
    assert list(steps) == [step.name for step in done.steps]
    assert list(steps).index("extract") < list(steps).index("transform") < list(steps).index("load")
    assert steps["extract"][0] == "Completed"
    assert steps["transform"][0] == "CompletedWithErrors"
    assert "step fails as asked" in steps["transform"][1]
    assert steps["load"] == ("Cancelled", "Not run: step 'transform' ended CompletedWithErrors")
    assert steps["publish"] == ("Cancelled", "Not run: step 'load' ended Cancelled")
    assert steps["tell-owner"][0] == "Completed"
    assert steps["cleanup"][0] == "Completed"
    assert "ann" in page.text
    assert "data-refresh" not in page.text  # it ended: nothing to poll
    for step in done.steps:
        assert f'href="/ui/jobs/{step.job.id}"' in page.text
    assert _buttons(page) == []  # a viewer acts on nothing
    assert _buttons(operator.get(here)) == ["Rerun", "Rerun failed steps"]
    live = viewer.get(f"{here}/live").json()
    assert live["status"] == "CompletedWithErrors"
    assert live["final"] is True

    job_page = viewer.get(f"/ui/jobs/{done.step('transform').job.id}").text
    assert f'<a href="{here}">' in job_page
    assert "step <strong>transform</strong> of workflow" in job_page

    refused = viewer.post(f"{here}/rerun", {"csrf": viewer.csrf()})
    assert refused.status_code == 403
    kind, text = operator.act(f"{here}/rerun", {"step": "extract"})
    assert kind == "error"
    assert text.startswith("Not rerun: step 'extract' is Completed")
    assert jobs.get_workflow(done.id).status is JobStatus.COMPLETED_WITH_ERRORS
    shown = operator.client.get(here)
    assert "step &#39;extract&#39; is Completed" in shown.text  # the error, on the page

    assert operator.act(f"{here}/rerun") == ("notice", "The failed steps run again.")
    rerun = _ended(jobs, done)
    assert rerun.status is JobStatus.COMPLETED
    steps = _steps(operator.get(here))
    assert {status for status, _ in steps.values()} == {"Completed"}
    assert rerun.step("transform").job.attempt == 2
    assert rerun.step("extract").job.attempt == 1
    assert _buttons(operator.get(here)) == []
    trail = [
        entry
        for entry in jobs.audit_entries(organization=acme, limit=100)
        if entry.action is AuditAction.WORKFLOW_RERUN
    ]
    assert [(e.actor.identity, e.actor.key_id) for e in trail] == [
        (operator.identity, operator.key_id)
    ]


def test_one_failed_step_is_rerun_from_its_row(keys: Keys, jobs: JobManager) -> None:
    acme = _org()
    spec = _failing_middle(acme)
    spec = replace(spec, steps=tuple(s for s in spec.steps if s.name in ("extract", "transform")))
    done = _ended(jobs, jobs.start_workflow(spec, organization=acme))
    assert done.status is JobStatus.COMPLETED_WITH_ERRORS
    operator = keys.sign_in(acme, "operator")
    here = f"/ui/workflows/{done.id}"
    form = re.search(r'name="step" value="([^"]+)"', operator.get(here).text)
    assert form is not None
    assert form.group(1) == "transform"  # the one step that ended without completing

    assert operator.act(f"{here}/rerun", {"step": "transform"}) == (
        "notice",
        "Step 'transform' runs again.",
    )
    assert _ended(jobs, done).status is JobStatus.COMPLETED


def test_a_running_workflow_is_cancelled_from_its_page_once(keys: Keys, jobs: JobManager) -> None:
    acme = _org()
    workflow = jobs.start_workflow(_slow_chain("slow one"), organization=acme)
    _until(lambda: jobs.get_workflow(workflow.id).step("slow").status is JobStatus.PROCESSING)
    viewer = keys.sign_in(acme, "viewer")
    operator = keys.sign_in(acme, "operator")
    here = f"/ui/workflows/{workflow.id}"

    page = operator.get(here)
    assert f'data-refresh="{here}/live"' in page.text
    steps = _steps(page)
    assert steps["slow"][0] == "Processing"
    assert steps["never"] == ("Created", "Waits for slow")
    assert _buttons(page) == ["Cancel workflow"]
    assert _listed(viewer.get("/ui/workflows", status="Processing")) == [str(workflow.id)]
    assert viewer.post(f"{here}/cancel", {"csrf": viewer.csrf()}).status_code == 403
    assert operator.post(f"{here}/cancel", {"csrf": "forged"}).status_code == 403
    assert jobs.get_workflow(workflow.id).cancel_requested_at is None

    kind, _ = operator.act(f"{here}/cancel")
    assert kind == "notice"
    done = _ended(jobs, workflow)
    assert done.status is JobStatus.CANCELLED
    assert [s.status for s in done.steps] == [
        JobStatus.COMPLETED,
        JobStatus.CANCELLED,
        JobStatus.CANCELLED,
    ]
    steps = _steps(operator.get(here))
    assert steps["never"][0] == "Cancelled"
    assert steps["never"][1].startswith("Not run: the workflow was cancelled")
    kind, text = operator.act(f"{here}/cancel")
    assert kind == "error"
    assert "already ended Cancelled" in text
    assert "Cancel workflow" not in _buttons(operator.get(here))
    trail = [
        entry
        for entry in jobs.audit_entries(organization=acme, limit=100)
        if entry.action is AuditAction.WORKFLOW_CANCEL
    ]
    assert [(e.target, e.actor.key_id) for e in trail] == [
        (f"workflow {workflow.id}", operator.key_id)
    ]


def test_another_organizations_workflow_is_not_found_and_cannot_be_acted_on(
    keys: Keys, jobs: JobManager
) -> None:
    acme = _org()
    workflow = jobs.start_workflow(_slow_chain(f"acme's own {acme}"), organization=acme)
    stranger = keys.sign_in(_org(), "operator")
    here = f"/ui/workflows/{workflow.id}"

    for path in (here, f"{here}/live"):
        answer = stranger.get(path)
        assert answer.status_code == 404
        assert "acme&#39;s own" not in answer.text
    assert str(workflow.id) not in stranger.get("/ui/workflows", organization=acme).text
    for action in ("cancel", "rerun"):
        refused = stranger.post(f"{here}/{action}", {"csrf": stranger.csrf()})
        assert refused.status_code == 404
    assert jobs.get_workflow(workflow.id).cancel_requested_at is None
    step_job = jobs.get_workflow(workflow.id).step("quick").job
    assert stranger.get(f"/ui/jobs/{step_job.id}").status_code == 404
    assert stranger.get("/ui/workflows/not-a-uuid").status_code == 404

    admin = keys.sign_in(_org(), "admin")
    assert admin.get(here).status_code == 200
    assert str(workflow.id) in _listed(admin.get("/ui/workflows", organization=acme))
    jobs.cancel_workflow(workflow.id)
    _ended(jobs, workflow)
