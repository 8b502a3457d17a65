"""``JobManager.overview``: the dashboard's figures, on PostgreSQL and on SQLite.

The known lifecycles of ``tests.support.lifecycles`` are written through the real write
path; the overview must give the same figures before and after the history is folded,
by organization and with or without housekeeping jobs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Table, update

from jobhub import JobManager, Settings
from jobhub.db import migrate
from jobhub.db.models import JobRow
from jobhub.errors import InvalidInput
from jobhub.gates import PauseKind
from jobhub.jobs import JobStatus
from jobhub.runtime import Runtime
from jobhub.stats import Overview, QueueDepth
from tests.support.lifecycles import CANCELLED, DONE, FAILED, T0, Jobs, S, known_lifecycles

JOBS = cast(Table, JobRow.__table__)
NOW = T0 + timedelta(minutes=30)
HOUR = timedelta(hours=1)
CREATED, QUEUED, PROCESSING = JobStatus.CREATED, JobStatus.QUEUED, JobStatus.PROCESSING
NONE_ENDED = {DONE: 0, FAILED: 0, CANCELLED: 0}


@pytest.fixture(params=["postgresql", "sqlite"])
def manager(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobManager]:
    if request.param == "postgresql":
        url = request.getfixturevalue("database_url")
    else:
        url = f"sqlite:///{tmp_path}/overview.sqlite3"
    jobs = JobManager.from_settings(Settings(data_dir=tmp_path, database_url=url))
    if request.param == "sqlite":
        migrate.upgrade(jobs.app.runtime.engine)
    yield jobs
    jobs.close()


@pytest.fixture
def runtime(manager: JobManager) -> Runtime:
    known_lifecycles(Jobs(manager.app.runtime))
    return manager.app.runtime


def test_overview_counts_jobs_now_and_jobs_ended_in_the_period(
    manager: JobManager, runtime: Runtime
) -> None:
    view = manager.overview(period=HOUR, now=NOW)

    assert (view.since, view.until, view.bucket_seconds) == (NOW - HOUR, NOW, 60)
    assert len(view.series) == 60
    assert view.by_status == {
        CREATED: 0,
        QUEUED: 1,
        PROCESSING: 1,
        DONE: 4,
        FAILED: 1,
        CANCELLED: 2,
    }
    assert view.by_type == {
        "tests.a": {CREATED: 0, QUEUED: 0, PROCESSING: 0, DONE: 4, FAILED: 1, CANCELLED: 2},
        "tests.b": {CREATED: 0, QUEUED: 1, PROCESSING: 1, **NONE_ENDED},
    }
    bars = {bar.start: bar.counts for bar in view.series if any(bar.counts.values())}
    assert bars == {
        T0: {DONE: 2, FAILED: 1, CANCELLED: 2},
        T0 + timedelta(minutes=1): {DONE: 1, FAILED: 0, CANCELLED: 0},
        T0 + timedelta(minutes=2): {DONE: 1, FAILED: 0, CANCELLED: 0},
    }
    assert view.queues == [
        QueueDepth(queue="jobhub", waiting=1, oldest_waiting_seconds=(NOW - T0 - S).total_seconds())
    ]
    assert [job.status for job in view.recent_failures] == [FAILED]


def test_overview_is_the_same_before_and_after_the_history_is_folded(
    manager: JobManager, runtime: Runtime
) -> None:
    before = manager.overview(period=HOUR, now=NOW)

    runtime.stats.fold(horizon=timedelta(0))
    runtime.stats.fold(horizon=timedelta(0))
    after = manager.overview(period=HOUR, now=NOW)

    assert runtime.stats.fold(horizon=timedelta(0)) == 0, "not everything was folded"
    assert _figures(after) == _figures(before)


def test_overview_of_one_organization(manager: JobManager, runtime: Runtime) -> None:
    view = manager.overview(period=HOUR, now=NOW, organization="globex")

    assert view.by_type == {"tests.b": {CREATED: 0, QUEUED: 1, PROCESSING: 1, **NONE_ENDED}}
    assert not any(any(bar.counts.values()) for bar in view.series)
    assert [q.waiting for q in view.queues] == [1]
    assert view.recent_failures == []
    assert manager.overview(period=HOUR, now=NOW, organization="initech").by_type == {}


def test_jobs_that_ended_before_the_period_are_not_counted(
    manager: JobManager, runtime: Runtime
) -> None:
    view = manager.overview(period=HOUR, now=T0 + timedelta(days=3))

    assert "tests.a" not in view.by_type  # nothing of it now, nothing ended in the period
    assert view.by_type["tests.b"] == {CREATED: 0, QUEUED: 1, PROCESSING: 1, **NONE_ENDED}
    assert view.by_status[QUEUED] == 1  # what is waiting now is, whenever the period


def test_housekeeping_jobs_only_when_asked(manager: JobManager, runtime: Runtime) -> None:
    jobs = Jobs(runtime)
    upkeep = jobs.create("maintenance.chore")
    with runtime.engine.begin() as connection:
        connection.execute(update(JOBS).where(JOBS.c.id == upkeep).values(housekeeping=True))
    jobs.run(upkeep, FAILED, T0 + 5 * S, 1)

    plain = manager.overview(period=HOUR, now=NOW)
    all_jobs = manager.overview(period=HOUR, now=NOW, housekeeping=True)

    assert "maintenance.chore" not in plain.by_type
    assert [job.job_type for job in plain.recent_failures] == ["tests.a"]
    assert all_jobs.by_type["maintenance.chore"][FAILED] == 1
    assert len(all_jobs.recent_failures) == 2


def test_workers_their_queues_and_the_schedules_due_next(
    manager: JobManager, runtime: Runtime
) -> None:
    runtime.workers.beat("w1@host/abc", "host", 1, ["jobhub", "reports"])
    manager.set_job_schedule("diagnostics.echo", interval="1h", start=NOW + HOUR)
    manager.set_job_schedule("diagnostics.sleep", interval="1h", start=NOW + HOUR)
    manager.pause(PauseKind.SCHEDULE, "diagnostics.sleep")

    view = manager.overview(period=HOUR, now=NOW)

    assert view.workers_alive == 1
    assert [(q.queue, q.waiting) for q in view.queues] == [("jobhub", 1), ("reports", 0)]
    assert [s.job_type for s in view.next_schedules] == ["diagnostics.echo"]
    assert view.next_schedules[0].next_fire_at == NOW + HOUR


@pytest.mark.parametrize(
    ("period", "bucket"),
    [
        (timedelta(hours=1), 60),
        (timedelta(hours=24), 1800),
        (timedelta(days=7), 10800),
        (timedelta(days=30), 86400),
    ],
)
def test_the_dashboards_periods_have_30_to_60_whole_bars(
    manager: JobManager, period: timedelta, bucket: int
) -> None:
    now = NOW + timedelta(seconds=10)

    view = manager.overview(period=period, now=now)

    width = timedelta(seconds=bucket)
    assert view.bucket_seconds == bucket
    assert 30 <= len(view.series) <= 61
    assert view.since <= now - period < view.since + width
    assert [bar.start for bar in view.series] == [
        view.since + n * width for n in range(len(view.series))
    ]
    assert view.series[-1].start <= now < view.series[-1].start + width


@pytest.mark.parametrize(
    "kwargs",
    [
        {"period": timedelta(0)},
        {"period": timedelta(days=367)},
        {"failures": 101},
        {"organization": "x" * 500},
        {"now": NOW.replace(tzinfo=None)},
    ],
)
def test_bad_input_is_refused(manager: JobManager, kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        manager.overview(**kwargs)  # type: ignore[arg-type]


def _figures(view: Overview) -> object:
    return (view.by_status, view.by_type, view.series, view.queues)
