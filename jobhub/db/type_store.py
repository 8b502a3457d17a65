"""The registered job types: SanteDB's master list, shared by every host through the database."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Engine, RowMapping, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from jobhub.db.engine import translated_errors
from jobhub.db.models import JobTypeRow
from jobhub.jobs import JobTypeRecord, StartType

job_types = cast(Table, JobTypeRow.__table__)


class JobTypeStore:
    """Which job types are registered, and how each starts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def register(
        self, name: str, start_type: StartType, now: datetime, *, overwrite: bool
    ) -> JobTypeRecord:
        """Register a type; ``overwrite`` replaces the start type of a registered one."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(job_types).values(
            name=name, start_type=start_type.value, registered_at=now, updated_at=now
        )
        if overwrite:
            statement = statement.on_conflict_do_update(
                index_elements=["name"],
                set_={"start_type": start_type.value, "updated_at": now},
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=["name"])
        with translated_errors(), self.engine.begin() as connection:
            connection.execute(statement)
            row = connection.execute(select(job_types).where(job_types.c.name == name)).one()
        return _record(row._mapping)

    def get(self, name: str) -> JobTypeRecord | None:
        with translated_errors(), self.engine.connect() as connection:
            row = connection.execute(select(job_types).where(job_types.c.name == name)).first()
        return None if row is None else _record(row._mapping)

    def all(self) -> list[JobTypeRecord]:
        with translated_errors(), self.engine.connect() as connection:
            rows = connection.execute(select(job_types).order_by(job_types.c.name))
            return [_record(row._mapping) for row in rows]


def _record(row: RowMapping) -> JobTypeRecord:
    return JobTypeRecord(
        name=row["name"],
        start_type=StartType(row["start_type"]),
        registered_at=row["registered_at"],
        updated_at=row["updated_at"],
    )
