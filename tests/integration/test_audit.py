"""The audit trail on real databases: the store on PostgreSQL and on the embedded SQLite
file, and every operator action of the job manager recorded exactly once (on both, with
no worker running: jobs are moved on through the job store as a worker would).

What jobhub starts by itself (a schedule firing, a type starting with beat) and actions
that are refused or bad input leave no entry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobhub import (
    Conflict,
    InvalidInput,
    JobManager,
    JobNotFound,
    JobStatus,
    KeyConflict,
    NotFound,
    NotRerunnable,
    NotWaiting,
    Settings,
    StartType,
    UnknownJobType,
)
from jobhub.api_keys import split_token
from jobhub.audit import Actor, AuditAction, AuditEntry
from jobhub.db import migrate
from jobhub.db.audit_store import AuditStore
from jobhub.lifecycle import Transition
from jobhub.scheduling.runner import ScheduleRunner
from tests.support.rows import echo_row

BACKENDS = ("postgresql", "embedded")
ALICE = Actor(identity="alice", key_id="3f9c2a7d41b0e865", organization="acme")


@pytest.fixture(params=BACKENDS)
def jobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobManager]:
    """A manager on PostgreSQL and Redis, or on the embedded SQLite file and file broker."""
    if request.param == "postgresql":
        settings: Settings = request.getfixturevalue("settings")
    else:
        settings = Settings(data_dir=tmp_path / "embedded", wait_poll_interval=0.1)
    manager = JobManager.from_settings(settings)
    if request.param == "embedded":
        migrate.upgrade(manager.app.runtime.engine)
    yield manager
    manager.close()


def _trail(manager: JobManager) -> list[AuditEntry]:
    """Every entry, oldest first."""
    return list(reversed(manager.audit_entries(limit=1000)))


def _local() -> Actor:
    return Actor.local()


def _end(manager: JobManager, job_id: object, status: JobStatus) -> None:
    """Move a job to Processing and then ``status``, as a worker would."""
    job = manager.get_job(str(job_id))
    now = manager.app.runtime.clock()
    steps = [
        Transition(job_id=job.id, attempt=job.attempt, status=step, at=now, worker_id="w-test")
        for step in (JobStatus.PROCESSING, status)
    ]
    assert all(
        applied is not None for applied in manager.app.runtime.writes.write(transitions=steps)
    )


# -- the store -----------------------------------------------------------------------------


def test_the_store_reads_newest_first_by_organization_time_and_actor(jobs: JobManager) -> None:
    store: AuditStore = jobs.app.runtime.audit
    t0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    bob = Actor(identity="bob", key_id="0000000000000002", organization="globex")
    details = {"schedules": [{"when": "every 15m", "rule": {"every": 900}}], "n": 2}
    for minute, actor, action in [
        (0, ALICE, AuditAction.START),
        (1, bob, AuditAction.CANCEL),
        (2, _local(), AuditAction.KEY_CREATE),
        (3, ALICE, AuditAction.SCHEDULE_SET),
    ]:
        store.append(
            AuditEntry(
                at=t0 + timedelta(minutes=minute),
                actor=actor,
                action=action,
                target=f"thing {minute}",
                details=details if minute == 3 else {},
                reason="because" if minute == 3 else None,
            )
        )

    everything = store.recent()
    assert [e.target for e in everything] == ["thing 3", "thing 2", "thing 1", "thing 0"]
    newest = everything[0]
    assert newest.actor == ALICE
    assert newest.details == details
    assert newest.reason == "because"
    assert newest.at == t0 + timedelta(minutes=3)
    assert newest.id is not None
    assert everything[1].actor == _local()  # no key, no organization
    assert everything[2].details == {}
    assert [e.target for e in store.recent(organization="acme")] == ["thing 3", "thing 0"]
    assert [e.target for e in store.recent(organization="")] == ["thing 2"]
    assert [e.target for e in store.recent(organization="initech")] == []
    since = t0 + timedelta(minutes=1)
    assert [e.target for e in store.recent(since=since)] == ["thing 3", "thing 2", "thing 1"]
    assert [e.target for e in store.recent(actor="bob")] == ["thing 1"]
    assert [e.target for e in store.recent(limit=2)] == ["thing 3", "thing 2"]
    assert [e.target for e in store.recent(organization="acme", since=since)] == ["thing 3"]


def test_the_store_purges_only_entries_before_the_cutoff(jobs: JobManager) -> None:
    store: AuditStore = jobs.app.runtime.audit
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    for day in range(4):
        store.append(
            AuditEntry(
                at=t0 + timedelta(days=day),
                actor=ALICE,
                action=AuditAction.START,
                target=f"day {day}",
            )
        )

    assert store.purge(t0 + timedelta(days=2)) == 2
    assert [e.target for e in store.recent()] == ["day 3", "day 2"]
    assert store.purge(t0) == 0


def test_housekeeping_purges_entries_older_than_the_audit_retention(jobs: JobManager) -> None:
    runtime = jobs.app.runtime
    now = runtime.clock()
    retention = jobs.settings.audit_retention
    assert retention == timedelta(days=365)
    for age, target in [(retention + timedelta(hours=1), "old"), (timedelta(days=300), "kept")]:
        runtime.audit.append(
            AuditEntry(at=now - age, actor=ALICE, action=AuditAction.START, target=target)
        )

    assert jobs.housekeeping.purge_audit_trail() == 1
    assert [e.target for e in _trail(jobs)] == ["kept"]


# -- every action, once --------------------------------------------------------------------


def test_each_job_action_is_recorded_once_with_who_what_and_why(jobs: JobManager) -> None:
    delayed = jobs.start_job(
        "diagnostics.echo",
        {"message": "later"},
        delay=timedelta(hours=1),
        queue="reports",
        priority=7,
        client_request_id="once",
        actor=ALICE,
        reason="month end",
    )
    repeat = jobs.start_job(
        "diagnostics.echo", {"message": "later"}, client_request_id="once", actor=ALICE
    )
    assert repeat.id == delayed.id
    jobs.retry_now(delayed.id, actor="ops", reason="cannot wait")
    jobs.cancel_job(delayed.id, reason="  wrong month  ")
    jobs.rerun_job(delayed.id, actor=ALICE)
    _end(jobs, delayed.id, JobStatus.COMPLETED)
    jobs.delete_job(delayed.id, actor="ops", reason="cleanup")

    trail = _trail(jobs)
    target = f"job {delayed.id}"
    assert [(e.action, e.target) for e in trail] == [
        (AuditAction.START, target),
        (AuditAction.START_NOW, target),
        (AuditAction.CANCEL, target),
        (AuditAction.RERUN, target),
        (AuditAction.DELETE, target),
    ]
    start, start_now, cancel, rerun, delete = trail
    assert start.actor == ALICE
    assert start.reason == "month end"
    assert delayed.due_at is not None
    assert start.details == {
        "job_type": "diagnostics.echo",
        "queue": "reports",
        "priority": 7,
        "start_at": delayed.due_at.isoformat(),
    }
    assert (start_now.actor, start_now.reason) == (Actor(identity="ops"), "cannot wait")
    assert (cancel.actor, cancel.reason) == (_local(), "wrong month")
    assert cancel.details == {"job_type": "diagnostics.echo", "outcome": "cancelled"}
    assert (rerun.actor, rerun.reason) == (ALICE, None)
    assert rerun.details == {"job_type": "diagnostics.echo", "attempt": 2}
    assert delete.details == {"job_type": "diagnostics.echo", "status": "Completed"}
    assert [e.at for e in trail] == sorted(e.at for e in trail)


def test_status_texts_name_the_actor_by_its_identity(jobs: JobManager) -> None:
    job = jobs.start_job("diagnostics.echo", delay=timedelta(hours=1))
    waiting = jobs.retry_now(job.id, actor=ALICE)
    assert waiting.status_text == "start now requested by alice"
    cancelled = jobs.cancel_job(job.id)
    assert cancelled.modified_by == _local().identity
    jobs.rerun_job(job.id, actor=ALICE)
    assert jobs.job_events(job.id)[-2].message == "rerun by alice"


def test_a_start_without_a_delay_records_no_start_time(jobs: JobManager) -> None:
    job = jobs.start_job("diagnostics.echo")
    (entry,) = _trail(jobs)
    assert entry.details == {"job_type": "diagnostics.echo", "queue": job.queue, "priority": 0}


def test_a_start_is_recorded_with_its_job_and_taken_back_with_it(jobs: JobManager) -> None:
    first = jobs.start_job("diagnostics.echo", client_request_id="r-1", actor=ALICE)
    again = jobs.start_job("diagnostics.echo", client_request_id="r-1", actor=ALICE)
    assert again.id == first.id
    (entry,) = _trail(jobs)
    assert (entry.action, entry.target, entry.at) == (
        AuditAction.START,
        f"job {first.id}",
        first.created_at,
    )

    # A job whose message the broker refused goes, and its start's entry with it.
    runtime = jobs.app.runtime
    refused = echo_row(runtime.clock())
    entry = AuditEntry(
        at=refused.created_at,
        actor=ALICE,
        action=AuditAction.START,
        target=f"job {refused.id}",
    )
    assert runtime.writes.create(refused, entry)
    assert len(_trail(jobs)) == 2
    runtime.writes.discard_unpublished(refused.id)
    assert [e.target for e in _trail(jobs)] == [f"job {first.id}"]
    assert [job.id for job in jobs.find_jobs()] == [first.id]


def test_refused_actions_and_bad_input_record_nothing(jobs: JobManager) -> None:
    job = jobs.start_job("diagnostics.echo", key="k")
    queued = len(_trail(jobs))
    with pytest.raises(KeyConflict):
        jobs.start_job("diagnostics.echo", key="k")
    with pytest.raises(UnknownJobType):
        jobs.start_job("no.such.type")
    with pytest.raises(InvalidInput, match="reason"):
        jobs.start_job("diagnostics.echo", reason="x" * 1001)
    with pytest.raises(InvalidInput, match="reason"):
        jobs.cancel_job(job.id, reason="nul\x00")
    with pytest.raises(InvalidInput, match="actor"):
        jobs.cancel_job(job.id, actor="")
    with pytest.raises(NotRerunnable):
        jobs.rerun_job(job.id)
    with pytest.raises(NotWaiting):
        jobs.retry_now(job.id)
    with pytest.raises(Conflict):
        jobs.delete_job(job.id)
    with pytest.raises(JobNotFound):
        jobs.cancel_job("not-a-job-id")

    assert jobs.get_job(job.id).status is JobStatus.QUEUED
    assert len(jobs.find_jobs()) == 1
    assert len(_trail(jobs)) == queued == 1
    jobs.cancel_job(job.id)
    with pytest.raises(Conflict):
        jobs.cancel_job(job.id)  # it ended
    assert [e.action for e in _trail(jobs)] == [AuditAction.START, AuditAction.CANCEL]


def test_schedule_changes_are_recorded_with_their_rules(jobs: JobManager) -> None:
    jobs.set_job_schedule(
        "diagnostics.echo",
        interval="15m",
        parameters={"message": "tick"},
        actor=ALICE,
        reason="more often",
    )
    with pytest.raises(InvalidInput):
        jobs.set_job_schedule("diagnostics.echo", interval="0s", actor=ALICE)
    jobs.clear_job_schedule("diagnostics.echo", reason="quiet week")
    jobs.clear_job_schedule("diagnostics.echo")

    set_, clear, clear_again = _trail(jobs)
    assert (set_.action, set_.target, set_.actor) == (
        AuditAction.SCHEDULE_SET,
        "type diagnostics.echo",
        ALICE,
    )
    assert set_.reason == "more often"
    assert set_.details == {
        "schedules": [
            {
                "when": "every 15m",
                "rule": {
                    "kind": "interval",
                    "every": 900,
                    "anchor": None,
                    "start": None,
                    "stop": None,
                },
                "parameters": {"message": "tick", "data": None},
                "catch_up": True,
            }
        ]
    }
    assert (clear.action, clear.reason, clear.actor) == (
        AuditAction.SCHEDULE_CLEAR,
        "quiet week",
        _local(),
    )
    assert clear.details == set_.details  # what was removed
    assert clear_again.details == {"schedules": []}


def test_api_keys_are_recorded_without_their_secret(jobs: JobManager) -> None:
    issued = jobs.access.create_api_key(
        identity="svc", organization="acme", role="operator", actor=ALICE, reason="new service"
    )
    with pytest.raises(InvalidInput):
        jobs.access.create_api_key(identity="", organization="acme", role="viewer")
    with pytest.raises(NotFound):
        jobs.access.revoke_api_key("0123456789abcdef")
    with pytest.raises(NotFound):
        jobs.access.revoke_api_key("nul\x00")
    jobs.access.revoke_api_key(issued.key.id, reason="leaked")

    create, revoke = _trail(jobs)
    described = {"identity": "svc", "organization": "acme", "role": "operator"}
    assert (create.action, create.target, create.actor, create.reason) == (
        AuditAction.KEY_CREATE,
        f"key {issued.key.id}",
        ALICE,
        "new service",
    )
    assert (revoke.action, revoke.target, revoke.actor, revoke.reason) == (
        AuditAction.KEY_REVOKE,
        f"key {issued.key.id}",
        _local(),
        "leaked",
    )
    assert create.details == revoke.details == described
    parts = split_token(issued.token)
    assert parts is not None
    secret = parts[1]  # 43 characters: it may hold "_" itself
    stored = json.dumps([(e.target, e.details, e.reason) for e in _trail(jobs)])
    assert secret not in stored


# -- what jobhub starts by itself -----------------------------------------------------------


def test_starts_by_beat_are_not_operator_actions(jobs: JobManager) -> None:
    jobs.add_job("diagnostics.sleep", StartType.IMMEDIATE)
    jobs.set_job_schedule("diagnostics.echo", interval=timedelta(milliseconds=200))
    runner = ScheduleRunner(jobs.app.runtime, jobs.app.dispatcher)
    runner.start({})
    time.sleep(0.5)
    fired = runner.tick()

    assert [f.job_id for f in fired if f.job_id is not None]
    assert jobs.find_jobs(job_type="diagnostics.sleep")
    assert [e.action for e in _trail(jobs)] == [AuditAction.SCHEDULE_SET]


# -- reading ---------------------------------------------------------------------------------


def test_reading_filters_by_period_actor_and_organization(jobs: JobManager) -> None:
    jobs.start_job("diagnostics.echo", actor=ALICE)
    jobs.start_job("diagnostics.echo", actor="bob")
    jobs.start_job("diagnostics.echo")

    assert len(jobs.audit_entries(since="1h")) == 3
    assert len(jobs.audit_entries(since=timedelta(minutes=5))) == 3
    assert jobs.audit_entries(since=datetime.now(UTC) + timedelta(minutes=5)) == []
    assert [e.actor.identity for e in jobs.audit_entries(actor="bob")] == ["bob"]
    assert [e.actor for e in jobs.audit_entries(organization="acme")] == [ALICE]
    assert len(jobs.audit_entries(organization="")) == 2
    assert len(jobs.audit_entries(limit=1)) == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"limit": 0}, "limit must be 1 to 1000"),
        ({"limit": 1001}, "limit must be 1 to 1000"),
        ({"since": "1x"}, "since: not a duration"),
        ({"since": datetime(2026, 11, 1)}, "give the time's zone"),
        ({"since": timedelta(hours=-1)}, "cannot be negative"),
        ({"actor": "a\x00"}, "actor must be"),
        ({"organization": "o" * 201}, "organization must be"),
    ],
)
def test_bad_reads_are_refused(
    jobs: JobManager, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        jobs.audit_entries(**arguments)  # type: ignore[arg-type]
