"""How soon a Completed row is visible after its task returned, at half of peak rate (J).

A paced producer thread starts jobs at a steady rate (half of J's mean end-to-end rate)
while the main thread polls the jobs table every ~2 ms for rows newly Completed. The poll
is one index range scan: ``status = 3`` and ``created_at`` from the oldest job not yet
seen (``ix_jobs_status_created``), narrowed to ``completed_at`` after the last one seen
(less a margin, as commits may land out of order). A row counts as visible at the start
of the first poll that returned it, an upper bound off by at most one poll. The lag is
that moment minus the time the task body recorded as it returned (from Redis).
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

from tests.bench.configs import Jobhub
from tests.bench.harness import Progress, check_exactly_once, start_worker
from tests.bench.services import Services, Space
from tests.bench.stats import distribution_ms

POLL_INTERVAL = 0.002
REORDER_MARGIN = timedelta(seconds=2)
QUERY = (
    "SELECT id, completed_at FROM jobs WHERE status = 3 AND created_at >= %s AND completed_at > %s"
)


@dataclass
class LagResult:
    jobs: int
    target_rate: float
    achieved_rate: float = 0.0
    lag: dict[str, float] = field(default_factory=dict)
    polls: int = 0
    mean_poll_interval_ms: float = 0.0
    violations: list[str] = field(default_factory=list)
    violation_count: int = 0

    @property
    def exactly_once(self) -> bool:
        return self.violation_count == 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["exactly_once"] = self.exactly_once
        return data


class _Producer(threading.Thread):
    """Starts ``jobs`` jobs at ``rate`` per second, noting each id and created_at."""

    def __init__(self, config: Jobhub, kwargs: dict[str, str], jobs: int, rate: float) -> None:
        super().__init__(name="bench-lag-producer", daemon=True)
        self.config = config
        self.kwargs = kwargs
        self.jobs = jobs
        self.rate = rate
        self.lock = threading.Lock()
        self.started: list[tuple[str, datetime]] = []
        self.duration = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        begin = time.monotonic()
        try:
            for i in range(self.jobs):
                pause = begin + i / self.rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                job_id, created_at = self.config.start(self.kwargs)
                with self.lock:
                    self.started.append((job_id, created_at))
        except BaseException as exc:  # reported by the poller
            self.error = exc
        finally:
            self.duration = time.monotonic() - begin

    def taken(self, start: int) -> list[tuple[str, datetime]]:
        """The jobs started so far, from position ``start`` on, in the order started."""
        with self.lock:
            return self.started[start:]


def run_lag(
    services: Services, jobs: int, rate: float, *, progress: Progress, timeout: float = 120.0
) -> LagResult:
    """Measure the Completed lag over ``jobs`` jobs started at ``rate`` per second."""
    result = LagResult(jobs=jobs, target_rate=rate)
    space = Space.create(services, "lag")
    config = Jobhub(space)
    proc = None
    try:
        config.prepare()
        proc = start_worker(config, services)
        progress(f"lag phase: {jobs} jobs at {rate:.0f}/s")
        producer = _Producer(config, space.task_kwargs(), jobs, rate)
        visible: dict[str, float] = {}
        poll_times: list[float] = []
        with psycopg.connect(space.database_url, autocommit=True) as connection:
            producer.start()
            deadline = time.monotonic() + jobs / rate + timeout
            last_completed: datetime | None = None
            order: list[tuple[str, datetime]] = []
            oldest = 0  # position in ``order`` of the oldest job not yet seen Completed
            while len(visible) < jobs and time.monotonic() < deadline:
                if producer.error is not None:
                    raise producer.error
                proc.check_alive()
                order.extend(producer.taken(len(order)))
                while oldest < len(order) and order[oldest][0] in visible:
                    oldest += 1
                if oldest < len(order):
                    since = order[oldest][1]
                    after = (last_completed or since) - REORDER_MARGIN
                    at = time.time()
                    rows = connection.execute(QUERY, (since, after)).fetchall()
                    poll_times.append(at)
                    for job_id, completed_at in rows:
                        key = str(job_id)
                        if key not in visible:
                            visible[key] = at
                            if last_completed is None or completed_at > last_completed:
                                last_completed = completed_at
                time.sleep(POLL_INTERVAL)
            producer.join(timeout=30)
        result.polls = len(poll_times)
        if len(poll_times) > 1:
            span = poll_times[-1] - poll_times[0]
            result.mean_poll_interval_ms = span / (len(poll_times) - 1) * 1000
        if producer.duration > 0:
            result.achieved_rate = jobs / producer.duration
        proc.stop()
        config.close()
        returned = space.returned()
        result.lag = distribution_ms([visible[i] - returned[i] for i in visible if i in returned])
        with psycopg.connect(space.database_url, autocommit=True) as connection:
            started = [job_id for job_id, _ in producer.taken(0)]
            problems = check_exactly_once(config, connection, space, started)
        if len(visible) < jobs:
            problems.insert(0, f"lag: only {len(visible)} of {jobs} Completed rows seen")
        result.violation_count = len(problems)
        result.violations = problems[:20]
        return result
    finally:
        if proc is not None:
            proc.stop()
        config.close()
        space.remove()
