"""The targets from the issue, and how each figure compares with its target.

A missed target is reported, not treated as an error: the benchmark's job is to measure.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    requirement: str
    value: float | None
    unit: str
    passed: bool | None
    """None when this mode did not measure it."""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(
    name: str, requirement: str, value: float | None, unit: str, ok: bool | None, note: str = ""
) -> Target:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Target(name, requirement, None, unit, None, note or "not measured in this mode")
    return Target(name, requirement, value, unit, ok, note)


def evaluate(
    *,
    j_over_c: float | None = None,
    j_over_a: float | None = None,
    j_over_b: float | None = None,
    enqueue_ratio: float | None = None,
    lag_p99_ms: float | None = None,
    rss_growth_percent: float | None = None,
    worst_query_p99_ms: float | None = None,
    worst_query: str = "",
    worst_page_p99_ms: float | None = None,
    worst_page: str = "",
    pages_failed: int = 0,
    scrape_p99_ms: float | None = None,
    scrape_rows: int | None = None,
) -> list[Target]:
    def at_least(value: float | None, bound: float) -> bool | None:
        return None if value is None else value >= bound

    def at_most(value: float | None, bound: float) -> bool | None:
        return None if value is None else value <= bound

    return [
        _check(
            "J/C end-to-end jobs/s, each as shipped",
            ">= 0.75 (mean of pair ratios)",
            j_over_c,
            "x",
            at_least(j_over_c, 0.75),
        ),
        _check(
            "J/A end-to-end jobs/s, the same Celery settings",
            ">= 0.9 (mean of pair ratios)",
            j_over_a,
            "x",
            at_least(j_over_a, 0.9),
        ),
        _check(
            "J/B end-to-end jobs/s",
            ">= 3 (mean of pair ratios)",
            j_over_b,
            "x",
            at_least(j_over_b, 3.0),
        ),
        _check(
            "start_job / apply_async enqueue rate",
            ">= 0.7 (J over A, mean of pairs)",
            enqueue_ratio,
            "x",
            at_least(enqueue_ratio, 0.7),
        ),
        _check(
            "Completed visible after task returned, p99 at half peak rate",
            "<= 100 ms",
            lag_p99_ms,
            "ms",
            at_most(lag_p99_ms, 100.0),
        ),
        _check(
            "worker RSS growth over the long run",
            "< 10 % (--long)",
            rss_growth_percent,
            "%",
            None if rss_growth_percent is None else rss_growth_percent < 10.0,
        ),
        _check(
            "job query p99, worst shape",
            "<= 20 ms (--queries)",
            worst_query_p99_ms,
            "ms",
            at_most(worst_query_p99_ms, 20.0),
            worst_query,
        ),
        _pages(worst_page_p99_ms, worst_page, pages_failed),
        _check(
            "GET /metrics p99",
            "< 100 ms on 1,000,000 jobs (--metrics)",
            scrape_p99_ms,
            "ms",
            None if scrape_p99_ms is None else scrape_p99_ms < 100.0,
            "" if scrape_rows is None else f"measured on {scrape_rows:,} jobs",
        ),
    ]


def _pages(worst_p99_ms: float | None, worst: str, failed: int) -> Target:
    """The page target fails when any page did not answer 200, even if none was timed."""
    name, requirement = "dashboard page p99, worst page", "<= 100 ms, every page 200 (--pages)"
    note = "; ".join(([worst] if worst else []) + ([f"{failed} page(s) failed"] if failed else []))
    if worst_p99_ms is None and failed:
        return Target(name, requirement, None, "ms", False, note)
    ok = None if worst_p99_ms is None else worst_p99_ms <= 100.0 and not failed
    return _check(name, requirement, worst_p99_ms, "ms", ok, note)
