"""Job-history queries over a million rows, through jobhub's own query code.

A fresh database is migrated, filled in one ``INSERT ... SELECT ... FROM generate_series``
(about 96% Completed, 2% CompletedWithErrors, 1% Cancelled, 1% still active and recent;
20 job types and 50 organizations, both skewed; created over 30 days; purge 30 days
after creation; descriptions naming one of 20,000 customers, a unique client request id
on half the jobs and a concurrency key on a tenth, for the text searches) and analysed.
Each query shape then runs 100 times with varied parameters through
``JobStore(engine).find(JobQuery(...))``, after 3 warm-up runs; the time includes taking
a pooled connection and building the ``Job`` values. The plan of one instance of each
shape is printed from ``EXPLAIN (ANALYZE, BUFFERS)`` of the very
statement jobhub sent, captured on the engine.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import Engine, event

from jobhub import JobStatus, Settings
from jobhub.db import migrate
from jobhub.db.engine import make_engine
from jobhub.db.job_store import JobStore
from jobhub.queries import Cursor, JobOrder, JobQuery
from tests.bench.harness import Progress
from tests.bench.pg import sqlalchemy_url
from tests.bench.services import Services, Space
from tests.bench.stats import percentile

RUNS = 100
WARMUP = 3
TYPES = 20
ORGANIZATIONS = 50
DAYS = 30
CUSTOMERS = 20_000

FILL = """
INSERT INTO jobs (
    id, job_type, category, subcategory, description, parameters, identity, organization,
    client_request_id, concurrency_key, status, status_text, percent, worker_id, attempt,
    result, error_type, error_message, error_traceback, can_cancel, can_rerun,
    cancel_requested_at, created_at, queued_at, started_at, updated_at, completed_at,
    purge_at, created_by, modified_by)
SELECT
    gen_random_uuid(),
    'bench.type' || lpad(r.kind::text, 2, '0'),
    'Benchmark',
    'Generated',
    'a generated job of type ' || r.kind || ' for customer C'
        || lpad(mod(r.g::bigint * 7919, %(customers)s)::text, 5, '0'),
    jsonb_build_object('n', r.g, 'day', to_char(r.created_at, 'YYYY-MM-DD')),
    'user' || (mod(r.g, 997)),
    'org-' || lpad(r.org::text, 2, '0'),
    CASE WHEN mod(r.g, 2) = 0 THEN 'req-' || md5(r.g::text) END,
    CASE WHEN mod(r.g, 10) = 1 THEN 'account-' || r.g END,
    r.status,
    CASE r.status WHEN 2 THEN 'step 1 of 2' WHEN 4 THEN 'failed' WHEN 5 THEN 'Cancelled' END,
    CASE r.status WHEN 3 THEN 100 WHEN 2 THEN 50 WHEN 4 THEN 30 ELSE 0 END,
    CASE WHEN r.status >= 2 AND r.status <> 5
         THEN 'worker' || (mod(r.g, 8)) || '@bench/' || (1000 + mod(r.g, 16)) END,
    1,
    CASE WHEN r.status = 3 THEN jsonb_build_object('rows', mod(r.g, 1000)) END,
    CASE WHEN r.status = 4 THEN 'RuntimeError' END,
    CASE WHEN r.status = 4 THEN 'generated failure ' || r.g END,
    CASE WHEN r.status = 4 THEN 'Traceback (most recent call last): ...' END,
    true,
    true,
    CASE WHEN r.status = 5 THEN r.created_at + interval '1 second' END,
    r.created_at,
    CASE WHEN r.status >= 1 THEN r.created_at + interval '3 milliseconds' END,
    CASE WHEN r.status >= 2 AND r.status <> 5 THEN r.created_at + interval '40 milliseconds' END,
    r.created_at + CASE WHEN r.status >= 2 THEN r.run_time ELSE interval '0' END,
    CASE WHEN r.status >= 3 THEN r.created_at + r.run_time END,
    r.created_at + interval '30 days',
    'user' || (mod(r.g, 997)),
    'user' || (mod(r.g, 997))
FROM (
    SELECT
        g,
        floor(20 * power(random(), 2))::int AS kind,
        floor(50 * power(random(), 1.5))::int AS org,
        CASE WHEN u < 0.99 THEN %(now)s - random() * interval '30 days'
             ELSE %(now)s - random() * interval '2 hours' END AS created_at,
        random() * interval '20 seconds' AS run_time,
        CASE WHEN u < 0.96 THEN 3 WHEN u < 0.98 THEN 4 WHEN u < 0.99 THEN 5
             WHEN u < 0.9935 THEN 0 WHEN u < 0.997 THEN 1 ELSE 2 END AS status
    FROM (SELECT g, random() AS u FROM generate_series(1, %(rows)s) AS g) AS base
) AS r
"""


@dataclass(frozen=True, slots=True)
class Filled:
    """How long the fill and its VACUUM ANALYZE took, and what the table then weighs."""

    seconds: float
    analyze_seconds: float
    table_size: str


def fill(connection: psycopg.Connection[Any], rows: int) -> Filled:
    """Insert ``rows`` generated jobs (``FILL``) into a migrated, autocommit database,
    then VACUUM ANALYZE them, as a long-lived table would be."""
    began = time.monotonic()
    with connection.transaction():
        connection.execute(
            FILL, {"rows": rows, "now": datetime.now().astimezone(), "customers": CUSTOMERS}
        )
    seconds = time.monotonic() - began
    began = time.monotonic()
    connection.execute("VACUUM (ANALYZE) jobs, job_texts")
    analyze_seconds = time.monotonic() - began
    size = connection.execute("SELECT pg_size_pretty(pg_total_relation_size('jobs'))").fetchone()
    return Filled(seconds, analyze_seconds, str(size[0]) if size else "")


@dataclass
class ShapeResult:
    shape: str
    runs: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_rows: float
    plan: str = ""


@dataclass
class QueriesResult:
    rows: int
    fill_seconds: float = 0.0
    analyze_seconds: float = 0.0
    table_size: str = ""
    shapes: list[ShapeResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Capture:
    """The last statement and parameters the engine sent (to EXPLAIN that very SQL)."""

    def __init__(self, engine: Engine) -> None:
        self.statement = ""
        self.parameters: Any = None
        self.on = False
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.on:
            self.statement, self.parameters = statement, parameters

    @contextmanager
    def capturing(self) -> Iterator[None]:
        self.on = True
        try:
            yield
        finally:
            self.on = False


Shape = tuple[str, Callable[[int], JobQuery]]


def shapes(newest: datetime, cursors: list[Cursor], seed: int = 7) -> list[Shape]:
    """Each query shape with a function from run number to that run's query."""
    rng = random.Random(seed)
    types = [f"bench.type{n:02d}" for n in range(TYPES)]
    orgs = [f"org-{n:02d}" for n in range(ORGANIZATIONS)]
    statuses = [s for s in JobStatus if s is not JobStatus.UNKNOWN]
    day = newest.replace(hour=0, minute=0, second=0, microsecond=0)

    def by_status(status: JobStatus) -> Callable[[int], JobQuery]:
        return lambda _: JobQuery(statuses=frozenset({status}))

    found: list[Shape] = [(f"status={s.label}", by_status(s)) for s in statuses]
    found += [
        (
            "pending (Created|Queued)",
            lambda _: JobQuery(statuses=frozenset({JobStatus.CREATED, JobStatus.QUEUED})),
        ),
        (
            "finished (3 terminal)",
            lambda _: JobQuery(
                statuses=frozenset(
                    {JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.CANCELLED}
                )
            ),
        ),
        ("type", lambda _: JobQuery(job_type=rng.choice(types))),
        ("organization", lambda _: JobQuery(organization=rng.choice(orgs))),
        ("one-day range", lambda _: _one_day(day - timedelta(days=rng.randrange(DAYS)))),
        (
            "type+status",
            lambda _: JobQuery(
                job_type=rng.choice(types), statuses=frozenset({rng.choice(statuses)})
            ),
        ),
        ("first page", lambda _: JobQuery(limit=100)),
        ("oldest first", lambda _: JobQuery(order=JobOrder.OLDEST)),
        ("queue (none there)", lambda _: JobQuery(queue="elsewhere")),
        # text searches (the dashboard's q): how many match decides the plan
        ("text: a client request id (1 job)", lambda _: JobQuery(text=_request_id(rng))),
        ("text: a customer (~50 jobs)", lambda _: JobQuery(text=_customer(rng))),
        (
            "text: a customer, one organization",
            lambda _: JobQuery(text=_customer(rng), organization=rng.choice(orgs)),
        ),
        ("text: 'account-1' (~1% of jobs)", lambda _: JobQuery(text="account-1")),
        ("text: 'type 1' (~45% of jobs)", lambda _: JobQuery(text="type 1")),
        ("text: found nowhere", lambda n: JobQuery(text=f"no such text {n}")),
        ("page 10 by offset", lambda _: JobQuery(limit=100, offset=900)),
        ("deep page by keyset", lambda n: JobQuery(limit=100, after=cursors[n % len(cursors)])),
    ]
    return found


def _request_id(rng: random.Random) -> str:
    """Part of one job's client request id (each even-numbered job has one)."""
    number = 2 * rng.randrange(1, 100_000)
    return hashlib.md5(str(number).encode()).hexdigest()[4:16]


def _customer(rng: random.Random) -> str:
    return f"C{rng.randrange(CUSTOMERS):05d}"


def _one_day(start: datetime) -> JobQuery:
    return JobQuery(created_from=start, created_until=start + timedelta(days=1))


def run_queries(services: Services, rows: int, *, progress: Progress) -> QueriesResult:
    result = QueriesResult(rows=rows)
    space = Space.create(services, "queries")
    # jobhub's own engine (pool, driver, connect arguments), as the manager would build it
    engine = make_engine(Settings(database_url=sqlalchemy_url(space.database_url)))
    try:
        migrate.upgrade(engine)
        progress(f"queries: inserting {rows:,} jobs in bulk")
        with psycopg.connect(space.database_url, autocommit=True) as connection:
            filled = fill(connection, rows)
            result.fill_seconds, result.analyze_seconds = filled.seconds, filled.analyze_seconds
            result.table_size = filled.table_size
            newest_row = connection.execute("SELECT max(created_at) FROM jobs").fetchone()
            assert newest_row is not None
            newest: datetime = newest_row[0]
            # deep in the data: random rows among the oldest two thirds
            cursors = [
                Cursor(created_at, job_id)
                for created_at, job_id in connection.execute(
                    "SELECT created_at, id FROM jobs TABLESAMPLE BERNOULLI (1) REPEATABLE (7) "
                    "WHERE created_at < %s ORDER BY random() LIMIT %s",
                    (newest - timedelta(days=DAYS / 3), RUNS),
                ).fetchall()
            ]
        store = JobStore(engine)
        capture = _Capture(engine)
        for name, make in shapes(newest, cursors):
            for n in range(WARMUP):
                store.find(make(n))
            took: list[float] = []
            counts: list[int] = []
            for n in range(RUNS):
                query = make(n)
                began = time.perf_counter()
                found = store.find(query)
                took.append(time.perf_counter() - began)
                counts.append(len(found))
            with capture.capturing():
                store.find(make(0))
            shape = ShapeResult(
                shape=name,
                runs=RUNS,
                p50_ms=percentile(took, 50) * 1000,
                p99_ms=percentile(took, 99) * 1000,
                max_ms=max(took) * 1000,
                mean_rows=sum(counts) / len(counts),
                plan=_explain(engine, capture.statement, capture.parameters),
            )
            result.shapes.append(shape)
            progress(f"queries: {name}: p50 {shape.p50_ms:.2f} ms, p99 {shape.p99_ms:.2f} ms")
        return result
    finally:
        engine.dispose()
        space.remove()


def _explain(engine: Engine, statement: str, parameters: Any) -> str:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
        ).fetchall()
    return "\n".join(str(row[0]) for row in rows)
