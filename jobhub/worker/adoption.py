"""Jobs started by producers that speak only Celery's protocol.

A service without jobhub (a plain Celery app's ``send_task``, a Celery client in another
language) publishes an ordinary task message: a job type's name, keyword arguments, a task
id, none of jobhub's headers. The worker that receives it records it as a job, so it has
the whole lifecycle of any job: its task id becomes the job id (a redelivered copy is the
same job: the insert finds its row), Created and Queued are stamped with the time it was
received, and it is claimed as any job is (pauses, limits, retries apply).

Parameters are checked as a start checks them; a message whose parameters are not valid
is recorded too and ends CompletedWithErrors with the reasons, visible like any job,
rather than vanishing. Who starts it comes from the ``jobhub_identity`` and
``jobhub_organization`` headers, or ``Settings.foreign_identity`` /
``foreign_organization``. ``Settings.adopt_foreign`` off (``JOBHUB_ADOPT_FOREIGN=false``)
keeps such messages out: they are dead letters.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobhub.errors import InvalidInput
from jobhub.jobs import JobError, JobSpec, JobStatus
from jobhub.lifecycle import NewJob, Transition
from jobhub.logs import job_fields
from jobhub.messages import submitter_of

if TYPE_CHECKING:
    from celery.app.task import Context

    from jobhub.definitions import JobDefinition
    from jobhub.dispatch import JobHubCelery

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class Adopted:
    """A foreign message recorded as a job: its row, and why it must not run, if so."""

    job: NewJob
    received: datetime
    """Its row's creation time: the first copy's, when copies arrive at once."""
    invalid: InvalidInput | None


def adopt(
    app: JobHubCelery,
    definition: JobDefinition,
    request: Context,
    claim: Transition,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
) -> Adopted:
    """Record the job a foreign message asks for (Created; held if a pause or a limit
    gates it). An invalid one is recorded as given and ended CompletedWithErrors."""
    runtime = app.runtime
    settings = runtime.settings
    identity, organization = submitter_of(
        request, settings.foreign_identity, settings.foreign_organization
    )
    invalid: InvalidInput | None = None
    try:
        if args:
            raise InvalidInput(f"{definition.name} takes keyword parameters only")
        parameters = definition.validate(kwargs)
    except InvalidInput as exc:
        invalid, parameters = exc, dict(kwargs)
    spec = JobSpec(
        job_type=definition.name,
        parameters=parameters,
        identity=identity,
        organization=organization,
        queue=_arrival_queue(request),
    )
    try:
        new = app.dispatcher.new_job(definition, spec, job_id=claim.job_id)
    except InvalidInput:  # a queue name jobhub would not take: the type's queue then
        spec = dataclasses.replace(spec, queue=None)
        new = app.dispatcher.new_job(definition, spec, job_id=claim.job_id)
    if invalid is not None:
        new = dataclasses.replace(new, held=False, status_text=None)
    runtime.writes.create(new)  # a copy received meanwhile may have made it: that row wins
    received = runtime.lookups.get(new.id).created_at
    fields = job_fields(new.id, definition.name, "adopt", attempt=claim.attempt)
    if invalid is None:
        logger.info("job adopted from a message jobhub did not publish", extra=fields)
        return Adopted(new, received, None)
    logger.warning("adopted message has invalid parameters: %s", invalid, extra=fields)
    runtime.writes.write(
        transitions=[
            Transition(
                job_id=new.id,
                attempt=claim.attempt,
                status=JobStatus.COMPLETED_WITH_ERRORS,
                at=max(claim.at, received),
                worker_id=claim.worker_id,
                message="Not run: its parameters are not valid",
                error=JobError(type=type(invalid).__name__, message=str(invalid)),
                queued_at=received,
            )
        ]
    )
    return Adopted(new, received, invalid)


def adopted_claim(claim: Transition, adopted: Adopted) -> Transition:
    """The claim of an adopted job: it records Queued at the time it was received (the
    claim's own time was taken before the job was recorded: never earlier than that)."""
    received = adopted.received
    return dataclasses.replace(claim, queued_at=received, at=max(claim.at, received))


def _arrival_queue(request: Context) -> str | None:
    """The queue the message came from (its routing key), where the broker says so."""
    info = getattr(request, "delivery_info", None) or {}
    routing_key = info.get("routing_key")
    return routing_key if isinstance(routing_key, str) and routing_key else None
