"""JobStatus codes, labels and order, and how each source system names them
(``jobhub.formats.vocab``)."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

import pytest

from jobhub.formats.vocab import (
    AIMS360_STATUS,
    API_JOB_STATUS,
    CELERY_STATE,
    ONEC_STATE,
    QUERY_GROUPS,
    SANTEDB_STATE,
    ApiJobState,
)
from jobhub.jobs import ACTIVE_STATUSES, STORED_STATUSES, TERMINAL_STATUSES, JobStatus

S = JobStatus
EXPECTED: dict[JobStatus, tuple[str, str, str, str, str]] = {
    # status:                 AIMS360       api.job     1C           SanteDB      Celery
    S.CREATED: ("Queued", "idle", "Active", "NotRun", "PENDING"),
    S.QUEUED: ("Queued", "pending", "Active", "Starting", "PENDING"),
    S.PROCESSING: ("Inprogress", "running", "Active", "Running", "STARTED"),
    S.COMPLETED: ("Completed", "finished", "Completed", "Completed", "SUCCESS"),
    S.COMPLETED_WITH_ERRORS: ("Failed", "error", "Failed", "Aborted", "FAILURE"),
    S.CANCELLED: ("Failed", "error", "Cancelled", "Cancelled", "REVOKED"),
}
TABLES: dict[str, Mapping[JobStatus, str]] = {
    "AIMS360": AIMS360_STATUS,
    "api.job": API_JOB_STATUS,
    "1C": ONEC_STATE,
    "SanteDB": SANTEDB_STATE,
    "Celery": CELERY_STATE,
}
STORED = set(JobStatus) - {JobStatus.UNKNOWN}


# -- JobStatus -------------------------------------------------------------------------


def test_status_codes_and_labels() -> None:
    assert {status.label: int(status) for status in JobStatus} == {
        "Created": 0,
        "Queued": 1,
        "Processing": 2,
        "Completed": 3,
        "CompletedWithErrors": 4,
        "Cancelled": 5,
        "Unknown": 99,
    }


def test_stored_statuses_are_every_status_but_unknown() -> None:
    assert STORED_STATUSES == STORED
    assert ACTIVE_STATUSES | TERMINAL_STATUSES == STORED
    assert not ACTIVE_STATUSES & TERMINAL_STATUSES


@pytest.mark.parametrize("status", list(JobStatus))
def test_parse_reads_labels_in_any_case(status: JobStatus) -> None:
    for text in (status.label, status.label.lower(), status.label.upper(), f"  {status.label} "):
        assert JobStatus.parse(text) is status


@pytest.mark.parametrize("status", list(JobStatus))
def test_parse_reads_numeric_codes(status: JobStatus) -> None:
    assert JobStatus.parse(str(int(status))) is status
    assert JobStatus.parse(f" {int(status)} ") is status


@pytest.mark.parametrize(
    "text", ["completed_with_errors", "Completed-With-Errors", "completed with errors"]
)
def test_parse_ignores_separators_in_labels(text: str) -> None:
    assert JobStatus.parse(text) is JobStatus.COMPLETED_WITH_ERRORS


@pytest.mark.parametrize("text", ["", "Done", "Failed", "6", "100", "Complete"])
def test_parse_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="unknown status"):
        JobStatus.parse(text)


def test_parse_refuses_a_negative_code() -> None:
    # "-" is a separator inside labels; it must not turn "-1" into code 1 (Queued)
    with pytest.raises(ValueError, match="unknown status"):
        JobStatus.parse("-1")


def test_rank_orders_the_lifecycle_and_terminals_share_the_top() -> None:
    assert [status.rank for status in sorted(STORED)] == [0, 1, 2, 3, 3, 3]


@pytest.mark.parametrize("status", list(JobStatus))
def test_terminal_and_active(status: JobStatus) -> None:
    terminal = status in {S.COMPLETED, S.COMPLETED_WITH_ERRORS, S.CANCELLED}
    active = status in {S.CREATED, S.QUEUED, S.PROCESSING}
    assert status.is_terminal is terminal
    assert status.is_active is active


def test_unknown_is_neither_active_nor_terminal() -> None:
    assert not JobStatus.UNKNOWN.is_active
    assert not JobStatus.UNKNOWN.is_terminal


# -- representations -------------------------------------------------------------------


@pytest.mark.parametrize("system", list(TABLES))
def test_every_table_covers_exactly_the_stored_statuses(system: str) -> None:
    assert set(TABLES[system]) == STORED


@pytest.mark.parametrize("system", list(TABLES))
def test_every_table_matches_the_agreed_names(system: str) -> None:
    column = list(TABLES).index(system)
    expected = {status: names[column] for status, names in EXPECTED.items()}
    assert {status: str(name) for status, name in TABLES[system].items()} == expected


def test_api_job_states_are_the_enum() -> None:
    assert all(isinstance(state, ApiJobState) for state in API_JOB_STATUS.values())
    assert set(API_JOB_STATUS.values()) == set(ApiJobState)


def test_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        CELERY_STATE[JobStatus.UNKNOWN] = "PENDING"  # type: ignore[index]


# -- api.job queries -------------------------------------------------------------------


def test_query_groups_are_pending_running_and_finished() -> None:
    assert set(QUERY_GROUPS) == {ApiJobState.PENDING, ApiJobState.RUNNING, ApiJobState.FINISHED}


def test_query_groups_cover_every_stored_status() -> None:
    covered = set().union(*QUERY_GROUPS.values())
    assert covered == STORED


def test_query_groups_do_not_overlap() -> None:
    for left, right in combinations(QUERY_GROUPS.values(), 2):
        assert not left & right


def test_query_groups_split_by_start_and_end() -> None:
    assert QUERY_GROUPS[ApiJobState.PENDING] == {S.CREATED, S.QUEUED}
    assert QUERY_GROUPS[ApiJobState.RUNNING] == {S.PROCESSING}
    assert QUERY_GROUPS[ApiJobState.FINISHED] == TERMINAL_STATUSES
