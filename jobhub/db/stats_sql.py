"""The SQL of the statistics: what each transition counts for, and time arithmetic.

``counted_events`` is ``jobhub.stats.event_figures`` as one SELECT over a range of
``job_events`` ids, so the fold (``stats_store``) and the live read of the unfolded tail
count exactly alike. A transition is classified by looking at its job's other events
through ``ix_job_events_job`` (job id, event id): only a Created, Processing or
CompletedWithErrors event needs that look.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Connection,
    Float,
    Integer,
    Select,
    String,
    Subquery,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy import cast as sql_cast

from jobhub.db.models import (
    JobEventRow,
    JobRow,
    StatsDurationRow,
    StatsFinishedByOrganizationRow,
    StatsFinishedRow,
    StatsTotalsRow,
    StatsWatermarkRow,
    UTCDateTime,
)
from jobhub.jobs import JobStatus
from jobhub.stats import DURATION_BUCKETS, WIDTHS

events = cast(Table, JobEventRow.__table__)
jobs = cast(Table, JobRow.__table__)
watermark = cast(Table, StatsWatermarkRow.__table__)
totals = cast(Table, StatsTotalsRow.__table__)
durations = cast(Table, StatsDurationRow.__table__)
finished = cast(Table, StatsFinishedRow.__table__)
finished_by_organization = cast(Table, StatsFinishedByOrganizationRow.__table__)

_CREATED = int(JobStatus.CREATED)
_QUEUED = int(JobStatus.QUEUED)
_PROCESSING = int(JobStatus.PROCESSING)
_FAILED = int(JobStatus.COMPLETED_WITH_ERRORS)
_TERMINAL = int(JobStatus.COMPLETED)


def plan_for_few_events(connection: Connection) -> None:
    """Tell PostgreSQL, for this transaction, how to run ``counted_events``: a range of
    events, each looking up its job and its other events by index. Left to guess, the
    planner prices the looks so high that it compiles them (JIT, seconds), hashes the
    whole ``jobs`` table (a scan of a million rows) to join a few thousand events, or
    starts parallel workers for them."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text(
                "SELECT set_config('jit', 'off', true),"
                " set_config('enable_hashjoin', 'off', true),"
                " set_config('enable_mergejoin', 'off', true),"
                " set_config('max_parallel_workers_per_gather', '0', true)"
            )
        )


def db_now(connection: Connection) -> datetime:
    """The database's clock: every host agrees on it (``pending_since`` is stamped by it)."""
    if connection.dialect.name == "sqlite":
        value = connection.execute(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    stamp: datetime = connection.execute(select(func.now())).scalar_one()
    return stamp.astimezone(UTC)


def _epoch(column: Any, dialect: str) -> ColumnElement[int]:
    """Whole seconds since the Unix epoch."""
    if dialect == "postgresql":
        return sql_cast(func.floor(func.extract("epoch", column)), BigInteger)
    return sql_cast(func.strftime("%s", column), Integer)


def floor_to(column: Any, width: Any, dialect: str) -> ColumnElement[Any]:
    """``column`` down to a multiple of ``width`` seconds, as the column type stores it
    (on SQLite, SQLAlchemy's text form, so keys compare equal to bound values)."""
    seconds = _epoch(column, dialect) // width * width
    if dialect == "postgresql":
        return func.to_timestamp(seconds)
    return func.datetime(seconds, "unixepoch", type_=String) + ".000000"


def _seconds(end: Any, start: Any, dialect: str) -> ColumnElement[float]:
    if dialect == "postgresql":
        return sql_cast(func.extract("epoch", end - start), Float)
    # SQLite's date functions keep milliseconds: round off julianday's float error
    return func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3)


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def counted_events(
    dialect: str,
    after: Any,
    upto: int | None = None,
    *,
    job_ids: Sequence[uuid.UUID] | None = None,
) -> Subquery:
    """The events with ids in (``after``, ``upto``] (no upper bound: None; of ``job_ids``
    only, when given) and what each
    counts for: ``created``, ``started``, ``retried`` (0 or 1), ``finished`` (the
    terminal status, or NULL), ``duration`` (seconds, or NULL), with the job's type,
    organization and housekeeping flag. Queued events count for nothing and are skipped.
    """
    e = events.alias("e")
    p = events.alias("p")
    same_job = p.c.job_id == e.c.job_id
    earlier = p.c.id < e.c.id
    first = ~exists().where(same_job, earlier)
    first_start = ~exists().where(
        same_job, earlier, p.c.status == _PROCESSING, p.c.attempt == e.c.attempt
    )
    # written together, the retry's Created right after the failure; the id condition
    # also keeps PostgreSQL probing the index rather than hashing every Created event
    retried = exists().where(
        same_job,
        p.c.id > e.c.id,
        p.c.status == _CREATED,
        p.c.attempt == e.c.attempt + 1,
        p.c.at == e.c.at,
    )
    conditions = [e.c.id > after, e.c.status != _QUEUED]
    if upto is not None:
        conditions.append(e.c.id <= upto)
    if job_ids is not None:
        conditions.append(e.c.job_id.in_(list(job_ids)))
    inner = (
        select(
            e.c.id,
            e.c.job_id,
            e.c.at,
            e.c.attempt,
            jobs.c.job_type,
            jobs.c.organization,
            jobs.c.housekeeping,
            _flag(and_(e.c.status == _CREATED, e.c.attempt == 1, first)).label("created"),
            _flag(and_(e.c.status == _PROCESSING, first_start)).label("started"),
            _flag(and_(e.c.status == _FAILED, retried)).label("retried"),
            e.c.status,
            case((jobs.c.attempt == e.c.attempt, jobs.c.started_at)).label("current_start"),
        )
        .join(jobs, jobs.c.id == e.c.job_id)
        .where(*conditions)
        .offset(0)  # a fence: PostgreSQL would otherwise copy each look into every use
        .subquery("i")
    )
    ended = and_(inner.c.status >= _TERMINAL, inner.c.retried == 0)
    p2 = events.alias("p2")
    earlier_start = (
        select(p2.c.at)
        .where(
            p2.c.job_id == inner.c.job_id,
            p2.c.attempt == inner.c.attempt,
            p2.c.status == _PROCESSING,
        )
        .order_by(p2.c.id)
        .limit(1)
        .scalar_subquery()
    )
    start = case((inner.c.current_start.is_not(None), inner.c.current_start), else_=earlier_start)
    run = _seconds(inner.c.at, start, dialect)
    return select(
        inner.c.id,
        inner.c.at,
        inner.c.job_type,
        inner.c.organization,
        inner.c.housekeeping,
        inner.c.created,
        inner.c.started,
        inner.c.retried,
        case((ended, inner.c.status)).label("finished"),
        case((ended, run)).label("duration"),
    ).subquery("counted")


def non_negative(duration: ColumnElement[float]) -> ColumnElement[float]:
    """A run time of at least 0 (two hosts' clocks may disagree a little); NULL stays."""
    return case((duration < 0, 0.0), else_=duration)


def duration_bucket(duration: ColumnElement[float]) -> ColumnElement[int]:
    """``stats.duration_bucket`` as SQL."""
    whens = [(duration <= bound, index) for index, bound in enumerate(DURATION_BUCKETS)]
    return case(*whens, else_=len(DURATION_BUCKETS))


def totals_by_type(counted: Subquery) -> Select[Any]:
    """Per job type: the sums ``stats_totals`` keeps."""

    def finished_as(status: JobStatus) -> ColumnElement[Any]:
        return func.sum(case((counted.c.finished == int(status), 1), else_=0))

    return select(
        counted.c.job_type,
        func.sum(counted.c.created).label("created"),
        func.sum(counted.c.started).label("attempts"),
        func.sum(counted.c.retried).label("retries"),
        finished_as(JobStatus.COMPLETED).label("completed"),
        finished_as(JobStatus.COMPLETED_WITH_ERRORS).label("failed"),
        finished_as(JobStatus.CANCELLED).label("cancelled"),
        func.coalesce(func.sum(non_negative(counted.c.duration)), 0.0).label("duration_sum"),
    ).group_by(counted.c.job_type)


def durations_by_type(counted: Subquery) -> Select[Any]:
    """Per job type and duration bucket: how many finished runs."""
    bucket = duration_bucket(non_negative(counted.c.duration))
    return (
        select(counted.c.job_type, bucket.label("bucket"), func.count().label("count"))
        .where(counted.c.duration.is_not(None))
        .group_by(counted.c.job_type, bucket)
    )


def finished_by_width(
    counted: Subquery, dialect: str, *, by_organization: bool
) -> CompoundSelect[Any]:
    """Per width of ``stats.WIDTHS``, interval, type and status (and organization, when
    ``by_organization``): how many jobs ended. Counted by the minute once, then the
    minutes summed into the wider intervals."""
    minute = floor_to(counted.c.at, 60, dialect)
    keys = [counted.c.job_type, counted.c.housekeeping]
    if by_organization:
        keys.insert(0, counted.c.organization)
    minutes = (
        select(
            *keys,
            minute.label("start"),
            counted.c.finished.label("status"),
            func.count().label("count"),
        )
        .where(counted.c.finished.is_not(None))
        .group_by(*keys, minute, counted.c.finished)
        .cte("minutes")
    )
    parts = []
    for width in WIDTHS:
        start = minutes.c.start if width == 60 else floor_to(minutes.c.start, width, dialect)
        grouped = [minutes.c[key.name] for key in keys]
        parts.append(
            select(
                *grouped,
                literal(width, Integer).label("width"),
                start.label("start"),
                minutes.c.status,
                func.sum(minutes.c.count).label("count"),
            ).group_by(*grouped, start, minutes.c.status)
        )
    return union_all(*parts)


# -- reads, built once per dialect (their values are bound at each execution) ---------------

_AFTER = bindparam("after", type_=BigInteger())
_SINCE = bindparam("since", type_=UTCDateTime())
_UNTIL = bindparam("until", type_=UTCDateTime())


@cache
def unfolded_totals(dialect: str) -> Select[Any]:
    """The events after ``:after`` that count for a total, and what each counts for."""
    counted = counted_events(dialect, _AFTER)
    return select(
        counted.c.job_type,
        counted.c.created,
        counted.c.started,
        counted.c.retried,
        counted.c.finished,
        counted.c.duration,
    ).where(
        (counted.c.created + counted.c.started + counted.c.retried > 0)
        | counted.c.finished.is_not(None)
    )


@cache
def unfolded_ends(dialect: str) -> Select[Any]:
    """The jobs that ended in [``:since``, ``:until``) by events after ``:after``."""
    counted = counted_events(dialect, _AFTER)
    return select(
        counted.c.at,
        counted.c.organization,
        counted.c.job_type,
        counted.c.housekeeping,
        counted.c.finished,
    ).where(counted.c.finished.is_not(None), counted.c.at >= _SINCE, counted.c.at < _UNTIL)


@cache
def folded_ends(dialect: str, *, one_organization: bool, housekeeping: bool) -> Select[Any]:
    """The folded counts of ``:width`` in [``:since``, ``:until``), summed per bar of
    ``:bucket`` seconds (as its start in epoch seconds), type and status."""
    table = finished_by_organization if one_organization else finished
    bucket_seconds = bindparam("bucket", type_=Integer())
    bucket = (_epoch(table.c.start, dialect) // bucket_seconds * bucket_seconds).label("bucket")
    statement = (
        select(bucket, table.c.job_type, table.c.status, func.sum(table.c.count))
        .where(
            table.c.width == bindparam("width", type_=Integer()),
            table.c.start >= _SINCE,
            table.c.start < _UNTIL,
        )
        .group_by(bucket, table.c.job_type, table.c.status)
    )
    if one_organization:
        statement = statement.where(
            table.c.organization == bindparam("organization", type_=String())
        )
    if not housekeeping:
        statement = statement.where(table.c.housekeeping.is_(False))
    return statement
