"""The dashboard's job types, schedules, workers, dead letters and audit pages, through a
real ``jobhub api`` (and a real worker where a job must run) on PostgreSQL, signed in
with real API keys as a browser would be: a session cookie, and the CSRF token each page
carries in its forms."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser

import httpx
import pytest
from kombu import Exchange, Producer

from jobhub import JobManager, JobStatus, Settings
from jobhub.api_keys import Role
from jobhub.gates import PauseKind
from jobhub.scheduling.rules import describe
from tests.conftest import ApiServer, Processes

SLEEP = "diagnostics.sleep"
ECHO = "diagnostics.echo"


# -- reading pages -----------------------------------------------------------------------


class Page(HTMLParser):
    """What a test looks at in a page: buttons, links, inputs, errors by field."""

    def __init__(self) -> None:
        super().__init__()
        self.buttons: list[str] = []
        self.links: list[str] = []
        self.inputs: dict[str, str] = {}
        self.field_errors: dict[str, str] = {}
        self.alerts: list[str] = []
        self._open: list[tuple[str, str]] = []
        self._text = ""

    @classmethod
    def of(cls, response: httpx.Response) -> Page:
        page = cls()
        page.feed(response.text)
        return page

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        if tag == "input" and found.get("name") and found.get("type") != "checkbox":
            self.inputs[str(found["name"])] = found.get("value") or ""
        if tag in ("button", "small", "p"):
            self._open.append((tag, " ".join(f"{k}={v}" for k, v in attrs)))
            self._text = ""

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if not self._open or self._open[-1][0] != tag:
            return
        _, attrs = self._open.pop()
        text = " ".join(self._text.split())
        if tag == "button":
            self.buttons.append(text)
        elif "class=error" in attrs:
            where = re.search(r"data-field=(\S+)", attrs)
            if where:
                self.field_errors[where[1]] = text
            else:
                self.alerts.append(text)


class Dashboard:
    """A client signed in to the dashboard with one API key."""

    def __init__(self, api: ApiServer, token: str) -> None:
        self.client = httpx.Client(base_url=api.url, timeout=30)
        signed = self.client.post("/ui/sign-in", data={"key": token})
        assert signed.status_code == 303, signed.text

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path)

    def csrf(self) -> str:
        shown = self.get("/ui/types")
        found = re.search(r'name="csrf-token" content="([^"]+)"', shown.text)
        assert found is not None, shown.text
        return found[1]

    def post(
        self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True
    ) -> httpx.Response:
        form = dict(data or {})
        if csrf:
            form["csrf"] = self.csrf()
        return self.client.post(path, data=form)


@dataclass
class Keys:
    api: ApiServer
    tokens: dict[str, str]
    key_ids: dict[str, str]

    def sign_in(self, who: str) -> Dashboard:
        return Dashboard(self.api, self.tokens[who])


@pytest.fixture
def keys(manager: JobManager, processes: Processes, settings: Settings) -> Keys:
    """A running API and keys: ann (admin), olga (operator), vic (viewer) of acme, and
    gus (operator) of globex."""
    people = {
        "ann": ("acme", Role.ADMIN),
        "olga": ("acme", Role.OPERATOR),
        "vic": ("acme", Role.VIEWER),
        "gus": ("globex", Role.OPERATOR),
    }
    tokens, key_ids = {}, {}
    for identity, (organization, role) in people.items():
        issued = manager.access.create_api_key(
            identity=identity, organization=organization, role=role
        )
        tokens[identity], key_ids[identity] = issued.token, issued.key.id
    return Keys(processes.api(settings), tokens, key_ids)


def _all_jobs(manager: JobManager) -> list[uuid.UUID]:
    return [job.id for job in manager.find_jobs(housekeeping=True, limit=1000)]


# -- what each role sees ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "type_buttons", "audit_status"),
    [
        ("ann", {"Start", "Pause schedules", "Clear schedules", "Set schedule"}, 200),
        ("olga", {"Start"}, 403),
        ("vic", set(), 403),
    ],
)
def test_each_page_shows_each_role_only_the_buttons_it_may_press(
    keys: Keys, manager: JobManager, who: str, type_buttons: set[str], audit_status: int
) -> None:
    manager.set_job_schedule(ECHO, interval="15m")
    dashboard = keys.sign_in(who)

    for path in ("/ui", "/ui/types", "/ui/workers", "/ui/dead-letters"):
        shown = dashboard.get(path)
        assert shown.status_code == 200, (path, shown.text)
        assert "<main>" in shown.text
        assert set(Page.of(shown).buttons) - {"Sign out", "Show", "Filter"} == set(), path
    one_type = dashboard.get(f"/ui/types/{ECHO}")
    assert one_type.status_code == 200
    assert set(Page.of(one_type).buttons) - {"Sign out"} == type_buttons
    assert "every 15m" in one_type.text
    audit = dashboard.get("/ui/audit")
    assert audit.status_code == audit_status
    assert ("/ui/audit" in Page.of(one_type).links) is (audit_status == 200)


def test_the_job_types_page_lists_each_type_with_its_schedule_due_next(
    keys: Keys, manager: JobManager
) -> None:
    (schedule,) = manager.set_job_schedule(ECHO, interval="1h")
    assert schedule.next_fire_at is not None

    shown = keys.sign_in("vic").get("/ui/types")

    assert f"/ui/types/{SLEEP}" in Page.of(shown).links
    row = re.search(rf"/ui/types/{ECHO}.*?</tr>", shown.text, re.S)
    assert row is not None
    assert schedule.next_fire_at.strftime("%Y-%m-%d %H:%M:%S") in row[0]


# -- starting a job from its form --------------------------------------------------------


def test_a_bad_parameter_in_the_start_form_is_shown_by_its_input_and_starts_nothing(
    keys: Keys, manager: JobManager
) -> None:
    olga = keys.sign_in("olga")
    form = {"p.steps": "0", "p.seconds": "fast", "description": "keep me", "priority": "3"}

    refused = olga.post(f"/ui/types/{SLEEP}/start", form)

    assert refused.status_code == 422
    page = Page.of(refused)
    assert page.field_errors == {
        "steps": "must be at least 1",
        "seconds": "expected number, got str 'fast'",
    }
    assert any("was not started" in alert for alert in page.alerts)
    assert (page.inputs["p.steps"], page.inputs["description"]) == ("0", "keep me")
    assert page.inputs["p.seconds"] == "fast"
    assert _all_jobs(manager) == []
    assert [e for e in manager.audit_entries() if e.action.value == "start"] == []


@pytest.mark.parametrize(
    ("who", "csrf", "status"), [("vic", True, 403), ("olga", False, 403)], ids=["viewer", "forged"]
)
def test_a_start_by_a_viewer_or_without_the_forms_token_is_refused(
    keys: Keys, manager: JobManager, who: str, csrf: bool, status: int
) -> None:
    refused = keys.sign_in(who).post(f"/ui/types/{ECHO}/start", {"p.message": "no"}, csrf=csrf)

    assert refused.status_code == status
    assert 'class="error"' in refused.text
    assert _all_jobs(manager) == []


def test_the_start_form_starts_a_job_that_runs_and_sent_twice_starts_one(
    keys: Keys, manager: JobManager, processes: Processes, settings: Settings
) -> None:
    processes.worker(settings)
    olga = keys.sign_in("olga")
    form_page = Page.of(olga.get(f"/ui/types/{SLEEP}"))
    form = {
        "request": form_page.inputs["request"],
        "p.steps": "2",
        "p.seconds": "0.1",
        "description": "from the form",
        "priority": "3",
    }

    started = olga.post(f"/ui/types/{SLEEP}/start", form)
    again = olga.post(f"/ui/types/{SLEEP}/start", form)

    assert started.status_code == 303
    location = started.headers["location"]
    assert re.fullmatch(r"/ui/jobs/[0-9a-f-]{36}", location)
    assert again.headers["location"] == location
    job_id = location.rsplit("/", 1)[1]
    assert _all_jobs(manager) == [uuid.UUID(job_id)]
    (job,) = manager.wait_for_completion([job_id], timeout=60)
    assert job.status is JobStatus.COMPLETED
    assert dict(job.parameters) == {"steps": 2, "seconds": 0.1, "fail_at_step": None}
    assert (job.identity, job.organization, job.priority) == ("olga", "acme", 3)
    assert job.description == "from the form"
    (entry,) = [e for e in manager.audit_entries() if e.action.value == "start"]
    assert (entry.actor.identity, entry.actor.key_id) == ("olga", keys.key_ids["olga"])


# -- schedules ---------------------------------------------------------------------------


def test_an_admin_sets_pauses_resumes_and_clears_schedules_and_others_are_refused(
    keys: Keys, manager: JobManager
) -> None:
    ann, olga = keys.sign_in("ann"), keys.sign_in("olga")
    path = f"/ui/types/{ECHO}/schedules"
    wanted = {"mode": "interval", "interval": "15m", "s.message": "tick"}

    assert olga.post(path, wanted).status_code == 403
    assert ann.post(path, wanted, csrf=False).status_code == 403
    assert manager.get_job_schedules(ECHO) == []

    assert ann.post(path, wanted).status_code == 303
    (schedule,) = manager.get_job_schedules(ECHO)
    assert (describe(schedule.rule), schedule.parameters["message"]) == ("every 15m", "tick")
    shown = ann.get(f"/ui/types/{ECHO}")
    assert "every 15m" in shown.text
    assert schedule.next_fire_at is not None
    assert schedule.next_fire_at.strftime("%Y-%m-%d %H:%M:%S") in shown.text

    bad = ann.post(path, {"mode": "weekly", "days": "mon-fri", "at": "25:00"})
    assert bad.status_code == 422
    assert any("was not set" in alert for alert in Page.of(bad).alerts)
    assert manager.get_job_schedules(ECHO) == [schedule]

    assert olga.post(f"{path}/pause").status_code == 403
    assert manager.pauses() == []
    assert ann.post(f"{path}/pause", {"reason": "migration"}).status_code == 303
    (pause,) = manager.pauses()
    assert (pause.kind, pause.target, pause.paused_by) == (PauseKind.SCHEDULE, ECHO, "ann")
    assert "Resume schedules" in Page.of(ann.get(f"/ui/types/{ECHO}")).buttons
    assert ann.post(f"{path}/resume").status_code == 303
    assert manager.pauses() == []

    assert olga.post(f"{path}/clear").status_code == 403
    assert manager.get_job_schedules(ECHO) == [schedule]
    assert ann.post(f"{path}/clear").status_code == 303
    assert manager.get_job_schedules(ECHO) == []

    trail = [(e.action.value, e.actor.identity, e.actor.key_id) for e in manager.audit_entries()]
    ann_key = keys.key_ids["ann"]
    assert trail[:4] == [
        ("schedule-clear", "ann", ann_key),
        ("resume", "ann", ann_key),
        ("pause", "ann", ann_key),
        ("schedule-set", "ann", ann_key),
    ]
    assert [e.reason for e in manager.audit_entries(limit=3)][2] == "migration"


# -- the audit trail ---------------------------------------------------------------------


def test_the_audit_page_names_each_actions_key_and_filters_by_actor_and_organization(
    keys: Keys, manager: JobManager
) -> None:
    olga_started = keys.sign_in("olga").post(f"/ui/types/{ECHO}/start", {"p.message": "a"})
    gus_started = keys.sign_in("gus").post(f"/ui/types/{ECHO}/start", {"p.message": "b"})
    olga_job = olga_started.headers["location"].rsplit("/", 1)[1]
    gus_job = gus_started.headers["location"].rsplit("/", 1)[1]
    ann = keys.sign_in("ann")

    everything = ann.get("/ui/audit")
    only_olga = ann.get("/ui/audit?actor=olga")
    only_globex = ann.get("/ui/audit?organization=globex&since=1h")

    assert everything.status_code == 200
    for identity, job_id in (("olga", olga_job), ("gus", gus_job)):
        row = re.search(
            rf"<tr>\s*<td>[^<]*</td>\s*<td class=\"actor\">.*?job {job_id}", everything.text, re.S
        )
        assert row is not None, identity
        assert identity in row[0]
        assert keys.key_ids[identity] in row[0]
    assert olga_job in only_olga.text
    assert gus_job not in only_olga.text
    assert gus_job in only_globex.text
    assert olga_job not in only_globex.text
    assert ann.get("/ui/audit?since=yesterday").status_code == 400


# -- workers and dead letters ------------------------------------------------------------


def _wait_for(manager: JobManager, job_id: uuid.UUID, status: JobStatus) -> None:
    deadline = time.monotonic() + 60
    while manager.get_job(job_id).status is not status:
        assert time.monotonic() < deadline, manager.get_job(job_id)
        time.sleep(0.05)


def test_the_workers_page_shows_the_live_worker_and_its_running_jobs_to_their_organization(
    keys: Keys, manager: JobManager, processes: Processes, settings: Settings
) -> None:
    processes.worker(settings)
    job = manager.start_job(SLEEP, {"steps": 600, "seconds": 0.1}, organization="acme")
    _wait_for(manager, job.id, JobStatus.PROCESSING)
    assert job.id in {j.id for j in manager.running_jobs()}

    for who, sees_job in (("vic", True), ("ann", True), ("gus", False)):
        dashboard = keys.sign_in(who)
        for path in ("/ui/workers", "/ui/workers/live"):
            shown = dashboard.get(path)
            assert shown.status_code == 200
            assert re.search(r'data-figure="workers-alive">1<', shown.text), shown.text
            assert 'status-completed">alive<' in shown.text
            assert (f"/ui/jobs/{job.id}" in Page.of(shown).links) is sees_job, (who, path)
        assert "<html" not in dashboard.get("/ui/workers/live").text

    manager.cancel_job(job.id)


def _publish_unknown_task(manager: JobManager, marker: str) -> str:
    """A message no job module declares, published around jobhub: a dead letter."""
    task_id = str(uuid.uuid4())
    with manager.app.connection_for_write() as connection:
        Producer(connection.default_channel).publish(
            json.dumps([[], {"marker": marker}, {}]),
            exchange=Exchange(manager.settings.queue, type="direct"),
            routing_key=manager.settings.queue,
            headers={"lang": "py", "task": "nobody.declares.this", "id": task_id},
            content_type="application/json",
            content_encoding="utf-8",
        )
    return task_id


def test_the_dead_letters_page_lists_the_newest_first_and_shows_messages_to_admins(
    keys: Keys, manager: JobManager, processes: Processes, settings: Settings
) -> None:
    processes.worker(settings)
    first = _publish_unknown_task(manager, "first-marker")
    deadline = time.monotonic() + 30
    while len(manager.admin.dead_letters()) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    second = _publish_unknown_task(manager, "second-marker")
    while len(manager.admin.dead_letters()) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    as_viewer = keys.sign_in("vic").get("/ui/dead-letters")
    as_admin = keys.sign_in("ann").get("/ui/dead-letters")

    for shown in (as_viewer, as_admin):
        assert shown.status_code == 200
        assert "unknown task" in shown.text
        assert "nobody.declares.this" in shown.text
        assert shown.text.index(second) < shown.text.index(first)
    assert "second-marker" not in as_viewer.text
    assert "second-marker" in as_admin.text


# -- the overview ------------------------------------------------------------------------


def _figure(shown: httpx.Response, name: str) -> int:
    found = re.search(rf'data-figure="{name}">(\d+)<', shown.text)
    assert found is not None, name
    return int(found[1])


def _bar_totals(shown: httpx.Response) -> dict[str, int]:
    """What the chart's bar titles add up to, per series."""
    totals = {"completed": 0, "failed": 0, "cancelled": 0}
    for title in re.findall(r'<g class="bar"[^>]*><title>([^<]*)</title>', shown.text):
        for count, name in re.findall(r"(\d+) (completed|failed|cancelled)", title):
            totals[name] += int(count)
    return totals


def test_the_overview_shows_the_figures_of_a_known_set_of_jobs_to_each_organization(
    keys: Keys, manager: JobManager, processes: Processes, settings: Settings
) -> None:
    processes.worker(settings)
    done = [manager.start_job(ECHO, organization="acme") for _ in range(3)]
    failed = [
        manager.start_job(SLEEP, {"steps": 1, "seconds": 0, "fail_at_step": 1}, organization="acme")
        for _ in range(2)
    ]
    elsewhere = manager.start_job(ECHO, organization="globex")
    manager.wait_for_completion([j.id for j in (*done, *failed, elsewhere)], timeout=60)
    cancelled = manager.start_job(ECHO, organization="acme", delay=timedelta(hours=1))
    manager.cancel_job(cancelled.id)
    waiting = manager.start_job(ECHO, organization="acme", delay=timedelta(hours=1))
    assert manager.get_job(waiting.id).status is JobStatus.CREATED

    as_viewer = keys.sign_in("vic").get("/ui?period=1h")
    live = keys.sign_in("vic").get("/ui/overview/live?period=1h")
    ann = keys.sign_in("ann")
    everyone = ann.get("/ui?period=1h")
    globex = ann.get("/ui?period=24h&organization=globex")

    for shown in (as_viewer, live):
        assert shown.status_code == 200
        figures = {s: _figure(shown, s) for s in ("Completed", "CompletedWithErrors", "Cancelled")}
        assert figures == {"Completed": 3, "CompletedWithErrors": 2, "Cancelled": 1}
        assert (_figure(shown, "Created"), _figure(shown, "Processing")) == (1, 0)
        assert _bar_totals(shown) == {"completed": 3, "failed": 2, "cancelled": 1}
        assert _figure(shown, "workers-alive") == 1
        for job in failed:
            assert f"/ui/jobs/{job.id}" in Page.of(shown).links
        echo_row = re.search(rf'<tr data-type="{ECHO}">.*?</tr>', shown.text, re.S)
        assert echo_row is not None
        assert re.search(r'data-status="Completed"><a [^>]*>3</a>', echo_row[0])
    assert "<html" not in live.text
    assert f"/ui/jobs/{elsewhere.id}" not in as_viewer.text
    assert _figure(everyone, "Completed") == 4
    assert _bar_totals(everyone)["completed"] == 4
    assert (_figure(globex, "Completed"), _figure(globex, "CompletedWithErrors")) == (1, 0)
    assert ann.get("/ui?period=2y").status_code == 400
