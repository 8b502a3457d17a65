"""The one duration grammar (jobhub.durations): what reads, what is refused, and that the
canonical form reads back to the same value."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobhub.durations import format_duration, parse_duration
from jobhub.errors import InvalidDuration, InvalidInput


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("250ms", timedelta(milliseconds=250)),
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1m30s500ms", timedelta(minutes=1, seconds=30, milliseconds=500)),
        ("1w2d3h4m5s6ms", timedelta(days=9, hours=3, minutes=4, seconds=5, milliseconds=6)),
        ("1.5h", timedelta(minutes=90)),
        ("0.5s", timedelta(milliseconds=500)),
        ("0.25ms", timedelta(microseconds=250)),
        ("1.5h30m", timedelta(hours=2)),
        ("90", timedelta(seconds=90)),
        ("1.5", timedelta(seconds=1.5)),
        ("0", timedelta(0)),
        ("0s", timedelta(0)),
        ("0h0m", timedelta(0)),
        (" 1h 30m ", timedelta(hours=1, minutes=30)),
        ("1 h 30 m", timedelta(hours=1, minutes=30)),
        ("\t2d\n", timedelta(days=2)),
        (" 45 ", timedelta(seconds=45)),
        ("1H30M", timedelta(hours=1, minutes=30)),
        ("250MS", timedelta(milliseconds=250)),
        ("007s", timedelta(seconds=7)),
        ("0.0000015s", timedelta(microseconds=2)),
        ("999999999d23h59m59.999999s", timedelta.max),
        ("0.1s", timedelta(milliseconds=100)),
        ("86400.000001", timedelta(days=1, microseconds=1)),
    ],
)
def test_parse_duration_reads(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty duration"),
        ("   ", "empty duration"),
        ("soon", "not a duration"),
        ("-5s", "cannot be negative"),
        (" -1h", "cannot be negative"),
        ("-0", "cannot be negative"),
        ("10x", "not a duration"),
        ("5 min", "not a duration"),
        ("1e3", "not a duration"),
        ("1e3s", "not a duration"),
        ("s", "not a duration"),
        ("ms", "not a duration"),
        ("1,5s", "not a duration"),
        (".5s", "not a duration"),
        ("1.s", "not a duration"),
        ("1h30", "not a duration"),
        ("1 0s", "not a duration"),
        ("1m s", "not a duration"),
        ("P1D", "not a duration"),
        ("1s\x00", "not a duration"),
        ("\uff11s", "not a duration"),
        ("1h\u00a030m", "not a duration"),
        ("30m1h", "largest to smallest"),
        ("1h1h", "largest to smallest"),
        ("500ms1s", "largest to smallest"),
        ("99999999999d", "too long"),
        ("9" * 10_000, "too long"),
        ("1000000000d", "too long"),
        ("999999999d24h", "too long"),
    ],
)
def test_parse_duration_refuses(text: str, message: str) -> None:
    with pytest.raises(InvalidDuration, match=message) as refused:
        parse_duration(text)
    assert "e.g." in refused.value.message or "at most" in refused.value.message


def test_an_invalid_duration_is_invalid_input_and_quotes_at_most_a_little_of_it() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_duration("x" * 10_000)
    assert isinstance(refused.value, InvalidDuration)
    assert len(refused.value.message) < 200


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=5400), "1h30m"),
        (timedelta(seconds=0.25), "250ms"),
        (timedelta(milliseconds=1.5), "1.5ms"),
        (timedelta(microseconds=1), "0.001ms"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(minutes=1, milliseconds=500), "1m0.5s"),
        (timedelta(days=2), "2d"),
        (timedelta(weeks=2), "14d"),
        (timedelta(days=1, seconds=1), "1d1s"),
        (timedelta(hours=1, microseconds=1), "1h0.000001s"),
        (timedelta.max, "999999999d23h59m59.999999s"),
    ],
)
def test_format_duration_writes_the_canonical_form(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


def test_format_duration_refuses_a_negative_value() -> None:
    with pytest.raises(InvalidDuration, match="cannot be negative"):
        format_duration(timedelta(seconds=-1))


@given(st.timedeltas(min_value=timedelta(0)))
def test_format_duration_reads_back_to_the_same_value(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value


@given(st.text() | st.text(alphabet="0123456789.wdhmsWDHMS -\t"))
def test_parse_duration_reads_any_text_or_refuses_it_as_invalid_duration(text: str) -> None:
    try:
        value = parse_duration(text)
    except InvalidDuration:
        return
    assert value >= timedelta(0)
