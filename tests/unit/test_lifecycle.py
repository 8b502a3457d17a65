"""The forward-only rule of jobhub.lifecycle: applies, apply, can_reopen, cancel_outcome.

Pure functions only; the rule's agreement with the job store's SQL is checked elsewhere.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobhub.jobs import JobStatus
from jobhub.lifecycle import (
    MOVABLE_STATUSES,
    CancelOutcome,
    Position,
    ReopenReason,
    Transition,
    applies,
    apply,
    can_reopen,
    cancel_outcome,
)

JOB_ID = UUID("00000000-0000-4000-8000-000000000001")
AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
TERMINALS = (JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.CANCELLED)
ACTIVES = (JobStatus.CREATED, JobStatus.QUEUED, JobStatus.PROCESSING)
STORED = ACTIVES + TERMINALS


def move(status: JobStatus, attempt: int = 1) -> Transition:
    return Transition(job_id=JOB_ID, attempt=attempt, status=status, at=AT)


def at(status: JobStatus, attempt: int = 1, *, queued: bool | None = None) -> Position:
    """A position; Queued counts as recorded once the status is Queued or beyond."""
    if queued is None:
        queued = status is not JobStatus.CREATED
    return Position(attempt, status, queued)


# -- Transition ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [JobStatus.CREATED, JobStatus.UNKNOWN])
def test_transition_cannot_carry_created_or_unknown(status: JobStatus) -> None:
    with pytest.raises(ValueError, match="cannot carry status"):
        move(status)


@pytest.mark.parametrize("status", sorted(MOVABLE_STATUSES))
def test_transition_carries_every_status_after_created(status: JobStatus) -> None:
    assert move(status).status is status


def test_movable_statuses_are_the_stored_statuses_except_created() -> None:
    assert set(STORED) - {JobStatus.CREATED} == MOVABLE_STATUSES


@pytest.mark.parametrize("attempt", [0, -1])
def test_transition_attempts_count_from_one(attempt: int) -> None:
    with pytest.raises(ValueError, match="attempts count from 1"):
        move(JobStatus.QUEUED, attempt=attempt)


def test_transition_keeps_what_the_writer_saw() -> None:
    job_id = uuid4()
    transition = Transition(
        job_id=job_id,
        attempt=2,
        status=JobStatus.COMPLETED,
        at=AT,
        worker_id="w1/42",
        message="done",
        result={"n": 1},
    )
    assert (transition.job_id, transition.attempt, transition.worker_id) == (job_id, 2, "w1/42")
    assert (transition.message, transition.result, transition.error) == ("done", {"n": 1}, None)


# -- older and newer attempts ----------------------------------------------------------


@pytest.mark.parametrize("current", STORED)
@pytest.mark.parametrize("status", sorted(MOVABLE_STATUSES))
def test_transition_of_an_older_attempt_never_applies(
    current: JobStatus, status: JobStatus
) -> None:
    position = at(current, attempt=3)
    transition = move(status, attempt=2)
    assert not applies(position, transition)
    assert apply(position, transition) == position


@pytest.mark.parametrize("current", ACTIVES)
@pytest.mark.parametrize("status", sorted(MOVABLE_STATUSES))
def test_transition_of_a_newer_attempt_supersedes_a_live_attempt(
    current: JobStatus, status: JobStatus
) -> None:
    position = at(current, attempt=1)
    transition = move(status, attempt=2)
    assert applies(position, transition)
    assert apply(position, transition) == Position(2, status, status is JobStatus.QUEUED)


@pytest.mark.parametrize("current", TERMINALS)
@pytest.mark.parametrize("status", sorted(MOVABLE_STATUSES))
def test_transition_of_a_newer_attempt_does_not_reopen_a_finished_job(
    current: JobStatus, status: JobStatus
) -> None:
    position = at(current, attempt=1)
    transition = move(status, attempt=2)
    assert not applies(position, transition)
    assert apply(position, transition) == position


def test_newer_attempt_processing_starts_without_queued_recorded() -> None:
    after = apply(at(JobStatus.PROCESSING, attempt=1), move(JobStatus.PROCESSING, attempt=2))
    assert after == Position(2, JobStatus.PROCESSING, queued_recorded=False)
    # so the producer's late Queued of attempt 2 is still recorded once
    assert applies(after, move(JobStatus.QUEUED, attempt=2))


# -- within an attempt -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "status"),
    [
        (JobStatus.QUEUED, JobStatus.PROCESSING),
        (JobStatus.QUEUED, JobStatus.COMPLETED),
        (JobStatus.QUEUED, JobStatus.CANCELLED),
        (JobStatus.PROCESSING, JobStatus.COMPLETED),
        (JobStatus.PROCESSING, JobStatus.COMPLETED_WITH_ERRORS),
        (JobStatus.PROCESSING, JobStatus.CANCELLED),
        (JobStatus.CREATED, JobStatus.PROCESSING),
    ],
)
def test_status_rising_within_an_attempt_applies(current: JobStatus, status: JobStatus) -> None:
    position = at(current)
    assert applies(position, move(status))
    assert apply(position, move(status)).status is status


def test_processing_after_completed_does_not_apply() -> None:
    position = at(JobStatus.COMPLETED)
    assert not applies(position, move(JobStatus.PROCESSING))
    assert apply(position, move(JobStatus.PROCESSING)) == position


def test_duplicated_processing_does_not_apply() -> None:
    assert not applies(at(JobStatus.PROCESSING), move(JobStatus.PROCESSING))


def test_duplicated_completed_does_not_apply() -> None:
    position = apply(at(JobStatus.PROCESSING), move(JobStatus.COMPLETED))
    assert position.status is JobStatus.COMPLETED
    assert not applies(position, move(JobStatus.COMPLETED))


@pytest.mark.parametrize("first", TERMINALS)
@pytest.mark.parametrize("second", TERMINALS)
def test_only_one_terminal_status_lands_per_attempt(first: JobStatus, second: JobStatus) -> None:
    position = apply(at(JobStatus.PROCESSING), move(first))
    assert position.status is first
    assert not applies(position, move(second))
    assert apply(position, move(second)).status is first


def test_queued_applies_over_created() -> None:
    after = apply(at(JobStatus.CREATED, queued=False), move(JobStatus.QUEUED))
    assert after == Position(1, JobStatus.QUEUED, queued_recorded=True)


@pytest.mark.parametrize("current", [JobStatus.PROCESSING, *TERMINALS])
def test_late_queued_is_recorded_once_but_keeps_the_higher_status(current: JobStatus) -> None:
    position = at(current, queued=False)
    assert applies(position, move(JobStatus.QUEUED))
    after = apply(position, move(JobStatus.QUEUED))
    assert after == Position(1, current, queued_recorded=True)
    assert not applies(after, move(JobStatus.QUEUED))
    assert apply(after, move(JobStatus.QUEUED)) == after


def test_duplicated_queued_does_not_apply() -> None:
    assert not applies(at(JobStatus.QUEUED), move(JobStatus.QUEUED))


def test_late_queued_of_an_older_attempt_is_not_recorded() -> None:
    position = at(JobStatus.PROCESSING, attempt=2, queued=False)
    assert not applies(position, move(JobStatus.QUEUED, attempt=1))


# -- rerun and cancel ------------------------------------------------------------------


@pytest.mark.parametrize("status", STORED)
def test_only_a_finished_job_can_be_rerun(status: JobStatus) -> None:
    assert can_reopen(status, ReopenReason.RERUN) is (status in TERMINALS)


@pytest.mark.parametrize("status", STORED)
def test_only_a_running_job_is_reopened_when_its_worker_is_lost(status: JobStatus) -> None:
    assert can_reopen(status, ReopenReason.WORKER_LOST) is (status is JobStatus.PROCESSING)


@pytest.mark.parametrize("status", [JobStatus.CREATED, JobStatus.QUEUED])
@pytest.mark.parametrize("can_cancel", [True, False])
def test_cancelling_a_job_not_started_ends_it_at_once(status: JobStatus, can_cancel: bool) -> None:
    assert cancel_outcome(status, can_cancel) == CancelOutcome(cancel_now=True, flag_running=False)


def test_cancelling_a_running_cancellable_job_flags_it() -> None:
    outcome = cancel_outcome(JobStatus.PROCESSING, True)
    assert outcome == CancelOutcome(cancel_now=False, flag_running=True)


def test_a_running_job_whose_type_cannot_be_cancelled_cannot_be_cancelled() -> None:
    assert cancel_outcome(JobStatus.PROCESSING, False) is None


@pytest.mark.parametrize("status", TERMINALS)
@pytest.mark.parametrize("can_cancel", [True, False])
def test_a_finished_job_cannot_be_cancelled(status: JobStatus, can_cancel: bool) -> None:
    assert cancel_outcome(status, can_cancel) is None


# -- property: any order of any transitions --------------------------------------------

transitions = st.builds(
    move,
    status=st.sampled_from(sorted(MOVABLE_STATUSES)),
    attempt=st.integers(min_value=1, max_value=3),
)


@settings(max_examples=300, deadline=None)
@given(
    start_status=st.sampled_from(STORED),
    batch=st.lists(transitions, max_size=12).flatmap(st.permutations),
)
def test_any_order_of_transitions_moves_forward_only(
    start_status: JobStatus, batch: list[Transition]
) -> None:
    position = at(start_status, attempt=1)
    terminal_landings: Counter[int] = Counter()
    queued_records: Counter[int] = Counter()
    terminals_seen: dict[int, set[JobStatus]] = {}
    for transition in batch:
        before = position
        position = apply(before, transition)
        assert (position != before) is applies(before, transition)
        assert position.attempt >= before.attempt
        if position.attempt == before.attempt:
            assert position.status.rank >= before.status.rank
        if before.status.is_terminal:
            # finished: only a late Queued of the same attempt may still be recorded
            assert (position.attempt, position.status) == (before.attempt, before.status)
        if applies(before, transition):
            if transition.status is JobStatus.QUEUED:
                queued_records[transition.attempt] += 1
            if position.status.is_terminal and not before.status.is_terminal:
                terminal_landings[position.attempt] += 1
        if position.status.is_terminal:
            terminals_seen.setdefault(position.attempt, set()).add(position.status)
    assert all(count <= 1 for count in terminal_landings.values())
    assert all(count <= 1 for count in queued_records.values())
    assert all(len(seen) == 1 for seen in terminals_seen.values())
