"""The servers tests need: find running ones, or start throwaway ones from installed binaries.

PostgreSQL and Redis are looked for at ``JOBHUB_TEST_DATABASE_URL`` and
``JOBHUB_TEST_REDIS_URL`` (defaults: the standard local ports). When a default address does
not answer, a throwaway server is started in a temporary folder from the binaries on this
machine; when that is impossible too, the run stops with one line saying what to do.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


class ServiceUnavailable(Exception):
    """A server tests need is neither running nor startable here."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as psycopg takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def postgres_answers(url: str) -> bool:
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def _pg_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class ThrowawayPostgres:
    """A PostgreSQL server of our own in a temporary folder; it can be stopped and started."""

    root: Path
    port: int = field(default_factory=free_port)
    fast: bool = True
    """Commits that do not wait for the WAL (tests run faster; a crash loses them)."""
    host: str = "127.0.0.1"
    """The address it listens on."""
    inside: list[str] = field(default_factory=list)
    """A command prefix that runs the server on another test host (``tests.hosts``)."""
    _as_user: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        bindir = _pg_bindir()
        if bindir is None:
            raise ServiceUnavailable("no PostgreSQL binaries (initdb) found")
        self.bindir = bindir
        self.data = self.root / "pgdata"
        if os.geteuid() == 0:  # initdb refuses to run as root
            if shutil.which("runuser") is None:
                raise ServiceUnavailable("running as root without runuser to drop privileges")
            self._as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self.inside, *self._as_user, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise ServiceUnavailable(f"{Path(args[0]).name} failed: {result.stderr.strip()[-300:]}")

    def initialise(self) -> ThrowawayPostgres:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
        )
        if self.host != "127.0.0.1":  # clients on the other test hosts of its bridge
            with (self.data / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {self.host}/24 trust\n")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses={self.host} -k {self.root} -c fsync=off"
        if self.fast:
            options += " -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "postgres.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def kill(self) -> None:
        """Stop at once, as a crash would (no shutdown checkpoint)."""
        self.stop("immediate")


@dataclass
class ThrowawayRedis:
    """A Redis server of our own that keeps nothing on disk."""

    root: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    """The address it listens on."""
    inside: list[str] = field(default_factory=list)
    """A command prefix that runs the server on another test host (``tests.hosts``)."""
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceUnavailable("no redis-server binary found")
        self.process = subprocess.Popen(
            [
                *self.inside,
                binary,
                "--port",
                str(self.port),
                "--bind",
                self.host,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                "--protected-mode",  # clients on other test hosts, without a password
                "no" if self.inside else "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while not redis_answers(self.url):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise ServiceUnavailable("redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.process = None


RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
"""The node script itself (``/usr/sbin``'s wrapper would switch to the rabbitmq user)."""


@dataclass
class ThrowawayRabbitMQ:
    """A RabbitMQ node of our own on free ports, its data under ``root``: what it keeps
    durable survives ``stop`` and ``start``."""

    root: Path
    port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self) -> None:
        if not RABBITMQ_SERVER.exists():
            raise ServiceUnavailable(f"no RabbitMQ node script at {RABBITMQ_SERVER}")
        (self.root / "enabled_plugins").write_text("[].\n")
        env = {
            **os.environ,
            "HOME": str(self.root),  # its own Erlang cookie
            "RABBITMQ_NODENAME": f"jobhub-test-{self.port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.root / "pid"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),
        }
        with (self.root / "out.log").open("ab") as log:
            self.process = subprocess.Popen(
                [str(RABBITMQ_SERVER)], env=env, stdout=log, stderr=log, cwd=self.root
            )
        deadline = time.monotonic() + 60
        while not _accepts(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise ServiceUnavailable(f"RabbitMQ did not start: see {self.root / 'out.log'}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the node cleanly (SIGTERM), as a restart for maintenance does."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # the script stops the node, then exits
            self.process.wait(timeout=60)
        self.process = None
        deadline = time.monotonic() + 30
        while _accepts(self.port):
            if time.monotonic() > deadline:
                raise ServiceUnavailable(f"RabbitMQ on port {self.port} did not stop")
            time.sleep(0.1)


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


@dataclass
class Services:
    """The PostgreSQL admin URL and Redis URL tests use, and what to stop afterwards."""

    postgres_url: str
    redis_url: str
    started: list[ThrowawayPostgres | ThrowawayRedis] = field(default_factory=list)

    def close(self) -> None:
        for server in reversed(self.started):
            with contextlib.suppress(ServiceUnavailable):
                server.stop()


def discover() -> Services:
    """Find PostgreSQL and Redis, starting throwaway ones where the defaults do not answer."""
    force = os.environ.get("JOBHUB_TEST_THROWAWAY") == "1"
    pg_url = os.environ.get("JOBHUB_TEST_DATABASE_URL")
    redis_url = os.environ.get("JOBHUB_TEST_REDIS_URL")
    services = Services(postgres_url=pg_url or DEFAULT_PG, redis_url=redis_url or DEFAULT_REDIS)
    try:
        if pg_url is not None and not postgres_answers(pg_url):
            raise ServiceUnavailable(
                f"PostgreSQL does not answer at JOBHUB_TEST_DATABASE_URL={pg_url}"
            )
        if pg_url is None and (force or not postgres_answers(DEFAULT_PG)):
            server = ThrowawayPostgres(Path(tempfile.mkdtemp(prefix="jobhub-pg-"))).initialise()
            server.start()
            services.started.append(server)
            services.postgres_url = server.url
        if redis_url is not None and not redis_answers(redis_url):
            raise ServiceUnavailable(f"Redis does not answer at JOBHUB_TEST_REDIS_URL={redis_url}")
        if redis_url is None and (force or not redis_answers(DEFAULT_REDIS)):
            rserver = ThrowawayRedis(Path(tempfile.mkdtemp(prefix="jobhub-redis-")))
            rserver.start()
            services.started.append(rserver)
            services.redis_url = rserver.url
    except ServiceUnavailable as exc:
        services.close()
        raise ServiceUnavailable(
            f"{exc}. Start PostgreSQL and Redis on 127.0.0.1 (`make up` starts them with "
            "Docker), or point JOBHUB_TEST_DATABASE_URL / JOBHUB_TEST_REDIS_URL at running ones."
        ) from None
    return services


def database_name(url: str) -> str:
    return urlsplit(libpq_url(url)).path.lstrip("/")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path=f"/{name}").geturl()
