"""The overview's stacked bars: heights proportional to the counts on a plain scale, and
each bar's title stating its figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobhub.jobs import JobStatus
from jobhub.ui.charts import HEIGHT, finished_bars, nice_top

HOUR = timedelta(hours=1)
T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (11, 20), (120, 200), (501, 1000)]
)
def test_the_scale_is_rounded_up_to_one_two_or_five_times_a_power_of_ten(
    value: int, top: int
) -> None:
    assert nice_top(value) == top


def test_bars_stack_completed_failed_cancelled_in_proportion_to_the_scale() -> None:
    chart = finished_bars(
        [
            (
                T0,
                {
                    JobStatus.COMPLETED: 6,
                    JobStatus.COMPLETED_WITH_ERRORS: 3,
                    JobStatus.CANCELLED: 1,
                },
            ),
            (T0 + HOUR, {JobStatus.COMPLETED: 2, JobStatus.PROCESSING: 40}),
        ],
        HOUR,
    )

    assert chart.top == 10
    first, second = chart.bars
    assert [(s.name, s.count, s.height) for s in first.segments] == [
        ("completed", 6, HEIGHT * 0.6),
        ("failed", 3, HEIGHT * 0.3),
        ("cancelled", 1, HEIGHT * 0.1),
    ]
    assert first.segments[0].y + first.segments[0].height == HEIGHT  # from the bottom up
    assert first.segments[2].y == pytest.approx(0)
    assert second.total == 2  # what did not finish is not a finished job
    assert first.x < second.x
    assert chart.totals == {"completed": 8, "failed": 3, "cancelled": 1}


def test_each_bar_has_a_title_with_its_period_and_figures() -> None:
    chart = finished_bars([(T0, {JobStatus.COMPLETED_WITH_ERRORS: 4})], HOUR)

    assert (
        chart.bars[0].title == "2026-12-01 09:00 to 10:00 UTC: 0 completed, 4 failed, 0 cancelled"
    )


def test_a_period_without_finished_jobs_is_an_empty_chart() -> None:
    assert finished_bars([(T0, {}), (T0 + HOUR, {})], HOUR).empty
    assert finished_bars([], HOUR).empty
