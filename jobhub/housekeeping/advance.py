"""Workflow steps whose dependencies have all ended: started or ended, and finished
workflows ended.

Runs in every worker's main process, in the loop that publishes due and released jobs
(``jobhub.housekeeping.due.DueLoop``), every quarter of a second. It needs no message
from the worker that ended a dependency: whatever ended it (a worker, a cancel, the
reaper, a runner) and whichever process died right after, the next round sees a waiting
step whose dependencies all ended. Which round decides a step is up to the database
(``WorkflowStore.decide``): exactly one. A started step the broker refuses, or whose
publisher dies, stays Created and no longer waiting: the outbox publishes it after
``Settings.publish_grace``, and its claim applies once.

The decision, by the step's policy (``StepPolicy``): ``completed`` runs only when every
dependency Completed, ``on_failure`` only when one failed, ``always`` either way. A step
that does not run ends Cancelled, so its own dependants are decided in turn and nothing
waits forever: after a failure, with a status text naming the step that failed; when
nothing called for it (an ``on_failure`` step after steps that all Completed, and the
steps after that one), as "Not needed", which does not make the workflow fail. A step with a results
parameter gets ``{step name: result}`` of its dependencies there (a result kept as a
document, being too large to inline, is passed as null); parameters its type refuses end
it CompletedWithErrors.
"""

from __future__ import annotations

import logging
from uuid import UUID

from jobhub.db.workflow_store import Decision, ReadyStep
from jobhub.definitions import find_definition
from jobhub.dispatch import Publish, publish_taken
from jobhub.errors import InvalidParameters
from jobhub.jobs import JobError, JobStatus, JSONValue
from jobhub.lifecycle import Due
from jobhub.runtime import Runtime
from jobhub.workflows.spec import StepPolicy

logger = logging.getLogger(__name__)

ROUND = 200
"""Ready steps one pass decides."""
PASSES = 20
"""Passes one round makes at most: a step that ends makes its dependants ready."""


class WorkflowAdvancer:
    """Decides the ready steps of every workflow and publishes those that start."""

    def __init__(self, runtime: Runtime, publish: Publish) -> None:
        self._runtime = runtime
        self._publish = publish

    def advance(self, *, limit: int = ROUND) -> list[UUID]:
        """Decide every ready step (in passes of ``limit``), then end the workflows
        whose steps all ended; returns the step jobs the broker took."""
        runtime = self._runtime
        store = runtime.workflows
        published: list[UUID] = []
        for _ in range(PASSES):
            ready = store.ready(limit=limit)
            if not ready:
                break
            now = runtime.heartbeats.now()
            by_workflow: dict[UUID, list[Decision]] = {}
            for step in ready:
                by_workflow.setdefault(step.workflow_id, []).append(decide(step))
            starting: list[Due] = []
            ended = 0
            for decisions in by_workflow.values():
                for decision in store.decide(decisions, at=now):
                    step = decision.step
                    if decision.parameters is None:
                        ended += 1
                        continue
                    starting.append(
                        Due(
                            job_id=step.job_id,
                            job_type=step.job_type,
                            attempt=step.attempt,
                            parameters=decision.parameters,
                            queue=step.queue,
                            priority=step.priority,
                        )
                    )
            published += publish_taken(
                self._publish, starting, event="workflow-step", what="workflow step"
            )
            if not ended and len(ready) < limit:
                break
        for workflow_id, status in store.end_finished(at=runtime.heartbeats.now()):
            logger.info("workflow %s ended %s", workflow_id, status.label)
        return published


def decide(step: ReadyStep) -> Decision:
    """What becomes of a ready step, from how its dependencies ended."""
    if step.cancelled:
        return Decision(
            step=step, status=JobStatus.CANCELLED, text="Not run: the workflow was cancelled"
        )
    failed = [d for d in step.dependencies if d.failed]
    completed = all(d.status is JobStatus.COMPLETED for d in step.dependencies)
    if step.policy is StepPolicy.COMPLETED and failed:
        text = "Not run: " + "; ".join(f"step {d.name!r} ended {d.status.label}" for d in failed)
        return Decision(step=step, status=JobStatus.CANCELLED, text=text)
    if step.policy is StepPolicy.ON_FAILURE and not failed:
        return Decision(
            step=step,
            status=JobStatus.CANCELLED,
            text="Not needed: no step it follows failed",
            not_needed=True,
        )
    if step.policy is StepPolicy.COMPLETED and not completed:
        skipped = ", ".join(repr(d.name) for d in step.dependencies if d.not_needed)
        return Decision(
            step=step,
            status=JobStatus.CANCELLED,
            text=f"Not needed: it follows steps that were not needed ({skipped})",
            not_needed=True,
        )
    parameters: dict[str, JSONValue] = dict(step.parameters)
    if step.results is not None:
        parameters[step.results] = {d.name: d.result for d in step.dependencies}
        definition = find_definition(step.job_type)
        if definition is not None:
            try:
                parameters = definition.validate(parameters)
            except InvalidParameters as exc:
                return Decision(
                    step=step,
                    status=JobStatus.COMPLETED_WITH_ERRORS,
                    text="Not run: the results of the steps it follows are not valid parameters",
                    error=JobError(type=type(exc).__name__, message=str(exc)),
                )
    return Decision(step=step, parameters=parameters)
