"""Worker memory over a long run (J only): does the resident set keep growing?

Jobs are started in chunks so that at most ``OUTSTANDING`` are waiting at any time, and
the worker's total resident memory (``VmRSS`` of the main process and its children) is
sampled every few seconds. The figure is the growth from the sample after the warm-up
(the first ``WARMUP`` jobs Completed) to the sample once every job Completed.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg

from tests.bench import rss
from tests.bench.configs import Jobhub
from tests.bench.harness import Progress, check_exactly_once, start_worker
from tests.bench.services import Services, Space

OUTSTANDING = 10_000
CHUNK = 500
WARMUP = 10_000
SAMPLE_EVERY = 3.0
POLL_EVERY = 0.5


@dataclass
class LongResult:
    jobs: int
    warmup_jobs: int
    seconds: float = 0.0
    jobs_per_second: float = 0.0
    rss_after_warmup_kb: int = 0
    rss_end_kb: int = 0
    growth_percent: float = 0.0
    peak: dict[str, Any] = field(default_factory=dict)
    samples: list[tuple[float, int, int]] = field(default_factory=list)
    """(seconds since start, jobs Completed, total VmRSS kB)."""
    violations: list[str] = field(default_factory=list)
    violation_count: int = 0

    @property
    def exactly_once(self) -> bool:
        return self.violation_count == 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["exactly_once"] = self.exactly_once
        return data


def run_long(services: Services, jobs: int, *, progress: Progress) -> LongResult:
    warmup = min(WARMUP, max(1, jobs // 10))
    result = LongResult(jobs=jobs, warmup_jobs=warmup)
    space = Space.create(services, "long")
    config = Jobhub(space)
    proc = None
    try:
        config.prepare()
        proc = start_worker(config, services)
        kwargs = space.task_kwargs()
        enqueued: list[str] = []
        begin = time.monotonic()
        next_sample = begin
        last_report = begin
        done = 0
        with psycopg.connect(space.database_url, autocommit=True) as connection:
            while True:
                proc.check_alive()
                done = config.completed(connection)
                now = time.monotonic()
                if now >= next_sample or done >= jobs:
                    total = rss.current(proc.pid).total_kb
                    result.samples.append((round(now - begin, 1), done, total))
                    if not result.rss_after_warmup_kb and done >= warmup:
                        result.rss_after_warmup_kb = total
                    next_sample = now + SAMPLE_EVERY
                if now - last_report >= 30:
                    progress(f"long run: {done} of {jobs} Completed")
                    last_report = now
                if done >= jobs:
                    break
                if now - begin > 600 + jobs / 20:
                    raise RuntimeError(f"long run: only {done} of {jobs} Completed in time")
                if len(enqueued) < jobs and len(enqueued) - done < OUTSTANDING:
                    for _ in range(min(CHUNK, jobs - len(enqueued))):
                        enqueued.append(config.enqueue(kwargs))
                else:
                    time.sleep(POLL_EVERY)
        result.seconds = time.monotonic() - begin
        result.jobs_per_second = jobs / result.seconds
        result.rss_end_kb = result.samples[-1][2]
        if result.rss_after_warmup_kb:
            growth = result.rss_end_kb - result.rss_after_warmup_kb
            result.growth_percent = 100 * growth / result.rss_after_warmup_kb
        result.peak = rss.peak(proc.pid).as_dict()
        proc.stop()
        config.close()
        with psycopg.connect(space.database_url, autocommit=True) as connection:
            problems = check_exactly_once(config, connection, space, enqueued)
        result.violation_count = len(problems)
        result.violations = problems[:20]
        return result
    finally:
        if proc is not None:
            proc.stop()
        config.close()
        space.remove()
