"""statistics rollups: the transition history folded for the overview and /metrics

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    watermark = op.create_table(
        "stats_watermark",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("folded_event_id", sa.BigInteger(), nullable=False),
        sa.Column("pending_event_id", sa.BigInteger(), nullable=True),
        sa.Column("pending_since", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_stats_watermark_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_watermark")),
    )
    # Nothing folded yet: the first fold notes the newest event, the next ones fold the
    # existing history in batches.
    op.bulk_insert(watermark, [{"id": 1, "folded_event_id": 0}])
    op.create_table(
        "stats_totals",
        sa.Column("job_type", sa.String(length=200), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("retries", sa.BigInteger(), nullable=False),
        sa.Column("completed", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("cancelled", sa.BigInteger(), nullable=False),
        sa.Column("duration_sum", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("job_type", name=op.f("pk_stats_totals")),
    )
    op.create_table(
        "stats_durations",
        sa.Column("job_type", sa.String(length=200), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("job_type", "bucket", name=op.f("pk_stats_durations")),
    )
    op.create_table(
        "stats_finished",
        sa.Column("width", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("job_type", sa.String(length=200), nullable=False),
        sa.Column("housekeeping", sa.Boolean(), nullable=False),
        sa.Column("status", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "width", "start", "job_type", "housekeeping", "status", name=op.f("pk_stats_finished")
        ),
    )
    op.create_table(
        "stats_finished_by_organization",
        sa.Column("organization", sa.String(length=200), nullable=False),
        sa.Column("width", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("job_type", sa.String(length=200), nullable=False),
        sa.Column("housekeeping", sa.Boolean(), nullable=False),
        sa.Column("status", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "organization",
            "width",
            "start",
            "job_type",
            "housekeeping",
            "status",
            name=op.f("pk_stats_finished_by_organization"),
        ),
    )
    op.create_index(
        "ix_stats_finished_by_organization_width_start",
        "stats_finished_by_organization",
        ["width", "start"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_stats_finished_by_organization_width_start",
        table_name="stats_finished_by_organization",
    )
    op.drop_table("stats_finished_by_organization")
    op.drop_table("stats_finished")
    op.drop_table("stats_durations")
    op.drop_table("stats_totals")
    op.drop_table("stats_watermark")
