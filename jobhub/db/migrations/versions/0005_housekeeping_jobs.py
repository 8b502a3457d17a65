"""housekeeping jobs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:12:41.508133
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHIPPED_HOUSEKEEPING = (
    "maintenance.purge_jobs",
    "maintenance.reap_lost_jobs",
    "maintenance.reconcile_outbox",
)
"""The job types shipped as housekeeping when this column came: their existing rows are
marked, so the listings leave them out from the upgrade on, not from their purge on."""


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("housekeeping", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    jobs = sa.table("jobs", sa.column("job_type", sa.String), sa.column("housekeeping", sa.Boolean))
    op.execute(
        jobs.update()
        .where(jobs.c.job_type.in_(SHIPPED_HOUSEKEEPING))
        .values(housekeeping=sa.true())
    )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("housekeeping")
