"""How fast producers enqueue, with no worker running: a plain ``apply_async`` loop,
a ``start_job`` loop, ``start_jobs`` (one batch) and ``AsyncRemoteJobManager`` through a
real ``jobhub api`` (one coroutine per start, ``--concurrency`` at a time).

Each rate is jobs over the wall time of the enqueue; every message must be on the
broker afterwards. Run: ``python -m tests.bench.enqueue`` (``--jobs``, ``--json``).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import click

from jobhub import AsyncRemoteJobManager, JobManager, JobRequest, StartState
from tests.bench.apps import plain_app
from tests.bench.configs import JOB_MODULES, Jobhub
from tests.bench.jobs import NOOP
from tests.bench.pg import DEFAULT_ADMIN_URL, Postgres
from tests.bench.server import running_api
from tests.bench.services import DEFAULT_REDIS_URL, Services, Space
from tests.support.redis_queue import queue_length

JOBS = 5_000
CONCURRENCY = 16


@dataclass
class EnqueueResult:
    jobs: int
    rates: dict[str, float] = field(default_factory=dict)
    """Jobs per second of each way to enqueue."""
    ratios: dict[str, float] = field(default_factory=dict)
    """Each over the ``apply_async`` loop."""


def _timed(jobs: int, enqueue: Any) -> float:
    started = time.perf_counter()
    enqueue()
    return jobs / (time.perf_counter() - started)


def measure(services: Services, jobs: int, concurrency: int) -> EnqueueResult:
    result = EnqueueResult(jobs=jobs)
    space = Space.create(services, "enqueue")
    config = Jobhub(space)
    try:
        config.prepare()
        kwargs = space.task_kwargs()
        app = plain_app("E", services.redis_url, space.queue + "-plain", None)
        task = app.tasks["bench.plain_noop"]
        task.apply_async(kwargs=kwargs)  # connect first: no rate pays for it
        manager = config.manager
        assert manager is not None
        manager.start_job(NOOP, kwargs)
        result.rates["apply_async loop"] = _timed(
            jobs, lambda: [task.apply_async(kwargs=kwargs) for _ in range(jobs)]
        )
        result.rates["start_job loop"] = _timed(
            jobs, lambda: [manager.start_job(NOOP, kwargs) for _ in range(jobs)]
        )
        requests = [JobRequest(job_type=NOOP, parameters=kwargs) for _ in range(jobs)]
        outcomes: list[Any] = []
        result.rates["start_jobs batch"] = _timed(
            jobs, lambda: outcomes.extend(manager.start_jobs(requests))
        )
        if any(outcome.state is not StartState.STARTED for outcome in outcomes):
            raise click.ClickException("a batch item was not started")
        result.rates["AsyncRemoteJobManager"] = _remote_rate(
            manager, space, jobs, concurrency, kwargs
        )
        for queue, wanted in ((space.queue, 3 * jobs + 1), (space.queue + "-plain", jobs + 1)):
            found = queue_length(services.redis_url, queue)
            if found != wanted:
                raise click.ClickException(f"{found} messages on {queue}, not {wanted}")
        app.close()
    finally:
        config.close()
        space.remove()
    base = result.rates["apply_async loop"]
    result.ratios = {name: rate / base for name, rate in result.rates.items()}
    return result


def _remote_rate(
    manager: JobManager, space: Space, jobs: int, concurrency: int, kwargs: dict[str, str]
) -> float:
    token = manager.access.create_api_key(
        identity="bench", organization="bench", role="operator"
    ).token
    log = space.folder / "api.log"
    modules = ",".join(JOB_MODULES)
    with running_api(
        space.database_url, space.services.redis_url, space.queue, log, modules
    ) as url:

        async def run() -> float:
            async with AsyncRemoteJobManager(url, token) as remote:
                await remote.start_job(NOOP, kwargs)
                gate = asyncio.Semaphore(concurrency)

                async def one() -> None:
                    async with gate:
                        await remote.start_job(NOOP, kwargs)

                started = time.perf_counter()
                await asyncio.gather(*(one() for _ in range(jobs - 1)))
                return (jobs - 1) / (time.perf_counter() - started)

        return asyncio.run(run())


def render(result: EnqueueResult) -> str:
    lines = [f"Enqueue rates, {result.jobs:,} jobs each, no worker running", ""]
    lines.append(f"{'way':<24} {'jobs/s':>10} {'x apply_async':>14}")
    for name, rate in result.rates.items():
        lines.append(f"{name:<24} {rate:>10,.1f} {result.ratios[name]:>14.2f}")
    return "\n".join(lines)


@click.command()
@click.option("--jobs", type=click.IntRange(min=10), default=JOBS, show_default=True)
@click.option("--concurrency", type=click.IntRange(min=1), default=CONCURRENCY, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--postgres", default=DEFAULT_ADMIN_URL, show_default=True)
@click.option("--redis", "redis_url", default=DEFAULT_REDIS_URL, show_default=True)
def main(jobs: int, concurrency: int, as_json: bool, postgres: str, redis_url: str) -> None:
    """Enqueue rates: apply_async, start_job, start_jobs and the asyncio client."""
    services = Services(Postgres(postgres), redis_url)
    try:
        result = measure(services, jobs, concurrency)
    finally:
        services.close()
    click.echo(json.dumps(asdict(result), indent=2) if as_json else render(result))


if __name__ == "__main__":
    main()
