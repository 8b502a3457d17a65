"""$filter and $orderby compiled by jobhub.odata and run on real databases.

Rows are inserted with SQL into a migrated PostgreSQL database (and a SQLite file, which the
embedded default uses); each filter must select exactly the expected jobs on both.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.dialects import postgresql

from jobhub import JobManager, Settings
from jobhub.db import migrate
from jobhub.db.engine import make_engine
from jobhub.db.job_store import jobs
from jobhub.db.odata_sql import compile_filter, order_by_clauses
from jobhub.jobs import JobStatus
from jobhub.odata import Node, implied_filter, parse_filter, parse_orderby

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
S = JobStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    name: str
    job_type: str
    description: str
    status: JobStatus
    percent: int
    created: int
    """Days after T0."""
    organization: str = "acme"
    identity: str | None = None
    key: str | None = None
    client_request_id: str | None = None
    worker_id: str | None = None
    attempt: int = 1
    housekeeping: bool = False
    queue: str = "jobhub"
    priority: int = 0
    due: int | None = None
    """Days after T0 it starts (a delayed start), or None."""


ROWS = (
    Row(
        name="a",
        job_type="reports.daily",
        description="50% done_ok",
        status=S.COMPLETED,
        percent=100,
        created=0,
        identity="alice",
        key="k/1",
        client_request_id="r1",
        worker_id="w1",
        priority=9,
    ),
    Row(
        name="b",
        job_type="reports.weekly",
        description="500 done ok",
        status=S.PROCESSING,
        percent=40,
        created=1,
        identity="bob",
        key="k%2",
        worker_id="w2",
        housekeeping=True,
    ),
    Row(
        name="c",
        job_type="diagnostics.echo",
        description="Hello World",
        status=S.QUEUED,
        percent=0,
        created=2,
        organization="globex",
        queue="reports",
        priority=3,
    ),
    Row(
        name="d",
        job_type="Diagnostics.Echo",
        description="hello world",
        status=S.CREATED,
        percent=0,
        created=3,
        organization="globex",
        queue="reports",
        priority=7,
        due=10,
    ),
    Row(
        name="e",
        job_type="reports.daily",
        description="it's quoted; DROP TABLE jobs; --",
        status=S.CANCELLED,
        percent=10,
        created=4,
        worker_id="w1",
        attempt=2,
        housekeeping=True,
    ),
    Row(
        name="f",
        job_type="reports.daily",
        description="_/%",
        status=S.COMPLETED_WITH_ERRORS,
        percent=55,
        created=5,
        identity="alice",
        worker_id="w3",
    ),
)
NAMES = {row.name for row in ROWS}


@dataclass
class Database:
    engine: Engine
    ids: dict[str, uuid.UUID]

    def select(self, text: str) -> set[str]:
        """The names of the jobs ``text`` selects."""
        return self._select(parse_filter(text))

    def listed(self, text: str | None) -> set[str]:
        """The names of the jobs a listing with ``$filter=text`` shows (what it implies)."""
        return self._select(implied_filter(parse_filter(text) if text else None))

    def _select(self, node: Node) -> set[str]:
        names = {job_id: name for name, job_id in self.ids.items()}
        statement = select(jobs.c.id).where(compile_filter(node))
        with self.engine.connect() as connection:
            return {names[job_id] for job_id in connection.scalars(statement)}

    def ordered(self, text: str) -> list[str]:
        names = {job_id: name for name, job_id in self.ids.items()}
        statement = select(jobs.c.id).order_by(*order_by_clauses(parse_orderby(text)))
        with self.engine.connect() as connection:
            return [names[job_id] for job_id in connection.scalars(statement)]


def fill(engine: Engine) -> Database:
    ids = {row.name: uuid.UUID(int=index + 1) for index, row in enumerate(ROWS)}
    with engine.begin() as connection:
        for row in ROWS:
            created = T0 + row.created * DAY
            started = row.status >= S.PROCESSING
            connection.execute(
                insert(jobs).values(
                    id=ids[row.name],
                    job_type=row.job_type,
                    category="Tests",
                    subcategory="OData",
                    description=row.description,
                    parameters={},
                    identity=row.identity,
                    organization=row.organization,
                    client_request_id=row.client_request_id,
                    concurrency_key=row.key,
                    status=int(row.status),
                    percent=row.percent,
                    worker_id=row.worker_id,
                    attempt=row.attempt,
                    created_at=created,
                    queued_at=created if row.status >= S.QUEUED else None,
                    started_at=created + timedelta(minutes=1) if started else None,
                    updated_at=created + timedelta(hours=1),
                    completed_at=created + timedelta(hours=1) if row.status.is_terminal else None,
                    purge_at=created + 30 * DAY,
                    housekeeping=row.housekeeping,
                    queue=row.queue,
                    priority=row.priority,
                    due_at=None if row.due is None else T0 + row.due * DAY,
                )
            )
    return Database(engine, ids)


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "postgresql":
        engine = make_engine(Settings(database_url=request.getfixturevalue("database_url")))
    else:
        url = f"sqlite:///{tmp_path}/odata.sqlite3"
        engine = make_engine(Settings(data_dir=tmp_path, database_url=url))
        migrate.upgrade(engine)
    yield fill(engine)
    engine.dispose()


CASES = [
    # comparisons on each kind of field
    ("percent eq 0", {"c", "d"}),
    ("percent ne 0", {"a", "b", "e", "f"}),
    ("percent gt 40", {"a", "f"}),
    ("percent ge 40", {"a", "b", "f"}),
    ("percent lt 10", {"c", "d"}),
    ("percent le 10", {"c", "d", "e"}),
    ("percent gt 54.5", {"a", "f"}),
    ("percent lt 100000", NAMES),
    ("percent gt -1", NAMES),
    ("attempt eq 2", {"e"}),
    ("status eq 'Completed'", {"a"}),
    ("status eq 'completedWithErrors'", {"f"}),
    ("status eq 1", {"c"}),
    ("status ge 'Completed'", {"a", "e", "f"}),
    ("status lt 'Processing'", {"c", "d"}),
    ("statusCode eq 5", {"e"}),
    ("type eq 'reports.daily'", {"a", "e", "f"}),
    ("jobType ne 'reports.daily'", {"b", "c", "d"}),
    ("jobType gt 'reports'", {"a", "b", "e", "f"}),
    ("category eq 'Tests' and subcategory eq 'OData'", NAMES),
    ("organization eq 'globex'", {"c", "d"}),
    ("identity eq 'alice'", {"a", "f"}),
    ("key eq 'k/1'", {"a"}),
    ("clientRequestId eq 'r1'", {"a"}),
    ("id eq 00000000-0000-0000-0000-000000000002", {"b"}),
    ("id gt 00000000-0000-0000-0000-000000000004", {"e", "f"}),
    ("createdAt gt 2030-01-03T12:00:00Z", {"d", "e", "f"}),
    ("createdAt ge 2030-01-03T12:00:00Z", {"c", "d", "e", "f"}),
    ("createdAt eq 2030-01-03T14:00:00+02:00", {"c"}),
    ("createdAt lt 2030-01-02T12:00:00.000001Z", {"a", "b"}),
    ("queuedAt eq null", {"d"}),
    ("startedAt ne null", {"a", "b", "e", "f"}),
    ("updatedAt le 2030-01-01T13:00:00Z", {"a"}),
    ("completedAt gt 2030-01-01T00:00:00Z", {"a", "e", "f"}),
    ("purgeAt ge 2030-02-04T12:00:00Z", {"e", "f"}),
    ("housekeeping eq true", {"b", "e"}),
    ("housekeeping eq false", {"a", "c", "d", "f"}),
    ("housekeeping ne true", {"a", "c", "d", "f"}),
    ("not housekeeping eq false", {"b", "e"}),
    ("housekeeping eq true or housekeeping eq false", NAMES),
    ("housekeeping eq true and percent lt 20", {"e"}),
    ("housekeeping eq null", set()),
    ("housekeeping ne null", NAMES),
    ("queue eq 'reports'", {"c", "d"}),
    ("queue ne 'jobhub'", {"c", "d"}),
    ("startswith(queue, 'rep')", {"c", "d"}),
    ("priority ge 3", {"a", "c", "d"}),
    ("priority eq 0", {"b", "e", "f"}),
    ("priority gt 7 or priority lt 3", {"a", "b", "e", "f"}),
    ("maxAttempts eq 1", NAMES),
    ("retries gt 0", set()),
    ("dueAt ne null", {"d"}),
    ("dueAt eq null", NAMES - {"d"}),
    ("dueAt gt 2030-01-05T00:00:00Z", {"d"}),
    ("dueAt lt 2030-01-05T00:00:00Z", set()),
    # nulls: two-valued logic, so not is the complement
    ("workerId eq null", {"c", "d"}),
    ("workerId ne null", {"a", "b", "e", "f"}),
    ("workerId eq 'w1'", {"a", "e"}),
    ("workerId ne 'w1'", {"b", "c", "d", "f"}),
    ("not (workerId eq 'w1')", {"b", "c", "d", "f"}),
    ("not (workerId ne 'w1')", {"a", "e"}),
    ("workerId gt 'w1'", {"b", "f"}),
    ("not workerId gt 'w1'", {"a", "c", "d", "e"}),
    ("identity eq null", {"c", "d", "e"}),
    ("completedAt eq null", {"b", "c", "d"}),
    # precedence and parentheses
    ("status eq 'Completed' or status eq 'Queued' and percent gt 50", {"a"}),
    ("(status eq 'Completed' or status eq 'Queued') and percent lt 50", {"c"}),
    ("not status eq 'Completed' and jobType eq 'reports.daily'", {"e", "f"}),
    ("not (status eq 'Completed' and jobType eq 'reports.daily')", NAMES - {"a"}),
    ("percent eq 0 or percent eq 10 or percent eq 100", {"a", "c", "d", "e"}),
    ("percent EQ 0 OR NOT percent LE 54", {"a", "c", "d", "f"}),
    # strings: escaped quotes, LIKE wildcards and the escape character, case-sensitivity
    ("description eq 'it''s quoted; DROP TABLE jobs; --'", {"e"}),
    ("contains(description, 'it''s')", {"e"}),
    ("contains(description, '50%')", {"a"}),
    ("contains(description, '%')", {"a", "f"}),
    ("contains(description, 'e_o')", {"a"}),
    ("contains(description, '_')", {"a", "f"}),
    ("contains(description, '/')", {"f"}),
    ("contains(description, '_/%')", {"f"}),
    ("contains(description, '')", NAMES),
    ("startswith(description, '5')", {"a", "b"}),
    ("startswith(description, '50%')", {"a"}),
    ("startswith(description, '_')", {"f"}),
    ("startswith(description, '%')", set()),
    ("startswith(key, 'k%')", {"b"}),
    ("startswith(key, 'k/')", {"a"}),
    ("not startswith(key, 'k')", {"c", "d", "e", "f"}),
    ("contains(description, 'Hello')", {"c"}),
    ("contains(description, 'hello')", {"d"}),
    ("startswith(jobType, 'diag')", {"c"}),
    ("startswith(jobType, 'DIAG')", set()),
    ("description eq 'hello world'", {"d"}),
    ("contains(workerId, 'w')", {"a", "b", "e", "f"}),
    ("not contains(workerId, '1')", {"b", "c", "d", "f"}),
    # hostile literals are only values
    ("description eq '''; DROP TABLE jobs; --'", set()),
    ("description eq 'x'' OR ''1''=''1'", set()),
    ("contains(description, ''' OR 1=1 --')", set()),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[text for text, _ in CASES])
def test_filters_select_the_expected_jobs(
    database: Database, text: str, expected: set[str]
) -> None:
    assert database.select(text) == expected


def test_hostile_literals_leave_the_table_alone(database: Database) -> None:
    database.select("description eq '''; DROP TABLE jobs; --'")
    database.select("contains(description, '''; DELETE FROM jobs; --')")
    with database.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(jobs)) == len(ROWS)


@pytest.mark.parametrize(
    "text",
    [
        "description eq '''; DROP TABLE jobs; --'",
        "contains(description, '''; DROP TABLE jobs; --')",
        "startswith(key, '''); DROP TABLE jobs; --')",
        "workerId ne '''; DROP TABLE jobs; --'",
    ],
)
def test_a_hostile_literal_is_in_the_params_never_in_the_sql(text: str) -> None:
    statement = select(jobs.c.id).where(compile_filter(parse_filter(text)))
    compiled = statement.compile(dialect=postgresql.dialect())
    assert "DROP" not in str(compiled)
    assert "--" not in str(compiled)
    assert any("DROP TABLE jobs; --" in str(value) for value in compiled.params.values())


def test_like_wildcards_reach_postgresql_escaped() -> None:
    statement = select(jobs.c.id).where(compile_filter(parse_filter("contains(key, '1%_/x')")))
    compiled = statement.compile(dialect=postgresql.dialect())
    assert "ESCAPE '/'" in str(compiled)
    assert "1/%/_//x" in compiled.params.values()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, {"a", "c", "d", "f"}),
        ("percent lt 20", {"c", "d"}),
        ("workerId eq 'w1' or workerId eq 'w2'", {"a"}),
        ("housekeeping eq true", {"b", "e"}),
        ("housekeeping eq true and workerId eq 'w1'", {"e"}),
        ("housekeeping eq true or housekeeping eq false", NAMES),
        ("percent lt 20 and (housekeeping eq true or housekeeping eq false)", {"c", "d", "e"}),
        ("contains(description, 'housekeeping')", set()),
    ],
)
def test_a_listing_leaves_housekeeping_jobs_out_unless_its_filter_mentions_them(
    database: Database, text: str | None, expected: set[str]
) -> None:
    assert database.listed(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("housekeeping desc, createdAt", ["b", "e", "a", "c", "d", "f"]),
        ("createdAt desc", ["f", "e", "d", "c", "b", "a"]),
        ("percent, createdAt desc", ["d", "c", "e", "b", "f", "a"]),
        ("status desc, id", ["e", "f", "a", "b", "c", "d"]),
        # Nulls sort as the smallest value on both backends.
        ("workerId, createdAt", ["c", "d", "a", "e", "b", "f"]),
        ("workerId desc, createdAt", ["f", "b", "a", "e", "c", "d"]),
        ("completedAt desc, id desc", ["f", "e", "a", "d", "c", "b"]),
        ("priority desc, createdAt", ["a", "d", "c", "b", "e", "f"]),
        ("dueAt desc, createdAt", ["d", "a", "b", "c", "e", "f"]),
    ],
)
def test_orderby_sorts_the_same_on_every_backend(
    database: Database, text: str, expected: list[str]
) -> None:
    assert database.ordered(text) == expected


def test_filters_select_jobs_started_by_the_manager(manager: JobManager, database_url: str) -> None:
    started = {
        name: manager.start_job(
            "diagnostics.echo", {"message": name}, organization=organization, identity=identity
        ).id
        for name, organization, identity in [
            ("one", "acme", "alice"),
            ("two", "acme", "bob"),
            ("three", "globex", "alice"),
        ]
    }
    started["upkeep"] = manager.start_job("maintenance.reconcile_outbox").id
    engine = make_engine(Settings(database_url=database_url))
    try:
        found = Database(engine, started)
        # No worker runs: Created until the deferred Queued write lands, then Queued.
        assert found.select("organization eq 'acme' and status lt 'Processing'") == {"one", "two"}
        assert found.select("status eq 'Created' or status eq 'queued'") == set(started)
        assert found.select("housekeeping eq true") == {"upkeep"}
        assert found.listed("status lt 'Processing'") == {"one", "two", "three"}
        assert found.select("identity eq 'alice' and jobType eq 'diagnostics.echo'") == {
            "one",
            "three",
        }
        assert found.select("workerId eq null and startedAt eq null") == set(started)
        assert found.listed(None) == {"one", "two", "three"}
        assert found.select("createdAt lt 2000-01-01T00:00:00Z") == set()
    finally:
        engine.dispose()
