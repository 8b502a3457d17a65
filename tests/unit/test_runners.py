"""Jobs run elsewhere (``jobhub.manager.runners``) on the in-memory twin: claim, report,
finish, the refusals, retries, and a silent runner found by the reaper."""

from __future__ import annotations

from uuid import uuid4

import pytest

from jobhub import RetryPolicy, declare_elsewhere
from jobhub.definitions import get_definition
from jobhub.errors import InvalidInput, JobNotFound, ReportRefused
from jobhub.housekeeping.due import DuePublisher
from jobhub.housekeeping.outbox import Outbox
from jobhub.housekeeping.reaper import Reaper
from jobhub.jobs import Job, JobError, JobStatus, StartType
from jobhub.manager.runners import Runners
from jobhub.testing import MemoryRuntime
from tests.support.memory import Clock, RecordingBroker, memory_runtime, start

TIMEOUT = 30.0
ONCE = declare_elsewhere(
    "tests.unit_elsewhere_once",
    description="Run by a runner; one attempt",
    runner_timeout=TIMEOUT,
)
TWICE = declare_elsewhere(
    "tests.unit_elsewhere_twice",
    description="Run by a runner; two attempts",
    retry=RetryPolicy(attempts=2),
    runner_timeout=TIMEOUT,
)


class Setup:
    def __init__(self) -> None:
        self.clock = Clock()
        self.runtime: MemoryRuntime = memory_runtime(self.clock, publish_grace=5.0)
        self.broker = RecordingBroker()
        self.runners = Runners(self.runtime)

    def start(self, job_type: str = ONCE.name) -> Job:
        job = start(self.broker.dispatcher(self.runtime), job_type)
        self.runtime.settle()
        return job

    def get(self, job: Job) -> Job:
        return self.runtime.store.get(job.id)


@pytest.fixture
def setup() -> Setup:
    return Setup()


# -- claim -------------------------------------------------------------------------------


def test_a_job_run_elsewhere_waits_created_and_is_never_published(setup: Setup) -> None:
    job = setup.start()
    setup.clock.advance(60)
    DuePublisher(setup.runtime, setup.broker.dispatcher(setup.runtime).publish).publish_due()
    Outbox(setup.runtime, setup.broker.dispatcher(setup.runtime).publish, set).reconcile()

    waiting = setup.get(job)
    assert (waiting.status, waiting.runs_elsewhere, waiting.due_at) == (
        JobStatus.CREATED,
        True,
        None,
    )
    assert setup.broker.sent == []


def test_a_claim_makes_the_job_processing_under_its_runner(setup: Setup) -> None:
    job = setup.start()

    claimed = setup.runners.claim(job.id, "agent-1")

    assert (claimed.status, claimed.worker_id, claimed.attempt) == (
        JobStatus.PROCESSING,
        "agent-1",
        1,
    )
    assert claimed.started_at == setup.clock()
    last = setup.runtime.store.events(job.id)[-1]
    assert (last.status, last.worker_id, last.message) == (
        JobStatus.PROCESSING,
        "agent-1",
        "claimed by agent-1",
    )


def test_a_second_runners_claim_is_refused_naming_the_holder(setup: Setup) -> None:
    job = setup.start()
    setup.runners.claim(job.id, "agent-1")

    with pytest.raises(ReportRefused, match="runner 'agent-1' holds it"):
        setup.runners.claim(job.id, "agent-2")
    assert setup.get(job).worker_id == "agent-1"


def test_the_same_runner_claiming_again_gets_the_job_back_as_a_heartbeat(setup: Setup) -> None:
    job = setup.start()
    setup.runners.claim(job.id, "agent-1")
    setup.clock.advance(10)

    again = setup.runners.claim(job.id, "agent-1")

    assert (again.status, again.updated_at) == (JobStatus.PROCESSING, setup.clock())
    assert [e.status for e in setup.runtime.store.events(job.id)] == [
        JobStatus.CREATED,
        JobStatus.PROCESSING,
    ]


def test_a_job_of_a_worker_type_cannot_be_claimed(setup: Setup) -> None:
    job = setup.start("diagnostics.echo")

    with pytest.raises(InvalidInput, match="run by jobhub's workers"):
        setup.runners.claim(job.id, "agent-1")
    with pytest.raises(InvalidInput):
        setup.runners.report(job.id, "agent-1")


@pytest.mark.parametrize("runner", ["", "   ", "x" * 201, "nul\x00"])
def test_a_runner_needs_a_storable_name(setup: Setup, runner: str) -> None:
    job = setup.start()
    with pytest.raises(InvalidInput):
        setup.runners.claim(job.id, runner)
    assert setup.get(job).status is JobStatus.CREATED


def test_an_unknown_job_is_not_found(setup: Setup) -> None:
    with pytest.raises(JobNotFound):
        setup.runners.claim(uuid4(), "agent-1")
    with pytest.raises(JobNotFound):
        setup.runners.claim("not-an-id", "agent-1")


# -- report ------------------------------------------------------------------------------


def test_reports_set_percent_status_text_and_messages(setup: Setup) -> None:
    job = setup.start()
    setup.runners.claim(job.id, "agent-1")
    setup.clock.advance(5)

    setup.runners.report(job.id, "agent-1", percent=40.7, status_text="copying")
    reported = setup.runners.report(job.id, "agent-1", message="disk almost full", level="warning")

    assert (reported.percent, reported.status_text, reported.updated_at) == (
        40,
        "copying",
        setup.clock(),
    )
    [message] = setup.runtime.store.messages(job.id)
    assert (message.level, message.text, message.attempt) == ("warning", "disk almost full", 1)


def test_an_empty_report_is_a_heartbeat(setup: Setup) -> None:
    job = setup.start()
    setup.runners.claim(job.id, "agent-1")
    setup.clock.advance(20)

    alive = setup.runners.report(job.id, "agent-1")

    assert alive.updated_at == setup.clock()
    assert (alive.percent, alive.status_text) == (0, "claimed by agent-1")


def test_a_report_tells_the_runner_a_cancel_was_asked_for(setup: Setup) -> None:
    job = setup.start()
    setup.runners.claim(job.id, "agent-1")
    setup.runtime.writes.request_cancel(job.id, at=setup.clock(), actor="ops", cancel_running=True)

    assert setup.runners.report(job.id, "agent-1").cancel_requested


def test_reports_not_from_the_holder_are_refused(setup: Setup) -> None:
    job = setup.start()
    with pytest.raises(ReportRefused, match="waits for a runner's claim"):
        setup.runners.report(job.id, "agent-1", percent=10)
    setup.runners.claim(job.id, "agent-1")

    with pytest.raises(ReportRefused, match="runner 'agent-1' holds it"):
        setup.runners.report(job.id, "agent-2", percent=90, message="mine")
    assert setup.get(job).percent == 0
    assert setup.runtime.store.messages(job.id) == []


@pytest.mark.parametrize(
    "values",
    [{"percent": -1}, {"percent": 100.5}, {"level": "debug"}, {"message": " "}],
)
def test_bad_report_values_are_invalid_input(setup: Setup, values: dict[str, object]) -> None:
    job = setup.start()
    setup.runners.claim(job.id, "agent-1")
    with pytest.raises(InvalidInput):
        setup.runners.report(job.id, "agent-1", **values)  # type: ignore[arg-type]


# -- finish ------------------------------------------------------------------------------


def test_a_finish_with_a_result_completes_the_job(setup: Setup) -> None:
    job = setup.start()
    setup.runners.claim(job.id, "agent-1")

    done = setup.runners.finish(job.id, "agent-1", result={"files": 12})

    assert (done.status, done.result, done.percent, done.worker_id) == (
        JobStatus.COMPLETED,
        {"files": 12},
        100,
        "agent-1",
    )
    assert done.completed_at == setup.clock()


def test_nothing_moves_a_finished_job_backwards(setup: Setup) -> None:
    job = setup.start()
    setup.runners.claim(job.id, "agent-1")
    setup.runners.finish(job.id, "agent-1", result=1)

    with pytest.raises(ReportRefused, match="already ended Completed"):
        setup.runners.report(job.id, "agent-1", percent=50, message="late")
    with pytest.raises(ReportRefused, match="already ended Completed"):
        setup.runners.finish(job.id, "agent-1", result=2)
    with pytest.raises(ReportRefused, match="already ended Completed"):
        setup.runners.finish(job.id, "agent-1", error="late failure")
    with pytest.raises(ReportRefused, match="already ended Completed"):
        setup.runners.claim(job.id, "agent-2")

    after = setup.get(job)
    assert (after.status, after.result, after.percent) == (JobStatus.COMPLETED, 1, 100)
    assert setup.runtime.store.messages(job.id) == []


def test_a_finish_by_another_runner_is_refused(setup: Setup) -> None:
    job = setup.start()
    setup.runners.claim(job.id, "agent-1")

    with pytest.raises(ReportRefused, match="runner 'agent-1' holds it"):
        setup.runners.finish(job.id, "agent-2", result="stolen")
    assert setup.get(job).status is JobStatus.PROCESSING


def test_a_result_that_is_not_json_is_refused_and_the_job_keeps_running(setup: Setup) -> None:
    job = setup.start()
    setup.runners.claim(job.id, "agent-1")

    with pytest.raises(InvalidInput, match="not JSON"):
        setup.runners.finish(job.id, "agent-1", result={"a set": {1, 2}})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match="not both"):
        setup.runners.finish(job.id, "agent-1", result=1, error="and failed")
    assert setup.get(job).status is JobStatus.PROCESSING


def test_an_error_with_no_attempt_left_ends_completed_with_errors(setup: Setup) -> None:
    job = setup.start()
    setup.runners.claim(job.id, "agent-1")

    failed = setup.runners.finish(job.id, "agent-1", error="the device stopped answering")

    assert failed.status is JobStatus.COMPLETED_WITH_ERRORS
    assert failed.error == JobError(type="RunnerError", message="the device stopped answering")


def test_an_error_is_retried_under_the_policy_as_a_new_attempt_for_a_runner(
    setup: Setup,
) -> None:
    job = setup.start(TWICE.name)
    setup.runners.claim(job.id, "agent-1")
    error = JobError(type="DeviceOffline", message="no answer")

    waiting = setup.runners.finish(job.id, "agent-1", error=error)

    assert (waiting.status, waiting.attempt, waiting.retries, waiting.worker_id) == (
        JobStatus.CREATED,
        2,
        1,
        None,
    )
    assert waiting.due_at is None  # its runner decides when
    assert waiting.status_text == "attempt 2 of 2: waiting for its runner"
    failed_event = setup.runtime.store.events(job.id)[-2]
    assert (failed_event.status, failed_event.attempt, failed_event.error) == (
        JobStatus.COMPLETED_WITH_ERRORS,
        1,
        error,
    )
    with pytest.raises(ReportRefused, match="waits for a runner's claim"):
        setup.runners.report(job.id, "agent-1", percent=99)  # the old attempt's runner

    again = setup.runners.claim(job.id, "agent-2")
    assert (again.attempt, again.status_text) == (2, "attempt 2 of 2, claimed by agent-2")
    ended = setup.runners.finish(job.id, "agent-2", error=error)
    assert (ended.status, ended.attempt) == (JobStatus.COMPLETED_WITH_ERRORS, 2)
    assert setup.broker.sent == []


def test_an_error_the_runner_says_no_attempt_can_fix_ends_at_once(setup: Setup) -> None:
    job = setup.start(TWICE.name)
    setup.runners.claim(job.id, "agent-1")

    ended = setup.runners.finish(job.id, "agent-1", error="bad serial number", retry=False)

    assert (ended.status, ended.attempt) == (JobStatus.COMPLETED_WITH_ERRORS, 1)


def test_a_runner_ends_its_job_cancelled_only_once_a_cancel_was_asked_for(
    setup: Setup,
) -> None:
    job = setup.start()
    setup.runners.claim(job.id, "agent-1")
    with pytest.raises(ReportRefused, match="nobody asked to cancel"):
        setup.runners.finish(job.id, "agent-1", cancelled=True)

    setup.runtime.writes.request_cancel(job.id, at=setup.clock(), actor="ops", cancel_running=True)
    cancelled = setup.runners.finish(job.id, "agent-1", cancelled=True)

    assert (cancelled.status, cancelled.status_text) == (
        JobStatus.CANCELLED,
        "Cancelled by its runner",
    )


def test_a_cancel_before_the_claim_ends_the_job_and_no_runner_gets_it(setup: Setup) -> None:
    job = setup.start()
    setup.runtime.writes.request_cancel(job.id, at=setup.clock(), actor="ops", cancel_running=True)

    with pytest.raises(ReportRefused, match="already ended Cancelled"):
        setup.runners.claim(job.id, "agent-1")


# -- a silent runner -----------------------------------------------------------------------


def test_a_silent_runners_job_is_reopened_for_a_runner_under_its_policy(setup: Setup) -> None:
    job = setup.start(TWICE.name)
    setup.runners.claim(job.id, "agent-1")
    setup.clock.advance(TIMEOUT + 1)

    report = Reaper(setup.runtime).reap()

    assert report.requeued == [job.id]
    waiting = setup.get(job)
    assert (waiting.status, waiting.attempt, waiting.due_at) == (JobStatus.CREATED, 2, None)
    lost = setup.runtime.store.events(job.id)[-2]
    assert lost.error is not None
    assert lost.error.type == "RunnerLost"
    assert "agent-1" in lost.error.message
    with pytest.raises(ReportRefused):  # it comes back too late
        setup.runners.finish(job.id, "agent-1", result="late")
    assert setup.runners.claim(job.id, "agent-2").attempt == 2
    assert setup.broker.sent == []


def test_a_silent_runner_with_no_attempt_left_ends_runner_lost(setup: Setup) -> None:
    job = setup.start()
    setup.runners.claim(job.id, "agent-1")
    setup.clock.advance(TIMEOUT + 1)

    assert Reaper(setup.runtime).reap().failed == [job.id]

    lost = setup.get(job)
    assert lost.status is JobStatus.COMPLETED_WITH_ERRORS
    assert lost.error is not None
    assert lost.error.type == "RunnerLost"


def test_a_runner_that_keeps_reporting_is_not_lost(setup: Setup) -> None:
    job = setup.start()
    setup.runners.claim(job.id, "agent-1")
    for _ in range(4):
        setup.clock.advance(TIMEOUT - 1)
        setup.runners.report(job.id, "agent-1")
        assert Reaper(setup.runtime).reap().failed == []

    assert setup.get(job).status is JobStatus.PROCESSING


# -- the shipped example ---------------------------------------------------------------------


def test_the_shipped_device_sync_type_runs_elsewhere() -> None:
    definition = get_definition("external.device_sync")

    assert definition.runs_elsewhere
    assert definition.func is None
    assert definition.start_type is StartType.NEVER
    assert [p.name for p in definition.params] == ["device", "full"]
    assert (definition.retry.attempts, definition.runner_timeout) == (2, 60)


def test_a_report_or_finish_for_an_earlier_attempt_is_refused(setup: Setup) -> None:
    job = setup.start(TWICE.name)
    first = setup.runners.claim(job.id, "agent-1")
    setup.runners.report(job.id, "agent-1", percent=10, attempt=first.attempt)
    setup.clock.advance(TIMEOUT + 1)
    assert Reaper(setup.runtime).reap().requeued == [job.id]
    second = setup.runners.claim(job.id, "agent-1")  # the same runner, a new attempt
    assert second.attempt == first.attempt + 1

    with pytest.raises(ReportRefused, match=f"it is on attempt {second.attempt}"):
        setup.runners.report(job.id, "agent-1", percent=90, attempt=first.attempt)
    with pytest.raises(ReportRefused, match=f"it is on attempt {second.attempt}"):
        setup.runners.finish(job.id, "agent-1", result={"late": True}, attempt=first.attempt)

    assert setup.get(job).percent == 0
    done = setup.runners.finish(job.id, "agent-1", result={"ok": True}, attempt=second.attempt)
    assert (done.status, done.result) == (JobStatus.COMPLETED, {"ok": True})
