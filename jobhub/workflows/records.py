"""A workflow as read back: its record and its steps, each with its job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from jobhub.jobs import Job, JobStatus
from jobhub.workflows.spec import StepPolicy


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowStep:
    """One step: its name, when it may start, and the job that runs it."""

    name: str
    after: tuple[str, ...]
    policy: StepPolicy
    results: str | None
    job: Job
    not_needed: bool = False
    """Its job ended Cancelled because nothing called for it (an ``on_failure`` step
    after steps that all Completed): not a failure."""

    @property
    def status(self) -> JobStatus:
        return self.job.status


@dataclass(frozen=True, slots=True, kw_only=True)
class Workflow:
    """A workflow: status derived from its steps (Processing until every step ended;
    then Cancelled if it was cancelled, Completed if every step Completed or was not
    needed, else CompletedWithErrors)."""

    id: UUID
    name: str
    status: JobStatus
    identity: str | None
    organization: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    cancel_requested_at: datetime | None
    steps: tuple[WorkflowStep, ...] = ()

    @property
    def started_at(self) -> datetime | None:
        """When its first step started running."""
        times = [step.job.started_at for step in self.steps if step.job.started_at is not None]
        return min(times, default=None)

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    def step(self, name: str) -> WorkflowStep:
        """The step called ``name``; KeyError when there is none."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def may_rerun(self, name: str) -> bool:
        """Whether step ``name`` runs again on a rerun: it ended without completing, and
        its policy accepts how the steps it follows ended (a step skipped because one
        failed waits for that one's rerun instead)."""
        step = self.step(name)
        if step.status is JobStatus.COMPLETED or not step.status.is_terminal or step.not_needed:
            return False
        completed = all(self.step(d).status is JobStatus.COMPLETED for d in step.after)
        return step.policy.runs_after(completed)

    def failed_steps(self) -> list[str]:
        """The steps a rerun of the whole workflow runs again."""
        return [step.name for step in self.steps if self.may_rerun(step.name)]

    def counts(self) -> dict[JobStatus, int]:
        """How many of its steps are in each status."""
        counts: dict[JobStatus, int] = {}
        for step in self.steps:
            counts[step.status] = counts.get(step.status, 0) + 1
        return counts
