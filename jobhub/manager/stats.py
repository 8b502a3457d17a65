"""The figures ops watch: the dashboard's overview and what ``GET /metrics`` reports
(``jobhub.stats`` says what each figure means; ``jobhub.db.stats_store`` reads them).

Each read first folds the settled part of the transition history (one short
transaction, skipped when another process is folding), so the part read live stays
small however rarely anyone looks.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from jobhub.audit import check_filter
from jobhub.db.stats_reads import Figures
from jobhub.db.stats_store import StatsStore
from jobhub.db.worker_store import WorkerState
from jobhub.errors import InvalidInput
from jobhub.jobs import JobStatus
from jobhub.manager.base import ManagerBase
from jobhub.queries import JobQuery
from jobhub.stats import (
    FINISHED_STATUSES,
    LIVE_STATUSES,
    MAX_PERIOD,
    FinishedBucket,
    MetricsSnapshot,
    Overview,
    QueueDepth,
    ScheduleDue,
    bucket_seconds_for,
    bucket_start,
)

NEXT_SCHEDULES = 10
"""Schedules an overview lists, soonest first."""
READ_FOLD_BATCH = 2_000
"""Event ids a read folds first, at most: the workers' background folds do the bulk
(``jobhub.housekeeping.folding``); a read only keeps the tail short when none runs."""


class JobStatistics(ManagerBase):
    """The job manager's figures."""

    @property
    def _stats(self) -> StatsStore:
        """The statistics, after this process's deferred writes and a fold."""
        self._runtime.settle()
        stats = self._runtime.stats
        stats.fold(batch=READ_FOLD_BATCH)
        return stats

    def overview(
        self,
        *,
        period: timedelta = timedelta(hours=24),
        organization: str | None = None,
        now: datetime | None = None,
        housekeeping: bool = False,
        failures: int = 10,
    ) -> Overview:
        """Jobs by status and by type, finished jobs over time in 30 to 60 bars, queue
        depths, workers alive, the schedules due next and the newest failures.

        ``period``: how far back (up to 366 days), widened to whole bars;
        ``organization``: one organization's jobs, or None for all (queues count only its
        jobs; workers and schedules are everyone's); ``housekeeping``: count jobhub's own
        upkeep too; ``failures``: how many recent failures (0 to 100). Bad input raises
        InvalidInput.
        """
        if not timedelta(0) < period <= MAX_PERIOD:
            raise InvalidInput(f"period must be more than 0 and at most {MAX_PERIOD.days} days")
        if not 0 <= failures <= 100:
            raise InvalidInput("failures must be between 0 and 100")
        check_filter("organization", organization)
        now = self._now(now)
        bucket = bucket_seconds_for(period)
        since = bucket_start(now - period, bucket)
        with self._stats.reading() as read:
            ended = read.finished(
                since, now, bucket, organization=organization, housekeeping=housekeeping
            )
            live = read.live(organization=organization, housekeeping=housekeeping)
            alive = read.alive_workers(self.settings.worker_timeout)
            queues = self._queues(read, now, alive, organization)
            schedules = read.schedules()
        by_type = {
            job_type: {**dict.fromkeys(FINISHED_STATUSES, 0), **counts}
            for job_type, counts in live.items()
        }
        bars = {
            since + timedelta(seconds=n * bucket): dict.fromkeys(FINISHED_STATUSES, 0)
            for n in range(max(1, math.ceil((now - since).total_seconds() / bucket)))
        }
        for (start, job_type, status), count in ended.items():
            counts = by_type.setdefault(
                job_type, dict.fromkeys((*LIVE_STATUSES, *FINISHED_STATUSES), 0)
            )
            counts[status] += count
            bars[start][status] += count
        by_status = {
            status: sum(counts[status] for counts in by_type.values())
            for status in (*LIVE_STATUSES, *FINISHED_STATUSES)
        }
        recent = JobQuery(
            statuses=frozenset({JobStatus.COMPLETED_WITH_ERRORS}),
            organization=organization,
            housekeeping=housekeeping,
            limit=max(failures, 1),
        )
        return Overview(
            since=since,
            until=now,
            bucket_seconds=bucket,
            organization=organization,
            by_status=by_status,
            by_type=dict(sorted(by_type.items())),
            series=[FinishedBucket(start=start, counts=counts) for start, counts in bars.items()],
            queues=queues,
            workers_alive=len(alive),
            next_schedules=_due_next(schedules),
            recent_failures=self._runtime.jobs.find(recent)[:failures],
        )

    def metrics(self, *, now: datetime | None = None) -> MetricsSnapshot:
        """What ``GET /metrics`` reports from the database, for every organization."""
        now = self._now(now)
        with self._stats.reading() as read:
            alive = read.alive_workers(self.settings.worker_timeout)
            return MetricsSnapshot(
                at=now,
                live=read.live(),
                totals=read.totals(),
                queues=self._queues(read, now, alive, None),
                workers_alive=len(alive),
                schedules=read.schedules(),
            )

    def _now(self, now: datetime | None) -> datetime:
        if now is None:
            return self._runtime.clock()
        if now.tzinfo is None:
            raise InvalidInput("now: give the time's zone (a timezone-aware datetime)")
        return now

    def _queues(
        self,
        read: Figures,
        now: datetime,
        alive: list[WorkerState],
        organization: str | None,
    ) -> list[QueueDepth]:
        """The queues with waiting jobs, and, with none waiting, the configured queue and
        those live workers consume (a gauge that vanishes at zero would break alerts)."""
        found = {depth.queue: depth for depth in read.queue_depths(now, organization=organization)}
        known = {self.settings.queue, *(q for worker in alive for q in worker.queue_names)}
        for queue in known - set(found):
            found[queue] = QueueDepth(queue=queue, waiting=0, oldest_waiting_seconds=0.0)
        return [found[queue] for queue in sorted(found)]


def _due_next(schedules: list[ScheduleDue]) -> list[ScheduleDue]:
    return [s for s in schedules if s.next_fire_at is not None and not s.paused][:NEXT_SCHEDULES]
