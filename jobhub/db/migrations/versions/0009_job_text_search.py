"""a trigram index for text searches over jobs (PostgreSQL only)

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01 03:30:00.000000

The dashboard finds text in a job's description, concurrency key or client request id
(``ILIKE '%...%'``); without this index that reads every row. pg_trgm ships with
PostgreSQL and is a trusted extension (PostgreSQL 13+): the database's owner may create
it. ``IF NOT EXISTS``: on a large table an operator may build the index beforehand with
``CREATE INDEX CONCURRENTLY`` (same name and definition), and this migration keeps it.
SQLite has no such index; its searches read the table.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ["description", "concurrency_key", "client_request_id"]


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_jobs_text",
        "jobs",
        _COLUMNS,
        unique=False,
        postgresql_using="gin",
        postgresql_ops=dict.fromkeys(_COLUMNS, "gin_trgm_ops"),
        if_not_exists=True,
    )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.drop_index("ix_jobs_text", table_name="jobs", if_exists=True)
