"""The browser tests' setup works: Chromium, a real API and worker, and the fixture's keys.

The dashboard's own tests build on these fixtures (``tests/support/browser.py``); this
file proves the parts underneath them with what the API serves without the dashboard.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from jobhub import JobStatus
from tests.support.browser import Dashboard, screenshot

FETCH = """async ([path, token, body]) => {
    const response = await fetch(path, {
        method: body === null ? "GET" : "POST",
        headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json"},
        body: body === null ? undefined : JSON.stringify(body),
    });
    return {status: response.status, body: await response.json()};
}"""


def _fetch(page: Page, path: str, token: str, body: object = None) -> dict[str, Any]:
    """``fetch`` from the page's JavaScript: status and JSON body."""
    answer: dict[str, Any] = page.evaluate(FETCH, [path, token, body])
    return answer


def test_a_job_started_from_the_browser_is_run_by_the_worker_in_the_key_s_organization(
    page: Page, dashboard: Dashboard
) -> None:
    health = dashboard.open(page, "/health")
    assert health is not None
    assert health.status == 200
    assert '"ok"' in page.locator("body").inner_text()

    started = _fetch(page, "/jobs", dashboard.tokens["operator"], {"type": "diagnostics.echo"})
    assert started["status"] == 201, started

    (job,) = dashboard.manager.wait_for_completion([started["body"]["id"]], timeout=60)
    assert job.status is JobStatus.COMPLETED
    assert (job.organization, job.identity) == ("acme", "operator@acme")
    assert _fetch(page, f"/jobs/{job.id}", dashboard.tokens["viewer"])["status"] == 200
    assert _fetch(page, f"/jobs/{job.id}", dashboard.tokens["globex"])["status"] == 404


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_a_screenshot_is_written_only_when_asked_for_at_css_size(
    page: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page.set_content("<main><h1>jobhub</h1></main>")

    monkeypatch.delenv("JOBHUB_SCREENSHOTS", raising=False)
    assert screenshot(page, "overview", folder=tmp_path) is None
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setenv("JOBHUB_SCREENSHOTS", "1")
    written = screenshot(page, "overview", folder=tmp_path)
    assert written == tmp_path / "overview.png"
    assert _png_size(written) == (1200, 800)
