"""Job lists by text, order and counts (``JobQuery`` through ``JobStore``), on PostgreSQL and
on the embedded SQLite.

Rows are inserted with SQL into a migrated database; each query must find exactly the
expected jobs on both (the searchable text reaches ``job_texts`` through the triggers the
migrations made). On PostgreSQL the text search must also be one the trigram index can
answer (a search PostgreSQL could only answer by reading every row would be slow on a
million jobs).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, event, func, insert, select, update

from jobhub import Settings
from jobhub.db import migrate
from jobhub.db.engine import make_engine
from jobhub.db.job_store import JobStore, jobs, texts
from jobhub.errors import InvalidInput
from jobhub.jobs import JobStatus
from jobhub.queries import Cursor, JobOrder, JobQuery
from tests import services as svc

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
S = JobStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    name: str
    description: str
    key: str | None = None
    client_request_id: str | None = None
    organization: str = "acme"
    status: JobStatus = S.COMPLETED
    housekeeping: bool = False
    can_cancel: bool = True
    can_rerun: bool = True


ROWS = (
    Row(name="a", description="Monthly invoices for Müller GmbH", client_request_id="req-0001"),
    Row(name="b", description="monthly INVOICES, second run", key="account-42"),
    Row(name="c", description="50% done_ok", organization="globex", status=S.PROCESSING),
    Row(name="d", description="reindex", key="Invoice/7", status=S.QUEUED, can_cancel=False),
    Row(name="e", description="purge", client_request_id="REQ-0002", housekeeping=True),
    Row(name="f", description="xyz/%_", status=S.CANCELLED, can_rerun=False),
    Row(name="h", description="500 doneXok", status=S.COMPLETED),
    Row(name="g", description="it's quoted; DROP TABLE jobs; --", organization="globex"),
)
"""Created one minute apart, in this order."""


@dataclass
class Database:
    store: JobStore
    engine: Engine
    ids: dict[str, uuid.UUID]

    def names(self, query: JobQuery) -> list[str]:
        by_id = {job_id: name for name, job_id in self.ids.items()}
        return [by_id[job.id] for job in self.store.find(query)]

    def found(self, text: str, **filters: object) -> set[str]:
        return set(self.names(JobQuery(text=text, housekeeping=True, **filters)))  # type: ignore[arg-type]


def fill(engine: Engine, rows: tuple[Row, ...] = ROWS) -> dict[str, uuid.UUID]:
    ids = {row.name: uuid.UUID(int=index + 1) for index, row in enumerate(rows)}
    with engine.begin() as connection:
        for index, row in enumerate(rows):
            created = T0 + timedelta(minutes=index)
            connection.execute(
                insert(jobs).values(
                    id=ids[row.name],
                    job_type="tests.search",
                    category="Tests",
                    subcategory="Search",
                    description=row.description,
                    parameters={},
                    organization=row.organization,
                    client_request_id=row.client_request_id,
                    concurrency_key=row.key,
                    status=int(row.status),
                    percent=0,
                    attempt=1,
                    created_at=created,
                    updated_at=created,
                    purge_at=created + timedelta(days=30),
                    housekeeping=row.housekeeping,
                    can_cancel=row.can_cancel,
                    can_rerun=row.can_rerun,
                )
            )
    return ids


@pytest.fixture
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database: PostgreSQL (``request.param``) or SQLite."""
    if request.param == "postgresql":
        services: svc.Services = request.getfixturevalue("services")
        name = f"jobhub_search_{uuid.uuid4().hex[:10]}"
        _admin(services.postgres_url, f'CREATE DATABASE "{name}"')
        engine = make_engine(Settings(database_url=svc.with_database(services.postgres_url, name)))
        yield engine
        engine.dispose()
        _admin(services.postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        url = f"sqlite:///{tmp_path}/search.sqlite3"
        engine = make_engine(Settings(data_dir=tmp_path, database_url=url))
        yield engine
        engine.dispose()


def _admin(url: str, statement: str) -> None:
    with psycopg.connect(svc.libpq_url(url), autocommit=True) as connection:
        connection.execute(statement)


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "postgresql":
        engine = make_engine(Settings(database_url=request.getfixturevalue("database_url")))
    else:
        url = f"sqlite:///{tmp_path}/search.sqlite3"
        engine = make_engine(Settings(data_dir=tmp_path, database_url=url))
        migrate.upgrade(engine)
    yield Database(JobStore(engine), engine, fill(engine))
    engine.dispose()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("invoice", {"a", "b", "d"}),  # description, either case, and the concurrency key
        ("INVOICES", {"a", "b"}),
        ("Monthly Invoices", {"a", "b"}),
        ("req-000", {"a", "e"}),  # client request ids, either case
        ("account-42", {"b"}),
        ("ccount-4", {"b"}),
        ("50% done_ok", {"c"}),  # wildcards are only characters
        ("% done_ok", {"c"}),
        ("0%_done", set()),
        ("Invoice/7", {"d"}),
        ("xyz/%_", {"f"}),
        ("it's quoted", {"g"}),
        ("; DROP TABLE jobs; --", {"g"}),
        ("'; DROP TABLE jobs; --", set()),
        ("abc\\'; DROP TABLE jobs; --", set()),
        ("no such text", set()),
        ("zzz", set()),
    ],
)
def test_a_text_search_finds_the_text_in_description_key_or_client_request_id(
    database: Database, text: str, expected: set[str]
) -> None:
    assert database.found(text) == expected


def test_a_job_is_found_by_its_text_as_it_is_now_and_not_once_deleted(
    database: Database,
) -> None:
    with database.engine.begin() as connection:
        connection.execute(
            update(jobs)
            .where(jobs.c.id == database.ids["a"])
            .values(description="quarterly report", client_request_id="req-new")
        )
        connection.execute(update(jobs).where(jobs.c.id == database.ids["b"]).values(percent=50))
    assert database.found("invoice") == {"b", "d"}
    assert database.found("quarterly") == {"a"}
    assert database.found("req-new") == {"a"}
    database.store.delete(database.ids["b"])
    assert database.found("invoice") == {"d"}
    with database.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(texts)) == len(ROWS) - 1


@pytest.mark.parametrize("empty_engine", ["postgresql", "sqlite"], indirect=True)
def test_the_migration_makes_the_jobs_already_there_searchable(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine, "0008")
    fill(empty_engine, ROWS[:2])
    migrate.upgrade(empty_engine)
    found = JobStore(empty_engine).find(JobQuery(text="invoices"))
    assert {job.description for job in found} == {ROWS[0].description, ROWS[1].description}


def test_a_text_search_combines_with_the_other_filters(database: Database) -> None:
    assert database.found("invoice", organization="globex") == set()
    assert database.found("done", organization="globex") == {"c"}
    assert database.found("invoice", statuses=frozenset({S.QUEUED})) == {"d"}
    assert set(database.names(JobQuery(text="req-000"))) == {"a"}  # housekeeping left out
    assert database.found("invoice", created_from=T0 + timedelta(minutes=1)) == {"b", "d"}


def test_oldest_first_pages_by_keyset_in_that_order(database: Database) -> None:
    everyone = JobQuery(housekeeping=True, limit=3)
    newest = database.names(everyone)
    oldest = database.names(JobQuery(housekeeping=True, limit=3, order=JobOrder.OLDEST))
    assert newest == ["g", "h", "f"]
    assert oldest == ["a", "b", "c"]

    def after(name: str) -> Cursor:
        return Cursor(T0 + timedelta(minutes=ROWS.index(_row(name))), database.ids[name])

    assert database.names(JobQuery(housekeeping=True, limit=3, after=after("e"))) == [
        "d",
        "c",
        "b",
    ]
    assert database.names(
        JobQuery(housekeeping=True, limit=3, after=after("c"), order=JobOrder.OLDEST)
    ) == ["d", "e", "f"]


def test_a_count_stops_at_its_bound(database: Database) -> None:
    assert database.store.count(JobQuery(housekeeping=True), up_to=100) == len(ROWS)
    assert database.store.count(JobQuery(housekeeping=True), up_to=4) == 4
    assert database.store.count(JobQuery(text="invoice"), up_to=100) == 3
    assert database.store.count(JobQuery(organization="globex"), up_to=100) == 2


def test_jobs_are_selected_by_whether_they_can_be_cancelled_or_rerun(
    database: Database,
) -> None:
    active = frozenset({S.CREATED, S.QUEUED, S.PROCESSING})
    assert set(database.names(JobQuery(statuses=active, can_cancel=True))) == {"c"}
    assert set(database.names(JobQuery(statuses=active, can_cancel=False))) == {"d"}
    assert set(database.names(JobQuery(can_rerun=False))) == {"f"}


@pytest.mark.parametrize("text", ["", "ab", "%", "_/%", "a-b-c", "x" * 201, "abc\x00"])
def test_a_text_search_refuses_what_it_cannot_look_for(text: str) -> None:
    with pytest.raises(InvalidInput):
        JobQuery(text=text)


def test_on_postgresql_the_trigram_index_answers_a_text_search(database_url: str) -> None:
    """With scans that read every row (or walk a b-tree) priced out, PostgreSQL must still
    have a plan that finds the text through its trigram index: the condition is indexable."""
    engine = make_engine(Settings(database_url=database_url))
    sent: list[tuple[str, Any]] = []

    def seen(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        JobStore(engine).find(JobQuery(text="invoice"))
        statement, parameters = sent[-1]
        with engine.connect() as connection:
            for setting in ("enable_seqscan", "enable_indexscan", "enable_indexonlyscan"):
                connection.exec_driver_sql(f"SET {setting} = off")
            rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters).fetchall()
        plan = "\n".join(str(row[0]) for row in rows)
        assert "Bitmap Index Scan on ix_job_texts_trigrams" in plan, plan
        assert "Seq Scan" not in plan, plan
    finally:
        engine.dispose()


def _row(name: str) -> Row:
    return next(row for row in ROWS if row.name == name)
