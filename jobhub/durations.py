"""Durations as text, one grammar everywhere: settings, the CLI, schedules, the HTTP API.

A duration is one or more amounts, each followed by its unit, largest unit first and each
unit at most once: ``w`` (weeks), ``d`` (days), ``h`` (hours), ``m`` (minutes), ``s``
(seconds), ``ms`` (milliseconds). An amount is a decimal number with digits on both sides
of its point (``1.5h``); a bare number is seconds (``90``, ``0.5``). Whitespace between
the numbers and units is ignored and case does not matter, so ``250ms``, ``90s``, ``1h30m``,
``2d``, ``1m30s500ms`` and ``1H 30M`` all read. Zero is a duration; a negative value is
not. The resolution is a microsecond (``timedelta``'s): finer fractions are rounded.

``format_duration`` writes the canonical form, which ``parse_duration`` reads back to the
same value: whole days, hours, minutes and seconds, largest first, zeros left out (weeks
are written as days), a fraction of a second as decimals of the seconds, or as
milliseconds when the whole value is under a second: ``1h30m``, ``2d``, ``1.5s``,
``250ms``, ``0s``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_EVEN, Decimal, localcontext
from typing import Final

from jobhub.errors import InvalidDuration

_MICROSECONDS: Final = {
    "w": 7 * 86_400_000_000,
    "d": 86_400_000_000,
    "h": 3_600_000_000,
    "m": 60_000_000,
    "s": 1_000_000,
    "ms": 1_000,
}
"""Each unit in microseconds, largest first: the order units must come in."""

_RANK: Final = {unit: rank for rank, unit in enumerate(_MICROSECONDS)}
_NUMBER: Final = r"[0-9]+(?:\.[0-9]+)?"
_BARE: Final = re.compile(rf"\s*({_NUMBER})\s*", re.ASCII)
_PART: Final = re.compile(rf"\s*({_NUMBER})\s*(ms|[wdhms])\s*", re.ASCII)
_LONGEST: Final = Decimal(timedelta.max // timedelta(microseconds=1))
_EXAMPLES: Final = "use e.g. 250ms, 90s, 1h30m or 2d; a bare number is seconds"
_SHOWN: Final = 40
"""Characters of a bad duration quoted in an error message."""

_SECOND: Final = timedelta(seconds=1)


def parse_duration(text: str) -> timedelta:
    """The duration ``text`` spells (see the module docstring), or InvalidDuration saying
    what is wrong with it."""
    lowered = text.lower()
    if not lowered.strip():
        raise InvalidDuration(f"empty duration ({_EXAMPLES})")
    if lowered.lstrip().startswith("-"):
        raise InvalidDuration(f"a duration cannot be negative: {_quote(text)} ({_EXAMPLES})")
    bare = _BARE.fullmatch(lowered)
    if bare is not None:
        return _sum([(bare[1], "s")], text)
    parts: list[tuple[str, str]] = []
    position = 0
    while position < len(lowered):
        part = _PART.match(lowered, position)
        if part is None:
            raise InvalidDuration(f"not a duration: {_quote(text)} ({_EXAMPLES})")
        if parts and _RANK[part[2]] <= _RANK[parts[-1][1]]:
            raise InvalidDuration(
                f"not a duration: {_quote(text)} (units go from largest to smallest, each at "
                f"most once: w, d, h, m, s, ms; {_EXAMPLES})"
            )
        parts.append((part[1], part[2]))
        position = part.end()
    return _sum(parts, text)


def format_duration(value: timedelta) -> str:
    """``value`` in the canonical form (``1h30m``, ``2d``, ``1.5s``, ``250ms``, ``0s``),
    which ``parse_duration`` reads back to ``value``; InvalidDuration if it is negative."""
    if value < timedelta(0):
        raise InvalidDuration(f"a duration cannot be negative: {value}")
    if value < _SECOND:
        whole, fraction = divmod(value.microseconds, 1000)
        return f"{whole}{_decimals(fraction, 3)}ms" if value else "0s"
    parts = [
        f"{amount}{unit}"
        for amount, unit in (
            (value.days, "d"),
            (value.seconds // 3600, "h"),
            (value.seconds % 3600 // 60, "m"),
        )
        if amount
    ]
    seconds = value.seconds % 60
    if seconds or value.microseconds:
        parts.append(f"{seconds}{_decimals(value.microseconds, 6)}s")
    return "".join(parts)


def _decimals(fraction: int, digits: int) -> str:
    """``fraction`` (of ``10**digits``) as ``.25``-style decimals, or "" when it is 0."""
    return f".{fraction:0{digits}d}".rstrip("0") if fraction else ""


def _sum(parts: list[tuple[str, str]], text: str) -> timedelta:
    """The amounts in their units, exactly, rounded to the microsecond."""
    with localcontext() as context:
        context.prec, context.Emax, context.Emin = 40, MAX_EMAX, MIN_EMIN
        total = sum((Decimal(amount) * _MICROSECONDS[unit] for amount, unit in parts), Decimal(0))
        if total > _LONGEST:
            raise InvalidDuration(
                f"duration too long: {_quote(text)} (at most {timedelta.max.days}d)"
            )
        return timedelta(microseconds=int(total.to_integral_value(ROUND_HALF_EVEN)))


def _quote(text: str) -> str:
    """``text`` quoted for an error message, cut short if it is long."""
    return repr(text) if len(text) <= _SHOWN else f"{text[:_SHOWN]!r}..."
