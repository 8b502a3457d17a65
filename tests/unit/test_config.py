"""Settings.from_env (jobhub.config) read from explicit dicts, never the real environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from jobhub.config import Settings
from jobhub.errors import ConfigurationError, InvalidDuration

# -- defaults --------------------------------------------------------------------------


def test_no_variables_give_the_defaults() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.data_dir == Path(".jobhub")
    assert settings.database_url is None
    assert settings.broker_url is None
    assert settings.queue == "jobhub"
    assert settings.job_modules == ("workers",)
    assert settings.retention == timedelta(days=30)
    assert settings.wait_poll_interval == 1.0
    assert settings.cancel_poll_interval == 0.5
    assert settings.default_time_limit == 3600.0
    assert settings.worker_concurrency is None
    assert settings.prefetch_multiplier == 1
    assert settings.publish_timeout == 5.0
    assert settings.database_timeout == 5.0
    assert settings.log_format == "text"


def test_default_database_is_an_embedded_sqlite_file_under_data_dir() -> None:
    settings = Settings.from_env({})
    assert settings.embedded_database
    expected = (Path(".jobhub") / "jobhub.sqlite3").resolve()
    assert settings.effective_database_url == f"sqlite:///{expected}"
    assert Path(settings.effective_database_url.removeprefix("sqlite:///")).is_absolute()


def test_default_broker_is_the_embedded_file_broker() -> None:
    settings = Settings.from_env({})
    assert settings.embedded_broker
    assert settings.effective_broker_url == "filesystem://"
    assert settings.broker_folder == (Path(".jobhub") / "broker").resolve()


def test_unrelated_variables_are_ignored() -> None:
    env = {"DATABASE_URL": "postgresql://x/y", "jobhub_queue": "lower", "JOBHUB_OTHER": "1"}
    assert Settings.from_env(env) == Settings()


@pytest.mark.parametrize(
    "key",
    [
        "JOBHUB_DATABASE_URL",
        "JOBHUB_BROKER_URL",
        "JOBHUB_QUEUE",
        "JOBHUB_JOB_MODULES",
        "JOBHUB_RETENTION",
        "JOBHUB_WAIT_POLL_INTERVAL",
        "JOBHUB_WORKER_CONCURRENCY",
        "JOBHUB_LOG_FORMAT",
    ],
)
def test_an_empty_variable_keeps_the_default(key: str) -> None:
    assert Settings.from_env({key: ""}) == Settings()


# -- each variable ---------------------------------------------------------------------


def test_data_dir_moves_the_embedded_database_and_broker(tmp_path: Path) -> None:
    settings = Settings.from_env({"JOBHUB_DATA_DIR": str(tmp_path)})
    assert settings.data_dir == tmp_path
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'jobhub.sqlite3'}"
    assert settings.broker_folder == tmp_path / "broker"
    assert settings.embedded_database
    assert settings.embedded_broker


def test_database_url() -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/jobs"
    settings = Settings.from_env({"JOBHUB_DATABASE_URL": url})
    assert settings.database_url == url
    assert settings.effective_database_url == url
    assert not settings.embedded_database
    assert settings.embedded_broker


def test_broker_url() -> None:
    url = "redis://127.0.0.1:6379/3"
    settings = Settings.from_env({"JOBHUB_BROKER_URL": url})
    assert settings.broker_url == url
    assert settings.effective_broker_url == url
    assert not settings.embedded_broker
    assert settings.embedded_database


def test_queue() -> None:
    assert Settings.from_env({"JOBHUB_QUEUE": "reports"}).queue == "reports"


def test_job_modules_are_a_comma_separated_list() -> None:
    env = {"JOBHUB_JOB_MODULES": " workers , acme.jobs,,acme.reports "}
    assert Settings.from_env(env).job_modules == ("workers", "acme.jobs", "acme.reports")


def test_retention() -> None:
    assert Settings.from_env({"JOBHUB_RETENTION": "7d"}).retention == timedelta(days=7)


def test_audit_entries_are_kept_a_year_unless_set() -> None:
    assert Settings.from_env({}).audit_retention == timedelta(days=365)
    env = {"JOBHUB_AUDIT_RETENTION": "90d"}
    assert Settings.from_env(env).audit_retention == timedelta(days=90)


def test_a_malformed_audit_retention_names_its_variable() -> None:
    with pytest.raises(ConfigurationError, match="JOBHUB_AUDIT_RETENTION"):
        Settings.from_env({"JOBHUB_AUDIT_RETENTION": "a year"})


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("JOBHUB_WORKER_CONCURRENCY", "worker_concurrency"),
        ("JOBHUB_PREFETCH_MULTIPLIER", "prefetch_multiplier"),
    ],
)
def test_whole_number_settings(key: str, field: str) -> None:
    assert getattr(Settings.from_env({key: "4"}), field) == 4
    assert getattr(Settings.from_env({key: "1"}), field) == 1


@pytest.mark.parametrize(
    ("text", "expected"), [("json", "json"), ("text", "text"), (" JSON ", "json")]
)
def test_log_format(text: str, expected: str) -> None:
    assert Settings.from_env({"JOBHUB_LOG_FORMAT": text}).log_format == expected


def test_all_variables_at_once(tmp_path: Path) -> None:
    env = {
        "JOBHUB_DATA_DIR": str(tmp_path),
        "JOBHUB_DATABASE_URL": "postgresql://db/jobs",
        "JOBHUB_BROKER_URL": "redis://redis:6379/0",
        "JOBHUB_QUEUE": "q1",
        "JOBHUB_JOB_MODULES": "a,b",
        "JOBHUB_RETENTION": "2h",
        "JOBHUB_WAIT_POLL_INTERVAL": "100ms",
        "JOBHUB_CANCEL_POLL_INTERVAL": "200ms",
        "JOBHUB_DEFAULT_TIME_LIMIT": "15m",
        "JOBHUB_WORKER_CONCURRENCY": "3",
        "JOBHUB_PREFETCH_MULTIPLIER": "2",
        "JOBHUB_PUBLISH_TIMEOUT": "10s",
        "JOBHUB_DATABASE_TIMEOUT": "3",
        "JOBHUB_LOG_FORMAT": "json",
    }
    assert Settings.from_env(env) == Settings(
        data_dir=tmp_path,
        database_url="postgresql://db/jobs",
        broker_url="redis://redis:6379/0",
        queue="q1",
        job_modules=("a", "b"),
        retention=timedelta(hours=2),
        wait_poll_interval=0.1,
        cancel_poll_interval=0.2,
        default_time_limit=900.0,
        worker_concurrency=3,
        prefetch_multiplier=2,
        publish_timeout=10.0,
        database_timeout=3.0,
        log_format="json",
    )


# -- durations -------------------------------------------------------------------------

DURATION_SETTINGS = [
    ("JOBHUB_RETENTION", "retention"),
    ("JOBHUB_AUDIT_RETENTION", "audit_retention"),
    ("JOBHUB_PUBLISH_LINK_TTL", "publish_link_ttl"),
    ("JOBHUB_WAIT_POLL_INTERVAL", "wait_poll_interval"),
    ("JOBHUB_CANCEL_POLL_INTERVAL", "cancel_poll_interval"),
    ("JOBHUB_DEFAULT_TIME_LIMIT", "default_time_limit"),
    ("JOBHUB_PUBLISH_TIMEOUT", "publish_timeout"),
    ("JOBHUB_DATABASE_TIMEOUT", "database_timeout"),
    ("JOBHUB_HEARTBEAT_INTERVAL", "heartbeat_interval"),
    ("JOBHUB_WORKER_TIMEOUT", "worker_timeout"),
    ("JOBHUB_PUBLISH_GRACE", "publish_grace"),
    ("JOBHUB_REQUEUE_GRACE", "requeue_grace"),
    ("JOBHUB_MAINTENANCE_INTERVAL", "maintenance_interval"),
]


@pytest.mark.parametrize(("key", "field"), DURATION_SETTINGS)
@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("1m30s", 90.0), ("1H 30M", 5400.0), ("1w", 604800.0), ("45", 45.0)],
)
def test_every_duration_setting_reads_the_duration_grammar(
    key: str, field: str, text: str, seconds: float
) -> None:
    value = getattr(Settings.from_env({key: text}), field)
    if isinstance(value, timedelta):
        value = value.total_seconds()
    assert value == pytest.approx(seconds)


# -- bad values ------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "field"), DURATION_SETTINGS)
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("soon", "not a duration: 'soon'"),
        ("-5s", "cannot be negative"),
        ("30m1h", "largest to smallest"),
        ("99999999999d", "too long"),
    ],
)
def test_a_bad_duration_raises_configuration_error_naming_the_variable(
    key: str, field: str, text: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"^{key}: .*{problem}") as refused:
        Settings.from_env({key: text})
    assert isinstance(refused.value.__cause__, InvalidDuration)


@pytest.mark.parametrize("key", ["JOBHUB_WORKER_CONCURRENCY", "JOBHUB_PREFETCH_MULTIPLIER"])
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("four", "must be a whole number"),
        ("2.5", "must be a whole number"),
        ("0", "must be at least 1"),
        ("-3", "must be at least 1"),
    ],
)
def test_a_bad_whole_number_raises_configuration_error(key: str, text: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{key} {problem}"):
        Settings.from_env({key: text})


def test_an_unknown_log_format_raises_configuration_error() -> None:
    with pytest.raises(
        ConfigurationError, match="JOBHUB_LOG_FORMAT must be text or json, got 'xml'"
    ):
        Settings.from_env({"JOBHUB_LOG_FORMAT": "xml"})


# -- describe --------------------------------------------------------------------------


def test_describe_the_embedded_default() -> None:
    assert Settings.from_env({}).describe() == (
        "database=embedded SQLite broker=embedded files queue=jobhub"
    )


def test_describe_redacts_passwords() -> None:
    settings = Settings.from_env(
        {
            "JOBHUB_DATABASE_URL": "postgresql://jobhub:db-s3cret@db.example:5432/jobs",
            "JOBHUB_BROKER_URL": "redis://default:redis-s3cret@redis.example:6379/0",
            "JOBHUB_QUEUE": "q",
        }
    )
    text = settings.describe()
    assert "s3cret" not in text
    assert text == (
        "database=postgresql://jobhub:***@db.example:5432/jobs "
        "broker=redis://default:***@redis.example:6379/0 queue=q"
    )


def test_describe_redacts_a_password_without_a_user_name() -> None:
    # redis URLs commonly carry only a password: redis://:password@host:port/db
    settings = Settings.from_env({"JOBHUB_BROKER_URL": "redis://:redis-s3cret@redis:6379/0"})
    text = settings.describe()
    assert "s3cret" not in text
    assert "broker=redis://:***@redis:6379/0" in text


def test_describe_keeps_urls_without_a_password() -> None:
    settings = Settings.from_env(
        {
            "JOBHUB_DATABASE_URL": "postgresql://postgres@127.0.0.1/jobs",
            "JOBHUB_BROKER_URL": "redis://127.0.0.1:6379/0",
        }
    )
    assert settings.describe() == (
        "database=postgresql://postgres@127.0.0.1/jobs broker=redis://127.0.0.1:6379/0 queue=jobhub"
    )


def test_adoption_of_foreign_messages_is_on_unless_turned_off() -> None:
    assert Settings.from_env({}).adopt_foreign is True
    off = Settings.from_env({"JOBHUB_ADOPT_FOREIGN": "False"})
    assert off.adopt_foreign is False
    named = Settings.from_env(
        {"JOBHUB_FOREIGN_IDENTITY": "svc", "JOBHUB_FOREIGN_ORGANIZATION": "acme"}
    )
    assert (named.foreign_identity, named.foreign_organization) == ("svc", "acme")
    with pytest.raises(ConfigurationError, match="JOBHUB_ADOPT_FOREIGN must be true or false"):
        Settings.from_env({"JOBHUB_ADOPT_FOREIGN": "maybe"})
