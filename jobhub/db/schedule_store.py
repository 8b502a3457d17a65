"""The ``job_schedules`` table: replace a type's schedules, read the due ones, advance one."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Engine,
    RowMapping,
    Table,
    delete,
    exists,
    insert,
    or_,
    select,
    update,
)

from jobhub.db.engine import translated_errors
from jobhub.db.models import JobScheduleRow, PauseRow
from jobhub.jobs import JSONValue

job_schedules = cast(Table, JobScheduleRow.__table__)
pauses = cast(Table, PauseRow.__table__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleRecord:
    """One stored schedule; ``rule`` is ``jobhub.scheduling.rules``' JSON form."""

    id: uuid.UUID
    name: str
    job_type: str
    source: str
    rule: dict[str, Any]
    parameters: dict[str, JSONValue]
    catch_up: bool
    created_at: datetime
    updated_at: datetime
    next_fire_at: datetime | None
    last_fire_at: datetime | None
    last_job_id: uuid.UUID | None


class ScheduleStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def replace(self, job_type: str, source: str, records: Sequence[ScheduleRecord]) -> None:
        """Make ``records`` the schedules of ``job_type`` from ``source``, in one transaction."""
        with translated_errors(), self.engine.begin() as connection:
            connection.execute(
                delete(job_schedules).where(
                    job_schedules.c.job_type == job_type, job_schedules.c.source == source
                )
            )
            if records:
                connection.execute(insert(job_schedules), [_values(r) for r in records])

    def replace_static(self, records: Sequence[ScheduleRecord]) -> None:
        """Make ``records`` the static schedules, keeping the fire history of unchanged ones."""
        with translated_errors(), self.engine.begin() as connection:
            existing = {
                row.name: row
                for row in connection.execute(
                    select(job_schedules).where(job_schedules.c.source == "static")
                )
            }
            wanted = {record.name for record in records}
            gone = [name for name in existing if name not in wanted]
            if gone:
                connection.execute(delete(job_schedules).where(job_schedules.c.name.in_(gone)))
            for record in records:
                old = existing.get(record.name)
                if old is None:
                    connection.execute(insert(job_schedules).values(_values(record)))
                elif (old.job_type, old.rule, old.parameters, old.catch_up) != (
                    record.job_type,
                    record.rule,
                    record.parameters,
                    record.catch_up,
                ):
                    values = _values(record)
                    del values["id"], values["created_at"]
                    connection.execute(
                        update(job_schedules)
                        .where(job_schedules.c.name == record.name)
                        .values(values)
                    )

    def of_type(self, job_type: str) -> list[ScheduleRecord]:
        statement = (
            select(job_schedules)
            .where(job_schedules.c.job_type == job_type)
            .order_by(job_schedules.c.name)
        )
        with translated_errors(), self.engine.connect() as connection:
            return [_record(row._mapping) for row in connection.execute(statement)]

    def all(self) -> list[ScheduleRecord]:
        statement = select(job_schedules).order_by(job_schedules.c.job_type, job_schedules.c.name)
        with translated_errors(), self.engine.connect() as connection:
            return [_record(row._mapping) for row in connection.execute(statement)]

    def due(self, now: datetime, limit: int = 100) -> list[ScheduleRecord]:
        """Schedules whose next fire time has come, the most overdue first (indexed)."""
        statement = (
            select(job_schedules)
            .where(job_schedules.c.next_fire_at <= now, _not_paused())
            .order_by(job_schedules.c.next_fire_at)
            .limit(limit)
        )
        with translated_errors(), self.engine.connect() as connection:
            return [_record(row._mapping) for row in connection.execute(statement)]

    def next_due_at(self) -> datetime | None:
        statement = select(job_schedules.c.next_fire_at).where(
            job_schedules.c.next_fire_at.is_not(None), _not_paused()
        )
        statement = statement.order_by(job_schedules.c.next_fire_at).limit(1)
        with translated_errors(), self.engine.connect() as connection:
            return cast("datetime | None", connection.execute(statement).scalar())

    def advance(
        self,
        record: ScheduleRecord,
        *,
        fired_at: datetime | None,
        job_id: uuid.UUID | None,
        next_fire_at: datetime | None,
        now: datetime,
    ) -> bool:
        """Move a schedule past the fire it was due for; False if another beat did first
        (compare-and-set on the ``next_fire_at`` that was read)."""
        values: dict[str, Any] = {"next_fire_at": next_fire_at, "updated_at": now}
        if fired_at is not None:
            values.update(last_fire_at=fired_at, last_job_id=job_id)
        statement = (
            update(job_schedules)
            .where(
                job_schedules.c.id == record.id,
                job_schedules.c.next_fire_at == record.next_fire_at,
            )
            .values(values)
        )
        with translated_errors(), self.engine.begin() as connection:
            return bool(connection.execute(statement).rowcount)


def schedule_paused() -> ColumnElement[bool]:
    """A schedule paused by its name or by its job type's does not fire; resumed, an
    overdue fire follows its catch-up rule."""
    return exists().where(
        pauses.c.kind == "schedule",
        or_(pauses.c.target == job_schedules.c.name, pauses.c.target == job_schedules.c.job_type),
    )


def _not_paused() -> ColumnElement[bool]:
    return ~schedule_paused()


def _values(record: ScheduleRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "job_type": record.job_type,
        "source": record.source,
        "rule": record.rule,
        "parameters": record.parameters,
        "catch_up": record.catch_up,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "next_fire_at": record.next_fire_at,
        "last_fire_at": record.last_fire_at,
        "last_job_id": record.last_job_id,
    }


def _record(row: RowMapping) -> ScheduleRecord:
    return ScheduleRecord(**row)
