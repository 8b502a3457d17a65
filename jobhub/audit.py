"""The audit trail's values: who acted, and what they did.

Every operator action (start, cancel, rerun, delete, start now, pause, resume, limit and
schedule changes, API key issue and revoke) is appended as an ``AuditEntry`` by the job
manager, in the process that performs it. The trail is only ever appended to; retention
removes entries by age (``Settings.audit_retention``).
"""

from __future__ import annotations

import enum
import getpass
from dataclasses import dataclass, field
from datetime import datetime

from jobhub.jobs import JSONValue


class AuditAction(enum.StrEnum):
    START = "start"
    CANCEL = "cancel"
    RERUN = "rerun"
    DELETE = "delete"
    START_NOW = "start-now"
    PAUSE = "pause"
    RESUME = "resume"
    LIMIT_SET = "limit-set"
    LIMIT_CLEAR = "limit-clear"
    SCHEDULE_SET = "schedule-set"
    SCHEDULE_CLEAR = "schedule-clear"
    KEY_CREATE = "key-create"
    KEY_REVOKE = "key-revoke"


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """Who performs an action: an API key's identity (with the key's id and organization),
    or a local user of the CLI or the Python API (no key)."""

    identity: str
    key_id: str | None = None
    organization: str = ""

    @classmethod
    def local(cls) -> Actor:
        """The operating-system user running this process (the CLI, a Python script)."""
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (a bare container)
            name = "unknown"
        return cls(identity=f"local:{name}")

    @classmethod
    def of(cls, actor: Actor | str | None) -> Actor:
        """An actor from what callers pass: an Actor, an identity, or None (local)."""
        if isinstance(actor, Actor):
            return actor
        return cls.local() if actor is None else cls(identity=actor)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One recorded action. ``target`` names what it acted on ("job <id>", "queue
    reports", "type reports.build", "key <id>"); ``details`` holds the parameters that
    matter (a limit's value, a schedule's rule)."""

    at: datetime
    actor: Actor
    action: AuditAction
    target: str
    details: dict[str, JSONValue] = field(default_factory=dict)
    reason: str | None = None
    id: int | None = None
