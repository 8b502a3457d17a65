"""``MemoryStatsStore``: the statistics of a ``MemoryStore``, counted from its jobs and
its whole history at every read (nothing to fold: memory keeps every event)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from jobhub.db.memory import MemoryStore
from jobhub.db.stats_reads import Figures, FinishedCounts
from jobhub.db.stats_store import StatsStore
from jobhub.db.worker_store import WorkerState
from jobhub.jobs import JobEvent, JobStatus
from jobhub.stats import (
    DURATION_BUCKETS,
    LIVE_STATUSES,
    DurationHistogram,
    EventFigures,
    QueueDepth,
    ScheduleDue,
    TypeTotals,
    bucket_start,
    duration_bucket,
    event_figures,
)


class MemoryStatsStore(StatsStore):
    """``StatsStore`` over a ``MemoryStore``, by the rules of ``stats.event_figures``."""

    def __init__(self, store: MemoryStore) -> None:  # no engine: nothing of the base is used
        self._memory = store

    @contextmanager
    def reading(self) -> Iterator[Figures]:
        yield self

    def fold(self, *, batch: int = 0, horizon: timedelta = timedelta(0)) -> int:
        return 0

    def prune(self, now: datetime) -> int:
        return 0

    def _counted(self) -> list[tuple[JobEvent, EventFigures]]:
        by_job: dict[uuid.UUID, list[JobEvent]] = defaultdict(list)
        for event in self._memory.history():
            by_job[event.job_id].append(event)
        counted = []
        for history in by_job.values():
            counted += list(zip(history, event_figures(history), strict=True))
        return counted

    def totals(self) -> list[TypeTotals]:
        found: dict[str, TypeTotals] = {}
        for event, figures in self._counted():
            job_type = self._memory.get(event.job_id).job_type
            counts = [0] * (len(DURATION_BUCKETS) + 1)
            if figures.duration is not None:
                counts[duration_bucket(figures.duration)] = 1
            part = TypeTotals(
                job_type=job_type,
                created=int(figures.created),
                attempts=int(figures.started),
                retries=int(figures.retried),
                finished={figures.finished: 1} if figures.finished else {},
                durations=DurationHistogram(tuple(counts), figures.duration or 0.0),
            )
            seen = found.get(job_type)
            found[job_type] = part if seen is None else seen + part
        return [found[name] for name in sorted(found)]

    def finished(
        self,
        since: datetime,
        until: datetime,
        bucket_seconds: int,
        *,
        organization: str | None = None,
        housekeeping: bool = False,
    ) -> FinishedCounts:
        found: FinishedCounts = defaultdict(int)
        for event, figures in self._counted():
            job = self._memory.get(event.job_id)
            if (
                figures.finished is None
                or not since <= event.at < until
                or (organization is not None and job.organization != organization)
                or (job.housekeeping and not housekeeping)
            ):
                continue
            found[bucket_start(event.at, bucket_seconds), job.job_type, figures.finished] += 1
        return dict(found)

    def live(
        self, *, organization: str | None = None, housekeeping: bool = True
    ) -> dict[str, dict[JobStatus, int]]:
        found: dict[str, dict[JobStatus, int]] = {}
        for job in self._memory.jobs():
            if job.status not in LIVE_STATUSES:
                continue
            if organization is not None and job.organization != organization:
                continue
            if job.housekeeping and not housekeeping:
                continue
            by_status = found.setdefault(job.job_type, dict.fromkeys(LIVE_STATUSES, 0))
            by_status[job.status] += 1
        return found

    def queue_depths(self, now: datetime, *, organization: str | None = None) -> list[QueueDepth]:
        waiting: dict[str, list[datetime]] = defaultdict(list)
        for job in self._memory.jobs():
            if organization is not None and job.organization != organization:
                continue
            if job.held or job.runs_elsewhere:
                continue
            if job.status is JobStatus.QUEUED:
                waiting[job.queue].append(job.queued_at or job.updated_at)
            elif job.status is JobStatus.CREATED and (job.due_at is None or job.due_at <= now):
                waiting[job.queue].append(job.due_at or job.updated_at)
        return [
            QueueDepth(
                queue=queue,
                waiting=len(since),
                oldest_waiting_seconds=max(0.0, (now - min(since)).total_seconds()),
            )
            for queue, since in sorted(waiting.items())
        ]

    def alive_workers(self, timeout: float) -> list[WorkerState]:
        cutoff = self._memory.now() - timedelta(seconds=timeout)
        return [state for state in self._memory.all_workers() if not state.silent_since(cutoff)]

    def schedules(self) -> list[ScheduleDue]:
        """The twin keeps no schedules (they live in the database's tables)."""
        return []
