"""The dashboard's Jobs pages as a browser meets them, over HTTP: a real ``jobhub api``
(uvicorn), a real worker, real PostgreSQL and Redis.

Signing in takes an API key; the session cookie and the CSRF token of the pages are then
all a client has. Lists, job pages and actions keep to the key's organization (an admin
sees them all); another organization's job is "not found"; a viewer has no buttons and is
refused the action anyway; a POST without the page's token, with a wrong one or from
another site changes nothing; cancel, rerun and bulk actions are audited, one entry per
job, naming the signed-in key.

One worker and one API server serve the whole module; each test keeps to organizations
of its own on the shared database.
"""

from __future__ import annotations

import html
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote

import httpx
import pytest

from jobhub import JobManager, JobStatus, Settings
from jobhub.audit import AuditAction
from jobhub.jobs import Job
from tests import services as svc
from tests.conftest import (
    ApiServer,
    manager_of,
    module_settings,
    worker_and_api,
)

T = TypeVar("T")


@pytest.fixture(scope="module")
def ui_settings(
    services: svc.Services, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """A database and queue of this module's own; results over 200 bytes are documents."""
    data = tmp_path_factory.mktemp("ui-jobs-data")
    with module_settings(services, template_database, data, inline_result_limit=200) as found:
        yield found


def _idle(settings: Settings) -> str:
    """A queue no worker consumes: jobs published there stay Queued."""
    return f"{settings.queue}-idle"


@pytest.fixture(scope="module")
def jobs(ui_settings: Settings) -> Iterator[JobManager]:
    with manager_of(ui_settings) as manager:
        yield manager


@pytest.fixture(scope="module")
def server(ui_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    folder = tmp_path_factory.mktemp("ui-jobs-processes")
    with worker_and_api(ui_settings, folder, concurrency=2) as api:
        yield api


# -- a signed-in browser, without the browser ----------------------------------------------


@dataclass
class Browser:
    """A client holding a dashboard session, as a browser would after signing in."""

    client: httpx.Client
    identity: str
    key_id: str
    organization: str

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params)

    def csrf(self) -> str:
        found = re.search(r'name="csrf-token" content="([^"]*)"', self.get("/ui/jobs").text)
        assert found is not None
        assert found.group(1)
        return found.group(1)

    def post(self, path: str, data: dict[str, Any], **headers: str) -> httpx.Response:
        return self.client.post(path, data=data, headers=headers)

    def act(self, path: str, data: dict[str, Any] | None = None) -> tuple[str, str]:
        """POST an action with the page's token; the (kind, text) of the notice it leaves."""
        answer = self.post(path, {"csrf": self.csrf(), **(data or {})})
        assert answer.status_code == 303, answer.text
        return flash(answer)


def flash(answer: httpx.Response) -> tuple[str, str]:
    """The notice (or error) a redirect carries to the next page."""
    raw = answer.cookies.get("jobhub_flash")
    assert raw is not None, "the action left no notice"
    kind, text = json.loads(unquote(raw))
    return str(kind), str(text)


class Keys:
    """Sessions of new keys on the module's server."""

    def __init__(self, server: ApiServer, jobs: JobManager) -> None:
        self._server = server
        self._jobs = jobs
        self.opened: list[httpx.Client] = []

    def sign_in(self, organization: str, role: str, identity: str | None = None) -> Browser:
        who = identity or f"{role}-{uuid.uuid4().hex[:6]}"
        issued = self._jobs.access.create_api_key(
            identity=who, organization=organization, role=role
        )
        client = httpx.Client(base_url=self._server.url, timeout=30)
        self.opened.append(client)
        answer = client.post("/ui/sign-in", data={"key": issued.token, "next": "/ui/jobs"})
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/ui/jobs"
        return Browser(client, who, issued.key.id, organization)


@pytest.fixture
def keys(server: ApiServer, jobs: JobManager) -> Iterator[Keys]:
    made = Keys(server, jobs)
    yield made
    for client in made.opened:
        client.close()


# -- helpers ---------------------------------------------------------------------------------


def _org() -> str:
    return f"org-{uuid.uuid4().hex[:8]}"


def _listed(page: httpx.Response) -> list[str]:
    """The ids of the jobs a list page shows, in order."""
    assert page.status_code == 200, page.text
    return re.findall(r'data-job="([0-9a-f-]{36})"', page.text)


def _start(jobs: JobManager, organization: str, description: str, **options: Any) -> Job:
    """A job that stays Queued (on a queue no worker consumes), as does its rerun."""
    return jobs.start_job(
        "diagnostics.echo",
        {"message": description},
        organization=organization,
        identity="producer",
        description=description,
        queue=_idle(jobs.settings),
        **options,
    )


def _until(what: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = what()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def _buttons(page: httpx.Response) -> set[str]:
    return set(re.findall(r"<button[^>]*>\s*([^<]+?)\s*</button>", page.text)) - {"Sign out"}


def _audited(jobs: JobManager, organization: str, action: AuditAction) -> list[str]:
    """The targets of ``action`` entries recorded by the organization's keys."""
    return [
        entry.target
        for entry in jobs.audit_entries(organization=organization, limit=1000)
        if entry.action is action
    ]


# -- lists ---------------------------------------------------------------------------------


def test_the_list_finds_text_in_description_key_and_request_id_within_the_callers_tenancy(
    keys: Keys, jobs: JobManager
) -> None:
    acme, globex, token = _org(), _org(), uuid.uuid4().hex[:8]
    by_description = _start(jobs, acme, f"Monthly INVOICES {token}")
    by_key = _start(jobs, acme, "reindex", key=f"invoices-{token}")
    by_request = _start(jobs, acme, "export", client_request_id=f"req-{token}-7")
    elsewhere = _start(jobs, globex, f"invoices {token} of globex")
    unrelated = _start(jobs, acme, "something else")
    operator = keys.sign_in(acme, "operator")

    assert set(_listed(operator.get("/ui/jobs", q=f"invoices {token}"))) == {str(by_description.id)}
    assert set(_listed(operator.get("/ui/jobs", q=token))) == {
        str(by_description.id),
        str(by_key.id),
        str(by_request.id),
    }
    # an operator's list is its organization's, whatever the query string says
    assert str(elsewhere.id) not in _listed(operator.get("/ui/jobs", q=token, organization=globex))
    assert str(unrelated.id) in _listed(operator.get("/ui/jobs"))
    # an admin sees every organization's jobs, or one's
    admin = keys.sign_in(_org(), "admin")
    assert set(_listed(admin.get("/ui/jobs", q=token))) == {
        str(by_description.id),
        str(by_key.id),
        str(by_request.id),
        str(elsewhere.id),
    }
    assert _listed(admin.get("/ui/jobs", q=token, organization=globex)) == [str(elsewhere.id)]
    assert "<th>Organization</th>" in admin.get("/ui/jobs").text
    assert "<th>Organization</th>" not in operator.get("/ui/jobs").text


def test_the_list_filters_by_status_type_time_and_housekeeping_and_pages_by_keyset(
    keys: Keys, jobs: JobManager
) -> None:
    acme = _org()
    started = [_start(jobs, acme, f"job {n}") for n in range(53)]
    cancelled = jobs.cancel_job(started[0].id)
    upkeep = jobs.start_job("maintenance.reconcile_outbox", organization=acme)
    viewer = keys.sign_in(acme, "viewer")

    first = viewer.get("/ui/jobs")
    shown = _listed(first)
    assert shown[:50] == [str(job.id) for job in reversed(started[3:])]
    after = re.search(r'<a href="([^"]+)" rel="next">Next</a>', first.text)
    assert after is not None
    rest = _listed(viewer.client.get(after.group(1).replace("&amp;", "&")))
    assert rest == [str(job.id) for job in reversed(started[:3])]
    assert _listed(viewer.get("/ui/jobs", sort="oldest"))[:2] == [
        str(started[0].id),
        str(started[1].id),
    ]
    assert _listed(viewer.get("/ui/jobs", status="Cancelled")) == [str(cancelled.id)]
    assert str(upkeep.id) not in shown + rest
    assert str(upkeep.id) in _listed(viewer.get("/ui/jobs", housekeeping="1"))
    assert _listed(viewer.get("/ui/jobs", type="maintenance.reconcile_outbox")) == [str(upkeep.id)]
    since = started[-1].created_at.strftime("%Y-%m-%dT%H:%M:%S.%f")
    assert str(started[-1].id) in _listed(viewer.get("/ui/jobs", since=since))
    assert _listed(viewer.get("/ui/jobs", until="2000-01-01T00:00:00")) == []
    wrong = viewer.get("/ui/jobs", since="yesterday-ish")
    assert wrong.status_code == 400
    assert re.search(r'class="error" role="alert">[^<]*since', wrong.text)


# -- one job ---------------------------------------------------------------------------------


def test_another_organizations_job_is_not_found_and_cannot_be_acted_on(
    keys: Keys, jobs: JobManager
) -> None:
    acme = _org()
    job = _start(jobs, acme, "acme's own")
    stranger = keys.sign_in(_org(), "operator")

    for path in (f"/ui/jobs/{job.id}", f"/ui/jobs/{job.id}/live"):
        answer = stranger.get(path)
        assert answer.status_code == 404
        assert "acme's own" not in answer.text
    refused = stranger.post(f"/ui/jobs/{job.id}/cancel", {"csrf": stranger.csrf()})
    assert refused.status_code == 404
    assert jobs.get_job(job.id).status is JobStatus.QUEUED
    assert keys.sign_in(_org(), "admin").get(f"/ui/jobs/{job.id}").status_code == 200


def test_a_viewer_sees_no_buttons_and_is_refused_an_action_with_a_valid_token(
    keys: Keys, jobs: JobManager
) -> None:
    acme = _org()
    job = _start(jobs, acme, "queued for a viewer")
    viewer = keys.sign_in(acme, "viewer")
    operator = keys.sign_in(acme, "operator")

    assert _buttons(viewer.get(f"/ui/jobs/{job.id}")) == set()
    assert "Cancel all matching" not in viewer.get("/ui/jobs").text
    assert _buttons(operator.get(f"/ui/jobs/{job.id}")) == {"Cancel"}
    refused = viewer.post(f"/ui/jobs/{job.id}/cancel", {"csrf": viewer.csrf()})
    assert refused.status_code == 403
    assert re.search(r'class="error" role="alert">[^<]*operator role', refused.text)
    assert viewer.get("/ui/jobs/bulk", action="cancel").status_code == 403
    assert (
        viewer.post("/ui/jobs/bulk", {"csrf": viewer.csrf(), "action": "cancel"}).status_code == 403
    )
    assert jobs.get_job(job.id).status is JobStatus.QUEUED
    assert _audited(jobs, acme, AuditAction.CANCEL) == []


@pytest.mark.parametrize(
    ("form", "headers"),
    [
        ({}, {}),
        ({"csrf": "0" * 64}, {}),
        ({"csrf": "from another session"}, {}),
        ("valid", {"origin": "http://evil.example"}),
    ],
    ids=["no token", "wrong token", "garbage token", "valid token, foreign origin"],
)
def test_an_action_without_the_pages_token_or_from_another_site_changes_nothing(
    keys: Keys, jobs: JobManager, form: dict[str, str] | str, headers: dict[str, str]
) -> None:
    acme = _org()
    job = _start(jobs, acme, "stays queued")
    operator = keys.sign_in(acme, "operator")
    data = {"csrf": operator.csrf()} if form == "valid" else dict(form)

    for path, extra in (
        (f"/ui/jobs/{job.id}/cancel", {}),
        ("/ui/jobs/bulk", {"action": "cancel"}),
    ):
        refused = operator.post(path, {**data, **extra}, **headers)
        assert refused.status_code == 403
        assert re.search(r'class="error" role="alert"', refused.text)
    assert jobs.get_job(job.id).status is JobStatus.QUEUED
    assert _audited(jobs, acme, AuditAction.CANCEL) == []


def test_a_running_job_moves_live_is_cancelled_and_rerun_and_each_action_is_audited(
    keys: Keys, jobs: JobManager
) -> None:
    acme = _org()
    job = jobs.start_job(
        "diagnostics.sleep",
        {"steps": 600, "seconds": 0.1},
        organization=acme,
        identity="producer",
        description="a slow one",
    )
    operator = keys.sign_in(acme, "operator")

    def live() -> dict[str, Any]:
        answer = operator.get(f"/ui/jobs/{job.id}/live")
        assert answer.status_code == 200
        state: dict[str, Any] = answer.json()
        return state

    first = _until(lambda: s if (s := live())["percent"] > 0 else None)
    later = _until(lambda: s if (s := live())["percent"] > first["percent"] else None)
    assert later["status"] == "Processing"
    assert later["messages"][-1]["text"].startswith("step ")
    page = operator.get(f"/ui/jobs/{job.id}")
    assert 'data-refresh="/ui/jobs/' in page.text
    fragment = operator.client.get(f"/ui/jobs/{job.id}/live", headers={"accept": "text/html"}).text
    assert "data-final" not in fragment
    assert _buttons(page) == {"Cancel"}
    assert "producer" in page.text  # who started it

    assert operator.act(f"/ui/jobs/{job.id}/cancel") == (
        "notice",
        "Cancel requested: the job stops at its next check.",
    )
    _until(lambda: jobs.get_job(job.id).status is JobStatus.CANCELLED)
    ended = operator.get(f"/ui/jobs/{job.id}")
    assert "data-refresh" not in ended.text
    assert _buttons(ended) == {"Rerun"}
    kind, text = operator.act(f"/ui/jobs/{job.id}/cancel")
    assert kind == "error"
    assert "already ended Cancelled" in text

    assert operator.act(f"/ui/jobs/{job.id}/rerun") == ("notice", "Rerun as attempt 2.")
    _until(lambda: jobs.get_job(job.id).status is JobStatus.PROCESSING)
    timeline = operator.get(f"/ui/jobs/{job.id}").text
    assert 'data-attempt="2"' in timeline
    assert 'data-attempt="1"' in timeline
    jobs.cancel_job(job.id)

    trail = [
        entry
        for entry in jobs.audit_entries(organization=acme, limit=100)
        if entry.target == f"job {job.id}"
    ]
    assert [entry.action for entry in reversed(trail)] == [AuditAction.CANCEL, AuditAction.RERUN]
    for entry in trail:
        assert (entry.actor.identity, entry.actor.key_id) == (operator.identity, operator.key_id)


def test_a_failed_attempts_error_stays_on_the_page_after_its_retry(
    keys: Keys, jobs: JobManager
) -> None:
    acme = _org()
    job = jobs.start_job("diagnostics.flaky", {"fail_times": 1}, organization=acme)
    _until(lambda: jobs.get_job(job.id).status is JobStatus.COMPLETED)
    page = keys.sign_in(acme, "viewer").get(f"/ui/jobs/{job.id}").text

    first_attempt = page[page.index('data-attempt="1"') :]
    assert "FlakyError" in first_attempt
    assert "attempt 1 fails, as asked" in first_attempt
    assert "Traceback" in first_attempt
    assert '"failed_before": 1' in html.unescape(page)  # the result, inline


def test_a_result_document_downloads_for_the_organization_and_no_one_else(
    keys: Keys, jobs: JobManager
) -> None:
    acme = _org()
    job = jobs.start_job("diagnostics.echo", {"message": "x" * 400}, organization=acme)
    _until(lambda: jobs.get_job(job.id).status is JobStatus.COMPLETED)
    viewer = keys.sign_in(acme, "viewer")
    link = re.search(
        r'href="(/ui/jobs/[^"]+/documents/[^"]+)"', viewer.get(f"/ui/jobs/{job.id}").text
    )
    assert link is not None

    download = viewer.get(link.group(1))
    assert download.status_code == 200
    assert download.json()["message"] == "x" * 400
    assert download.headers["content-disposition"].startswith("attachment;")
    assert keys.sign_in(_org(), "operator").get(link.group(1)).status_code == 404
    admin_elsewhere = keys.sign_in(_org(), "admin")
    assert admin_elsewhere.get(link.group(1)).status_code == 403
    assert "/documents/" not in admin_elsewhere.get(f"/ui/jobs/{job.id}").text


# -- bulk ------------------------------------------------------------------------------------


def test_bulk_cancel_and_rerun_state_the_count_and_touch_exactly_the_matching_jobs(
    keys: Keys, jobs: JobManager
) -> None:
    acme, globex, token = _org(), _org(), uuid.uuid4().hex[:8]
    matching = [_start(jobs, acme, f"batch {token} #{n}") for n in range(5)]
    ended = jobs.cancel_job(_start(jobs, acme, f"batch {token} already ended").id)
    other = _start(jobs, acme, "not in the batch")
    foreign = _start(jobs, globex, f"batch {token} of globex")
    operator = keys.sign_in(acme, "operator")

    confirm = operator.get("/ui/jobs/bulk", action="cancel", q=f"batch {token}")
    assert confirm.status_code == 200
    assert 'data-count="5"' in confirm.text
    assert "<button" in confirm.text
    assert "Cancel 5 jobs" in confirm.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', confirm.text))
    assert fields["q"] == f"batch {token}"
    assert fields["action"] == "cancel"

    kind, text = operator.act("/ui/jobs/bulk", fields)
    assert (kind, text) == ("notice", "Cancelled 5 jobs.")
    assert {jobs.get_job(job.id).status for job in matching} == {JobStatus.CANCELLED}
    assert jobs.get_job(other.id).status is JobStatus.QUEUED
    assert jobs.get_job(foreign.id).status is JobStatus.QUEUED
    assert sorted(_audited(jobs, acme, AuditAction.CANCEL)) == sorted(
        f"job {job.id}" for job in matching
    )
    assert (
        'data-count="5"'
        not in operator.get("/ui/jobs/bulk", action="cancel", q=f"batch {token}").text
    )

    confirm = operator.get("/ui/jobs/bulk", action="rerun", q=f"batch {token}")
    assert 'data-count="6"' in confirm.text
    kind, text = operator.act("/ui/jobs/bulk", {"action": "rerun", "q": f"batch {token}"})
    assert (kind, text) == ("notice", "Reran 6 jobs.")
    assert {jobs.get_job(job.id).attempt for job in [*matching, ended]} == {2}
    assert len(_audited(jobs, acme, AuditAction.RERUN)) == 6
    assert jobs.get_job(foreign.id).attempt == 1
    rerun_by = {
        (entry.actor.identity, entry.actor.key_id)
        for entry in jobs.audit_entries(organization=acme, limit=1000)
        if entry.action is AuditAction.RERUN
    }
    assert rerun_by == {(operator.identity, operator.key_id)}
