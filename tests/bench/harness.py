"""One configuration round: a fresh database and worker, a burst of N tasks, the figures.

The round, in order: create the run's database (and its tables), start the worker and
wait until it answers, read the commit counters once they are still, enqueue N tasks in
one burst (recording each one's enqueue time), poll until all N are Completed, read the
worker's peak memory, stop the worker and the producer, read the counters again, then
check that every task ran exactly once and compute latencies. Everything the round
created is removed afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg

from tests.bench import cpu, rss, worker
from tests.bench.configs import CONFIGURATIONS, Configuration
from tests.bench.services import Services, Space
from tests.bench.stats import distribution_ms

POLL_INTERVAL = 0.02
"""Seconds between completion polls in a round (each poll of B or J is one transaction)."""

Progress = Callable[[str], None]


@dataclass
class RoundResult:
    """Everything measured in one round of one configuration."""

    config: str
    round: int
    jobs: int
    completed: int = 0
    enqueue_seconds: float = 0.0
    enqueue_rate: float = 0.0
    e2e_seconds: float = 0.0
    jobs_per_second: float = 0.0
    latency: dict[str, float] = field(default_factory=dict)
    xact_commit: int = 0
    xact_rollback: int = 0
    harness_transactions: int = 0
    commits_per_job: float = 0.0
    rollbacks_per_job: float = 0.0
    wal_bytes_per_job: float = 0.0
    """WAL the server wrote during the round (enqueue to settled), per job."""
    worker_peak: dict[str, Any] = field(default_factory=dict)
    cpu_ms_per_job: dict[str, float] = field(default_factory=dict)
    """CPU per job of each process group (``tests.bench.cpu``), enqueue to completion."""
    violations: list[str] = field(default_factory=list)
    violation_count: int = 0
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def exactly_once(self) -> bool:
        return self.violation_count == 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["exactly_once"] = self.exactly_once
        return data


def run_round(
    services: Services,
    name: str,
    round_no: int,
    jobs: int,
    *,
    progress: Progress,
    timeout: float | None = None,
) -> RoundResult:
    """Run configuration ``name`` once with ``jobs`` tasks."""
    result = RoundResult(config=name, round=round_no, jobs=jobs)
    space = Space.create(services, f"{name}{round_no}")
    config = CONFIGURATIONS[name](space)
    assert space.database is not None
    database = space.database
    polling: psycopg.Connection[Any] | None = None
    proc: worker.Worker | None = None
    try:
        config.prepare()
        proc = start_worker(config, services)
        if config.polls_database:
            polling = psycopg.connect(space.database_url, autocommit=True)
        before = services.postgres.settled_counters(database)
        progress(f"{name} round {round_no}: worker ready, enqueueing {jobs}")

        cpu_before = cpu.snapshot(proc.pid)
        producer_before = cpu.producer_seconds()
        enqueued, started, burst = burst_enqueue(config, space.task_kwargs(), jobs)
        producer_spent = cpu.producer_seconds() - producer_before
        result.enqueue_seconds = burst
        result.enqueue_rate = jobs / burst if burst > 0 else 0.0

        limit = timeout if timeout is not None else 60 + jobs / 20
        seen, done_at, polls = wait_completed(config, polling, jobs, limit, proc)
        result.completed = seen
        result.harness_transactions = polls if config.polls_database else 0
        if done_at is not None:
            result.e2e_seconds = done_at - started
            result.jobs_per_second = jobs / result.e2e_seconds
        cpu_after = cpu.snapshot(proc.pid)
        spent_cpu = {group: cpu_after[group] - cpu_before[group] for group in cpu_before}
        spent_cpu["producer"] = producer_spent
        result.cpu_ms_per_job = {group: 1000 * spent_cpu[group] / jobs for group in cpu.GROUPS}
        result.worker_peak = rss.peak(proc.pid).as_dict()

        if polling is not None:
            result.figures = config.figures(polling)
        proc.stop()
        config.close()
        if polling is not None:
            polling.close()
            polling = None
        after = services.postgres.settled_counters(database)
        spent = after - before
        result.xact_commit = spent.commits
        result.xact_rollback = spent.rollbacks
        result.commits_per_job = (spent.commits - result.harness_transactions) / jobs
        result.rollbacks_per_job = spent.rollbacks / jobs
        result.wal_bytes_per_job = spent.wal_bytes / jobs

        with psycopg.connect(space.database_url, autocommit=True) as connection:
            problems = check_exactly_once(config, connection, space, enqueued)
            if seen < jobs:
                problems.insert(0, f"{name}: only {seen} of {jobs} Completed within {limit:.0f} s")
            times = config.completed_times(connection)
        result.violation_count = len(problems)
        result.violations = problems[:20]
        result.latency = distribution_ms(
            [times[i] - t0 for i, t0 in enqueued.items() if i in times]
        )
        return result
    finally:
        if proc is not None:
            proc.stop()
        config.close()
        if polling is not None:
            polling.close()
        space.remove()


def start_worker(config: Configuration, services: Services) -> worker.Worker:
    return worker.start(
        f"{config.name}-{config.space.token}",
        config.worker_command(),
        config.worker_env(),
        broker_url=services.redis_url,
        concurrency=services.concurrency,
        folder=config.space.folder,
    )


def burst_enqueue(
    config: Configuration, kwargs: Mapping[str, str], jobs: int
) -> tuple[dict[str, float], float, float]:
    """Enqueue ``jobs`` tasks back to back; returns {id: enqueue time}, start, duration."""
    enqueued: dict[str, float] = {}
    started = time.time()
    for _ in range(jobs):
        t0 = time.time()
        enqueued[config.enqueue(kwargs)] = t0
    return enqueued, started, time.time() - started


def wait_completed(
    config: Configuration,
    connection: psycopg.Connection[Any] | None,
    jobs: int,
    timeout: float,
    proc: worker.Worker,
) -> tuple[int, float | None, int]:
    """Poll until ``jobs`` are Completed; returns (seen, when seen or None, polls)."""
    deadline = time.monotonic() + timeout
    polls = 0
    seen = 0
    while True:
        at = time.time()
        seen = config.completed(connection)
        polls += 1
        if seen >= jobs:
            return seen, at, polls
        if time.monotonic() > deadline:
            return seen, None, polls
        proc.check_alive()
        time.sleep(POLL_INTERVAL)


def check_exactly_once(
    config: Configuration,
    connection: psycopg.Connection[Any] | None,
    space: Space,
    enqueued: Collection[str],
) -> list[str]:
    """Every enqueued id ran once (Redis) and is Completed once (the configuration)."""
    runs = space.runs()
    problems = [f"{config.name}: task {i} never ran" for i in enqueued if i not in runs]
    problems += [
        f"{config.name}: task {i} ran {runs[i]} times" for i in enqueued if runs.get(i, 1) != 1
    ]
    unknown = set(runs) - set(enqueued)
    if unknown:
        problems.append(f"{config.name}: {len(unknown)} runs of tasks never enqueued")
    problems += config.verify(connection, enqueued)
    return problems
