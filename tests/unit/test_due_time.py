"""A delayed start's due time (``jobhub.placement.due_time``): what is taken, what refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from jobhub.errors import InvalidInput
from jobhub.placement import LONGEST_DELAY, PAST_TOLERANCE, due_time, starts_text

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
PARIS = timezone(timedelta(hours=1))


def test_no_start_time_and_no_delay_starts_at_once() -> None:
    assert due_time(NOW) is None


@pytest.mark.parametrize(
    "delay", [timedelta(milliseconds=1), timedelta(seconds=3), LONGEST_DELAY], ids=str
)
def test_a_delay_is_counted_from_now(delay: timedelta) -> None:
    assert due_time(NOW, delay=delay) == NOW + delay


def test_a_zero_delay_starts_at_once() -> None:
    assert due_time(NOW, delay=timedelta(0)) is None


@pytest.mark.parametrize(
    ("delay", "words"),
    [
        (timedelta(seconds=-1), "cannot be negative"),
        (LONGEST_DELAY + timedelta(seconds=1), "cannot be longer than 366 days"),
    ],
    ids=["negative", "too-long"],
)
def test_a_delay_out_of_bounds_is_invalid_input(delay: timedelta, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        due_time(NOW, delay=delay)


@pytest.mark.parametrize(
    "start_at",
    [NOW + timedelta(seconds=1), NOW + LONGEST_DELAY, datetime(2030, 1, 1, 14, 0, tzinfo=PARIS)],
    ids=["a-second-ahead", "longest", "another-zone"],
)
def test_a_start_time_ahead_is_the_due_time(start_at: datetime) -> None:
    assert due_time(NOW, start_at=start_at) == start_at


@pytest.mark.parametrize(
    "start_at", [NOW, NOW - timedelta(seconds=30), NOW - PAST_TOLERANCE], ids=str
)
def test_a_start_time_now_or_just_past_starts_at_once(start_at: datetime) -> None:
    # a client's clock that lags a little, or a start time computed a moment ago
    assert due_time(NOW, start_at=start_at) is None


@pytest.mark.parametrize(
    ("start_at", "words"),
    [
        (NOW - PAST_TOLERANCE - timedelta(seconds=1), "is in the past"),
        (NOW + LONGEST_DELAY + timedelta(seconds=1), "more than 366 days ahead"),
        (datetime(2030, 1, 1, 13, 0), "needs its time zone"),  # no time zone
    ],
    ids=["past", "too-far", "naive"],
)
def test_a_start_time_out_of_bounds_is_invalid_input(start_at: datetime, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        due_time(NOW, start_at=start_at)


def test_a_start_time_and_a_delay_together_are_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="not both"):
        due_time(NOW, start_at=NOW + timedelta(hours=1), delay=timedelta(hours=1))


def test_a_waiting_job_says_when_it_starts_in_utc() -> None:
    assert starts_text(datetime(2030, 1, 1, 14, 5, 9, tzinfo=PARIS)) == (
        "starts at 2030-01-01 13:05:09 UTC"
    )
