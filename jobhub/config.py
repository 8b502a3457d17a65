"""Settings read once from ``JOBHUB_*`` environment variables.

Nothing else in jobhub reads the environment. With no variable set, jobhub runs on the
embedded default: a SQLite file and a local-file broker under ``.jobhub/`` in the
current directory, so one machine needs no server at all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Literal

from jobhub.durations import parse_duration
from jobhub.errors import ConfigurationError, InvalidDuration

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything configurable, as one typed value passed to the factories."""

    data_dir: Path = field(default_factory=lambda: Path(".jobhub"))
    """Folder of the embedded default: SQLite database, file broker, beat state."""
    database_url: str | None = None
    """SQLAlchemy URL; None means the embedded SQLite file in ``data_dir``."""
    broker_url: str | None = None
    """Celery broker URL; None means the embedded file broker in ``data_dir``."""
    queue: str = "jobhub"
    """The broker queue jobs are published to and workers consume."""
    job_modules: tuple[str, ...] = ("workers",)
    """Modules that declare the job types; workers and producers import them."""
    retention: timedelta = timedelta(days=30)
    """How long a job is kept after it was created before ``maintenance.purge_jobs`` deletes it."""
    audit_retention: timedelta = timedelta(days=365)
    """How long an audit trail entry is kept before ``maintenance.purge_jobs`` deletes it."""
    wait_poll_interval: float = 1.0
    """Seconds between checks while waiting for jobs (1 s, as in 1C)."""
    cancel_poll_interval: float = 0.5
    """Seconds between a running job's checks of its cancel flag."""
    default_time_limit: float = 3600.0
    """Hard time limit (seconds) of a job type that declares none."""
    worker_concurrency: int | None = None
    """Worker processes; None means one per CPU."""
    prefetch_multiplier: int = 1
    """Messages a worker process reserves ahead; 1 suits long jobs (see README)."""
    publish_timeout: float = 5.0
    """Seconds a producer waits for the broker before failing a start."""
    database_timeout: float = 5.0
    """Seconds to wait when connecting to the database before failing."""
    heartbeat_interval: float = 10.0
    """Seconds between a worker's heartbeats in the ``workers`` table."""
    worker_timeout: float = 60.0
    """A worker silent this long is lost: the reaper recovers its Processing jobs."""
    publish_grace: float = 30.0
    """A job still Created this long after its last change was never published: the
    outbox reconciler publishes it."""
    requeue_grace: float = 300.0
    """A Queued job whose message is this old and no longer on the broker is published
    again."""
    maintenance_interval: float | None = None
    """Seconds between beat's reaper and outbox runs; None keeps ``beat_schedule.py``'s."""
    inline_result_limit: int = 65536
    """Bytes of JSON up to which a result is kept inline; a larger one becomes a document."""
    documents_dir: Path | None = None
    """Folder for result documents, shared by every host; None keeps them in the database."""
    publish_link_ttl: timedelta = timedelta(days=30)
    """How long a document and its publish link live (never past the job's purge time)."""
    api_host: str = "127.0.0.1"
    """Address ``jobhub api`` listens on."""
    api_port: int = 8000
    public_url: str | None = None
    """The API's address as callers reach it (e.g. behind a proxy), for links; None uses
    the address of each request."""
    log_format: LogFormat = "text"
    """How the entry points log: ``text`` lines, or one JSON object per line (``jobhub.logs``)."""
    adopt_foreign: bool = True
    """Whether a worker records and runs a Celery task message for a known job type that
    jobhub did not publish (a producer speaking only Celery's protocol); when off, such a
    message is a dead letter (``jobhub.worker.adoption``)."""
    foreign_identity: str | None = None
    """The identity of an adopted job whose message has no ``jobhub_identity`` header."""
    foreign_organization: str = ""
    """The organization of an adopted job whose message has no ``jobhub_organization``
    header."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``JOBHUB_*`` variables; unset ones keep their defaults."""
        env = os.environ if environ is None else environ
        base = cls()
        values: dict[str, object] = {}
        if "JOBHUB_DATA_DIR" in env:
            values["data_dir"] = Path(env["JOBHUB_DATA_DIR"])
        for name in ("database_url", "broker_url", "queue"):
            key = f"JOBHUB_{name.upper()}"
            if env.get(key):
                values[name] = env[key]
        if env.get("JOBHUB_JOB_MODULES"):
            modules = tuple(m.strip() for m in env["JOBHUB_JOB_MODULES"].split(",") if m.strip())
            values["job_modules"] = modules
        for name in ("retention", "audit_retention", "publish_link_ttl"):
            key = f"JOBHUB_{name.upper()}"
            if env.get(key):
                values[name] = _duration(key, env[key])
        if env.get("JOBHUB_DOCUMENTS_DIR"):
            values["documents_dir"] = Path(env["JOBHUB_DOCUMENTS_DIR"])
        for name in ("api_host", "public_url"):
            key = f"JOBHUB_{name.upper()}"
            if env.get(key):
                values[name] = env[key].rstrip("/") if name == "public_url" else env[key]
        for name in (
            "wait_poll_interval",
            "cancel_poll_interval",
            "default_time_limit",
            "publish_timeout",
            "database_timeout",
            "heartbeat_interval",
            "worker_timeout",
            "publish_grace",
            "requeue_grace",
            "maintenance_interval",
        ):
            key = f"JOBHUB_{name.upper()}"
            if env.get(key):
                values[name] = _duration(key, env[key]).total_seconds()
        for name in (
            "worker_concurrency",
            "prefetch_multiplier",
            "inline_result_limit",
            "api_port",
        ):
            key = f"JOBHUB_{name.upper()}"
            if env.get(key):
                values[name] = _positive_int(key, env[key])
        if env.get("JOBHUB_LOG_FORMAT"):
            values["log_format"] = _log_format(env["JOBHUB_LOG_FORMAT"])
        if env.get("JOBHUB_ADOPT_FOREIGN"):
            values["adopt_foreign"] = _flag("JOBHUB_ADOPT_FOREIGN", env["JOBHUB_ADOPT_FOREIGN"])
        for name in ("foreign_identity", "foreign_organization"):
            key = f"JOBHUB_{name.upper()}"
            if env.get(key):
                values[name] = env[key]
        return replace(base, **values)  # type: ignore[arg-type]

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url is None

    @property
    def effective_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'jobhub.sqlite3').resolve()}"

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url if self.broker_url is not None else "filesystem://"

    @property
    def broker_folder(self) -> Path:
        """Where the embedded file broker keeps its messages."""
        return (self.data_dir / "broker").resolve()

    def describe(self) -> str:
        """One line saying where this configuration points, without secrets."""
        db = "embedded SQLite" if self.embedded_database else _redact(self.effective_database_url)
        broker = "embedded files" if self.embedded_broker else _redact(self.effective_broker_url)
        return f"database={db} broker={broker} queue={self.queue}"


def _duration(key: str, text: str) -> timedelta:
    try:
        return parse_duration(text)
    except InvalidDuration as exc:
        raise ConfigurationError(f"{key}: {exc.message}") from exc


def _positive_int(key: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ConfigurationError(f"{key} must be a whole number, got {text!r}") from None
    if value < 1:
        raise ConfigurationError(f"{key} must be at least 1, got {value}")
    return value


_FLAGS = {"1": True, "true": True, "yes": True, "on": True}
_FLAGS |= {"0": False, "false": False, "no": False, "off": False}


def _flag(key: str, text: str) -> bool:
    try:
        return _FLAGS[text.strip().lower()]
    except KeyError:
        raise ConfigurationError(f"{key} must be true or false, got {text!r}") from None


def _log_format(text: str) -> LogFormat:
    for name in LOG_FORMATS:
        if text.strip().lower() == name:
            return name
    raise ConfigurationError(f"JOBHUB_LOG_FORMAT must be text or json, got {text!r}")


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]*):[^@]*@", r"//\1:***@", url)
