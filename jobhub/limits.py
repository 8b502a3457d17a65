"""Limits on a job type, as values and as text: ``2``, ``10 per customer_id``,
``2 per organization``, ``100/min``, ``5/s per customer_id``.

Two kinds: **concurrency**, at most N of the type Processing at once; and **rate**, at
most N started per period. Either holds for the type as a whole or per value of a key:
a parameter of the job, or ``organization`` (its tenant), which is jobhub's answer to
tenant fairness. Several limits may hold at once; a job starts only when every one of them
has room. How they are enforced across hosts is ``jobhub.gates``'s part; this module only
reads, checks and describes them.

Grammar: ``<N>[ at once]`` or ``<N>/<period>``, optionally followed by ``per <key>``. A
period is ``s``/``sec``/``second``, ``min``/``minute``, ``h``/``hour``, ``d``/``day`` or
any duration of ``jobhub.durations`` (``10/30s``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from jobhub.durations import format_duration, parse_duration
from jobhub.errors import InvalidDuration, InvalidLimit

ORGANIZATION = "organization"
"""The key that counts per organization (tenant) rather than per parameter value."""

MAX_LIMIT = 1_000_000
"""The largest N a limit may have (a guard against typing errors, not a capacity)."""

_PERIOD_WORDS = {
    "s": timedelta(seconds=1),
    "sec": timedelta(seconds=1),
    "second": timedelta(seconds=1),
    "min": timedelta(minutes=1),
    "minute": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "hour": timedelta(hours=1),
    "d": timedelta(days=1),
    "day": timedelta(days=1),
}
_SPEC = re.compile(
    r"^\s*(?P<n>[+-]?\d+)\s*(?:(?P<at_once>at\s+once)|/\s*(?P<period>[^\s]+(?:\s+[^\s]+)*?))?"
    r"(?:\s+per\s+(?P<per>\S+))?\s*$",
    re.IGNORECASE,
)
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


class LimitKind(enum.StrEnum):
    CONCURRENCY = "concurrency"
    RATE = "rate"


@dataclass(frozen=True, slots=True)
class Limit:
    """One limit: ``maximum`` at once (concurrency) or per ``period`` (rate), overall
    (``per`` empty) or per value of the key ``per``."""

    kind: LimitKind
    maximum: int
    per: str = ""
    period: timedelta | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.maximum <= MAX_LIMIT:
            raise InvalidLimit(f"a limit must be 1 to {MAX_LIMIT}, not {self.maximum}")
        if (self.kind is LimitKind.RATE) != (self.period is not None):
            raise InvalidLimit("a rate limit has a period; a concurrency limit has none")
        if self.period is not None and self.period <= timedelta(0):
            raise InvalidLimit("a rate limit's period must be longer than zero")
        if self.per and not _KEY.match(self.per):
            raise InvalidLimit(f"{self.per!r} is not a parameter name or 'organization'")

    @classmethod
    def concurrency(cls, maximum: int, per: str = "") -> Limit:
        return cls(LimitKind.CONCURRENCY, maximum, per)

    @classmethod
    def rate(cls, maximum: int, period: timedelta, per: str = "") -> Limit:
        return cls(LimitKind.RATE, maximum, per, period)

    @classmethod
    def parse(cls, text: str) -> Limit:
        """The limit ``text`` spells; InvalidLimit saying what is wrong otherwise."""
        found = _SPEC.match(text) if isinstance(text, str) else None
        if found is None:
            raise InvalidLimit(
                f"{str(text)[:40]!r} is not a limit (use e.g. 2, 10 per customer_id, "
                "100/min or 5/s per organization)"
            )
        maximum = int(found["n"])
        per = found["per"] or ""
        if found["period"] is None:
            return cls.concurrency(maximum, per)
        return cls.rate(maximum, _period(found["period"]), per)

    @property
    def scope(self) -> tuple[LimitKind, str]:
        """What identifies it among a type's limits: a type has at most one limit of
        each kind per key."""
        return (self.kind, self.per)

    def text(self) -> str:
        """As ``parse`` reads it back: ``2``, ``10 per customer_id``, ``100/min``."""
        base = (
            str(self.maximum)
            if self.period is None
            else f"{self.maximum}/{_period_text(self.period)}"
        )
        return f"{base} per {self.per}" if self.per else base

    def describe(self, job_type: str) -> str:
        """For people: "at most 2 reports.build at once per customer_id", "at most 100
        partner.call started per minute"."""
        if self.period is None:
            what = f"at most {self.maximum} {job_type} at once"
        else:
            what = f"at most {self.maximum} {job_type} started per {_period_words(self.period)}"
        return f"{what} per {self.per}" if self.per else what

    def check_key(self, job_type: str, parameters: Collection[str]) -> None:
        """InvalidLimit when its key is neither ``organization`` nor a declared
        parameter of the type."""
        if self.per and self.per != ORGANIZATION and self.per not in parameters:
            raise InvalidLimit(
                f"{job_type} has no parameter {self.per!r} to limit per"
                f" (its parameters: {', '.join(sorted(parameters)) or 'none'})"
            )


def key_of(per: str, organization: str, parameters: dict[str, object]) -> str:
    """The value a job counts under for a limit per ``per`` ("" for an overall limit; a
    missing parameter counts under "")."""
    if not per:
        return ""
    if per == ORGANIZATION:
        return organization
    value = parameters.get(per)
    return "" if value is None else str(value)[:200]


def declared_limits(concurrency: int | None, limits: Collection[str | Limit]) -> tuple[Limit, ...]:
    """A job type's declared limits (``@job(concurrency=2, limits=["100/min"])``), one per
    scope; InvalidLimit on a bad or repeated one."""
    found: list[Limit] = []
    if concurrency is not None:
        found.append(Limit.concurrency(concurrency))
    found.extend(item if isinstance(item, Limit) else Limit.parse(item) for item in limits)
    scopes = [limit.scope for limit in found]
    if len(set(scopes)) != len(scopes):
        raise InvalidLimit("a job type may have one limit of each kind per key")
    return tuple(found)


def _period(text: str) -> timedelta:
    word = text.strip().lower()
    if word in _PERIOD_WORDS:
        return _PERIOD_WORDS[word]
    try:
        return parse_duration(word)
    except InvalidDuration:
        raise InvalidLimit(
            f"{text[:40]!r} is not a period (use s, min, h, d or a duration like 30s)"
        ) from None


def _period_words(period: timedelta) -> str:
    """A period for people: "second", "minute", "hour", "day", or its duration ("30s")."""
    for word in ("second", "minute", "hour", "day"):
        if period == _PERIOD_WORDS[word]:
            return word
    return format_duration(period)


def _period_text(period: timedelta) -> str:
    for word in ("s", "min", "h", "d"):
        if period == _PERIOD_WORDS[word]:
            return word
    return format_duration(period)
