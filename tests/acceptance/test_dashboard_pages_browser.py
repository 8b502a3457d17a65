"""The job types, workers and audit pages in headless Chromium, on a real API, worker and
database: a job started from its form (refused first, with the error by its input and
nothing started), and screenshots of the pages for the README."""

from __future__ import annotations

import re
import time
import uuid
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from jobhub import JobStatus
from tests.support.browser import Dashboard, screenshot

SLEEP = "diagnostics.sleep"


def _running(dashboard: Dashboard, job_id: uuid.UUID) -> None:
    deadline = time.monotonic() + 60
    while dashboard.manager.get_job(job_id).status is not JobStatus.PROCESSING:
        assert time.monotonic() < deadline, dashboard.manager.get_job(job_id)
        time.sleep(0.05)


def test_a_job_is_started_from_its_form_once_a_bad_parameter_is_corrected(
    page: Page, dashboard: Dashboard
) -> None:
    manager = dashboard.manager
    dashboard.sign_in(page, "operator")
    dashboard.open(page, "/ui/types")
    screenshot(page, "job-types")
    page.get_by_role("link", name=SLEEP, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(SLEEP)

    page.locator("input[name='p.steps']").fill("0")
    page.locator("input[name='p.seconds']").fill("0.1")
    page.locator("input[name=description]").fill("from the browser")
    with page.expect_navigation() as refused:
        page.get_by_role("button", name="Start", exact=True).click()

    assert refused.value is not None
    assert refused.value.status == 422
    expect(page.locator(".error[data-field=steps]")).to_have_text("must be at least 1")
    expect(page.locator("#start > p.error")).to_contain_text("The job was not started")
    expect(page.locator("input[name='p.steps']")).to_have_value("0")
    expect(page.locator("input[name=description]")).to_have_value("from the browser")
    assert manager.find_jobs(housekeeping=True) == []
    screenshot(page, "job-type")

    page.locator("input[name='p.steps']").fill("3")
    with page.expect_navigation():
        page.get_by_role("button", name="Start", exact=True).click()

    found = re.fullmatch(r"/ui/jobs/([0-9a-f-]{36})", urlsplit(page.url).path)
    assert found is not None, page.url
    (job,) = manager.wait_for_completion([found[1]], timeout=60)
    assert job.status is JobStatus.COMPLETED
    assert (job.parameters["steps"], job.description) == (3, "from the browser")
    assert job.identity == "operator@acme"


def test_the_workers_page_shows_a_running_job_and_the_audit_page_who_started_it(
    page: Page, dashboard: Dashboard
) -> None:
    manager = dashboard.manager
    dashboard.sign_in(page, "operator")
    dashboard.open(page, f"/ui/types/{SLEEP}")
    page.locator("input[name='p.steps']").fill("200")
    page.locator("input[name='p.seconds']").fill("0.1")
    with page.expect_navigation():
        page.get_by_role("button", name="Start", exact=True).click()
    job_id = uuid.UUID(urlsplit(page.url).path.rsplit("/", 1)[1])
    _running(dashboard, job_id)

    dashboard.open(page, "/ui/workers")
    running = page.locator(f"a[href='/ui/jobs/{job_id}']")
    expect(running).to_have_text(SLEEP)
    expect(page.locator("[data-figure=workers-alive]")).to_have_text("1")
    percent = page.locator("table.workers tr.alive .muted").last
    first = percent.inner_text()
    expect(percent).not_to_have_text(first, timeout=20_000)  # the table refreshes itself
    screenshot(page, "workers")

    dashboard.sign_in(page, "admin")
    dashboard.open(page, "/ui/audit")
    row = page.locator("table.audit tbody tr", has=page.locator(f"a[href='/ui/jobs/{job_id}']"))
    expect(row.locator(".identity")).to_have_text("operator@acme")
    expect(row.locator("td").nth(3)).to_have_text("start")
    screenshot(page, "audit")
    manager.cancel_job(job_id)


def test_the_overview_shows_the_figures_of_a_known_set_of_jobs(
    page: Page, dashboard: Dashboard
) -> None:
    manager = dashboard.manager
    jobs = [manager.start_job("diagnostics.echo", organization="acme") for _ in range(4)]
    jobs += [
        manager.start_job(SLEEP, {"steps": 1, "seconds": 0, "fail_at_step": 1}, organization="acme")
    ]
    manager.wait_for_completion([job.id for job in jobs], timeout=60)
    dashboard.sign_in(page, "viewer")

    dashboard.open(page, "/ui?period=1h")

    expect(page.locator("[data-figure=Completed]")).to_have_text("4")
    expect(page.locator("[data-figure=CompletedWithErrors]")).to_have_text("1")
    expect(page.locator("[data-total=completed]")).to_have_text("4")
    titles = page.locator("svg.chart g.bar > title").all_text_contents()
    assert sum(int(t.split(": ")[1].split(" completed")[0]) for t in titles) == 4
    expect(page.locator(f"table.failures a[href='/ui/jobs/{jobs[-1].id}']")).to_be_visible()
    page.get_by_role("link", name="24h", exact=True).click()
    expect(page.locator("[data-figure=Completed]")).to_have_text("4")
    screenshot(page, "overview")
