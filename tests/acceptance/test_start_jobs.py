"""``JobManager.start_jobs`` on PostgreSQL and Redis: one insert, pipelined publishes, each
item's outcome; a batch run to the end by a real worker; and a broker that is not there."""

from __future__ import annotations

from dataclasses import replace

import pytest

from jobhub import (
    InvalidParameters,
    JobManager,
    JobRequest,
    JobStatus,
    KeyConflict,
    Settings,
    StartState,
)
from jobhub.audit import AuditAction
from jobhub.dispatch import PUBLISH_CHUNK
from tests import services as svc
from tests.conftest import Processes
from tests.support.redis_queue import queue_length


def _echo(n: int, **fields: object) -> JobRequest:
    return JobRequest(job_type="diagnostics.echo", parameters={"message": f"m{n}"}, **fields)  # type: ignore[arg-type]


def test_a_batch_is_recorded_once_and_every_message_published(
    manager: JobManager, settings: Settings, services: svc.Services
) -> None:
    count = PUBLISH_CHUNK * 2 + 17  # three publish batches
    manager.start_job("diagnostics.echo", key="held")
    outcomes = manager.start_jobs(
        [_echo(n, client_request_id=f"r-{n}") for n in range(count)]
        + [_echo(0, client_request_id="r-0"), _echo(-1, key="held")],
        actor="alice",
        reason="nightly import",
    )

    states = [o.state for o in outcomes]
    assert states == [StartState.STARTED] * count + [StartState.REPEATED, StartState.REFUSED]
    assert outcomes[count].job == outcomes[0].job
    assert isinstance(outcomes[-1].error, KeyConflict)
    assert queue_length(services.redis_url, settings.queue) == count + 1
    ids = [o.job.id for o in outcomes[:count] if o.job is not None]
    assert {job.status for job in manager.app.runtime.jobs.get_many(ids).values()} == {
        JobStatus.QUEUED
    }
    trail = manager.app.runtime.audit.recent(limit=5000)
    started = [e for e in trail if e.action is AuditAction.START]
    assert len(started) == count + 1
    assert {e.reason for e in started} == {None, "nightly import"}


def test_one_bad_item_starts_none(
    manager: JobManager, settings: Settings, services: svc.Services
) -> None:
    items = [_echo(0), JobRequest(job_type="diagnostics.echo", parameters={"nope": 1}), _echo(2)]
    with pytest.raises(InvalidParameters, match=r"^item 1: invalid parameters"):
        manager.start_jobs(items)

    assert manager.find_jobs() == []
    assert queue_length(services.redis_url, settings.queue) == 0


def test_a_batch_runs_to_the_end_on_a_real_worker(
    manager: JobManager, processes: Processes, settings: Settings
) -> None:
    processes.worker(settings)
    outcomes = manager.start_jobs([_echo(n) for n in range(300)])
    ids = [o.job.id for o in outcomes if o.job is not None]
    done = manager.wait_for_completion(ids, timeout=120)

    assert [job.status for job in done] == [JobStatus.COMPLETED] * 300
    assert [job.result for job in done[:2]] == [
        {"message": "m0", "data": None},
        {"message": "m1", "data": None},
    ]
    assert all(len(manager.job_events(job.id)) == 4 for job in done[:5])


def test_with_no_broker_nothing_is_left_waiting_unknown(
    settings: Settings, manager: JobManager
) -> None:
    url = f"redis://127.0.0.1:{svc.free_port()}/0"
    cut_off = JobManager.from_settings(replace(settings, broker_url=url, publish_timeout=2.0))
    try:
        outcomes = cut_off.start_jobs([_echo(n) for n in range(PUBLISH_CHUNK + 5)])
    finally:
        cut_off.close()

    # The first batch never reached the broker: each item is refused, or recorded to be
    # published by the outbox; none is both or neither.
    assert {o.state for o in outcomes} <= {StartState.REFUSED, StartState.PENDING}
    pending = {o.job.id for o in outcomes if o.state is StartState.PENDING and o.job}
    assert {job.id for job in manager.find_jobs(limit=1000)} == pending
    assert all(o.error is not None for o in outcomes)
