"""What a job's message carries (``jobhub.messages``), and what a worker reads back."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from celery.app.task import Context

from jobhub.jobs import AccessScope
from jobhub.messages import JOB_HEADER, job_header, origin_of
from tests.support.rows import echo_row

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("housekeeping", [False, True])
def test_the_job_header_rebuilds_the_row_its_producer_recorded(housekeeping: bool) -> None:
    new = replace(
        echo_row(T0),
        identity="alice",
        organization="acme",
        key="k",
        access_scope=AccessScope.PRIVATE,
        housekeeping=housekeeping,
    )
    header = json.loads(json.dumps(job_header(new)))  # as it travels
    request = Context(id=str(new.id), headers={JOB_HEADER: header})

    assert origin_of(request, new.job_type, new.parameters) == new


def test_a_header_from_before_housekeeping_reads_as_a_users_job() -> None:
    new = echo_row(T0)
    header = job_header(new)
    del header["housekeeping"]
    request = Context(id=str(new.id), headers={JOB_HEADER: header})

    origin = origin_of(request, new.job_type, new.parameters)

    assert origin is not None
    assert origin.housekeeping is False
