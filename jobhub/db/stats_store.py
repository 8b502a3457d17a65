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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Subquery,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from jobhub.db.engine import translated_errors
from jobhub.db.stats_reads import Figures, FinishedCounts, StatsReader
from jobhub.db.stats_sql import (
    counted_events,
    db_now,
    durations,
    durations_by_type,
    events,
    finished,
    finished_by_organization,
    finished_by_width,
    plan_for_few_events,
    totals,
    totals_by_type,
    watermark,
)
from jobhub.db.worker_store import WorkerState
from jobhub.jobs import JobStatus
from jobhub.stats import (
    WIDTHS,
    QueueDepth,
    ScheduleDue,
    TypeTotals,
)

FOLD_HORIZON = timedelta(seconds=10)
"""How old the newest event id a fold noted must be before it is folded up to."""
FOLD_BATCH = 50_000
"""Event ids folded in one transaction, at most."""


class StatsStore:
    """The statistics' tables, and the live figures, in PostgreSQL or SQLite (reads:
    ``jobhub.db.stats_reads``)."""

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
            plan_for_few_events(connection)
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
                plan_for_few_events(connection)
                yield connection

    @contextmanager
    def reading(self) -> Iterator[Figures]:
        """The figures, all read in one snapshot on one connection."""
        with self._snapshot() as connection:
            yield StatsReader(connection)

    def totals(self) -> list[TypeTotals]:
        """Every job type's running totals, exact as of now."""
        with self.reading() as read:
            return read.totals()

    def finished(
        self,
        since: datetime,
        until: datetime,
        bucket_seconds: int,
        *,
        organization: str | None = None,
        housekeeping: bool = False,
    ) -> FinishedCounts:
        """``StatsReader.finished``, in a snapshot of its own."""
        with self.reading() as read:
            return read.finished(
                since, until, bucket_seconds, organization=organization, housekeeping=housekeeping
            )

    def live(
        self, *, organization: str | None = None, housekeeping: bool = True
    ) -> dict[str, dict[JobStatus, int]]:
        with self.reading() as read:
            return read.live(organization=organization, housekeeping=housekeeping)

    def queue_depths(self, now: datetime, *, organization: str | None = None) -> list[QueueDepth]:
        with self.reading() as read:
            return read.queue_depths(now, organization=organization)

    def alive_workers(self, timeout: float) -> list[WorkerState]:
        with self.reading() as read:
            return read.alive_workers(timeout)

    def schedules(self) -> list[ScheduleDue]:
        with self.reading() as read:
            return read.schedules()


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
    plan_for_few_events(connection)
    counted = counted_events(connection.dialect.name, mark.folded_event_id, job_ids=job_ids)
    add_counts(connection, counted)
