"""What a running job gets: who it is, progress reporting, user messages, its cancel flag.

Progress and messages are written behind, grouped, within milliseconds, so another process
(the CLI, the API, a waiting producer) reads them while the job runs, and a job reporting
in a tight loop costs one statement per flush, not one per call. Task bodies never touch
the lifecycle themselves; this is their only way to speak to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cached_property
from uuid import UUID

from jobhub.errors import InvalidInput, JobCancelled, StorageError
from jobhub.housekeeping import Housekeeping
from jobhub.jobs import JSONValue
from jobhub.lifecycle import Applied, NewMessage, Progress
from jobhub.logs import job_fields
from jobhub.runtime import Runtime

logger = logging.getLogger(__name__)

MESSAGE_LEVELS = ("info", "warning", "error")


class JobContext:
    """The running job's view of itself."""

    def __init__(
        self,
        *,
        runtime: Runtime,
        job_type: str,
        claim: Applied,
        worker_id: str,
        parameters: Mapping[str, JSONValue],
        housekeeping: Callable[[], Housekeeping],
    ) -> None:
        self._runtime = runtime
        self._clock = runtime.clock
        self._claim = claim
        self._job_type = job_type
        self._cancel_poll_interval = runtime.settings.cancel_poll_interval
        self._housekeeping = housekeeping
        self._cancel_checked_at = float("-inf")
        self._cancelled = False
        self.worker_id = worker_id
        self.parameters = dict(parameters)

    @property
    def job_id(self) -> UUID:
        return self._claim.job_id

    @property
    def job_type(self) -> str:
        return self._job_type

    @property
    def attempt(self) -> int:
        """The job's attempt number (every attempt it ever had, reruns included)."""
        return self._claim.attempt

    @property
    def attempt_in_run(self) -> int:
        """Which attempt of this run this is: 1, then 2 after a retry, ..."""
        return self._claim.retries + 1

    @property
    def max_attempts(self) -> int:
        """Attempts this run may take (its retry policy, or what its start asked for)."""
        return self._claim.max_attempts

    @property
    def identity(self) -> str | None:
        """Who submitted the job."""
        return self._claim.identity

    @property
    def organization(self) -> str:
        return self._claim.organization

    def now(self) -> datetime:
        """The current time (UTC), from jobhub's clock."""
        return self._clock()

    @cached_property
    def housekeeping(self) -> Housekeeping:
        """Retention, recovery and counts over the job history, for the jobs that keep it
        (``maintenance.*``) and report on it (``reports.job_statistics``)."""
        return self._housekeeping()

    def progress(self, percent: float, text: str | None = None) -> None:
        """Report percent complete (0 to 100) and, optionally, a status text.

        Raises JobCancelled when the job's cancellation was requested, so a job that
        reports progress stops without further code.
        """
        if not 0 <= percent <= 100:
            raise InvalidInput(f"percent must be between 0 and 100, got {percent}")
        self._runtime.write_behind.progress(
            Progress(
                job_id=self.job_id,
                attempt=self.attempt,
                at=self._clock(),
                percent=int(percent),
                status_text=text,
            )
        )
        self.check_cancelled()

    def status(self, text: str) -> None:
        """Set the status text shown with the job."""
        self._runtime.write_behind.progress(
            Progress(job_id=self.job_id, attempt=self.attempt, at=self._clock(), status_text=text)
        )

    def message(self, text: str, *, level: str = "info") -> None:
        """Post a message for the job's user (1C ``GetUserMessages``), kept in order."""
        if level not in MESSAGE_LEVELS:
            raise InvalidInput(f"message level must be one of {', '.join(MESSAGE_LEVELS)}")
        self._runtime.write_behind.message(
            NewMessage(
                job_id=self.job_id, attempt=self.attempt, at=self._clock(), level=level, text=text
            )
        )

    @property
    def cancel_requested(self) -> bool:
        """Whether someone asked this job to stop (read at most every poll interval)."""
        if self._cancelled:
            return True
        now = time.monotonic()
        if now - self._cancel_checked_at >= self._cancel_poll_interval:
            self._cancel_checked_at = now
            try:
                self._cancelled = self._runtime.writes.cancel_requested(self.job_id)
            except StorageError as exc:  # the database is away: keep running
                logger.warning(
                    "cannot read the cancel flag: %s",
                    exc,
                    extra=job_fields(self.job_id, self._job_type, "cancel-check"),
                )
        return self._cancelled

    def check_cancelled(self) -> None:
        """Raise JobCancelled if cancellation was requested; call it between units of work."""
        if self.cancel_requested:
            logger.info(
                "job sees its cancel request",
                extra=job_fields(self.job_id, self._job_type, "cancel-seen"),
            )
            raise JobCancelled()

    def sleep(self, seconds: float) -> None:
        """Sleep, waking early (with JobCancelled) if the job is cancelled meanwhile."""
        deadline = time.monotonic() + seconds
        while True:
            self.check_cancelled()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, self._cancel_poll_interval))
