"""When a schedule fires: interval and weekly rules as pure arithmetic (no database, no Celery).

The scheduler keeps a rule, asks it for the next due time after the last fire and, after
downtime, only for the latest missed one: a schedule that fell due ten times while beat was
down runs once on return, never in a burst. Weekly rules are wall-clock times in an IANA zone,
so daylight saving is settled here, once:

- a time that does not exist that day (spring forward) fires once, at the instant the clocks
  jump: 02:30 in Berlin on 2026-03-29 fires at 03:00 local, 01:00 UTC;
- a time that occurs twice (fall back) fires once, at its first occurrence (fold=0).

Instants in may carry any zone but must carry one; instants out are UTC. Both bounds are
inclusive: a rule fires at ``start`` and at ``stop`` when they fall on its grid. An interval
grid counts from its ``anchor`` (e.g. the creation time), else its ``start``, else the Unix
epoch, so it stays put across restarts and hosts.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jobhub.durations import format_duration, parse_duration
from jobhub.errors import InvalidDuration, InvalidInput
from jobhub.jobs import JSONValue

DEFAULT_ANCHOR: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""The grid origin of an interval rule with neither anchor nor start: "every 15m" then fires
at :00, :15, :30 and :45 UTC, the same on every host and after every restart."""

_TICK: Final = timedelta(microseconds=1)
"""The resolution of datetime: "at or after x" is "strictly after x - _TICK"."""


class _Rule(ABC):
    """What every rule answers; subclasses supply their grid of fire times."""

    __slots__ = ()
    start: datetime | None
    stop: datetime | None

    @abstractmethod
    def _first_after(self, moment: datetime) -> datetime | None:
        """The first grid time strictly after ``moment`` (UTC), ignoring start and stop."""

    @abstractmethod
    def _last_at_or_before(self, moment: datetime) -> datetime | None:
        """The last grid time at or before ``moment`` (UTC), ignoring start and stop."""

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire strictly after ``moment``; None once the rule has stopped."""
        moment = _utc(moment, "moment")
        if self.start is not None and moment < self.start:
            moment = self.start - _TICK
        found = self._first_after(moment)
        if found is None or (self.stop is not None and found > self.stop):
            return None
        return found

    def latest_due(self, after: datetime, now: datetime) -> datetime | None:
        """The most recent fire in (after, now]: the one run owed after missed fires."""
        after = _utc(after, "after")
        now = _utc(now, "now")
        if self.stop is not None and now > self.stop:
            now = self.stop
        found = self._last_at_or_before(now)
        if found is None or found <= after or (self.start is not None and found < self.start):
            return None
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class IntervalRule(_Rule):
    """Fires at ``origin``, ``origin + every``, ``origin + 2 * every``, ... (O(1) to query)."""

    every: timedelta
    start: datetime | None = None
    stop: datetime | None = None
    anchor: datetime | None = None
    """Where the grid starts when it should not start at ``start``, e.g. the schedule's
    creation time; ``start`` then only drops the fires before it."""

    def __post_init__(self) -> None:
        if self.every <= timedelta(0):
            raise InvalidInput(f"interval must be positive, got {self.every}")
        if self.anchor is not None:
            object.__setattr__(self, "anchor", _utc(self.anchor, "anchor"))
        _check_bounds(self)

    @property
    def origin(self) -> datetime:
        """The grid's first fire: ``anchor``, else ``start``, else DEFAULT_ANCHOR."""
        return self.anchor or self.start or DEFAULT_ANCHOR

    def _first_after(self, moment: datetime) -> datetime | None:
        origin = self.origin
        if moment < origin:
            return origin
        try:
            return origin + ((moment - origin) // self.every + 1) * self.every
        except OverflowError:
            return None

    def _last_at_or_before(self, moment: datetime) -> datetime | None:
        origin = self.origin
        if moment < origin:
            return None
        return origin + (moment - origin) // self.every * self.every


@dataclass(frozen=True, slots=True, kw_only=True)
class WeeklyRule(_Rule):
    """Fires on the given weekdays at a wall-clock time in a time zone."""

    days: frozenset[int]
    """0 is Monday, 6 is Sunday, in the rule's zone."""
    at: time
    """Local wall-clock time, without tzinfo."""
    tz: str
    """IANA zone name such as ``Europe/Berlin``."""
    start: datetime | None = None
    stop: datetime | None = None

    def __post_init__(self) -> None:
        days = frozenset(self.days)
        if not days:
            raise InvalidInput("a weekly rule needs at least one day")
        for day in days:
            if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
                raise InvalidInput(f"days are 0 (Monday) to 6 (Sunday), got {day!r}")
        if self.at.tzinfo is not None:
            raise InvalidInput(f"time of day must be local wall-clock time, got {self.at}")
        check_zone(self.tz)
        object.__setattr__(self, "days", days)
        object.__setattr__(self, "at", self.at.replace(fold=0))
        _check_bounds(self)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def fire_on(self, day: date) -> datetime:
        """The instant (UTC) of ``at`` on local ``day``, whatever its weekday."""
        return _local_to_utc(datetime.combine(day, self.at), self.zone)

    def _first_after(self, moment: datetime) -> datetime | None:
        fires = self._fires_near(moment, range(-1, 9))
        return min((fire for fire in fires if fire > moment), default=None)

    def _last_at_or_before(self, moment: datetime) -> datetime | None:
        fires = self._fires_near(moment, range(-8, 2))
        return max((fire for fire in fires if fire <= moment), default=None)

    def _fires_near(self, moment: datetime, offsets: range) -> Iterator[datetime]:
        """Fires on the selected days among the local days ``offsets`` from ``moment``'s.

        A week plus a day either side covers every weekday whatever the zone or DST does."""
        try:
            today = moment.astimezone(self.zone).date()
        except OverflowError:
            return
        for offset in offsets:
            try:
                day = today + timedelta(days=offset)
                if day.weekday() in self.days:
                    yield self.fire_on(day)
            except OverflowError:
                continue


Rule: TypeAlias = "IntervalRule | WeeklyRule"


def _local_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """A naive wall time in ``zone`` as UTC: the first occurrence if it repeats, the
    instant the clocks jump if it is skipped."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    other = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _transition(zone, min(first, other), max(first, other))


def _transition(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The whole second (tzdata's resolution) at which the UTC offset of ``zone`` changes
    between ``before`` and ``after``: a bisection over at most a day of seconds."""
    low, high = math.floor(before.timestamp()), math.ceil(after.timestamp())
    initial = datetime.fromtimestamp(low, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == initial:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"{what} {value.isoformat()} is out of range in UTC") from None


def _check_bounds(rule: _Rule) -> None:
    start = None if rule.start is None else _utc(rule.start, "start")
    stop = None if rule.stop is None else _utc(rule.stop, "stop")
    if start is not None and stop is not None and stop < start:
        raise InvalidInput(f"stop {stop.isoformat()} is before start {start.isoformat()}")
    object.__setattr__(rule, "start", start)
    object.__setattr__(rule, "stop", stop)


# -- parsing -----------------------------------------------------------------------------

_INTERVAL_EXAMPLES: Final = "use e.g. 30s, 15m, 2h, 1d, 1h30m or 90 for seconds"
_TIME_OF_DAY: Final = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")
_DAY_NAMES: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_EVERY_DAY: Final = frozenset(range(7))
_DAY_WORDS: Final[dict[str, frozenset[int]]] = {
    **{name: frozenset({index}) for index, name in enumerate(_DAY_NAMES)},
    **{name[:3]: frozenset({index}) for index, name in enumerate(_DAY_NAMES)},
    **dict.fromkeys(("weekdays", "weekday"), frozenset(range(5))),
    **dict.fromkeys(("weekends", "weekend"), frozenset({5, 6})),
    **dict.fromkeys(("daily", "everyday"), _EVERY_DAY),
}
_GROUP_NAMES: Final = {
    _EVERY_DAY: "daily",
    _DAY_WORDS["weekdays"]: "weekdays",
    _DAY_WORDS["weekends"]: "weekends",
}


def parse_days(text: str) -> frozenset[int]:
    """Read ``"mon,thu"``, ``"Monday, Thursday"``, ``"weekdays"``, ``"weekends"`` or
    ``"daily"``/``"every day"`` into weekday numbers (0 is Monday)."""
    lowered = re.sub(r"\bevery\s+day\b", "everyday", text.lower())
    words = [word for word in re.split(r"[\s,]+", lowered) if word]
    if not words:
        raise InvalidInput(f"no days given in {text!r} (use e.g. mon,thu, weekdays or daily)")
    days: set[int] = set()
    for word in words:
        found = _DAY_WORDS.get(word)
        if found is None:
            raise InvalidInput(
                f"unknown day {word!r} in {text!r} (use mon..sun, weekdays, weekends or daily)"
            )
        days |= found
    return frozenset(days)


def parse_time_of_day(text: str) -> time:
    """Read ``"2:00"``, ``"02:00"`` or ``"14:30:15"`` as a local wall-clock time."""
    match = _TIME_OF_DAY.fullmatch(text.strip())
    if match is not None:
        hour, minute, second = match.groups()
        try:
            return time(int(hour), int(minute), int(second or 0))
        except ValueError:
            pass
    raise InvalidInput(f"not a time of day: {text!r} (use HH:MM or HH:MM:SS, 00:00 to 23:59:59)")


def check_zone(name: str) -> ZoneInfo:
    """The zone of an IANA name such as ``Europe/Berlin`` (exact spelling), or InvalidInput."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise InvalidInput(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
        ) from exc


# -- building and describing -------------------------------------------------------------


def build_rule(
    *,
    interval: timedelta | str | None = None,
    days: Iterable[int] | str | None = None,
    at: time | str | None = None,
    tz: str = "UTC",
    start: datetime | None = None,
    stop: datetime | None = None,
    anchor: datetime | None = None,
) -> Rule:
    """The rule a caller (manager, CLI, HTTP) asks for: every ``interval``, or on ``days``
    (all days when omitted) at ``at`` in ``tz``. Text is parsed; bad input is InvalidInput."""
    check_zone(tz)
    if interval is not None:
        if days is not None or at is not None:
            raise InvalidInput("give either an interval or days and a time, not both")
        every = _interval(interval)
        return IntervalRule(every=every, start=start, stop=stop, anchor=anchor)
    if at is None:
        raise InvalidInput("a schedule needs an interval or a time of day")
    if anchor is not None:
        raise InvalidInput("an anchor applies only to interval schedules")
    weekdays = _EVERY_DAY if days is None else parse_days(days) if isinstance(days, str) else days
    wall = parse_time_of_day(at) if isinstance(at, str) else at
    return WeeklyRule(days=frozenset(weekdays), at=wall, tz=tz, start=start, stop=stop)


def _interval(interval: timedelta | str) -> timedelta:
    """A positive interval, from a duration (``15m``, ``1h30m``) or a timedelta."""
    try:
        every = parse_duration(interval) if isinstance(interval, str) else interval
    except InvalidDuration as exc:
        raise InvalidDuration(f"interval: {exc.message}") from exc
    if every <= timedelta(0):
        shown = f"{every.total_seconds():g}s"
        raise InvalidInput(f"interval must be positive, got {shown} ({_INTERVAL_EXAMPLES})")
    return every


def describe(rule: Rule) -> str:
    """One line for people: ``every 15m``, ``mon,thu at 02:30 Europe/Berlin until ...``."""
    if isinstance(rule, IntervalRule):
        text = f"every {format_duration(rule.every)}"
    else:
        days = _GROUP_NAMES.get(rule.days) or ",".join(_DAY_NAMES[d][:3] for d in sorted(rule.days))
        exact = rule.at.second or rule.at.microsecond
        wall = rule.at.isoformat() if exact else rule.at.isoformat("minutes")
        text = f"{days} at {wall} {rule.tz}"
    if rule.start is not None:
        text += f" from {rule.start.isoformat()}"
    if rule.stop is not None:
        text += f" until {rule.stop.isoformat()}"
    return text


# -- JSON --------------------------------------------------------------------------------

_JSON_KEYS: Final = {
    "interval": frozenset({"kind", "every", "anchor", "start", "stop"}),
    "weekly": frozenset({"kind", "days", "at", "tz", "start", "stop"}),
}


def rule_to_json(rule: Rule) -> dict[str, JSONValue]:
    """The rule as a JSON-ready dict: ISO 8601 text, seconds, weekday numbers, zone name."""
    data: dict[str, JSONValue]
    if isinstance(rule, IntervalRule):
        every = rule.every
        seconds = every.total_seconds() if every.microseconds else every // timedelta(seconds=1)
        anchor = None if rule.anchor is None else rule.anchor.isoformat()
        data = {"kind": "interval", "every": seconds, "anchor": anchor}
    else:
        days: list[JSONValue] = [*sorted(rule.days)]
        data = {"kind": "weekly", "days": days, "at": rule.at.isoformat(), "tz": rule.tz}
    data["start"] = None if rule.start is None else rule.start.isoformat()
    data["stop"] = None if rule.stop is None else rule.stop.isoformat()
    return data


def rule_from_json(data: Mapping[str, object]) -> Rule:
    """Rebuild what ``rule_to_json`` wrote, or raise InvalidInput naming the bad field."""
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in _JSON_KEYS:
        raise InvalidInput(f"unknown schedule rule kind {kind!r} (interval or weekly)")
    unknown = sorted(set(data) - _JSON_KEYS[kind])
    if unknown:
        raise InvalidInput(f"unknown fields in {kind} rule: {', '.join(unknown)}")
    start, stop = _json_optional_moment(data, "start"), _json_optional_moment(data, "stop")
    if kind == "interval":
        every = data.get("every")
        if isinstance(every, bool) or not isinstance(every, int | float):
            raise InvalidInput(f"every: expected a number of seconds, got {every!r}")
        try:
            interval = timedelta(seconds=every)
        except (OverflowError, ValueError):
            raise InvalidInput(f"every: not a usable number of seconds: {every!r}") from None
        anchor = _json_optional_moment(data, "anchor")
        return IntervalRule(every=interval, start=start, stop=stop, anchor=anchor)
    days = data.get("days")
    if not isinstance(days, list) or not all(isinstance(day, int) for day in days):
        raise InvalidInput(f"days: expected a list of weekday numbers, got {days!r}")
    at, tz = data.get("at"), data.get("tz")
    if not isinstance(tz, str):
        raise InvalidInput(f"tz: expected a time zone name, got {tz!r}")
    if not isinstance(at, str):
        raise InvalidInput(f"at: expected HH:MM:SS text, got {at!r}")
    try:
        wall = time.fromisoformat(at)
    except ValueError:
        raise InvalidInput(f"at: not a time of day: {at!r}") from None
    return WeeklyRule(days=frozenset(days), at=wall, tz=tz, start=start, stop=stop)


def _json_optional_moment(data: Mapping[str, object], key: str) -> datetime | None:
    return None if data.get(key) is None else _json_moment(data, key)


def _json_moment(data: Mapping[str, object], key: str) -> datetime:
    value = data.get(key)
    if not isinstance(value, str):
        raise InvalidInput(f"{key}: expected an ISO 8601 date-time, got {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{key}: not an ISO 8601 date-time: {value!r}") from None
