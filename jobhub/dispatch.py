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
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from celery import Celery
from celery.result import AsyncResult

from jobhub.audit import Actor, AuditAction, AuditEntry
from jobhub.config import Settings
from jobhub.definitions import JobDefinition, find_definition
from jobhub.errors import DispatchError, InvalidInput, JobHubError, KeyConflict
from jobhub.jobs import Job, JobSpec, JobStatus, JSONValue, StartOutcome, StartState
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

PublishBatch = Callable[[Collection[str]], AbstractContextManager[tuple[Mapping[str, Any], bool]]]
"""A context for publishing to the named queues, in which ``send_task`` calls given its
options (the first of what it yields) are buffered and sent together when it exits, if
it yields True (kombu's ``Producer.batch``: one Redis pipeline), or sent one by one, if
False."""

PUBLISH_CHUNK = 500
"""Messages per publish batch of ``Dispatcher.start_many``."""


@dataclass(frozen=True, slots=True)
class StartRequest:
    """One checked item of a batch, as the dispatcher starts it."""

    definition: JobDefinition
    spec: JobSpec
    description: str | None = None


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
        batch: PublishBatch | None = None,
    ) -> None:
        """``batch`` groups the publishes of ``start_many`` (default: one by one)."""
        self._runtime = runtime
        self._send_task = send_task
        self._result = result
        self._batch = batch or _one_by_one

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
        new = self.new_job(definition, spec, description, created_by, job_id)
        audit = None if actor is None else _start_entry(new, actor, reason)
        if not runtime.writes.create(new, audit):
            existing = self._repeat_of(new)
            logger.info(
                "start repeated with the same client request id: the existing job returned",
                extra=job_fields(existing.id, existing.job_type, "start-repeat"),
            )
            return existing
        if _waits(new):
            return new.as_job()
        try:
            name, job_id, attempt, parameters, extra, queue, priority = _message(new, options)
            queued_at = self.publish(
                name, job_id, attempt, parameters, extra, queue=queue, priority=priority
            )
        except DispatchError:
            runtime.writes.discard_unpublished(new.id)
            raise
        if logger.isEnabledFor(logging.INFO):
            logger.info("job started", extra=job_fields(new.id, new.job_type, "start"))
        return new.as_job(queued_at=queued_at)

    def start_many(
        self,
        batch: Sequence[StartRequest],
        *,
        actor: Actor | None = None,
        reason: str | None = None,
    ) -> list[StartOutcome]:
        """Record a batch with one insert, then publish it in pipelined batches of
        ``PUBLISH_CHUNK``; returns each item's outcome, in order.

        When the broker fails: the chunks before are published; the items of the failing
        chunk that were handed to the broker are PENDING (recorded; the outbox publishes
        any whose message is missing); the rest are taken back and REFUSED with the
        DispatchError, as ``start`` takes back a job whose message failed.
        """
        runtime = self._runtime
        news = [self.new_job(r.definition, r.spec, r.description) for r in batch]
        audits = [None if actor is None else _start_entry(new, actor, reason) for new in news]
        created = runtime.writes.create_many(news, audits)
        outcomes: dict[int, StartOutcome] = {}
        waiting: list[int] = []
        skipped: list[int] = []
        for index, (new, fresh) in enumerate(zip(news, created, strict=True)):
            if not fresh:
                skipped.append(index)
            elif _waits(new):
                outcomes[index] = StartOutcome(StartState.STARTED, new.as_job())
            else:
                waiting.append(index)
        failure: DispatchError | None = None
        for first in range(0, len(waiting), PUBLISH_CHUNK):
            chunk = waiting[first : first + PUBLISH_CHUNK]
            if failure is None:
                chunk_outcomes, failure = self._publish_chunk([news[i] for i in chunk])
            else:  # the broker failed on an earlier chunk: these are not tried
                for index in chunk:
                    runtime.writes.discard_unpublished(news[index].id)
                chunk_outcomes = [StartOutcome(StartState.REFUSED, None, failure)] * len(chunk)
            outcomes.update(zip(chunk, chunk_outcomes, strict=True))
        if skipped:
            runtime.settle()  # a repeat of an item of this batch reads it Queued
            outcomes.update((index, self._not_created(news[index])) for index in skipped)
        logger.info(
            "batch of %d jobs: %s",
            len(news),
            ", ".join(
                f"{count} {state.value}"
                for state in StartState
                if (count := sum(o.state is state for o in outcomes.values()))
            ),
        )
        return [outcomes[index] for index in range(len(news))]

    def _publish_chunk(
        self, news: Sequence[NewJob]
    ) -> tuple[list[StartOutcome], DispatchError | None]:
        """Publish new jobs in one batch; their outcomes, and the broker's failure if any.

        A failure inside the batch, before it is sent, leaves nothing sent when the
        broker buffers (Redis), or what went before it sent when it does not: those are
        STARTED, the one that failed PENDING. A failure while the batch is sent leaves
        each message uncertain: PENDING. The rest are taken back: REFUSED.
        """
        stamps: list[datetime] = []
        buffered, sending = True, False
        try:
            with self._batch({new.queue for new in news}) as (options, buffered):
                for new in news:
                    name, job_id, attempt, parameters, extra, queue, priority = _message(
                        new, options
                    )
                    stamps.append(
                        self._send_stamped(
                            name, job_id, attempt, parameters, extra, queue, priority
                        )
                    )
                sending = True
            failure = None
        except Exception as exc:
            failure = _dispatch_error(f"a batch of {len(news)} jobs", exc)
            if sending:
                sent, uncertain = 0, len(news)
            elif buffered:
                sent, uncertain = 0, 0
            else:
                sent, uncertain = len(stamps), 1
        else:
            sent, uncertain = len(news), 0
        self._runtime.write_behind.transitions(
            [
                Transition(job_id=new.id, attempt=1, status=JobStatus.QUEUED, at=stamp)
                for new, stamp in zip(news[:sent], stamps[:sent], strict=True)
            ]
        )
        outcomes: list[StartOutcome] = []
        for position, new in enumerate(news):
            if position < sent:
                job = new.as_job(queued_at=stamps[position])
                outcomes.append(StartOutcome(StartState.STARTED, job))
            elif position < sent + uncertain:
                outcomes.append(StartOutcome(StartState.PENDING, new.as_job(), failure))
            else:
                self._runtime.writes.discard_unpublished(new.id)
                outcomes.append(StartOutcome(StartState.REFUSED, None, failure))
        return outcomes, failure

    def _repeat_of(self, new: NewJob) -> Job:
        """The job an earlier start with ``new``'s client request id made."""
        existing = self._runtime.lookups.by_client_request(
            new.organization, new.client_request_id or ""
        )
        if existing is None:  # pragma: no cover - deleted in between
            raise DispatchError("the earlier job of this client request id just vanished")
        return existing

    def _not_created(self, new: NewJob) -> StartOutcome:
        """A batch item the insert skipped: a repeat, or a key an active job holds."""
        if new.client_request_id is not None:
            existing = self._runtime.lookups.by_client_request(
                new.organization, new.client_request_id
            )
            if existing is not None:
                return StartOutcome(StartState.REPEATED, existing)
        error = KeyConflict(new.job_type, new.key or "")
        return StartOutcome(StartState.REFUSED, None, error)

    def new_job(
        self,
        definition: JobDefinition,
        spec: JobSpec,
        description: str | None = None,
        created_by: str | None = None,
        job_id: uuid.UUID | None = None,
    ) -> NewJob:
        """The row a start records: the type's defaults, the spec, its due time or hold."""
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
        return new

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
        try:
            queued_at = self._send_stamped(
                name, job_id, attempt, parameters, options, queue, priority
            )
        except JobHubError:
            raise
        except Exception as exc:
            queue_name = queue or self._runtime.settings.queue
            raise _dispatch_error(f"job {job_id}", exc, queue_name) from exc
        self._record_queued(job_id, attempt, queued_at)
        return queued_at

    def _send_stamped(
        self,
        name: str,
        job_id: uuid.UUID,
        attempt: int,
        parameters: Mapping[str, JSONValue],
        options: Mapping[str, Any] | None,
        queue: str | None,
        priority: int,
    ) -> datetime:
        """Send one attempt's message (Queued not recorded yet); returns its publish time."""
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
        _, queued_at = self._stamped_send_task(name, None, dict(parameters), extra)
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
        result, queued_at = self._stamped_send_task(name, args, kwargs, options)
        attempt = int(options["headers"][ATTEMPT_HEADER]) + int(options.get("retries") or 0)
        self._record_queued(uuid.UUID(result.id), attempt, queued_at)
        return result

    def _stamped_send_task(
        self, name: str, args: Any, kwargs: Mapping[str, Any] | None, options: Mapping[str, Any]
    ) -> tuple[AsyncResult, datetime]:  # type: ignore[type-arg]
        """Send the message stamped with its publish time; returns it and that time.

        The time is taken before sending, so queued <= started holds even when a worker
        claims the job before Queued is written, and it travels in the message: a worker
        that finds Queued missing (its producer died first) records it from there.
        """
        queued_at = self._runtime.clock()
        headers = dict(options["headers"])
        headers[QUEUED_AT_HEADER] = queued_at.isoformat()
        result = self._send_task(name, args, kwargs, **{**options, "headers": headers})
        return result, queued_at

    def _record_queued(self, job_id: uuid.UUID, attempt: int, at: datetime) -> None:
        """Queued, as a deferred write (grouped with others, within milliseconds)."""
        self._runtime.write_behind.transition(
            Transition(job_id=job_id, attempt=attempt, status=JobStatus.QUEUED, at=at)
        )

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


def _waits(new: NewJob) -> bool:
    """Whether a new job stays Created rather than being published now."""
    if new.due_at is None and not new.runs_elsewhere and not new.held:
        return False
    logger.info(
        "job recorded; it waits for %s" % ("its runner" if new.runs_elsewhere else new.status_text),
        extra=job_fields(new.id, new.job_type, "start"),
    )
    return True


def _message(
    new: NewJob, options: Mapping[str, Any] | None
) -> tuple[str, uuid.UUID, int, Mapping[str, JSONValue], dict[str, Any], str, int]:
    """``publish``'s arguments for a new job's first attempt (its row in a header)."""
    extra = dict(options or {})
    extra["headers"] = {**(extra.get("headers") or {}), JOB_HEADER: job_header(new)}
    return new.job_type, new.id, 1, new.parameters, extra, new.queue, new.priority


def _dispatch_error(what: str, exc: Exception, queue: str | None = None) -> DispatchError:
    why = (unprioritised_queue(queue, exc) if queue else None) or exc
    return DispatchError(f"the broker did not take {what}: {why}")


@contextmanager
def _one_by_one(queues: Collection[str]) -> Iterator[tuple[Mapping[str, Any], bool]]:
    """No batching: each publish goes out at once."""
    yield {}, False


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
        self.dispatcher = Dispatcher(
            self.runtime, super().send_task, self.AsyncResult, self._publish_batch
        )

    @contextmanager
    def _publish_batch(self, queues: Collection[str]) -> Iterator[tuple[Mapping[str, Any], bool]]:
        """One pooled producer whose publishes kombu buffers and sends together on exit
        (a Redis pipeline; brokers without batches publish each at once). The limit is
        above a chunk's commands, so nothing is sent before the exit. The queues are
        declared once here rather than at every message; a failure is the batch's (no
        retry per message: ``start_many`` decides what became of each)."""
        with self.producer_or_acquire() as producer, producer.batch(max_size=4 * PUBLISH_CHUNK):
            for name in queues:
                producer.maybe_declare(self.amqp.queues[name])
            options = {"producer": producer, "retry": False, "declare": []}
            yield options, bool(producer.supports_batch_publish)

    def send_task(  # type: ignore[override]
        self, name: str, args: Any = None, kwargs: Any = None, **options: Any
    ) -> AsyncResult:  # type: ignore[type-arg]
        """Celery's ``send_task``; a job type's message goes through the dispatcher."""
        definition = find_definition(name)
        if definition is None:
            return super().send_task(name, args, kwargs, **options)
        return self.dispatcher.send(name, args, kwargs, definition, **options)
