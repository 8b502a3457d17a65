"""Celery signal receivers that persist how a job's attempt ended.

* ``task_success``  -> Completed, with the result (which must be JSON); a result larger
  than ``Settings.inline_result_limit`` is stored as a document first (``jobhub.documents``);
* ``task_failure``  -> the next attempt, when the type's retry policy retries the error
  and attempts are left (``jobhub.housekeeping.retry``); otherwise CompletedWithErrors,
  with error type, message and traceback (also sent by the worker's main process for a
  hard time limit or a lost worker);
* ``task_revoked``  -> Cancelled (a revoke reaches the worker before the job ran);
* ``worker_ready``  -> the worker registers the job types it can run (and their declared
  limits) and starts its heartbeat, its publisher of due and released held jobs
  (``jobhub.housekeeping.due``, ``jobhub.housekeeping.release``), its advancer of
  workflows (``jobhub.housekeeping.advance``) and its folder of the
  history into the statistics (``jobhub.housekeeping.folding``);
  ``worker_shutdown`` stops them;
* ``task_unknown`` / ``task_rejected`` -> a dead letter (``jobhub.worker.dead_letters``);
* a pool process that died under a job (``WorkerLostError``, in the main process) hands
  the job to ``jobhub.housekeeping.reaper`` at once.

Processing is written by ``JobTask`` when it claims the attempt, Created and Queued by
the dispatcher. Receivers only act on jobhub's own tasks. ``connect()`` is idempotent.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from uuid import UUID

from billiard.exceptions import WorkerLostError
from celery import signals
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.worker.request import Request

from jobhub.definitions import all_definitions
from jobhub.documents import result_document
from jobhub.errors import JobHubError, JobNotFound
from jobhub.housekeeping.advance import WorkflowAdvancer
from jobhub.housekeeping.due import DueLoop, DuePublisher
from jobhub.housekeeping.folding import FoldLoop
from jobhub.housekeeping.reaper import Reaper
from jobhub.housekeeping.release import HeldReleaser
from jobhub.housekeeping.retry import may_retry, retry_by_id
from jobhub.jobs import JobError, JobStatus
from jobhub.lifecycle import Transition
from jobhub.logs import job_fields
from jobhub.messages import ATTEMPT_HEADER, attempt_of
from jobhub.runtime import Runtime
from jobhub.worker import dead_letters
from jobhub.worker.heartbeat import Heartbeat, worker_id_of
from jobhub.worker.task import JobTask

logger = logging.getLogger(__name__)


def connect() -> None:
    """Connect the receivers (once per process, whatever the number of apps)."""
    signals.task_success.connect(_on_success, weak=False, dispatch_uid="jobhub.success")
    signals.task_failure.connect(_on_failure, weak=False, dispatch_uid="jobhub.failure")
    signals.task_revoked.connect(_on_revoked, weak=False, dispatch_uid="jobhub.revoked")
    signals.worker_ready.connect(_on_worker_ready, weak=False, dispatch_uid="jobhub.ready")
    signals.task_unknown.connect(_on_unknown, weak=False, dispatch_uid="jobhub.unknown")
    signals.task_rejected.connect(_on_rejected, weak=False, dispatch_uid="jobhub.rejected")
    signals.worker_shutdown.connect(_on_worker_shutdown, weak=False, dispatch_uid="jobhub.shutdown")


def _on_success(sender: Any = None, result: Any = None, **_: Any) -> None:
    if not isinstance(sender, JobTask):
        return
    request = sender.request
    job_id = UUID(request.id)
    runtime = sender.app.runtime  # type: ignore[attr-defined]
    status, error = JobStatus.COMPLETED, None
    attempt = attempt_of(request)
    try:
        # ASCII (json.dumps escapes the rest), so its length is its size in bytes
        encoded = json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as exc:
        status = JobStatus.COMPLETED_WITH_ERRORS
        error = JobError(type="ResultNotSerializable", message=f"the result is not JSON: {exc}")
        result = None
        logger.error(
            "job failed: its result is not JSON: %s",
            exc,
            extra=job_fields(job_id, sender.name, "fail", attempt=attempt),
        )
    else:
        if len(encoded) > runtime.settings.inline_result_limit:
            result = None
            try:
                _store_result_document(runtime, sender.name, job_id, attempt, encoded.encode())
            except JobHubError as exc:
                status = JobStatus.COMPLETED_WITH_ERRORS
                error = JobError(type="ResultNotStored", message=f"the result is lost: {exc}")
                logger.error(
                    "job failed: its result document was not stored: %s",
                    exc,
                    extra=job_fields(job_id, sender.name, "fail", attempt=attempt),
                )
    runtime.write_behind.write_or_keep(
        [
            Transition(
                job_id=job_id,
                attempt=attempt,
                status=status,
                at=runtime.clock(),
                worker_id=worker_id_of(request),
                result=result,
                error=error,
            )
        ]
    )


def _store_result_document(
    runtime: Runtime, job_type: str, job_id: UUID, attempt: int, encoded: bytes
) -> None:
    """Keep a large result as the attempt's document; it expires with its publish link."""
    document = result_document(
        job_type=job_type,
        job_id=job_id,
        attempt=attempt,
        size=len(encoded),
        now=runtime.clock(),
        link_ttl=runtime.settings.publish_link_ttl,
        purge_at=runtime.lookups.get(job_id).purge_at,
    )
    runtime.documents.put(document, encoded, runtime.settings.documents_dir)


def _on_failure(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    einfo: Any = None,
    **_: Any,
) -> None:
    if not isinstance(sender, JobTask) or task_id is None:
        return
    job_id = UUID(task_id)
    runtime = sender.app.runtime  # type: ignore[attr-defined]
    request = sender.request
    in_request = request is not None and request.id == task_id
    attempt = attempt_of(request) if in_request else _current_attempt(runtime, job_id)
    if attempt is None:
        return
    if isinstance(exception, WorkerLostError) and not in_request:
        why = f"worker process lost: {exception}"
        Reaper(runtime).recover_by_id(job_id, attempt, why)
        return
    error = JobError(
        type=type(exception).__name__ if exception is not None else "Error",
        message=_describe(exception, sender),
        traceback=str(einfo.traceback) if einfo is not None else None,
    )
    cause = exception if exception is not None else error.type
    if may_retry(sender.name, cause):
        try:
            if retry_by_id(runtime, job_id, attempt, error=error, cause=cause) is not None:
                return
        except JobHubError as exc:  # the database is away: the attempt ends as it is
            logger.warning(
                "could not retry the job: %s",
                exc,
                extra=job_fields(job_id, sender.name, "retry", attempt=attempt),
            )
    logger.error(
        "job failed: %s: %s",
        error.type,
        error.message,
        extra=job_fields(job_id, sender.name, "fail", attempt=attempt),
    )
    runtime.write_behind.write_or_keep(
        [
            Transition(
                job_id=job_id,
                attempt=attempt,
                status=JobStatus.COMPLETED_WITH_ERRORS,
                at=runtime.clock(),
                worker_id=worker_id_of(request) if in_request else None,
                error=error,
            )
        ]
    )


def _on_revoked(sender: Any = None, request: Request | None = None, **_: Any) -> None:
    task = getattr(request, "task", None)
    if not isinstance(task, JobTask) or request is None:
        return
    job_id = UUID(request.id)
    runtime = task.app.runtime  # type: ignore[attr-defined]
    headers = getattr(request, "request_dict", {}) or {}
    base = headers.get(ATTEMPT_HEADER)
    attempt = (
        int(base) + int(headers.get("retries") or 0)
        if base is not None
        else _current_attempt(runtime, job_id)
    )
    if attempt is None:
        return
    runtime.write_behind.write_or_keep(
        [
            Transition(
                job_id=job_id,
                attempt=attempt,
                status=JobStatus.CANCELLED,
                at=runtime.clock(),
                message="Cancelled (revoked)",
            )
        ]
    )


def _on_unknown(
    sender: Any = None, message: Any = None, exc: Any = None, name: Any = None, **_: Any
) -> None:
    _dead_letter(sender, message, "unknown task", f"no job type or task is named {name!r}")


def _on_rejected(sender: Any = None, message: Any = None, exc: Any = None, **_: Any) -> None:
    detail = f"{type(exc).__name__}: {exc}" if exc is not None else "not a task message"
    _dead_letter(sender, message, "invalid message", detail)


def _dead_letter(consumer: Any, message: Any, reason: str, detail: str) -> None:
    runtime = getattr(getattr(consumer, "app", None), "runtime", None)
    if runtime is None or message is None:
        return
    letter = dead_letters.from_message(
        message,
        reason=reason,
        detail=detail,
        worker=getattr(consumer, "hostname", None),
        at=runtime.clock(),
    )
    dead_letters.record(runtime, letter)


def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    app = getattr(sender, "app", None)
    runtime = getattr(app, "runtime", None)
    if runtime is None:
        return
    now = runtime.clock()
    try:
        for definition in all_definitions():
            runtime.types.register(definition.name, definition.start_type, now, overwrite=False)
            runtime.gates.sync_declared(definition.name, definition.limits, at=now)
    except JobHubError as exc:
        logger.warning("could not register job types: %s", exc)
    global _heartbeat, _due_loop, _fold_loop
    node = getattr(sender, "hostname", None) or "worker"
    _heartbeat = Heartbeat(
        runtime.workers, node, runtime.settings.heartbeat_interval, queues=_queues_of(sender)
    )
    _heartbeat.start()
    publish = app.dispatcher.publish  # type: ignore[union-attr]
    _due_loop = DueLoop(
        DuePublisher(runtime, publish),
        releaser=HeldReleaser(runtime, publish),
        advancer=WorkflowAdvancer(runtime, publish),
    )
    _due_loop.start()
    _fold_loop = FoldLoop(runtime)
    _fold_loop.start()


_heartbeat: Heartbeat | None = None
_due_loop: DueLoop | None = None
_fold_loop: FoldLoop | None = None


def _on_worker_shutdown(**_: Any) -> None:
    global _heartbeat, _due_loop, _fold_loop
    if _fold_loop is not None:
        _fold_loop.stop()
        _fold_loop = None
    if _due_loop is not None:
        _due_loop.stop()
        _due_loop = None
    if _heartbeat is not None:
        _heartbeat.stop()
        _heartbeat = None


def _queues_of(worker: Any) -> tuple[str, ...]:
    """The queues a worker consumes (``-Q``), as its consumer holds them."""
    try:
        return tuple(sorted(worker.app.amqp.queues.consume_from))
    except AttributeError:
        return ()


def _current_attempt(runtime: Any, job_id: UUID) -> int | None:
    try:
        return int(runtime.lookups.get(job_id).attempt)
    except JobNotFound:
        return None


def _describe(exception: BaseException | None, task: JobTask) -> str:
    if isinstance(exception, SoftTimeLimitExceeded | TimeLimitExceeded):
        limit = task.soft_time_limit or task.app.conf.task_soft_time_limit
        return f"the job exceeded its time limit ({limit} s)"
    return str(exception) if exception is not None else "unknown error"
