"""The producer side of the lifecycle: record a job, publish its message, mark it Queued.

Created is inserted before the message is published, so a worker never receives a job
the database does not know. Queued follows once the broker took the message.
Every publish of a job type goes through here, including ones jobhub did not start
itself (beat, ``task.delay()``, ``app.send_task(name)``, Celery's retries): the Celery app
routes them in (``JobHubCelery.send_task``), so they become jobs like any other.

``JobHubCelery`` is the Celery app every jobhub process runs on; it carries the process's
``Runtime`` and ``Dispatcher``. ``jobhub.worker.app`` configures it for workers and beat.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from celery import Celery
from celery.result import AsyncResult

from jobhub.audit import Actor, AuditAction, AuditEntry
from jobhub.config import Settings
from jobhub.definitions import JobDefinition, find_definition
from jobhub.errors import DispatchError, InvalidInput, JobHubError
from jobhub.jobs import Job, JobSpec, JobStatus, JSONValue
from jobhub.lifecycle import Due, NewJob, Transition
from jobhub.logs import job_fields
from jobhub.messages import ATTEMPT_HEADER, JOB_HEADER, QUEUED_AT_HEADER, job_header
from jobhub.placement import (
    DEFAULT_PRIORITY,
    broker_priority,
    check_priority,
    due_time,
    resolve_queue,
    starts_text,
    unprioritised_queue,
)
from jobhub.runtime import Runtime

logger = logging.getLogger(__name__)

SendTask = Callable[..., AsyncResult]  # type: ignore[type-arg]
"""Celery's own ``send_task``: puts one message on the broker."""


class Publish(Protocol):
    """``Dispatcher.publish``: put one attempt of a recorded job on the broker."""

    def __call__(
        self,
        name: str,
        job_id: uuid.UUID,
        attempt: int,
        parameters: Mapping[str, JSONValue],
        options: Mapping[str, Any] | None = None,
        *,
        queue: str | None = None,
        priority: int = DEFAULT_PRIORITY,
    ) -> datetime: ...


def publish_taken(
    publish: Publish, taken: Iterable[Due], *, event: str, what: str
) -> list[uuid.UUID]:
    """Publish jobs taken from the store for publishing (due, or released from a hold);
    returns those the broker took. One the broker refuses stays Created, which is the
    outbox's "stranded" case: it is published after ``Settings.publish_grace``."""
    published: list[uuid.UUID] = []
    for due in taken:
        fields = job_fields(due.job_id, due.job_type, event, attempt=due.attempt)
        try:
            publish(
                due.job_type,
                due.job_id,
                due.attempt,
                due.parameters,
                queue=due.queue,
                priority=due.priority,
            )
        except DispatchError as exc:
            logger.warning("%s job not published now, the outbox will: %s", what, exc, extra=fields)
            continue
        logger.info("%s job published", what, extra=fields)
        published.append(due.job_id)
    return published


class Dispatcher:
    """Starts jobs and publishes their messages for one Celery app."""

    def __init__(
        self,
        runtime: Runtime,
        send_task: SendTask,
        result: Callable[[str], AsyncResult],  # type: ignore[type-arg]
    ) -> None:
        self._runtime = runtime
        self._send_task = send_task
        self._result = result

    def start(
        self,
        definition: JobDefinition,
        spec: JobSpec,
        *,
        description: str | None = None,
        created_by: str | None = None,
        job_id: uuid.UUID | None = None,
        options: Mapping[str, Any] | None = None,
        actor: Actor | None = None,
        reason: str | None = None,
    ) -> Job:
        """Record a new job and publish it; an idempotent repeat returns the existing job.

        With an ``actor``, the start goes to the audit trail (with ``reason``) in the
        same transaction as the job's row: a repeat records nothing, and a start the
        broker refused is taken back with the row.

        A job with a due time (``spec.due_at``) stays Created until then
        (``jobhub.housekeeping.due`` publishes it); a job of a type that runs elsewhere
        stays Created for its runner; a job a pause or a limit gates stays Created, held,
        until released (``jobhub.gates``). If the broker refuses the message, the Created row is
        removed again, so a failed start leaves nothing behind, and DispatchError is raised.
        """
        runtime = self._runtime
        now = runtime.clock()
        queue = resolve_queue(spec.queue, runtime.settings.queue) if spec.queue else None
        priority = definition.priority if spec.priority is None else check_priority(spec.priority)
        due_at = spec.due_at if spec.due_at is not None and spec.due_at > now else None
        if definition.runs_elsewhere and due_at is not None:
            raise InvalidInput(f"{definition.name} runs elsewhere: its runner decides when")
        new = NewJob(
            id=job_id or uuid.uuid4(),
            job_type=definition.name,
            category=definition.category,
            subcategory=definition.subcategory,
            description=description or definition.description,
            parameters=spec.parameters,
            identity=spec.identity,
            organization=spec.organization,
            client_request_id=spec.client_request_id,
            key=spec.key,
            can_cancel=definition.can_cancel,
            can_rerun=definition.can_rerun,
            created_at=now,
            purge_at=now + (definition.retention or runtime.settings.retention),
            created_by=created_by or spec.identity,
            access_scope=spec.access_scope,
            housekeeping=definition.housekeeping,
            queue=queue or definition.queue_or(runtime.settings.queue),
            priority=priority,
            due_at=due_at,
            max_attempts=definition.retry.attempts_for(spec.max_attempts),
            runs_elsewhere=definition.runs_elsewhere,
            status_text=starts_text(due_at) if due_at is not None else None,
        )
        if due_at is None and not definition.runs_elsewhere:
            why = self._runtime.gate_snapshot().why_held(
                new.job_type, new.queue, new.organization, new.parameters
            )
            if why is not None:
                new = dataclasses.replace(new, held=True, status_text=why)
        audit = None if actor is None else _start_entry(new, actor, reason)
        if not runtime.writes.create(new, audit):
            existing = runtime.lookups.by_client_request(
                spec.organization, spec.client_request_id or ""
            )
            if existing is None:  # pragma: no cover - deleted in between
                raise DispatchError("the earlier job of this client request id just vanished")
            logger.info(
                "start repeated with the same client request id: the existing job returned",
                extra=job_fields(existing.id, existing.job_type, "start-repeat"),
            )
            return existing
        if new.due_at is not None or new.runs_elsewhere or new.held:
            logger.info(
                "job recorded; it waits for %s"
                % ("its runner" if new.runs_elsewhere else new.status_text),
                extra=job_fields(new.id, new.job_type, "start"),
            )
            return new.as_job()
        extra = dict(options or {})
        extra["headers"] = {**(extra.get("headers") or {}), JOB_HEADER: job_header(new)}
        try:
            queued_at = self.publish(
                definition.name,
                new.id,
                1,
                new.parameters,
                extra,
                queue=new.queue,
                priority=new.priority,
            )
        except DispatchError:
            runtime.writes.discard_unpublished(new.id)
            raise
        if logger.isEnabledFor(logging.INFO):
            logger.info("job started", extra=job_fields(new.id, new.job_type, "start"))
        return new.as_job(queued_at=queued_at)

    def publish(
        self,
        name: str,
        job_id: uuid.UUID,
        attempt: int,
        parameters: Mapping[str, JSONValue],
        options: Mapping[str, Any] | None = None,
        *,
        queue: str | None = None,
        priority: int = DEFAULT_PRIORITY,
    ) -> datetime:
        """Put one attempt's message on ``queue`` (default: the configured one) at
        ``priority``; returns when Queued was recorded."""
        settings = self._runtime.settings
        extra = dict(options or {})
        extra["queue"] = queue or settings.queue
        on_broker = broker_priority(priority, settings.effective_broker_url)
        if on_broker is not None:
            extra["priority"] = on_broker
        headers = dict(extra.pop("headers", None) or {})
        headers[ATTEMPT_HEADER] = attempt
        extra["task_id"] = str(job_id)
        extra["headers"] = headers
        extra.setdefault("argsrepr", "()")
        extra.setdefault("kwargsrepr", _short_repr(parameters))
        try:
            _, queued_at = self._send_recorded(name, None, dict(parameters), extra)
        except JobHubError:
            raise
        except Exception as exc:
            why = unprioritised_queue(extra["queue"], exc) or exc
            raise DispatchError(f"the broker did not take job {job_id}: {why}") from exc
        return queued_at

    def send(
        self,
        name: str,
        args: Any,
        kwargs: Mapping[str, Any] | None,
        definition: JobDefinition | None = None,
        **options: Any,
    ) -> AsyncResult:  # type: ignore[type-arg]
        """Publish a job type's message, making it a job first if nobody did."""
        headers = options.get("headers") or {}
        if ATTEMPT_HEADER not in headers and definition is not None:
            return self._start_unrecorded(definition, args, kwargs, options)
        result, _ = self._send_recorded(name, args, kwargs, options)
        return result

    def _send_recorded(
        self, name: str, args: Any, kwargs: Mapping[str, Any] | None, options: Mapping[str, Any]
    ) -> tuple[AsyncResult, datetime]:  # type: ignore[type-arg]
        """Send the message, stamped with its publish time, and have Queued recorded.

        Queued is a deferred write (grouped with others, within milliseconds). The time is
        taken before sending, so queued <= started holds even when a worker claims the job
        before the write lands, and it travels in the message: a worker that finds Queued
        missing (its producer died first) records it from there.
        """
        queued_at = self._runtime.clock()
        headers = dict(options["headers"])
        headers[QUEUED_AT_HEADER] = queued_at.isoformat()
        result = self._send_task(name, args, kwargs, **{**options, "headers": headers})
        attempt = int(headers[ATTEMPT_HEADER]) + int(options.get("retries") or 0)
        self._runtime.write_behind.transition(
            Transition(
                job_id=uuid.UUID(result.id),
                attempt=attempt,
                status=JobStatus.QUEUED,
                at=queued_at,
            )
        )
        return result, queued_at

    def _start_unrecorded(
        self,
        definition: JobDefinition,
        args: Any,
        kwargs: Mapping[str, Any] | None,
        options: Mapping[str, Any],
    ) -> AsyncResult:  # type: ignore[type-arg]
        """A publish jobhub did not prepare (``delay()``, ``apply_async``, ``send_task``,
        Celery's own beat): record it. Its ``queue`` and ``priority`` options become the
        job's (jobhub's priority: 0 to 9, higher first, whatever the broker), and a
        ``countdown`` or ``eta`` its due time: the message is held in the database, never
        as a Celery ETA in a worker's memory."""
        if args:
            raise InvalidInput(f"{definition.name} takes keyword parameters only")
        parameters = definition.validate(kwargs or {})
        rest = dict(options)
        task_id = rest.pop("task_id", None)
        queue = rest.pop("queue", None)
        priority = rest.pop("priority", None)
        due_at = _due_of(self._runtime.clock(), rest.pop("countdown", None), rest.pop("eta", None))
        job = self.start(
            definition,
            JobSpec(
                job_type=definition.name,
                parameters=parameters,
                queue=getattr(queue, "name", queue),  # a name or a kombu Queue
                priority=priority,
                due_at=due_at,
            ),
            created_by="celery",
            job_id=uuid.UUID(task_id) if task_id else None,
            options=rest,
        )
        return self._result(str(job.id))


def _start_entry(new: NewJob, actor: Actor, reason: str | None) -> AuditEntry:
    """The audit entry of ``new``'s start: what the manager records of every action on a
    job (its target the job, its type first in the details)."""
    details: dict[str, JSONValue] = {
        "job_type": new.job_type,
        "queue": new.queue,
        "priority": new.priority,
    }
    if new.due_at is not None:
        details["start_at"] = new.due_at.isoformat()
    return AuditEntry(
        at=new.created_at,
        actor=actor,
        action=AuditAction.START,
        target=f"job {new.id}",
        details=details,
        reason=reason,
    )


def _due_of(now: datetime, countdown: Any, eta: Any) -> datetime | None:
    """The due time Celery's ``countdown`` (seconds) or ``eta`` (a datetime or its ISO text,
    UTC when it has no zone, as Celery takes it) asks for."""
    if countdown is not None:
        try:
            seconds = float(countdown)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"countdown must be a number of seconds, got {countdown!r}"
            ) from None
        return due_time(now, delay=timedelta(seconds=seconds))
    if eta is None:
        return None
    try:
        at = eta if isinstance(eta, datetime) else datetime.fromisoformat(str(eta))
    except ValueError:
        raise InvalidInput(f"eta must be a date and time, got {eta!r}") from None
    return due_time(now, start_at=at if at.tzinfo else at.replace(tzinfo=UTC))


def _short_repr(parameters: Mapping[str, JSONValue], limit: int = 1024) -> str:
    """What Flower shows as the arguments: ``repr``, cut like Celery cuts it.

    Celery would compute it with its careful ``saferepr``, which costs a producer more
    than the rest of the publish; JSON parameters need no such care.
    """
    text = repr(dict(parameters))
    return text if len(text) <= limit else text[: limit - 3] + "..."


class JobHubCelery(Celery):
    """A Celery app that records every job type's message it publishes as a job."""

    def __init__(self, settings: Settings, runtime: Runtime | None = None) -> None:
        super().__init__("jobhub", broker=settings.effective_broker_url)
        self.jobhub_settings = settings
        self.runtime = runtime or Runtime(settings)
        self.dispatcher = Dispatcher(self.runtime, super().send_task, self.AsyncResult)

    def send_task(  # type: ignore[override]
        self, name: str, args: Any = None, kwargs: Any = None, **options: Any
    ) -> AsyncResult:  # type: ignore[type-arg]
        """Celery's ``send_task``; a job type's message goes through the dispatcher."""
        definition = find_definition(name)
        if definition is None:
            return super().send_task(name, args, kwargs, **options)
        return self.dispatcher.send(name, args, kwargs, definition, **options)
