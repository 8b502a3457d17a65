"""job control: queues, priorities, due times, retries, jobs run elsewhere

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 19:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("queue", sa.String(length=100), server_default="jobhub", nullable=False)
        )
        batch_op.add_column(
            sa.Column("priority", sa.SmallInteger(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("max_attempts", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("runs_elsewhere", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_check_constraint("priority_range", "priority BETWEEN 0 AND 9")
        batch_op.create_check_constraint("max_attempts_positive", "max_attempts >= 1")
        batch_op.create_index(
            "ix_jobs_due_at",
            ["due_at"],
            unique=False,
            postgresql_where=sa.text("due_at IS NOT NULL"),
            sqlite_where=sa.text("due_at IS NOT NULL"),
        )
    # the jobs already recorded go on with the queue their workers consume
    default_queue = context.config.attributes.get("default_queue", "jobhub")
    jobs = sa.table("jobs", sa.column("queue", sa.String))
    op.execute(jobs.update().values(queue=default_queue))
    with op.batch_alter_table("job_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_type", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("error_message", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("error_traceback", sa.Text(), nullable=True))
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queues", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.drop_column("queues")
    with op.batch_alter_table("job_events", schema=None) as batch_op:
        batch_op.drop_column("error_traceback")
        batch_op.drop_column("error_message")
        batch_op.drop_column("error_type")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_due_at")
        batch_op.drop_constraint("max_attempts_positive", type_="check")
        batch_op.drop_constraint("priority_range", type_="check")
        batch_op.drop_column("runs_elsewhere")
        batch_op.drop_column("max_attempts")
        batch_op.drop_column("due_at")
        batch_op.drop_column("priority")
        batch_op.drop_column("queue")
