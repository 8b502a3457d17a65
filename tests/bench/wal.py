"""Where a job's WAL goes: one round of configuration J (or B), its WAL read back with
PostgreSQL's ``pg_walinspect`` and split by relation (table, index, sequence) and by
record type. The figure to cut is the whole server's WAL per job (``make bench`` prints
it per configuration); this says which table or index writes it.

Run: ``python -m tests.bench.wal`` (``--jobs``, ``--config B``, ``--json``). The server's
WAL between the first enqueue and a settle after the last Completed is read, so the
benchmark must run alone on the server; full-page images count (a checkpoint in the
window shows up as FPI bytes).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import click
import psycopg

from tests.bench.configs import CONFIGURATIONS
from tests.bench.harness import burst_enqueue, start_worker, wait_completed
from tests.bench.pg import DEFAULT_ADMIN_URL, Postgres
from tests.bench.services import DEFAULT_REDIS_URL, Services, Space

JOBS = 3_000
SETTLE = 2.0
"""Seconds waited after the last Completed, so the worker's trailing writes are in."""
RELATION = re.compile(r"rel \d+/\d+/(\d+)")


@dataclass
class WalShare:
    name: str
    bytes_per_job: float
    fpi_bytes_per_job: float = 0.0


@dataclass
class WalResult:
    config: str
    jobs: int
    completed: int = 0
    bytes_per_job: float = 0.0
    records_per_job: float = 0.0
    relations: list[WalShare] = field(default_factory=list)
    record_types: list[WalShare] = field(default_factory=list)


def measure(services: Services, config_name: str, jobs: int) -> WalResult:
    """Run ``jobs`` jobs of ``config_name`` and split the WAL they wrote."""
    result = WalResult(config=config_name, jobs=jobs)
    space = Space.create(services, f"wal-{config_name}")
    config = CONFIGURATIONS[config_name](space)
    try:
        config.prepare()
        worker = start_worker(config, services)
        try:
            with psycopg.connect(space.database_url, autocommit=True) as connection:
                connection.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
                start = _lsn(connection)
                burst_enqueue(config, space.task_kwargs(), jobs)
                limit = 60 + jobs / 20
                result.completed, _, _ = wait_completed(config, connection, jobs, limit, worker)
                time.sleep(SETTLE)
                end = _lsn(connection)
                _split(connection, start, end, result)
        finally:
            worker.stop()
        return result
    finally:
        config.close()
        space.remove()


def _lsn(connection: psycopg.Connection[Any]) -> str:
    # The flushed position: pg_walinspect reads no further (the insert position can be
    # ahead of it while other sessions commit without waiting for the WAL).
    row = connection.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()
    assert row is not None
    return str(row[0])


def _split(connection: psycopg.Connection[Any], start: str, end: str, result: WalResult) -> None:
    names = {
        str(node): str(name)
        for node, name in connection.execute(
            "SELECT relfilenode, relname FROM pg_class WHERE relfilenode <> 0"
        ).fetchall()
    }
    records = connection.execute(
        "SELECT resource_manager, record_type, record_length, fpi_length, block_ref "
        "FROM pg_get_wal_records_info(%s::pg_lsn, %s::pg_lsn)",
        (start, end),
    ).fetchall()
    by_relation: Counter[str] = Counter()
    fpi: Counter[str] = Counter()
    by_type: Counter[str] = Counter()
    for manager, kind, length, fpi_length, blocks in records:
        found = RELATION.search(blocks or "")
        relation = names.get(found.group(1), found.group(1)) if found else f"({manager})"
        by_relation[relation] += length
        fpi[relation] += fpi_length or 0
        by_type[f"{manager}/{kind}"] += length
    jobs = result.jobs
    result.bytes_per_job = sum(by_relation.values()) / jobs
    result.records_per_job = len(records) / jobs
    result.relations = [
        WalShare(name, total / jobs, fpi[name] / jobs) for name, total in by_relation.most_common()
    ]
    result.record_types = [WalShare(name, total / jobs) for name, total in by_type.most_common()]


def render(result: WalResult, top: int = 25) -> str:
    lines = [
        f"{result.config}: {result.completed:,} of {result.jobs:,} jobs Completed; "
        f"WAL {result.bytes_per_job:,.0f} B/job in {result.records_per_job:.1f} records/job",
        "",
        f"{'relation':45s} {'B/job':>8s} {'of it FPI':>10s}",
    ]
    lines += [
        f"{share.name:45s} {share.bytes_per_job:8,.0f} {share.fpi_bytes_per_job:10,.0f}"
        for share in result.relations[:top]
        if share.bytes_per_job >= 0.5
    ]
    lines += ["", f"{'record type':45s} {'B/job':>8s}"]
    lines += [
        f"{share.name:45s} {share.bytes_per_job:8,.0f}"
        for share in result.record_types[:top]
        if share.bytes_per_job >= 0.5
    ]
    return "\n".join(lines)


@click.command()
@click.option("--jobs", type=click.IntRange(min=10), default=JOBS, show_default=True)
@click.option("--config", "config_name", type=click.Choice(["J", "B"]), default="J")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--postgres", default=DEFAULT_ADMIN_URL, show_default=True)
@click.option("--redis", "redis_url", default=DEFAULT_REDIS_URL, show_default=True)
def main(jobs: int, config_name: str, as_json: bool, postgres: str, redis_url: str) -> None:
    """Split the WAL of one round of jobs by relation and record type."""
    services = Services(Postgres(postgres), redis_url)
    try:
        result = measure(services, config_name, jobs)
    finally:
        services.close()
    click.echo(json.dumps(asdict(result), indent=2) if as_json else render(result))
    if result.completed < jobs:
        raise click.ClickException(f"only {result.completed} of {jobs} jobs Completed")


if __name__ == "__main__":
    main()
