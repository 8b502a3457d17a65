"""Every implementation of the write interface, checked against the pure rule.

Every (row position x incoming transition) combination is set up on a fresh row and
applied through the lifecycle write path (``PostgresWrites`` on PostgreSQL, ``SqlWrites``
on SQLite, ``MemoryStore`` in memory); the outcome must be what
``jobhub.lifecycle.applies``/``apply`` say, with one event per applied transition. Also:
claims of finished or already running attempts, late duplicate signals, and the other
changes of status (cancel requests, reopening, the outbox's take) on all three.
"""

from __future__ import annotations

import abc
import dataclasses
import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, insert, select

from jobhub import Settings
from jobhub.db import migrate
from jobhub.db.engine import make_engine
from jobhub.db.memory import MemoryStore
from jobhub.db.models import JobEventRow, JobMessageRow, JobRow
from jobhub.db.pg_writes import PostgresWrites
from jobhub.db.sql_writes import SqlWrites
from jobhub.db.writes import Writes
from jobhub.errors import KeyConflict
from jobhub.jobs import (
    STORED_STATUSES,
    TERMINAL_STATUSES,
    AccessScope,
    Job,
    JobError,
    JobStatus,
    JSONValue,
)
from jobhub.lifecycle import (
    ATTEMPT_RESET,
    CANCELLED_BEFORE_START,
    MOVABLE_STATUSES,
    Applied,
    NewMessage,
    Position,
    Reopen,
    ReopenReason,
    RunnerReport,
    Transition,
    applies,
    can_reopen,
    cancel_outcome,
    records_queued,
)
from jobhub.lifecycle import apply as apply_rule
from tests.support.rows import echo_row

JOBS = cast(Table, JobRow.__table__)
EVENTS = cast(Table, JobEventRow.__table__)
MESSAGES = cast(Table, JobMessageRow.__table__)
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)
PUBLISHED = T0 + timedelta(minutes=4)
BACKENDS = ("postgresql", "sqlite", "memory")


# -- each implementation of the write interface, on a store of its own -----------------------


class Backend(abc.ABC):
    """A write path under test, and a way to set rows up and read them back."""

    writes: Writes

    def apply(self, transitions: list[Transition]) -> list[bool]:
        return [applied is not None for applied in self.writes.write(transitions=transitions)]

    def claim(self, transition: Transition) -> Applied | None:
        return self.writes.write(transitions=[transition])[0]

    @abc.abstractmethod
    def put(self, job: Job) -> None:
        """Set the job's row exactly so, with no events."""

    @abc.abstractmethod
    def row(self, job_id: uuid.UUID) -> dict[str, Any] | None:
        """The job's row by column (None when there is none)."""

    @abc.abstractmethod
    def events(self, job_id: uuid.UUID) -> list[tuple[int, int, str | None, str | None]]:
        """(attempt, status, worker id, message) of each event, in the order written."""

    @abc.abstractmethod
    def message_texts(self, job_id: uuid.UUID) -> list[str]: ...


class SqlBackend(Backend):
    def __init__(self, writes: Writes, engine: Engine) -> None:
        self.writes = writes
        self.engine = engine

    def put(self, job: Job) -> None:
        with self.engine.begin() as connection:
            connection.execute(insert(JOBS).values(**_columns(job)))

    def row(self, job_id: uuid.UUID) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(JOBS).where(JOBS.c.id == job_id)).first()
        return None if row is None else dict(row._mapping)

    def events(self, job_id: uuid.UUID) -> list[tuple[int, int, str | None, str | None]]:
        statement = (
            select(EVENTS.c.attempt, EVENTS.c.status, EVENTS.c.worker_id, EVENTS.c.message)
            .where(EVENTS.c.job_id == job_id)
            .order_by(EVENTS.c.id)
        )
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(statement)]  # type: ignore[misc]

    def message_texts(self, job_id: uuid.UUID) -> list[str]:
        statement = (
            select(MESSAGES.c.text).where(MESSAGES.c.job_id == job_id).order_by(MESSAGES.c.id)
        )
        with self.engine.connect() as connection:
            return [row.text for row in connection.execute(statement)]


class MemoryBackend(Backend):
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.writes = self.store

    def put(self, job: Job) -> None:
        self.store.put(job)

    def row(self, job_id: uuid.UUID) -> dict[str, Any] | None:
        found = [job for job in self.store.jobs() if job.id == job_id]
        return _columns(found[0]) if found else None

    def events(self, job_id: uuid.UUID) -> list[tuple[int, int, str | None, str | None]]:
        return [
            (e.attempt, int(e.status), e.worker_id, e.message) for e in self.store.events(job_id)
        ]

    def message_texts(self, job_id: uuid.UUID) -> list[str]:
        return [message.text for message in self.store.messages(job_id)]


def _columns(job: Job) -> dict[str, Any]:
    """A ``Job`` as the columns of its row."""
    values = {field.name: getattr(job, field.name) for field in dataclasses.fields(Job)}
    error = values.pop("error")
    values["concurrency_key"] = values.pop("key")
    values["status"] = int(job.status)
    values["access_scope"] = job.access_scope.value
    values["parameters"] = dict(job.parameters)
    values["error_type"] = error.type if error else None
    values["error_message"] = error.message if error else None
    values["error_traceback"] = error.traceback if error else None
    values["released"] = False  # a slot under limits (jobhub.gates), not part of the value
    return values


@pytest.fixture
def postgresql_store(database_url: str) -> Iterator[Backend]:
    """This test's own migrated PostgreSQL database, written through ``PostgresWrites``."""
    engine = make_engine(Settings(database_url=database_url))
    writes = PostgresWrites(database_url, connect_timeout=5)
    yield SqlBackend(writes, engine)
    writes.close()
    engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Backend]:
    """This test's own SQLite file, migrated, written through ``SqlWrites``."""
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/x.sqlite3")
    engine = make_engine(settings)
    migrate.upgrade(engine)
    yield SqlBackend(SqlWrites(engine), engine)
    engine.dispose()


@pytest.fixture
def memory_store() -> Backend:
    """The in-memory twin (``jobhub.db.memory``)."""
    return MemoryBackend()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> Backend:
    return cast(Backend, request.getfixturevalue(f"{request.param}_store"))


# -- rows set up directly --------------------------------------------------------------------


def make_job(
    *,
    attempt: int,
    status: JobStatus,
    queued: bool,
    worker_id: str | None = None,
    result: JSONValue = None,
    key: str | None = None,
) -> Job:
    """A job at exactly this position."""
    started = status >= JobStatus.PROCESSING
    return Job(
        id=uuid.uuid4(),
        job_type="diagnostics.echo",
        category="Diagnostics",
        subcategory="Echo",
        description="set up directly",
        parameters={"message": "hi"},
        identity="alice",
        organization="acme",
        client_request_id=None,
        key=key,
        status=status,
        status_text=None,
        percent=100 if status is JobStatus.COMPLETED else 0,
        worker_id=worker_id if worker_id is not None else ("w0" if started else None),
        attempt=attempt,
        result=result,
        error=None,
        can_cancel=True,
        can_rerun=True,
        cancel_requested_at=None,
        created_at=T0,
        queued_at=T0 if queued else None,
        started_at=T0 if started else None,
        updated_at=T0,
        completed_at=T0 if status.is_terminal else None,
        purge_at=T0 + timedelta(days=30),
        created_by="alice",
        modified_by="alice",
    )


def insert_job(store: Backend, **position: Any) -> uuid.UUID:
    """A job row at exactly this position, with no events."""
    job = make_job(**position)
    store.put(job)
    return job.id


def read_row(store: Backend, job_id: uuid.UUID) -> dict[str, Any]:
    row = store.row(job_id)
    assert row is not None
    return row


def read_events(store: Backend, job_id: uuid.UUID) -> list[tuple[int, int, str | None]]:
    """(attempt, status, worker id) of each event of the job, oldest first."""
    return [(attempt, status, worker) for attempt, status, worker, _ in store.events(job_id)]


def count_events(store: Backend, job_id: uuid.UUID) -> int:
    return len(store.events(job_id))


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

    assert store.message_texts(job_id) == texts


# -- cancel requests --------------------------------------------------------------------------


@pytest.mark.parametrize("status", sorted(STORED_STATUSES), ids=lambda s: s.label)
@pytest.mark.parametrize("cancel_running", [True, False], ids=["cancellable", "not-cancellable"])
def test_cancel_request_lands_as_the_pure_rule_says(
    store: Backend, status: JobStatus, cancel_running: bool
) -> None:
    job_id = insert_job(store, attempt=1, status=status, queued=status > JobStatus.CREATED)
    before = read_row(store, job_id)

    after_status = store.writes.request_cancel(
        job_id, at=LATER, actor="bob", cancel_running=cancel_running
    )

    outcome = cancel_outcome(status, cancel_running)
    row = read_row(store, job_id)
    if outcome is None:
        assert after_status is None
        assert row == before
        assert store.events(job_id) == []
    elif outcome.cancel_now:
        assert after_status is JobStatus.CANCELLED
        assert row["status"] == int(JobStatus.CANCELLED)
        assert (row["completed_at"], row["status_text"]) == (LATER, CANCELLED_BEFORE_START)
        assert row["cancel_requested_at"] == LATER
        assert store.events(job_id) == [(1, int(JobStatus.CANCELLED), None, "cancelled")]
    else:
        assert after_status is JobStatus.PROCESSING
        assert row["status"] == int(JobStatus.PROCESSING)
        assert row["cancel_requested_at"] == LATER
        assert store.writes.cancel_requested(job_id)
        assert store.events(job_id) == [(1, int(JobStatus.PROCESSING), None, "cancel requested")]
    if outcome is not None:
        assert row["modified_by"] == "bob"


# -- reopening: a rerun, or a lost worker's job queued again -----------------------------------


@pytest.mark.parametrize("status", sorted(STORED_STATUSES), ids=lambda s: s.label)
@pytest.mark.parametrize("reason", list(ReopenReason), ids=lambda r: r.name)
def test_reopen_applies_only_where_the_pure_rule_allows_and_resets_the_attempt(
    store: Backend, status: JobStatus, reason: ReopenReason
) -> None:
    job = make_job(attempt=1, status=status, queued=True, result={"old": True})
    job = dataclasses.replace(
        job,
        status_text="old text",
        error=JobError(type="E", message="old", traceback="tb"),
        # a retry needs no cancel requested and attempts left (see test_retry_writes.py)
        cancel_requested_at=T0 if reason is ReopenReason.RERUN else None,
        retries=1,
        max_attempts=3,
    )
    store.put(job)
    before = read_row(store, job.id)
    purge = LATER + timedelta(days=30)

    attempt = store.writes.reopen(
        Reopen(
            job_id=job.id,
            attempt=1,
            reason=reason,
            at=LATER,
            message="again",
            actor="carol",
            purge_at=purge,
        )
    )

    row = read_row(store, job.id)
    if not can_reopen(status, reason):
        assert attempt is None
        assert row == before
        assert store.events(job.id) == []
        return
    assert attempt == 2
    assert (row["status"], row["attempt"], row["updated_at"]) == (0, 2, LATER)
    assert {column: row[column] for column in ATTEMPT_RESET} == dict(ATTEMPT_RESET)
    assert store.events(job.id) == [(2, int(JobStatus.CREATED), None, "again")]
    if reason is ReopenReason.RERUN:
        assert (row["retries"], row["cancel_requested_at"]) == (0, None)
        assert (row["modified_by"], row["purge_at"]) == ("carol", purge)
    else:
        assert (row["retries"], row["cancel_requested_at"]) == (2, None)
        assert (row["modified_by"], row["purge_at"]) == ("alice", before["purge_at"])


def test_only_one_of_two_reopens_of_the_same_attempt_applies(store: Backend) -> None:
    job = make_job(attempt=1, status=JobStatus.PROCESSING, queued=True)
    store.put(dataclasses.replace(job, max_attempts=3))
    job_id = job.id
    reopen = Reopen(
        job_id=job_id, attempt=1, reason=ReopenReason.WORKER_LOST, at=LATER, message="lost"
    )

    assert [store.writes.reopen(reopen), store.writes.reopen(reopen)] == [2, None]
    assert read_row(store, job_id)["retries"] == 1


def test_rerun_of_a_job_whose_key_another_active_job_holds_is_a_key_conflict(
    store: Backend,
) -> None:
    ended = make_job(attempt=1, status=JobStatus.COMPLETED, queued=True, key="nightly")
    store.put(ended)
    store.put(make_job(attempt=1, status=JobStatus.QUEUED, queued=True, key="nightly"))
    before = read_row(store, ended.id)

    with pytest.raises(KeyConflict):
        store.writes.reopen(
            Reopen(job_id=ended.id, attempt=1, reason=ReopenReason.RERUN, at=LATER, message="x")
        )

    assert read_row(store, ended.id) == before


# -- creating a job ---------------------------------------------------------------------------


@pytest.mark.parametrize("housekeeping", [False, True], ids=["users", "housekeeping"])
def test_create_records_the_row_its_value_describes(store: Backend, housekeeping: bool) -> None:
    new = dataclasses.replace(
        echo_row(T0),
        identity="alice",
        organization="acme",
        client_request_id="req-1",
        key="nightly",
        created_by="alice",
        access_scope=AccessScope.PRIVATE,
        housekeeping=housekeeping,
    )

    assert store.writes.create(new) is True

    assert read_row(store, new.id) == _columns(new.as_job())
    assert store.events(new.id) == [(1, int(JobStatus.CREATED), None, None)]


# -- the outbox's take, and a start whose publish failed ---------------------------------------


def test_of_two_takes_of_a_stranded_job_only_the_first_succeeds(store: Backend) -> None:
    job = make_job(attempt=1, status=JobStatus.CREATED, queued=False)
    store.put(job)

    first = store.writes.take_for_publish(job, at=LATER, why="stranded")
    second = store.writes.take_for_publish(job, at=LATER, why="stranded")

    assert (first, second) == (True, False)
    assert read_row(store, job.id)["updated_at"] == LATER
    assert store.events(job.id) == [(1, int(JobStatus.CREATED), None, "stranded")]


@pytest.mark.parametrize(
    ("status", "attempt", "kept"),
    [(JobStatus.CREATED, 1, False), (JobStatus.QUEUED, 1, True), (JobStatus.CREATED, 2, True)],
    ids=["unpublished", "published", "reopened"],
)
def test_only_a_job_never_published_is_discarded(
    store: Backend, status: JobStatus, attempt: int, kept: bool
) -> None:
    job_id = insert_job(store, attempt=attempt, status=status, queued=status > JobStatus.CREATED)

    store.writes.discard_unpublished(job_id)

    assert (store.row(job_id) is not None) is kept


# -- a runner elsewhere's report -------------------------------------------------------------


def _report(job_id: uuid.UUID, attempt: int, runner: str, **values: Any) -> RunnerReport:
    return RunnerReport(job_id=job_id, attempt=attempt, runner=runner, at=LATER, **values)


def test_a_runners_report_lands_whole_while_it_holds_the_attempt(store: Backend) -> None:
    job_id = insert_job(store, attempt=2, status=JobStatus.PROCESSING, queued=False, worker_id="r1")

    applied = store.writes.report(
        _report(job_id, 2, "r1", percent=40, status_text="copying", message="half way")
    )
    heartbeat = store.writes.report(_report(job_id, 2, "r1"))

    assert (applied, heartbeat) == (True, True)
    row = read_row(store, job_id)
    assert (row["percent"], row["status_text"], row["updated_at"]) == (40, "copying", LATER)
    assert store.message_texts(job_id) == ["half way"]
    assert store.events(job_id) == []  # a report is no transition


@pytest.mark.parametrize(
    ("status", "attempt", "runner"),
    [
        (JobStatus.PROCESSING, 2, "r2"),
        (JobStatus.PROCESSING, 1, "r1"),
        (JobStatus.CREATED, 2, "r1"),
        (JobStatus.COMPLETED, 2, "r1"),
    ],
    ids=["another-runner", "older-attempt", "not-claimed", "ended"],
)
def test_a_report_not_from_the_attempts_runner_writes_nothing(
    store: Backend, status: JobStatus, attempt: int, runner: str
) -> None:
    job_id = insert_job(store, attempt=2, status=status, queued=False, worker_id="r1")
    before = read_row(store, job_id)

    applied = store.writes.report(
        _report(job_id, attempt, runner, percent=90, status_text="late", message="late")
    )

    assert applied is False
    assert read_row(store, job_id) == before
    assert store.message_texts(job_id) == []
