"""The transition history folded into the statistics (``jobhub.db.stats_store``), on
PostgreSQL and on the embedded SQLite.

Jobs are moved by the real write path (``Runtime.writes``: ``PostgresWrites`` or
``SqlWrites``) through a known set of lifecycles; the same moves run on the in-memory
twin, whose figures ``jobhub.stats.event_figures`` counts in Python. The totals must be
exact whatever part of the history is folded: none, some, all. Folding races on several
connections never count an event twice, and purging jobs never takes counts away.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Table, func, select, text, update

from jobhub import Settings
from jobhub.db import migrate
from jobhub.db.models import JobEventRow, JobRow, StatsWatermarkRow
from jobhub.db.stats_store import StatsStore
from jobhub.runtime import Runtime
from jobhub.stats import DurationHistogram, TypeTotals, duration_bucket
from jobhub.testing import MemoryRuntime
from tests.support.lifecycles import CANCELLED, DONE, FAILED, T0, Jobs, S, known_lifecycles

EVENTS = cast(Table, JobEventRow.__table__)
JOBS = cast(Table, JobRow.__table__)
WATERMARK = cast(Table, StatsWatermarkRow.__table__)
NOW = timedelta(0)
"""A fold horizon of zero: the newest id noted is folded at the next fold."""


def histogram(*seconds: float) -> DurationHistogram:
    counts = [0] * len(DurationHistogram().counts)
    for value in seconds:
        counts[duration_bucket(value)] += 1
    return DurationHistogram(tuple(counts), float(sum(seconds)))


EXPECTED = [
    TypeTotals(
        job_type="tests.a",
        created=6,
        attempts=7,
        retries=1,
        finished={DONE: 4, FAILED: 1, CANCELLED: 2},
        durations=histogram(5, 2, 3, 2, 4, 4),
    ),
    TypeTotals(
        job_type="tests.b",
        created=2,
        attempts=1,
        retries=0,
        finished={DONE: 0, FAILED: 0, CANCELLED: 0},
        durations=histogram(),
    ),
]


@pytest.fixture(params=["postgresql", "sqlite"])
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    if request.param == "postgresql":
        url = request.getfixturevalue("database_url")
    else:
        url = f"sqlite:///{tmp_path}/stats.sqlite3"
    runtime = Runtime(Settings(data_dir=tmp_path, database_url=url))
    if request.param == "sqlite":
        migrate.upgrade(runtime.engine)
    yield runtime
    runtime.close()


def fold_all(stats: StatsStore, *, batch: int = 1_000_000) -> None:
    """Fold everything written so far (the horizon set to zero)."""
    stats.fold(batch=batch, horizon=NOW)  # notes the newest event
    while stats.fold(batch=batch, horizon=NOW):
        pass


def folded_to(runtime: Runtime) -> int:
    with runtime.engine.connect() as connection:
        return int(connection.execute(select(WATERMARK.c.folded_event_id)).scalar_one())


def newest_event(runtime: Runtime) -> int:
    with runtime.engine.connect() as connection:
        return int(connection.execute(select(func.max(EVENTS.c.id))).scalar_one())


def test_totals_are_exact_before_during_and_after_folding(runtime: Runtime) -> None:
    known_lifecycles(Jobs(runtime))

    unfolded = runtime.stats.totals()
    runtime.stats.fold(horizon=NOW)
    runtime.stats.fold(batch=7, horizon=NOW)
    partly = runtime.stats.totals()
    partly_folded = folded_to(runtime)
    fold_all(runtime.stats, batch=5)

    assert unfolded == EXPECTED
    assert 0 < partly_folded < newest_event(runtime)
    assert partly == EXPECTED
    assert folded_to(runtime) == newest_event(runtime)
    assert runtime.stats.totals() == EXPECTED


def test_the_sql_counts_as_the_rules_in_python_do(runtime: Runtime) -> None:
    twin = MemoryRuntime()
    known_lifecycles(Jobs(runtime))
    known_lifecycles(Jobs(twin))

    fold_all(runtime.stats)

    assert twin.stats.totals() == EXPECTED
    assert runtime.stats.totals() == twin.stats.totals()
    period = (T0, T0 + timedelta(hours=1))
    for bucket in (60, 3600):
        assert runtime.stats.finished(*period, bucket) == twin.stats.finished(*period, bucket)


def test_a_fold_waits_for_the_horizon(runtime: Runtime) -> None:
    known_lifecycles(Jobs(runtime))

    noted = runtime.stats.fold()
    too_soon = runtime.stats.fold()

    assert (noted, too_soon) == (0, 0)
    assert folded_to(runtime) == 0
    assert runtime.stats.fold(horizon=NOW) == newest_event(runtime)


def test_events_written_after_the_newest_noted_wait_for_the_next_fold(runtime: Runtime) -> None:
    jobs = Jobs(runtime)
    first = jobs.create()
    runtime.stats.fold(horizon=NOW)
    noted = newest_event(runtime)
    jobs.run(first, DONE, T0 + S, 1)

    runtime.stats.fold(horizon=NOW)

    assert folded_to(runtime) == noted
    assert runtime.stats.totals()[0].finished[DONE] == 1


def test_finished_jobs_by_minute_hour_and_organization(runtime: Runtime) -> None:
    jobs = Jobs(runtime)
    known_lifecycles(jobs)
    other = jobs.create(organization="globex")
    jobs.run(other, FAILED, T0 + 61 * S, 1)
    housekeeping = jobs.create("maintenance.chore")
    with runtime.engine.begin() as connection:
        connection.execute(update(JOBS).where(JOBS.c.id == housekeeping).values(housekeeping=True))
    jobs.run(housekeeping, DONE, T0 + 5 * S, 1)
    hour = (T0, T0 + timedelta(hours=1))

    before = runtime.stats.finished(*hour, 60)
    fold_all(runtime.stats, batch=3)
    after = runtime.stats.finished(*hour, 60)
    by_hour = runtime.stats.finished(*hour, 3600)
    acme = runtime.stats.finished(*hour, 3600, organization="acme")
    with_upkeep = runtime.stats.finished(*hour, 3600, housekeeping=True)

    minute = T0 + timedelta(minutes=1)
    two = T0 + timedelta(minutes=2)
    assert (
        before
        == after
        == {
            (T0, "tests.a", DONE): 2,
            (T0, "tests.a", FAILED): 1,
            (T0, "tests.a", CANCELLED): 2,
            (minute, "tests.a", DONE): 1,
            (minute, "tests.a", FAILED): 1,
            (two, "tests.a", DONE): 1,
        }
    )
    assert by_hour == {
        (T0, "tests.a", DONE): 4,
        (T0, "tests.a", FAILED): 2,
        (T0, "tests.a", CANCELLED): 2,
    }
    assert acme == {
        (T0, "tests.a", DONE): 4,
        (T0, "tests.a", FAILED): 1,
        (T0, "tests.a", CANCELLED): 2,
    }
    assert with_upkeep[T0, "maintenance.chore", DONE] == 1


def test_purging_and_deleting_jobs_take_no_count_away(runtime: Runtime) -> None:
    jobs = Jobs(runtime)
    known_lifecycles(jobs)
    runtime.stats.fold(horizon=NOW)
    runtime.stats.fold(batch=9, horizon=NOW)  # some folded, the rest not yet
    hour = (T0, T0 + timedelta(hours=1))
    figures = runtime.stats.finished(*hour, 60)

    purged, _ = runtime.jobs.purge_expired(T0 + timedelta(days=2), 1000)
    runtime.jobs.delete(jobs.ids[-1])  # the one still running
    after_purge = runtime.stats.totals()
    fold_all(runtime.stats)

    assert purged == 6
    assert after_purge == EXPECTED
    assert runtime.stats.totals() == EXPECTED
    assert runtime.stats.finished(*hour, 60) == figures


@pytest.fixture
def postgres_runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """Races need PostgreSQL: SQLite runs one writer at a time."""
    runtime = Runtime(Settings(data_dir=tmp_path, database_url=database_url))
    yield runtime
    runtime.close()


def test_folds_racing_on_several_connections_count_each_event_once(
    postgres_runtime: Runtime,
) -> None:
    runtime = postgres_runtime
    jobs = Jobs(runtime)
    for n in range(40):
        job_id = jobs.create(at=T0 + n * S)
        jobs.run(job_id, DONE, T0 + n * S + S, 1)
    runtime.stats.fold(horizon=NOW)
    barrier = threading.Barrier(4)
    passed: list[int] = []

    newest = newest_event(runtime)

    def fold() -> None:
        store = StatsStore(runtime.engine)
        barrier.wait()
        while folded_to(runtime) < newest:
            passed.append(store.fold(batch=3, horizon=NOW))

    threads = [threading.Thread(target=fold) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    (totals,) = runtime.stats.totals()
    assert (totals.created, totals.attempts, totals.finished[DONE]) == (40, 40, 40)
    assert sum(passed) == newest
    assert 0 in passed, "no fold found the watermark taken: the folds did not race"
    with runtime.engine.connect() as connection:
        rows = connection.execute(text("SELECT created, completed FROM stats_totals")).all()
    assert [tuple(row) for row in rows] == [(40, 40)]


def test_a_fold_skips_while_another_holds_the_watermark(postgres_runtime: Runtime) -> None:
    runtime = postgres_runtime
    jobs = Jobs(runtime)
    known_lifecycles(jobs)
    runtime.stats.fold(horizon=NOW)

    with runtime.engine.connect() as holder, holder.begin():
        holder.execute(text("SELECT * FROM stats_watermark FOR UPDATE"))
        skipped = StatsStore(runtime.engine).fold(horizon=NOW)
    folded = runtime.stats.fold(horizon=NOW)

    assert skipped == 0
    assert folded == newest_event(runtime)
