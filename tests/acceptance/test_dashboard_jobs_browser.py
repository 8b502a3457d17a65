"""The Jobs pages in headless Chromium, on a real API, worker and database: filter the
list, watch a running job's progress move, cancel it, rerun a finished one, bulk-cancel a
filter once the count is stated; a viewer has no buttons and a forged action is refused;
another organization's job is not found. Screenshots of the pages for the README."""

from __future__ import annotations

import time
import uuid

from playwright.sync_api import Page, expect

from jobhub import JobStatus
from jobhub.jobs import Job
from tests.support.browser import Dashboard, screenshot

SLEEP = "diagnostics.sleep"
ECHO = "diagnostics.echo"

FORGE = """async ([path, token]) => {
    const body = new URLSearchParams(token === null ? {} : {csrf: token});
    const answer = await fetch(path, {method: "POST", body, credentials: "same-origin"});
    return answer.status;
}"""


def _until(dashboard: Dashboard, job_id: uuid.UUID, status: JobStatus) -> Job:
    deadline = time.monotonic() + 60
    while (job := dashboard.manager.get_job(job_id)).status is not status:
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job


def _idle_queue(dashboard: Dashboard) -> str:
    """A queue no worker consumes (removed with the test's own queue): jobs stay Queued."""
    return f"{dashboard.manager.settings.queue}-idle"


def test_an_operator_filters_the_list_watches_a_job_move_cancels_it_and_reruns_another(
    page: Page, dashboard: Dashboard
) -> None:
    manager, token = dashboard.manager, uuid.uuid4().hex[:8]
    slow = manager.start_job(
        SLEEP,
        {"steps": 300, "seconds": 0.1},
        organization="acme",
        identity="operator@acme",
        description=f"nightly export {token}",
    )
    done = manager.start_job(
        ECHO, {"message": "hi"}, organization="acme", description=f"echo {token}"
    )
    _until(dashboard, done.id, JobStatus.COMPLETED)
    _until(dashboard, slow.id, JobStatus.PROCESSING)
    dashboard.sign_in(page, "operator")

    dashboard.open(page, "/ui/jobs")
    page.locator("input[name=q]").fill(f"export {token}")
    page.get_by_label("Processing").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.jobs tbody tr[data-job]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-job", str(slow.id))
    screenshot(page, "jobs")

    with page.expect_navigation():
        rows.first.get_by_role("link", name="Open").click()
    state = page.locator(".job-state")
    expect(state).to_have_attribute("data-status", "Processing")
    first = int(state.get_attribute("data-percent") or "0")
    expect(state).not_to_have_attribute("data-percent", str(first))  # polled, no reload
    expect(page.locator("ol.messages li").first).to_contain_text("step 1 of 300 done")
    screenshot(page, "job")

    with page.expect_navigation():
        page.get_by_role("button", name="Cancel", exact=True).click()
    expect(page.locator("p.notice")).to_have_text(
        "Cancel requested: the job stops at its next check."
    )
    expect(page.locator(".job-state")).to_have_attribute("data-status", "Cancelled")
    assert manager.get_job(slow.id).status is JobStatus.CANCELLED

    dashboard.open(page, f"/ui/jobs/{done.id}")
    expect(page.get_by_role("button", name="Cancel", exact=True)).to_have_count(0)
    with page.expect_navigation():
        page.get_by_role("button", name="Rerun").click()
    expect(page.locator("p.notice")).to_have_text("Rerun as attempt 2.")
    expect(page.locator(".job-state")).to_have_attribute("data-status", "Completed")
    expect(page.locator(".timeline .attempt")).to_have_count(2)
    assert manager.get_job(done.id).attempt == 2


def test_an_operator_bulk_cancels_a_filter_after_the_count_is_stated(
    page: Page, dashboard: Dashboard
) -> None:
    manager, token = dashboard.manager, uuid.uuid4().hex[:8]
    batch = [
        manager.start_job(
            ECHO,
            {"message": str(n)},
            organization="acme",
            description=f"batch {token} #{n}",
            queue=_idle_queue(dashboard),
        )
        for n in range(3)
    ]
    other = manager.start_job(
        ECHO, {}, organization="acme", description="not in it", queue=_idle_queue(dashboard)
    )
    foreign = manager.start_job(
        ECHO, {}, organization="globex", description=f"batch {token}", queue=_idle_queue(dashboard)
    )
    for job in [*batch, other, foreign]:
        _until(dashboard, job.id, JobStatus.QUEUED)
    dashboard.sign_in(page, "operator")

    dashboard.open(page, f"/ui/jobs?q=batch+{token}")
    expect(page.locator("table.jobs tbody tr[data-job]")).to_have_count(3)
    with page.expect_navigation():
        page.get_by_role("link", name="Cancel all matching…").click()
    expect(page.locator("p.count")).to_contain_text("This will cancel 3 jobs.")
    screenshot(page, "bulk-cancel")
    with page.expect_navigation():
        page.get_by_role("button", name="Cancel 3 jobs").click()

    expect(page.locator("p.notice")).to_have_text("Cancelled 3 jobs.")
    expect(page.locator("table.jobs .status-cancelled")).to_have_count(3)
    assert {manager.get_job(job.id).status for job in batch} == {JobStatus.CANCELLED}
    assert manager.get_job(other.id).status is JobStatus.QUEUED
    assert manager.get_job(foreign.id).status is JobStatus.QUEUED


def test_a_viewer_has_no_buttons_a_forged_action_is_refused_and_a_foreign_job_not_found(
    page: Page, dashboard: Dashboard
) -> None:
    manager = dashboard.manager
    job = manager.start_job(
        ECHO, {}, organization="acme", description="acme's", queue=_idle_queue(dashboard)
    )
    _until(dashboard, job.id, JobStatus.QUEUED)

    dashboard.sign_in(page, "viewer")
    dashboard.open(page, f"/ui/jobs/{job.id}")
    expect(page.locator(".job-state")).to_have_attribute("data-status", "Queued")
    expect(page.get_by_role("button", name="Cancel", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Rerun")).to_have_count(0)
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    assert page.evaluate(FORGE, [f"/ui/jobs/{job.id}/cancel", csrf]) == 403
    dashboard.open(page, "/ui/jobs")
    expect(page.get_by_role("link", name="Cancel all matching…")).to_have_count(0)

    dashboard.sign_in(page, "operator")
    dashboard.open(page, f"/ui/jobs/{job.id}")
    expect(page.get_by_role("button", name="Cancel", exact=True)).to_be_visible()
    assert page.evaluate(FORGE, [f"/ui/jobs/{job.id}/cancel", None]) == 403
    assert page.evaluate(FORGE, [f"/ui/jobs/{job.id}/cancel", "forged"]) == 403
    assert manager.get_job(job.id).status is JobStatus.QUEUED

    dashboard.sign_in(page, "globex")
    answer = dashboard.open(page, f"/ui/jobs/{job.id}")
    assert answer is not None
    assert answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.locator("main")).not_to_contain_text("acme's")
