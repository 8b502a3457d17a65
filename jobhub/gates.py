"""Pauses and limits as values, and the status texts of the jobs they hold.

A **pause** stops a queue, a job type or a schedule cluster-wide until it is resumed; a
**limit** (``jobhub.limits``) caps a type's jobs at once or per period. Both are rows in
the database, so they hold on every host and survive restarts of every process.

How a job is held and released (the database decides; ``jobhub.db.held_jobs``):

1. A worker claims an attempt only if the attempt was *released*, or nothing gates it
   (``jobhub.db.gate_sql``). Otherwise its claim fails and the worker *holds* the job:
   back to Created, ``held``, its status text naming the pause or limit; the message is
   acknowledged, so the worker's slot is free at once and nothing loops through the broker.
2. Every worker's main process runs the release round with its due-time round
   (``jobhub.housekeeping.release``): under a lock on the type's limit rows it counts the
   slots taken (released attempts not yet ended) and the starts in each rate window, and
   releases the held jobs that fit, highest priority first, oldest first, then publishes
   them. A released attempt is claimed without counting again, so two hosts can never
   both take the last slot.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from jobhub.limits import Limit, LimitKind, key_of


class PauseKind(enum.StrEnum):
    QUEUE = "queue"
    TYPE = "type"
    SCHEDULE = "schedule"


@dataclass(frozen=True, slots=True, kw_only=True)
class Pause:
    """A paused queue, job type or schedule, and who paused it."""

    kind: PauseKind
    target: str
    paused_at: datetime
    paused_by: str | None = None
    reason: str | None = None

    def text(self) -> str:
        """A held job's status text: "Paused: queue reports, by local:ann (migration)"."""
        who = f", by {self.paused_by}" if self.paused_by else ""
        why = f" ({self.reason})" if self.reason else ""
        return f"Paused: {self.kind.value} {self.target}{who}{why}"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredLimit:
    """A type's limit as the database holds it. ``limit`` None: an operator lifted a
    limit the type declares (it stays lifted across restarts)."""

    job_type: str
    kind: LimitKind
    per: str
    limit: Limit | None
    source: str
    """``declared`` (from ``@job(...)``, synced by workers) or ``operator``."""
    updated_at: datetime
    updated_by: str | None = None


def limit_text(job_type: str, limit: Limit, key: str) -> str:
    """A held job's status text: "Waiting for a slot: at most 2 reports.build at once"."""
    which = f" ({limit.per} {key})" if limit.per else ""
    return f"Waiting for a slot: {limit.describe(job_type)}{which}"


def resumed_text(kind: PauseKind, target: str, actor: str | None) -> str:
    who = f" by {actor}" if actor else ""
    return f"Waiting to be released: {kind.value} {target} resumed{who}"


@dataclass(frozen=True, slots=True)
class GateSnapshot:
    """The pauses and limits at one moment: what a producer consults to record a gated
    job as held at once instead of publishing it (a shortcut only: the claim decides)."""

    pauses: Sequence[Pause] = ()
    limits: Mapping[str, Sequence[Limit]] = field(default_factory=dict)

    def why_held(
        self, job_type: str, queue: str, organization: str, parameters: Mapping[str, object]
    ) -> str | None:
        """What keeps such a job from starting unreleased: a pause of its type or queue,
        or else its type's first limit; None when nothing gates it."""
        for pause in self.pauses:
            if (pause.kind is PauseKind.TYPE and pause.target == job_type) or (
                pause.kind is PauseKind.QUEUE and pause.target == queue
            ):
                return pause.text()
        limits = self.limits.get(job_type) or ()
        if not limits:
            return None
        first = limits[0]
        return limit_text(job_type, first, key_of(first.per, organization, dict(parameters)))
