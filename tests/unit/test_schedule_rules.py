"""When schedules fire (jobhub.scheduling.rules): intervals, weekly rules across DST, parsing, JSON.

Every instant is written out; nothing reads the clock. Berlin changes on 2026-03-29 (02:00 to
03:00) and 2026-10-25 (03:00 back to 02:00), New York on 2026-03-08 and 2026-11-01.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from jobhub.errors import InvalidDuration, InvalidInput
from jobhub.scheduling.rules import (
    DEFAULT_ANCHOR,
    IntervalRule,
    Rule,
    WeeklyRule,
    build_rule,
    check_zone,
    describe,
    parse_days,
    parse_time_of_day,
    rule_from_json,
    rule_to_json,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def fires_between(rule: Rule, after: datetime, until: datetime, limit: int) -> list[datetime]:
    """The fires in (after, until], oldest first, at most ``limit``: the rule walked by
    ``next_after`` as beat walks it."""
    fires: list[datetime] = []
    found = rule.next_after(after)
    while found is not None and found <= until and len(fires) < limit:
        fires.append(found)
        found = rule.next_after(found)
    return fires


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def weekly(days: set[int], at: time, tz: str = "UTC", **bounds: datetime) -> WeeklyRule:
    return WeeklyRule(days=frozenset(days), at=at, tz=tz, **bounds)


# -- interval --------------------------------------------------------------------------


def test_interval_fires_at_start_then_every_step() -> None:
    rule = IntervalRule(every=timedelta(minutes=15), start=utc(2026, 1, 1, 10))
    assert rule.next_after(utc(2026, 1, 1, 9)) == utc(2026, 1, 1, 10)
    assert rule.next_after(utc(2026, 1, 1, 10)) == utc(2026, 1, 1, 10, 15)
    assert rule.next_after(utc(2026, 1, 1, 10, 7, 30)) == utc(2026, 1, 1, 10, 15)


def test_interval_anchor_sets_the_grid_and_start_only_drops_earlier_fires() -> None:
    rule = IntervalRule(
        every=timedelta(minutes=15), start=utc(2026, 1, 1, 11), anchor=utc(2026, 1, 1, 10, 5)
    )
    assert rule.next_after(utc(2026, 1, 1)) == utc(2026, 1, 1, 11, 5)
    assert rule.next_after(utc(2026, 1, 1, 11, 5)) == utc(2026, 1, 1, 11, 20)


def test_interval_without_anchor_or_start_counts_from_the_epoch() -> None:
    rule = IntervalRule(every=timedelta(minutes=15))
    assert rule.origin == DEFAULT_ANCHOR
    assert rule.next_after(utc(2026, 5, 4, 12, 7, 30)) == utc(2026, 5, 4, 12, 15)


def test_interval_fires_at_stop_and_never_after() -> None:
    rule = IntervalRule(every=timedelta(hours=1), start=utc(2026, 1, 1), stop=utc(2026, 1, 1, 2))
    assert rule.next_after(utc(2026, 1, 1, 1)) == utc(2026, 1, 1, 2)
    assert rule.next_after(utc(2026, 1, 1, 2)) is None
    assert rule.next_after(utc(2030, 1, 1)) is None


def test_interval_next_after_ten_years_later_is_arithmetic() -> None:
    rule = IntervalRule(every=timedelta(seconds=1), start=utc(2026, 1, 1))
    later = datetime(2036, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)
    assert rule.next_after(later) == utc(2036, 1, 1, 0, 0, 1)


def test_interval_latest_due_is_only_the_most_recent_missed_fire() -> None:
    rule = IntervalRule(every=timedelta(hours=1), start=utc(2026, 1, 1))
    assert len(fires_between(rule, utc(2026, 1, 1), utc(2026, 1, 1, 9, 30), 100)) == 9
    assert rule.latest_due(utc(2026, 1, 1), utc(2026, 1, 1, 9, 30)) == utc(2026, 1, 1, 9)


def test_interval_latest_due_after_ten_years_down() -> None:
    rule = IntervalRule(every=timedelta(seconds=1), start=utc(2026, 1, 1))
    now = datetime(2036, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)
    assert rule.latest_due(utc(2026, 1, 1), now) == utc(2036, 1, 1)


def test_interval_latest_due_is_none_when_nothing_new_fell_due() -> None:
    rule = IntervalRule(every=timedelta(hours=1), start=utc(2026, 1, 1))
    assert rule.latest_due(utc(2026, 1, 1, 9), utc(2026, 1, 1, 9, 59)) is None
    assert rule.latest_due(utc(2025, 1, 1), utc(2025, 12, 31, 23)) is None


def test_interval_latest_due_stops_at_stop() -> None:
    rule = IntervalRule(every=timedelta(hours=1), start=utc(2026, 1, 1), stop=utc(2026, 1, 1, 5))
    assert rule.latest_due(utc(2026, 1, 1), utc(2026, 1, 1, 9, 30)) == utc(2026, 1, 1, 5)
    assert rule.latest_due(utc(2026, 1, 1, 5), utc(2026, 1, 2)) is None


def test_fires_between_honours_limit_and_bounds() -> None:
    rule = IntervalRule(every=timedelta(minutes=10), start=utc(2026, 1, 1))
    fires = fires_between(rule, utc(2025, 12, 31), utc(2026, 1, 1, 1), 3)
    assert fires == [utc(2026, 1, 1), utc(2026, 1, 1, 0, 10), utc(2026, 1, 1, 0, 20)]
    assert fires_between(rule, utc(2026, 1, 1), utc(2026, 1, 1, 0, 20), 10) == fires[1:]


@pytest.mark.parametrize("every", [timedelta(0), timedelta(seconds=-5)])
def test_interval_must_be_positive(every: timedelta) -> None:
    with pytest.raises(InvalidInput, match="positive"):
        IntervalRule(every=every)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(InvalidInput, match="start must be timezone-aware"):
        IntervalRule(every=timedelta(hours=1), start=datetime(2026, 1, 1))
    rule = IntervalRule(every=timedelta(hours=1))
    with pytest.raises(InvalidInput, match="moment must be timezone-aware"):
        rule.next_after(datetime(2026, 1, 1))
    with pytest.raises(InvalidInput, match="now must be timezone-aware"):
        rule.latest_due(utc(2026, 1, 1), datetime(2026, 1, 2))


def test_stop_before_start_is_refused() -> None:
    with pytest.raises(InvalidInput, match="before start"):
        IntervalRule(every=timedelta(hours=1), start=utc(2026, 2, 1), stop=utc(2026, 1, 1))


def test_other_offsets_are_taken_and_results_are_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    rule = IntervalRule(every=timedelta(hours=1), start=datetime(2026, 1, 1, 12, tzinfo=plus_two))
    assert rule.start == utc(2026, 1, 1, 10)
    found = rule.next_after(datetime(2026, 1, 1, 12, 30, tzinfo=plus_two))
    assert found == utc(2026, 1, 1, 11)
    assert found is not None
    assert found.tzinfo is UTC


# -- weekly ----------------------------------------------------------------------------


def test_weekly_crosses_the_week_boundary() -> None:
    rule = weekly({MON, THU}, time(9))
    assert rule.next_after(utc(2026, 1, 8, 10)) == utc(2026, 1, 12, 9)  # Thu -> Mon
    assert rule.next_after(utc(2026, 1, 12, 9)) == utc(2026, 1, 15, 9)  # strictly after


def test_weekly_single_day_comes_round_after_seven_days() -> None:
    rule = weekly({SUN}, time(9))
    assert rule.next_after(utc(2026, 1, 4, 9)) == utc(2026, 1, 11, 9)


def test_weekly_days_are_weekdays_in_the_rules_zone() -> None:
    rule = weekly({MON}, time(8), "Pacific/Auckland")  # Monday 08:00 NZDT is Sunday 19:00 UTC
    assert rule.next_after(utc(2026, 1, 10)) == utc(2026, 1, 11, 19)


def test_weekly_honours_start_and_inclusive_stop() -> None:
    rule = weekly({MON, THU}, time(9), start=utc(2026, 1, 9), stop=utc(2026, 1, 15, 9))
    assert rule.next_after(utc(2026, 1, 1)) == utc(2026, 1, 12, 9)
    assert rule.next_after(utc(2026, 1, 12, 9)) == utc(2026, 1, 15, 9)
    assert rule.next_after(utc(2026, 1, 15, 9)) is None


def test_weekly_latest_due_after_weeks_down_is_one_fire() -> None:
    rule = weekly({MON, THU}, time(9))
    assert len(fires_between(rule, utc(2026, 1, 1), utc(2026, 1, 28), 100)) == 8
    assert rule.latest_due(utc(2026, 1, 1), utc(2026, 1, 28)) == utc(2026, 1, 26, 9)
    assert rule.latest_due(utc(2026, 1, 26, 9), utc(2026, 1, 28)) is None


def test_berlin_spring_forward_fires_once_when_the_clocks_jump() -> None:
    rule = weekly({SUN}, time(2, 30), BERLIN)
    fire = rule.next_after(utc(2026, 3, 28, 12))
    assert fire == utc(2026, 3, 29, 1)
    assert fire.astimezone(ZoneInfo(BERLIN)).time() == time(3)
    assert fires_between(rule, utc(2026, 3, 28), utc(2026, 3, 30), 10) == [fire]
    assert rule.next_after(fire) == utc(2026, 4, 5, 0, 30)  # 02:30 CEST again


def test_berlin_start_of_gap_also_maps_to_the_jump() -> None:
    assert weekly({SUN}, time(2), BERLIN).fire_on(date(2026, 3, 29)) == utc(2026, 3, 29, 1)
    assert weekly({SUN}, time(3), BERLIN).fire_on(date(2026, 3, 29)) == utc(2026, 3, 29, 1)


def test_berlin_fall_back_fires_once_at_the_first_occurrence() -> None:
    rule = weekly({SUN}, time(2, 30), BERLIN)
    assert rule.next_after(utc(2026, 10, 24, 12)) == utc(2026, 10, 25, 0, 30)
    assert fires_between(rule, utc(2026, 10, 24), utc(2026, 10, 26), 10) == [
        utc(2026, 10, 25, 0, 30)
    ]


def test_fold_of_the_given_time_does_not_pick_the_second_occurrence() -> None:
    rule = weekly({SUN}, time(2, 30, fold=1), BERLIN)
    assert rule.at.fold == 0
    assert rule.fire_on(date(2026, 10, 25)) == utc(2026, 10, 25, 0, 30)


def test_berlin_daily_around_both_changes_is_one_fire_per_day() -> None:
    rule = weekly(set(range(7)), time(2, 30), BERLIN)
    assert fires_between(rule, utc(2026, 3, 27), utc(2026, 3, 31), 10) == [
        utc(2026, 3, 27, 1, 30),
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 29, 1),
        utc(2026, 3, 30, 0, 30),
    ]
    assert fires_between(rule, utc(2026, 10, 23), utc(2026, 10, 27), 10) == [
        utc(2026, 10, 23, 0, 30),
        utc(2026, 10, 24, 0, 30),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 26, 1, 30),
    ]


@pytest.mark.parametrize(
    ("after", "until"),
    [(utc(2026, 3, 22, 22), utc(2026, 3, 29, 22)), (utc(2026, 10, 18, 22), utc(2026, 10, 25, 23))],
)
def test_fires_between_over_a_dst_week_gives_one_fire_per_selected_day(
    after: datetime, until: datetime
) -> None:
    rule = weekly({MON, WED, SUN}, time(2, 30), BERLIN)
    fires = fires_between(rule, after, until, 100)
    local_days = [fire.astimezone(ZoneInfo(BERLIN)).date() for fire in fires]
    assert [day.weekday() for day in local_days] == [MON, WED, SUN]
    assert len(set(local_days)) == 3


def test_new_york_spring_forward_fires_at_three_edt() -> None:
    rule = weekly({SUN}, time(2, 30), NEW_YORK)
    fire = rule.next_after(utc(2026, 3, 7))
    assert fire == utc(2026, 3, 8, 7)
    assert fire.astimezone(ZoneInfo(NEW_YORK)).time() == time(3)


def test_new_york_fall_back_fires_at_the_edt_occurrence() -> None:
    rule = weekly({SUN}, time(1, 30), NEW_YORK)
    assert fires_between(rule, utc(2026, 10, 31), utc(2026, 11, 2), 10) == [utc(2026, 11, 1, 5, 30)]


def test_half_hour_dst_shift_of_lord_howe() -> None:
    rule = weekly({SUN}, time(2, 15), "Australia/Lord_Howe")  # 02:00 jumps to 02:30
    assert rule.fire_on(date(2026, 10, 4)) == utc(2026, 10, 3, 15, 30)


def test_skipped_whole_day_in_samoa_fires_once_at_the_jump() -> None:
    rule = weekly({FRI}, time(10), "Pacific/Apia")  # 2011-12-30 never happened there
    assert fires_between(rule, utc(2011, 12, 25), utc(2012, 1, 10), 10) == [
        utc(2011, 12, 30, 10),
        utc(2012, 1, 5, 20),
    ]


def test_kolkata_half_hour_offset() -> None:
    rule = weekly(set(range(7)), time(9), "Asia/Kolkata")
    assert rule.next_after(utc(2026, 6, 1)) == utc(2026, 6, 1, 3, 30)
    assert rule.next_after(utc(2026, 6, 1, 3, 30)) == utc(2026, 6, 2, 3, 30)


def test_weekly_latest_due_on_the_gap_day() -> None:
    rule = weekly({SUN}, time(2, 30), BERLIN)
    assert rule.latest_due(utc(2026, 3, 22, 1, 30), utc(2026, 3, 29, 1)) == utc(2026, 3, 29, 1)
    assert rule.latest_due(utc(2026, 3, 22, 1, 30), utc(2026, 3, 29, 0, 59)) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"days": frozenset()}, "at least one day"),
        ({"days": frozenset({7})}, "0 \\(Monday\\) to 6"),
        ({"at": time(2, tzinfo=UTC)}, "wall-clock"),
        ({"tz": "Mars/Olympus"}, "unknown time zone"),
        ({"tz": "../etc/passwd"}, "unknown time zone"),
        ({"tz": "Europe//Berlin"}, "unknown time zone"),
        ({"tz": ""}, "unknown time zone"),
    ],
)
def test_weekly_rule_refuses_bad_fields(fields: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"days": frozenset({MON}), "at": time(2), "tz": BERLIN}
    with pytest.raises(InvalidInput, match=message):
        WeeklyRule(**values | fields)  # type: ignore[arg-type]


# -- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 1h 30M ", timedelta(hours=1, minutes=30)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("1.5h", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        ("90", timedelta(seconds=90)),
        ("0.5", timedelta(milliseconds=500)),
    ],
)
def test_an_interval_is_a_duration(text: str, expected: timedelta) -> None:
    assert build_rule(interval=text) == IntervalRule(every=expected)


@pytest.mark.parametrize(
    ("interval", "error", "message"),
    [
        ("", InvalidDuration, "interval: empty duration"),
        ("abc", InvalidDuration, "interval: not a duration: 'abc'"),
        ("-5m", InvalidDuration, "interval: a duration cannot be negative"),
        ("1x", InvalidDuration, "interval: not a duration"),
        ("30m1h", InvalidDuration, "interval: not a duration.*largest to smallest"),
        ("1h30", InvalidDuration, "interval: not a duration"),
        ("99999999999999d", InvalidDuration, "interval: duration too long"),
        ("0", InvalidInput, "interval must be positive, got 0s"),
        ("0h0m", InvalidInput, "interval must be positive, got 0s"),
        (timedelta(0), InvalidInput, "interval must be positive, got 0s"),
        (timedelta(seconds=-5), InvalidInput, "interval must be positive, got -5s"),
    ],
)
def test_an_interval_that_is_not_a_positive_duration_is_refused(
    interval: str | timedelta, error: type[InvalidInput], message: str
) -> None:
    with pytest.raises(error, match=message):
        build_rule(interval=interval)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mon,thu", {MON, THU}),
        ("Mon, Thu", {MON, THU}),
        ("monday", {MON}),
        ("Sunday, saturday", {SAT, SUN}),
        ("tue wed", {TUE, WED}),
        ("weekdays", {MON, TUE, WED, THU, FRI}),
        ("weekends", {SAT, SUN}),
        ("daily", set(range(7))),
        ("Every  Day", set(range(7))),
    ],
)
def test_parse_days(text: str, expected: set[int]) -> None:
    assert parse_days(text) == frozenset(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no days given"),
        (" , ", "no days given"),
        ("funday", "unknown day 'funday'"),
        ("mo", "unknown day 'mo'"),
        ("1", "unknown day '1'"),
        ("mon,xyz", "unknown day 'xyz'"),
    ],
)
def test_parse_days_refuses(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_days(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("02:00", time(2)),
        ("2:00", time(2)),
        ("14:30:15", time(14, 30, 15)),
        (" 23:59 ", time(23, 59)),
    ],
)
def test_parse_time_of_day(text: str, expected: time) -> None:
    assert parse_time_of_day(text) == expected


@pytest.mark.parametrize(
    "text", ["", "25:00", "24:00", "12:60", "12:00:60", "2", "2:0", "noon", "2pm", "12:00+01:00"]
)
def test_parse_time_of_day_refuses(text: str) -> None:
    with pytest.raises(InvalidInput, match="not a time of day"):
        parse_time_of_day(text)


def test_check_zone() -> None:
    assert check_zone(BERLIN) == ZoneInfo(BERLIN)
    for name in ("Nowhere/City", "europe/berlin", "America", "/etc/localtime", "zone.tab"):
        with pytest.raises(InvalidInput, match="unknown time zone"):
            check_zone(name)


# -- building and describing -----------------------------------------------------------


def test_build_rule_from_text() -> None:
    assert build_rule(interval="1h30m") == IntervalRule(every=timedelta(minutes=90))
    assert build_rule(days="mon,thu", at="2:30", tz=BERLIN) == weekly(
        {MON, THU}, time(2, 30), BERLIN
    )
    assert build_rule(at=time(6)) == weekly(set(range(7)), time(6))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"interval": "1h", "at": "02:00"}, "not both"),
        ({}, "needs an interval or a time"),
        ({"days": "mon"}, "needs an interval or a time"),
        ({"interval": "1h", "tz": "Nowhere/City"}, "unknown time zone"),
        ({"at": "02:00", "anchor": utc(2026, 1, 1)}, "only to interval"),
    ],
)
def test_build_rule_refuses(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        build_rule(**arguments)  # type: ignore[arg-type]


def test_describe() -> None:
    assert describe(IntervalRule(every=timedelta(minutes=15))) == "every 15m"
    assert describe(IntervalRule(every=timedelta(minutes=90))) == "every 1h30m"
    assert describe(IntervalRule(every=timedelta(days=1))) == "every 1d"
    assert describe(IntervalRule(every=timedelta(seconds=1.5))) == "every 1.5s"
    assert describe(IntervalRule(every=timedelta(milliseconds=250))) == "every 250ms"
    assert describe(weekly({MON, THU}, time(2, 30), BERLIN)) == "mon,thu at 02:30 Europe/Berlin"
    assert describe(weekly({SAT, SUN}, time(9, 0, 5), stop=utc(2026, 2, 1))) == (
        "weekends at 09:00:05 UTC until 2026-02-01T00:00:00+00:00"
    )


# -- JSON ------------------------------------------------------------------------------

ROUND_TRIP_RULES: list[Rule] = [
    IntervalRule(every=timedelta(minutes=15)),
    IntervalRule(
        every=timedelta(seconds=1, microseconds=250),
        start=utc(2026, 1, 1),
        stop=utc(2027, 1, 1),
        anchor=utc(2025, 12, 31, 23, 59),
    ),
    weekly({SUN, MON}, time(2, 30), BERLIN),
    weekly(set(range(5)), time(14, 30, 15, 500), NEW_YORK, start=utc(2026, 3, 1)),
]


@pytest.mark.parametrize("rule", ROUND_TRIP_RULES, ids=describe)
def test_json_round_trip(rule: Rule) -> None:
    stored = json.loads(json.dumps(rule_to_json(rule)))
    again = rule_from_json(stored)
    assert again == rule
    assert rule_to_json(again) == rule_to_json(rule)
    assert again.next_after(utc(2026, 6, 1)) == rule.next_after(utc(2026, 6, 1))


def test_json_shape() -> None:
    assert rule_to_json(weekly({THU, MON}, time(2, 30), BERLIN, stop=utc(2026, 2, 1))) == {
        "kind": "weekly",
        "days": [0, 3],
        "at": "02:30:00",
        "tz": "Europe/Berlin",
        "start": None,
        "stop": "2026-02-01T00:00:00+00:00",
    }
    assert rule_to_json(IntervalRule(every=timedelta(hours=2)))["every"] == 7200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "cron"}, "unknown schedule rule kind"),
        ({"kind": "interval", "every": 60, "extra": 1}, "unknown fields.*extra"),
        ({"kind": "interval", "every": True}, "every: expected a number"),
        ({"kind": "interval", "every": "60"}, "every: expected a number"),
        ({"kind": "interval", "every": 1e300}, "every: not a usable"),
        ({"kind": "interval", "every": 60, "start": "yesterday"}, "start: not an ISO 8601"),
        ({"kind": "interval", "every": 60, "start": "2026-01-01T00:00:00"}, "timezone-aware"),
        ({"kind": "weekly", "days": "mon", "at": "02:00", "tz": "UTC"}, "days: expected"),
        ({"kind": "weekly", "days": [0], "at": "25:00", "tz": "UTC"}, "at: not a time"),
        ({"kind": "weekly", "days": [0], "at": "02:00", "tz": 1}, "tz: expected"),
        ({"kind": "weekly", "days": [True], "at": "02:00", "tz": "UTC"}, "0 \\(Monday\\)"),
    ],
)
def test_rule_from_json_refuses(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        rule_from_json(data)
