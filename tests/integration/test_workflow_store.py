"""Workflows against real PostgreSQL and Redis with no worker: the advance round run
in this process, jobs moved on through the write path as a worker would.

Covers what a worker's round decides (start, skip, results), that concurrent rounds
decide each step once, the purge of workflows whose jobs are gone, and a step's
``rerun_job`` re-arming the steps after it.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest

from jobhub import JobManager, JobStatus, Settings, Step, chain, fan_in
from jobhub.housekeeping.advance import WorkflowAdvancer
from jobhub.jobs import JobError
from jobhub.lifecycle import Transition
from tests import services as svc
from tests.support.workflow_jobs import JOB_MODULES


@pytest.fixture
def jobs(settings: Settings) -> Iterator[JobManager]:
    manager = JobManager.from_settings(replace(settings, job_modules=JOB_MODULES))
    yield manager
    manager.close()


def advancer(jobs: JobManager) -> WorkflowAdvancer:
    return WorkflowAdvancer(jobs.app.runtime, jobs.app.dispatcher.publish)


def run(jobs: JobManager, job_id: uuid.UUID, *, result: object = None, fail: bool = False) -> None:
    """Claim and end one attempt of a job as a worker would."""
    runtime = jobs.app.runtime
    runtime.settle()
    attempt = jobs.get_job(job_id).attempt
    now = runtime.clock()
    end = (
        Transition(
            job_id=job_id,
            attempt=attempt,
            status=JobStatus.COMPLETED_WITH_ERRORS,
            at=now,
            error=JobError(type="Boom", message="failed"),
        )
        if fail
        else Transition(
            job_id=job_id,
            attempt=attempt,
            status=JobStatus.COMPLETED,
            at=now,
            result=result,  # type: ignore[arg-type]
        )
    )
    claim = Transition(
        job_id=job_id, attempt=attempt, status=JobStatus.PROCESSING, at=now, worker_id="w@test"
    )
    assert all(runtime.writes.write(transitions=[claim, end]))


def events(jobs: JobManager, job_id: uuid.UUID) -> Counter[tuple[JobStatus, int]]:
    return Counter((e.status, e.attempt) for e in jobs.job_events(job_id))


def test_a_round_starts_a_step_once_its_dependency_completed(jobs: JobManager) -> None:
    workflow = jobs.start_workflow(
        chain(Step("a", "tests.wf.add"), Step("b", "tests.wf.add", results="inputs"))
    )
    a, b = (workflow.step(name).job.id for name in ("a", "b"))
    assert advancer(jobs).advance() == []  # a has not ended: b waits
    assert jobs.get_job(b).awaiting_steps
    run(jobs, a, result={"total": 1})
    assert advancer(jobs).advance() == [b]
    assert advancer(jobs).advance() == []
    started = jobs.get_job(b)
    assert started.status is JobStatus.QUEUED
    assert not started.awaiting_steps
    assert started.parameters["inputs"] == {"a": {"total": 1}}
    run(jobs, b, result={"total": 2})
    advancer(jobs).advance()
    assert jobs.get_workflow(workflow.id).status is JobStatus.COMPLETED


def test_rounds_racing_on_many_ready_steps_decide_each_once(jobs: JobManager) -> None:
    workflows = [
        jobs.start_workflow(
            fan_in(
                [Step(f"p{n}", "tests.wf.add") for n in range(4)],
                Step("join", "tests.wf.collect", results="inputs"),
            )
        )
        for _ in range(10)
    ]
    for workflow in workflows:
        for n in range(4):
            run(jobs, workflow.step(f"p{n}").job.id, result={"total": n})
    published: list[uuid.UUID] = []
    barrier = threading.Barrier(4)

    def one_round() -> None:
        round_of = advancer(jobs)
        barrier.wait()
        published.extend(round_of.advance())

    threads = [threading.Thread(target=one_round) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    joins = [w.step("join").job.id for w in workflows]
    assert sorted(published) == sorted(joins)  # each published by exactly one round
    for join in joins:
        assert events(jobs, join)[(JobStatus.QUEUED, 1)] == 1


def test_a_failed_step_cancels_what_follows_in_the_same_round(jobs: JobManager) -> None:
    workflow = jobs.start_workflow(
        chain(Step("a", "tests.wf.add"), Step("b", "tests.wf.add"), Step("c", "tests.wf.add"))
    )
    run(jobs, workflow.step("a").job.id, fail=True)
    assert advancer(jobs).advance() == []
    done = jobs.get_workflow(workflow.id)
    assert [s.status for s in done.steps] == [
        JobStatus.COMPLETED_WITH_ERRORS,
        JobStatus.CANCELLED,
        JobStatus.CANCELLED,
    ]
    assert done.status is JobStatus.COMPLETED_WITH_ERRORS


def test_rerun_job_of_a_step_re_arms_the_steps_after_it(jobs: JobManager) -> None:
    workflow = jobs.start_workflow(chain(Step("a", "tests.wf.add"), Step("b", "tests.wf.add")))
    a, b = (workflow.step(name).job.id for name in ("a", "b"))
    run(jobs, a, fail=True)
    advancer(jobs).advance()
    assert jobs.get_job(b).status is JobStatus.CANCELLED

    rerun = jobs.rerun_job(a)

    assert rerun.attempt == 2
    assert rerun.status is JobStatus.QUEUED
    waiting = jobs.get_job(b)
    assert waiting.status is JobStatus.CREATED
    assert waiting.awaiting_steps
    assert waiting.attempt == 2
    assert jobs.get_workflow(workflow.id).status is JobStatus.PROCESSING
    run(jobs, a, result={"total": 1})
    assert advancer(jobs).advance() == [b]


def test_workflows_go_with_the_last_of_their_jobs(jobs: JobManager, settings: Settings) -> None:
    workflow = jobs.start_workflow(chain(Step("a", "tests.wf.add"), Step("b", "tests.wf.add")))
    jobs.cancel_workflow(workflow.id)
    advancer(jobs).advance()
    assert jobs.get_workflow(workflow.id).status is JobStatus.CANCELLED
    with psycopg.connect(svc.libpq_url(settings.database_url or ""), autocommit=True) as db:
        db.execute(
            "UPDATE jobs SET purge_at = now() - interval '1 day' WHERE workflow_id = %s",
            [workflow.id],
        )
        assert jobs.housekeeping.purge_expired_jobs() == 2
        row = db.execute("SELECT count(*) FROM workflows WHERE id = %s", [workflow.id]).fetchone()
    assert row == (0,)
