"""jobhub's log formats (``jobhub.logs``): text lines that show a job's fields, and one
JSON object per line holding every field."""

from __future__ import annotations

import io
import json
import logging
import sys
import uuid

import pytest

from jobhub.config import Settings
from jobhub.logs import (
    HANDLER_NAME,
    JsonFormatter,
    TextFormatter,
    configure_logging,
    job_fields,
)

JOB_ID = uuid.UUID("0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55")


def _record(
    message: str = "job failed",
    *args: object,
    level: int = logging.ERROR,
    extra: dict[str, object] | None = None,
    exc_info: bool = False,
) -> logging.LogRecord:
    logger = logging.getLogger("jobhub.worker.signals")
    info = sys.exc_info() if exc_info else None
    record = logger.makeRecord(logger.name, level, __file__, 1, message, args, info, extra=extra)
    record.created = 1_795_000_000.25  # 2026-11-18T11:06:40.250Z
    return record


def _failure() -> logging.LogRecord:
    return _record(
        "job failed: %s", "boom", extra=job_fields(JOB_ID, "diagnostics.sleep", "fail", attempt=2)
    )


# -- job_fields ---------------------------------------------------------------------------


def test_job_fields_hold_the_id_as_text_and_leave_out_what_is_unknown() -> None:
    assert job_fields(JOB_ID, "diagnostics.sleep", "fail") == {
        "job_id": str(JOB_ID),
        "job_type": "diagnostics.sleep",
        "action": "fail",
    }
    assert job_fields(None, "reports.daily", "fire", schedule="nightly") == {
        "job_type": "reports.daily",
        "action": "fire",
        "schedule": "nightly",
    }


# -- text -------------------------------------------------------------------------------


def test_text_line_shows_time_level_logger_message_and_the_job_fields() -> None:
    line = TextFormatter().format(_failure())
    assert line.startswith("[2026-11-18T11:06:40.250Z ERROR MainProcess jobhub.worker.signals] ")
    assert line.endswith(
        f"] job failed: boom | job={JOB_ID} type=diagnostics.sleep action=fail attempt=2"
    )


def test_text_line_without_job_fields_is_just_the_message() -> None:
    line = TextFormatter().format(_record("w1@host ready.", level=logging.INFO))
    assert line.endswith("INFO MainProcess jobhub.worker.signals] w1@host ready.")
    assert "|" not in line


def test_text_quotes_a_field_value_with_spaces() -> None:
    record = _record(extra=job_fields(None, "reports.daily", "fire", schedule="started with beat"))
    assert TextFormatter().format(record).endswith('schedule="started with beat"')


def test_text_puts_the_traceback_after_the_fields() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        record = _record(extra=job_fields(JOB_ID, "diagnostics.sleep", "fail"), exc_info=True)
    first, *rest = TextFormatter().format(record).splitlines()
    assert first.endswith("action=fail")
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ValueError: bad"


# -- JSON -------------------------------------------------------------------------------


def test_json_line_is_one_object_with_message_level_logger_and_the_job_fields() -> None:
    line = JsonFormatter().format(_failure())
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-11-18T11:06:40.250Z",
        "level": "ERROR",
        "logger": "jobhub.worker.signals",
        "process": "MainProcess",
        "message": "job failed: boom",
        "job_id": str(JOB_ID),
        "job_type": "diagnostics.sleep",
        "action": "fail",
        "attempt": 2,
    }


def test_json_keeps_every_extra_field_and_the_traceback_on_one_line() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        record = _record(extra={"data": {"id": "x", "runtime": 0.5}}, exc_info=True)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    body = json.loads(line)
    assert body["data"] == {"id": "x", "runtime": 0.5}
    assert body["exc_info"].endswith("ValueError: bad")


def test_json_leaves_out_uvicorns_coloured_copy_of_the_message() -> None:
    record = _record("GET %s", "/health", extra={"color_message": "GET \x1b[1m%s\x1b[0m"})
    body = json.loads(JsonFormatter().format(record))
    assert body["message"] == "GET /health"
    assert "color_message" not in body


# -- configure_logging ----------------------------------------------------------------


@pytest.fixture
def root() -> logging.Logger:
    """The root logger (the suite's fixture puts it back as it was after each test)."""
    return logging.getLogger()


def test_configure_logging_installs_one_handler_and_replaces_it_when_called_again(
    root: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging(Settings(), "info")
    configure_logging(Settings(log_format="json"), logging.WARNING)

    ours = [h for h in root.handlers if h.get_name() == HANDLER_NAME]
    assert len(ours) == 1
    assert isinstance(ours[0].formatter, JsonFormatter)
    assert root.level == logging.WARNING
    logging.getLogger("jobhub.test").info("not shown")
    logging.getLogger("jobhub.test").warning("shown", extra=job_fields(JOB_ID, "t", "skip"))
    [line] = stream.getvalue().splitlines()
    assert json.loads(line)["job_id"] == str(JOB_ID)


def test_configure_logging_writes_text_by_default(
    root: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging(Settings(), logging.INFO)
    logging.getLogger("jobhub.test").info("job cancelled", extra=job_fields(JOB_ID, "t", "cancel"))
    assert stream.getvalue().endswith(f"job cancelled | job={JOB_ID} type=t action=cancel\n")
