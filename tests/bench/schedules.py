"""How beat's scheduler fares with 10,000 schedules: the cost of one tick.

A fresh database gets 10,000 runtime schedules (weekly ones spread over the week, so
almost none is due), then one beat runner ticks 200 times: each tick reads the due
schedules (indexed by next fire time) and the time to the next one. Then 100 of them are
made due at once and fired in one tick (their jobs go to a Redis queue of the run's own,
removed afterwards). Run: ``python -m tests.bench.schedules``.
"""

from __future__ import annotations

import time
import uuid
from datetime import time as time_of_day
from datetime import timedelta

import click
import redis
from sqlalchemy import create_engine, update

from jobhub import JobManager, Settings
from jobhub.db import migrate
from jobhub.db.schedule_store import job_schedules
from jobhub.definitions import all_definitions, load_job_modules
from jobhub.scheduling.rules import WeeklyRule
from jobhub.scheduling.runner import ScheduleRunner
from jobhub.scheduling.schedules import ScheduleSpec
from tests.bench.pg import Postgres, sqlalchemy_url
from tests.bench.stats import percentile

SCHEDULES = 10_000
TICKS = 200
DUE = 100


@click.command()
@click.option("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
@click.option("--redis", "redis_url", default="redis://127.0.0.1:6379/0")
def main(postgres: str, redis_url: str) -> None:
    """Time beat's tick over 10,000 schedules."""
    server = Postgres(postgres)
    database = server.create_database()
    queue = f"jobhub-bench-schedules-{uuid.uuid4().hex[:8]}"
    url = sqlalchemy_url(server.url(database))
    try:
        engine = create_engine(url)
        migrate.upgrade(engine)
        settings = Settings(database_url=url, broker_url=redis_url, queue=queue)
        load_job_modules(settings.job_modules)
        manager = JobManager.from_settings(settings)
        types = [d.name for d in all_definitions()]
        per_type = SCHEDULES // len(types) + 1
        started = time.perf_counter()
        for number, job_type in enumerate(types):
            specs = [
                ScheduleSpec(
                    rule=WeeklyRule(
                        days=frozenset({(number + i) % 7}),
                        at=time_of_day((i // 60) % 24, i % 60),
                        tz="Europe/Berlin",
                    ),
                    parameters={},
                )
                for i in range(per_type)
            ]
            manager.set_job_schedules(job_type, specs)
        setting = time.perf_counter() - started
        count = len(manager.job_schedules())
        runner = ScheduleRunner(manager.app.runtime, manager.app.dispatcher)
        runner.tick()  # the first tick also does the start types
        ticks = []
        for _ in range(TICKS):
            begin = time.perf_counter()
            runner.tick()
            runner.seconds_to_next(1.0)
            ticks.append((time.perf_counter() - begin) * 1000)
        with engine.begin() as connection:  # make 100 of them due now
            ids = [s.id for s in manager.get_job_schedules("diagnostics.echo")[:DUE]]
            now = manager.app.runtime.workers.now()
            connection.execute(
                update(job_schedules)
                .where(job_schedules.c.id.in_(ids))
                .values(next_fire_at=now - timedelta(seconds=1))
            )
        begin = time.perf_counter()
        fired = runner.tick()
        firing = (time.perf_counter() - begin) * 1000
        click.echo(f"{count:,} schedules set in {setting:.2f} s")
        click.echo(
            f"tick with none due: p50 {percentile(ticks, 50):.2f} ms,"
            f" p99 {percentile(ticks, 99):.2f} ms, max {max(ticks):.2f} ms over {TICKS} ticks"
        )
        click.echo(f"tick firing {len(fired)} due schedules: {firing:.1f} ms")
        manager.close()
        engine.dispose()
    finally:
        client = redis.Redis.from_url(redis_url)
        client.delete(queue, *client.keys(f"{queue}*"))
        server.drop_database(database)


if __name__ == "__main__":
    main()
