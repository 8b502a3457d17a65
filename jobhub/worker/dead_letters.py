"""Messages a worker received and could not run as a job, kept in ``dead_letters``.

Three kinds, each recorded once, in the worker process that saw it, and then dropped
from the queue (the worker goes on):

* ``unknown task``: a task name no job module declares (Celery's ``task_unknown``);
* ``invalid message``: a message Celery cannot read as a task (``task_rejected``);
* ``no job record``: a job type's message for a job id the database does not know, and
  without the job it would need to recreate the row (published around jobhub).

Recording is best effort: if the database is unreachable the worker logs the message
instead. A message whose body cannot even be decoded is logged and acknowledged by
Celery itself before jobhub sees it.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from jobhub.db.dead_letter_store import BODY_LIMIT, DeadLetter
from jobhub.errors import JobHubError
from jobhub.jobs import JSONValue
from jobhub.logs import job_fields
from jobhub.runtime import Runtime

logger = logging.getLogger(__name__)


def from_message(
    message: Any, *, reason: str, detail: str, worker: str | None, at: datetime
) -> DeadLetter:
    """What to keep of a kombu message."""
    headers = dict(getattr(message, "headers", None) or {})
    body = getattr(message, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    return DeadLetter(
        id=None,
        received_at=at,
        reason=reason,
        task_name=_text(headers.get("task")),
        task_id=_text(headers.get("id")),
        worker=worker,
        detail=_clean(detail),
        headers=_json_safe(headers),
        body=None if body is None else _clean(str(body)[:BODY_LIMIT]),
    )


def headers_of(request: Any) -> dict[str, JSONValue]:
    """The headers of the message a task request came from."""
    return _json_safe(dict(getattr(request, "headers", None) or {}))


def record(runtime: Runtime, letter: DeadLetter) -> None:
    """Keep ``letter``; log it when the database cannot take it.

    Its job fields are the message's task id and task name (a job type's name, or the
    unknown name the message carried).
    """
    fields = job_fields(letter.task_id, letter.task_name, "dead-letter")
    logger.error(
        "dead letter (%s): %s %s: %s",
        letter.reason,
        letter.task_name,
        letter.task_id,
        letter.detail,
        extra=fields,
    )
    try:
        runtime.dead_letters.add(letter)
    except JobHubError as exc:
        logger.error("could not record the dead letter: %s", exc, extra=fields)


def _text(value: object) -> str | None:
    return None if value is None else _clean(str(value)[:200])


def _clean(text: str) -> str:
    """Text any database column takes: no NUL, valid UTF-8."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _json_safe(headers: dict[str, Any]) -> dict[str, JSONValue]:
    plain = json.loads(json.dumps(headers, default=str))
    return _clean_all(plain)  # type: ignore[no-any-return]


def _clean_all(value: Any) -> Any:
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, dict):
        return {_clean(key): _clean_all(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean_all(item) for item in value]
    return value
