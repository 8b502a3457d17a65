"""Which jobs the API looks documents up for: only those an attempt of ran."""

from __future__ import annotations

import dataclasses

from jobhub.jobs import JobStatus
from tests.support.memory import T0
from tests.support.rows import echo_row


def test_only_a_job_that_ran_may_have_documents() -> None:
    queued = echo_row(T0).as_job(queued_at=T0)
    started = dataclasses.replace(queued, status=JobStatus.PROCESSING, started_at=T0)
    rerun = dataclasses.replace(queued, attempt=2)  # its first attempt may have written some
    cancelled = dataclasses.replace(queued, status=JobStatus.CANCELLED, completed_at=T0)

    assert [job.may_have_documents for job in (queued, started, rerun, cancelled)] == [
        False,
        True,
        True,
        False,
    ]
