"""Reading the figures (``jobhub.stats``) on one connection, in one snapshot.

``StatsReader`` is what ``StatsStore.reading()`` yields: the history's figures (the
folded rollups plus the unfolded tail, counted live by ``stats_sql.counted_events``) and
the figures of now (jobs Created, Queued or Processing; queues; workers; schedules).
Read together, a scrape or an overview takes one pooled connection and sees one moment.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Connection, Table, case, func, select

from jobhub.db.models import JobScheduleRow, WorkerRow
from jobhub.db.schedule_store import schedule_paused
from jobhub.db.stats_sql import (
    db_now,
    durations,
    folded_ends,
    jobs,
    totals,
    unfolded_ends,
    unfolded_totals,
    watermark,
)
from jobhub.db.status_sql import is_active, status_in
from jobhub.db.worker_store import WorkerState
from jobhub.jobs import JobStatus
from jobhub.stats import (
    DURATION_BUCKETS,
    LIVE_STATUSES,
    DurationHistogram,
    QueueDepth,
    ScheduleDue,
    TypeTotals,
    bucket_start,
    duration_bucket,
    width_for,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COUNT_COLUMNS = ("created", "attempts", "retries", "completed", "failed", "cancelled")
_FINISHED = (JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.CANCELLED)
_ENDED_INDEX = {int(status): 3 + index for index, status in enumerate(_FINISHED)}

FinishedCounts = dict[tuple[datetime, str, JobStatus], int]
"""(bar start, job type, terminal status) -> jobs that ended so."""

schedules_table = cast(Table, JobScheduleRow.__table__)
workers_table = cast(Table, WorkerRow.__table__)


class Figures(Protocol):
    """The reads of ``StatsReader`` (the in-memory twin has them too)."""

    def totals(self) -> list[TypeTotals]: ...

    def finished(
        self,
        since: datetime,
        until: datetime,
        bucket_seconds: int,
        *,
        organization: str | None = None,
        housekeeping: bool = False,
    ) -> FinishedCounts: ...

    def live(
        self, *, organization: str | None = None, housekeeping: bool = True
    ) -> dict[str, dict[JobStatus, int]]: ...

    def queue_depths(
        self, now: datetime, *, organization: str | None = None
    ) -> list[QueueDepth]: ...

    def alive_workers(self, timeout: float) -> list[WorkerState]: ...

    def schedules(self) -> list[ScheduleDue]: ...


class StatsReader:
    """The figures, read on ``connection`` (a snapshot: ``StatsStore.reading``)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._dialect = connection.dialect.name

    def _folded(self) -> int:
        value = self._connection.execute(
            select(watermark.c.folded_event_id).where(watermark.c.id == 1)
        ).scalar()
        return int(value or 0)

    def totals(self) -> list[TypeTotals]:
        """Every job type's running totals, exact as of now."""
        connection = self._connection
        after = self._folded()
        folded = connection.execute(select(totals)).all()
        buckets = connection.execute(select(durations)).all()
        unfolded = connection.execute(unfolded_totals(self._dialect), {"after": after}).all()
        # plain counters per type (a few thousand tail rows: no values built per row)
        counts: dict[str, list[int]] = defaultdict(lambda: [0] * 6)
        seconds: dict[str, float] = defaultdict(float)
        runs: dict[str, list[int]] = defaultdict(lambda: [0] * (len(DURATION_BUCKETS) + 1))
        for job_type, bucket, count in buckets:
            runs[job_type][bucket] += int(count)
        for row in folded:
            mine = counts[row.job_type]
            for index, name in enumerate(_COUNT_COLUMNS):
                mine[index] += int(getattr(row, name))
            seconds[row.job_type] += float(row.duration_sum)
        for job_type, created, started, retried, ended, run in unfolded:
            mine = counts[job_type]
            mine[0] += created
            mine[1] += started
            mine[2] += retried
            if ended is not None:
                mine[_ENDED_INDEX[ended]] += 1
            if run is not None:
                run = max(0.0, float(run))
                runs[job_type][duration_bucket(run)] += 1
                seconds[job_type] += run
        return [
            TypeTotals(
                job_type=job_type,
                created=mine[0],
                attempts=mine[1],
                retries=mine[2],
                finished=dict(zip(_FINISHED, mine[3:], strict=True)),
                durations=DurationHistogram(tuple(runs[job_type]), seconds[job_type]),
            )
            for job_type, mine in sorted(counts.items())
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
        connection = self._connection
        for epoch, job_type, status, count in connection.execute(rolled, {**period, **values}):
            start = _EPOCH + timedelta(seconds=int(epoch))
            found[start, job_type, JobStatus(status)] += int(count)
        after = {"after": self._folded()}
        tail = connection.execute(unfolded_ends(self._dialect), {**period, **after})
        for at, owner, job_type, upkeep, status in tail:
            if organization is not None and owner != organization:
                continue
            if upkeep and not housekeeping:
                continue
            found[bucket_start(at, bucket_seconds), job_type, JobStatus(status)] += 1
        return dict(found)

    # -- now: read from the tables as they are ------------------------------------------

    def live(
        self, *, organization: str | None = None, housekeeping: bool = True
    ) -> dict[str, dict[JobStatus, int]]:
        """Job type -> Created / Queued / Processing -> how many jobs are in it now."""
        statement = (
            select(jobs.c.job_type, jobs.c.status, func.count())
            .where(is_active(jobs))
            .group_by(jobs.c.job_type, jobs.c.status)
        )
        if organization is not None:
            statement = statement.where(jobs.c.organization == organization)
        if not housekeeping:
            statement = statement.where(jobs.c.housekeeping.is_(False))
        found: dict[str, dict[JobStatus, int]] = {}
        for job_type, status, count in self._connection.execute(statement):
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
                status_in(jobs, (JobStatus.CREATED, JobStatus.QUEUED)),
                jobs.c.held.is_(False),
                jobs.c.runs_elsewhere.is_(False),
                queued | jobs.c.due_at.is_(None) | (jobs.c.due_at <= now),
            )
            .group_by(jobs.c.queue)
        )
        if organization is not None:
            statement = statement.where(jobs.c.organization == organization)
        rows = self._connection.execute(statement).all()
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
        cutoff = db_now(self._connection) - timedelta(seconds=timeout)
        rows = self._connection.execute(
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
        rows = self._connection.execute(statement).all()
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
