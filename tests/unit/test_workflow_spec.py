"""Workflow specs: the builders' shapes, the document form, the checks made before
anything is written, and the decision a ready step gets from its dependencies' ends."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

import tests.support.workflow_jobs  # noqa: F401  (declares tests.wf.*)
from jobhub import (
    InvalidParameters,
    InvalidWorkflow,
    JobStatus,
    Step,
    StepPolicy,
    UnknownJobType,
    WorkflowSpec,
    chain,
    fan_in,
    fan_out,
)
from jobhub.db.workflow_store import Ended, ReadyStep
from jobhub.housekeeping.advance import decide
from jobhub.workflows.spec import checked, from_document


def after(spec: WorkflowSpec) -> dict[str, tuple[str, ...]]:
    return {step.name: step.after for step in spec.steps}


def test_chain_puts_each_step_after_the_one_before() -> None:
    spec = chain(Step("a", "tests.wf.add"), Step("b", "tests.wf.add"), Step("c", "tests.wf.add"))
    assert after(spec) == {"a": (), "b": ("a",), "c": ("b",)}


def test_chain_of_parts_attaches_to_their_first_and_last_steps() -> None:
    parallel = fan_in(
        [Step("x", "tests.wf.add"), Step("y", "tests.wf.add")],
        Step("j", "tests.wf.collect", results="inputs"),
    )
    spec = chain(Step("start", "tests.wf.add"), parallel, Step("end", "tests.wf.add"))
    assert after(spec) == {
        "start": (),
        "x": ("start",),
        "y": ("start",),
        "j": ("x", "y"),
        "end": ("j",),
    }


def test_fan_out_and_fan_in() -> None:
    out = fan_out(Step("a", "tests.wf.add"), [Step("b", "tests.wf.add"), Step("c", "tests.wf.add")])
    assert after(out) == {"a": (), "b": ("a",), "c": ("a",)}
    assert out.last == ("b", "c")


def test_checked_orders_steps_after_their_dependencies_and_fills_defaults() -> None:
    spec = WorkflowSpec(
        (
            Step("b", "tests.wf.add", {"add": 2}, after=("a",), results="inputs"),
            Step("a", "tests.wf.add"),
        )
    )
    steps = checked(spec)
    assert [s.name for s in steps] == ["a", "b"]
    assert steps[1].parameters == {"add": 2, "fail": False, "fail_attempts": 0, "seconds": 0.0}
    assert steps[1].results == "inputs"


@pytest.mark.parametrize(
    ("steps", "error", "says"),
    [
        ([], InvalidWorkflow, "at least one step"),
        ([Step("a", "tests.wf.add", after=("a",))], InvalidWorkflow, "depends on itself"),
        ([Step(" a", "tests.wf.add")], InvalidWorkflow, "no surrounding spaces"),
        ([Step("a\x00", "tests.wf.add")], InvalidWorkflow, "not storable text"),
        ([Step("a", "tests.wf.add", description="\x00")], InvalidWorkflow, "not storable text"),
        ([Step("a", "nope.nope")], UnknownJobType, "step 'a'"),
        ([Step("a", "tests.wf.add", {"bogus": 1})], InvalidParameters, "bogus"),
        (
            [Step("a", "tests.wf.add", policy="sometimes", after=())],
            InvalidWorkflow,
            "unknown step policy",
        ),
        ([Step("a", "tests.wf.add", policy=StepPolicy.ON_FAILURE)], InvalidWorkflow, "must depend"),
        (
            [
                Step("a", "tests.wf.add"),
                Step("b", "tests.wf.add", {"inputs": {}}, after=("a",), results="inputs"),
            ],
            InvalidWorkflow,
            "set by the workflow",
        ),
        (
            [Step("a", "tests.wf.add"), Step("b", "tests.wf.add", after=("a",), results="nope")],
            InvalidWorkflow,
            "not a parameter",
        ),
    ],
)
def test_bad_workflows_are_refused(steps: list[Step], error: type[Exception], says: str) -> None:
    with pytest.raises(error) as caught:
        checked(WorkflowSpec(tuple(steps)))
    assert says in str(caught.value)


def test_the_document_form() -> None:
    spec = from_document(
        {
            "name": "etl",
            "steps": [
                {"name": "a", "jobType": "tests.wf.add", "parameters": {"add": 1}},
                {"name": "b", "job_type": "tests.wf.add", "after": "a", "policy": "on-failure"},
            ],
        }
    )
    assert spec.name == "etl"
    assert after(spec) == {"a": (), "b": ("a",)}
    assert checked(spec)[1].policy is StepPolicy.ON_FAILURE


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ([], "an object with a list of steps"),
        ({"steps": "a"}, "steps must be a list"),
        ({"steps": [], "extra": 1}, "unknown workflow field"),
        ({"steps": [{"job_type": "x"}]}, "needs a name"),
        ({"steps": [{"name": "a"}]}, "needs a job_type"),
        ({"steps": [{"name": "a", "job_type": "x", "after": [1]}]}, "list of step names"),
        ({"steps": [{"name": "a", "job_type": "x", "priority": "high"}]}, "whole number"),
        ({"steps": [{"name": "a", "job_type": "x", "colour": "red"}]}, "unknown field"),
    ],
)
def test_bad_documents_are_refused(document: object, says: str) -> None:
    with pytest.raises(InvalidWorkflow) as caught:
        from_document(document)
    assert says in str(caught.value)


def ready(
    policy: StepPolicy, *ends: JobStatus, cancelled: bool = False, results: str | None = None
) -> ReadyStep:
    return ReadyStep(
        workflow_id=uuid.uuid4(),
        name="s",
        job_id=uuid.uuid4(),
        attempt=1,
        job_type="tests.wf.add",
        parameters={"add": 1, "fail": False, "fail_attempts": 0, "seconds": 0.0},
        queue="jobhub",
        priority=0,
        policy=policy,
        results=results,
        cancelled=cancelled,
        dependencies=tuple(
            Ended(
                name=f"d{n}",
                status=status,
                result={"total": n} if status is JobStatus.COMPLETED else None,
            )
            for n, status in enumerate(ends)
        ),
    )


C, E, X = JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.CANCELLED


@pytest.mark.parametrize(
    ("policy", "ends", "runs"),
    [
        (StepPolicy.COMPLETED, (C, C), True),
        (StepPolicy.COMPLETED, (C, E), False),
        (StepPolicy.ON_FAILURE, (C, C), False),
        (StepPolicy.ON_FAILURE, (C, X), True),
        (StepPolicy.ALWAYS, (E, X), True),
        (StepPolicy.ALWAYS, (C,), True),
    ],
)
def test_a_ready_step_runs_by_its_policy(
    policy: StepPolicy, ends: tuple[JobStatus, ...], runs: bool
) -> None:
    decision = decide(ready(policy, *ends))
    assert (decision.parameters is not None) is runs
    if not runs:
        assert decision.status is JobStatus.CANCELLED
        assert decision.text is not None
        assert decision.text.startswith(("Not run", "Not needed"))


def test_a_skipped_step_names_the_steps_that_failed() -> None:
    decision = decide(ready(StepPolicy.COMPLETED, C, E, X))
    assert (
        decision.text == "Not run: step 'd1' ended CompletedWithErrors; step 'd2' ended Cancelled"
    )


def test_a_cancelled_workflow_runs_nothing_more() -> None:
    decision = decide(ready(StepPolicy.ALWAYS, C, cancelled=True))
    assert decision.status is JobStatus.CANCELLED
    assert decision.text == "Not run: the workflow was cancelled"


def test_results_go_to_the_results_parameter_by_step_name() -> None:
    decision = decide(ready(StepPolicy.ALWAYS, C, E, results="inputs"))
    assert decision.parameters is not None
    assert decision.parameters["inputs"] == {"d0": {"total": 0}, "d1": None}


def test_a_handler_nothing_called_for_is_not_needed_and_so_is_what_follows_it() -> None:
    handler = decide(ready(StepPolicy.ON_FAILURE, C, C))
    assert handler.not_needed
    assert handler.text == "Not needed: no step it follows failed"
    after_it = ready(StepPolicy.COMPLETED, C)
    after_it = replace(
        after_it,
        dependencies=(Ended(name="h", status=X, result=None, not_needed=True),),
    )
    decision = decide(after_it)
    assert decision.not_needed
    assert decision.status is JobStatus.CANCELLED
    assert decision.text == "Not needed: it follows steps that were not needed ('h')"
    assert decide(replace(after_it, policy=StepPolicy.ON_FAILURE)).not_needed
    assert decide(replace(after_it, policy=StepPolicy.ALWAYS)).parameters is not None
