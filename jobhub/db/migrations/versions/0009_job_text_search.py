"""job_texts: each job's searchable text, kept by triggers, trigram-indexed on PostgreSQL;
and jobs listed by queue from an index

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01 03:30:00.000000

The dashboard finds text in a job's description, concurrency key or client request id
(``ILIKE '%...%'``). The trigram index sits on a table of its own, written once when a
job is created: on ``jobs`` it would be written again at every transition and progress
report. Triggers copy the three columns (on insert, and should they ever be updated), on
PostgreSQL and SQLite alike, so every writer keeps the table right without knowing it.
pg_trgm ships with PostgreSQL and is a trusted extension (PostgreSQL 13+): the database's
owner may create it. The trigger is made before the copy of the existing jobs, and holds
off other writers until the migration commits, so no job is missed. SQLite drops a
table's triggers when a batch migration rebuilds it: a later migration that rebuilds
``jobs`` there must make them again.

A list by queue walked the whole (created_at, id) index for a rare queue; the queue now
has its ordered index, as the other filters do.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ["description", "concurrency_key", "client_request_id"]

_PG_FUNCTION = """
CREATE FUNCTION jobhub_copy_job_texts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_texts (job_id, description, concurrency_key, client_request_id)
    VALUES (NEW.id, NEW.description, NEW.concurrency_key, NEW.client_request_id)
    ON CONFLICT (job_id) DO UPDATE
        SET description = EXCLUDED.description,
            concurrency_key = EXCLUDED.concurrency_key,
            client_request_id = EXCLUDED.client_request_id;
    RETURN NULL;
END
$$
"""
_PG_TRIGGER = """
CREATE TRIGGER jobs_copy_texts
AFTER INSERT OR UPDATE OF description, concurrency_key, client_request_id ON jobs
FOR EACH ROW EXECUTE FUNCTION jobhub_copy_job_texts()
"""
_SQLITE_COPY = """
    INSERT OR REPLACE INTO job_texts (job_id, description, concurrency_key, client_request_id)
    VALUES (NEW.id, NEW.description, NEW.concurrency_key, NEW.client_request_id);
"""
_SQLITE_TRIGGERS = (
    f"CREATE TRIGGER jobs_copy_texts AFTER INSERT ON jobs BEGIN {_SQLITE_COPY} END",
    "CREATE TRIGGER jobs_copy_texts_update "
    "AFTER UPDATE OF description, concurrency_key, client_request_id ON jobs "
    f"BEGIN {_SQLITE_COPY} END",
)


def upgrade() -> None:
    postgresql = op.get_context().dialect.name == "postgresql"
    op.create_index("ix_jobs_queue_created", "jobs", ["queue", "created_at", "id"], unique=False)
    op.create_table(
        "job_texts",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("concurrency_key", sa.String(length=200), nullable=True),
        sa.Column("client_request_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_job_texts_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_texts")),
    )
    if postgresql:
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    else:
        for trigger in _SQLITE_TRIGGERS:
            op.execute(trigger)
    op.execute(
        "INSERT INTO job_texts (job_id, description, concurrency_key, client_request_id) "
        "SELECT id, description, concurrency_key, client_request_id FROM jobs"
    )
    if postgresql:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_job_texts_trigrams",
            "job_texts",
            _COLUMNS,
            unique=False,
            postgresql_using="gin",
            postgresql_ops=dict.fromkeys(_COLUMNS, "gin_trgm_ops"),
        )
        # How many jobs a text matches is guessed from a sample of each column: with 100
        # values, one rare text seen in the sample reads as 1% of the jobs, and the plan
        # walks every job looking for it; 1,000 values keep rare texts rare.
        op.execute(
            "ALTER TABLE job_texts "
            + ", ".join(f"ALTER COLUMN {column} SET STATISTICS 1000" for column in _COLUMNS)
        )
        op.execute("ANALYZE job_texts")  # plans need its statistics from the start


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS jobs_copy_texts ON jobs")
        op.execute("DROP FUNCTION IF EXISTS jobhub_copy_job_texts()")
    else:
        op.execute("DROP TRIGGER IF EXISTS jobs_copy_texts")
        op.execute("DROP TRIGGER IF EXISTS jobs_copy_texts_update")
    op.drop_table("job_texts")
    op.drop_index("ix_jobs_queue_created", table_name="jobs")
