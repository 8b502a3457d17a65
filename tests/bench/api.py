"""What the HTTP API serves: requests per second and latency of its main routes.

A fresh database and a real ``jobhub api`` process (one uvicorn worker, as ``jobhub
api`` runs it) on a free loopback port; 8 client threads, each with its own keep-alive
connection, send: POST /jobs (2,000 jobs; no worker runs, so they stay Queued on a
Redis queue of the run's own), GET /jobs/{id}, a filtered GET /jobs page of 100, and the
AIMS360 view of one job. Every request is authenticated (one key lookup each). Then the
same POSTs to a bare FastAPI endpoint that calls ``apply_async`` (``tests.bench.bare_api``,
served the same way), and the ratio of the two rates. Run: ``python -m tests.bench.api``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import click
import httpx
import redis
from sqlalchemy import create_engine

from jobhub import JobManager, Settings
from jobhub.db import migrate
from tests.bench.apps import ENV_BROKER, ENV_QUEUE
from tests.bench.pg import Postgres, sqlalchemy_url
from tests.bench.stats import percentile

THREADS = 8
JOBS = 2_000
READS = 2_000
PAGES = 300


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serve(argv: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start a server process and wait until its ``/health`` answers."""
    server = subprocess.Popen([sys.executable, "-m", *argv], env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return server
        except httpx.TransportError:
            if time.monotonic() > deadline:
                server.terminate()
                raise
        time.sleep(0.1)


def _measure(
    name: str,
    count: int,
    request: Callable[[httpx.Client, int], httpx.Response],
    url: str,
    token: str,
) -> tuple[list[httpx.Response], float]:
    """Send ``count`` requests from THREADS clients; print rate and latency; return the
    responses and the rate."""
    latencies: list[float] = [0.0] * count
    responses: list[httpx.Response | None] = [None] * count
    clients = [
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        for _ in range(THREADS)
    ]

    def run(worker: int) -> None:
        client = clients[worker]
        for index in range(worker, count, THREADS):
            begin = time.perf_counter()
            responses[index] = request(client, index)
            latencies[index] = time.perf_counter() - begin

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(run, range(THREADS)))
    elapsed = time.perf_counter() - started
    for client in clients:
        client.close()
    done = [r for r in responses if r is not None]
    failed = sum(1 for r in done if r.status_code >= 400)
    click.echo(
        f"{name:<34} {count / elapsed:8.1f} req/s   p50 {percentile(latencies, 50) * 1000:6.1f} ms"
        f"   p99 {percentile(latencies, 99) * 1000:6.1f} ms   errors {failed}"
    )
    if failed:
        raise click.ClickException(f"{name}: {failed} requests failed, e.g. {done[0].text}")
    return done, count / elapsed


@click.command()
@click.option(
    "--requests",
    "scale",
    type=click.IntRange(min=10),
    default=JOBS,
    show_default=True,
    help="POSTs (and GETs) per route; pages a seventh of it.",
)
@click.option("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
@click.option("--redis", "redis_url", default="redis://127.0.0.1:6379/0")
def main(scale: int, postgres: str, redis_url: str) -> None:
    """Requests per second and latency of the HTTP API's main routes, and POST /jobs
    against a bare FastAPI endpoint that calls apply_async."""
    server = Postgres(postgres)
    database = server.create_database()
    queue = f"jobhub-bench-api-{uuid.uuid4().hex[:8]}"
    url = sqlalchemy_url(server.url(database))
    port = _free_port()
    api: subprocess.Popen[bytes] | None = None
    bare: subprocess.Popen[bytes] | None = None
    try:
        engine = create_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        settings = Settings(database_url=url, broker_url=redis_url, queue=queue)
        manager = JobManager.from_settings(settings)
        token = manager.access.create_api_key(
            identity="bench", organization="bench", role="admin"
        ).token
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBHUB_")}
        env.update(JOBHUB_DATABASE_URL=url, JOBHUB_BROKER_URL=redis_url, JOBHUB_QUEUE=queue)
        api = _serve(["jobhub", "api", f"--port={port}", "--loglevel=warning"], env, port)
        base = f"http://127.0.0.1:{port}"
        click.echo(f"jobhub api, 1 uvicorn process, {THREADS} client threads, keep-alive")
        started, jobhub_rate = _measure(
            "POST /jobs",
            scale,
            lambda c, i: c.post("/jobs", json={"type": "diagnostics.echo", "parameters": {}}),
            base,
            token,
        )
        ids = [r.json()["id"] for r in started]
        bare_port = _free_port()
        bare_env = {**env, ENV_BROKER: redis_url, ENV_QUEUE: f"{queue}-bare"}
        bare = _serve(["tests.bench.bare_api", str(bare_port)], bare_env, bare_port)
        _, bare_rate = _measure(
            "POST /jobs, bare FastAPI + apply_async",
            scale,
            lambda c, i: c.post(
                "/jobs",
                json={"type": "bench", "parameters": {"run": "bare", "redis_url": redis_url}},
            ),
            f"http://127.0.0.1:{bare_port}",
            token,
        )
        click.echo(f"POST /jobs over the bare endpoint: {jobhub_rate / bare_rate:.2f} (target 0.7)")
        _measure(
            "GET /jobs/{id}", scale, lambda c, i: c.get(f"/jobs/{ids[i % len(ids)]}"), base, token
        )
        _measure(
            "GET /jobs?$filter=... (100 a page)",
            max(1, scale * PAGES // READS),
            lambda c, i: c.get(
                "/jobs",
                params={
                    "$filter": "status eq 'Queued' and jobType eq 'diagnostics.echo'",
                    "$skip": str(i % 10 * 100),
                },
            ),
            base,
            token,
        )
        _measure(
            "GET AIMS360 backgroundjob by jobId",
            scale,
            lambda c, i: c.get(
                "/jobsmanagement/odata/v1.0/backgroundjob",
                params={"$filter": f"jobId eq '{ids[i % len(ids)]}'"},
            ),
            base,
            token,
        )
        manager.close()
    finally:
        for server_process in (api, bare):
            if server_process is not None:
                server_process.terminate()
                server_process.wait(timeout=10)
        client = redis.Redis.from_url(redis_url)
        client.delete(queue, *client.keys(f"{queue}*"))
        server.drop_database(database)


if __name__ == "__main__":
    main()
