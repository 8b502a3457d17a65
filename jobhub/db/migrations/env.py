"""Alembic environment: runs on the connection `jobhub db upgrade` hands it, or on the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from jobhub.config import Settings
from jobhub.db.engine import normalise_url
from jobhub.db.models import Base, compared_objects

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
        include_object=compared_objects(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or (
        Settings.from_env().effective_database_url
    )
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        _run(conn)
