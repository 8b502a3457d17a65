"""Statistics in the database: the history of transitions folded into small rollup tables,
read together with the part not folded yet, and the figures of now read from the tables.

Why fold: counting a million jobs at every scrape is too slow, and purged jobs would
take their counts with them. So ``job_events`` (one row per applied transition, ids from
a sequence) is folded, in order of id, into ``stats_totals``, ``stats_durations``,
``stats_finished`` and ``stats_finished_by_organization``; ``stats_watermark`` says up
to which id. A read adds the events after the watermark, counted live by the same SQL
(``stats_sql.counted_events``), so figures are exact at any moment. Nothing is counted
twice: the rollups and the tail are read in one snapshot, and a fold moves the watermark
in the transaction that adds the counts, holding its row (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite runs one writer at a time), so two processes never fold the same
events.

The horizon. On PostgreSQL an event may commit after an event with a larger id
committed, so folding up to the newest id could skip it forever. A fold therefore notes
the newest id it sees (``pending_event_id``, stamped with the database's clock) and
folds up to it only once it is ``FOLD_HORIZON`` old. **Assumption:** a transaction that
writes job events ends within ``FOLD_HORIZON`` of drawing its first event id. jobhub's
writers run one short statement per transaction (``pg_writes``, ``job_store``); a
transaction held open longer than that, with events written, would have them left out
of the folded totals. (SQLite draws ids under its write lock, so it has no such gap.)
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Engine,
    Subquery,
    Table,
    case,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from jobhub.db.engine import translated_errors
from jobhub.db.models import JobScheduleRow, WorkerRow
from jobhub.db.schedule_store import schedule_paused
from jobhub.db.stats_sql import (
    counted_events,
    db_now,
    durations,
    durations_by_type,
    events,
    finished,
    finished_by_organization,
    finished_by_width,
    folded_ends,
    jobs,
    totals,
    totals_by_type,
    unfolded_ends,
    unfolded_totals,
    watermark,
    without_jit,
)
from jobhub.db.worker_store import WorkerState
from jobhub.jobs import JobStatus
from jobhub.stats import (
    DURATION_BUCKETS,
    LIVE_STATUSES,
    WIDTHS,
    DurationHistogram,
    QueueDepth,
    ScheduleDue,
    TypeTotals,
    bucket_start,
    duration_bucket,
    width_for,
)

FOLD_HORIZON = timedelta(seconds=10)
"""How old the newest event id a fold noted must be before it is folded up to."""
FOLD_BATCH = 50_000
"""Event ids folded in one transaction, at most."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FINISHED_COLUMNS = {
    "completed": JobStatus.COMPLETED,
    "failed": JobStatus.COMPLETED_WITH_ERRORS,
    "cancelled": JobStatus.CANCELLED,
}

FinishedCounts = dict[tuple[datetime, str, JobStatus], int]
"""(bar start, job type, terminal status) -> jobs that ended so."""

schedules_table = cast(Table, JobScheduleRow.__table__)
workers_table = cast(Table, WorkerRow.__table__)


class StatsStore:
    """The statistics' tables, and the live figures, in PostgreSQL or SQLite."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name

    # -- folding -------------------------------------------------------------------------

    def fold(self, *, batch: int = FOLD_BATCH, horizon: timedelta = FOLD_HORIZON) -> int:
        """Fold the next settled events (at most ``batch`` ids) into the rollups: those up
        to the newest id noted at least ``horizon`` ago.

        Returns how many event ids it moved past: 0 when nothing is settled yet, or when
        another process is folding right now.
        """
        if not self._may_fold(horizon):
            return 0
        with translated_errors(), self.engine.begin() as connection:
            mark = connection.execute(
                select(watermark).where(watermark.c.id == 1).with_for_update(skip_locked=True)
            ).first()
            if mark is None:
                return 0
            without_jit(connection)
            now = db_now(connection)
            folded, pending = mark.folded_event_id, mark.pending_event_id
            if pending is None or pending <= folded:
                self._note_newest(connection, folded, now)
                return 0
            if now - mark.pending_since < horizon:
                return 0
            upto = min(pending, folded + batch)
            add_counts(connection, counted_events(self._dialect, folded, upto))
            connection.execute(
                update(watermark).where(watermark.c.id == 1).values(folded_event_id=upto)
            )
            if upto == pending:
                self._note_newest(connection, upto, now)
            return int(upto - folded)

    def _may_fold(self, horizon: timedelta) -> bool:
        """Whether a fold would do anything, seen without a lock or a write (most calls
        find nothing to do, and a row lock costs a commit)."""
        with translated_errors(), self.engine.connect() as connection:
            mark = connection.execute(select(watermark).where(watermark.c.id == 1)).first()
            if mark is None:
                return False
            if mark.pending_event_id is not None and mark.pending_event_id > mark.folded_event_id:
                return bool(db_now(connection) - mark.pending_since >= horizon)
            newest = connection.execute(select(func.max(events.c.id))).scalar() or 0
            return bool(newest > mark.folded_event_id)

    def _note_newest(self, connection: Connection, folded: int, now: datetime) -> None:
        newest = connection.execute(select(func.max(events.c.id))).scalar() or 0
        values: dict[str, Any] = {"pending_event_id": None, "pending_since": None}
        if newest > folded:
            values = {"pending_event_id": newest, "pending_since": now}
        connection.execute(update(watermark).where(watermark.c.id == 1).values(values))

    def prune(self, now: datetime) -> int:
        """Delete the finished-job counts older than their width is kept (``WIDTHS``)."""
        deleted = 0
        with translated_errors(), self.engine.begin() as connection:
            for table in (finished, finished_by_organization):
                for width, kept in WIDTHS.items():
                    deleted += connection.execute(
                        delete(table).where(table.c.width == width, table.c.start < now - kept)
                    ).rowcount
        return deleted

    # -- the history: folded plus the tail ---------------------------------------------

    @contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        """One consistent view of the rollups and the events (a fold cannot slip between)."""
        with translated_errors(), self.engine.connect() as connection:
            if self._dialect == "postgresql":
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                without_jit(connection)
                yield connection

    def _folded(self, connection: Connection) -> int:
        value = connection.execute(
            select(watermark.c.folded_event_id).where(watermark.c.id == 1)
        ).scalar()
        return int(value or 0)

    def totals(self) -> list[TypeTotals]:
        """Every job type's running totals, exact as of now."""
        with self._snapshot() as connection:
            after = self._folded(connection)
            folded = connection.execute(select(totals)).all()
            buckets = connection.execute(select(durations)).all()
            unfolded = connection.execute(unfolded_totals(self._dialect), {"after": after}).all()
        found: dict[str, TypeTotals] = {}

        def add(part: TypeTotals) -> None:
            seen = found.get(part.job_type)
            found[part.job_type] = part if seen is None else seen + part

        runs: dict[str, list[int]] = defaultdict(lambda: [0] * (len(DURATION_BUCKETS) + 1))
        for job_type, bucket, count in buckets:
            runs[job_type][bucket] += int(count)
        for row in folded:
            add(
                TypeTotals(
                    job_type=row.job_type,
                    created=int(row.created),
                    attempts=int(row.attempts),
                    retries=int(row.retries),
                    finished={s: int(getattr(row, n)) for n, s in _FINISHED_COLUMNS.items()},
                    durations=DurationHistogram(sum=float(row.duration_sum)),
                )
            )
        for job_type, created, started, retried, ended, seconds in unfolded:
            run = None if seconds is None else max(0.0, float(seconds))
            if run is not None:
                runs[job_type][duration_bucket(run)] += 1
            add(
                TypeTotals(
                    job_type=job_type,
                    created=int(created),
                    attempts=int(started),
                    retries=int(retried),
                    finished={JobStatus(ended): 1} if ended is not None else {},
                    durations=DurationHistogram(sum=run or 0.0),
                )
            )
        return [
            replace(part, durations=DurationHistogram(tuple(runs[name]), part.durations.sum))
            for name, part in sorted(found.items())
        ]

    def finished(
        self,
        since: datetime,
        until: datetime,
        bucket_seconds: int,
        *,
        organization: str | None = None,
        housekeeping: bool = False,
    ) -> FinishedCounts:
        """Jobs that ended in [``since``, ``until``), per bar of ``bucket_seconds``
        (epoch-aligned), type and status; ``housekeeping``: count housekeeping jobs too."""
        rolled = folded_ends(
            self._dialect, one_organization=organization is not None, housekeeping=housekeeping
        )
        period: dict[str, Any] = {"since": since, "until": until}
        values: dict[str, Any] = {"width": width_for(bucket_seconds), "bucket": bucket_seconds}
        values["organization"] = organization
        found: FinishedCounts = defaultdict(int)
        with self._snapshot() as connection:
            for epoch, job_type, status, count in connection.execute(rolled, {**period, **values}):
                start = _EPOCH + timedelta(seconds=int(epoch))
                found[start, job_type, JobStatus(status)] += int(count)
            after = {"after": self._folded(connection)}
            tail = connection.execute(unfolded_ends(self._dialect), {**period, **after})
            for at, owner, job_type, upkeep, status in tail:
                if organization is not None and owner != organization:
                    continue
                if upkeep and not housekeeping:
                    continue
                found[bucket_start(at, bucket_seconds), job_type, JobStatus(status)] += 1
        return dict(found)

    # -- now -------------------------------------------------------------------------------

    def live(
        self, *, organization: str | None = None, housekeeping: bool = True
    ) -> dict[str, dict[JobStatus, int]]:
        """Job type -> Created / Queued / Processing -> how many jobs are in it now."""
        statement = (
            select(jobs.c.job_type, jobs.c.status, func.count())
            .where(jobs.c.status < int(JobStatus.COMPLETED))
            .group_by(jobs.c.job_type, jobs.c.status)
        )
        if organization is not None:
            statement = statement.where(jobs.c.organization == organization)
        if not housekeeping:
            statement = statement.where(jobs.c.housekeeping.is_(False))
        found: dict[str, dict[JobStatus, int]] = {}
        with translated_errors(), self.engine.connect() as connection:
            for job_type, status, count in connection.execute(statement):
                by_status = found.setdefault(job_type, dict.fromkeys(LIVE_STATUSES, 0))
                by_status[JobStatus(status)] = int(count)
        return found

    def queue_depths(self, now: datetime, *, organization: str | None = None) -> list[QueueDepth]:
        """The queues that have waiting jobs: how many, and how long the oldest has waited.

        Waiting: Queued, or Created and free to go (no due time in the future, not held).
        Jobs that run elsewhere wait for their runner, not for a queue, and are left out.
        """
        queued = jobs.c.status == int(JobStatus.QUEUED)
        since = func.min(
            case(
                (queued, func.coalesce(jobs.c.queued_at, jobs.c.updated_at)),
                else_=func.coalesce(jobs.c.due_at, jobs.c.updated_at),
            )
        )
        statement = (
            select(jobs.c.queue, func.count(), since)
            .where(
                jobs.c.status.in_([int(JobStatus.CREATED), int(JobStatus.QUEUED)]),
                jobs.c.held.is_(False),
                jobs.c.runs_elsewhere.is_(False),
                queued | jobs.c.due_at.is_(None) | (jobs.c.due_at <= now),
            )
            .group_by(jobs.c.queue)
        )
        if organization is not None:
            statement = statement.where(jobs.c.organization == organization)
        with translated_errors(), self.engine.connect() as connection:
            rows = connection.execute(statement).all()
        return [
            QueueDepth(
                queue=queue,
                waiting=int(count),
                oldest_waiting_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
            )
            for queue, count, oldest in sorted(rows, key=lambda row: str(row[0]))
        ]

    def alive_workers(self, timeout: float) -> list[WorkerState]:
        """Workers not stopped that beat within ``timeout`` seconds (the database's clock)."""
        with translated_errors(), self.engine.connect() as connection:
            cutoff = db_now(connection) - timedelta(seconds=timeout)
            rows = connection.execute(
                select(workers_table).where(
                    workers_table.c.stopped_at.is_(None), workers_table.c.last_seen_at >= cutoff
                )
            )
            return [WorkerState(**row._mapping) for row in rows]

    def schedules(self) -> list[ScheduleDue]:
        """Every schedule, soonest next fire first (those that never fire again last)."""
        statement = select(
            schedules_table.c.name,
            schedules_table.c.job_type,
            schedules_table.c.next_fire_at,
            schedule_paused().label("paused"),
        )
        with translated_errors(), self.engine.connect() as connection:
            rows = connection.execute(statement).all()
        found = [
            ScheduleDue(
                name=row.name,
                job_type=row.job_type,
                next_fire_at=row.next_fire_at,
                paused=bool(row.paused),
            )
            for row in rows
        ]
        return sorted(found, key=_soonest)


def _soonest(schedule: ScheduleDue) -> tuple[bool, datetime, str]:
    at = schedule.next_fire_at
    return (at is None, at or _EPOCH, schedule.name)


def add_counts(connection: Connection, counted: Subquery) -> None:
    """Add what the ``counted`` events count for to the rollup tables (upserts)."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    for table, keys, query in (
        (totals, ["job_type"], totals_by_type(counted)),
        (durations, ["job_type", "bucket"], durations_by_type(counted)),
        (
            finished,
            ["width", "start", "job_type", "housekeeping", "status"],
            finished_by_width(counted, connection.dialect.name, by_organization=False),
        ),
        (
            finished_by_organization,
            ["organization", "width", "start", "job_type", "housekeeping", "status"],
            finished_by_width(counted, connection.dialect.name, by_organization=True),
        ),
    ):
        names = [column.name for column in query.selected_columns]
        statement = insert(table).from_select(names, query)
        added = {
            name: table.c[name] + statement.excluded[name] for name in names if name not in keys
        }
        connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=added))


def count_before_delete(connection: Connection, job_ids: Sequence[uuid.UUID]) -> None:
    """Count the not yet folded transitions of jobs about to be deleted, in the deleting
    transaction: once deleted, no fold sees them, and the counters must not go down.

    Holds the watermark's row until that transaction ends, so a fold cannot count the
    same events meanwhile.
    """
    mark = connection.execute(
        select(watermark.c.folded_event_id).where(watermark.c.id == 1).with_for_update()
    ).first()
    if mark is None or not job_ids:
        return
    without_jit(connection)
    counted = counted_events(connection.dialect.name, mark.folded_event_id, job_ids=job_ids)
    add_counts(connection, counted)
