"""The tables, as SQLAlchemy 2 typed models. Alembic migrations must produce exactly these.

Constraints the database can enforce are declared here rather than checked in Python:
one active job per (organization, job type, key), one job per (organization, client
request id),
valid status codes and percentages.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

FINAL_STATUS_SQL = "CASE WHEN status >= 3 THEN status END"
"""``jobs.final_status``: the status once the job ended, NULL while it is active."""
ACTIVE_SQL = "final_status IS NULL"
"""Created, Queued and Processing: the statuses that hold a job's key."""

TEXT_COLUMNS = ("description", "concurrency_key", "client_request_id")
"""What a text search looks in (``jobhub.queries.JobQuery.text``), copied to ``job_texts``."""
POSTGRESQL_ONLY = frozenset({"ix_job_texts_trigrams"})
"""Indexes only PostgreSQL has (declared with ``ddl_if``); SQLite has no trigram index."""


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")


def compared_objects(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's ``include_object`` for comparing the schema of ``dialect`` with these
    models: an index declared for PostgreSQL only is compared there only."""

    def include(_object: Any, name: str | None, kind: str, _reflected: bool, _other: Any) -> bool:
        return not (kind == "index" and name in POSTGRESQL_ONLY and dialect != "postgresql")

    return include


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime}


class JobRow(Base):
    """One job: its identity, inputs, lifecycle, progress and outcome."""

    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    job_type: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100), default="")
    subcategory: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    identity: Mapped[str | None] = mapped_column(String(200))
    organization: Mapped[str] = mapped_column(String(200), default="")
    client_request_id: Mapped[str | None] = mapped_column(String(200))
    concurrency_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(SmallInteger)
    final_status: Mapped[int | None] = mapped_column(
        SmallInteger, Computed(FINAL_STATUS_SQL, persisted=True)
    )
    """``status`` once the job ended (3, 4, 5), NULL while active; generated. Indexes name
    it rather than ``status``, which Queued and Processing change: so those transitions
    touch no indexed column and are heap-only updates (migration 0010). Virtual on
    SQLite."""
    status_text: Mapped[str | None] = mapped_column(Text)
    percent: Mapped[int] = mapped_column(SmallInteger, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    retries: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """Attempts queued automatically in this run because a worker was lost."""
    result: Mapped[Any | None] = mapped_column(JSONDocument)
    error_type: Mapped[str | None] = mapped_column(String(200))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_traceback: Mapped[str | None] = mapped_column(Text)
    can_cancel: Mapped[bool] = mapped_column(Boolean, default=True)
    can_rerun: Mapped[bool] = mapped_column(Boolean, default=True)
    cancel_requested_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    queued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    purge_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(200))
    modified_by: Mapped[str | None] = mapped_column(String(200))
    access_scope: Mapped[str] = mapped_column(
        String(20), default="Organization", server_default="Organization"
    )
    """Who may read the result and documents: Public, Private or Organization."""
    housekeeping: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """jobhub's own upkeep (its type is declared so); listings leave these out unless asked.
    Not indexed: a listing skips the few it meets on its ordered index."""
    queue: Mapped[str] = mapped_column(String(100), server_default="jobhub")
    """The broker queue its messages go to."""
    priority: Mapped[int] = mapped_column(SmallInteger, default=0, server_default=text("0"))
    """0 to 9, higher first (``jobhub.placement``)."""
    due_at: Mapped[datetime | None]
    """While Created: when it is published (a delayed start, or a retry's next attempt).
    Only rows that wait have one, so its partial index holds only those."""
    max_attempts: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    """Attempts its run may take (``jobhub.retries``)."""
    runs_elsewhere: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Claimed and reported by an outside runner; never published."""
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Waits in Created because a pause or a limit keeps it from starting
    (``jobhub.gates``); released in order when it may start."""
    released: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """This attempt holds a slot under its type's limits (or passed its pauses): a worker
    may claim it. Cleared when the attempt ends, so only slot holders are indexed."""
    workflow_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    """The workflow this job is a step of (``workflow_steps`` says which step)."""
    awaiting_steps: Mapped[bool] = mapped_column(Boolean, server_default=false())
    """A workflow step waiting in Created for the steps it depends on to end; nobody
    publishes it until the workflow's advance round decides it (``jobhub.workflows``)."""

    __table_args__ = (
        CheckConstraint("status IN (0, 1, 2, 3, 4, 5)", name="status_code"),
        CheckConstraint(
            "access_scope IN ('Public', 'Private', 'Organization')", name="access_scope"
        ),
        CheckConstraint("percent BETWEEN 0 AND 100", name="percent_range"),
        CheckConstraint("attempt >= 1", name="attempt_positive"),
        CheckConstraint("priority BETWEEN 0 AND 9", name="priority_range"),
        CheckConstraint("max_attempts >= 1", name="max_attempts_positive"),
        Index(
            "uq_jobs_active_key",
            "organization",
            "job_type",
            "concurrency_key",
            unique=True,
            postgresql_where=text(f"concurrency_key IS NOT NULL AND {ACTIVE_SQL}"),
            sqlite_where=text(f"concurrency_key IS NOT NULL AND {ACTIVE_SQL}"),
        ),
        Index(
            "uq_jobs_client_request",
            "organization",
            "client_request_id",
            unique=True,
            postgresql_where=text("client_request_id IS NOT NULL"),
            sqlite_where=text("client_request_id IS NOT NULL"),
        ),
        # Lists are newest first by (created_at, id); each filter has its ordered index.
        # A status list reads the active rows' index (then their status) or the ended
        # rows' by final status (``jobhub.db.status_sql``).
        Index(
            "ix_jobs_active_created",
            "created_at",
            "id",
            postgresql_where=text(ACTIVE_SQL),
            sqlite_where=text(ACTIVE_SQL),
        ),
        Index(
            "ix_jobs_final_created",
            "final_status",
            "created_at",
            "id",
            postgresql_where=text("final_status IS NOT NULL"),
            sqlite_where=text("final_status IS NOT NULL"),
        ),
        Index("ix_jobs_type_created", "job_type", "created_at", "id"),
        Index("ix_jobs_organization_created", "organization", "created_at", "id"),
        Index("ix_jobs_created", "created_at", "id"),
        Index("ix_jobs_queue_created", "queue", "created_at", "id"),
        Index("ix_jobs_purge_at", "purge_at"),
        Index(
            "ix_jobs_due_at",
            "due_at",
            postgresql_where=text("due_at IS NOT NULL"),
            sqlite_where=text("due_at IS NOT NULL"),
        ),
        Index("ix_jobs_held", "job_type", postgresql_where=text("held"), sqlite_where=text("held")),
        Index(
            "ix_jobs_released",
            "job_type",
            postgresql_where=text("released"),
            sqlite_where=text("released"),
        ),
        Index(
            "ix_jobs_awaiting_steps",
            "id",
            postgresql_where=text("awaiting_steps"),
            sqlite_where=text("awaiting_steps"),
        ),
    )


class JobEventRow(Base):
    """One applied transition, appended in the same transaction as the status change."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("jobs.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    status: Mapped[int] = mapped_column(SmallInteger)
    attempt: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str | None] = mapped_column(Text)
    error_type: Mapped[str | None] = mapped_column(String(200))
    """The error that ended this event's attempt (a failure, a lost worker), so every
    attempt's error stays readable after a retry."""
    error_message: Mapped[str | None] = mapped_column(Text)
    error_traceback: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_job_events_job", "job_id", "id"),)


class JobTextRow(Base):
    """A job's searchable text (``TEXT_COLUMNS``), copied from its row by a trigger.

    The trigram index lives here rather than on ``jobs``: a GIN index on ``jobs`` would be
    written again at every transition and progress report (none of them is a HOT update),
    while this row is written once, when the job is created. Triggers made by migration
    0009 keep it (on PostgreSQL and SQLite alike); it goes with its job (cascade).
    """

    __tablename__ = "job_texts"

    job_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    description: Mapped[str] = mapped_column(Text)
    concurrency_key: Mapped[str | None] = mapped_column(String(200))
    client_request_id: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        # ILIKE '%...%' by trigrams; an OR over the three columns is a BitmapOr of its scans.
        Index(
            "ix_job_texts_trigrams",
            *TEXT_COLUMNS,
            postgresql_using="gin",
            postgresql_ops=dict.fromkeys(TEXT_COLUMNS, "gin_trgm_ops"),
        ).ddl_if(dialect="postgresql"),
    )


class JobMessageRow(Base):
    """A user message posted by a running job, kept in order."""

    __tablename__ = "job_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("jobs.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    level: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_job_messages_job", "job_id", "id"),)


class JobTypeRow(Base):
    """A registered job type (SanteDB's master list) and how it starts."""

    __tablename__ = "job_types"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    start_type: Mapped[str] = mapped_column(String(20))
    registered_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint(
            "start_type IN ('Immediate', 'DelayStart', 'TimerOnly', 'Never')", name="start_type"
        ),
    )


class WorkerRow(Base):
    """A worker node and its heartbeat, in the database's clock (never a worker's own)."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    queues: Mapped[str | None] = mapped_column(Text)
    """The queues it consumes, comma-separated (None: not reported)."""


class DeadLetterRow(Base):
    """A message a worker received and could not run as a job, kept for inspection."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(50))
    task_name: Mapped[str | None] = mapped_column(String(200))
    task_id: Mapped[str | None] = mapped_column(String(200))
    worker: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")
    headers: Mapped[Any | None] = mapped_column(JSONDocument)
    body: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_dead_letters_received", "received_at"),)


class JobScheduleRow(Base):
    """When a job type starts on its own: beat's static entries and runtime schedules.

    ``next_fire_at`` is the only column beat polls (indexed): a beat reads the schedules
    that are due, never the whole table.
    """

    __tablename__ = "job_schedules"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    job_type: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(10))
    rule: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    catch_up: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    next_fire_at: Mapped[datetime | None]
    last_fire_at: Mapped[datetime | None]
    last_job_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)

    __table_args__ = (
        CheckConstraint("source IN ('static', 'runtime')", name="source"),
        Index("ix_job_schedules_next_fire", "next_fire_at"),
        Index("ix_job_schedules_job_type", "job_type"),
    )


class DocumentRow(Base):
    """A job's result too large to keep inline, or another file it produced.

    The bytes are in ``content`` (PostgreSQL or SQLite) or, when a documents folder is
    configured, in the file ``path`` names under it. Rows go with their job (cascade); the
    purge removes the files.
    """

    __tablename__ = "documents"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("jobs.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    path: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]

    __table_args__ = (Index("ix_documents_job", "job_id"),)


class ApiKeyRow(Base):
    """An HTTP API key: only a hash of its secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    """The key's public part (``jh_<id>_<secret>``): what revoke and list name."""
    secret_hash: Mapped[str] = mapped_column(String(64))
    identity: Mapped[str] = mapped_column(String(200))
    organization: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (CheckConstraint("role IN ('viewer', 'operator', 'admin')", name="role"),)


class SecretRow(Base):
    """Secrets every jobhub process shares, created by the migration that needs them."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class JobLimitRow(Base):
    """A limit on a job type: Processing at once, or starts per period; overall or per
    value of a parameter (or of the organization). ``maximum`` NULL: an operator lifted a
    declared limit, and a worker's restart must not bring it back."""

    __tablename__ = "job_limits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_type: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    per: Mapped[str] = mapped_column(String(200), default="", server_default="")
    maximum: Mapped[int | None] = mapped_column(Integer)
    period: Mapped[float | None] = mapped_column(Float)
    """Seconds (rate limits only)."""
    source: Mapped[str] = mapped_column(String(10))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        CheckConstraint("kind IN ('concurrency', 'rate')", name="kind"),
        CheckConstraint("maximum >= 1", name="maximum_positive"),
        CheckConstraint(
            "(kind = 'rate') = (period IS NOT NULL) AND (period IS NULL OR period > 0)",
            name="rate_period",
        ),
        CheckConstraint("source IN ('declared', 'operator')", name="source"),
        UniqueConstraint("job_type", "kind", "per"),
    )


class LimitStartRow(Base):
    """A start counted by a rate limit; rows older than its period are pruned."""

    __tablename__ = "limit_starts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    limit_id: Mapped[int] = mapped_column(BigId, ForeignKey("job_limits.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200), default="", server_default="")
    at: Mapped[datetime]

    __table_args__ = (Index("ix_limit_starts_limit_key_at", "limit_id", "key", "at"),)


class PauseRow(Base):
    """A paused queue, job type or schedule: cluster-wide until resumed."""

    __tablename__ = "pauses"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    target: Mapped[str] = mapped_column(String(200), primary_key=True)
    paused_at: Mapped[datetime]
    paused_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint("kind IN ('queue', 'type', 'schedule')", name="kind"),)


class AuditEntryRow(Base):
    """One operator action: who, when, what, why. Only ever appended (and purged by age)."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str | None] = mapped_column(String(40))
    organization: Mapped[str] = mapped_column(String(200), default="", server_default="")
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(300))
    details: Mapped[Any | None] = mapped_column(JSONDocument)
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_audit_entries_at", "at"),
        Index("ix_audit_entries_organization_at", "organization", "at"),
    )


class StatsWatermarkRow(Base):
    """How far the transition history is folded into the statistics (``jobhub.db.stats_store``).

    One row. Events up to ``folded_event_id`` are counted in the rollup tables; the ones
    after it are read live. ``pending_event_id`` is the newest event id seen at
    ``pending_since`` (the database's clock): it is folded once it is older than the fold
    horizon, when every transaction that drew a smaller id has ended.
    """

    __tablename__ = "stats_watermark"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    folded_event_id: Mapped[int] = mapped_column(BigInteger)
    pending_event_id: Mapped[int | None] = mapped_column(BigInteger)
    pending_since: Mapped[datetime | None]

    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)


class StatsTotalsRow(Base):
    """Running totals of one job type over the folded history; purges take nothing away."""

    __tablename__ = "stats_totals"

    job_type: Mapped[str] = mapped_column(String(200), primary_key=True)
    created: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(BigInteger)
    retries: Mapped[int] = mapped_column(BigInteger)
    completed: Mapped[int] = mapped_column(BigInteger)
    failed: Mapped[int] = mapped_column(BigInteger)
    cancelled: Mapped[int] = mapped_column(BigInteger)
    duration_sum: Mapped[float] = mapped_column(Float)
    """Seconds run by the finished jobs that had started."""


class StatsDurationRow(Base):
    """How many finished jobs of a type ran within one bucket of ``stats.DURATION_BUCKETS``."""

    __tablename__ = "stats_durations"

    job_type: Mapped[str] = mapped_column(String(200), primary_key=True)
    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(BigInteger)


class StatsFinishedRow(Base):
    """Jobs that ended in one interval (``width`` seconds: a minute, half an hour, an hour
    or a day), by type and terminal status, all organizations together; kept as long as
    ``stats.WIDTHS`` says."""

    __tablename__ = "stats_finished"

    width: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    start: Mapped[datetime] = mapped_column(primary_key=True)
    job_type: Mapped[str] = mapped_column(String(200), primary_key=True)
    housekeeping: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    status: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(BigInteger)


class StatsFinishedByOrganizationRow(Base):
    """``stats_finished`` for one organization (what its own overview reads)."""

    __tablename__ = "stats_finished_by_organization"

    organization: Mapped[str] = mapped_column(String(200), primary_key=True)
    width: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    start: Mapped[datetime] = mapped_column(primary_key=True)
    job_type: Mapped[str] = mapped_column(String(200), primary_key=True)
    housekeeping: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    status: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_stats_finished_by_organization_width_start", "width", "start"),)


class WorkflowRow(Base):
    """A workflow: steps (jobs) with dependencies between them.

    ``status`` is derived from the steps and written by the advance round that sees the
    last of them end (Completed when every step Completed, Cancelled when it was
    cancelled, else CompletedWithErrors); Processing until then.
    """

    __tablename__ = "workflows"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(SmallInteger)
    identity: Mapped[str | None] = mapped_column(String(200))
    organization: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    cancel_requested_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("status IN (2, 3, 4, 5)", name="status_code"),
        Index("ix_workflows_created", "created_at", "id"),
        Index("ix_workflows_status_created", "status", "created_at", "id"),
        Index(
            "ix_workflows_open",
            "id",
            postgresql_where=text("completed_at IS NULL"),
            sqlite_where=text("completed_at IS NULL"),
        ),
    )


class WorkflowStepRow(Base):
    """One step of a workflow: its job, and when it may start (``policy``)."""

    __tablename__ = "workflow_steps"

    workflow_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("jobs.id", ondelete="CASCADE"), unique=True
    )
    policy: Mapped[str] = mapped_column(String(20))
    results_parameter: Mapped[str | None] = mapped_column(String(200))
    """The parameter that receives the results of the steps it depends on, if any."""
    not_needed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Its job ended Cancelled because nothing called for it (an ``on_failure`` step
    after steps that all Completed, or a step after such a one): it does not make the
    workflow fail."""

    __table_args__ = (
        CheckConstraint("policy IN ('completed', 'on_failure', 'always')", name="policy"),
    )


class WorkflowEdgeRow(Base):
    """``step`` starts only after ``depends_on`` ended (both of one workflow)."""

    __tablename__ = "workflow_edges"

    workflow_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[str] = mapped_column(String(200), primary_key=True)
    depends_on: Mapped[str] = mapped_column(String(200), primary_key=True)

    __table_args__ = (
        CheckConstraint("step <> depends_on", name="not_itself"),
        Index("ix_workflow_edges_depends_on", "workflow_id", "depends_on"),
    )
