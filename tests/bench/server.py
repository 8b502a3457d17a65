"""A real ``jobhub api`` process for a benchmark: one uvicorn process, as ``jobhub api``
runs it, on a free loopback port and the run's own database and queue."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.bench.pg import sqlalchemy_url

STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_api(
    database_url: str, redis_url: str, queue: str, log: Path, job_modules: str = "workers"
) -> Iterator[str]:
    """Start ``jobhub api`` on ``database_url`` and yield its base URL once ``/health``
    answers; stop it afterwards. Its output goes to ``log``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBHUB_")}
    env.update(
        JOBHUB_DATABASE_URL=sqlalchemy_url(database_url),
        JOBHUB_BROKER_URL=redis_url,
        JOBHUB_QUEUE=queue,
        JOBHUB_JOB_MODULES=job_modules,
    )
    port = free_port()
    with log.open("wb") as output:
        api = subprocess.Popen(
            [sys.executable, "-m", "jobhub", "api", f"--port={port}", "--loglevel=warning"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_healthy(base, api, log)
        yield base
    finally:
        api.terminate()
        try:
            api.wait(timeout=15)
        except subprocess.TimeoutExpired:
            api.kill()
            api.wait()


def _wait_until_healthy(base: str, api: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if api.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"jobhub api did not come up at {base}:\n{tail}")
        time.sleep(0.1)
