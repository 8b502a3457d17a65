"""Starting jobs: one (``start_job``) or a batch (``start_jobs``).

A batch is judged whole before anything is written: one bad item refuses them all, with
its index. It is then recorded with one insert and published through one pipelined batch
per ``PUBLISH_CHUNK`` messages (Redis; other brokers publish one by one); what each item
became is in its ``StartOutcome`` (``jobhub.dispatch`` says what a broker failure half way
leaves).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from jobhub.audit import Actor, acting
from jobhub.definitions import JobDefinition, resolve
from jobhub.dispatch import StartRequest
from jobhub.errors import InvalidInput, JobHubError
from jobhub.jobs import AccessScope, Job, JobRequest, JobSpec, StartOutcome
from jobhub.manager.access import MAX_TEXT
from jobhub.manager.base import JobTypeRef, ManagerBase
from jobhub.parameters import unstorable_text
from jobhub.placement import check_priority, check_queue, due_time

MAX_BATCH = 10_000
"""Items one ``start_jobs`` call may carry."""


class JobStarts(ManagerBase):
    """The job manager's starts."""

    def start_job(
        self,
        job_type: JobTypeRef,
        parameters: Mapping[str, object] | None = None,
        *,
        identity: str | None = None,
        organization: str = "",
        client_request_id: str | None = None,
        key: str | None = None,
        description: str | None = None,
        access_scope: AccessScope | str = AccessScope.ORGANIZATION,
        job_id: uuid.UUID | None = None,
        start_at: datetime | None = None,
        delay: timedelta | None = None,
        queue: str | None = None,
        priority: int | None = None,
        max_attempts: int | None = None,
        actor: Actor | str | None = None,
        reason: str | None = None,
    ) -> Job:
        """Start a job; returns it Queued (Created while it waits for ``start_at`` or
        ``delay``, or for its runner when its type runs elsewhere).

        Raises UnknownJobType, InvalidParameters or InvalidInput before anything is
        written; KeyConflict when an active job of the type holds ``key``; DispatchError
        when the broker does not take the message (nothing is left behind). Submitting
        the same ``(organization, client_request_id)`` again returns the first job.
        ``queue`` and ``priority`` (0 to 9, higher first) override the type's;
        ``max_attempts`` lowers the attempts its retry policy allows.
        ``access_scope`` says who may read its result and documents. ``job_id`` is the id
        the new job gets (default: a random one); a caller that passes one can tell a new
        job from an idempotent repeat.

        A new job is recorded in the audit trail as started by ``actor`` (an API key's
        ``Actor``, an identity, or None: the local user), with ``reason``; a repeat is not.
        """
        who, why = acting(actor, reason)
        request = JobRequest(
            job_type=job_type,
            parameters=parameters or {},
            identity=identity,
            organization=organization,
            client_request_id=client_request_id,
            key=key,
            description=description,
            access_scope=access_scope,
            start_at=start_at,
            delay=delay,
            queue=queue,
            priority=priority,
            max_attempts=max_attempts,
        )
        definition, spec = self._judged(request)
        return self.app.dispatcher.start(
            definition,
            spec,
            description=description,
            job_id=job_id or uuid.uuid4(),
            actor=who,
            reason=why,
        )

    def start_jobs(
        self,
        requests: Sequence[JobRequest],
        *,
        actor: Actor | str | None = None,
        reason: str | None = None,
    ) -> list[StartOutcome]:
        """Start a batch of jobs; returns what became of each, in order.

        Every item is judged first (UnknownJobType, InvalidParameters or InvalidInput,
        naming the item by its index): one bad item starts none. Then all are recorded
        with one insert and published in pipelined batches. Each outcome's ``state``:
        ``started`` (Queued, or Created while it waits), ``repeated`` (its client request
        id had its job: that job), ``refused`` (nothing recorded; ``error`` says why:
        KeyConflict, or DispatchError for items the broker was never asked to take), or
        ``pending`` (recorded, but the broker failed while taking its batch: the message
        may or may not be there; the outbox publishes it if not, so it runs once either
        way). Starts are audited one by one, as ``start_job``'s.
        """
        who, why = acting(actor, reason)
        if len(requests) > MAX_BATCH:
            raise InvalidInput(f"a batch has at most {MAX_BATCH:,} jobs, not {len(requests):,}")
        batch: list[StartRequest] = []
        for index, request in enumerate(requests):
            try:
                definition, spec = self._judged(request)
            except JobHubError as exc:
                exc.args = (f"item {index}: {exc}", *exc.args[1:])
                raise
            batch.append(StartRequest(definition, spec, request.description))
        return self.app.dispatcher.start_many(batch, actor=who, reason=why)

    def _judged(self, request: JobRequest) -> tuple[JobDefinition, JobSpec]:
        """The type and the checked spec of ``request``; raises before anything is written."""
        definition = resolve(request.job_type)
        try:
            scope = AccessScope.parse(request.access_scope)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        values = definition.validate(request.parameters or {})
        for label, text in (
            ("identity", request.identity),
            ("organization", request.organization),
            ("client request id", request.client_request_id),
            ("key", request.key),
        ):
            if text is not None and len(text) > MAX_TEXT:
                raise InvalidInput(f"{label} is longer than {MAX_TEXT} characters")
            if text is not None and unstorable_text(text, label) is not None:
                raise InvalidInput(
                    f"{label} is not storable text (a NUL character or invalid UTF-8)"
                )
        description = request.description
        if description is not None and unstorable_text(description, "description") is not None:
            raise InvalidInput(
                "description is not storable text (a NUL character or invalid UTF-8)"
            )
        spec = JobSpec(
            job_type=definition.name,
            parameters=values,
            identity=request.identity,
            organization=request.organization,
            client_request_id=request.client_request_id,
            key=request.key,
            access_scope=scope,
            queue=check_queue(request.queue) if request.queue is not None else None,
            priority=check_priority(request.priority) if request.priority is not None else None,
            due_at=due_time(self._runtime.clock(), start_at=request.start_at, delay=request.delay),
            max_attempts=definition.retry.attempts_for(request.max_attempts),
        )
        return definition, spec
