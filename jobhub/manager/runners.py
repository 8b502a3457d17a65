"""``Runners``: jobs that run elsewhere, claimed, reported on and finished by their runner.

A job type declared with ``declare_elsewhere`` is run by something outside jobhub's
workers: another service, a script, a device (the ``api.job`` seed's ``setJobRunning``,
``setJob``, ``setJobFinished``). Its jobs wait Created until a runner:

* **claims** one: the job becomes Processing with the runner's name as its worker id;
* **reports** on it: percent, status text, a message, or nothing at all. Every report is
  also the runner's heartbeat: a claimed job silent for longer than its type's
  ``runner_timeout`` is handled by the reaper as a lost worker's job is
  (``jobhub.housekeeping.reaper``);
* **finishes** it: with a result (Completed), with an error (the type's retry policy
  decides, as for a worker's failure: the next attempt waits Created for a runner, or the
  job ends CompletedWithErrors), or Cancelled once someone asked to cancel it.

The database decides every race. The claim is the attempt's Processing transition, so of
two runners exactly one gets it; a report applies only while its runner holds the attempt
(``Writes.report``); the finish is the held attempt's terminal transition, or its reopen.
An attempt, once claimed, is held by that runner for good (only a reopen makes a new
attempt), so a read naming the holder safely refuses another runner; other reads only
word a refusal. Anything that would move a job backwards (a report or a finish after the
finish, a claim of a claimed job) raises ``ReportRefused``.
"""

from __future__ import annotations

import json
import logging
from uuid import UUID

from jobhub.documents import result_document
from jobhub.errors import DoNotRetry, InvalidInput, ReportRefused
from jobhub.housekeeping.retry import retry_later
from jobhub.jobs import Job, JobError, JobStatus, JSONValue
from jobhub.lifecycle import RunnerReport, Transition
from jobhub.logs import job_fields
from jobhub.manager.access import MAX_TEXT
from jobhub.manager.base import job_uuid
from jobhub.parameters import unstorable_text
from jobhub.runtime import Runtime
from jobhub.worker.context import MESSAGE_LEVELS

logger = logging.getLogger(__name__)

RUNNER_ERROR = "RunnerError"
"""The error type of a finish that gives only a message."""


class Runners:
    """The runner's side of jobs that run elsewhere: claim, report, finish."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def claim(self, job_id: UUID | str, runner: str) -> Job:
        """Take a job that waits for its runner; it becomes Processing under ``runner``.

        Claiming again a job ``runner`` already holds returns it (a retried request).
        Raises ReportRefused when another runner holds it or it ended, InvalidInput when
        its type is run by jobhub's workers, JobNotFound for an unknown id.
        """
        name = runner_name(runner)
        job = self._elsewhere(job_id)
        if _holds(job, name):
            if self._runtime.writes.report(self._report(job, name)):
                return self._get(job.id)
            job = self._get(job.id)
        elif job.status is JobStatus.CREATED:
            claim = self._transition(
                job, name, JobStatus.PROCESSING, message=_claim_text(job, name)
            )
            if self._runtime.writes.write(transitions=[claim])[0] is not None:
                logger.info(
                    "job claimed by runner %s",
                    name,
                    extra=job_fields(job.id, job.job_type, "claim", attempt=job.attempt),
                )
                return self._get(job.id)
            job = self._get(job.id)
        raise _refused(job, name, "claim")

    def report(
        self,
        job_id: UUID | str,
        runner: str,
        *,
        percent: float | None = None,
        status_text: str | None = None,
        message: str | None = None,
        level: str = "info",
        attempt: int | None = None,
    ) -> Job:
        """Report on a job ``runner`` holds: percent (0 to 100), status text, a message
        for its user; with none of them, only that the runner is alive. ``attempt`` (the
        one its claim returned) refuses the report once the job is on another attempt,
        such as one the same runner claimed again after it was taken for lost.

        Returns the job (``cancel_requested`` says whether someone asked it to stop).
        Raises ReportRefused when ``runner`` does not hold it (not claimed, ended,
        another runner's), InvalidInput for bad values.
        """
        name = runner_name(runner)
        if percent is not None and not 0 <= percent <= 100:
            raise InvalidInput(f"percent must be between 0 and 100, got {percent}")
        if level not in MESSAGE_LEVELS:
            raise InvalidInput(f"message level must be one of {', '.join(MESSAGE_LEVELS)}")
        if message is not None and not message.strip():
            raise InvalidInput("a message needs some text")
        _check_text("status text", status_text)
        _check_text("message", message)
        job = self._elsewhere(job_id)
        _check_attempt(job, name, attempt, "report on")
        report = self._report(
            job,
            name,
            percent=None if percent is None else int(percent),
            status_text=status_text,
            message=message,
            level=level,
        )
        if not _holds(job, name) or not self._runtime.writes.report(report):
            raise _refused(self._get(job.id), name, "report on")
        return self._get(job.id)

    def finish(
        self,
        job_id: UUID | str,
        runner: str,
        *,
        result: JSONValue = None,
        error: JobError | str | None = None,
        retry: bool = True,
        cancelled: bool = False,
        attempt: int | None = None,
    ) -> Job:
        """End the attempt ``runner`` holds (``attempt``, when given, as for ``report``):
        Completed with ``result`` (JSON); with ``error`` (a JobError, or a message) as a
        worker's failure ends (the type's retry policy may give it another attempt,
        unless ``retry`` is False); or Cancelled, when ``cancelled`` and someone asked to
        cancel it.

        A result larger than ``Settings.inline_result_limit`` is stored as a document,
        as a worker's is. Raises ReportRefused when ``runner`` does not hold the job (it
        already ended, or another runner's), InvalidInput for a result that is not JSON
        or for both a result and an error.
        """
        name = runner_name(runner)
        failure = _error(error)
        if cancelled and (failure is not None or result is not None):
            raise InvalidInput("a cancelled job has neither a result nor an error")
        if failure is not None and result is not None:
            raise InvalidInput("finish with a result or with an error, not both")
        encoded = None if failure is not None or cancelled else _encoded(result)
        job = self._elsewhere(job_id)
        _check_attempt(job, name, attempt, "finish")
        if not _holds(job, name):
            raise _refused(job, name, "finish")
        if cancelled and not job.cancel_requested:
            raise ReportRefused(f"nobody asked to cancel job {job.id}; finish it otherwise")
        if failure is not None:
            return self._fail(job, name, failure, retry)
        if cancelled:
            ending = self._transition(
                job, name, JobStatus.CANCELLED, message="Cancelled by its runner"
            )
        else:
            if encoded is not None and len(encoded) > self._runtime.settings.inline_result_limit:
                self._store_result(job, encoded)
                result = None
            ending = self._transition(job, name, JobStatus.COMPLETED, result=result)
        self._end(job, name, ending)
        status = ending.status
        logger.info(
            "job finished by runner %s: %s",
            name,
            status.label,
            extra=job_fields(job.id, job.job_type, "finish", attempt=job.attempt),
        )
        return self._get(job.id)

    # -- the steps -----------------------------------------------------------------------

    def _fail(self, job: Job, runner: str, error: JobError, retry: bool) -> Job:
        """Its next attempt when the policy allows, else CompletedWithErrors."""
        cause: BaseException | str = error.type if retry else DoNotRetry(error.message)
        if retry_later(self._runtime, job, error=error, cause=cause) is not None:
            return self._get(job.id)
        self._end(
            job, runner, self._transition(job, runner, JobStatus.COMPLETED_WITH_ERRORS, error=error)
        )
        logger.error(
            "job failed: %s: %s",
            error.type,
            error.message,
            extra=job_fields(job.id, job.job_type, "fail", attempt=job.attempt),
        )
        return self._get(job.id)

    def _end(self, job: Job, runner: str, transition: Transition) -> None:
        if self._runtime.writes.write(transitions=[transition])[0] is None:
            raise _refused(self._get(job.id), runner, "finish")

    def _store_result(self, job: Job, encoded: str) -> None:
        """Keep a large result as the attempt's document (``jobhub.documents``)."""
        document = result_document(
            job_type=job.job_type,
            job_id=job.id,
            attempt=job.attempt,
            size=len(encoded),
            now=self._runtime.clock(),
            link_ttl=self._runtime.settings.publish_link_ttl,
            purge_at=job.purge_at,
        )
        self._runtime.documents.put(
            document, encoded.encode(), self._runtime.settings.documents_dir
        )

    def _transition(
        self,
        job: Job,
        runner: str,
        status: JobStatus,
        *,
        message: str | None = None,
        result: JSONValue = None,
        error: JobError | None = None,
    ) -> Transition:
        """Move the attempt ``job`` is at (the rule refuses it once that attempt moved on)."""
        return Transition(
            job_id=job.id,
            attempt=job.attempt,
            status=status,
            at=self._runtime.clock(),
            worker_id=runner,
            message=message,
            result=result,
            error=error,
        )

    def _report(
        self,
        job: Job,
        runner: str,
        *,
        percent: int | None = None,
        status_text: str | None = None,
        message: str | None = None,
        level: str = "info",
    ) -> RunnerReport:
        return RunnerReport(
            job_id=job.id,
            attempt=job.attempt,
            runner=runner,
            at=self._runtime.clock(),
            percent=percent,
            status_text=status_text,
            message=message,
            level=level,
        )

    def _get(self, job_id: UUID) -> Job:
        return self._runtime.lookups.get(job_id)

    def _elsewhere(self, job_id: UUID | str) -> Job:
        """The job, which must be of a type that runs elsewhere; JobNotFound otherwise."""
        job = self._get(job_uuid(job_id))
        if not job.runs_elsewhere:
            raise InvalidInput(
                f"job {job.id} ({job.job_type}) is run by jobhub's workers, not by a runner"
            )
        return job


def runner_name(runner: str) -> str:
    """A runner's name as given, checked: 1 to 200 characters of text."""
    if not isinstance(runner, str) or not runner.strip() or len(runner) > MAX_TEXT:
        raise InvalidInput(f"a runner is named by 1 to {MAX_TEXT} characters of text")
    if unstorable_text(runner, "runner") is not None:
        raise InvalidInput("runner is not storable text (a NUL character or invalid UTF-8)")
    return runner


def _check_text(label: str, text: str | None) -> None:
    if text is not None and unstorable_text(text, label) is not None:
        raise InvalidInput(f"{label} is not storable text (a NUL character or invalid UTF-8)")


def _error(error: JobError | str | None) -> JobError | None:
    if error is None:
        return None
    found = JobError(type=RUNNER_ERROR, message=error) if isinstance(error, str) else error
    if not found.type.strip() or len(found.type) > MAX_TEXT:
        raise InvalidInput(f"an error type is 1 to {MAX_TEXT} characters")
    if not found.message.strip():
        raise InvalidInput("an error needs a message")
    for label, text in (
        ("error type", found.type),
        ("error message", found.message),
        ("traceback", found.traceback),
    ):
        _check_text(label, text)
    return found


def _encoded(result: JSONValue) -> str:
    """The result as JSON text (ASCII, so its length is its size); InvalidInput if it is
    not JSON or holds text no database can store."""
    try:
        encoded = json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"the result is not JSON: {exc}") from None
    where = unstorable_text(result, "result")
    if where is not None:
        raise InvalidInput(f"{where} is not storable text (a NUL character or invalid UTF-8)")
    return encoded


def _check_attempt(job: Job, runner: str, attempt: int | None, action: str) -> None:
    """Refuse a report or finish meant for another attempt than the job's. The write
    itself is guarded on the attempt read here, so the database still decides."""
    if attempt is not None and attempt != job.attempt:
        raise ReportRefused(
            f"runner {runner!r} cannot {action} attempt {attempt} of job {job.id}:"
            f" it is on attempt {job.attempt}"
        )


def _holds(job: Job, runner: str) -> bool:
    return job.status is JobStatus.PROCESSING and job.worker_id == runner


def _claim_text(job: Job, runner: str) -> str:
    if job.retries:
        return f"attempt {job.attempt_in_run} of {job.max_attempts}, claimed by {runner}"
    return f"claimed by {runner}"


def _refused(job: Job, runner: str, action: str) -> ReportRefused:
    """Why ``runner`` may not ``action`` ``job`` as it stands (a read, to word it)."""
    if job.status.is_terminal:
        why = f"it already ended {job.status.label}"
    elif job.status is JobStatus.PROCESSING and job.worker_id != runner:
        why = f"runner {job.worker_id!r} holds it"
    elif job.status is JobStatus.PROCESSING:
        why = "it changed meanwhile; read it again"
    else:
        why = "it waits for a runner's claim" if action != "claim" else "it changed meanwhile"
    return ReportRefused(f"runner {runner!r} cannot {action} job {job.id}: {why}")
