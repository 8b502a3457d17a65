"""The job manager's workflows: start one, read them, cancel one, rerun its failed steps.

A workflow is checked whole (``jobhub.workflows.spec.checked``) before anything is
written, then recorded in one transaction: the workflow, every step's job (Created; the
steps that depend on others wait), its steps and edges. The steps that depend on nothing
are published at once; the others are decided by the workers' advance rounds
(``jobhub.housekeeping.advance``) as their dependencies end.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Mapping, Sequence

from jobhub.audit import Actor, AuditAction, AuditEntry, acting
from jobhub.db.workflow_store import NewStep, waits_text
from jobhub.errors import (
    Conflict,
    DispatchError,
    InvalidInput,
    InvalidWorkflow,
    JobHubError,
    NotRerunnable,
)
from jobhub.jobs import AccessScope, JobSpec, JobStatus
from jobhub.logs import job_fields
from jobhub.manager.access import MAX_TEXT
from jobhub.manager.base import ManagerBase, job_uuid
from jobhub.parameters import unstorable_text
from jobhub.workflows.records import Workflow, WorkflowStep
from jobhub.workflows.spec import Step, WorkflowSpec, checked, from_document

logger = logging.getLogger(__name__)

WorkflowInput = WorkflowSpec | Sequence[Step] | Mapping[str, object]
"""A workflow as the builders make it, a list of steps, or its JSON/YAML document."""


class JobWorkflows(ManagerBase):
    """Workflows: steps (jobs) with dependencies between them."""

    def start_workflow(
        self,
        workflow: WorkflowInput,
        *,
        name: str | None = None,
        identity: str | None = None,
        organization: str = "",
        access_scope: AccessScope | str = AccessScope.ORGANIZATION,
        actor: Actor | str | None = None,
        reason: str | None = None,
    ) -> Workflow:
        """Start a workflow; returns it with its steps (the first ones Queued).

        Raises InvalidWorkflow (a cycle, a dependency on an unknown step, a bad shape),
        UnknownJobType or InvalidParameters naming the step, before anything is written.
        ``identity`` and ``organization`` are the workflow's and every step's. A step
        the broker does not take now stays Created: the outbox publishes it.
        """
        who, why = acting(actor, reason)
        spec = _spec_of(workflow)
        if name is not None:
            spec = dataclasses.replace(spec, name=name)
        for label, text in (("identity", identity), ("organization", organization)):
            if text is not None and (len(text) > MAX_TEXT or unstorable_text(text, label)):
                raise InvalidInput(f"{label} must be at most {MAX_TEXT} characters of text")
        try:
            scope = AccessScope.parse(access_scope)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        steps = checked(spec)
        dispatcher = self.app.dispatcher
        workflow_id = uuid.uuid4()
        new_steps: list[NewStep] = []
        for step in steps:
            job_spec = JobSpec(
                job_type=step.definition.name,
                parameters=step.parameters,
                identity=identity,
                organization=organization,
                access_scope=scope,
                queue=step.queue,
                priority=step.priority,
                max_attempts=step.max_attempts,
            )
            new = dispatcher.new_job(step.definition, job_spec, step.description)
            if step.after:  # not gated yet: its claim is, once it starts
                new = dataclasses.replace(new, held=False, status_text=waits_text(step.after))
            new_steps.append(
                NewStep(
                    name=step.name,
                    job=new,
                    after=step.after,
                    policy=step.policy,
                    results=step.results,
                )
            )
        now = self._runtime.clock()
        audit = AuditEntry(
            at=now,
            actor=who,
            action=AuditAction.WORKFLOW_START,
            target=f"workflow {workflow_id}",
            details={"name": spec.name, "steps": len(steps)},
            reason=why,
        )
        self._runtime.workflows.create(
            workflow_id=workflow_id,
            name=spec.name,
            identity=identity,
            organization=organization,
            created_by=identity or who.identity,
            at=now,
            new_steps=new_steps,
            audit=audit,
        )
        started = [self._started(step, workflow_id) for step in new_steps]
        logger.info("workflow %s started with %d steps", workflow_id, len(steps))
        return Workflow(
            id=workflow_id,
            name=spec.name,
            status=JobStatus.PROCESSING,
            identity=identity,
            organization=organization,
            created_by=identity or who.identity,
            created_at=now,
            updated_at=now,
            completed_at=None,
            cancel_requested_at=None,
            steps=tuple(started),
        )

    def _started(self, step: NewStep, workflow_id: uuid.UUID) -> WorkflowStep:
        """The step as recorded: published now if it depends on nothing (a step the
        broker refuses stays Created; the outbox publishes it)."""
        new = step.job
        queued_at = None
        if not step.after and not new.held and new.due_at is None:
            try:
                queued_at = self.app.dispatcher.publish(
                    new.job_type, new.id, 1, new.parameters, queue=new.queue, priority=new.priority
                )
            except DispatchError as exc:
                logger.warning(
                    "workflow step not published now, the outbox will: %s",
                    exc,
                    extra=job_fields(new.id, new.job_type, "workflow-start"),
                )
        job = dataclasses.replace(
            new.as_job(queued_at=queued_at),
            workflow_id=workflow_id,
            awaiting_steps=bool(step.after),
        )
        return WorkflowStep(
            name=step.name, after=step.after, policy=step.policy, results=step.results, job=job
        )

    def get_workflow(self, workflow_id: uuid.UUID | str) -> Workflow:
        """A workflow with its steps; WorkflowNotFound when there is none."""
        self._runtime.settle()
        return self._runtime.workflows.get(job_uuid(workflow_id))

    def find_workflows(
        self,
        *,
        status: JobStatus | Sequence[JobStatus] | None = None,
        organization: str | None = None,
        identity: str | None = None,
        limit: int = 100,
        before: Workflow | None = None,
    ) -> list[Workflow]:
        """Workflows newest first, by status (one or several), organization or identity;
        ``before`` is the last workflow of the previous page."""
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit must be between 1 and 1000")
        statuses = (
            [] if status is None else [status] if isinstance(status, JobStatus) else list(status)
        )
        self._runtime.settle()
        return self._runtime.workflows.find(
            statuses=statuses,
            organization=organization,
            identity=identity,
            limit=limit,
            before=None if before is None else (before.created_at, before.id),
        )

    def cancel_workflow(
        self,
        workflow_id: uuid.UUID | str,
        *,
        actor: Actor | str | None = None,
        reason: str | None = None,
    ) -> Workflow:
        """Cancel every step not yet ended: waiting ones at once, queued ones before they
        run, running ones cooperatively (as ``cancel_job``). The workflow ends Cancelled
        once they all ended; Conflict when it already ended."""
        who, why = acting(actor, reason)
        workflow = self.get_workflow(workflow_id)
        if workflow.is_terminal:
            raise Conflict(f"workflow {workflow.id} already ended {workflow.status.label}")
        runtime = self._runtime
        unended = runtime.workflows.request_cancel(
            workflow.id,
            at=runtime.clock(),
            text=f"Not run: the workflow was cancelled by {who.identity}",
        )
        for job_id in unended:
            try:
                self.cancel_job(job_id, actor=who, reason=why)  # type: ignore[attr-defined]
            except JobHubError as exc:  # it ended meanwhile, or its type runs to the end
                logger.info("workflow %s: step job %s not cancelled: %s", workflow.id, job_id, exc)
        self._record(
            AuditAction.WORKFLOW_CANCEL,
            f"workflow {workflow.id}",
            who,
            details={"name": workflow.name},
            reason=why,
        )
        return self.get_workflow(workflow.id)

    def rerun_workflow(
        self,
        workflow_id: uuid.UUID | str,
        step: str | None = None,
        *,
        actor: Actor | str | None = None,
        reason: str | None = None,
    ) -> Workflow:
        """Run a failed step again (default: every step that ended without completing
        while the steps it follows Completed), as a new attempt, and re-arm the steps
        after it that did not complete; steps that Completed are not run again.

        NotRerunnable when the step Completed or has not ended, or nothing failed.
        """
        who, why = acting(actor, reason)
        workflow = self.get_workflow(workflow_id)
        by_name = {s.name: s for s in workflow.steps}
        if step is not None:
            if step not in by_name:
                raise InvalidWorkflow(f"workflow {workflow.id} has no step {step!r}")
            if not workflow.may_rerun(step):
                target = by_name[step]
                if target.status is JobStatus.COMPLETED or not target.status.is_terminal:
                    raise NotRerunnable(
                        f"step {step!r} is {target.status.label}; only a step that ended "
                        "without completing runs again"
                    )
                raise NotRerunnable(
                    f"step {step!r} would not run after how the steps it follows ended "
                    f"({', '.join(target.after)}): rerun the one that failed"
                )
            targets = [step]
        else:
            targets = workflow.failed_steps()
            if not targets:
                raise NotRerunnable(f"workflow {workflow.id}: no failed step to run again")
        runtime = self._runtime
        rearmed = runtime.workflows.rearm(
            workflow.id,
            targets,
            at=runtime.clock(),
            actor=who.identity,
            message=f"re-armed: {', '.join(targets)} runs again",
        )
        for name in targets:
            self._rerun(by_name[name].job, who, why)  # type: ignore[attr-defined]
        self._record(
            AuditAction.WORKFLOW_RERUN,
            f"workflow {workflow.id}",
            who,
            details={"steps": list(targets), "rearmed": list(rearmed)},
            reason=why,
        )
        return self.get_workflow(workflow.id)


def _spec_of(workflow: WorkflowInput) -> WorkflowSpec:
    if isinstance(workflow, WorkflowSpec):
        return workflow
    if isinstance(workflow, Mapping):
        return from_document(workflow)
    items = list(workflow)
    if not all(isinstance(item, Step) for item in items):
        raise InvalidWorkflow("a workflow is a WorkflowSpec, a list of Steps, or its document")
    return WorkflowSpec(tuple(items))
