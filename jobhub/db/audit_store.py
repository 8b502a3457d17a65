"""The ``audit_entries`` table: appended to, read newest first, purged by age."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, RowMapping, Table, delete, insert, select

from jobhub.audit import Actor, AuditAction, AuditEntry
from jobhub.db.engine import translated_errors
from jobhub.db.models import AuditEntryRow

entries = cast(Table, AuditEntryRow.__table__)

AUDIT_COLUMNS = ("at", "actor", "key_id", "organization", "action", "target", "details", "reason")


def audit_columns(entry: AuditEntry) -> dict[str, Any]:
    """``entry`` as the columns of its row (``AUDIT_COLUMNS``)."""
    return {
        "at": entry.at,
        "actor": entry.actor.identity,
        "key_id": entry.actor.key_id,
        "organization": entry.actor.organization,
        "action": entry.action.value,
        "target": entry.target,
        "details": entry.details or None,
        "reason": entry.reason,
    }


class AuditStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(self, entry: AuditEntry) -> None:
        with translated_errors(), self.engine.begin() as connection:
            connection.execute(insert(entries).values(**audit_columns(entry)))

    def recent(
        self,
        *,
        organization: str | None = None,
        since: datetime | None = None,
        actor: str | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Newest first; ``organization`` None reads every organization's."""
        statement = select(entries).order_by(entries.c.at.desc(), entries.c.id.desc())
        if organization is not None:
            statement = statement.where(entries.c.organization == organization)
        if since is not None:
            statement = statement.where(entries.c.at >= since)
        if actor is not None:
            statement = statement.where(entries.c.actor == actor)
        with translated_errors(), self.engine.connect() as connection:
            rows = connection.execute(statement.limit(limit))
            return [_entry(row._mapping) for row in rows]

    def purge(self, before: datetime) -> int:
        """Delete the entries recorded before ``before``; returns how many."""
        with translated_errors(), self.engine.begin() as connection:
            return connection.execute(delete(entries).where(entries.c.at < before)).rowcount


def _entry(row: RowMapping) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        actor=Actor(identity=row["actor"], key_id=row["key_id"], organization=row["organization"]),
        action=AuditAction(row["action"]),
        target=row["target"],
        details=row["details"] or {},
        reason=row["reason"],
    )
