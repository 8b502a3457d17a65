"""Workflows with real workers on PostgreSQL and Redis.

Steps are jobs; a step that depends on others waits in the database until the workers'
advance rounds (``jobhub.housekeeping.advance``) see its dependencies ended and decide it,
exactly once. Each test checks, besides its own outcome, that every step's attempt
started at most once and that nothing is left waiting.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from sqlalchemy import create_engine, func, select

from jobhub import (
    InvalidParameters,
    InvalidWorkflow,
    JobManager,
    JobStatus,
    NotRerunnable,
    Settings,
    Step,
    StepPolicy,
    UnknownJobType,
    Workflow,
    WorkflowSpec,
    chain,
    fan_in,
    fan_out,
)
from jobhub.db.models import JobRow, WorkflowRow
from jobhub.jobs import JobEvent
from tests import services as svc
from tests.conftest import Process, Processes, module_settings, settings_env
from tests.support.workflow_jobs import JOB_MODULES


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def wf_settings(
    services: svc.Services, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    data = tmp_path_factory.mktemp("workflow-data")
    with module_settings(services, template_database, data, job_modules=JOB_MODULES) as found:
        yield found


@pytest.fixture(scope="module")
def jobs(wf_settings: Settings) -> Iterator[JobManager]:
    manager = JobManager.from_settings(wf_settings)
    yield manager
    manager.close()


@pytest.fixture(scope="module")
def module_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    started = Processes(tmp_path_factory.mktemp("workflow-processes"))
    yield started
    started.stop_all()


@pytest.fixture(scope="module")
def worker(module_processes: Processes, wf_settings: Settings) -> Process:
    return module_processes.worker(wf_settings, concurrency=3)


def ended(jobs: JobManager, workflow: Workflow, timeout: float = 60) -> Workflow:
    """The workflow once it ended, checked: every step ended, each attempt started at
    most once, nothing waits."""
    deadline = time.monotonic() + timeout
    while not (done := jobs.get_workflow(workflow.id)).is_terminal:
        states = [(s.name, s.status.label, s.job.attempt, s.job.status_text) for s in done.steps]
        assert time.monotonic() < deadline, f"workflow {workflow.id} still running: {states}"
        time.sleep(0.05)
    for step in done.steps:
        assert step.status.is_terminal, (step.name, step.status)
        assert not step.job.awaiting_steps, step.name
        starts = Counter(e.attempt for e in starts_of(jobs, step.job.id))
        assert all(count == 1 for count in starts.values()), (step.name, starts)
    assert done.completed_at is not None
    return done


def starts_of(jobs: JobManager, job_id: uuid.UUID) -> list[JobEvent]:
    """The job's claims: its Processing events a worker wrote (a cancel request of a
    running job is a Processing event too, by nobody)."""
    return [
        e
        for e in jobs.job_events(job_id)
        if e.status is JobStatus.PROCESSING and e.worker_id is not None
    ]


def processing_count(jobs: JobManager, job_id: uuid.UUID) -> int:
    return len(starts_of(jobs, job_id))


def test_a_chain_of_three_passes_each_result_on(jobs: JobManager, worker: Process) -> None:
    workflow = jobs.start_workflow(
        chain(
            Step("import", "tests.wf.add", {"add": 1}),
            Step("enrich", "tests.wf.add", {"add": 10}, results="inputs"),
            Step("report", "tests.wf.add", {"add": 100}, results="inputs"),
            name="nightly",
        ),
        identity="ann",
        organization="acme",
    )
    assert workflow.status is JobStatus.PROCESSING
    assert [s.name for s in workflow.steps] == ["import", "enrich", "report"]
    assert workflow.step("report").after == ("enrich",)
    assert workflow.step("enrich").job.awaiting_steps
    assert workflow.step("enrich").job.status_text == "Waits for import"
    done = ended(jobs, workflow)
    assert done.status is JobStatus.COMPLETED
    assert done.name == "nightly"
    assert done.identity == "ann"
    assert done.organization == "acme"
    assert done.step("report").job.result == {"total": 111, "inputs": ["enrich"]}
    assert done.step("enrich").job.parameters["inputs"] == {"import": {"total": 1, "inputs": []}}
    for step in done.steps:
        assert step.job.workflow_id == done.id
        assert step.job.organization == "acme"
        assert step.job.identity == "ann"
        assert step.status is JobStatus.COMPLETED
        assert step.job.attempt == 1
    assert done.started_at is not None
    assert done.started_at <= done.completed_at
    assert done.step("import").job.completed_at <= done.step("enrich").job.started_at  # type: ignore[operator]
    assert done.id in {w.id for w in jobs.find_workflows(status=JobStatus.COMPLETED)}
    assert done.id not in {w.id for w in jobs.find_workflows(status=JobStatus.PROCESSING)}


def test_a_fan_out_of_20_then_one_step_with_all_their_results(
    jobs: JobManager, worker: Process
) -> None:
    spec = fan_in(
        [Step(f"part-{n:02}", "tests.wf.add", {"add": n}) for n in range(20)],
        Step("bundle", "tests.wf.collect", results="inputs"),
    )
    done = ended(jobs, jobs.start_workflow(spec))
    assert done.status is JobStatus.COMPLETED
    bundle = done.step("bundle").job.result
    assert bundle["count"] == 20  # type: ignore[index]
    assert bundle["names"] == [f"part-{n:02}" for n in range(20)]  # type: ignore[index]
    assert bundle["results"]["part-07"] == {"total": 7, "inputs": []}  # type: ignore[index]
    assert processing_count(jobs, done.step("bundle").job.id) == 1


def test_fan_out_starts_every_branch_after_the_first(jobs: JobManager, worker: Process) -> None:
    spec = fan_out(
        Step("load", "tests.wf.add", {"add": 5}),
        [Step(f"report-{n}", "tests.wf.add", {"add": n}, results="inputs") for n in range(3)],
    )
    done = ended(jobs, jobs.start_workflow(spec))
    assert done.status is JobStatus.COMPLETED
    assert [done.step(f"report-{n}").job.result["total"] for n in range(3)] == [5, 6, 7]  # type: ignore[index]


def test_a_step_retried_by_its_type_s_policy_is_followed_once_it_succeeds(
    jobs: JobManager, worker: Process
) -> None:
    """A step's job type keeps its retry policy: the failed attempt is retried (its run
    does not end), and the step after it starts once, after the attempt that succeeded."""
    done = ended(
        jobs,
        jobs.start_workflow(
            chain(
                Step("shaky", "diagnostics.flaky", {"fail_times": 1}, priority=7),
                Step("after", "tests.wf.add"),
            )
        ),
    )
    assert done.status is JobStatus.COMPLETED
    shaky = done.step("shaky").job
    assert shaky.attempt == 2
    assert shaky.retries == 1
    assert shaky.priority == 7
    after = done.step("after").job
    assert after.started_at is not None
    assert shaky.completed_at is not None
    assert after.started_at >= shaky.completed_at
    assert processing_count(jobs, after.id) == 1


def failing_middle() -> WorkflowSpec:
    return WorkflowSpec(
        (
            Step("extract", "tests.wf.add", {"add": 1}),
            Step("transform", "tests.wf.add", {"add": 2, "fail": True}, after=("extract",)),
            Step("load", "tests.wf.add", {"add": 3}, after=("transform",), results="inputs"),
            Step("publish", "tests.wf.add", {"add": 4}, after=("load",)),
            Step(
                "tell-owner",
                "tests.wf.notify",
                after=("transform",),
                policy=StepPolicy.ON_FAILURE,
                results="inputs",
            ),
            Step("cleanup", "tests.wf.add", after=("transform",), policy="always"),
        ),
        name="etl",
    )


def test_a_failing_middle_step_runs_its_handler_and_cancels_the_rest(
    jobs: JobManager, worker: Process
) -> None:
    done = ended(jobs, jobs.start_workflow(failing_middle()))
    assert done.status is JobStatus.COMPLETED_WITH_ERRORS
    statuses = {step.name: step.status for step in done.steps}
    assert statuses == {
        "extract": JobStatus.COMPLETED,
        "transform": JobStatus.COMPLETED_WITH_ERRORS,
        "load": JobStatus.CANCELLED,
        "publish": JobStatus.CANCELLED,
        "tell-owner": JobStatus.COMPLETED,
        "cleanup": JobStatus.COMPLETED,
    }
    assert (
        done.step("load").job.status_text == "Not run: step 'transform' ended CompletedWithErrors"
    )
    assert done.step("publish").job.status_text == "Not run: step 'load' ended Cancelled"
    assert done.step("tell-owner").job.result == {"failed": ["transform"]}
    for name in ("load", "publish"):
        assert processing_count(jobs, done.step(name).job.id) == 0
    assert done.id in {w.id for w in jobs.find_workflows(status=JobStatus.COMPLETED_WITH_ERRORS)}


def test_a_handler_nothing_called_for_leaves_the_workflow_completed(
    jobs: JobManager, worker: Process
) -> None:
    spec = failing_middle()
    steps = [replace(s, parameters={"add": 2}) if s.name == "transform" else s for s in spec.steps]
    done = ended(jobs, jobs.start_workflow(WorkflowSpec(tuple(steps))))
    assert done.status is JobStatus.COMPLETED
    handler = done.step("tell-owner")
    assert handler.status is JobStatus.CANCELLED
    assert handler.not_needed
    assert handler.job.status_text == "Not needed: no step it follows failed"
    assert processing_count(jobs, handler.job.id) == 0
    assert done.failed_steps() == []
    with pytest.raises(NotRerunnable):
        jobs.rerun_workflow(done.id)


def test_rerun_of_the_failed_step_re_arms_the_rest(jobs: JobManager, worker: Process) -> None:
    spec = failing_middle()
    steps = [
        replace(s, parameters={"add": 2, "fail_attempts": 1}) if s.name == "transform" else s
        for s in spec.steps
    ]
    first = ended(jobs, jobs.start_workflow(WorkflowSpec(tuple(steps))))
    assert first.status is JobStatus.COMPLETED_WITH_ERRORS
    with pytest.raises(NotRerunnable):
        jobs.rerun_workflow(first.id, "extract")  # it Completed
    with pytest.raises(NotRerunnable, match="rerun the one that failed"):
        jobs.rerun_workflow(first.id, "load")  # its dependency failed
    rerun = jobs.rerun_workflow(first.id, "transform", reason="fixed the input")
    assert rerun.status is JobStatus.PROCESSING
    assert rerun.completed_at is None
    assert rerun.step("load").job.awaiting_steps
    assert rerun.step("load").job.attempt == 2
    done = ended(jobs, rerun)
    assert done.status is JobStatus.COMPLETED
    assert done.step("transform").job.attempt == 2
    assert done.step("load").job.result == {"total": 3 + 2, "inputs": ["transform"]}
    assert done.step("publish").status is JobStatus.COMPLETED
    for name in ("extract", "tell-owner", "cleanup"):  # Completed before: not run again
        assert done.step(name).job.attempt == 1
        assert processing_count(jobs, done.step(name).job.id) == 1


def test_cancel_mid_way_cancels_what_has_not_ended(jobs: JobManager, worker: Process) -> None:
    workflow = jobs.start_workflow(
        chain(
            Step("quick", "tests.wf.add"),
            Step("slow", "tests.wf.add", {"seconds": 60}),
            Step("never", "tests.wf.add"),
        )
    )
    wait_for(
        lambda: jobs.get_workflow(workflow.id).step("slow").status is JobStatus.PROCESSING,
        "the slow step to run",
    )
    jobs.cancel_workflow(workflow.id, reason="not needed")
    done = ended(jobs, workflow, timeout=30)
    assert done.status is JobStatus.CANCELLED
    assert [s.status for s in done.steps] == [
        JobStatus.COMPLETED,
        JobStatus.CANCELLED,
        JobStatus.CANCELLED,
    ]
    assert processing_count(jobs, done.step("never").job.id) == 0
    assert done.id in {w.id for w in jobs.find_workflows(status=JobStatus.CANCELLED)}


def counts(settings: Settings) -> tuple[int, int]:
    engine = create_engine(settings.database_url or "")
    try:
        with engine.connect() as connection:
            return (
                connection.execute(select(func.count()).select_from(JobRow)).scalar_one(),
                connection.execute(select(func.count()).select_from(WorkflowRow)).scalar_one(),
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("steps", "error", "says"),
    [
        (
            [
                Step("a", "tests.wf.add", after=("c",)),
                Step("b", "tests.wf.add", after=("a",)),
                Step("c", "tests.wf.add", after=("b",)),
            ],
            InvalidWorkflow,
            "cycle (each runs before the next): a -> b -> c -> a",
        ),
        ([Step("a", "tests.wf.add", after=("nope",))], InvalidWorkflow, "unknown step 'nope'"),
        ([Step("a", "tests.nope")], UnknownJobType, "unknown job type"),
        ([Step("a", "tests.wf.add", {"add": "x"})], InvalidParameters, "step 'a'"),
        (
            [Step("a", "tests.wf.add"), Step("a", "tests.wf.add")],
            InvalidWorkflow,
            "two steps are named 'a'",
        ),
        ([Step("a", "tests.wf.add", results="inputs")], InvalidWorkflow, "depends on no step"),
        (
            [Step("a", "tests.wf.add"), Step("b", "tests.wf.add", after=("a",), results="add")],
            InvalidWorkflow,
            "must be declared as a dict",
        ),
    ],
)
def test_invalid_workflows_are_refused_with_nothing_written(
    jobs: JobManager,
    wf_settings: Settings,
    steps: list[Step],
    error: type[Exception],
    says: str,
) -> None:
    before = counts(wf_settings)
    with pytest.raises(error) as caught:
        jobs.start_workflow(steps)
    assert says in str(caught.value)
    assert counts(wf_settings) == before


# -- exactly once, whoever decides and whoever dies ----------------------------------------


@pytest.fixture
def step_settings(settings: Settings) -> Settings:
    """A database and queue of the test's own; a lost worker's jobs recovered in seconds."""
    return replace(
        settings,
        job_modules=JOB_MODULES,
        heartbeat_interval=0.5,
        worker_timeout=3.0,
        maintenance_interval=1.0,
    )


@pytest.fixture
def step_jobs(step_settings: Settings) -> Iterator[JobManager]:
    manager = JobManager.from_settings(step_settings)
    yield manager
    manager.close()


def step_events(jobs: JobManager, job_id: uuid.UUID) -> Counter[tuple[JobStatus, int]]:
    """How many events of each (status, attempt) the job has."""
    return Counter((e.status, e.attempt) for e in jobs.job_events(job_id))


def test_a_step_whose_dependencies_ended_unseen_starts_once_when_workers_come(
    step_settings: Settings, step_jobs: JobManager, processes: Processes
) -> None:
    """The dependencies end while no worker runs (cancelled by this process, which
    decides nothing): the two workers that come up together find the step ready in their
    first rounds, and exactly one decision applies."""
    jobs = step_jobs
    workflow = jobs.start_workflow(
        fan_in(
            [Step("left", "tests.wf.add"), Step("right", "tests.wf.add")],
            Step("report", "tests.wf.notify", policy="always", results="inputs"),
        )
    )
    for name in ("left", "right"):
        jobs.cancel_job(workflow.step(name).job.id)
    assert jobs.get_workflow(workflow.id).step("report").job.awaiting_steps
    for _ in range(2):
        processes.start(
            "worker",
            ["worker", "--concurrency=1", f"--hostname=s{uuid.uuid4().hex[:6]}@%h"],
            settings_env(step_settings),
        )
    done = ended(jobs, workflow)
    report = done.step("report").job
    assert done.status is JobStatus.COMPLETED_WITH_ERRORS  # two steps Cancelled
    assert report.result == {"failed": ["left", "right"]}
    assert step_events(jobs, report.id) == {
        (JobStatus.CREATED, 1): 1,
        (JobStatus.QUEUED, 1): 1,
        (JobStatus.PROCESSING, 1): 1,
        (JobStatus.COMPLETED, 1): 1,
    }


def test_a_worker_killed_as_dependencies_end_leaves_each_step_started_once(
    step_settings: Settings, step_jobs: JobManager, processes: Processes
) -> None:
    """Two workers run fan-ins; one is SIGKILLed (main process and pool) once the
    first dependencies ended, while both its processes run others: before, while or
    after its round decides the steps they end. Every workflow still ends, each step
    decided once by its policy and each attempt started once; the jobs the lost worker
    ran end WorkerLost (the reaper), and the steps after them end Cancelled naming them.

    Killing it while both its processes are busy means it holds no message it has not
    claimed (prefetch 1 a process): such a message would wait in Redis' unacknowledged
    set for the visibility timeout, a case the fault tests cover."""
    env = settings_env(step_settings)
    processes.start("beat", ["beat"], env)
    doomed = processes.start("worker", ["worker", "--concurrency=2", "--hostname=doomed@%h"], env)
    processes.start("worker", ["worker", "--concurrency=2", "--hostname=spared@%h"], env)
    doomed.wait_for_log(" ready.", timeout=60)
    jobs = step_jobs
    started = [
        jobs.start_workflow(
            fan_in(
                [
                    Step(f"part-{n}", "tests.wf.add", {"add": n, "seconds": 0.1 + n})
                    for n in range(3)
                ],
                Step("join", "tests.wf.collect", results="inputs"),
            )
            + WorkflowSpec((Step("after", "tests.wf.add", after=("join",)),))
        )
        for _ in range(6)
    ]
    wait_for(
        lambda: any(
            jobs.get_workflow(w.id).step("part-0").status is JobStatus.COMPLETED for w in started
        ),
        "a first dependency to end",
    )

    def doomed_busy() -> bool:
        running = jobs.running_jobs(limit=50)
        return sum((job.worker_id or "").startswith("doomed@") for job in running) == 2

    wait_for(doomed_busy, "both of the doomed worker's processes to run a step")
    doomed.kill()
    for workflow in started:
        done = ended(jobs, workflow, timeout=180)
        for step in done.steps:
            created = [e for e in jobs.job_events(step.job.id) if e.status is JobStatus.CREATED]
            assert len(created) == 1, step.name  # decided once: never re-armed
            failed = [d for d in step.after if done.step(d).status is not JobStatus.COMPLETED]
            if failed:  # a dependency was lost with the worker (WorkerLost)
                assert step.status is JobStatus.CANCELLED, step.name
                assert f"step {failed[0]!r} ended" in (step.job.status_text or "")
            else:
                assert processing_count(jobs, step.job.id) >= 1, step.name
        everything = {s.status for s in done.steps} == {JobStatus.COMPLETED}
        assert (done.status is JobStatus.COMPLETED) is everything
        if everything:
            assert done.step("join").job.result["count"] == 3  # type: ignore[index]
