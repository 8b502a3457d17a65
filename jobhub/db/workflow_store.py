"""Workflows in PostgreSQL or SQLite: recording one whole, deciding its waiting steps,
ending it, cancelling and re-arming it.

Every decision about a workflow is taken in a transaction that first locks the
workflow's row (``SELECT ... FOR UPDATE``; SQLite has one writer at a time anyway), then
re-reads what it decides by. So of several workers' advance rounds, a cancel and a rerun
acting on one workflow at the same moment, each sees the others' outcome, and a step
leaves its wait exactly once: by the guarded update of its job's row that clears
``awaiting_steps``.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import aliased

from jobhub.audit import AuditEntry
from jobhub.db.audit_store import audit_columns
from jobhub.db.audit_store import entries as audit_entries
from jobhub.db.engine import translated_errors
from jobhub.db.job_store import _job_from_row
from jobhub.db.models import JobEventRow, JobRow, WorkflowEdgeRow, WorkflowRow, WorkflowStepRow
from jobhub.db.sql_writes import apply_transition, job_row
from jobhub.errors import WorkflowNotFound
from jobhub.jobs import JobError, JobStatus, JSONValue
from jobhub.lifecycle import ATTEMPT_RESET, NewJob, Transition
from jobhub.workflows.records import Workflow, WorkflowStep
from jobhub.workflows.spec import StepPolicy

jobs = cast(Table, JobRow.__table__)
events = cast(Table, JobEventRow.__table__)
workflows = cast(Table, WorkflowRow.__table__)
steps = cast(Table, WorkflowStepRow.__table__)
edges = cast(Table, WorkflowEdgeRow.__table__)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewStep:
    """A step as recorded: its job's row, its dependencies and its policy."""

    name: str
    job: NewJob
    after: tuple[str, ...]
    policy: StepPolicy
    results: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Ended:
    """How a dependency of a ready step ended."""

    name: str
    status: JobStatus
    result: JSONValue
    not_needed: bool = False
    """It ended Cancelled because nothing called for it (not a failure)."""

    @property
    def failed(self) -> bool:
        """It ended CompletedWithErrors, or Cancelled for a reason that counts."""
        return self.status is not JobStatus.COMPLETED and not self.not_needed


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadyStep:
    """A waiting step whose dependencies have all ended: what its decision needs."""

    workflow_id: uuid.UUID
    name: str
    job_id: uuid.UUID
    attempt: int
    job_type: str
    parameters: Mapping[str, JSONValue]
    queue: str
    priority: int
    policy: StepPolicy
    results: str | None
    cancelled: bool
    """Its workflow was cancelled."""
    dependencies: tuple[Ended, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What becomes of a ready step: it starts with ``parameters``, or it ends with
    ``status`` (Cancelled: not run; CompletedWithErrors: ``error``) and ``text``."""

    step: ReadyStep
    parameters: Mapping[str, JSONValue] | None = None
    status: JobStatus | None = None
    text: str | None = None
    error: JobError | None = None
    not_needed: bool = False
    """It ends Cancelled because nothing calls for it: not a failure of the workflow."""


class WorkflowStore:
    """Workflows, their steps and edges."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with translated_errors(), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with translated_errors(), self.engine.connect() as connection:
            yield connection

    # -- recording -------------------------------------------------------------------

    def create(
        self,
        *,
        workflow_id: uuid.UUID,
        name: str,
        identity: str | None,
        organization: str,
        created_by: str | None,
        at: datetime,
        new_steps: Sequence[NewStep],
        audit: AuditEntry | None,
    ) -> None:
        """Record the workflow, every step's job (Created; waiting when it depends on
        others), its steps and edges, in one transaction."""
        with self._write() as connection:
            connection.execute(
                insert(workflows).values(
                    id=workflow_id,
                    name=name,
                    status=int(JobStatus.PROCESSING),
                    identity=identity,
                    organization=organization,
                    created_by=created_by,
                    created_at=at,
                    updated_at=at,
                )
            )
            connection.execute(
                insert(jobs),
                [
                    job_row(
                        step.job,
                        {"workflow_id": workflow_id, "awaiting_steps": bool(step.after)},
                    )
                    for step in new_steps
                ],
            )
            connection.execute(
                insert(events),
                [
                    {
                        "job_id": step.job.id,
                        "at": step.job.created_at,
                        "status": int(JobStatus.CREATED),
                        "attempt": 1,
                        "message": step.job.status_text,
                    }
                    for step in new_steps
                ],
            )
            connection.execute(
                insert(steps),
                [
                    {
                        "workflow_id": workflow_id,
                        "name": step.name,
                        "position": position,
                        "job_id": step.job.id,
                        "policy": step.policy.value,
                        "results_parameter": step.results,
                    }
                    for position, step in enumerate(new_steps)
                ],
            )
            rows = [
                {"workflow_id": workflow_id, "step": step.name, "depends_on": name}
                for step in new_steps
                for name in step.after
            ]
            if rows:
                connection.execute(insert(edges), rows)
            if audit is not None:
                connection.execute(insert(audit_entries).values({**audit_columns(audit), "at": at}))

    # -- reading ---------------------------------------------------------------------

    def get(self, workflow_id: uuid.UUID) -> Workflow:
        with self._read() as connection:
            row = connection.execute(select(workflows).where(workflows.c.id == workflow_id)).first()
            if row is None:
                raise WorkflowNotFound(workflow_id)
            return _workflow(row._mapping, _steps_of(connection, [workflow_id])[workflow_id])

    def of_job(self, job_id: uuid.UUID) -> tuple[uuid.UUID, str] | None:
        """The workflow and step name of a step's job; None for a job of no workflow."""
        with self._read() as connection:
            row = connection.execute(
                select(steps.c.workflow_id, steps.c.name).where(steps.c.job_id == job_id)
            ).first()
        return None if row is None else (row.workflow_id, row.name)

    def find(
        self,
        *,
        statuses: Collection[JobStatus] = (),
        organization: str | None = None,
        identity: str | None = None,
        limit: int = 100,
        before: tuple[datetime, uuid.UUID] | None = None,
    ) -> list[Workflow]:
        """Workflows newest first, with their steps; ``before`` is the (created_at, id)
        of the last one of the previous page."""
        statement = select(workflows)
        if statuses:
            statement = statement.where(workflows.c.status.in_([int(s) for s in statuses]))
        if organization is not None:
            statement = statement.where(workflows.c.organization == organization)
        if identity is not None:
            statement = statement.where(workflows.c.identity == identity)
        if before is not None:
            at, last = before
            statement = statement.where(
                tuple_(workflows.c.created_at, workflows.c.id)
                < tuple_(
                    literal(at, workflows.c.created_at.type), literal(last, workflows.c.id.type)
                )
            )
        statement = statement.order_by(workflows.c.created_at.desc(), workflows.c.id.desc())
        with self._read() as connection:
            rows = connection.execute(statement.limit(limit)).all()
            found = _steps_of(connection, [row.id for row in rows])
            return [_workflow(row._mapping, found.get(row.id, ())) for row in rows]

    # -- the advance round -----------------------------------------------------------

    def ready(self, *, limit: int = 100) -> list[ReadyStep]:
        """Waiting steps whose dependencies have all ended, oldest workflows first."""
        dependency = aliased(steps)
        dependency_job = aliased(jobs)
        unended = (
            select(literal(1))
            .select_from(edges)
            .join(
                dependency,
                and_(
                    dependency.c.workflow_id == edges.c.workflow_id,
                    dependency.c.name == edges.c.depends_on,
                ),
            )
            .join(dependency_job, dependency_job.c.id == dependency.c.job_id)
            .where(
                edges.c.workflow_id == steps.c.workflow_id,
                edges.c.step == steps.c.name,
                dependency_job.c.final_status.is_(None),
            )
        )
        statement = (
            select(
                steps.c.workflow_id,
                steps.c.name,
                steps.c.policy,
                steps.c.results_parameter,
                jobs.c.id,
                jobs.c.attempt,
                jobs.c.job_type,
                jobs.c.parameters,
                jobs.c.queue,
                jobs.c.priority,
                workflows.c.cancel_requested_at,
            )
            .select_from(jobs)
            .join(steps, steps.c.job_id == jobs.c.id)
            .join(workflows, workflows.c.id == steps.c.workflow_id)
            .where(jobs.c.awaiting_steps, jobs.c.status == int(JobStatus.CREATED), ~exists(unended))
            .order_by(workflows.c.created_at, steps.c.position)
            .limit(limit)
        )
        with self._read() as connection:
            rows = connection.execute(statement).all()
            ended = _dependencies(connection, [(row.workflow_id, row.name) for row in rows])
        return [
            ReadyStep(
                workflow_id=row.workflow_id,
                name=row.name,
                job_id=row.id,
                attempt=row.attempt,
                job_type=row.job_type,
                parameters=row.parameters or {},
                queue=row.queue,
                priority=row.priority,
                policy=StepPolicy(row.policy),
                results=row.results_parameter,
                cancelled=row.cancel_requested_at is not None,
                dependencies=ended.get((row.workflow_id, row.name), ()),
            )
            for row in rows
        ]

    def decide(self, decisions: Sequence[Decision], *, at: datetime) -> list[Decision]:
        """Apply the decisions about steps of one workflow, in one transaction; returns
        those that applied. One applies only if its step still waits, on the same
        dependencies' ends and the same cancel as it was made from, so of any number of
        callers exactly one applies it. A step that starts is left Created, no longer
        waiting, for its caller to publish (the outbox publishes it if the caller dies
        first)."""
        if not decisions:
            return []
        workflow_id = decisions[0].step.workflow_id
        if any(d.step.workflow_id != workflow_id for d in decisions):
            raise ValueError("decisions about steps of one workflow only")
        applied: list[Decision] = []
        with self._write() as connection:
            cancelled = _lock(connection, workflow_id)
            if cancelled is None:
                return []
            current = _dependencies(connection, [(workflow_id, d.step.name) for d in decisions])
            for decision in decisions:
                step = decision.step
                if cancelled != step.cancelled:
                    continue
                if current.get((workflow_id, step.name), ()) != step.dependencies:
                    continue
                if _apply(connection, decision, at):
                    applied.append(decision)
            if applied:
                connection.execute(
                    update(workflows).where(workflows.c.id == workflow_id).values(updated_at=at)
                )
        return applied

    def end_finished(self, *, at: datetime, limit: int = 100) -> list[tuple[uuid.UUID, JobStatus]]:
        """End the open workflows whose steps have all ended: Cancelled when cancelled,
        Completed when every step Completed or was not needed, else
        CompletedWithErrors."""
        active_step = (
            select(literal(1))
            .select_from(steps)
            .join(jobs, jobs.c.id == steps.c.job_id)
            .where(steps.c.workflow_id == workflows.c.id, jobs.c.final_status.is_(None))
        )
        candidates = (
            select(workflows.c.id)
            .where(workflows.c.completed_at.is_(None), ~exists(active_step))
            .limit(limit)
        )
        ended: list[tuple[uuid.UUID, JobStatus]] = []
        with self._read() as connection:
            ids = list(connection.execute(candidates).scalars())
        for workflow_id in ids:
            with self._write() as connection:
                if _lock(connection, workflow_id) is None:
                    continue
                row = connection.execute(
                    select(workflows.c.cancel_requested_at, workflows.c.completed_at).where(
                        workflows.c.id == workflow_id
                    )
                ).one()
                if (
                    row.completed_at is not None
                    or connection.execute(
                        select(exists(active_step.where(workflows.c.id == workflow_id)))
                    ).scalar()
                ):
                    continue
                failed = connection.execute(
                    select(
                        exists(
                            select(literal(1))
                            .select_from(steps)
                            .join(jobs, jobs.c.id == steps.c.job_id)
                            .where(
                                steps.c.workflow_id == workflow_id,
                                jobs.c.status != int(JobStatus.COMPLETED),
                                ~steps.c.not_needed,
                            )
                        )
                    )
                ).scalar()
                if row.cancel_requested_at is not None:
                    status = JobStatus.CANCELLED
                elif not failed:
                    status = JobStatus.COMPLETED
                else:
                    status = JobStatus.COMPLETED_WITH_ERRORS
                connection.execute(
                    update(workflows)
                    .where(workflows.c.id == workflow_id, workflows.c.completed_at.is_(None))
                    .values(status=int(status), completed_at=at, updated_at=at)
                )
                ended.append((workflow_id, status))
        return ended

    def purge_emptied(self) -> int:
        """Delete the ended workflows whose steps' jobs have all been purged."""
        left = select(literal(1)).select_from(steps).where(steps.c.workflow_id == workflows.c.id)
        with self._write() as connection:
            return connection.execute(
                delete(workflows).where(workflows.c.completed_at.is_not(None), ~exists(left))
            ).rowcount

    # -- cancel and rerun ------------------------------------------------------------

    def request_cancel(self, workflow_id: uuid.UUID, *, at: datetime, text: str) -> list[uuid.UUID]:
        """Mark the workflow cancelled and end its waiting steps Cancelled; returns the
        jobs of its other unended steps (the caller cancels them as any job)."""
        with self._write() as connection:
            if _lock(connection, workflow_id) is None:
                raise WorkflowNotFound(workflow_id)
            connection.execute(
                update(workflows)
                .where(workflows.c.id == workflow_id)
                .values(
                    cancel_requested_at=func.coalesce(workflows.c.cancel_requested_at, at),
                    updated_at=at,
                )
            )
            rows = connection.execute(
                select(jobs.c.id, jobs.c.attempt, jobs.c.awaiting_steps, jobs.c.status)
                .join(steps, steps.c.job_id == jobs.c.id)
                .where(steps.c.workflow_id == workflow_id, jobs.c.final_status.is_(None))
                .order_by(steps.c.position)
            ).all()
            running: list[uuid.UUID] = []
            for row in rows:
                if row.awaiting_steps and row.status == int(JobStatus.CREATED):
                    connection.execute(
                        update(jobs)
                        .where(jobs.c.id == row.id)
                        .values(awaiting_steps=False, updated_at=at)
                    )
                    apply_transition(
                        connection,
                        Transition(
                            job_id=row.id,
                            attempt=row.attempt,
                            status=JobStatus.CANCELLED,
                            at=at,
                            message=text,
                        ),
                    )
                else:
                    running.append(row.id)
        return running

    def rearm(
        self,
        workflow_id: uuid.UUID,
        names: Collection[str],
        *,
        at: datetime,
        actor: str | None,
        message: str,
    ) -> list[str]:
        """Make every step after ``names`` that ended without completing wait again, as a
        new attempt, and reopen the workflow (no longer cancelled); returns the steps
        re-armed. The steps ``names`` themselves are rerun by the caller."""
        with self._write() as connection:
            if _lock(connection, workflow_id) is None:
                raise WorkflowNotFound(workflow_id)
            graph = _dependants(connection, workflow_id)
            later: list[str] = []
            frontier = list(names)
            while frontier:
                for dependant in graph.get(frontier.pop(), ()):
                    if dependant not in later and dependant not in names:
                        later.append(dependant)
                        frontier.append(dependant)
            rearmed: list[str] = []
            for name in later:
                row = connection.execute(
                    select(jobs.c.id, jobs.c.attempt, jobs.c.status)
                    .join(steps, steps.c.job_id == jobs.c.id)
                    .where(steps.c.workflow_id == workflow_id, steps.c.name == name)
                ).one()
                if row.status not in (
                    int(JobStatus.COMPLETED_WITH_ERRORS),
                    int(JobStatus.CANCELLED),
                ):
                    continue
                waits = _waits_text(connection, workflow_id, name)
                values: dict[str, Any] = dict(ATTEMPT_RESET, held=False, released=False)
                values.update(
                    status=int(JobStatus.CREATED),
                    attempt=row.attempt + 1,
                    awaiting_steps=True,
                    retries=0,
                    due_at=None,
                    cancel_requested_at=None,
                    status_text=waits,
                    modified_by=actor,
                    updated_at=at,
                )
                moved = connection.execute(
                    update(jobs)
                    .where(
                        jobs.c.id == row.id,
                        jobs.c.attempt == row.attempt,
                        jobs.c.final_status.is_not(None),
                    )
                    .values(values)
                ).rowcount
                if moved:
                    connection.execute(
                        update(steps)
                        .where(steps.c.workflow_id == workflow_id, steps.c.name == name)
                        .values(not_needed=False)
                    )
                    connection.execute(
                        insert(events).values(
                            job_id=row.id,
                            at=at,
                            status=int(JobStatus.CREATED),
                            attempt=row.attempt + 1,
                            message=message,
                        )
                    )
                    rearmed.append(name)
            connection.execute(
                update(workflows)
                .where(workflows.c.id == workflow_id)
                .values(
                    status=int(JobStatus.PROCESSING),
                    completed_at=None,
                    cancel_requested_at=None,
                    updated_at=at,
                )
            )
        return rearmed


def _apply(connection: Connection, decision: Decision, at: datetime) -> bool:
    """Clear the step's wait by a guarded update, then start it or end it."""
    step = decision.step
    values: dict[str, Any] = {"awaiting_steps": False, "updated_at": at}
    if decision.parameters is not None:
        values.update(parameters=dict(decision.parameters), status_text=None)
    taken = connection.execute(
        update(jobs)
        .where(
            jobs.c.id == step.job_id,
            jobs.c.attempt == step.attempt,
            jobs.c.awaiting_steps,
            jobs.c.status == int(JobStatus.CREATED),
        )
        .values(values)
    ).rowcount
    if taken and decision.not_needed:
        connection.execute(
            update(steps)
            .where(steps.c.workflow_id == step.workflow_id, steps.c.name == step.name)
            .values(not_needed=True)
        )
    if taken and decision.status is not None:
        apply_transition(
            connection,
            Transition(
                job_id=step.job_id,
                attempt=step.attempt,
                status=decision.status,
                at=at,
                message=decision.text,
                error=decision.error,
            ),
        )
    return bool(taken)


def waits_text(after: Sequence[str]) -> str:
    """What a waiting step says."""
    return "Waits for " + ", ".join(after)


def _waits_text(connection: Connection, workflow_id: uuid.UUID, name: str) -> str:
    after = connection.execute(
        select(edges.c.depends_on).where(edges.c.workflow_id == workflow_id, edges.c.step == name)
    ).scalars()
    return waits_text(sorted(after))


def _lock(connection: Connection, workflow_id: uuid.UUID) -> bool | None:
    """Lock the workflow's row; whether it is cancelled, None when there is no such one."""
    row = connection.execute(
        select(workflows.c.cancel_requested_at)
        .where(workflows.c.id == workflow_id)
        .with_for_update()
    ).first()
    return None if row is None else row.cancel_requested_at is not None


def _dependencies(
    connection: Connection, keys: Sequence[tuple[uuid.UUID, str]]
) -> dict[tuple[uuid.UUID, str], tuple[Ended, ...]]:
    """How the dependencies of each (workflow, step) stand, in name order."""
    if not keys:
        return {}
    dependency = aliased(steps)
    rows = connection.execute(
        select(
            edges.c.workflow_id,
            edges.c.step,
            edges.c.depends_on,
            jobs.c.status,
            jobs.c.result,
            dependency.c.not_needed,
        )
        .join(
            dependency,
            and_(
                dependency.c.workflow_id == edges.c.workflow_id,
                dependency.c.name == edges.c.depends_on,
            ),
        )
        .join(jobs, jobs.c.id == dependency.c.job_id)
        .where(tuple_(edges.c.workflow_id, edges.c.step).in_(keys))
        .order_by(edges.c.workflow_id, edges.c.step, edges.c.depends_on)
    ).all()
    found: dict[tuple[uuid.UUID, str], list[Ended]] = {}
    for row in rows:
        found.setdefault((row.workflow_id, row.step), []).append(
            Ended(
                name=row.depends_on,
                status=JobStatus(row.status),
                result=row.result,
                not_needed=row.not_needed,
            )
        )
    return {key: tuple(value) for key, value in found.items()}


def _dependants(connection: Connection, workflow_id: uuid.UUID) -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {}
    for row in connection.execute(
        select(edges.c.step, edges.c.depends_on).where(edges.c.workflow_id == workflow_id)
    ):
        graph.setdefault(row.depends_on, []).append(row.step)
    return graph


def _steps_of(
    connection: Connection, workflow_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[WorkflowStep, ...]]:
    if not workflow_ids:
        return {}
    after: dict[tuple[uuid.UUID, str], list[str]] = {}
    for row in connection.execute(
        select(edges).where(edges.c.workflow_id.in_(workflow_ids)).order_by(edges.c.depends_on)
    ):
        after.setdefault((row.workflow_id, row.step), []).append(row.depends_on)
    rows = connection.execute(
        select(
            steps.c.workflow_id,
            steps.c.name,
            steps.c.policy,
            steps.c.results_parameter,
            steps.c.not_needed,
            jobs,
        )
        .join(jobs, jobs.c.id == steps.c.job_id)
        .where(steps.c.workflow_id.in_(workflow_ids))
        .order_by(steps.c.workflow_id, steps.c.position)
    ).all()
    found: dict[uuid.UUID, list[WorkflowStep]] = {}
    for row in rows:
        mapping = row._mapping
        found.setdefault(row.workflow_id, []).append(
            WorkflowStep(
                name=row.name,
                after=tuple(after.get((row.workflow_id, row.name), ())),
                policy=StepPolicy(row.policy),
                results=row.results_parameter,
                not_needed=row.not_needed,
                job=_job_from_row(mapping),
            )
        )
    return {key: tuple(value) for key, value in found.items()}


def _workflow(row: RowMapping, found: Sequence[WorkflowStep]) -> Workflow:
    return Workflow(
        id=row["id"],
        name=row["name"],
        status=JobStatus(row["status"]),
        identity=row["identity"],
        organization=row["organization"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        completed_at=row["completed_at"],
        cancel_requested_at=row["cancel_requested_at"],
        steps=tuple(found),
    )
