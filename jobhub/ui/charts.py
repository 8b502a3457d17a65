"""Charts drawn on the server: the geometry of stacked bars, for a template to write as
inline SVG (nothing to load, no script to run, and the figures are in the page itself:
each bar has a title with its counts, which browsers show on hover and screen readers
read).

Jobs finished per time bucket are stacked completed / failed / cancelled, on a scale
rounded up to a plain number (1, 2 or 5 times a power of ten) so the axis reads well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from jobhub.jobs import JobStatus

WIDTH = 1000.0
"""The viewBox's width; the SVG scales to its box."""
HEIGHT = 200.0
GAP = 0.15
"""The share of a bucket's width left empty between bars."""

FINISHED: tuple[tuple[str, JobStatus], ...] = (
    ("completed", JobStatus.COMPLETED),
    ("failed", JobStatus.COMPLETED_WITH_ERRORS),
    ("cancelled", JobStatus.CANCELLED),
)
"""The stacked series, bottom up: each a CSS class and the status it counts."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    name: str
    count: int
    y: float
    height: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    start: datetime
    end: datetime
    x: float
    width: float
    segments: tuple[Segment, ...]
    total: int
    title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BarChart:
    width: float
    height: float
    bars: tuple[Bar, ...]
    top: int
    """The value at the top of the scale."""
    totals: Mapping[str, int]
    """Each series' sum over the whole chart."""

    @property
    def empty(self) -> bool:
        return not any(bar.total for bar in self.bars)


def nice_top(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that is at least ``value`` (1 for 0)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def finished_bars(
    buckets: Sequence[tuple[datetime, Mapping[JobStatus, int]]], bucket: timedelta
) -> BarChart:
    """Stacked bars of the jobs finished in each ``(start, counts)`` bucket, oldest first."""
    totals = [sum(counts.get(status, 0) for _, status in FINISHED) for _, counts in buckets]
    top = nice_top(max(totals, default=0))
    slot = WIDTH / max(len(buckets), 1)
    bars: list[Bar] = []
    for (start, counts), total in zip(buckets, totals, strict=True):
        segments = []
        base = HEIGHT
        for name, status in FINISHED:
            count = counts.get(status, 0)
            height = HEIGHT * count / top
            base -= height
            if count:
                segments.append(Segment(name=name, count=count, y=base, height=height))
        end = start + bucket
        figures = ", ".join(f"{counts.get(status, 0)} {name}" for name, status in FINISHED)
        bars.append(
            Bar(
                start=start,
                end=end,
                x=len(bars) * slot + slot * GAP / 2,
                width=slot * (1 - GAP),
                segments=tuple(segments),
                total=total,
                title=f"{_span(start, end)}: {figures}",
            )
        )
    sums = {name: sum(counts.get(status, 0) for _, counts in buckets) for name, status in FINISHED}
    return BarChart(width=WIDTH, height=HEIGHT, bars=tuple(bars), top=top, totals=sums)


def _span(start: datetime, end: datetime) -> str:
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if start.date() == end.date() or end - start < timedelta(days=1):
        return f"{start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC"
    return f"{start:%Y-%m-%d} to {end:%Y-%m-%d} UTC"
