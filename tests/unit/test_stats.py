"""The pure figures of ``jobhub.stats``: bar widths, what a transition counts for, the
run-time histogram, a schedule's lag."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from jobhub.jobs import JobError, JobEvent, JobStatus
from jobhub.stats import (
    DURATION_BUCKETS,
    WIDTHS,
    DurationHistogram,
    EventFigures,
    ScheduleDue,
    bucket_seconds_for,
    bucket_start,
    duration_bucket,
    event_figures,
    width_for,
)

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)
JOB = uuid.uuid4()
C, Q, P = JobStatus.CREATED, JobStatus.QUEUED, JobStatus.PROCESSING
DONE, FAILED, CANCELLED = (
    JobStatus.COMPLETED,
    JobStatus.COMPLETED_WITH_ERRORS,
    JobStatus.CANCELLED,
)


def event(status: JobStatus, at: datetime, attempt: int = 1) -> JobEvent:
    error = JobError(type="E", message="m", traceback="") if status is FAILED else None
    return JobEvent(
        job_id=JOB, at=at, status=status, attempt=attempt, worker_id=None, message=None, error=error
    )


@pytest.mark.parametrize(
    ("period", "bucket"),
    [
        (timedelta(minutes=30), 60),
        (timedelta(hours=1), 60),
        (timedelta(hours=2), 120),
        (timedelta(hours=6), 600),
        (timedelta(hours=24), 1800),
        (timedelta(days=7), 10800),
        (timedelta(days=30), 86400),
        (timedelta(days=90), 2 * 86400),
        (timedelta(days=366), 7 * 86400),
    ],
)
def test_a_chart_gets_the_smallest_round_bar_that_needs_at_most_60(
    period: timedelta, bucket: int
) -> None:
    assert bucket_seconds_for(period) == bucket
    assert period.total_seconds() / bucket <= 60
    assert bucket % width_for(bucket) == 0


def test_every_bar_width_reads_from_the_widest_stored_width_that_divides_it() -> None:
    assert [width_for(b) for b in (60, 600, 1800, 3600, 10800, 86400, 7 * 86400)] == [
        60,
        60,
        1800,
        3600,
        3600,
        86400,
        86400,
    ]
    assert set(WIDTHS) == {60, 1800, 3600, 86400}


def test_a_chart_of_a_period_reads_a_width_kept_at_least_that_long() -> None:
    for hours in range(1, 366 * 24 + 1):
        period = timedelta(hours=hours)
        assert WIDTHS[width_for(bucket_seconds_for(period))] > period


def test_bars_are_aligned_on_the_epoch() -> None:
    at = datetime(2030, 1, 1, 12, 34, 56, 789, tzinfo=UTC)

    assert bucket_start(at, 60) == datetime(2030, 1, 1, 12, 34, tzinfo=UTC)
    assert bucket_start(at, 10800) == datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    assert bucket_start(at, 86400) == datetime(2030, 1, 1, tzinfo=UTC)


def test_a_plain_run_counts_its_creation_its_start_and_its_end() -> None:
    history = [event(C, T0), event(Q, T0 + S), event(P, T0 + 2 * S), event(DONE, T0 + 7 * S)]

    assert event_figures(history) == [
        EventFigures(created=True),
        EventFigures(),
        EventFigures(started=True),
        EventFigures(finished=DONE, duration=5.0),
    ]


def test_a_retried_failure_is_a_retry_not_an_end() -> None:
    history = [
        event(C, T0),
        event(P, T0 + S),
        event(FAILED, T0 + 3 * S),  # written with the next attempt's Created, same time
        event(C, T0 + 3 * S, attempt=2),
        event(P, T0 + 10 * S, attempt=2),
        event(DONE, T0 + 12 * S, attempt=2),
    ]

    figures = event_figures(history)

    assert figures[2] == EventFigures(retried=True)
    assert figures[3] == EventFigures()
    assert figures[5] == EventFigures(finished=DONE, duration=2.0)
    assert sum(f.started for f in figures) == 2


def test_a_rerun_after_a_failure_counts_the_failure_as_an_end() -> None:
    history = [
        event(C, T0),
        event(P, T0 + S),
        event(FAILED, T0 + 3 * S),
        event(C, T0 + 60 * S, attempt=2),  # the rerun, later
        event(P, T0 + 61 * S, attempt=2),
        event(DONE, T0 + 62 * S, attempt=2),
    ]

    figures = event_figures(history)

    assert [f.finished for f in figures if f.finished] == [FAILED, DONE]
    assert not any(f.retried for f in figures)


def test_a_cancel_requested_while_running_starts_no_attempt() -> None:
    history = [
        event(C, T0),
        event(P, T0 + S),
        event(P, T0 + 2 * S),  # "cancel requested"
        event(CANCELLED, T0 + 4 * S),
    ]

    figures = event_figures(history)

    assert [f.started for f in figures] == [False, True, False, False]
    assert figures[3] == EventFigures(finished=CANCELLED, duration=3.0)


def test_a_job_cancelled_before_it_ran_has_no_run_time() -> None:
    figures = event_figures([event(C, T0), event(C, T0 + S), event(CANCELLED, T0 + 2 * S)])

    assert figures == [EventFigures(created=True), EventFigures(), EventFigures(finished=CANCELLED)]


def test_a_run_time_cannot_be_negative() -> None:
    (*_, end) = event_figures([event(C, T0), event(P, T0 + 2 * S), event(DONE, T0 + S)])

    assert end.duration == 0.0


def test_the_histogram_is_cumulative_and_ends_with_everything() -> None:
    counts = [0] * (len(DURATION_BUCKETS) + 1)
    for seconds in (0.05, 0.1, 3.0, 100_000.0):
        counts[duration_bucket(seconds)] += 1
    histogram = DurationHistogram(tuple(counts), 100_003.15)

    cumulative = dict(histogram.cumulative())

    assert cumulative[0.1] == 2
    assert cumulative[5.0] == 3
    assert cumulative[DURATION_BUCKETS[-1]] == 3
    assert cumulative[float("inf")] == histogram.count == 4
    assert (histogram + histogram).count == 8


def test_a_schedule_lags_only_when_due_and_active() -> None:
    due = ScheduleDue(name="n", job_type="t", next_fire_at=T0, paused=False)

    assert due.lag_seconds(T0 - S) == 0.0
    assert due.lag_seconds(T0 + 90 * S) == 90.0
    assert ScheduleDue(name="n", job_type="t", next_fire_at=T0, paused=True).lag_seconds(T0) is None
    assert (
        ScheduleDue(name="n", job_type="t", next_fire_at=None, paused=False).lag_seconds(T0) is None
    )
