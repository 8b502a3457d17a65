"""limits, pauses and the audit trail

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 23:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("held", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("released", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index(
            "ix_jobs_held",
            ["job_type"],
            unique=False,
            postgresql_where=sa.text("held"),
            sqlite_where=sa.text("held"),
        )
        batch_op.create_index(
            "ix_jobs_released",
            ["job_type"],
            unique=False,
            postgresql_where=sa.text("released"),
            sqlite_where=sa.text("released"),
        )
    op.create_table(
        "job_limits",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("job_type", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("per", sa.String(length=200), server_default="", nullable=False),
        sa.Column("maximum", sa.Integer(), nullable=True),
        sa.Column("period", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint("kind IN ('concurrency', 'rate')", name=op.f("ck_job_limits_kind")),
        sa.CheckConstraint("maximum >= 1", name=op.f("ck_job_limits_maximum_positive")),
        sa.CheckConstraint(
            "(kind = 'rate') = (period IS NOT NULL) AND (period IS NULL OR period > 0)",
            name=op.f("ck_job_limits_rate_period"),
        ),
        sa.CheckConstraint("source IN ('declared', 'operator')", name=op.f("ck_job_limits_source")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_limits")),
        sa.UniqueConstraint(
            "job_type", "kind", "per", name=op.f("uq_job_limits_job_type_kind_per")
        ),
    )
    op.create_table(
        "limit_starts",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("limit_id", _BIG_ID, nullable=False),
        sa.Column("key", sa.String(length=200), server_default="", nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["limit_id"],
            ["job_limits.id"],
            name=op.f("fk_limit_starts_limit_id_job_limits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_limit_starts")),
    )
    op.create_index(
        "ix_limit_starts_limit_key_at", "limit_starts", ["limit_id", "key", "at"], unique=False
    )
    op.create_table(
        "pauses",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paused_by", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('queue', 'type', 'schedule')", name=op.f("ck_pauses_kind")),
        sa.PrimaryKeyConstraint("kind", "target", name=op.f("pk_pauses")),
    )
    op.create_table(
        "audit_entries",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=True),
        sa.Column("organization", sa.String(length=200), server_default="", nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("details", _JSON, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    op.create_index("ix_audit_entries_at", "audit_entries", ["at"], unique=False)
    op.create_index(
        "ix_audit_entries_organization_at", "audit_entries", ["organization", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_audit_entries_organization_at", table_name="audit_entries")
    op.drop_index("ix_audit_entries_at", table_name="audit_entries")
    op.drop_table("audit_entries")
    op.drop_table("pauses")
    op.drop_index("ix_limit_starts_limit_key_at", table_name="limit_starts")
    op.drop_table("limit_starts")
    op.drop_table("job_limits")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_released")
        batch_op.drop_index("ix_jobs_held")
        batch_op.drop_column("released")
        batch_op.drop_column("held")
