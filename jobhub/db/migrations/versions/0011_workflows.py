"""workflows: steps are jobs, dependencies are edges

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 17:00:00.000000

A workflow's steps are ordinary jobs linked to it (``jobs.workflow_id``). A step that
waits for others is recorded Created with ``awaiting_steps`` set: nobody publishes it until the
advance round (``jobhub.workflows``) sees every step it depends on ended and decides,
with a guarded update of its row, whether it runs or ends Cancelled. The partial index
holds only the waiting steps, so that round reads nothing else, and other jobs pay
nothing for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _where(condition: str) -> dict[str, sa.TextClause]:
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("identity", sa.String(length=200), nullable=True),
        sa.Column("organization", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN (2, 3, 4, 5)", name=op.f("ck_workflows_status_code")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
    )
    op.create_index("ix_workflows_created", "workflows", ["created_at", "id"], unique=False)
    op.create_index(
        "ix_workflows_status_created", "workflows", ["status", "created_at", "id"], unique=False
    )
    op.create_index(
        "ix_workflows_open", "workflows", ["id"], unique=False, **_where("completed_at IS NULL")
    )
    op.create_table(
        "workflow_steps",
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("policy", sa.String(length=20), nullable=False),
        sa.Column("results_parameter", sa.String(length=200), nullable=True),
        sa.Column("not_needed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint(
            "policy IN ('completed', 'on_failure', 'always')",
            name=op.f("ck_workflow_steps_policy"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_workflow_steps_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_workflow_steps_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workflow_id", "name", name=op.f("pk_workflow_steps")),
        sa.UniqueConstraint("job_id", name=op.f("uq_workflow_steps_job_id")),
    )
    op.create_table(
        "workflow_edges",
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.String(length=200), nullable=False),
        sa.Column("depends_on", sa.String(length=200), nullable=False),
        sa.CheckConstraint("step <> depends_on", name=op.f("ck_workflow_edges_not_itself")),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_workflow_edges_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workflow_id", "step", "depends_on", name=op.f("pk_workflow_edges")
        ),
    )
    op.create_index(
        "ix_workflow_edges_depends_on",
        "workflow_edges",
        ["workflow_id", "depends_on"],
        unique=False,
    )
    op.add_column("jobs", sa.Column("workflow_id", sa.Uuid(), nullable=True))
    op.add_column(
        "jobs", sa.Column("awaiting_steps", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.create_index(
        "ix_jobs_awaiting_steps", "jobs", ["id"], unique=False, **_where("awaiting_steps")
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_awaiting_steps", table_name="jobs")
    op.drop_column("jobs", "awaiting_steps")
    op.drop_column("jobs", "workflow_id")
    op.drop_index("ix_workflow_edges_depends_on", table_name="workflow_edges")
    op.drop_table("workflow_edges")
    op.drop_table("workflow_steps")
    op.drop_index("ix_workflows_open", table_name="workflows")
    op.drop_index("ix_workflows_status_created", table_name="workflows")
    op.drop_index("ix_workflows_created", table_name="workflows")
    op.drop_table("workflows")
