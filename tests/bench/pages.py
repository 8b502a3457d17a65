"""The dashboard's pages over a million jobs, as a browser would fetch them.

A fresh database is migrated and filled as for the query benchmark
(``tests.bench.queries.fill``: 20 types, 50 organizations, 30 days), and a real ``jobhub
api`` process serves it. An admin key and an operator key of the biggest organization
sign in over HTTP as the form does (``POST /ui/sign-in`` with ``key``, and the form's
hidden ``csrf`` field when it has one) and keep their session cookies. Each page is then
fetched 3 times to warm up and 100 times timed, one request at a time on one keep-alive
connection; a time is the whole answer with its body read. Whatever picks a row (type,
organization, job) varies from run to run. An answer other than 200 is a failure,
counted and shown, never timed; a page whose warm-up fails is not timed at all.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
import psycopg
from sqlalchemy import create_engine

from jobhub import JobManager, Settings
from jobhub.db import migrate
from tests.bench.harness import Progress
from tests.bench.markup import hidden_field, next_link, shown_error
from tests.bench.pg import sqlalchemy_url
from tests.bench.queries import ORGANIZATIONS, TYPES, fill
from tests.bench.server import running_api
from tests.bench.services import Services, Space
from tests.bench.stats import percentile

RUNS = 100
WARMUP = 3
TARGET_MS = 100.0
DEEP_PAGE = 50
SESSION_COOKIE = "jobhub_session"
OPERATOR_ORGANIZATION = "org-00"  # the fill's biggest organization
WORD = "generated"  # in every job's description: the search stops at the first page
NO_MATCH = "zebra"  # in none: the search cannot stop early

Who = Literal["admin", "operator"]


@dataclass(frozen=True, slots=True)
class Page:
    """A page to time: who fetches it and its path for run number n."""

    name: str
    who: Who
    path: Callable[[int], str]
    unavailable: str = ""
    """Why this page cannot be fetched (then it is reported failed, not fetched)."""


@dataclass
class PageResult:
    page: str
    who: str
    example: str
    runs: int = 0
    """Answers timed (200 only)."""
    failures: int = 0
    failure: str = ""
    """The first failure: status and what the answer said."""
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    max_ms: float = math.nan
    mean_kib: float = math.nan


@dataclass
class PagesResult:
    rows: int
    fill_seconds: float = 0.0
    analyze_seconds: float = 0.0
    table_size: str = ""
    sign_in: dict[str, str] = field(default_factory=dict)
    """For each key, "ok" or why signing in failed."""
    pages: list[PageResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Samples:
    """Values that pick rows, each list shuffled: run n uses item n modulo its length."""

    types: list[str]
    organizations: list[str]
    jobs: list[str]
    running: list[str]
    """Jobs not yet ended (Created, Queued, Processing): what the live view polls."""


def pages(samples: Samples, deep: str | None, why_not: str = "") -> list[Page]:
    """Every page timed; ``deep`` is page ``DEEP_PAGE`` of the job list (None: ``why_not``)."""

    def pick(values: Sequence[str], n: int) -> str:
        return values[n % len(values)]

    def jobs(**query: str) -> str:
        return f"/ui/jobs?{urlencode(query)}"

    return [
        Page("overview", "admin", lambda _: "/ui"),
        Page("overview, one organization", "operator", lambda _: "/ui"),
        Page("overview, 7 days", "admin", lambda _: "/ui?period=7d"),
        Page("jobs", "admin", lambda _: "/ui/jobs"),
        Page("jobs, one organization", "operator", lambda _: "/ui/jobs"),
        Page("jobs status=Completed", "admin", lambda _: jobs(status="Completed")),
        Page("jobs type=", "admin", lambda n: jobs(type=pick(samples.types, n))),
        Page(
            "jobs organization=",
            "admin",
            lambda n: jobs(organization=pick(samples.organizations, n)),
        ),
        Page(f"jobs q={WORD} (every job)", "admin", lambda _: jobs(q=WORD)),
        Page(f"jobs q={NO_MATCH} (no job)", "admin", lambda _: jobs(q=NO_MATCH)),
        Page(
            f"jobs page {DEEP_PAGE} (next links)",
            "admin",
            lambda _: deep or "/ui/jobs",
            unavailable="" if deep else why_not,
        ),
        Page("job", "admin", lambda n: f"/ui/jobs/{pick(samples.jobs, n)}"),
        Page(
            "job live (running job)", "admin", lambda n: f"/ui/jobs/{pick(samples.running, n)}/live"
        ),
        Page("types", "admin", lambda _: "/ui/types"),
        Page("workers", "admin", lambda _: "/ui/workers"),
        Page("audit", "admin", lambda _: "/ui/audit"),
    ]


def run_pages(services: Services, rows: int, *, progress: Progress) -> PagesResult:
    result = PagesResult(rows=rows)
    space = Space.create(services, "pages")
    try:
        engine = create_engine(sqlalchemy_url(space.database_url))
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()
        progress(f"pages: inserting {rows:,} jobs in bulk")
        with psycopg.connect(space.database_url, autocommit=True) as connection:
            filled = fill(connection, rows)
            samples = _samples(connection)
        result.fill_seconds, result.analyze_seconds = filled.seconds, filled.analyze_seconds
        result.table_size = filled.table_size
        tokens = _keys(space, services.redis_url)
        log = space.folder / "api.log"
        progress(f"pages: starting jobhub api (its log: {log})")
        with running_api(space.database_url, services.redis_url, space.queue, log) as base:
            clients = {who: httpx.Client(base_url=base, timeout=60) for who in tokens}
            try:
                for who, client in clients.items():
                    failed = sign_in(client, tokens[who])
                    result.sign_in[who] = failed or "ok"
                    progress(f"pages: sign-in as {who}: {failed or 'ok'}")
                deep, why_not = follow_next(clients["admin"], "/ui/jobs", DEEP_PAGE)
                for page in pages(samples, deep, why_not):
                    found = measure(clients[page.who], page)
                    result.pages.append(found)
                    progress(f"pages: {_line(found)}")
            finally:
                for client in clients.values():
                    client.close()
        return result
    finally:
        space.remove()


def _samples(connection: psycopg.Connection[Any]) -> Samples:
    rng = random.Random(7)
    types = [f"bench.type{n:02d}" for n in range(TYPES)]
    organizations = [f"org-{n:02d}" for n in range(ORGANIZATIONS)]
    jobs = [
        str(row[0])
        for row in connection.execute(
            "SELECT id FROM jobs TABLESAMPLE BERNOULLI (1) REPEATABLE (7) LIMIT %s", (RUNS,)
        ).fetchall()
    ]
    running = [
        str(row[0])
        for row in connection.execute(
            "SELECT id FROM jobs WHERE status IN (0, 1, 2) ORDER BY id LIMIT %s", (RUNS,)
        ).fetchall()
    ]
    for values in (types, organizations, jobs, running):
        rng.shuffle(values)
    return Samples(types, organizations, jobs or ["none"], running or ["none"])


def _keys(space: Space, redis_url: str) -> dict[Who, str]:
    """An admin key and an operator key, both of ``OPERATOR_ORGANIZATION``."""
    settings = Settings(
        database_url=sqlalchemy_url(space.database_url), broker_url=redis_url, queue=space.queue
    )
    manager = JobManager.from_settings(settings)
    try:
        return {
            who: manager.access.create_api_key(
                identity=f"bench-{who}", organization=OPERATOR_ORGANIZATION, role=who
            ).token
            for who in ("admin", "operator")
        }
    finally:
        manager.close()


def sign_in(client: httpx.Client, token: str) -> str | None:
    """Sign ``client`` in as the form does; None when it worked, else why not."""
    try:
        form = client.get("/ui/sign-in")
        if form.status_code != 200:
            return f"GET /ui/sign-in: {describe(form)}"
        data = {"key": token}
        csrf = hidden_field(form.text, "csrf")
        if csrf is not None:
            data["csrf"] = csrf
        answer = client.post("/ui/sign-in", data=data)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if answer.status_code not in (302, 303) or SESSION_COOKIE not in client.cookies:
        return f"POST /ui/sign-in: {describe(answer)}"
    return None


def follow_next(client: httpx.Client, start: str, number: int) -> tuple[str | None, str]:
    """The path of page ``number`` of ``start``, reached by following each page's "next"
    link; (None, why not) when a page fails or has no such link."""
    url = start
    for at in range(1, number):
        try:
            answer = client.get(url)
        except httpx.HTTPError as exc:
            return None, f"page {at}: {type(exc).__name__}: {exc}"
        if answer.status_code != 200:
            return None, f"page {at}: {describe(answer)}"
        href = next_link(answer.text)
        if href is None:
            return None, f"page {at} has no next link"
        url = urljoin(str(answer.url), href)
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else ""), ""


def measure(client: httpx.Client, page: Page) -> PageResult:
    """Warm up, then time ``RUNS`` fetches of ``page``; non-200 answers are failures."""
    result = PageResult(page=page.name, who=page.who, example=page.path(0))
    if page.unavailable:
        result.failures, result.failure = 1, page.unavailable
        return result
    took: list[float] = []
    sizes: list[int] = []
    for n in range(-WARMUP, RUNS):
        path = page.path(n % RUNS)
        began = time.perf_counter()
        try:
            answer = client.get(path)
        except httpx.HTTPError as exc:
            result.failures += 1
            result.failure = result.failure or f"{path}: {type(exc).__name__}: {exc}"
            break
        elapsed = time.perf_counter() - began
        if answer.status_code != 200:
            result.failures += 1
            result.failure = result.failure or f"{path}: {describe(answer)}"
            if n < 0:
                break  # the warm-up failed: the page is not there to time
        elif n >= 0:
            took.append(elapsed)
            sizes.append(len(answer.content))
    if took:
        result.runs = len(took)
        result.p50_ms = percentile(took, 50) * 1000
        result.p99_ms = percentile(took, 99) * 1000
        result.max_ms = max(took) * 1000
        result.mean_kib = sum(sizes) / len(sizes) / 1024
    return result


def describe(answer: httpx.Response) -> str:
    """Status, where a redirect goes, and the start of what the body says."""
    said = f"{answer.status_code} {answer.reason_phrase}"
    if answer.is_redirect:
        return f"{said} -> {answer.headers.get('location', '?')}"
    html = answer.headers.get("content-type", "").startswith("text/html")
    text = (shown_error(answer.text) if html else " ".join(answer.text.split()))[:160]
    return f"{said}: {text}" if text else said


def worst(result: PagesResult) -> PageResult | None:
    """The timed page with the highest p99."""
    timed = [page for page in result.pages if page.runs]
    return max(timed, key=lambda page: page.p99_ms) if timed else None


def failed(result: PagesResult) -> list[PageResult]:
    """Pages with a failure, or never timed."""
    return [page for page in result.pages if page.failures or not page.runs]


def _line(page: PageResult) -> str:
    if not page.runs:
        return f"{page.page}: FAILED {page.failure}"
    text = f"{page.page}: p50 {page.p50_ms:.1f} ms, p99 {page.p99_ms:.1f} ms"
    return text + (f", {page.failures} failed: {page.failure}" if page.failures else "")
