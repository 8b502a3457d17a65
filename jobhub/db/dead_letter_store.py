"""The ``dead_letters`` table: messages workers could not run (see ``jobhub.dead_letters``)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Engine, Table, insert, select

from jobhub.db.engine import translated_errors
from jobhub.db.models import DeadLetterRow
from jobhub.dead_letters import DeadLetter

dead_letters = cast(Table, DeadLetterRow.__table__)


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
