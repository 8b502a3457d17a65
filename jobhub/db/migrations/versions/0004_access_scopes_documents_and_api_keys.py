"""access scopes, documents, api keys and the shared secrets

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 21:45:28.852842
"""

from __future__ import annotations

import secrets as random_secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("identity", sa.String(length=200), nullable=False),
        sa.Column("organization", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('viewer', 'operator', 'admin')", name=op.f("ck_api_keys_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    secrets = op.create_table(
        "secrets",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_secrets")),
    )
    # One signing key for publish links, shared by every API server of this database.
    op.bulk_insert(secrets, [{"name": "publish_links", "value": random_secrets.token_urlsafe(48)}])
    op.create_table(
        "documents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("path", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_documents_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index("ix_documents_job", ["job_id"], unique=False)

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "access_scope",
                sa.String(length=20),
                server_default="Organization",
                nullable=False,
            )
        )
        batch_op.create_check_constraint(
            "access_scope", "access_scope IN ('Public', 'Private', 'Organization')"
        )
        # Keys belong to a tenant: another organization's key neither blocks nor reveals.
        batch_op.drop_index("uq_jobs_active_key")
        batch_op.create_index(
            "uq_jobs_active_key",
            ["organization", "job_type", "concurrency_key"],
            unique=True,
            postgresql_where=sa.text("concurrency_key IS NOT NULL AND status < 3"),
            sqlite_where=sa.text("concurrency_key IS NOT NULL AND status < 3"),
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("uq_jobs_active_key")
        batch_op.create_index(
            "uq_jobs_active_key",
            ["job_type", "concurrency_key"],
            unique=True,
            postgresql_where=sa.text("concurrency_key IS NOT NULL AND status < 3"),
            sqlite_where=sa.text("concurrency_key IS NOT NULL AND status < 3"),
        )
        batch_op.drop_constraint("access_scope", type_="check")
        batch_op.drop_column("access_scope")

    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_job")

    op.drop_table("documents")
    op.drop_table("secrets")
    op.drop_table("api_keys")
