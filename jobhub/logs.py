"""How jobhub's processes log: one handler on the root logger, in text or JSON lines.

Library modules only log, with ``logger = logging.getLogger(__name__)``; every line about
a job passes ``extra=job_fields(job_id, job_type, action)``. The entry points alone call
``configure_logging``: the ``jobhub`` command, ``jobhub worker`` and ``jobhub beat`` (through
Celery's ``setup_logging`` signal, ``jobhub.worker.app``), ``jobhub api`` and the module-level
app of ``celery -A jobhub.worker.app``.

``JOBHUB_LOG_FORMAT=text`` (the default), one line per record, the job's fields after
``|``::

    [2026-11-21T10:15:02.418Z ERROR ForkPoolWorker-1 jobhub.worker.signals] job failed:
    CanaryError: failed at step 1 | job=0b7f3c1e-... type=diagnostics.sleep action=fail

``JOBHUB_LOG_FORMAT=json``: one JSON object per line holding every field of the record
(``time``, ``level``, ``logger``, ``process``, ``message``, the job's fields and any other
``extra``, ``exc_info`` with the traceback).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from uuid import UUID

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from jobhub.config import Settings

JOB_FIELDS: dict[str, str] = {
    "job_id": "job",
    "job_type": "type",
    "action": "action",
    "attempt": "attempt",
    "schedule": "schedule",
}
"""The structured fields of a line about a job, and their labels in the text format."""

HANDLER_NAME = "jobhub"
"""The name of the root handler ``configure_logging`` installs (and replaces)."""


def job_fields(
    job_id: UUID | str | None,
    job_type: str | None,
    action: str,
    *,
    attempt: int | None = None,
    schedule: str | None = None,
) -> dict[str, object]:
    """The ``extra=`` of a line about a job; fields that are None are left out.

    ``action`` says what happened to the job, one word: ``start``, ``claim-buffered``,
    ``skip``, ``recreate``, ``cancel``, ``cancelled``, ``rerun``, ``fail``, ``requeue``,
    ``publish``, ``dead-letter``, ``fire``, ``schedule``...
    """
    fields: dict[str, object] = {}
    if job_id is not None:
        fields["job_id"] = str(job_id)
    if job_type is not None:
        fields["job_type"] = job_type
    fields["action"] = action
    if attempt is not None:
        fields["attempt"] = attempt
    if schedule is not None:
        fields["schedule"] = schedule
    return fields


def _timestamp(record: logging.LogRecord) -> str:
    """ISO 8601 in UTC, to the millisecond: the same on every host."""
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """``[time level process logger] message | job=... type=... action=...``."""

    def __init__(self) -> None:
        super().__init__("[%(asctime)s %(levelname)s %(processName)s %(name)s] %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return _timestamp(record)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802
        text = super().formatMessage(record)
        fields = [
            f"{label}={_text_value(value)}"
            for name, label in JOB_FIELDS.items()
            if (value := record.__dict__.get(name)) is not None
        ]
        return f"{text} | {' '.join(fields)}" if fields else text


def _text_value(value: object) -> str:
    text = str(value)
    if not text or any(c.isspace() or c in "\"'=" for c in text):
        return json.dumps(text)
    return text


class JsonFormatter(_JsonFormatter):
    """One JSON object per record: time, level, logger, process, message, then every
    other field (the job's, any ``extra``, ``exc_info``)."""

    def __init__(self) -> None:
        super().__init__(
            ["asctime", "levelname", "name", "processName", "message"],
            rename_fields={
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "processName": "process",
            },
            # uvicorn's copy of its message with terminal colours
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return _timestamp(record)


def formatter_for(log_format: str) -> logging.Formatter:
    """The formatter of a ``Settings.log_format``."""
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(
    settings: Settings, level: int | str = logging.INFO, *, logfile: str | None = None
) -> logging.Handler:
    """Send every record at ``level`` or above to stderr (or ``logfile``) in the format
    ``settings.log_format`` names, through one handler on the root logger.

    Calling it again replaces the handler it installed before; Python warnings are
    logged too (logger ``py.warnings``).
    """
    handler: logging.Handler
    if logfile:
        handler = logging.FileHandler(logfile, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(formatter_for(settings.log_format))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    logging.captureWarnings(True)
    return handler
