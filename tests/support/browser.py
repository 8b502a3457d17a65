"""Browser tests: headless Chromium on a real ``jobhub api``, worker and database.

Registered for every tier by ``tests/conftest.py`` (``pytest_plugins``), so a test only
names the fixtures:

* ``browser``: Playwright driving Debian's Chromium (fixture ``chromium``, installed by
  ``tests.support.chromium`` when missing), one per test file. Not one per session: a
  running sync Playwright keeps an asyncio loop marked as running in the worker's main
  thread, and with ``--dist loadfile`` the next file on that worker might be one that
  calls ``asyncio.run()``.
* ``page``: a fresh context (no cookies) and page, 1200x800 CSS pixels at scale 1.
* ``dashboard``: a real ``jobhub api`` and ``jobhub worker`` on the test's own database
  and queue, with API keys of organization "acme" (``admin``, ``operator``, ``viewer``)
  and an operator of organization "globex" (``globex``); ``dashboard.sign_in(page,
  "viewer")`` signs in through the form. To load job modules or change other settings,
  override the ``settings`` fixture in the test file.

Every test using ``browser`` or ``page`` is marked ``browser`` (``pytest -m browser``).
``screenshot(page, "jobs")`` writes ``docs/screenshots/jobs.png`` only when
``JOBHUB_SCREENSHOTS=1`` (``make screenshots``), so a normal run leaves committed files
alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Response, sync_playwright

from jobhub import JobManager, Settings
from jobhub.api_keys import Role
from tests.conftest import ApiServer, Process, Processes
from tests.support.chromium import ChromiumUnavailable, ensure_chromium

VIEWPORT = {"width": 1200, "height": 800}
TIMEOUT_MS = 15_000
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")

Who = Literal["admin", "operator", "viewer", "globex"]
KEYS: dict[Who, tuple[str, Role]] = {
    "admin": ("acme", Role.ADMIN),
    "operator": ("acme", Role.OPERATOR),
    "viewer": ("acme", Role.VIEWER),
    "globex": ("globex", Role.OPERATOR),
}
"""Who the dashboard fixture issues a key to: organization and role; the identity is
``<role>@<organization>`` (``operator@globex`` for ``globex``)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test that drives the browser, for ``pytest -m browser``."""
    for item in items:
        if {"browser", "page"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The Chromium executable, installed first when missing and possible (once per
    process: a failure is kept by pytest for the session). A missing Chromium is an
    error of each browser test, saying how to install it, never a skip. Not
    ``pytest.exit``: under xdist a worker's exit is lost in an INTERNALERROR."""
    try:
        return ensure_chromium()
    except ChromiumUnavailable as exc:
        missing = str(exc)
    pytest.fail(missing, pytrace=False)  # outside the except: one line, no chained trace


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox"] if os.geteuid() == 0 else [],
        )
        yield launched
        launched.close()
    finally:
        playwright.stop()


def new_page(browser: Browser) -> Page:
    """A page in a context of its own (own cookies): e.g. a second user beside ``page``."""
    context = browser.new_context(
        viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]},
        device_scale_factor=1,
        locale="en-US",
        timezone_id="UTC",
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened = new_page(browser)
    yield opened
    opened.context.close()


@dataclass
class Dashboard:
    """A running API (serving ``/ui``) and worker, and a token for each of ``KEYS``."""

    api: ApiServer
    worker: Process
    manager: JobManager
    tokens: dict[Who, str]

    @property
    def url(self) -> str:
        return self.api.url

    def open(self, page: Page, path: str) -> Response | None:
        """Go to ``path`` (``/ui/jobs?...``) on this server."""
        return page.goto(self.url + path)

    def sign_in(self, page: Page, who: Who) -> None:
        """Sign ``page`` in as ``who`` through the form, leaving it on the page it lands on.

        Any earlier session of the page's context is dropped first.
        """
        page.context.clear_cookies()
        self.open(page, "/ui/sign-in")
        page.locator("input[name=key]").fill(self.tokens[who])
        with page.expect_navigation() as navigation:
            page.get_by_role("button", name="Sign in").click()
        landed = navigation.value
        page.locator("main").wait_for()
        if landed is None or landed.status != 200 or urlsplit(page.url).path == "/ui/sign-in":
            status = landed.status if landed is not None else "no response"
            shown = page.locator("main").inner_text()[:500]
            raise AssertionError(f"signing in as {who} failed ({status}, {page.url}): {shown}")


@pytest.fixture
def dashboard(processes: Processes, settings: Settings, manager: JobManager) -> Dashboard:
    with ThreadPoolExecutor(1) as pool:  # both take seconds to start, mostly waiting
        api_started = pool.submit(processes.api, settings)
        worker = processes.worker(settings)
        api = api_started.result()
    tokens = {
        who: manager.access.create_api_key(
            identity=f"{role.value}@{organization}",
            organization=organization,
            role=role,
        ).token
        for who, (organization, role) in KEYS.items()
    }
    return Dashboard(api=api, worker=worker, manager=manager, tokens=tokens)


def screenshot(page: Page, name: str, *, folder: Path = SCREENSHOTS) -> Path | None:
    """Save what ``page`` shows as ``<folder>/<name>.png`` when ``JOBHUB_SCREENSHOTS=1``.

    The README shows these; they are small on purpose: the viewport only (1200x800), one
    PNG pixel per CSS pixel, no caret or animation. Returns the file, or None when off.
    """
    if not _NAME.fullmatch(name):
        raise ValueError(f"screenshot names are lowercase words with dashes, not {name!r}")
    if os.environ.get("JOBHUB_SCREENSHOTS") != "1":
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=path, type="png", scale="css", animations="disabled", caret="hide")
    return path
