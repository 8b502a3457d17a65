"""Pauses and limits in the database (``jobhub.db.gate_store``), through the real paths.

On PostgreSQL (claims through ``PostgresWrites``) and on the embedded SQLite (claims
through ``SqlWrites``): jobs are created and moved by the lifecycle write path as workers
do; a claim a pause or limit refuses is held with ``HeldJobs.hold``, as the worker's
task does; ``HeldJobs.release`` is the release round every worker's main process runs,
driven here with explicit times. Also, on PostgreSQL: releases racing on several
connections never hand out more slots than the limit.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, event, select

from jobhub import Settings
from jobhub.db import migrate
from jobhub.db.engine import make_engine
from jobhub.db.gate_store import GateStore
from jobhub.db.held_jobs import HeldJobs
from jobhub.db.models import JobEventRow, JobRow, LimitStartRow
from jobhub.gates import PauseKind
from jobhub.jobs import Job, JobError, JobStatus
from jobhub.lifecycle import (
    CANCELLED_BEFORE_START,
    Applied,
    NewJob,
    Reopen,
    ReopenReason,
    Transition,
)
from jobhub.limits import Limit, LimitKind
from jobhub.runtime import Runtime

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)
S = timedelta(seconds=1)
MIN = timedelta(minutes=1)
GATED = "tests.gated"
FREE = "tests.free"
QUEUE = "jobs"
JOBS = cast(Table, JobRow.__table__)
EVENTS = cast(Table, JobEventRow.__table__)
STARTS = cast(Table, LimitStartRow.__table__)


# -- a database, and jobs moved as workers move them ------------------------------------------


@dataclass
class Db:
    """A migrated database of the test's own, its write path and its gate store."""

    runtime: Runtime
    created: int = 0

    @property
    def gates(self) -> GateStore:
        return self.runtime.gates

    @property
    def held_jobs(self) -> HeldJobs:
        return self.runtime.held

    def create(
        self,
        *,
        job_type: str = GATED,
        queue: str = QUEUE,
        priority: int = 0,
        organization: str = "acme",
        at: datetime | None = None,
        publish: bool = True,
        max_attempts: int = 1,
        held: str | None = None,
        **parameters: Any,
    ) -> uuid.UUID:
        """A job recorded by its producer (and published: Queued), each one later than
        the one before unless ``at`` says when; or recorded ``held`` with that status
        text, as a producer does when a pause or a limit gates the job."""
        self.created += 1
        created_at = at if at is not None else T0 + self.created * MS
        job = NewJob(
            id=uuid.uuid4(),
            job_type=job_type,
            category="Tests",
            subcategory="",
            description="gated",
            parameters=parameters,
            identity="alice",
            organization=organization,
            client_request_id=None,
            key=None,
            can_cancel=True,
            can_rerun=True,
            created_at=created_at,
            purge_at=created_at + timedelta(days=30),
            created_by="alice",
            queue=queue,
            priority=priority,
            max_attempts=max_attempts,
            held=held is not None,
            status_text=held,
        )
        assert self.runtime.writes.create(job)
        if publish and held is None:
            self.move(job.id, JobStatus.QUEUED, at=created_at)
        return job.id

    def move(
        self,
        job_id: uuid.UUID,
        status: JobStatus,
        *,
        attempt: int = 1,
        at: datetime | None = None,
        **fields: Any,
    ) -> Applied | None:
        transition = Transition(
            job_id=job_id, attempt=attempt, status=status, at=at or T0 + MIN, **fields
        )
        return self.runtime.writes.write(transitions=[transition])[0]

    def claim(self, job_id: uuid.UUID, *, attempt: int = 1) -> Applied | None:
        return self.move(job_id, JobStatus.PROCESSING, attempt=attempt, worker_id="w1")

    def finish(self, job_id: uuid.UUID, *, attempt: int = 1) -> None:
        assert self.move(job_id, JobStatus.COMPLETED, attempt=attempt, result=1) is not None

    def refused_and_held(self, job_id: uuid.UUID, *, attempt: int = 1) -> str:
        """What a worker does with a gated job's message: its claim is refused, so it
        holds the job. Returns the held job's status text."""
        assert self.claim(job_id, attempt=attempt) is None, "the claim of a gated job passed"
        why = self.held_jobs.hold(job_id, attempt, at=T0 + MIN)
        assert why is not None, "a refused claim was not held"
        return why

    def held(self, *, job_type: str = GATED, n: int, **options: Any) -> list[uuid.UUID]:
        """``n`` jobs created, published, refused and held, oldest first."""
        ids = [self.create(job_type=job_type, **options) for _ in range(n)]
        for job_id in ids:
            self.refused_and_held(job_id)
        return ids

    def release(self, *, job_type: str = GATED, now: datetime = T0 + MIN) -> list[uuid.UUID]:
        return [due.job_id for due in self.held_jobs.release(job_type, now=now)]

    def start(self, job_ids: list[uuid.UUID]) -> None:
        """Released jobs published (Queued) and claimed by a worker."""
        for job_id in job_ids:
            self.move(job_id, JobStatus.QUEUED)
            assert self.claim(job_id) is not None, "a released job's claim was refused"

    def job(self, job_id: uuid.UUID) -> Job:
        return self.runtime.jobs.get(job_id)

    def row(self, job_id: uuid.UUID) -> dict[str, Any]:
        """The columns the store keeps but ``Job`` does not show (``released``)."""
        with self.runtime.engine.connect() as connection:
            found = connection.execute(select(JOBS).where(JOBS.c.id == job_id)).one()
        return dict(found._mapping)

    def events(self, job_id: uuid.UUID) -> list[tuple[JobStatus, int, str | None]]:
        """(status, attempt, message) of the job's events, in the order written."""
        statement = (
            select(EVENTS.c.status, EVENTS.c.attempt, EVENTS.c.message)
            .where(EVENTS.c.job_id == job_id)
            .order_by(EVENTS.c.id)
        )
        with self.runtime.engine.connect() as connection:
            return [
                (JobStatus(row.status), row.attempt, row.message)
                for row in connection.execute(statement)
            ]

    def set_limit(self, text: str, *, job_type: str = GATED) -> None:
        self.gates.set_limit(job_type, Limit.parse(text), at=T0, actor="ann")

    def pause(self, kind: PauseKind, target: str, reason: str | None = None) -> None:
        assert self.gates.pause(kind, target, at=T0, actor="ann", reason=reason)

    def limits(self, job_type: str = GATED) -> dict[tuple[LimitKind, str], tuple[Any, str]]:
        """(kind, key) -> (the limit's text or None when lifted, its source)."""
        return {
            (stored.kind, stored.per): (
                stored.limit.text() if stored.limit is not None else None,
                stored.source,
            )
            for stored in self.gates.limits(job_type)
        }


@pytest.fixture(params=["postgresql", "sqlite"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    if request.param == "postgresql":
        url = request.getfixturevalue("database_url")
        runtime = Runtime(Settings(data_dir=tmp_path, database_url=url))
    else:
        url = f"sqlite:///{tmp_path}/gates.sqlite3"
        runtime = Runtime(Settings(data_dir=tmp_path, database_url=url))
        migrate.upgrade(runtime.engine)
    yield Db(runtime)
    runtime.close()


def waiting(limit: str, key: str = "") -> str:
    """The status text of a job held by ``limit`` of ``GATED``."""
    parsed = Limit.parse(limit)
    which = f" ({parsed.per} {key})" if parsed.per else ""
    return f"Waiting for a slot: {parsed.describe(GATED)}{which}"


# -- limits: set, cleared, declared --------------------------------------------------------


def test_sync_declared_writes_the_declared_limits(db: Db) -> None:
    db.gates.sync_declared(GATED, [Limit.concurrency(2), Limit.parse("100/min")], at=T0)

    assert db.limits() == {
        (LimitKind.CONCURRENCY, ""): ("2", "declared"),
        (LimitKind.RATE, ""): ("100/min", "declared"),
    }
    assert db.limits(FREE) == {}


def test_sync_declared_updates_a_changed_one_and_deletes_one_no_longer_declared(db: Db) -> None:
    db.gates.sync_declared(GATED, [Limit.concurrency(2), Limit.parse("100/min")], at=T0)

    db.gates.sync_declared(
        GATED, [Limit.concurrency(3), Limit.parse("1 per organization")], at=T0 + S
    )

    assert db.limits() == {
        (LimitKind.CONCURRENCY, ""): ("3", "declared"),
        (LimitKind.CONCURRENCY, "organization"): ("1 per organization", "declared"),
    }
    db.gates.sync_declared(GATED, [], at=T0 + 2 * S)
    assert db.limits() == {}


def test_an_operators_limit_survives_sync_declared(db: Db) -> None:
    db.gates.sync_declared(GATED, [Limit.concurrency(2)], at=T0)

    db.gates.set_limit(GATED, Limit.concurrency(5), at=T0 + S, actor="ann")
    db.gates.sync_declared(GATED, [Limit.concurrency(3)], at=T0 + 2 * S)
    db.gates.sync_declared(GATED, [], at=T0 + 3 * S)

    (stored,) = db.gates.limits(GATED)
    assert stored.limit == Limit.concurrency(5)
    assert (stored.source, stored.updated_by, stored.updated_at) == ("operator", "ann", T0 + S)


def test_set_limit_replaces_the_limit_of_that_kind_and_key_only(db: Db) -> None:
    db.set_limit("2")
    db.set_limit("1 per customer_id")
    db.set_limit("10/min")

    db.set_limit("4")
    db.set_limit("20/30s")

    assert db.limits() == {
        (LimitKind.CONCURRENCY, ""): ("4", "operator"),
        (LimitKind.CONCURRENCY, "customer_id"): ("1 per customer_id", "operator"),
        (LimitKind.RATE, ""): ("20/30s", "operator"),
    }


def test_a_lifted_declared_limit_stays_lifted_across_sync_declared(db: Db) -> None:
    db.gates.sync_declared(GATED, [Limit.concurrency(2)], at=T0)

    cleared = db.gates.clear_limit(
        GATED, LimitKind.CONCURRENCY, "", declared=True, at=T0 + S, actor="ann"
    )
    db.gates.sync_declared(GATED, [Limit.concurrency(2)], at=T0 + 2 * S)
    db.gates.sync_declared(GATED, [Limit.concurrency(7)], at=T0 + 3 * S)

    assert cleared is True
    (stored,) = db.gates.limits(GATED)
    assert stored.limit is None
    assert (stored.source, stored.updated_by) == ("operator", "ann")
    again = db.gates.clear_limit(
        GATED, LimitKind.CONCURRENCY, "", declared=True, at=T0 + 4 * S, actor="ann"
    )
    assert again is False, "a lifted limit was lifted twice"
    db.set_limit("3")  # set again: in force
    assert db.limits() == {(LimitKind.CONCURRENCY, ""): ("3", "operator")}


def test_a_declared_limit_no_worker_synced_yet_is_lifted_for_good(db: Db) -> None:
    """A type declares a limit, but no worker has written it yet: lifting it succeeds
    (the declared limit is the type's) and the first worker does not bring it back."""
    cleared = db.gates.clear_limit(GATED, LimitKind.RATE, "", declared=True, at=T0, actor="ann")
    db.gates.sync_declared(GATED, [Limit.parse("100/min")], at=T0 + S)

    assert cleared is True
    assert db.limits() == {(LimitKind.RATE, ""): (None, "operator")}


def test_clearing_an_operators_limit_deletes_it(db: Db) -> None:
    db.set_limit("2/s")
    db.set_limit("2")

    assert db.gates.clear_limit(GATED, LimitKind.RATE, "", declared=False, at=T0, actor="ann")

    assert db.limits() == {(LimitKind.CONCURRENCY, ""): ("2", "operator")}
    assert not db.gates.clear_limit(GATED, LimitKind.RATE, "", declared=False, at=T0, actor="a")
    assert not db.gates.clear_limit(
        GATED, LimitKind.CONCURRENCY, "customer_id", declared=False, at=T0, actor="ann"
    )
    assert db.limits() == {(LimitKind.CONCURRENCY, ""): ("2", "operator")}


def test_a_lifted_limit_gates_nothing(db: Db) -> None:
    db.gates.sync_declared(GATED, [Limit.concurrency(1)], at=T0)
    db.gates.clear_limit(GATED, LimitKind.CONCURRENCY, "", declared=True, at=T0, actor="ann")
    first, second = db.create(), db.create()

    assert db.claim(first) is not None
    assert db.claim(second) is not None


# -- holding a job whose claim was refused -----------------------------------------------------


def test_a_refused_claim_of_a_limited_job_is_held_in_created_with_why(db: Db) -> None:
    db.set_limit("2")
    job_id = db.create()

    assert db.claim(job_id) is None
    why = db.held_jobs.hold(job_id, 1, at=T0 + MIN)

    assert why == "Waiting for a slot: at most 2 tests.gated at once"
    job = db.job(job_id)
    assert (job.status, job.held, job.status_text) == (JobStatus.CREATED, True, why)
    assert job.queued_at is None
    assert job.started_at is None
    assert db.events(job_id) == [
        (JobStatus.CREATED, 1, None),
        (JobStatus.QUEUED, 1, None),
        (JobStatus.CREATED, 1, why),
    ]
    assert db.held_jobs.held_types() == [GATED]


@pytest.mark.parametrize(
    ("kind", "target", "reason", "text"),
    [
        (PauseKind.QUEUE, QUEUE, "migration", "Paused: queue jobs, by ann (migration)"),
        (PauseKind.TYPE, GATED, None, "Paused: type tests.gated, by ann"),
    ],
)
def test_a_refused_claim_of_a_paused_job_is_held_naming_the_pause(
    db: Db, kind: PauseKind, target: str, reason: str | None, text: str
) -> None:
    db.pause(kind, target, reason)
    job_id = db.create()

    why = db.refused_and_held(job_id)

    assert why == text
    assert db.job(job_id).status_text == text
    assert db.job(job_id).held


def test_a_pause_is_named_before_a_limit(db: Db) -> None:
    db.set_limit("1")
    db.pause(PauseKind.TYPE, GATED)

    assert db.refused_and_held(db.create()) == "Paused: type tests.gated, by ann"


def test_holding_a_held_job_again_records_nothing_new(db: Db) -> None:
    db.set_limit("1")
    job_id = db.create()
    why = db.refused_and_held(job_id)
    events = db.events(job_id)

    assert db.claim(job_id) is None  # a duplicate delivery of its message
    assert db.held_jobs.hold(job_id, 1, at=T0 + 2 * MIN) == why

    assert db.events(job_id) == events


def test_hold_declines_a_job_it_must_not_hold(db: Db) -> None:
    ungated = db.create(job_type=FREE)
    db.set_limit("1")
    running, released, wrong_attempt = db.create(), db.create(), db.create()
    db.pause(PauseKind.QUEUE, "other")  # another queue's pause gates nothing here
    db.refused_and_held(running)
    db.refused_and_held(released)
    assert db.release() == [running]
    db.start([running])
    db.gates.clear_limit(GATED, LimitKind.CONCURRENCY, "", declared=False, at=T0, actor="a")
    db.set_limit("5")
    assert db.release() == [released]

    assert db.held_jobs.hold(ungated, 1, at=T0) is None, "nothing gates it: claim again"
    assert db.held_jobs.hold(running, 1, at=T0) is None, "it runs"
    assert db.held_jobs.hold(released, 1, at=T0) is None, "it was released meanwhile"
    assert db.held_jobs.hold(wrong_attempt, 2, at=T0) is None, "not its attempt"
    assert db.held_jobs.hold(uuid.uuid4(), 1, at=T0) is None, "no such job"
    assert not db.job(released).held
    assert not db.job(wrong_attempt).held


def test_the_claim_of_an_ungated_job_is_unaffected(db: Db) -> None:
    db.set_limit("1")
    db.pause(PauseKind.QUEUE, "paused")
    db.pause(PauseKind.TYPE, "tests.other")
    job_id = db.create(job_type=FREE)

    applied = db.claim(job_id)

    assert applied is not None
    assert (applied.status, applied.identity, applied.organization) == (
        JobStatus.PROCESSING,
        "alice",
        "acme",
    )
    job = db.job(job_id)
    assert (job.status, job.held) == (JobStatus.PROCESSING, False)
    assert db.row(job_id)["released"] is False
    assert db.held_jobs.held_types() == []


def test_a_held_job_claimed_once_nothing_gates_it_is_no_longer_held(db: Db) -> None:
    """The limit is lifted and a duplicate delivery of the held job's message comes before
    the release round: the claim passes (nothing gates it), and the job is held no more."""
    db.set_limit("1")
    (job_id,) = db.held(n=1)
    db.gates.clear_limit(GATED, LimitKind.CONCURRENCY, "", declared=False, at=T0, actor="a")

    assert db.claim(job_id) is not None

    job = db.job(job_id)
    assert (job.status, job.held) == (JobStatus.PROCESSING, False)
    assert db.held_jobs.held_types() == []
    db.finish(job_id)
    assert not db.job(job_id).held


def test_a_late_queued_does_not_apply_to_a_held_job(db: Db) -> None:
    db.set_limit("1")
    job_id = db.create(publish=False)  # its producer's Queued is still on the way
    db.refused_and_held(job_id)

    assert db.move(job_id, JobStatus.QUEUED, at=T0 + MS) is None

    job = db.job(job_id)
    assert (job.status, job.held, job.queued_at) == (JobStatus.CREATED, True, None)


def test_a_held_and_released_jobs_history_reads_in_the_order_it_happened(db: Db) -> None:
    db.set_limit("1")
    job_id = db.create()
    why = db.refused_and_held(job_id)
    assert db.release() == [job_id]
    assert db.claim(job_id) is not None
    assert db.move(job_id, JobStatus.QUEUED) is not None  # the release's publish, late
    db.finish(job_id)

    history = [(e.attempt, e.status, e.message) for e in db.runtime.jobs.events(job_id)]

    assert history == [
        (1, JobStatus.CREATED, None),
        (1, JobStatus.QUEUED, None),
        (1, JobStatus.CREATED, why),
        (1, JobStatus.QUEUED, None),
        (1, JobStatus.PROCESSING, None),
        (1, JobStatus.COMPLETED, None),
    ]


def test_a_job_its_producer_recorded_held_is_released_in_order_with_the_others(
    db: Db,
) -> None:
    db.set_limit("1")
    refused = db.create()
    db.refused_and_held(refused)
    recorded = db.create(held=waiting("1"))
    job = db.job(recorded)
    assert (job.status, job.held, job.status_text, job.queued_at) == (
        JobStatus.CREATED,
        True,
        waiting("1"),
        None,
    )
    assert db.held_jobs.held_types() == [GATED]
    assert db.runtime.jobs.oldest_in_status(JobStatus.CREATED) == []
    assert db.claim(recorded) is None, "a recorded held job was claimed unreleased"

    assert db.release() == [refused]
    db.start([refused])
    db.finish(refused)
    assert db.release() == [recorded]
    db.start([recorded])
    assert [(e.status, e.message) for e in db.runtime.jobs.events(recorded)] == [
        (JobStatus.CREATED, waiting("1")),
        (JobStatus.QUEUED, None),
        (JobStatus.PROCESSING, None),
    ]


def test_the_outbox_does_not_take_held_jobs_for_stranded(db: Db) -> None:
    db.set_limit("1")
    held = db.create(publish=False)
    db.refused_and_held(held)
    db.create(held=waiting("1"))
    stranded = db.create(publish=False)

    found = db.runtime.jobs.oldest_in_status(JobStatus.CREATED)

    assert [job.id for job in found] == [stranded]


# -- releasing held jobs -------------------------------------------------------------------


def test_release_takes_the_highest_priority_first_then_the_oldest(db: Db) -> None:
    db.set_limit("1")
    low_old = db.create(priority=0)
    high_new = db.create(priority=5)
    low_new = db.create(priority=0)
    high_old = db.create(priority=5, at=T0 - S)
    mid = db.create(priority=3)
    for job_id in (low_old, high_new, low_new, high_old, mid):
        db.refused_and_held(job_id)
    order = []

    for _ in range(5):
        (released,) = db.release()
        assert db.release() == [], "a second slot was handed out"
        db.start([released])
        db.finish(released)
        order.append(released)

    assert order == [high_old, high_new, mid, low_old, low_new]
    assert db.release() == []
    assert db.held_jobs.held_types() == []


def test_release_never_hands_out_more_than_the_concurrency_limit(db: Db) -> None:
    db.set_limit("2")
    ids = db.held(n=5)

    first = db.release()
    assert first == ids[:2]
    assert db.release() == []
    assert db.release(now=T0 + 10 * MIN) == [], "released and not started counts"
    db.start(first)
    assert db.release() == [], "running counts"
    for job_id in ids[2:]:
        job = db.job(job_id)
        assert (job.status, job.held) == (JobStatus.CREATED, True)
        assert job.status_text == waiting("2")
    for job_id in first:
        job = db.job(job_id)
        assert (job.status, job.held, job.status_text) == (JobStatus.PROCESSING, False, None)
        assert db.row(job_id)["released"] is True

    db.finish(first[0])
    assert db.row(first[0])["released"] is False, "an ended attempt keeps its slot"
    assert db.release() == [ids[2]]
    assert db.release() == []


@pytest.mark.parametrize(
    "end",
    [JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.CANCELLED],
    ids=lambda s: s.label,
)
def test_every_end_of_a_running_attempt_frees_its_slot(db: Db, end: JobStatus) -> None:
    db.set_limit("1")
    running, waiting_one = db.held(n=2)
    db.start(db.release())

    error = JobError(type="E", message="x") if end is JobStatus.COMPLETED_WITH_ERRORS else None
    assert db.move(running, end, at=T0 + 2 * MIN, error=error) is not None

    assert db.release() == [waiting_one]


def test_running_jobs_started_before_a_limit_count_against_it(db: Db) -> None:
    early = [db.create(), db.create()]
    for job_id in early:
        assert db.claim(job_id) is not None  # no limit yet: claimed at once

    db.set_limit("3")
    ids = db.held(n=3)

    assert db.release() == ids[:1]
    assert all(db.row(job_id)["released"] for job_id in early)
    db.finish(early[0])
    assert db.release() == ids[1:2]


def test_a_limit_per_parameter_releases_other_keys_while_one_is_full(db: Db) -> None:
    db.set_limit("1 per customer_id")
    a1 = db.create(customer_id="a")
    a2 = db.create(customer_id="a")
    b1 = db.create(customer_id="b")
    none = db.create()  # no customer_id: counts under ""
    c1 = db.create(customer_id="c")
    for job_id in (a1, a2, b1, none, c1):
        db.refused_and_held(job_id)

    assert db.release() == [a1, b1, none, c1]
    assert db.release() == []
    assert db.job(a2).status_text == waiting("1 per customer_id", "a")
    db.start([a1, b1])
    db.finish(b1)
    assert db.release() == [], "a's slot is still taken"
    db.finish(a1)
    assert db.release() == [a2]


def test_a_limit_per_organization_releases_other_tenants_while_one_is_full(db: Db) -> None:
    db.set_limit("2 per organization")
    acme = db.held(n=4, organization="acme")
    globex = db.held(n=1, organization="globex")

    assert db.release() == [*acme[:2], *globex]
    assert db.release() == []
    assert db.job(acme[2]).status_text == waiting("2 per organization", "acme")


def test_every_limit_must_have_room(db: Db) -> None:
    db.set_limit("3")
    db.set_limit("1 per customer_id")
    a1 = db.create(customer_id="a")
    a2 = db.create(customer_id="a")
    b1 = db.create(customer_id="b")
    c1 = db.create(customer_id="c")
    d1 = db.create(customer_id="d")
    for job_id in (a1, a2, b1, c1, d1):
        db.refused_and_held(job_id)

    assert db.release() == [a1, b1, c1]
    assert db.job(d1).status_text == waiting("3")
    db.start([a1])
    db.finish(a1)
    assert db.release() == [a2]


@pytest.mark.parametrize("per", ["customer_id", "organization"])
def test_a_full_key_with_more_held_jobs_than_a_round_takes_does_not_hide_other_keys(
    db: Db, per: str
) -> None:
    """One tenant's backlog, older than another's job and longer than a release round
    looks at (its batch), must not keep the other tenant waiting."""
    db.set_limit(f"1 per {per}")
    backlog = db.held(n=6, customer_id="a", organization="a")
    (late,) = db.held(n=1, customer_id="b", organization="b")

    first = db.held_jobs.release(GATED, now=T0 + MIN, batch=3)

    assert [due.job_id for due in first] == [backlog[0], late]
    db.start([backlog[0], late])
    assert db.held_jobs.release(GATED, now=T0 + MIN, batch=3) == []
    db.finish(backlog[0])
    assert [d.job_id for d in db.held_jobs.release(GATED, now=T0 + MIN, batch=3)] == backlog[1:2]


def test_a_paused_queue_with_more_held_jobs_than_a_round_takes_does_not_hide_other_queues(
    db: Db,
) -> None:
    db.set_limit("5")
    db.pause(PauseKind.QUEUE, QUEUE)
    backlog = db.held(n=6)
    (elsewhere,) = db.held(n=1, queue="other")

    released = db.held_jobs.release(GATED, now=T0 + MIN, batch=3)

    assert [due.job_id for due in released] == [elsewhere]
    assert {db.job(job_id).status_text for job_id in backlog} == {"Paused: queue jobs, by ann"}


def test_pausing_says_so_in_the_status_text_of_jobs_held_by_a_limit(db: Db) -> None:
    db.set_limit("1")
    ids = db.held(n=3)
    db.start(db.release())

    db.pause(PauseKind.TYPE, GATED, "deploy")

    assert [db.job(job_id).status_text for job_id in ids[1:]] == [
        "Paused: type tests.gated, by ann (deploy)"
    ] * 2
    db.gates.resume(PauseKind.TYPE, GATED, at=T0 + 2 * MIN, actor="bob")
    assert db.job(ids[1]).status_text == "Waiting to be released: type tests.gated resumed by bob"
    assert db.release() == []
    assert db.job(ids[1]).status_text == waiting("1")


def test_a_rate_limit_releases_at_most_n_per_window_and_more_after_it(db: Db) -> None:
    db.set_limit("2/min")
    ids = db.held(n=5)
    start = T0 + MIN

    assert db.release(now=start) == ids[:2]
    db.start(ids[:2])
    db.finish(ids[0])
    db.finish(ids[1])  # ended: a rate counts starts, not running jobs
    assert db.release(now=start + 30 * S) == []
    assert db.job(ids[2]).status_text == waiting("2/min")
    assert db.release(now=start + 59 * S) == []
    assert db.release(now=start + 61 * S) == ids[2:4]
    assert db.release(now=start + 90 * S) == []
    assert db.release(now=start + 122 * S) == ids[4:]


def test_a_rate_limit_prunes_the_starts_of_windows_gone_by(db: Db) -> None:
    db.set_limit("1/s")
    ids = db.held(n=4)

    for n in range(4):
        assert db.release(now=T0 + MIN + n * 2 * S) == [ids[n]]

    with db.runtime.engine.connect() as connection:
        starts = connection.execute(select(STARTS)).all()
    assert len(starts) == 1


def test_a_rate_limit_per_key_counts_each_key_in_its_own_window(db: Db) -> None:
    db.set_limit("1/min per customer_id")
    a1, a2 = db.held(n=2, customer_id="a")
    (b1,) = db.held(n=1, customer_id="b")
    start = T0 + MIN

    assert db.release(now=start) == [a1, b1]
    assert db.release(now=start + 30 * S) == []
    assert db.job(a2).status_text == waiting("1/min per customer_id", "a")
    assert db.release(now=start + 61 * S) == [a2]


def test_a_rate_and_a_concurrency_limit_together(db: Db) -> None:
    db.set_limit("1")
    db.set_limit("10/min")
    ids = db.held(n=3)

    assert db.release() == ids[:1]
    db.start(ids[:1])
    db.finish(ids[0])
    assert db.release(now=T0 + MIN + S) == ids[1:2]


def test_a_released_attempts_claim_passes_and_the_job_runs(db: Db) -> None:
    db.set_limit("1")
    (job_id,) = db.held(n=1)

    (due,) = db.held_jobs.release(GATED, now=T0 + MIN)

    assert (due.job_id, due.job_type, due.attempt, due.queue) == (job_id, GATED, 1, QUEUE)
    assert due.parameters == {}
    job = db.job(job_id)
    assert (job.status, job.held, job.status_text) == (JobStatus.CREATED, False, None)
    assert db.move(job_id, JobStatus.QUEUED, at=T0 + MIN) is not None  # the release's publish
    applied = db.claim(job_id)
    assert applied is not None
    assert db.job(job_id).status is JobStatus.PROCESSING
    assert db.claim(job_id) is None, "a duplicate delivery claimed it twice"
    db.finish(job_id)
    assert db.job(job_id).status is JobStatus.COMPLETED


def test_a_released_job_is_no_longer_held_and_the_outbox_may_publish_it(db: Db) -> None:
    db.set_limit("1")
    (job_id,) = db.held(n=1)
    db.release()

    found = db.runtime.jobs.oldest_in_status(JobStatus.CREATED)

    assert [job.id for job in found] == [job_id]


def test_cancelling_a_held_job_ends_it_cancelled_and_frees_nothing_it_did_not_hold(
    db: Db,
) -> None:
    db.set_limit("1")
    first, cancelled, last = db.held(n=3)

    status = db.runtime.writes.request_cancel(
        cancelled, at=T0 + MIN, actor="ann", cancel_running=False
    )

    assert status is JobStatus.CANCELLED
    job = db.job(cancelled)
    assert (job.status, job.held, job.status_text) == (
        JobStatus.CANCELLED,
        False,
        CANCELLED_BEFORE_START,
    )
    assert db.row(cancelled)["released"] is False
    assert db.release() == [first]
    db.start([first])
    db.finish(first)
    assert db.release() == [last]
    assert db.claim(cancelled) is None


def test_cancelling_a_released_job_that_had_not_started_frees_its_slot(db: Db) -> None:
    db.set_limit("1")
    released, waiting_one = db.held(n=2)
    assert db.release() == [released]

    db.runtime.writes.request_cancel(released, at=T0 + MIN, actor="ann", cancel_running=False)

    assert db.row(released)["released"] is False
    assert db.release() == [waiting_one]


def test_a_retry_clears_released_and_the_next_attempt_waits_for_a_slot_again(db: Db) -> None:
    db.set_limit("1")
    job_id, other = db.held(n=2, max_attempts=3)
    db.start(db.release())

    attempt = db.runtime.writes.reopen(
        Reopen(
            job_id=job_id,
            attempt=1,
            reason=ReopenReason.RETRY,
            at=T0 + 2 * MIN,
            message="attempt 2 of 3",
            failed=JobError(type="E", message="boom"),
            failed_message="attempt 1 of 3 failed",
        )
    )

    assert attempt == 2
    row = db.row(job_id)
    assert (row["status"], row["held"], row["released"]) == (int(JobStatus.CREATED), False, False)
    assert db.release() == [other], "the failed attempt kept its slot"
    db.move(job_id, JobStatus.QUEUED, attempt=2)
    assert db.claim(job_id, attempt=2) is None, "the next attempt skipped the limit"
    assert db.held_jobs.hold(job_id, 2, at=T0 + 3 * MIN) == waiting("1")


def test_a_rerun_of_a_cancelled_held_job_clears_held(db: Db) -> None:
    db.set_limit("1")
    (job_id,) = db.held(n=1)
    db.runtime.writes.request_cancel(job_id, at=T0 + MIN, actor="ann", cancel_running=False)

    attempt = db.runtime.writes.reopen(
        Reopen(job_id=job_id, attempt=1, reason=ReopenReason.RERUN, at=T0 + 2 * MIN, message="r")
    )

    assert attempt == 2
    row = db.row(job_id)
    assert (row["status"], row["held"], row["released"]) == (int(JobStatus.CREATED), False, False)


# -- limits changed while jobs are released ------------------------------------------------


def test_lowering_a_limit_takes_back_releases_of_jobs_not_started(db: Db) -> None:
    db.set_limit("3")
    ids = db.held(n=3)
    assert db.release() == ids
    db.start(ids[:1])

    db.set_limit("1")

    assert [db.row(job_id)["released"] for job_id in ids] == [True, False, False]
    assert db.claim(ids[1]) is None
    assert db.held_jobs.hold(ids[1], 1, at=T0 + 2 * MIN) == waiting("1")
    assert db.release() == []
    db.finish(ids[0])
    assert db.release() == [ids[1]]


def test_a_declared_limit_that_changes_takes_back_releases_too(db: Db) -> None:
    db.gates.sync_declared(GATED, [Limit.concurrency(2)], at=T0)
    ids = db.held(n=2)
    assert db.release() == ids

    db.gates.sync_declared(GATED, [Limit.concurrency(1)], at=T0 + S)

    assert [db.row(job_id)["released"] for job_id in ids] == [False, False]
    for job_id in ids:  # their messages come: the claims are refused, the jobs held
        assert db.refused_and_held(job_id) == waiting("1")
    assert db.release() == ids[:1]


# -- pause and resume ------------------------------------------------------------------------


def test_pause_and_resume_are_recorded_once(db: Db) -> None:
    assert db.gates.pause(PauseKind.QUEUE, QUEUE, at=T0, actor="ann", reason="migration")
    assert not db.gates.pause(PauseKind.QUEUE, QUEUE, at=T0 + S, actor="bob", reason=None)

    (pause,) = db.gates.pauses()
    assert (pause.kind, pause.target, pause.paused_at, pause.paused_by, pause.reason) == (
        PauseKind.QUEUE,
        QUEUE,
        T0,
        "ann",
        "migration",
    )
    assert db.gates.resume(PauseKind.QUEUE, QUEUE, at=T0 + S, actor="ann")
    assert not db.gates.resume(PauseKind.QUEUE, QUEUE, at=T0 + S, actor="ann")
    assert db.gates.pauses() == []


@pytest.mark.parametrize(("kind", "target"), [(PauseKind.QUEUE, QUEUE), (PauseKind.TYPE, FREE)])
def test_a_paused_job_is_not_released_and_resume_releases_all_in_order(
    db: Db, kind: PauseKind, target: str
) -> None:
    db.pause(kind, target)
    low = db.create(job_type=FREE)
    high = db.create(job_type=FREE, priority=9)
    old = db.create(job_type=FREE, at=T0 - MIN)
    for job_id in (low, high, old):
        db.refused_and_held(job_id)
    elsewhere = db.create(job_type=FREE, queue="other") if kind is PauseKind.QUEUE else None

    assert db.release(job_type=FREE) == []
    assert db.release(job_type=FREE, now=T0 + 60 * MIN) == []
    if elsewhere is not None:
        assert db.claim(elsewhere) is not None, "another queue's job was held"

    assert db.gates.resume(kind, target, at=T0 + 2 * MIN, actor="bob")
    resumed = f"Waiting to be released: {kind.value} {target} resumed by bob"
    assert {db.job(job_id).status_text for job_id in (low, high, old)} == {resumed}
    assert db.release(job_type=FREE, now=T0 + 2 * MIN) == [high, old, low]
    db.start([high, old, low])


def test_pausing_takes_back_releases_of_attempts_not_started(db: Db) -> None:
    db.set_limit("5")
    ids = db.held(n=3)
    assert db.release() == ids
    db.start(ids[:1])

    db.pause(PauseKind.QUEUE, QUEUE, "deploy")

    assert [db.row(job_id)["released"] for job_id in ids] == [True, False, False]
    for job_id in ids[1:]:
        assert db.refused_and_held(job_id) == "Paused: queue jobs, by ann (deploy)"
    assert db.release() == []
    db.finish(ids[0])
    assert db.release() == []

    db.gates.resume(PauseKind.QUEUE, QUEUE, at=T0 + 2 * MIN, actor="ann")
    assert db.release() == ids[1:]


def test_a_paused_type_refuses_even_a_claim_with_no_limit(db: Db) -> None:
    db.pause(PauseKind.TYPE, FREE)
    job_id = db.create(job_type=FREE)

    assert db.claim(job_id) is None
    assert db.held_jobs.hold(job_id, 1, at=T0 + MIN) == "Paused: type tests.free, by ann"
    assert db.held_jobs.held_types() == [FREE]


def test_a_limit_still_holds_after_resume(db: Db) -> None:
    db.set_limit("1")
    db.pause(PauseKind.TYPE, GATED)
    ids = db.held(n=3)

    db.gates.resume(PauseKind.TYPE, GATED, at=T0 + MIN, actor="ann")

    assert db.release() == ids[:1]
    assert db.job(ids[1]).status_text == waiting("1")


def test_a_schedule_pause_holds_no_jobs(db: Db) -> None:
    db.pause(PauseKind.SCHEDULE, FREE)
    job_id = db.create(job_type=FREE)

    assert db.claim(job_id) is not None


# -- releases racing on several connections (PostgreSQL) --------------------------------------


RACERS = 6
BATCH = 4
"""Held jobs one racer's round looks at: fewer than are held, so that racers' rounds see
different jobs (as with more held jobs than a round takes) and only the lock on the
type's limit rows keeps them from each taking the same free slots."""


@pytest.mark.parametrize(
    ("limits", "keys", "allowed"),
    [
        (["3"], ["a"] * 30, 3),
        (["4/min"], ["a"] * 30, 4),
        (["1 per customer_id"], ["a", "b", "c", "d"] * 8, 4),
        (["2", "1/min per customer_id"], ["a", "b", "c"] * 10, 2),
    ],
    ids=["concurrency", "rate", "per-key", "concurrency-and-rate-per-key"],
)
def test_releases_on_many_connections_at_once_never_exceed_the_limit(
    database_url: str, tmp_path: Path, limits: list[str], keys: list[str], allowed: int
) -> None:
    """Each racer is a worker's release round on its own engine (its own connections);
    the limit rows' lock serializes them, so the slots are handed out once in all."""
    runtime = Runtime(Settings(data_dir=tmp_path, database_url=database_url))
    db = Db(runtime)
    for limit in limits:
        db.set_limit(limit)
    for key in keys:
        db.refused_and_held(db.create(customer_id=key))
    engines = [make_engine(Settings(database_url=database_url)) for _ in range(RACERS)]
    for engine in engines:  # connected before the start, so they all start together
        engine.connect().close()
    stores = [HeldJobs(engine) for engine in engines]
    barrier = threading.Barrier(RACERS)
    released: list[uuid.UUID] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def race(store: HeldJobs) -> None:
        try:
            for round_ in range(5):
                barrier.wait(timeout=30)
                found = store.release(GATED, now=T0 + MIN + round_ * MS, batch=BATCH)
                with lock:
                    released.extend(due.job_id for due in found)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(store,)) for store in stores]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for engine in engines:
            engine.dispose()

    assert not errors, errors
    assert len(released) == len(set(released)) == allowed, Counter(released)
    per_key = Counter(db.job(job_id).parameters["customer_id"] for job_id in released)
    if any("per customer_id" in limit for limit in limits):
        assert set(per_key.values()) == {1}, per_key
    runtime.close()


@pytest.mark.parametrize("kind", [PauseKind.QUEUE, PauseKind.TYPE])
@pytest.mark.parametrize("after", range(1, 6), ids=lambda n: f"after-statement-{n}")
def test_a_pause_racing_a_release_round_still_holds_every_job_it_covers(
    database_url: str, tmp_path: Path, kind: PauseKind, after: int
) -> None:
    """A pause committed while a release round runs (its transaction stopped after each
    of its statements in turn): whichever goes first, no job of the paused queue or type
    is left released, so none starts while paused."""
    runtime = Runtime(Settings(data_dir=tmp_path, database_url=database_url))
    db = Db(runtime)
    db.set_limit("5")
    ids = db.held(n=3)
    engine = make_engine(Settings(database_url=database_url))
    executed = 0
    stopped = threading.Event()

    @event.listens_for(engine, "after_cursor_execute")
    def stop_here(*_: object) -> None:
        nonlocal executed
        executed += 1
        if executed == after:
            stopped.set()
            time.sleep(0.5)  # the pause goes ahead meanwhile, or waits for our locks

    found: list[uuid.UUID] = []
    round_ = threading.Thread(
        target=lambda: found.extend(
            due.job_id for due in HeldJobs(engine).release(GATED, now=T0 + MIN)
        )
    )
    round_.start()
    try:
        assert stopped.wait(timeout=10), f"the round ran fewer than {after} statements"
        db.pause(kind, QUEUE if kind is PauseKind.QUEUE else GATED)
    finally:
        round_.join(timeout=30)
        engine.dispose()

    paused = f"Paused: {kind.value} {QUEUE if kind is PauseKind.QUEUE else GATED}, by ann"
    for job_id in ids:
        assert db.row(job_id)["released"] is False, f"released while paused ({found})"
        assert db.refused_and_held(job_id) == paused
    assert db.release() == []
    runtime.close()
