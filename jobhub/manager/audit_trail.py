"""Reading the audit trail: who did what, newest first (``jobhub.audit`` says what is
recorded; the manager's parts record it with ``ManagerBase._record``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from jobhub.audit import AuditEntry, back_from, check_filter, check_limit, since_moment
from jobhub.errors import InvalidInput
from jobhub.manager.base import ManagerBase


class AuditTrail(ManagerBase):
    """The job manager's reads of the audit trail."""

    def audit_entries(
        self,
        *,
        since: datetime | timedelta | str | None = None,
        actor: str | None = None,
        organization: str | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """The recorded operator actions, newest first, at most ``limit`` (1 to 1000).

        ``since``: an instant with its zone, a duration back from now, or their text
        (``"1h"``, ``"2026-12-01T09:00:00Z"``); ``actor``: one identity (``"alice"``,
        ``"local:ops"``); ``organization``: one organization's (its keys' actions; local
        users have none, ``""``), or None for every one. Bad input raises InvalidInput.
        """
        check_limit(limit)
        check_filter("actor", actor)
        check_filter("organization", organization)
        start = self._since(since)
        return self._runtime.audit.recent(
            organization=organization, since=start, actor=actor, limit=limit
        )

    def _since(self, since: datetime | timedelta | str | None) -> datetime | None:
        now = self._runtime.clock()
        if since is None or isinstance(since, datetime):
            if since is not None and since.tzinfo is None:
                raise InvalidInput("since: give the time's zone (a timezone-aware datetime)")
            return since
        if isinstance(since, timedelta):
            if since < timedelta(0):
                raise InvalidInput("since: a duration back from now cannot be negative")
            return back_from(now, since)
        return since_moment(since, now)
