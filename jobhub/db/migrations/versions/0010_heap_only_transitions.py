"""jobs: Queued and Processing become heap-only updates; status lists by final_status

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 12:00:00.000000

PostgreSQL can update a row without touching its indexes (a heap-only, HOT, update) only
when no indexed column changes, and a column in an index's WHERE counts. ``status`` was in
two indexes (the status list's, and the active-key predicate), so every transition wrote
a new entry into each of the ten indexes of ``jobs``: two thirds of the write-ahead log of
a job's run.

Indexes now name ``final_status`` instead: a generated column, the status once the job
ended (3, 4 or 5) and NULL while it is active. It changes only when a job ends or is
reopened, so Queued and Processing change no indexed column. Lists of active jobs use a
partial index over the active rows; lists by final status their own; the active-key
rule reads ``final_status IS NULL``. Being generated, the column cannot disagree with
``status``, and no writer sets it.

A heap-only update also needs room on the row's page: ``jobs`` keeps 30% of each new
page free (fillfactor 70) for the next versions of its rows; pages written before keep
their old fill.

The one-job-per-client-request-id index holds only jobs that have one: a job without it
no longer writes an entry there, nor pays for the speculative insert of ``ON CONFLICT``.

SQLite cannot add a stored generated column to a table: there it is virtual (computed
when read), which SQLite may index as well.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FINAL = "CASE WHEN status >= 3 THEN status END"
_ACTIVE = "final_status IS NULL"
_KEY = ["organization", "job_type", "concurrency_key"]


def _where(condition: str) -> dict[str, sa.TextClause]:
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def upgrade() -> None:
    postgresql = op.get_context().dialect.name == "postgresql"
    op.add_column(
        "jobs",
        sa.Column("final_status", sa.SmallInteger(), sa.Computed(_FINAL, persisted=postgresql)),
    )
    op.drop_index("ix_jobs_status_created", table_name="jobs")
    op.create_index(
        "ix_jobs_active_created", "jobs", ["created_at", "id"], unique=False, **_where(_ACTIVE)
    )
    op.create_index(
        "ix_jobs_final_created",
        "jobs",
        ["final_status", "created_at", "id"],
        unique=False,
        **_where("final_status IS NOT NULL"),
    )
    op.drop_index("uq_jobs_active_key", table_name="jobs")
    op.create_index(
        "uq_jobs_active_key",
        "jobs",
        _KEY,
        unique=True,
        **_where(f"concurrency_key IS NOT NULL AND {_ACTIVE}"),
    )
    op.drop_index("uq_jobs_client_request", table_name="jobs")
    op.create_index(
        "uq_jobs_client_request",
        "jobs",
        ["organization", "client_request_id"],
        unique=True,
        **_where("client_request_id IS NOT NULL"),
    )
    if postgresql:
        op.execute("ALTER TABLE jobs SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE jobs RESET (fillfactor)")
    op.drop_index("uq_jobs_client_request", table_name="jobs")
    op.create_index(
        "uq_jobs_client_request", "jobs", ["organization", "client_request_id"], unique=True
    )
    op.drop_index("uq_jobs_active_key", table_name="jobs")
    op.create_index(
        "uq_jobs_active_key",
        "jobs",
        _KEY,
        unique=True,
        **_where("concurrency_key IS NOT NULL AND status < 3"),
    )
    op.drop_index("ix_jobs_final_created", table_name="jobs")
    op.drop_index("ix_jobs_active_created", table_name="jobs")
    op.create_index("ix_jobs_status_created", "jobs", ["status", "created_at", "id"], unique=False)
    op.drop_column("jobs", "final_status")
