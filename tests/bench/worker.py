"""A real ``celery worker`` subprocess: started fresh, ready before use, stopped after.

Every configuration's worker runs with the same pool and size (``--pool prefork
--concurrency <CPU count>``) and the same log level; it is ready when it answers a
remote-control ping, which it does only once its consumer loop runs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from celery import Celery


class WorkerFailed(RuntimeError):
    """The worker exited or never became ready."""


@dataclass
class Worker:
    label: str
    hostname: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise WorkerFailed(
                f"worker {self.label} exited with code {self.popen.returncode}:\n{self.log_tail()}"
            )

    def stop(self, timeout: float = 30.0) -> int:
        """Warm shutdown (SIGTERM), then SIGKILL to the whole group if it hangs."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        return self.popen.returncode


REPOSITORY = Path(__file__).resolve().parents[2]
"""The checkout the benchmark runs from (``tests.bench`` is imported from there)."""


def base_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This environment without the caller's JOBHUB_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBHUB_")}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    # the benchmark's job module and apps live in this repository, not in the package
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), env.get("PYTHONPATH")]))
    return env


def start(
    label: str,
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    broker_url: str,
    concurrency: int,
    folder: Path,
    timeout: float = 90.0,
) -> Worker:
    """Start ``python -m <command> --pool prefork ...`` and wait until it answers a ping."""
    hostname = f"bench-{label}-{os.getpid()}-{time.monotonic_ns() % 10**9}@{socket.gethostname()}"
    log_path = folder / f"worker-{label}.log"
    argv = [
        sys.executable,
        "-m",
        *command,
        "--pool",
        "prefork",
        f"--concurrency={concurrency}",
        f"--hostname={hostname}",
        "--loglevel=WARNING",
    ]
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=base_env(env),
            cwd=folder,
            start_new_session=True,
        )
    worker = Worker(label, hostname, popen, log_path)
    try:
        _wait_ready(worker, broker_url, timeout)
    except BaseException:
        worker.stop(timeout=5)
        raise
    return worker


def _wait_ready(worker: Worker, broker_url: str, timeout: float) -> None:
    control = Celery("bench-control", broker=broker_url, set_as_current=False)
    control.conf.broker_connection_retry_on_startup = True
    deadline = time.monotonic() + timeout
    try:
        while True:
            worker.check_alive()
            replies = control.control.ping(destination=[worker.hostname], timeout=0.5)
            if any(worker.hostname in reply for reply in replies or []):
                return
            if time.monotonic() > deadline:
                raise WorkerFailed(
                    f"worker {worker.label} not ready after {timeout:.0f} s:\n{worker.log_tail()}"
                )
    finally:
        control.close()
