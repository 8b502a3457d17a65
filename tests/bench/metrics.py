"""The metrics scrape and the dashboard's overview over a million jobs.

The jobs of ``queries.FILL`` (1,000,000 by default, written oldest first) get their
history too: one event per transition each went through (Created, Queued, Processing,
its end), written in time order, about 3.9 million rows. The history is folded once,
timed (what the folds after an upgrade do, and the fold's cost per event). Then, each
100 times after 3 warm-ups:

* ``GET /metrics`` through the whole app (``create_app``, httpx's ASGI transport): the
  fold a scrape runs first, every database read, the exposition;
* ``JobManager.overview`` for each period the dashboard offers, for all organizations
  and for the largest one;
* each read of a scrape alone, and the read of the unfolded tail with 10,000 and 50,000
  events in it (the tail a busy system has between two folds).

Nothing here is on the per-job path: a job's writes are unchanged; folding runs in a
worker's background thread and at scrapes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from jobhub import JobManager, Settings
from jobhub.api.app import create_app
from jobhub.db import migrate
from jobhub.db.stats_store import StatsStore
from tests.bench.harness import Progress
from tests.bench.pg import sqlalchemy_url
from tests.bench.queries import CUSTOMERS, FILL
from tests.bench.services import Services, Space
from tests.bench.stats import percentile

RUNS = 100
WARMUP = 3
TAILS = (10_000, 50_000)
PERIODS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}
PERIODS["30d"] = timedelta(days=30)
BIGGEST_ORGANIZATION = "org-00"  # the fill's organizations are skewed towards org-00

FILL_IN_TIME_ORDER = FILL.rstrip() + "\nORDER BY r.created_at\n"
"""The jobs of the job-query benchmark, written oldest first as a live system writes them
(so the rows of recent jobs sit together, as they do in production)."""

HISTORY = """
INSERT INTO job_events (job_id, at, status, attempt, worker_id)
SELECT j.id, t.at, t.status, 1, CASE WHEN t.status >= 2 THEN j.worker_id END
FROM jobs j CROSS JOIN LATERAL (VALUES (j.created_at, 0::smallint), (j.queued_at, 1::smallint),
                                       (j.started_at, 2::smallint), (j.completed_at, j.status))
    AS t(at, status)
WHERE t.at IS NOT NULL
ORDER BY t.at
"""


@dataclass
class Timing:
    name: str
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass
class MetricsResult:
    rows: int
    events: int = 0
    fill_seconds: float = 0.0
    fold_seconds: float = 0.0
    fold_us_per_event: float = 0.0
    rollup_rows: dict[str, int] = field(default_factory=dict)
    scrape: Timing | None = None
    scrape_bytes: int = 0
    overview: list[Timing] = field(default_factory=list)
    parts: list[Timing] = field(default_factory=list)
    tails: list[Timing] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def timed(name: str, call: Callable[[], object]) -> Timing:
    for _ in range(WARMUP):
        call()
    took = []
    for _ in range(RUNS):
        began = time.perf_counter()
        call()
        took.append(time.perf_counter() - began)
    return Timing(name, percentile(took, 50) * 1000, percentile(took, 99) * 1000, max(took) * 1000)


def run_metrics(services: Services, rows: int, *, progress: Progress) -> MetricsResult:
    result = MetricsResult(rows=rows)
    space = Space.create(services, "metrics")
    url = sqlalchemy_url(space.database_url)
    manager = JobManager.from_settings(Settings(database_url=url, broker_url=services.redis_url))
    try:
        stats = manager.app.runtime.stats
        migrate.upgrade(manager.app.runtime.engine)
        progress(f"metrics: inserting {rows:,} jobs and their history in bulk")
        began = time.monotonic()
        with psycopg.connect(space.database_url, autocommit=True) as connection:
            with connection.transaction():
                now = datetime.now().astimezone()
                connection.execute(
                    FILL_IN_TIME_ORDER, {"rows": rows, "now": now, "customers": CUSTOMERS}
                )
                result.events = connection.execute(HISTORY).rowcount
            connection.execute("VACUUM (ANALYZE) jobs")
            connection.execute("VACUUM (ANALYZE) job_events")
        result.fill_seconds = time.monotonic() - began
        progress(f"metrics: folding {result.events:,} events")
        began = time.perf_counter()
        _fold_up_to(space, stats, result.events - max(TAILS))
        result.fold_seconds = time.perf_counter() - began
        result.fold_us_per_event = result.fold_seconds / result.events * 1e6
        progress(f"metrics: folded in {result.fold_seconds:.1f} s")
        for tail in sorted(TAILS, reverse=True):
            _fold_up_to(space, stats, result.events - tail)
            result.tails.append(timed(f"totals() with {tail:,} unfolded events", stats.totals))
        _fold_up_to(space, stats, result.events)
        with psycopg.connect(space.database_url, autocommit=True) as connection:
            connection.execute("VACUUM (ANALYZE)")
            for table in (
                "stats_totals",
                "stats_durations",
                "stats_finished",
                "stats_finished_by_organization",
            ):
                found = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
                result.rollup_rows[table] = int(found[0]) if found else 0
        manager.app.runtime.workers.beat("bench@host/1", "host", 1, ["jobhub", "reports"])
        manager.set_job_schedule("diagnostics.echo", interval="1h")
        progress("metrics: GET /metrics and the overview, 100 runs each")
        result.scrape, result.scrape_bytes = _scrape(manager)
        progress(
            f"metrics: scrape p50 {result.scrape.p50_ms:.1f} ms, p99 {result.scrape.p99_ms:.1f} ms"
        )
        for label, period in PERIODS.items():
            for organization in (None, BIGGEST_ORGANIZATION):
                who = organization or "all organizations"
                result.overview.append(
                    timed(f"overview {label}, {who}", _overview(manager, period, organization))
                )
        now = datetime.now(UTC)
        timeout = manager.settings.worker_timeout
        parts: list[tuple[str, Callable[[], object]]] = [
            ("fold (nothing settled)", stats.fold),
            ("live(): Created/Queued/Processing by type", stats.live),
            ("totals(): folded + tail", stats.totals),
            ("queue_depths()", lambda: stats.queue_depths(now)),
            ("alive_workers()", lambda: stats.alive_workers(timeout)),
            ("schedules()", stats.schedules),
        ]
        for name, call in parts:
            result.parts.append(timed(name, call))
        return result
    finally:
        manager.close()
        space.remove()


def _overview(
    manager: JobManager, period: timedelta, organization: str | None
) -> Callable[[], object]:
    return lambda: manager.overview(period=period, organization=organization)


def _fold_up_to(space: Space, stats: StatsStore, event_id: int) -> None:
    """Fold exactly up to ``event_id``: make it the settled mark, then fold until there."""
    with psycopg.connect(space.database_url, autocommit=True) as connection:
        connection.execute(
            "UPDATE stats_watermark SET pending_event_id = %s, pending_since = now() - interval"
            " '1 hour' WHERE folded_event_id < %s",
            (event_id, event_id),
        )
    with psycopg.connect(space.database_url, autocommit=True) as connection:
        while _folded(connection) < event_id:
            stats.fold(batch=50_000, horizon=timedelta(0))
        connection.execute("UPDATE stats_watermark SET pending_event_id = NULL")


def _folded(connection: psycopg.Connection[Any]) -> int:
    found = connection.execute("SELECT folded_event_id FROM stats_watermark").fetchone()
    return int(found[0]) if found else 0


def _scrape(manager: JobManager) -> tuple[Timing, int]:
    app = create_app(manager)

    async def scrapes() -> tuple[Timing, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            took = []
            size = 0
            for n in range(WARMUP + RUNS):
                began = time.perf_counter()
                response = await client.get("/metrics")
                if n >= WARMUP:
                    took.append(time.perf_counter() - began)
                response.raise_for_status()
                size = len(response.content)
        p50, p99 = percentile(took, 50) * 1000, percentile(took, 99) * 1000
        return Timing("GET /metrics", p50, p99, max(took) * 1000), size

    return asyncio.run(scrapes())
