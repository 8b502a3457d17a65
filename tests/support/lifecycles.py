"""Jobs recorded and moved through the real write path (``Runtime.writes``), as producers,
workers, the reaper and operators move them: known lifecycles for the statistics' tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from jobhub.jobs import JobError, JobStatus
from jobhub.lifecycle import NewJob, Reopen, ReopenReason, Transition
from jobhub.runtime import Runtime

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)
C, Q, P = JobStatus.CREATED, JobStatus.QUEUED, JobStatus.PROCESSING
DONE, FAILED, CANCELLED = (
    JobStatus.COMPLETED,
    JobStatus.COMPLETED_WITH_ERRORS,
    JobStatus.CANCELLED,
)


@dataclass
class Jobs:
    """Jobs recorded and moved as producers, workers, the reaper and operators do."""

    runtime: Runtime
    made: int = 0
    ids: list[uuid.UUID] = field(default_factory=list)

    def create(
        self, job_type: str = "tests.a", *, at: datetime = T0, organization: str = "acme"
    ) -> uuid.UUID:
        self.made += 1
        job = NewJob(
            id=uuid.uuid4(),
            job_type=job_type,
            category="Tests",
            subcategory="",
            description="counted",
            parameters={},
            identity="alice",
            organization=organization,
            client_request_id=None,
            key=None,
            can_cancel=True,
            can_rerun=True,
            created_at=at,
            purge_at=at + timedelta(days=1),
            created_by="alice",
            max_attempts=3,
        )
        assert self.runtime.writes.create(job)
        self.ids.append(job.id)
        return job.id

    def move(
        self, job_id: uuid.UUID, status: JobStatus, at: datetime, *, attempt: int = 1, **kw: Any
    ) -> None:
        if status is P:
            kw.setdefault("worker_id", "w1@host/1/7")
        if status is FAILED:
            kw.setdefault("error", JobError(type="RuntimeError", message="no", traceback=""))
        transition = Transition(job_id=job_id, attempt=attempt, status=status, at=at, **kw)
        assert self.runtime.writes.write(transitions=[transition])[0] is not None

    def run(
        self, job_id: uuid.UUID, end: JobStatus, start: datetime, seconds: float, attempt: int = 1
    ) -> None:
        self.move(job_id, Q, start - S, attempt=attempt)
        self.move(job_id, P, start, attempt=attempt)
        self.move(job_id, end, start + timedelta(seconds=seconds), attempt=attempt)

    def retry(self, job_id: uuid.UUID, at: datetime, attempt: int = 1) -> None:
        """The attempt failed and the policy queues the next one (or the reaper did)."""
        reopened = self.runtime.writes.reopen(
            Reopen(
                job_id=job_id,
                attempt=attempt,
                reason=ReopenReason.RETRY,
                at=at,
                message="attempt 2 of 3",
                failed=JobError(type="OSError", message="flaky", traceback=""),
                failed_message="attempt 1 of 3 failed",
                due_at=at,
            )
        )
        assert reopened == attempt + 1

    def rerun(self, job_id: uuid.UUID, at: datetime, attempt: int = 1) -> None:
        reopened = self.runtime.writes.reopen(
            Reopen(
                job_id=job_id, attempt=attempt, reason=ReopenReason.RERUN, at=at, message="rerun"
            )
        )
        assert reopened == attempt + 1

    def cancel(self, job_id: uuid.UUID, at: datetime, *, running: bool = False) -> None:
        assert self.runtime.writes.request_cancel(
            job_id, at=at, actor="ann", cancel_running=running
        )


def known_lifecycles(jobs: Jobs) -> None:
    """The jobs whose figures ``EXPECTED`` states."""
    done = jobs.create()
    jobs.run(done, DONE, T0 + 10 * S, 5)
    failed = jobs.create()
    jobs.run(failed, FAILED, T0 + 10 * S, 2)
    never_ran = jobs.create()
    jobs.cancel(never_ran, T0 + 3 * S)
    retried = jobs.create()
    jobs.move(retried, Q, T0 + S)
    jobs.move(retried, P, T0 + 2 * S)
    jobs.retry(retried, T0 + 4 * S)
    jobs.run(retried, DONE, T0 + 70 * S, 3, attempt=2)
    stopped = jobs.create()
    jobs.move(stopped, Q, T0 + S)
    jobs.move(stopped, P, T0 + 2 * S)
    jobs.cancel(stopped, T0 + 3 * S, running=True)  # a Processing event, not a new attempt
    jobs.move(stopped, CANCELLED, T0 + 4 * S)
    rerun = jobs.create()
    jobs.run(rerun, DONE, T0 + 10 * S, 4)
    jobs.rerun(rerun, T0 + 100 * S)
    jobs.run(rerun, DONE, T0 + 130 * S, 4, attempt=2)
    waiting = jobs.create("tests.b", organization="globex")
    jobs.move(waiting, Q, T0 + S)
    running = jobs.create("tests.b", organization="globex")
    jobs.move(running, Q, T0 + S)
    jobs.move(running, P, T0 + 2 * S)
