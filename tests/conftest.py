"""Fixtures shared by every tier.

* unit tests need nothing;
* integration tests get a PostgreSQL database of their own (copied from a migrated
  template), a Redis queue of their own, and a JobManager on them;
* acceptance tests also start real ``jobhub worker`` processes and run the CLI;
* browser tests also drive headless Chromium (``tests/support/browser.py``).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from kombu import Connection
from sqlalchemy import create_engine

from jobhub import JobManager, Settings
from jobhub.db import migrate
from tests import services as svc
from tests.services import free_port

TIERS = ("unit", "integration", "acceptance")

# the browser tests' fixtures (browser, page, dashboard), for any test to use
pytest_plugins = ("tests.support.browser",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier, from the folder it lives in."""
    for item in items:
        for tier in TIERS:
            if f"{os.sep}{tier}{os.sep}" in str(item.path):
                item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(autouse=True)
def _root_logger_restored() -> Iterator[None]:
    """Undo what an entry point run in-process (``main()``) did to the root logger."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


# -- services ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def services() -> Iterator[svc.Services]:
    try:
        found = svc.discover()
    except svc.ServiceUnavailable as exc:
        pytest.exit(str(exc), returncode=3)
    yield found
    found.close()


@pytest.fixture(scope="session")
def template_database(services: svc.Services) -> Iterator[str]:
    """A migrated database that each test's database is copied from."""
    name = f"jobhub_tpl_{uuid.uuid4().hex[:10]}"
    _admin(services.postgres_url, f'CREATE DATABASE "{name}"')
    url = svc.with_database(services.postgres_url, name)
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    yield name
    _admin(services.postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def copied_database(
    services: svc.Services, template_database: str, prefix: str = "jobhub_t"
) -> Iterator[str]:
    """A PostgreSQL database copied from the migrated template, dropped afterwards; yields
    its URL. For a test (``database_url``) or a whole module's fixtures."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _admin(services.postgres_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    try:
        yield svc.with_database(services.postgres_url, name)
    finally:
        _admin(services.postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def own_queue(services: svc.Services) -> Iterator[str]:
    """A broker queue name of its own; afterwards the keys of every queue whose name starts
    with it (``<name>-idle`` too) are removed."""
    name = f"jobhub-test-{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        client = redis.Redis.from_url(services.redis_url)
        keys = [*client.keys(f"{name}*"), *client.keys(f"_kombu.binding.{name}*")]
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def database_url(services: svc.Services, template_database: str) -> Iterator[str]:
    """A PostgreSQL database of this test's own, already at the latest schema."""
    with copied_database(services, template_database) as url:
        yield url


def _admin(url: str, statement: str) -> None:
    with psycopg.connect(svc.libpq_url(url), autocommit=True) as connection:
        connection.execute(statement)


@pytest.fixture
def queue_name(services: svc.Services) -> Iterator[str]:
    """A broker queue of this test's own; its keys are removed afterwards."""
    with own_queue(services) as name:
        yield name


@pytest.fixture
def settings(
    database_url: str, services: svc.Services, queue_name: str, tmp_path: Path
) -> Settings:
    return quick_settings(tmp_path / "data", database_url, services, queue_name)


def quick_settings(
    data_dir: Path, database_url: str, services: svc.Services, queue: str, **overrides: Any
) -> Settings:
    """The settings tests run with: polls every 0.1 s, so waits and cancels are quick."""
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        broker_url=services.redis_url,
        queue=queue,
        wait_poll_interval=0.1,
        cancel_poll_interval=0.1,
        **overrides,
    )


@contextmanager
def module_settings(
    services: svc.Services, template_database: str, data_dir: Path, **overrides: Any
) -> Iterator[Settings]:
    """``quick_settings`` on a database and a queue of their own, removed afterwards: for
    the fixtures a whole module shares."""
    with copied_database(services, template_database) as url, own_queue(services) as queue:
        yield quick_settings(data_dir, url, services, queue, **overrides)


RABBITMQ_URL = os.environ.get("JOBHUB_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


@contextmanager
def on_rabbitmq(settings: Settings) -> Iterator[Settings]:
    """``settings`` on RabbitMQ (``JOBHUB_TEST_RABBITMQ_URL``); the queue and its exchange
    are deleted afterwards. Fails with one line when RabbitMQ does not answer."""
    try:
        with Connection(RABBITMQ_URL, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:  # kombu raises many kinds; all mean "not reachable"
        pytest.fail(f"RabbitMQ does not answer at {RABBITMQ_URL} (JOBHUB_TEST_RABBITMQ_URL): {exc}")
    try:
        yield replace(settings, broker_url=RABBITMQ_URL)
    finally:
        with Connection(RABBITMQ_URL) as connection:
            channel = connection.default_channel
            channel.queue_delete(settings.queue)
            channel.exchange_delete(settings.queue)


@pytest.fixture
def rabbitmq_settings(settings: Settings) -> Iterator[Settings]:
    """``settings`` on RabbitMQ."""
    with on_rabbitmq(settings) as on_it:
        yield on_it


@pytest.fixture
def manager(settings: Settings) -> Iterator[JobManager]:
    jobs = JobManager.from_settings(settings)
    yield jobs
    jobs.close()


def settings_env(settings: Settings) -> dict[str, str]:
    """The JOBHUB_* variables that make a subprocess use ``settings``."""
    env = {
        "JOBHUB_DATA_DIR": str(settings.data_dir),
        "JOBHUB_QUEUE": settings.queue,
        "JOBHUB_WAIT_POLL_INTERVAL": str(settings.wait_poll_interval),
        "JOBHUB_CANCEL_POLL_INTERVAL": str(settings.cancel_poll_interval),
        "JOBHUB_DEFAULT_TIME_LIMIT": str(settings.default_time_limit),
        "JOBHUB_RETENTION": f"{settings.retention.total_seconds()}s",
        "JOBHUB_AUDIT_RETENTION": f"{settings.audit_retention.total_seconds()}s",
        "JOBHUB_HEARTBEAT_INTERVAL": str(settings.heartbeat_interval),
        "JOBHUB_WORKER_TIMEOUT": str(settings.worker_timeout),
        "JOBHUB_PUBLISH_GRACE": str(settings.publish_grace),
        "JOBHUB_REQUEUE_GRACE": str(settings.requeue_grace),
        "JOBHUB_INLINE_RESULT_LIMIT": str(settings.inline_result_limit),
        "JOBHUB_PUBLISH_LINK_TTL": f"{settings.publish_link_ttl.total_seconds()}s",
    }
    if settings.documents_dir is not None:
        env["JOBHUB_DOCUMENTS_DIR"] = str(settings.documents_dir)
    if settings.maintenance_interval is not None:
        env["JOBHUB_MAINTENANCE_INTERVAL"] = str(settings.maintenance_interval)
    if settings.database_url is not None:
        env["JOBHUB_DATABASE_URL"] = settings.database_url
    if settings.broker_url is not None:
        env["JOBHUB_BROKER_URL"] = settings.broker_url
    if settings.job_modules != Settings().job_modules:
        env["JOBHUB_JOB_MODULES"] = ",".join(settings.job_modules)
    if settings.log_format != Settings().log_format:
        env["JOBHUB_LOG_FORMAT"] = settings.log_format
    if not settings.adopt_foreign:
        env["JOBHUB_ADOPT_FOREIGN"] = "false"
    if settings.foreign_identity is not None:
        env["JOBHUB_FOREIGN_IDENTITY"] = settings.foreign_identity
    if settings.foreign_organization:
        env["JOBHUB_FOREIGN_ORGANIZATION"] = settings.foreign_organization
    return env


def subprocess_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This environment without any JOBHUB_* of the caller's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBHUB_")}
    env.update(extra)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


# -- processes ---------------------------------------------------------------------------


@dataclass
class Process:
    """A jobhub subprocess (worker, beat, flower, serve) with its output in a file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.popen.returncode}):\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} never logged {text!r}:\n{self.log()[-3000:]}")
            time.sleep(0.05)

    def stop(self, timeout: float = 20.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash would."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


@dataclass
class ApiServer:
    """A running ``jobhub api`` and its base URL."""

    process: Process
    url: str

    def client(self, token: str | None = None) -> httpx.Client:
        """An HTTP client on this server, sending ``token`` as its bearer key."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


class Processes:
    """Starts jobhub subprocesses for one test and stops them all afterwards."""

    def __init__(self, tmp_path: Path) -> None:
        self._tmp_path = tmp_path
        self._started: list[Process] = []

    def start(
        self,
        name: str,
        args: list[str],
        env: Mapping[str, str],
        *,
        inside: Sequence[str] = (),
    ) -> Process:
        """``jobhub ARGS``; ``inside``: a command prefix that runs it on another test host
        (``tests.hosts.Host.command([])``)."""
        log_path = self._tmp_path / f"{name}-{len(self._started)}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                [*inside, sys.executable, "-m", "jobhub", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=subprocess_env(env),
                start_new_session=True,
            )
        process = Process(name, popen, log_path)
        self._started.append(process)
        return process

    def worker(
        self,
        settings: Settings,
        *extra: str,
        concurrency: int = 2,
        inside: Sequence[str] = (),
    ) -> Process:
        """A real ``jobhub worker`` (prefork) on ``settings``, started and ready."""
        node = f"w{len(self._started)}-{uuid.uuid4().hex[:6]}@%h"
        process = self.start(
            "worker",
            ["worker", f"--concurrency={concurrency}", f"--hostname={node}", *extra],
            settings_env(settings),
            inside=inside,
        )
        process.wait_for_log(" ready.", timeout=60)
        return process

    def api(
        self, settings: Settings, *, address: str = "127.0.0.1", inside: Sequence[str] = ()
    ) -> ApiServer:
        """A real ``jobhub api`` (uvicorn) on a free port, answering; by default on
        loopback, or on another test host's ``address`` (``inside`` runs it there)."""
        port = free_port()
        process = self.start(
            "api",
            ["api", f"--port={port}", "--loglevel=warning"],
            {**settings_env(settings), "JOBHUB_API_HOST": address},
            inside=inside,
        )
        server = ApiServer(process=process, url=f"http://{address}:{port}")
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if process.popen.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the API did not come up:\n{process.log()[-3000:]}")
            time.sleep(0.1)

    def stop_all(self) -> None:
        for process in reversed(self._started):
            process.stop()


@contextmanager
def worker_and_api(
    settings: Settings, folder: Path, *, concurrency: int = 2
) -> Iterator[ApiServer]:
    """A real worker and a real ``jobhub api`` on ``settings`` (processes logged under
    ``folder``), both stopped afterwards: what a module of HTTP or dashboard tests
    shares."""
    processes = Processes(folder)
    try:
        worker = processes.start(
            "worker",
            ["worker", f"--concurrency={concurrency}", f"--hostname=m{uuid.uuid4().hex[:6]}@%h"],
            settings_env(settings),
        )
        api = processes.api(settings)
        worker.wait_for_log(" ready.", timeout=60)
        yield api
    finally:
        processes.stop_all()


@contextmanager
def manager_of(settings: Settings) -> Iterator[JobManager]:
    """A ``JobManager`` on ``settings``, closed afterwards."""
    manager = JobManager.from_settings(settings)
    try:
        yield manager
    finally:
        manager.close()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    yield started
    started.stop_all()


@pytest.fixture
def worker(processes: Processes, settings: Settings) -> Process:
    return processes.worker(settings)


def run_cli(
    args: list[str], env: Mapping[str, str], *, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``jobhub ARGS`` as a subprocess and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "jobhub", *args],
        capture_output=True,
        text=True,
        env=subprocess_env(env),
        timeout=timeout,
        cwd=cwd,
        check=False,
    )
