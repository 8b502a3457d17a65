"""The ``dead_letters`` table: messages workers could not run (``jobhub.worker.dead_letters``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Engine, Table, insert, select

from jobhub.db.engine import translated_errors
from jobhub.db.models import DeadLetterRow
from jobhub.jobs import JSONValue

dead_letters = cast(Table, DeadLetterRow.__table__)

BODY_LIMIT = 64 * 1024
"""Characters of a message body kept."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """A message a worker received and could not run as a job."""

    id: int | None
    received_at: datetime
    reason: str
    task_name: str | None
    task_id: str | None
    worker: str | None
    detail: str
    headers: dict[str, JSONValue] | None
    body: str | None


class DeadLetterStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, letter: DeadLetter) -> int:
        values = {
            "received_at": letter.received_at,
            "reason": letter.reason,
            "task_name": letter.task_name,
            "task_id": letter.task_id,
            "worker": letter.worker,
            "detail": letter.detail,
            "headers": letter.headers,
            "body": letter.body,
        }
        with translated_errors(), self.engine.begin() as connection:
            row = connection.execute(
                insert(dead_letters).values(values).returning(dead_letters.c.id)
            )
            return int(row.scalar_one())

    def recent(self, limit: int = 100) -> list[DeadLetter]:
        """The newest first."""
        statement = select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
        with translated_errors(), self.engine.connect() as connection:
            return [DeadLetter(**row._mapping) for row in connection.execute(statement)]
