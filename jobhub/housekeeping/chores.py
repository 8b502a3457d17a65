"""``Housekeeping``: what jobhub's own maintenance and report jobs do to the job history.

Built from what any process has (its runtime, a publish function, a look at the broker),
so a running job gets it from its context and the manager offers the same operations,
without either reaching for the other.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Self

from jobhub.db.job_store import TypeStatistics
from jobhub.dispatch import JobHubCelery, Publish
from jobhub.errors import InvalidInput
from jobhub.housekeeping.broker_probe import MessageIds, message_ids_on_broker
from jobhub.housekeeping.folding import fold_statistics
from jobhub.housekeeping.outbox import Outbox, OutboxReport
from jobhub.housekeeping.reaper import Reaper, ReapReport
from jobhub.housekeeping.retention import purge_audit_trail, purge_expired
from jobhub.runtime import Runtime


class Housekeeping:
    """Retention (of jobs and of the audit trail), recovery of lost and stranded jobs,
    counts over the history, and folding it into the statistics."""

    def __init__(self, runtime: Runtime, publish: Publish, on_broker: MessageIds) -> None:
        self._runtime = runtime
        self._publish = publish
        self._on_broker = on_broker

    @classmethod
    def of_app(cls, app: JobHubCelery) -> Self:
        """On ``app``'s runtime, publishing through its dispatcher, reading its broker."""
        on_broker = partial(message_ids_on_broker, app)
        return cls(app.runtime, app.dispatcher.publish, on_broker)

    def purge_expired_jobs(
        self, *, batch_size: int = 500, on_batch: Callable[[int], None] | None = None
    ) -> int:
        """Delete, batch by batch, ended jobs whose purge time has passed; returns how many."""
        return purge_expired(self._runtime, batch_size=batch_size, on_batch=on_batch)

    def purge_audit_trail(self) -> int:
        """Delete the audit trail entries older than ``audit_retention``; returns how many."""
        return purge_audit_trail(self._runtime)

    def fold_statistics(self) -> int:
        """Fold the settled history of transitions into the statistics and delete the
        counts past their retention; returns how many event ids were folded."""
        folded = fold_statistics(self._runtime)
        self._runtime.stats.prune(self._runtime.clock())
        return folded

    def reap_lost_jobs(self, *, limit: int = 500) -> ReapReport:
        """Recover the Processing jobs of lost workers (``jobhub.housekeeping.reaper``)."""
        return self.reaper.reap(limit=limit)

    def reconcile_outbox(self, *, limit: int = 500) -> OutboxReport:
        """Publish jobs stranded in Created or vanished from the broker (the outbox)."""
        return Outbox(self._runtime, self._publish, self._on_broker).reconcile(limit=limit)

    def job_statistics(self, since: datetime, until: datetime) -> list[TypeStatistics]:
        """How many jobs of each type were created in [since, until), by status."""
        if since >= until:
            raise InvalidInput("the period must end after it starts")
        self._runtime.settle()
        return self._runtime.jobs.statistics(since, until)

    @property
    def reaper(self) -> Reaper:
        return Reaper(self._runtime)
