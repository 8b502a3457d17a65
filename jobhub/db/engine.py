"""The SQLAlchemy engine for PostgreSQL (production) or SQLite (the embedded default).

Driver errors are translated into jobhub's own here, at the boundary, so callers above
the store only ever see ``StorageError`` and its children.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.exc import InterfaceError as SAInterfaceError
from sqlalchemy.pool import ConnectionPoolEntry

from jobhub.config import Settings
from jobhub.errors import SchemaOutOfDate, StorageError, StorageUnavailable


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(settings: Settings) -> Engine:
    """Create the engine; nothing connects until it is first used."""
    url = make_url(normalise_url(settings.effective_database_url))
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30.0, "check_same_thread": False})
        _prepare_sqlite(engine)
        return engine
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = max(1, int(settings.database_timeout))
        connect_args["application_name"] = "jobhub"
    # pre-ping: after a database restart, a pooled connection is found dead and replaced
    # before use instead of failing the caller once. The lifecycle hot path does not go
    # through this engine (see jobhub.db.pg_writes), so the extra round trip stays off it.
    return create_engine(
        url, connect_args=connect_args, pool_size=5, max_overflow=10, pool_pre_ping=True
    )


def _prepare_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, foreign keys, and write transactions that take the lock up front.

    Several processes share the file (producer, worker processes, beat). ``BEGIN IMMEDIATE``
    takes the write lock when the transaction starts, so a transaction never has to
    upgrade a read lock later, which is where SQLite would fail with "database is locked".
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn driver errors into StorageUnavailable, SchemaOutOfDate or StorageError.

    Integrity errors pass through: the store knows which constraint means what.
    """
    try:
        yield
    except IntegrityError:
        raise  # a constraint said no: the store turns it into the matching jobhub error
    except (OperationalError, SAInterfaceError) as exc:
        text = str(exc.orig) if exc.orig is not None else str(exc)
        if "no such table" in text:
            raise SchemaOutOfDate() from exc
        raise StorageUnavailable(f"database unavailable: {_first_line(text)}") from exc
    except ProgrammingError as exc:
        text = str(exc.orig) if exc.orig is not None else str(exc)
        if "does not exist" in text and ("relation" in text or "column" in text):
            raise SchemaOutOfDate() from exc
        raise StorageError(f"database error: {_first_line(text)}") from exc
    except DBAPIError as exc:
        text = str(exc.orig) if exc.orig is not None else str(exc)
        raise StorageError(f"database error: {_first_line(text)}") from exc


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"
