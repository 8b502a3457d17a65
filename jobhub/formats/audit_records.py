"""The JSON form of an audit trail entry: CLI ``--json``, HTTP ``/audit``, and back (the
remote manager)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import JsonValue
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from jobhub.audit import Actor, AuditAction, AuditEntry


class AuditRecord(TypedDict):
    """One recorded operator action as JSON."""

    id: int | None
    at: str
    actor: str
    key_id: str | None
    organization: str
    action: str
    target: str
    details: dict[str, JsonValue]
    reason: str | None


def audit_record(entry: AuditEntry) -> AuditRecord:
    """The JSON form of an entry."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor.identity,
        "key_id": entry.actor.key_id,
        "organization": entry.actor.organization,
        "action": entry.action.value,
        "target": entry.target,
        "details": dict(entry.details),
        "reason": entry.reason,
    }


def audit_from_record(record: dict[str, Any]) -> AuditEntry:
    """The entry an ``audit_record`` describes."""
    return AuditEntry(
        id=record["id"],
        at=datetime.fromisoformat(record["at"]),
        actor=Actor(
            identity=record["actor"],
            key_id=record["key_id"],
            organization=record["organization"],
        ),
        action=AuditAction(record["action"]),
        target=record["target"],
        details=dict(record["details"] or {}),
        reason=record["reason"],
    )
