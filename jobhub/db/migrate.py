"""Creating and upgrading the schema with Alembic, configured in code.

The migration scripts ship inside the package, so an installed jobhub needs no
``alembic.ini``: ``jobhub db upgrade`` builds the configuration here.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from jobhub.db.engine import translated_errors
from jobhub.errors import SchemaOutOfDate

SCRIPT_LOCATION = "jobhub.db:migrations"


DEFAULT_QUEUE = "default_queue"
"""The ``Config.attributes`` key of the configured default queue: a migration that adds a
job's queue gives the jobs already there the queue their workers consume."""


def alembic_config(
    connection: Connection | None = None, *, default_queue: str = "jobhub"
) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes[DEFAULT_QUEUE] = default_queue
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return str(head)


def current_revision(engine: Engine) -> str | None:
    with translated_errors(), engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(
    engine: Engine, revision: str = "head", *, default_queue: str = "jobhub"
) -> tuple[str | None, str]:
    """Bring the schema to ``revision``; returns (before, after). ``default_queue`` is the
    configured queue (``Settings.queue``), for the jobs recorded before jobs had one."""
    before = current_revision(engine)
    with translated_errors(), engine.begin() as connection:
        command.upgrade(alembic_config(connection, default_queue=default_queue), revision)
    return before, current_revision(engine) or ""


def ensure_current(engine: Engine) -> None:
    """Fail with one clear message when the schema is missing or behind the code."""
    current = current_revision(engine)
    if current != head_revision():
        state = "has no jobhub schema" if current is None else f"is at revision {current}"
        raise SchemaOutOfDate(f"the database {state}; run `jobhub db upgrade`")
