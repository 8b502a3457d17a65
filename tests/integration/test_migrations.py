"""The Alembic migrations produce exactly the models' schema, on PostgreSQL and SQLite.

Each test migrates an empty database of its own (a PostgreSQL database created and
dropped here, or a SQLite file) and compares it with ``jobhub.db.models`` through
Alembic's autogenerate comparison, plus what that comparison does not look at: check
constraints, cascades and the WHERE clause of the partial unique index. The job-control
migration also goes back down to the schema before it, and up again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, Engine, inspect, text

from jobhub import Settings
from jobhub.db import migrate
from jobhub.db.engine import make_engine
from jobhub.db.models import Base, compared_objects
from jobhub.errors import SchemaOutOfDate
from tests import services as svc

BACKENDS = ("postgresql", "sqlite")


def _admin(url: str, statement: str) -> None:
    with psycopg.connect(svc.libpq_url(url), autocommit=True) as connection:
        connection.execute(statement)


@pytest.fixture
def postgresql_engine(services: svc.Services) -> Iterator[Engine]:
    """An engine on a brand new, empty PostgreSQL database, dropped afterwards."""
    name = f"jobhub_mig_{uuid.uuid4().hex[:10]}"
    _admin(services.postgres_url, f'CREATE DATABASE "{name}"')
    engine = make_engine(Settings(database_url=svc.with_database(services.postgres_url, name)))
    try:
        yield engine
    finally:
        engine.dispose()
        _admin(services.postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a SQLite file that does not exist yet."""
    engine = make_engine(
        Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/x.sqlite3")
    )
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def empty_engine(request: pytest.FixtureRequest) -> Engine:
    return cast(Engine, request.getfixturevalue(f"{request.param}_engine"))


def schema_diff(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": compared_objects(connection.dialect.name)}
        )
        return list(compare_metadata(context, Base.metadata))


def snapshot(engine: Engine) -> dict[str, Any]:
    """Tables, columns, indexes and constraints as the database reports them."""
    inspector = inspect(engine)
    shape: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        shape[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            "checks": sorted(c["name"] or "" for c in inspector.get_check_constraints(table)),
            "foreign_keys": sorted(
                (f["name"] or "", tuple(f["constrained_columns"]), f["referred_table"])
                for f in inspector.get_foreign_keys(table)
            ),
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
        }
    return shape


def test_migrations_produce_exactly_the_models_schema(empty_engine: Engine) -> None:
    assert migrate.current_revision(empty_engine) is None

    before, after = migrate.upgrade(empty_engine)

    assert (before, after) == (None, migrate.head_revision())
    diff = schema_diff(empty_engine)
    assert diff == [], "migrations differ from jobhub.db.models:\n" + "\n".join(map(str, diff))


def test_migrations_create_the_check_constraints_and_cascades_of_the_models(
    empty_engine: Engine,
) -> None:
    migrate.upgrade(empty_engine)
    inspector = inspect(empty_engine)

    for table in Base.metadata.sorted_tables:
        declared = {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
        found = {c["name"] for c in inspector.get_check_constraints(table.name)}
        assert found == declared, table.name
    for name in ("job_events", "job_messages"):
        (foreign_key,) = inspector.get_foreign_keys(name)
        assert foreign_key["referred_table"] == "jobs"
        assert foreign_key["constrained_columns"] == ["job_id"]
        assert foreign_key["options"].get("ondelete") == "CASCADE"


def test_upgrade_twice_is_a_no_op(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    shape = snapshot(empty_engine)

    before, after = migrate.upgrade(empty_engine)

    assert before == after == migrate.head_revision()
    assert snapshot(empty_engine) == shape
    with empty_engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    assert [row[0] for row in versions] == [migrate.head_revision()]
    assert schema_diff(empty_engine) == []


def test_current_revision_is_head_after_upgrade(empty_engine: Engine) -> None:
    with pytest.raises(SchemaOutOfDate, match="has no jobhub schema"):
        migrate.ensure_current(empty_engine)

    migrate.upgrade(empty_engine)

    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    migrate.ensure_current(empty_engine)  # does not raise


def test_active_key_index_is_unique_and_partial_on_postgresql(postgresql_engine: Engine) -> None:
    migrate.upgrade(postgresql_engine)

    with postgresql_engine.connect() as connection:
        definition = connection.execute(
            text("SELECT indexdef FROM pg_indexes WHERE tablename = 'jobs' AND indexname = :n"),
            {"n": "uq_jobs_active_key"},
        ).scalar_one()

    assert definition.startswith("CREATE UNIQUE INDEX uq_jobs_active_key ON ")
    assert "(organization, job_type, concurrency_key)" in definition
    assert definition.endswith("WHERE ((concurrency_key IS NOT NULL) AND (final_status IS NULL))")


def test_active_key_index_is_unique_and_partial_on_sqlite(sqlite_engine: Engine) -> None:
    migrate.upgrade(sqlite_engine)

    with sqlite_engine.connect() as connection:
        definition = connection.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n"),
            {"n": "uq_jobs_active_key"},
        ).scalar_one()

    assert definition.startswith("CREATE UNIQUE INDEX uq_jobs_active_key ON jobs")
    assert "WHERE concurrency_key IS NOT NULL AND final_status IS NULL" in definition


def test_schema_comparison_notices_a_drifted_schema(postgresql_engine: Engine) -> None:
    # The guard for the tests above: the comparison does report differences.
    migrate.upgrade(postgresql_engine)
    with postgresql_engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_jobs_purge_at"))
        connection.execute(text("ALTER TABLE jobs ADD COLUMN stray integer"))

    kinds = {
        (entry[0], getattr(entry[-1], "name", None)) for entry in schema_diff(postgresql_engine)
    }

    assert ("add_index", "ix_jobs_purge_at") in kinds
    assert ("remove_column", "stray") in kinds


def test_upgrade_marks_the_existing_jobs_of_the_shipped_maintenance_types_housekeeping(
    empty_engine: Engine,
) -> None:
    migrate.upgrade(empty_engine, "0004")
    insert = text(
        "INSERT INTO jobs (id, job_type, category, subcategory, description, parameters,"
        " organization, status, percent, attempt, can_cancel, can_rerun, created_at,"
        " updated_at, purge_at) VALUES (:id, :job_type, '', '', '', '{}', '', 3, 100, 1,"
        " :yes, :yes, :at, :at, :at)"
    )
    kinds = ("maintenance.reap_lost_jobs", "maintenance.purge_jobs", "diagnostics.echo")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with empty_engine.begin() as connection:
        for job_type in kinds:
            connection.execute(
                insert, {"id": uuid.uuid4().hex, "job_type": job_type, "yes": True, "at": at}
            )

    migrate.upgrade(empty_engine)

    with empty_engine.connect() as connection:
        rows = connection.execute(text("SELECT job_type, housekeeping FROM jobs")).all()
    assert {job_type: bool(flag) for job_type, flag in rows} == {
        "maintenance.reap_lost_jobs": True,
        "maintenance.purge_jobs": True,
        "diagnostics.echo": False,
    }


def test_upgrade_gives_the_jobs_already_recorded_the_configured_queue(
    empty_engine: Engine,
) -> None:
    migrate.upgrade(empty_engine, "0005")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO jobs (id, job_type, category, subcategory, description,"
                " parameters, organization, status, percent, attempt, can_cancel, can_rerun,"
                " created_at, updated_at, purge_at) VALUES (:id, 'diagnostics.echo', '', '',"
                " '', '{}', '', 1, 0, 1, :yes, :yes, :at, :at, :at)"
            ),
            {"id": uuid.uuid4().hex, "yes": True, "at": at},
        )

    migrate.upgrade(empty_engine, default_queue="billing")

    with empty_engine.connect() as connection:
        queues = connection.execute(text("SELECT queue FROM jobs")).scalars().all()
    assert queues == ["billing"]


def _downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.downgrade(migrate.alembic_config(connection), revision)


def test_downgrade_of_job_control_restores_the_previous_schema_and_upgrades_again(
    empty_engine: Engine,
) -> None:
    migrate.upgrade(empty_engine, "0005")
    previous = snapshot(empty_engine)
    migrate.upgrade(empty_engine)

    _downgrade(empty_engine, "0005")

    assert migrate.current_revision(empty_engine) == "0005"
    assert snapshot(empty_engine) == previous
    migrate.upgrade(empty_engine)
    assert schema_diff(empty_engine) == []
