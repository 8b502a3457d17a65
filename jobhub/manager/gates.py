"""Limits and pauses, as operators read and change them (``jobhub.gates`` says how they
hold jobs). Every change takes effect at once on every host, without a restart, and is
recorded in the audit trail."""

from __future__ import annotations

import logging

from jobhub.audit import Actor, AuditAction, acting
from jobhub.definitions import resolve
from jobhub.errors import Conflict, InvalidInput, InvalidLimit, NotFound
from jobhub.gates import Pause, PauseKind, StoredLimit
from jobhub.limits import Limit, LimitKind
from jobhub.logs import job_fields
from jobhub.manager.base import JobTypeRef, ManagerBase
from jobhub.placement import check_queue, resolve_queue

logger = logging.getLogger(__name__)


class JobGates(ManagerBase):
    """The job manager's limit and pause operations."""

    # -- limits --------------------------------------------------------------------------

    def limits(self, job_type: JobTypeRef | None = None) -> list[StoredLimit]:
        """The limits in force (and those an operator lifted), of one type or of all."""
        name = None if job_type is None else resolve(job_type).name
        return self._runtime.gates.limits(name)

    def set_limit(
        self,
        job_type: JobTypeRef,
        limit: Limit | str,
        *,
        actor: Actor | str | None = None,
        reason: str | None = None,
    ) -> list[StoredLimit]:
        """Set the type's limit of that kind and key (``"2"``, ``"10 per customer_id"``,
        ``"100/min"``), replacing one it had; returns the type's limits. Raises
        UnknownJobType or InvalidLimit before anything is written."""
        definition = resolve(job_type)
        if definition.runs_elsewhere:
            raise InvalidLimit(
                f"{definition.name} runs elsewhere: its runners pace themselves; limits"
                " hold the jobs workers run"
            )
        parsed = limit if isinstance(limit, Limit) else Limit.parse(limit)
        parsed.check_key(definition.name, {param.name for param in definition.params})
        who, why = acting(actor, reason)
        self._runtime.gates.set_limit(
            definition.name, parsed, at=self._runtime.clock(), actor=who.identity
        )
        self._record(
            AuditAction.LIMIT_SET,
            f"type {definition.name}",
            who,
            details={"limit": parsed.text()},
            reason=why,
        )
        logger.info(
            "limit set: %s", parsed.text(), extra=job_fields(None, definition.name, "limit")
        )
        return self.limits(definition)

    def clear_limit(
        self,
        job_type: JobTypeRef,
        kind: LimitKind | str = LimitKind.CONCURRENCY,
        per: str = "",
        *,
        actor: Actor | str | None = None,
        reason: str | None = None,
    ) -> list[StoredLimit]:
        """Lift the type's limit of ``kind`` (concurrency or rate) and key ``per``; a
        declared one stays lifted until set again. Raises NotFound when it has none."""
        definition = resolve(job_type)
        try:
            parsed_kind = LimitKind(kind)
        except ValueError:
            raise InvalidInput(f"a limit's kind is concurrency or rate, not {kind!r}") from None
        declared = any(limit.scope == (parsed_kind, per) for limit in definition.limits)
        who, why = acting(actor, reason)
        if not self._runtime.gates.clear_limit(
            definition.name,
            parsed_kind,
            per,
            declared=declared,
            at=self._runtime.clock(),
            actor=who.identity,
        ):
            scope = f" per {per}" if per else ""
            raise NotFound(f"{definition.name} has no {parsed_kind.value} limit{scope}")
        self._record(
            AuditAction.LIMIT_CLEAR,
            f"type {definition.name}",
            who,
            details={"kind": parsed_kind.value, "per": per},
            reason=why,
        )
        return self.limits(definition)

    # -- pauses --------------------------------------------------------------------------

    def pauses(self) -> list[Pause]:
        """Every paused queue, job type and schedule."""
        return self._runtime.gates.pauses()

    def pause(
        self,
        kind: PauseKind | str,
        target: str,
        *,
        actor: Actor | str | None = None,
        reason: str | None = None,
    ) -> Pause:
        """Pause a queue, a job type or a schedule (by its name or its job type's) on
        every host until resumed: its jobs wait, held, and no worker starts them; a
        paused schedule does not fire. Raises Conflict when it is paused already."""
        parsed, name = self._pause_target(kind, target)
        who, why = acting(actor, reason)
        if not self._runtime.gates.pause(
            parsed, name, at=self._runtime.clock(), actor=who.identity, reason=why
        ):
            raise Conflict(f"{parsed.value} {name} is paused already")
        self._record(AuditAction.PAUSE, f"{parsed.value} {name}", who, reason=why)
        logger.info("%s %s paused", parsed.value, name)
        return next(p for p in self.pauses() if (p.kind, p.target) == (parsed, name))

    def resume(
        self,
        kind: PauseKind | str,
        target: str,
        *,
        actor: Actor | str | None = None,
        reason: str | None = None,
    ) -> None:
        """Resume a paused queue, job type or schedule: its held jobs are released in
        order (priority, then age) within a moment. Raises Conflict when not paused."""
        parsed, name = self._pause_target(kind, target)
        who, why = acting(actor, reason)
        if not self._runtime.gates.resume(
            parsed, name, at=self._runtime.clock(), actor=who.identity
        ):
            raise Conflict(f"{parsed.value} {name} is not paused")
        self._record(AuditAction.RESUME, f"{parsed.value} {name}", who, reason=why)
        logger.info("%s %s resumed", parsed.value, name)

    def _pause_target(self, kind: PauseKind | str, target: str) -> tuple[PauseKind, str]:
        try:
            parsed = PauseKind(kind)
        except ValueError:
            raise InvalidInput(
                f"what to pause is a queue, a type or a schedule, not {kind!r}"
            ) from None
        if parsed is PauseKind.QUEUE:
            return parsed, resolve_queue(check_queue(target), self.settings.queue)
        if parsed is PauseKind.TYPE:
            return parsed, resolve(target).name
        names = {r.name for r in self._runtime.schedules.all()}
        types = {r.job_type for r in self._runtime.schedules.all()}
        if target not in names and target not in types:
            raise NotFound(f"no schedule named {target!r}, and no job type with schedules")
        return parsed, target
