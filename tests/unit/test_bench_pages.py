"""The page benchmark's harness (``tests/bench/pages.py``): how it signs in, follows
"next" links and counts failures, against a small HTTP server of the test's own (the
dashboard itself is measured by ``python -m tests.bench --pages``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.bench.markup import hidden_field, next_link, shown_error
from tests.bench.pages import RUNS, Page, follow_next, measure, sign_in

TOKEN = "jh_good"
CSRF = "token-of-the-form"
LAST = 60


class _Dashboard(BaseHTTPRequestHandler):
    """A pager of LAST pages (page 3 of ``/short`` has no next link), a sign-in form with
    a CSRF field, ``/flaky`` failing every tenth time and ``/missing`` always."""

    hits: dict[str, int] = {}

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, body: str, **headers: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        page = int(parse_qs(url.query).get("page", ["1"])[0])
        count = self.hits[url.path] = self.hits.get(url.path, 0) + 1
        if url.path == "/ui/sign-in":
            self._answer(200, f'<form><input type="hidden" name="csrf" value="{CSRF}"></form>')
        elif url.path in ("/jobs", "/short"):
            more = page < LAST and not (url.path == "/short" and page == 3)
            pager = f'<a href="?page={page - 1}">Newer</a>'
            pager += f'<a class="next" href="?page={page + 1}">Older &rarr;</a>' if more else ""
            self._answer(200, f"<main>page {page}</main><nav>{pager}</nav>")
        elif url.path == "/flaky" and count % 10 == 0:
            self._answer(500, "<p class=error>broken</p>")
        elif url.path == "/flaky":
            self._answer(200, "<main>fine</main>")
        else:
            self._answer(404, "<p class=error>no such page</p>")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode())
        if form.get("key") == [TOKEN] and form.get("csrf") == [CSRF]:
            self._answer(303, "", Location="/ui", Set_Cookie="jobhub_session=s; Path=/ui")
        else:
            self._answer(401, "<p class=error>That API key is not valid</p>")


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    _Dashboard.hits = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Dashboard)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    with httpx.Client(base_url=f"http://{host!s}:{port}") as http:
        yield http
    server.shutdown()
    server.server_close()


def test_next_link_is_rel_next_else_a_link_saying_next_or_older() -> None:
    assert next_link('<a href="/a">1</a><a rel="next nofollow" href="/b">2</a>') == "/b"
    assert next_link('<a href="/a">Previous</a> <a href="/c"> Next </a>') == "/c"
    assert next_link('<a href="/d">Older jobs &rarr;</a>') == "/d"
    assert next_link('<a href="/e">Nextcloud</a><a href="/f">Newer</a>') is None


def test_hidden_field_reads_the_form_s_token_and_nothing_else() -> None:
    html = '<input name="key"><input type="hidden" name="csrf" value="t1">'
    assert hidden_field(html, "csrf") == "t1"
    assert hidden_field(html, "key") is None


def test_sign_in_sends_the_form_s_csrf_field_and_keeps_the_session_cookie(
    client: httpx.Client,
) -> None:
    assert sign_in(client, TOKEN) is None
    assert client.cookies["jobhub_session"] == "s"


def test_a_refused_sign_in_says_what_the_server_answered(client: httpx.Client) -> None:
    said = sign_in(client, "jh_bad")
    assert said is not None
    assert said.startswith("POST /ui/sign-in: 401")
    assert "not valid" in said


def test_following_next_links_reaches_the_asked_page(client: httpx.Client) -> None:
    assert follow_next(client, "/jobs", 50) == ("/jobs?page=50", "")
    assert follow_next(client, "/short", 50) == (None, "page 3 has no next link")
    assert follow_next(client, "/missing", 50)[1].startswith("page 1: 404 Not Found")


def test_failed_answers_are_counted_and_never_timed(client: httpx.Client) -> None:
    flaky = measure(client, Page("flaky", "admin", lambda n: "/flaky"))
    assert (flaky.runs + flaky.failures, flaky.failures) == (RUNS, 10)
    assert flaky.failure.startswith("/flaky: 500")
    assert flaky.p99_ms >= flaky.p50_ms > 0

    missing = measure(client, Page("missing", "admin", lambda n: f"/missing/{n}"))
    assert (missing.runs, missing.failures) == (0, 1)
    assert missing.failure == "/missing/97: 404 Not Found: no such page"
    assert _Dashboard.hits == {"/flaky": RUNS + 3, "/missing/97": 1}


def test_a_page_that_cannot_be_reached_is_a_failure_without_a_request(
    client: httpx.Client,
) -> None:
    found = measure(client, Page("deep", "admin", lambda n: "/jobs", unavailable="no link"))
    assert (found.runs, found.failures, found.failure) == (0, 1, "no link")
    assert _Dashboard.hits == {}


def test_shown_error_is_the_error_element_s_text_else_the_visible_text() -> None:
    page = (
        "<html><head><title>Jobs</title><style>p {}</style></head><body><nav>Jobs</nav>"
        '<main><p class="error" role="alert">Bad <b>status</b>:\n nope</p><p>more</p></main>'
    )
    assert shown_error(page) == "Bad status: nope"
    assert shown_error("<head><title>x</title></head><main><h1>Not  found</h1></main>") == (
        "Not found"
    )
