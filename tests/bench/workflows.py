"""What a workflow step costs beside a plain job: the same no-op jobs, once started
as plain jobs (one ``start_jobs`` batch) and once as workflows of five steps (a first
step, three after it at once, and one after those three), on the same real worker.

Each phase is timed from its first start until its last job (or workflow) ended; the
overhead per step is the difference of the two per-job times. Every job must have run
exactly once (the no-op counts its runs), every workflow must end Completed, and every
step's job must have started exactly once. Run: ``python -m tests.bench.workflows``
(``--workflows``, ``--concurrency``, ``--json``).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import click
import psycopg

from jobhub import JobManager, JobRequest, StartState, Step, WorkflowSpec
from tests.bench import worker as workers
from tests.bench.configs import Jobhub
from tests.bench.jobs import NOOP
from tests.bench.pg import DEFAULT_ADMIN_URL, Postgres
from tests.bench.services import DEFAULT_REDIS_URL, Services, Space

WORKFLOWS = 1_000
STEPS = 5
CONCURRENCY = 2


@dataclass
class WorkflowResult:
    workflows: int
    steps: int
    plain_jobs_per_second: float
    workflow_steps_per_second: float
    plain_ms_per_job: float
    workflow_ms_per_step: float
    overhead_ms_per_step: float
    start_workflow_per_second: float
    """How fast ``start_workflow`` records and starts workflows."""


def shape(kwargs: dict[str, str]) -> WorkflowSpec:
    """first -> (left, middle, right) -> last."""
    return WorkflowSpec(
        (
            Step("first", NOOP, kwargs),
            *(Step(name, NOOP, kwargs, after=("first",)) for name in ("left", "middle", "right")),
            Step("last", NOOP, kwargs, after=("left", "middle", "right")),
        )
    )


def _wait(connection: psycopg.Connection[Any], sql: str, wanted: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        row = connection.execute(sql).fetchone()
        if row is not None and int(row[0]) >= wanted:
            return
        if time.monotonic() > deadline:
            raise click.ClickException(f"timed out: {row[0] if row else 0} of {wanted} ({sql})")
        time.sleep(0.02)


def measure(services: Services, count: int, concurrency: int) -> WorkflowResult:
    space = Space.create(services, "workflows")
    config = Jobhub(space)
    worker = None
    try:
        config.prepare()
        manager = config.manager
        assert manager is not None
        kwargs = space.task_kwargs()
        worker = workers.start(
            "W",
            config.worker_command(),
            config.worker_env(),
            broker_url=services.redis_url,
            concurrency=concurrency,
            folder=space.folder,
        )
        jobs = count * STEPS
        with psycopg.connect(space.database_url, autocommit=True) as connection:
            started = time.perf_counter()
            _start_plain(manager, jobs, kwargs)
            _wait(connection, "SELECT count(*) FROM jobs WHERE status = 3", jobs, 600)
            plain = time.perf_counter() - started

            started = time.perf_counter()
            for _ in range(count):
                manager.start_workflow(shape(kwargs))
            recorded = time.perf_counter() - started
            _wait(
                connection,
                "SELECT count(*) FROM workflows WHERE completed_at IS NOT NULL",
                count,
                600,
            )
            flows = time.perf_counter() - started
            _check(connection, space, count, jobs)
    finally:
        if worker is not None:
            worker.stop()
        config.close()
        space.remove()
    return WorkflowResult(
        workflows=count,
        steps=jobs,
        plain_jobs_per_second=jobs / plain,
        workflow_steps_per_second=jobs / flows,
        plain_ms_per_job=1000 * plain / jobs,
        workflow_ms_per_step=1000 * flows / jobs,
        overhead_ms_per_step=1000 * (flows - plain) / jobs,
        start_workflow_per_second=count / recorded,
    )


def _start_plain(manager: JobManager, jobs: int, kwargs: dict[str, str]) -> None:
    requests = [JobRequest(job_type=NOOP, parameters=kwargs) for _ in range(jobs)]
    for first in range(0, jobs, 5_000):
        outcomes = manager.start_jobs(requests[first : first + 5_000])
        if any(outcome.state is not StartState.STARTED for outcome in outcomes):
            raise click.ClickException("a plain job was not started")


def _check(connection: psycopg.Connection[Any], space: Space, count: int, jobs: int) -> None:
    """Every job ran once, every workflow Completed, every step started once."""
    runs = space.runs()
    if len(runs) != 2 * jobs or any(n != 1 for n in runs.values()):
        raise click.ClickException(f"{len(runs)} jobs ran (not {2 * jobs}), or some twice")
    row = connection.execute("SELECT count(*) FROM workflows WHERE status = 3").fetchone()
    if row is None or row[0] != count:
        raise click.ClickException(f"{row[0] if row else 0} of {count} workflows Completed")
    row = connection.execute(
        "SELECT count(*) FROM (SELECT job_id FROM job_events JOIN workflow_steps USING (job_id)"
        " WHERE job_events.status = 2 GROUP BY job_id HAVING count(*) <> 1) AS twice"
    ).fetchone()
    if row is None or row[0] != 0:
        raise click.ClickException(f"{row[0] if row else '?'} steps started other than once")


def render(result: WorkflowResult) -> str:
    return "\n".join(
        [
            f"Workflows: {result.workflows:,} of {STEPS} steps against {result.steps:,} plain jobs",
            "",
            f"plain jobs      {result.plain_jobs_per_second:>9,.1f} jobs/s"
            f"   {result.plain_ms_per_job:6.2f} ms a job",
            f"workflow steps  {result.workflow_steps_per_second:>9,.1f} steps/s"
            f"  {result.workflow_ms_per_step:6.2f} ms a step",
            f"overhead        {result.overhead_ms_per_step:>9.2f} ms a step",
            f"start_workflow  {result.start_workflow_per_second:>9,.1f} workflows/s",
        ]
    )


@click.command()
@click.option("--workflows", type=click.IntRange(min=1), default=WORKFLOWS, show_default=True)
@click.option("--concurrency", type=click.IntRange(min=1), default=CONCURRENCY, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--postgres", default=DEFAULT_ADMIN_URL, show_default=True)
@click.option("--redis", "redis_url", default=DEFAULT_REDIS_URL, show_default=True)
def main(workflows: int, concurrency: int, as_json: bool, postgres: str, redis_url: str) -> None:
    """The overhead of a workflow step over a plain job."""
    services = Services(Postgres(postgres), redis_url)
    try:
        result = measure(services, workflows, concurrency)
    finally:
        services.close()
    click.echo(json.dumps(asdict(result), indent=2) if as_json else render(result))


if __name__ == "__main__":
    main()
