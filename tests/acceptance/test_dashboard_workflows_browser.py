"""The Workflows pages in headless Chromium, on a real API, worker and database: from the
navigation to the list, into a failed workflow whose steps say why they did not run, then
a running one cancelled from its page (its steps turn Cancelled without a reload)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from jobhub import Settings, Step, StepPolicy, WorkflowSpec
from tests import services as svc
from tests.conftest import quick_settings
from tests.support.browser import Dashboard
from tests.support.workflow_jobs import JOB_MODULES


@pytest.fixture
def settings(
    database_url: str, services: svc.Services, queue_name: str, tmp_path: Path
) -> Settings:
    """The dashboard's settings, with the workflow test job types loaded."""
    return quick_settings(
        tmp_path / "data", database_url, services, queue_name, job_modules=JOB_MODULES
    )


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_an_operator_reads_a_failed_workflows_steps_and_cancels_a_running_one(
    page: Page, dashboard: Dashboard
) -> None:
    manager = dashboard.manager
    failed = manager.start_workflow(
        WorkflowSpec(
            (
                Step("import", "tests.wf.add"),
                Step("transform", "tests.wf.add", {"fail": True}, after=("import",)),
                Step("load", "tests.wf.add", after=("transform",)),
                Step(
                    "alert", "tests.wf.notify", after=("transform",), policy=StepPolicy.ON_FAILURE
                ),
            ),
            name="nightly etl",
        ),
        organization="acme",
        identity="operator@acme",
    )
    _until(lambda: manager.get_workflow(failed.id).is_terminal)
    running = manager.start_workflow(
        WorkflowSpec(
            (
                Step("quick", "tests.wf.add"),
                Step("slow", "tests.wf.add", {"seconds": 60}, after=("quick",)),
                Step("never", "tests.wf.add", after=("slow",)),
            ),
            name="long export",
        ),
        organization="acme",
    )
    _until(lambda: manager.get_workflow(running.id).step("slow").job.started_at is not None)
    dashboard.sign_in(page, "operator")

    with page.expect_navigation():
        page.locator("header nav").get_by_role("link", name="Workflows").click()
    rows = page.locator("table.workflows tbody tr[data-workflow]")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-workflow", str(running.id))  # newest first
    with page.expect_navigation():
        page.get_by_role("link", name="nightly etl").click()

    state = page.locator(".workflow-state")
    expect(state).to_have_attribute("data-status", "CompletedWithErrors")
    step = page.locator("table.steps tr[data-step]")
    expect(step).to_have_count(4)
    expect(page.locator("tr[data-step=import]")).to_have_attribute("data-status", "Completed")
    expect(page.locator("tr[data-step=transform] .status")).to_have_text("CompletedWithErrors")
    expect(page.locator("tr[data-step=load] .status-text")).to_have_text(
        "Not run: step 'transform' ended CompletedWithErrors"
    )
    expect(page.locator("tr[data-step=alert]")).to_have_attribute("data-status", "Completed")
    expect(page.get_by_role("button", name="Rerun failed steps")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel workflow")).to_have_count(0)

    with page.expect_navigation():
        page.get_by_role("link", name="Workflows", exact=True).first.click()
    with page.expect_navigation():
        page.get_by_role("link", name="long export").click()
    expect(state).to_have_attribute("data-status", "Processing")
    expect(page.locator("tr[data-step=slow]")).to_have_attribute("data-status", "Processing")
    expect(page.locator("tr[data-step=never] .status-text")).to_have_text("Waits for slow")
    with page.expect_navigation():
        page.get_by_role("button", name="Cancel workflow").click()
    expect(page.locator("p.notice")).to_contain_text("Cancel")
    expect(state).to_have_attribute("data-status", "Cancelled")  # polled, no reload
    expect(page.locator("tr[data-step=never]")).to_have_attribute("data-status", "Cancelled")
    expect(page.locator("tr[data-step=quick]")).to_have_attribute("data-status", "Completed")
    expect(page.get_by_role("button", name="Cancel workflow")).to_have_count(0)
    assert manager.get_workflow(running.id).status.label == "Cancelled"

    with page.expect_navigation():
        page.locator("tr[data-step=slow]").get_by_role("link", name="Job").click()
    expect(page.locator(".workflow-link")).to_contain_text("step slow of workflow long export")
