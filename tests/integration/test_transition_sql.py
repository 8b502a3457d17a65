"""The forward-only rule as the job store's SQL, checked against the pure rule.

Every (row position x incoming transition) combination is set up on a fresh row with SQL
and applied through the lifecycle write path (``PostgresWrites`` on PostgreSQL, ``SqlWrites``
on SQLite); the outcome must be
what ``jobhub.lifecycle.applies``/``apply`` say, with one event per applied transition.
Also: claims of finished or already running attempts, and late duplicate signals.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, func, insert, select

from jobhub import Settings
from jobhub.db import migrate
from jobhub.db.engine import make_engine
from jobhub.db.models import JobEventRow, JobMessageRow, JobRow
from jobhub.db.pg_writes import PostgresWrites
from jobhub.db.sql_writes import SqlWrites
from jobhub.db.writes import Writes
from jobhub.jobs import STORED_STATUSES, TERMINAL_STATUSES, JobError, JobStatus, JSONValue
from jobhub.lifecycle import (
    MOVABLE_STATUSES,
    Applied,
    NewMessage,
    Position,
    Transition,
    applies,
    records_queued,
)
from jobhub.lifecycle import apply as apply_rule

JOBS = cast(Table, JobRow.__table__)
EVENTS = cast(Table, JobEventRow.__table__)
MESSAGES = cast(Table, JobMessageRow.__table__)
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)
PUBLISHED = T0 + timedelta(minutes=4)
BACKENDS = ("postgresql", "sqlite")


# -- a database of each backend for each test ----------------------------------------------


@dataclass
class Backend:
    """A write path under test and an engine to set rows up and read them back."""

    writes: Writes
    engine: Engine

    def apply(self, transitions: list[Transition]) -> list[bool]:
        return [applied is not None for applied in self.writes.write(transitions=transitions)]

    def claim(self, transition: Transition) -> Applied | None:
        return self.writes.write(transitions=[transition])[0]


@pytest.fixture
def postgresql_store(database_url: str) -> Iterator[Backend]:
    """This test's own migrated PostgreSQL database, written through ``PostgresWrites``."""
    engine = make_engine(Settings(database_url=database_url))
    writes = PostgresWrites(database_url, connect_timeout=5)
    yield Backend(writes, engine)
    writes.close()
    engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Backend]:
    """This test's own SQLite file, migrated, written through ``SqlWrites``."""
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/x.sqlite3")
    engine = make_engine(settings)
    migrate.upgrade(engine)
    yield Backend(SqlWrites(engine), engine)
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> Backend:
    return cast(Backend, request.getfixturevalue(f"{request.param}_store"))


# -- rows set up with SQL ------------------------------------------------------------------


def insert_job(
    store: Backend,
    *,
    attempt: int,
    status: JobStatus,
    queued: bool,
    worker_id: str | None = None,
    result: JSONValue = None,
) -> uuid.UUID:
    """A job row at exactly this position, with no events."""
    job_id = uuid.uuid4()
    started = status >= JobStatus.PROCESSING
    with store.engine.begin() as connection:
        connection.execute(
            insert(JOBS).values(
                id=job_id,
                job_type="diagnostics.echo",
                category="Diagnostics",
                subcategory="Echo",
                description="set up by SQL",
                parameters={"message": "hi"},
                identity="alice",
                organization="acme",
                status=int(status),
                percent=100 if status is JobStatus.COMPLETED else 0,
                attempt=attempt,
                worker_id=worker_id if worker_id is not None else ("w0" if started else None),
                result=result,
                can_cancel=True,
                can_rerun=True,
                created_at=T0,
                queued_at=T0 if queued else None,
                started_at=T0 if started else None,
                updated_at=T0,
                completed_at=T0 if status.is_terminal else None,
                purge_at=T0 + timedelta(days=30),
            )
        )
    return job_id


def read_row(store: Backend, job_id: uuid.UUID) -> dict[str, Any]:
    with store.engine.connect() as connection:
        row = connection.execute(select(JOBS).where(JOBS.c.id == job_id)).one()
    return dict(row._mapping)


def read_events(store: Backend, job_id: uuid.UUID) -> list[tuple[int, int, str | None]]:
    """(attempt, status, worker id) of each event of the job, oldest first."""
    statement = (
        select(EVENTS.c.attempt, EVENTS.c.status, EVENTS.c.worker_id)
        .where(EVENTS.c.job_id == job_id)
        .order_by(EVENTS.c.id)
    )
    with store.engine.connect() as connection:
        return [(r.attempt, r.status, r.worker_id) for r in connection.execute(statement)]


def count_events(store: Backend, job_id: uuid.UUID) -> int:
    statement = select(func.count()).select_from(EVENTS).where(EVENTS.c.job_id == job_id)
    with store.engine.connect() as connection:
        return int(connection.execute(statement).scalar_one())


# -- the whole table -------------------------------------------------------------------------

POSITIONS = [
    Position(attempt, status, queued)
    for attempt, status, queued in itertools.product((1, 2), sorted(STORED_STATUSES), (False, True))
]
INCOMING = [
    (attempt, status, hinted)
    for attempt, status in itertools.product((1, 2, 3), sorted(MOVABLE_STATUSES))
    for hinted in ((False, True) if status is not JobStatus.QUEUED else (False,))
]
"""(attempt, status, whether it carries its message's publish time)."""


def _describe(position: Position) -> str:
    queued = "queued_at set" if position.queued_recorded else "queued_at null"
    return f"(attempt {position.attempt}, {position.status.label}, {queued})"


@pytest.mark.parametrize("together", [False, True], ids=["one-by-one", "one-batch"])
def test_sql_guard_agrees_with_the_pure_rule_on_every_combination(
    store: Backend, together: bool
) -> None:
    """Each combination alone (one-row statement) and all at once (one batch statement)."""
    assert len(POSITIONS) * len(INCOMING) == 648
    cases = []
    for current, (attempt, status, hinted) in itertools.product(POSITIONS, INCOMING):
        job_id = insert_job(
            store,
            attempt=current.attempt,
            status=current.status,
            queued=current.queued_recorded,
        )
        transition = Transition(
            job_id=job_id,
            attempt=attempt,
            status=status,
            at=LATER,
            worker_id="w1",
            queued_at=PUBLISHED if hinted else None,
        )
        cases.append((current, transition))
    transitions = [transition for _, transition in cases]
    if together:
        outcomes = store.apply(transitions)
    else:
        outcomes = [store.apply([transition])[0] for transition in transitions]

    mismatches: list[str] = []
    for (current, transition), applied in zip(cases, outcomes, strict=True):
        attempt, status = transition.attempt, transition.status
        expected_applied = applies(current, transition)
        expected = apply_rule(current, transition)
        expected_queued = records_queued(current, transition)
        row = read_row(store, transition.job_id)
        got = Position(row["attempt"], JobStatus(row["status"]), row["queued_at"] is not None)
        events = read_events(store, transition.job_id)
        expected_events = [(attempt, int(status), "w1")] if expected_applied else []
        if expected_queued:
            expected_events.insert(0, (attempt, int(JobStatus.QUEUED), None))
        hinted = " hinted" if transition.queued_at else ""
        case = f"{_describe(current)} + {status.label}@{attempt}{hinted}"
        if applied != expected_applied:
            mismatches.append(f"{case}: applied={applied}, rule says {expected_applied}")
        if got != expected:
            mismatches.append(f"{case}: row is {_describe(got)}, rule says {_describe(expected)}")
        if events != expected_events:
            mismatches.append(f"{case}: events {events}, expected {expected_events}")
        if expected_queued and row["queued_at"] != PUBLISHED:
            mismatches.append(f"{case}: queued_at {row['queued_at']}, expected the hint")
    assert not mismatches, f"{len(mismatches)} disagreements:\n" + "\n".join(mismatches)


def test_batch_of_transitions_applies_in_order_in_one_call(store: Backend) -> None:
    job_id = insert_job(store, attempt=1, status=JobStatus.CREATED, queued=False)
    steps = [
        Transition(job_id=job_id, attempt=1, status=JobStatus.QUEUED, at=LATER),
        Transition(job_id=job_id, attempt=1, status=JobStatus.PROCESSING, at=LATER, worker_id="w1"),
        Transition(job_id=job_id, attempt=1, status=JobStatus.PROCESSING, at=LATER),
        Transition(job_id=job_id, attempt=1, status=JobStatus.COMPLETED, at=LATER, result={"n": 1}),
        Transition(job_id=job_id, attempt=1, status=JobStatus.CANCELLED, at=LATER),
    ]

    assert store.apply(steps) == [True, True, False, True, False]

    row = read_row(store, job_id)
    assert row["status"] == int(JobStatus.COMPLETED)
    assert row["result"] == {"n": 1}
    assert row["percent"] == 100
    assert [status for _, status, _ in read_events(store, job_id)] == [1, 2, 3]


# -- claims ----------------------------------------------------------------------------------


def test_claim_of_a_queued_job_starts_it_and_reports_who_submitted_it(store: Backend) -> None:
    job_id = insert_job(store, attempt=1, status=JobStatus.QUEUED, queued=True)

    claim = store.claim(
        Transition(job_id=job_id, attempt=1, status=JobStatus.PROCESSING, at=LATER, worker_id="w1")
    )

    assert claim is not None
    assert (claim.job_id, claim.attempt) == (job_id, 1)
    assert (claim.identity, claim.organization) == ("alice", "acme")
    row = read_row(store, job_id)
    assert row["status"] == int(JobStatus.PROCESSING)
    assert row["worker_id"] == "w1"
    assert row["started_at"] == LATER
    assert read_events(store, job_id) == [(1, int(JobStatus.PROCESSING), "w1")]


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATUSES), ids=lambda s: s.label)
@pytest.mark.parametrize("attempt", [1, 2], ids=["same-attempt", "newer-attempt"])
def test_claim_of_a_finished_job_is_refused_and_changes_nothing(
    store: Backend, terminal: JobStatus, attempt: int
) -> None:
    job_id = insert_job(store, attempt=1, status=terminal, queued=True, worker_id="w0")
    before = read_row(store, job_id)

    claim = store.claim(
        Transition(
            job_id=job_id, attempt=attempt, status=JobStatus.PROCESSING, at=LATER, worker_id="w9"
        )
    )

    assert claim is None
    assert read_row(store, job_id) == before
    assert count_events(store, job_id) == 0


def test_duplicate_delivery_cannot_claim_a_job_already_processing_at_that_attempt(
    store: Backend,
) -> None:
    job_id = insert_job(store, attempt=1, status=JobStatus.PROCESSING, queued=True, worker_id="w1")
    before = read_row(store, job_id)

    claim = store.claim(
        Transition(job_id=job_id, attempt=1, status=JobStatus.PROCESSING, at=LATER, worker_id="w2")
    )

    assert claim is None
    after = read_row(store, job_id)
    assert after == before
    assert after["worker_id"] == "w1"
    assert count_events(store, job_id) == 0


def test_applied_transition_reports_the_status_it_carried(store: Backend) -> None:
    job_id = insert_job(store, attempt=1, status=JobStatus.PROCESSING, queued=True)

    applied = store.claim(
        Transition(job_id=job_id, attempt=1, status=JobStatus.COMPLETED, at=LATER, result=[1])
    )

    assert applied is not None
    assert applied.status is JobStatus.COMPLETED
    assert read_row(store, job_id)["result"] == [1]


def test_late_duplicate_processing_after_completed_changes_nothing(store: Backend) -> None:
    job_id = insert_job(
        store,
        attempt=1,
        status=JobStatus.COMPLETED,
        queued=True,
        worker_id="w1",
        result={"done": True},
    )
    before = read_row(store, job_id)

    applied = store.apply(
        [
            Transition(
                job_id=job_id,
                attempt=1,
                status=JobStatus.PROCESSING,
                at=LATER,
                worker_id="w2",
                message="started late",
            )
        ]
    )

    assert applied == [False]
    after = read_row(store, job_id)
    assert after["status"] == int(JobStatus.COMPLETED)
    assert after["completed_at"] == before["completed_at"] == T0
    assert after["worker_id"] == "w1"
    assert after["result"] == {"done": True}
    assert after == before
    assert count_events(store, job_id) == 0


def test_one_batch_carries_each_job_its_own_result_error_and_text(store: Backend) -> None:
    done = insert_job(store, attempt=1, status=JobStatus.PROCESSING, queued=True)
    failed = insert_job(store, attempt=1, status=JobStatus.PROCESSING, queued=True)
    error = JobError(type="ValueError", message="bad", traceback="Traceback ...")

    outcome = store.apply(
        [
            Transition(
                job_id=done,
                attempt=1,
                status=JobStatus.COMPLETED,
                at=LATER,
                result={"rows": [1, 2], "note": "ünïcode"},
                message="all done",
            ),
            Transition(
                job_id=failed,
                attempt=1,
                status=JobStatus.COMPLETED_WITH_ERRORS,
                at=LATER,
                error=error,
            ),
        ]
    )

    assert outcome == [True, True]
    row = read_row(store, done)
    assert row["result"] == {"rows": [1, 2], "note": "ünïcode"}
    assert row["status_text"] == "all done"
    assert row["percent"] == 100
    row = read_row(store, failed)
    assert (row["error_type"], row["error_message"], row["error_traceback"]) == (
        "ValueError",
        "bad",
        "Traceback ...",
    )
    assert row["result"] is None


def test_messages_in_one_write_keep_their_order(store: Backend) -> None:
    job_id = insert_job(store, attempt=1, status=JobStatus.PROCESSING, queued=True)
    texts = [f"message {n}" for n in range(25)]

    store.writes.write(
        messages=[
            NewMessage(job_id=job_id, attempt=1, at=LATER, level="info", text=text)
            for text in texts
        ]
    )

    statement = select(MESSAGES.c.text).where(MESSAGES.c.job_id == job_id).order_by(MESSAGES.c.id)
    with store.engine.connect() as connection:
        assert [row.text for row in connection.execute(statement)] == texts
