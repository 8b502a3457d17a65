"""Retries and due times through every implementation of the write interface.

The same checks on ``PostgresWrites`` (PostgreSQL), ``SqlWrites`` (SQLite) and
``MemoryStore``, with the backends of ``test_transition_sql``: a retry reopens a job only
at Processing of that attempt, with attempts left and no cancel requested, and keeps the
failed attempt's error in its own event; ``take_due`` takes only waiting jobs whose time
has come, and of several takers exactly one gets each; ``start_now``, a cancel and the
outbox's look at Created treat waiting jobs as the pure rules say.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from jobhub import Settings
from jobhub.db.engine import make_engine
from jobhub.db.job_store import JobStore
from jobhub.db.pg_writes import PostgresWrites
from jobhub.db.sql_writes import SqlWrites
from jobhub.db.writes import JobLookups, Writes
from jobhub.jobs import STORED_STATUSES, Job, JobError, JobEvent, JobStatus
from jobhub.lifecycle import (
    ATTEMPT_RESET,
    CANCELLED_BEFORE_START,
    Due,
    Reopen,
    ReopenReason,
    Transition,
)
from tests.integration import test_transition_sql as agreement
from tests.integration.test_transition_sql import (
    LATER,
    T0,
    Backend,
    MemoryBackend,
    SqlBackend,
    make_job,
    read_row,
)
from tests.support.rows import echo_row

# the backends (one store per test), shared with the transition table's agreement tests
postgresql_store = agreement.postgresql_store
sqlite_store = agreement.sqlite_store
memory_store = agreement.memory_store
store = agreement.store

NOW = LATER
RETRIES = [ReopenReason.RETRY, ReopenReason.WORKER_LOST]
BOOM = JobError(type="FlakyError", message="attempt 2 fails", traceback="Traceback: boom")


def lookups(store: Backend) -> JobLookups:
    """The read side of the same store."""
    if isinstance(store, MemoryBackend):
        return store.store
    return JobStore(cast(SqlBackend, store).engine)


def history(store: Backend, job_id: uuid.UUID) -> list[JobEvent]:
    if isinstance(store, MemoryBackend):
        return store.store.events(job_id)
    return JobStore(cast(SqlBackend, store).engine).events(job_id)


def put(store: Backend, **changes: Any) -> Job:
    """A job at ``changes`` (Created, never published, unless told), with no events."""
    position = {key: changes.pop(key) for key in ("attempt", "status", "queued") if key in changes}
    position.setdefault("attempt", 1)
    position.setdefault("status", JobStatus.CREATED)
    position.setdefault("queued", position["status"] > JobStatus.CREATED)
    job = dataclasses.replace(make_job(**position), **changes)
    store.put(job)
    return job


# -- a retry: the failed attempt's event, the next attempt waiting ------------------------------


SITUATIONS = ("attempts left", "last attempt", "cancel requested", "another attempt")


@pytest.mark.parametrize("situation", SITUATIONS)
@pytest.mark.parametrize("status", sorted(STORED_STATUSES), ids=lambda s: s.label)
@pytest.mark.parametrize("reason", RETRIES, ids=lambda r: r.name)
def test_retry_reopens_only_a_processing_attempt_with_attempts_left_and_no_cancel(
    store: Backend, reason: ReopenReason, status: JobStatus, situation: str
) -> None:
    job = put(
        store,
        attempt=2,
        status=status,
        queued=True,
        retries=1,
        max_attempts=2 if situation == "last attempt" else 3,
        cancel_requested_at=T0 if situation == "cancel requested" else None,
        status_text="working",
        percent=40,
    )
    before = read_row(store, job.id)
    due = NOW + timedelta(seconds=2)

    attempt = store.writes.reopen(
        Reopen(
            job_id=job.id,
            attempt=1 if situation == "another attempt" else 2,
            reason=reason,
            at=NOW,
            message="attempt 3 of 3 at 12:05:02 UTC",
            failed=BOOM,
            failed_message="attempt 2 of 3 failed: FlakyError: attempt 2 fails",
            due_at=due,
            status_text="attempt 3 of 3 at 12:05:02 UTC",
        )
    )

    row = read_row(store, job.id)
    if status is not JobStatus.PROCESSING or situation != "attempts left":
        assert attempt is None
        assert row == before
        assert store.events(job.id) == []
        return
    assert attempt == 3
    assert (row["status"], row["attempt"], row["retries"]) == (0, 3, 2)
    assert (row["due_at"], row["updated_at"]) == (due, NOW)
    assert row["status_text"] == "attempt 3 of 3 at 12:05:02 UTC"
    reset = {column: value for column, value in ATTEMPT_RESET.items() if column != "status_text"}
    assert {column: row[column] for column in reset} == reset
    assert (row["max_attempts"], row["cancel_requested_at"]) == (3, None)
    assert store.events(job.id) == [
        (
            2,
            int(JobStatus.COMPLETED_WITH_ERRORS),
            None,
            "attempt 2 of 3 failed: FlakyError: attempt 2 fails",
        ),
        (3, int(JobStatus.CREATED), None, "attempt 3 of 3 at 12:05:02 UTC"),
    ]
    assert [event.error for event in history(store, job.id)] == [BOOM, None]
    waiting = lookups(store).get(job.id)
    assert waiting.waiting
    assert (waiting.attempt_in_run, waiting.max_attempts, waiting.due_at) == (3, 3, due)


def test_a_retry_without_an_error_records_only_the_next_attempt(store: Backend) -> None:
    job = put(store, status=JobStatus.PROCESSING, max_attempts=2)

    attempt = store.writes.reopen(
        Reopen(job_id=job.id, attempt=1, reason=ReopenReason.WORKER_LOST, at=NOW, message="lost")
    )

    assert attempt == 2
    assert store.events(job.id) == [(2, int(JobStatus.CREATED), None, "lost")]
    assert read_row(store, job.id)["due_at"] is None


def test_a_rerun_clears_a_due_time_and_starts_the_run_afresh(store: Backend) -> None:
    job = put(store, status=JobStatus.COMPLETED_WITH_ERRORS, retries=2, max_attempts=3, due_at=T0)

    assert (
        store.writes.reopen(
            Reopen(job_id=job.id, attempt=1, reason=ReopenReason.RERUN, at=NOW, message="rerun")
        )
        == 2
    )

    row = read_row(store, job.id)
    assert (row["status"], row["retries"], row["due_at"], row["max_attempts"]) == (0, 0, None, 3)


@pytest.mark.parametrize("together", [False, True], ids=["one-by-one", "one-batch"])
def test_the_event_of_a_failed_attempt_keeps_its_error(store: Backend, together: bool) -> None:
    failed = put(store, status=JobStatus.PROCESSING)
    done = put(store, status=JobStatus.PROCESSING)
    transitions = [
        Transition(
            job_id=failed.id,
            attempt=1,
            status=JobStatus.COMPLETED_WITH_ERRORS,
            at=NOW,
            error=BOOM,
        ),
        Transition(job_id=done.id, attempt=1, status=JobStatus.COMPLETED, at=NOW, result=1),
    ]

    if together:
        assert store.apply(transitions) == [True, True]
    else:
        assert [store.apply([t])[0] for t in transitions] == [True, True]

    assert [e.error for e in history(store, failed.id)] == [BOOM]
    assert [e.error for e in history(store, done.id)] == [None]
    # a rerun resets the row's error; the event still has it
    store.writes.reopen(
        Reopen(job_id=failed.id, attempt=1, reason=ReopenReason.RERUN, at=NOW, message="rerun")
    )
    assert read_row(store, failed.id)["error_type"] is None
    assert [e.error for e in history(store, failed.id)] == [BOOM, None]


# -- take_due: the jobs whose time has come, each to one taker ----------------------------------


def test_take_due_takes_only_created_jobs_due_by_now_and_clears_their_due_time(
    store: Backend,
) -> None:
    early = put(store, due_at=NOW - timedelta(minutes=1), queue="reports", priority=7)
    retry = put(store, attempt=2, retries=1, max_attempts=3, due_at=NOW, status_text="waits")
    left = [
        put(store, due_at=NOW + timedelta(seconds=1)),  # not yet
        put(store),  # no due time: published by its producer
        put(store, due_at=T0, runs_elsewhere=True),  # its runner claims it
        put(store, status=JobStatus.QUEUED, due_at=T0),
        put(store, status=JobStatus.CANCELLED, due_at=T0),
    ]
    before = {job.id: read_row(store, job.id) for job in left}

    taken = store.writes.take_due(NOW)

    assert taken == [
        Due(
            job_id=early.id,
            job_type="diagnostics.echo",
            attempt=1,
            parameters={"message": "hi"},
            queue="reports",
            priority=7,
        ),
        Due(
            job_id=retry.id,
            job_type="diagnostics.echo",
            attempt=2,
            parameters={"message": "hi"},
            queue="jobhub",
            priority=0,
        ),
    ]
    for job, text in ((early, None), (retry, "attempt 2 of 3")):
        row = read_row(store, job.id)
        assert (row["status"], row["due_at"], row["updated_at"]) == (0, None, NOW)
        assert row["status_text"] == text
        assert store.events(job.id) == []
    assert {job.id: read_row(store, job.id) for job in left} == before
    assert store.writes.take_due(NOW) == []


def test_take_due_takes_the_oldest_due_first_up_to_its_limit(store: Backend) -> None:
    jobs = [put(store, due_at=T0 + timedelta(seconds=n)) for n in (3, 1, 4, 0, 2)]
    oldest_first = [job.id for job in sorted(jobs, key=lambda job: job.due_at or T0)]

    first = store.writes.take_due(NOW, limit=2)
    rest = store.writes.take_due(NOW, limit=10)

    assert [due.job_id for due in first] == oldest_first[:2]
    assert [due.job_id for due in rest] == oldest_first[2:]


WRITERS = 4
DUE_JOBS = 400


@pytest.fixture
def writers(store: Backend, tmp_path: Path) -> Iterator[list[Writes]]:
    """``WRITERS`` independent writers on ``store`` (their own connections, as processes)."""
    if isinstance(store, MemoryBackend):
        yield [store.store] * WRITERS
        return
    engine = cast(SqlBackend, store).engine
    if engine.dialect.name == "postgresql":
        url = engine.url.render_as_string(hide_password=False)
        made = [PostgresWrites(url, connect_timeout=5) for _ in range(WRITERS)]
        yield list(made)
        for writes in made:
            writes.close()
        return
    engines = [
        make_engine(Settings(data_dir=tmp_path, database_url=str(engine.url)))
        for _ in range(WRITERS)
    ]
    yield [SqlWrites(each) for each in engines]
    for each in engines:
        each.dispose()


def test_concurrent_takers_of_due_jobs_never_take_one_twice(
    store: Backend, writers: list[Writes]
) -> None:
    ids = {put(store, due_at=T0 + timedelta(milliseconds=n % 7)).id for n in range(DUE_JOBS)}
    start = threading.Barrier(len(writers))
    taken: list[list[uuid.UUID]] = [[] for _ in writers]
    failures: list[BaseException] = []

    def take(writes: Writes, into: list[uuid.UUID]) -> None:
        try:
            start.wait()
            while batch := writes.take_due(NOW, limit=25):
                into.extend(due.job_id for due in batch)
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    threads = [
        threading.Thread(target=take, args=(writes, into))
        for writes, into in zip(writers, taken, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    late = [due.job_id for due in writers[0].take_due(NOW, limit=DUE_JOBS)]

    assert not failures, failures
    union = [job_id for batch in taken for job_id in batch] + late
    twice = [job_id for job_id, count in Counter(union).items() if count > 1]
    assert twice == []
    assert set(union) == ids


# -- start now, cancel, the outbox's view of Created --------------------------------------------


def test_start_now_makes_a_waiting_job_due_at_once_with_its_event(store: Backend) -> None:
    job = put(store, due_at=NOW + timedelta(hours=1), status_text="starts at 13:05:00 UTC")

    assert store.writes.start_now(job.id, at=NOW, actor="dave", why="start now requested by dave")

    row = read_row(store, job.id)
    assert (row["due_at"], row["updated_at"], row["modified_by"]) == (NOW, NOW, "dave")
    assert store.events(job.id) == [
        (1, int(JobStatus.CREATED), None, "start now requested by dave")
    ]
    assert [due.job_id for due in store.writes.take_due(NOW)] == [job.id]
    assert not store.writes.start_now(job.id, at=NOW, actor="dave", why="again")


NOT_WAITING: list[tuple[str, Callable[[Backend], Job]]] = [
    ("created-at-once", lambda store: put(store)),
    ("queued", lambda store: put(store, status=JobStatus.QUEUED)),
    ("processing", lambda store: put(store, status=JobStatus.PROCESSING)),
    ("completed", lambda store: put(store, status=JobStatus.COMPLETED)),
    ("cancelled", lambda store: put(store, status=JobStatus.CANCELLED, due_at=T0)),
]


@pytest.mark.parametrize("make", [make for _, make in NOT_WAITING], ids=[n for n, _ in NOT_WAITING])
def test_start_now_of_a_job_that_waits_for_nothing_changes_nothing(
    store: Backend, make: Callable[[Backend], Job]
) -> None:
    job = make(store)
    before = read_row(store, job.id)

    assert not store.writes.start_now(job.id, at=NOW, actor="dave", why="start now")

    assert read_row(store, job.id) == before
    assert store.events(job.id) == []


def test_start_now_of_an_unknown_job_is_false(store: Backend) -> None:
    assert not store.writes.start_now(uuid.uuid4(), at=NOW, actor=None, why="start now")


def test_cancel_of_a_waiting_job_ends_it_and_clears_its_due_time(store: Backend) -> None:
    job = put(store, attempt=2, retries=1, max_attempts=3, due_at=NOW + timedelta(seconds=5))

    assert (
        store.writes.request_cancel(job.id, at=NOW, actor="erin", cancel_running=True)
        is JobStatus.CANCELLED
    )

    row = read_row(store, job.id)
    assert (row["status"], row["due_at"], row["status_text"]) == (
        int(JobStatus.CANCELLED),
        None,
        CANCELLED_BEFORE_START,
    )
    assert store.writes.take_due(NOW + timedelta(days=1)) == []
    assert not lookups(store).get(job.id).waiting


def test_oldest_created_jobs_leave_out_waiting_jobs_and_jobs_run_elsewhere(
    store: Backend,
) -> None:
    stranded = put(store)
    put(store, due_at=NOW + timedelta(minutes=1))
    due = put(store, due_at=T0)  # due, but the due publisher's, not the outbox's
    put(store, runs_elsewhere=True)

    def found() -> set[uuid.UUID]:
        return {job.id for job in lookups(store).oldest_in_status(JobStatus.CREATED)}

    assert found() == {stranded.id}
    store.writes.take_due(NOW)  # taken; had its publish failed, it is the outbox's now
    assert found() == {stranded.id, due.id}


# -- creating a job that waits ------------------------------------------------------------------


def test_create_records_a_delayed_job_with_its_queue_priority_attempts_and_text(
    store: Backend,
) -> None:
    new = dataclasses.replace(
        echo_row(T0),
        queue="reports",
        priority=7,
        due_at=NOW,
        max_attempts=4,
        status_text="starts at 2030-01-01 12:05:00 UTC",
    )

    assert store.writes.create(new) is True

    assert read_row(store, new.id) == agreement._columns(new.as_job())
    assert store.events(new.id) == [
        (1, int(JobStatus.CREATED), None, "starts at 2030-01-01 12:05:00 UTC")
    ]
    job = lookups(store).get(new.id)
    assert job.waiting
    assert (job.queue, job.priority, job.max_attempts, job.due_at) == ("reports", 7, 4, NOW)
    assert store.writes.take_due(NOW - timedelta(seconds=1)) == []
    [due] = store.writes.take_due(NOW)
    assert (due.job_id, due.queue, due.priority) == (new.id, "reports", 7)
