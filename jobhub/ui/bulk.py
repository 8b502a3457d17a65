"""Bulk actions: cancel or rerun every job a list filter selects, one job at a time.

Each job goes through the manager's own ``cancel_job`` / ``rerun_job``, so each is checked
against its current state by the database and audited as that job's action, exactly as if
it had been clicked alone. Only the jobs the action applies to are selected (not yet
finished for a cancel, and running ones only when their type may be cancelled; finished
and rerunnable for a rerun), so the confirmation's count is what would be touched. The set
is counted again when the action runs (it may have changed), and one action touches at
most ``LIMIT`` jobs (newest first within each selection).
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

from jobhub.audit import Actor
from jobhub.errors import (
    Conflict,
    DispatchError,
    JobHubError,
    KeyConflict,
    NotCancellable,
    NotFound,
    NotRerunnable,
)
from jobhub.jobs import ACTIVE_STATUSES, TERMINAL_STATUSES, Job, JobStatus
from jobhub.manager import JobManager
from jobhub.queries import JobOrder, JobQuery
from jobhub.ui.filters import JobFilter

logger = logging.getLogger(__name__)

LIMIT = 1_000
"""Jobs one bulk action touches at most; run it again for the rest. Each job is its own
manager call (a few statements and a commit, about 10 to 40 ms), so a thousand takes up
to half a minute: longer would outlast the timeouts of the proxies in front of the API."""
_BATCH = 500


class BulkAction(enum.StrEnum):
    CANCEL = "cancel"
    RERUN = "rerun"

    @property
    def verb(self) -> str:
        return "Cancel" if self is BulkAction.CANCEL else "Rerun"

    @property
    def done(self) -> str:
        return "Cancelled" if self is BulkAction.CANCEL else "Reran"

    def selections(self, chosen: JobFilter, organization: str | None) -> list[JobQuery]:
        """The queries that select the jobs this action applies to (their union)."""
        if self is BulkAction.RERUN:
            return [
                chosen.query(organization=organization, statuses=TERMINAL_STATUSES, can_rerun=True)
            ]
        not_started = ACTIVE_STATUSES - {JobStatus.PROCESSING}
        return [
            chosen.query(organization=organization, statuses=not_started),
            chosen.query(
                organization=organization, statuses={JobStatus.PROCESSING}, can_cancel=True
            ),
        ]


_REFUSALS: tuple[tuple[type[JobHubError], str], ...] = (
    (NotFound, "were deleted meanwhile"),
    (NotCancellable, "run and their type cannot be cancelled"),
    (KeyConflict, "have a key another active job holds"),
    (NotRerunnable, "are not finished (any more)"),
    (Conflict, "had already ended"),
    (DispatchError, "could not be queued (broker)"),
)
"""Why a job was left as it was, by the error the manager raised (the first that fits)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a bulk action did: how many jobs it acted on, and why others were not."""

    acted: int
    refused: Counter[str]
    capped: bool = False
    stopped: str | None = None
    """Why the action stopped before the end (the database failed), if it did."""

    def summary(self, action: BulkAction) -> str:
        """``Cancelled 12 jobs (2 could not be: 2 had already ended).``"""
        text = f"{action.done} {self.acted:,} job{'' if self.acted == 1 else 's'}"
        failed = sum(self.refused.values())
        if failed:
            reasons = "; ".join(f"{count:,} {why}" for why, count in self.refused.most_common())
            text += f" ({failed:,} could not be: {reasons})"
        if self.stopped:
            text += f"; stopped early: {self.stopped}"
        elif self.capped:
            text += f"; one action stops at {LIMIT:,} jobs: run it again for the rest"
        return text + "."


def count(
    manager: JobManager, action: BulkAction, chosen: JobFilter, organization: str | None
) -> int:
    """How many jobs ``action`` would touch now (up to ``LIMIT + 1``: "more than")."""
    total = 0
    for query in action.selections(chosen, organization):
        total += manager.count_jobs(query, up_to=LIMIT + 1 - total)
        if total > LIMIT:
            break
    return total


def run(
    manager: JobManager,
    action: BulkAction,
    chosen: JobFilter,
    organization: str | None,
    actor: Actor,
    reason: str | None = None,
) -> Outcome:
    """Apply ``action`` to each selected job (at most ``LIMIT``), through the manager."""
    acted = 0
    refused: Counter[str] = Counter()
    seen = 0
    try:
        for job in _selected(manager, action, chosen, organization):
            if seen == LIMIT:
                return Outcome(acted, refused, capped=True)
            seen += 1
            try:
                if action is BulkAction.CANCEL:
                    manager.cancel_job(job.id, actor=actor, reason=reason)
                else:
                    manager.rerun_job(job.id, actor=actor, reason=reason)
            except (NotFound, Conflict, DispatchError) as error:
                refused[_why(error)] += 1
                continue
            acted += 1
    except JobHubError as error:
        logger.warning("bulk %s stopped after %d jobs: %s", action.value, seen, error)
        return Outcome(acted, refused, stopped=error.message)
    return Outcome(acted, refused)


def _selected(
    manager: JobManager, action: BulkAction, chosen: JobFilter, organization: str | None
) -> Iterator[Job]:
    """Every job the action's selections find, a page at a time. Paging by keyset stays
    right while the action changes the jobs it has passed."""
    for query in action.selections(chosen, organization):
        page = manager.jobs_page(replace(query, order=JobOrder.NEWEST, limit=_BATCH))
        yield from page.jobs
        while page.next is not None:
            page = manager.jobs_page(
                replace(query, order=JobOrder.NEWEST, limit=_BATCH, after=page.next)
            )
            yield from page.jobs


def _why(error: JobHubError) -> str:
    return next((why for kind, why in _REFUSALS if isinstance(error, kind)), type(error).__name__)
