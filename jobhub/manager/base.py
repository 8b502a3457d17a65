"""What every part of the job manager stands on: the app, its settings and runtime."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from jobhub.audit import Actor, AuditAction, AuditEntry
from jobhub.config import Settings
from jobhub.db.job_store import JobStore
from jobhub.definitions import JobDefinition
from jobhub.dispatch import JobHubCelery
from jobhub.errors import JobNotFound
from jobhub.jobs import JSONValue
from jobhub.runtime import Runtime

JobTypeRef = str | JobDefinition | object
"""A job type by name, by definition, or as its task ("by type or by name")."""


class ManagerBase:
    """The process handles the manager's parts share."""

    def __init__(self, app: JobHubCelery) -> None:
        self.app = app
        self.settings: Settings = app.jobhub_settings
        self._runtime = app.runtime

    @property
    def _jobs(self) -> JobStore:
        """The job store, after this process's deferred writes: reads see our own writes."""
        self._runtime.settle()
        return self._runtime.jobs

    def _record(
        self,
        action: AuditAction,
        target: str,
        actor: Actor | str | None,
        *,
        details: Mapping[str, JSONValue] | None = None,
        reason: str | None = None,
    ) -> None:
        """Append an operator action to the audit trail (after it took effect)."""
        record_action(self._runtime, action, target, actor, details=details, reason=reason)


def record_action(
    runtime: Runtime,
    action: AuditAction,
    target: str,
    actor: Actor | str | None,
    *,
    details: Mapping[str, JSONValue] | None = None,
    reason: str | None = None,
) -> None:
    """Append an operator action to ``runtime``'s audit trail, stamped by its clock.

    Check the actor and reason with ``jobhub.audit.acting`` before acting: this runs
    after the action took effect.
    """
    runtime.audit.append(
        AuditEntry(
            at=runtime.clock(),
            actor=Actor.of(actor),
            action=action,
            target=target,
            details=dict(details or {}),
            reason=reason,
        )
    )


def job_uuid(value: UUID | str) -> UUID:
    """A job id from its text; an id that is not a UUID names no job (JobNotFound)."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise JobNotFound(str(value)) from None
