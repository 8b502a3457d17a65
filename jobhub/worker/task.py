"""The Celery task class behind every job type: claim the attempt, then run the body.

Before a body runs, the worker claims the attempt with the Processing transition. A claim
that does not apply means the job must not run here: it was cancelled while queued, it
already finished (a duplicate delivery), it runs elsewhere, or the message is from an
older attempt. Such a message is acknowledged and dropped with Celery's ``Ignore``.

While the database is unreachable the claim cannot decide: the job runs on its message's
word, and the buffered claim applies when the database is back (``write_or_keep``).

A claim is also refused when a pause or a limit gates the job and its attempt was not
released (``jobhub.gates``): the worker then holds the job and acknowledges the message.

One more case: the job's row is missing because the database crashed before the
producer's insert reached its disk. The message carries the row (``jobhub.messages``), so
the worker recreates it and goes on; nothing accepted is lost. A message that carries no
row was published around jobhub (a producer speaking only Celery's protocol): it is
adopted as a new job (``jobhub.worker.adoption``), or kept as a dead letter.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any
from uuid import UUID

from celery import Task
from celery.exceptions import Ignore, Reject

from jobhub.db.dead_letter_store import BODY_LIMIT, DeadLetter
from jobhub.definitions import JobDefinition
from jobhub.dispatch import JobHubCelery
from jobhub.errors import JobCancelled, JobHubError, JobNotFound, KeyConflict
from jobhub.housekeeping import Housekeeping
from jobhub.jobs import Job, JobStatus, JSONValue
from jobhub.lifecycle import Applied, Transition
from jobhub.logs import job_fields
from jobhub.messages import attempt_of, origin_of, queued_at_of
from jobhub.runtime import Runtime
from jobhub.worker import adoption, dead_letters
from jobhub.worker.context import JobContext
from jobhub.worker.heartbeat import worker_id_of

logger = logging.getLogger(__name__)


class JobTask(Task):  # type: ignore[type-arg]
    """Base class of every job type's task (set by the ``@job`` decorator)."""

    definition: JobDefinition
    typing = False  # the body takes a JobContext first; parameters are checked by jobhub

    def __call__(self, *args: Any, **kwargs: Any) -> JSONValue:
        app: JobHubCelery = self.app  # type: ignore[assignment]
        runtime = app.runtime
        request = self.request
        job_id = UUID(request.id)
        attempt = attempt_of(request)
        worker_id = worker_id_of(request)
        claim = Transition(
            job_id=job_id,
            attempt=attempt,
            status=JobStatus.PROCESSING,
            at=runtime.clock(),
            worker_id=worker_id,
            queued_at=queued_at_of(request),  # records Queued if its producer died first
        )
        claimed = runtime.write_behind.write_or_keep([claim])
        applied: Applied | None
        if claimed is None:
            applied = self._unconfirmed_claim(claim, kwargs)
        else:
            applied = claimed[0] or self._claim_lost_row(runtime, claim, args, kwargs)
        if applied is None:
            raise Ignore()
        context = JobContext(
            runtime=runtime,
            job_type=self.name,
            claim=applied,
            worker_id=worker_id,
            parameters=kwargs,
            housekeeping=partial(Housekeeping.of_app, app),
        )
        try:
            return self.run(context, *args, **kwargs)  # type: ignore[no-any-return]
        except JobCancelled:
            runtime.write_behind.write_or_keep(
                [
                    Transition(
                        job_id=job_id,
                        attempt=attempt,
                        status=JobStatus.CANCELLED,
                        at=runtime.clock(),
                        worker_id=worker_id,
                        message="Cancelled while running",
                    )
                ]
            )
            logger.info("job cancelled", extra=job_fields(job_id, self.name, "cancelled"))
            raise Ignore() from None

    def _unconfirmed_claim(self, claim: Transition, parameters: dict[str, Any]) -> Applied:
        """The database is unreachable: run the job on its message's word; the claim is
        buffered and applies (or not) when the database is back."""
        logger.warning(
            "database unreachable: running the job with its claim buffered",
            extra=job_fields(claim.job_id, self.name, "claim-buffered", attempt=claim.attempt),
        )
        origin = origin_of(self.request, self.name, parameters)
        return Applied(
            job_id=claim.job_id,
            attempt=claim.attempt,
            status=JobStatus.PROCESSING,
            identity=origin.identity if origin else None,
            organization=origin.organization if origin else "",
        )

    def _claim_lost_row(
        self,
        runtime: Runtime,
        claim: Transition,
        args: tuple[Any, ...],
        parameters: dict[str, Any],
    ) -> Applied | None:
        """Recreate a row the database lost, from the message, and claim again; adopt a
        message jobhub did not publish; or say why the message is not run."""
        job_id = claim.job_id
        try:
            job = runtime.lookups.get(job_id)
        except JobNotFound:
            origin = origin_of(self.request, self.name, parameters)
            if origin is None:
                return self._adopt(runtime, claim, args, parameters)
            try:
                runtime.writes.create(origin)
            except KeyConflict as exc:
                logger.error(
                    "job row was missing and cannot be recreated: %s",
                    exc,
                    extra=job_fields(job_id, self.name, "recreate", attempt=claim.attempt),
                )
                return None
            logger.warning(
                "job row was missing; recreated from its message",
                extra=job_fields(job_id, self.name, "recreate", attempt=claim.attempt),
            )
            return runtime.writes.write(transitions=[claim])[0]
        return self._claim_found(runtime, claim, job)

    def _claim_found(self, runtime: Runtime, claim: Transition, job: Job) -> Applied | None:
        """A claim that did not apply to an existing row: hold the job, or say why not."""
        job_id = claim.job_id
        if job.attempt == claim.attempt and job.status < JobStatus.PROCESSING:
            return self._hold_or_claim(runtime, claim)
        logger.info(
            "message not run: job is %s at attempt %d (message attempt %d)",
            job.status.label,
            job.attempt,
            claim.attempt,
            extra=job_fields(job_id, self.name, "skip", attempt=claim.attempt),
        )
        return None

    def _adopt(
        self,
        runtime: Runtime,
        claim: Transition,
        args: tuple[Any, ...],
        parameters: dict[str, Any],
    ) -> Applied | None:
        """A message jobhub did not publish: record it as a job and claim it
        (``jobhub.worker.adoption``), or, with adoption off, keep it as a dead letter."""
        if not runtime.settings.adopt_foreign:
            letter = DeadLetter(
                id=None,
                received_at=runtime.clock(),
                reason="no job record",
                task_name=self.name,
                task_id=str(claim.job_id),
                worker=claim.worker_id,
                detail="its job id is not in the database, it carries no job, "
                "and adopting foreign messages is off (JOBHUB_ADOPT_FOREIGN)",
                headers=dead_letters.headers_of(self.request),
                body=json.dumps(parameters, default=str)[:BODY_LIMIT],
            )
            dead_letters.record(runtime, letter)
            return None
        app: JobHubCelery = self.app  # type: ignore[assignment]
        adopted = adoption.adopt(app, self.definition, self.request, claim, args, parameters)
        if adopted.invalid is not None:
            return None
        parameters.clear()  # the body gets them as a start would: checked, with defaults
        parameters.update(adopted.job.parameters)
        claim = adoption.adopted_claim(claim, adopted)
        applied = runtime.writes.write(transitions=[claim])[0]
        if applied is not None:
            return applied
        return self._claim_found(runtime, claim, runtime.lookups.get(claim.job_id))

    def _hold_or_claim(self, runtime: Runtime, claim: Transition) -> Applied | None:
        """A claim a pause or limit refused: hold the job (it waits in Created, its status
        text saying why, and is released in order when it may start) and acknowledge the
        message, so this worker's slot is free at once. If nothing gates it any more, or
        it was released meanwhile, claim it again."""
        try:
            why = runtime.held.hold(claim.job_id, claim.attempt, at=runtime.clock())
        except JobHubError as exc:  # the database went away in between: deliver it again
            logger.warning(
                "job not held, its message goes back to the queue: %s",
                exc,
                extra=job_fields(claim.job_id, self.name, "hold", attempt=claim.attempt),
            )
            raise Reject(str(exc), requeue=True) from None
        if why is not None:
            logger.info(
                "job held: %s",
                why,
                extra=job_fields(claim.job_id, self.name, "held", attempt=claim.attempt),
            )
            return None
        return runtime.writes.write(transitions=[claim])[0]
