"""The figures ops watch: what the overview and ``GET /metrics`` show (pure values, no I/O).

Two kinds of figure, kept apart on purpose:

* **now**: jobs Created, Queued or Processing, queue depth and the oldest waiting job's
  age, workers alive, schedules' next fire. Read from the tables as they are.
* **over time**: jobs created, attempts started, retries, jobs finished and how long they
  ran. Read from the history of transitions (``job_events``), folded into small rollup
  tables (``jobhub.db.stats_store``) so a scrape never counts a million rows, and so
  purging old jobs never makes a counter go down.

``event_figures`` says what each transition counts for; the SQL that folds the history
implements the same rules, and a test runs both on the same histories.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from jobhub.jobs import Job, JobEvent, JobStatus

LIVE_STATUSES = (JobStatus.CREATED, JobStatus.QUEUED, JobStatus.PROCESSING)
"""Counted as the jobs in that status now."""
FINISHED_STATUSES = (JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.CANCELLED)
"""Counted as the jobs that ended so over a period (a retried attempt's failure does not)."""

DURATION_BUCKETS: tuple[float, ...] = (
    0.1,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
    7200.0,
)
"""Upper bounds (seconds) of the run-time histogram; a last bucket takes the rest (+Inf).
Fixed: the folded counts are stored per bucket, so changing them needs a migration."""

WIDTHS: Mapping[int, timedelta] = {
    60: timedelta(days=2),
    1800: timedelta(days=3),
    3600: timedelta(days=35),
    86400: timedelta(days=400),
}
"""The widths (seconds) finished jobs are counted in, and how long each is kept: minutes
for an hour's chart, half hours for a day's, hours for a week's, days for a month's and
beyond. Each chart reads about as many rows per type as it has bars."""

MAX_PERIOD = timedelta(days=366)
"""The longest period an overview covers (the daily counts are kept 400 days)."""

_BUCKET_LADDER = (
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    86400,
    2 * 86400,
    7 * 86400,
)
_MAX_BARS = 60

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bucket_seconds_for(period: timedelta) -> int:
    """The bar width of a chart over ``period``: the smallest round width that needs at
    most 60 bars (1 hour: minutes; 24 hours: half hours; 7 days: 3 hours; 30 days: days)."""
    seconds = period.total_seconds()
    for width in _BUCKET_LADDER:
        if seconds / width <= _MAX_BARS:
            return width
    return _BUCKET_LADDER[-1]


def width_for(bucket_seconds: int) -> int:
    """The widest stored width that divides ``bucket_seconds``: what a chart reads from."""
    return max(width for width in WIDTHS if bucket_seconds % width == 0)


def bucket_start(at: datetime, bucket_seconds: int) -> datetime:
    """The start of the bar ``at`` falls in; bars are aligned on the Unix epoch (UTC)."""
    offset = int((at - _EPOCH).total_seconds()) // bucket_seconds * bucket_seconds
    return _EPOCH + timedelta(seconds=offset)


def duration_bucket(seconds: float) -> int:
    """Which bucket of ``DURATION_BUCKETS`` a run time falls in (the last: beyond them)."""
    for index, bound in enumerate(DURATION_BUCKETS):
        if seconds <= bound:
            return index
    return len(DURATION_BUCKETS)


# -- what one transition counts for ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventFigures:
    """What one event of a job's history adds to the running totals."""

    created: bool = False
    """The job was recorded (its first event)."""
    started: bool = False
    """An attempt began to run (its first Processing event)."""
    retried: bool = False
    """An attempt failed and the next one was queued in the same step (a retry, or a
    lost worker's job queued again); the job did not end."""
    finished: JobStatus | None = None
    """The job ended so."""
    duration: float | None = None
    """Seconds from the start of the attempt that ended to its end (it had started)."""


def event_figures(history: Sequence[JobEvent]) -> list[EventFigures]:
    """What each event of one job's history counts for, in the order written.

    * the first event (Created) records the job; later Created events are a hold, a
      retry's or rerun's next attempt, or a start brought forward;
    * an attempt's first Processing event starts it (a later one says a cancel was
      requested while it ran);
    * a CompletedWithErrors event written together with the next attempt's Created (after
      it, at the same time, for the next attempt) is a retry; any other terminal event
      ends the job.
    """
    figures: list[EventFigures] = []
    started_at: dict[int, datetime] = {}
    for index, event in enumerate(history):
        if event.status is JobStatus.CREATED:
            figures.append(EventFigures(created=index == 0))
        elif event.status is JobStatus.PROCESSING:
            first = event.attempt not in started_at
            started_at.setdefault(event.attempt, event.at)
            figures.append(EventFigures(started=first))
        elif event.status.is_terminal:
            if event.status is JobStatus.COMPLETED_WITH_ERRORS and _is_retry(
                event, history[index + 1 :]
            ):
                figures.append(EventFigures(retried=True))
                continue
            start = started_at.get(event.attempt)
            duration = None if start is None else max(0.0, (event.at - start).total_seconds())
            figures.append(EventFigures(finished=event.status, duration=duration))
        else:
            figures.append(EventFigures())
    return figures


def _is_retry(event: JobEvent, later: Sequence[JobEvent]) -> bool:
    return any(
        other.status is JobStatus.CREATED
        and other.attempt == event.attempt + 1
        and other.at == event.at
        for other in later
    )


# -- figures -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DurationHistogram:
    """Run times of finished jobs: a count per bucket of ``DURATION_BUCKETS`` (+Inf last)."""

    counts: tuple[int, ...] = (0,) * (len(DURATION_BUCKETS) + 1)
    sum: float = 0.0

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, runs at most that long) per bucket, ending with (+Inf, all)."""
        bounds = [*DURATION_BUCKETS, float("inf")]
        running = 0
        found = []
        for bound, count in zip(bounds, self.counts, strict=True):
            running += count
            found.append((bound, running))
        return found

    def __add__(self, other: DurationHistogram) -> DurationHistogram:
        counts = tuple(a + b for a, b in zip(self.counts, other.counts, strict=True))
        return DurationHistogram(counts, self.sum + other.sum)


@dataclass(frozen=True, slots=True, kw_only=True)
class TypeTotals:
    """Running totals of one job type since its first job (purges take nothing away)."""

    job_type: str
    created: int = 0
    attempts: int = 0
    """Attempts that began to run (reruns and retries included)."""
    retries: int = 0
    """Attempts that failed and were retried automatically."""
    finished: Mapping[JobStatus, int] = field(default_factory=dict)
    durations: DurationHistogram = field(default_factory=DurationHistogram)

    def __add__(self, other: TypeTotals) -> TypeTotals:
        finished = {
            status: self.finished.get(status, 0) + other.finished.get(status, 0)
            for status in FINISHED_STATUSES
        }
        return TypeTotals(
            job_type=self.job_type,
            created=self.created + other.created,
            attempts=self.attempts + other.attempts,
            retries=self.retries + other.retries,
            finished=finished,
            durations=self.durations + other.durations,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueDepth:
    """Jobs waiting on one queue: Queued, or Created and free to go (not delayed into the
    future, not held by a pause or a limit)."""

    queue: str
    waiting: int
    oldest_waiting_seconds: float
    """How long the longest-waiting of them has waited; 0.0 when none waits."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleDue:
    """A schedule and when it fires next."""

    name: str
    job_type: str
    next_fire_at: datetime | None
    """None: it never fires again."""
    paused: bool

    def lag_seconds(self, now: datetime) -> float | None:
        """How late its next fire is (0.0 when not due yet); None when it cannot fire
        (paused, or no next fire)."""
        if self.paused or self.next_fire_at is None:
            return None
        return max(0.0, (now - self.next_fire_at).total_seconds())


@dataclass(frozen=True, slots=True, kw_only=True)
class FinishedBucket:
    """Jobs that ended in one bar of a chart, by terminal status."""

    start: datetime
    counts: Mapping[JobStatus, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class Overview:
    """The dashboard's overview over [``since``, ``until``).

    In ``by_status`` and ``by_type``, Created, Queued and Processing count the jobs in
    that status now; Completed, CompletedWithErrors and Cancelled count the jobs that
    ended in the period. ``since`` is the start of the first bar (the period widened to
    whole bars).
    """

    since: datetime
    until: datetime
    bucket_seconds: int
    organization: str | None
    by_status: Mapping[JobStatus, int]
    by_type: Mapping[str, Mapping[JobStatus, int]]
    series: list[FinishedBucket]
    queues: list[QueueDepth]
    workers_alive: int
    next_schedules: list[ScheduleDue]
    recent_failures: list[Job]


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsSnapshot:
    """Everything ``GET /metrics`` reports from the database, read at one scrape."""

    at: datetime
    live: Mapping[str, Mapping[JobStatus, int]]
    """Job type -> Created / Queued / Processing -> jobs in it now."""
    totals: list[TypeTotals]
    queues: list[QueueDepth]
    workers_alive: int
    schedules: list[ScheduleDue]
