"""Jobs the broker never got, or lost: published (again) by the outbox reconciler.

* **Stranded in Created**: the producer inserted the row and died before publishing, or
  a re-queue's publish failed. After ``Settings.publish_grace`` without a change, the job
  is published. Jobs waiting for their due time (``jobhub.housekeeping.due`` publishes
  those) or for an outside runner are not stranded.
* **Vanished from the broker**: a Queued job whose message is no longer in the queue nor
  reserved by a worker (Redis restarted without persistence), after
  ``Settings.requeue_grace``. Only brokers that can be read (``jobhub.housekeeping.broker_probe``)
  are checked; on the others, Queued jobs are left alone.

Each job is taken by a compare-and-set on (status, attempt, last change), so of several
reconcilers exactly one publishes it. If the original message turns up after all, the
worker that gets the second one skips it (the claim applies once).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

from jobhub.dispatch import Publish
from jobhub.errors import DispatchError
from jobhub.housekeeping.broker_probe import MessageIds
from jobhub.jobs import Job, JobStatus
from jobhub.logs import job_fields
from jobhub.runtime import Runtime

logger = logging.getLogger(__name__)


@dataclass
class OutboxReport:
    published: list[UUID] = field(default_factory=list)
    """Stranded in Created, now published."""
    republished: list[UUID] = field(default_factory=list)
    """Queued, vanished from the broker, published again."""
    broker_checked: bool = False


class Outbox:
    """Publishes stranded and vanished jobs."""

    def __init__(self, runtime: Runtime, publish: Publish, on_broker: MessageIds) -> None:
        """``on_broker`` lists the job messages the broker holds (None: it cannot tell)."""
        self._runtime = runtime
        self._publish_attempt = publish
        self._on_broker = on_broker

    def reconcile(self, *, limit: int = 500) -> OutboxReport:
        runtime = self._runtime
        settings = runtime.settings
        now = runtime.heartbeats.now()
        report = OutboxReport()
        stranded = runtime.lookups.oldest_in_status(
            JobStatus.CREATED,
            changed_before=now - timedelta(seconds=settings.publish_grace),
            limit=limit,
        )
        for job in stranded:
            if self._publish(job, "published by the outbox: its producer never did"):
                report.published.append(job.id)
        queued = runtime.lookups.oldest_in_status(
            JobStatus.QUEUED,
            changed_before=now - timedelta(seconds=settings.requeue_grace),
            limit=limit,
        )
        if not queued:
            return report
        on_broker = self._on_broker({job.queue for job in queued})
        if on_broker is None:
            return report
        report.broker_checked = True
        for job in queued:
            if str(job.id) in on_broker:
                continue
            if self._publish(job, "published again: its message vanished from the broker"):
                report.republished.append(job.id)
        return report

    def _publish(self, job: Job, why: str) -> bool:
        runtime = self._runtime
        if not runtime.writes.take_for_publish(job, at=runtime.clock(), why=why):
            return False  # another reconciler took it, or it moved on
        fields = job_fields(job.id, job.job_type, "publish", attempt=job.attempt)
        try:
            self._publish_attempt(
                job.job_type,
                job.id,
                job.attempt,
                job.parameters,
                queue=job.queue,
                priority=job.priority,
            )
        except DispatchError as exc:
            logger.warning("outbox could not publish the job: %s", exc, extra=fields)
            return False
        logger.warning(why, extra=fields)
        return True
