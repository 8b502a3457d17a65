"""What a caller may ask of the job history (``jobhub.queries``): filters and pages."""

from __future__ import annotations

import pytest

from jobhub.errors import InvalidInput
from jobhub.queries import JobQuery, wants_housekeeping


def test_a_query_leaves_housekeeping_jobs_out_unless_it_asks_for_them() -> None:
    assert JobQuery().housekeeping is False
    assert JobQuery(job_type="maintenance.reap_lost_jobs").housekeeping is False
    assert JobQuery(housekeeping=True).housekeeping is True


@pytest.mark.parametrize(
    ("housekeeping", "job_type", "wanted"),
    [
        (None, None, False),
        (None, "diagnostics.echo", True),
        (None, "maintenance.reap_lost_jobs", True),
        (True, None, True),
        (True, "diagnostics.echo", True),
        (False, None, False),
        (False, "maintenance.reap_lost_jobs", False),
    ],
)
def test_a_list_wants_housekeeping_jobs_when_asked_or_when_it_names_a_type(
    housekeeping: bool | None, job_type: str | None, wanted: bool
) -> None:
    assert wants_housekeeping(housekeeping, job_type) is wanted


@pytest.mark.parametrize("queue", ["a b", "reports*", "", "-reports"])
def test_a_query_by_queue_refuses_a_name_no_queue_can_have(queue: str) -> None:
    with pytest.raises(InvalidInput, match="invalid queue name"):
        JobQuery(queue=queue)


def test_a_query_by_queue_keeps_the_name() -> None:
    assert JobQuery(queue="reports.eu-1").queue == "reports.eu-1"
