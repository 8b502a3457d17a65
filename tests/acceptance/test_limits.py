"""Limits across worker processes, enforced by the database at the claim.

Two real ``jobhub worker`` processes (three pool processes each) on PostgreSQL and Redis
share every limit: the Processing intervals read back from the event history never
overlap more than the limit allows, held jobs wait visibly and start when a slot frees,
and nothing is re-published while it waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID

import pytest
import redis

from jobhub import JobManager, JobStatus, Settings
from tests.conftest import Processes
from tests.support.limited_jobs import LIMITED_JOBS


@pytest.fixture
def limited_settings(settings: Settings) -> Settings:
    return replace(settings, job_modules=LIMITED_JOBS)


@pytest.fixture
def jobs(limited_settings: Settings) -> Iterator[JobManager]:
    manager = JobManager.from_settings(limited_settings)
    yield manager
    manager.close()


def _two_workers(processes: Processes, settings: Settings) -> None:
    processes.worker(settings, concurrency=3)
    processes.worker(settings, concurrency=3)


def _intervals(manager: JobManager, ids: Sequence[UUID]) -> list[tuple[datetime, datetime, UUID]]:
    """Each job's Processing interval, from its event history (start, end, id)."""
    found = []
    for job_id in ids:
        events = manager.job_events(job_id)
        started = [e.at for e in events if e.status is JobStatus.PROCESSING]
        ended = [e.at for e in events if e.status.is_terminal]
        assert len(started) == 1, f"job {job_id} started {len(started)} times"
        found.append((started[0], ended[-1], job_id))
    return found


def _most_at_once(intervals: Sequence[tuple[datetime, datetime, UUID]]) -> int:
    """The most intervals open at any one moment (an end before a start at a tie)."""
    points = sorted(
        [(start, 1) for start, _, _ in intervals] + [(end, -1) for _, end, _ in intervals],
        key=lambda point: (point[0], point[1]),
    )
    most = running = 0
    for _, step in points:
        running += step
        most = max(most, running)
    return most


def test_thirty_jobs_limited_to_two_never_run_more_than_two_at_once(
    processes: Processes, limited_settings: Settings, jobs: JobManager
) -> None:
    _two_workers(processes, limited_settings)
    started = [jobs.start_job("tests.limited", {"seconds": 0.2}) for _ in range(30)]

    deadline = time.monotonic() + 20
    while True:  # while most wait, one of them says what holds it
        waiting = [jobs.get_job(job.id) for job in started[-5:]]
        if any(job.held for job in waiting):
            break
        assert time.monotonic() < deadline, "no job was ever held by the limit"
        time.sleep(0.05)
    held = next(job for job in waiting if job.held)
    assert held.status is JobStatus.CREATED
    assert held.status_text == "Waiting for a slot: at most 2 tests.limited at once"

    done = jobs.wait_for_completion([job.id for job in started], timeout=90)
    assert {job.status for job in done} == {JobStatus.COMPLETED}
    intervals = _intervals(jobs, [job.id for job in started])
    assert _most_at_once(intervals) == 2
    workers = {job.worker_id.split("/")[0] for job in done if job.worker_id}
    assert len(workers) == 2, f"both worker processes ran jobs: {workers}"


def test_a_limit_changed_at_run_time_holds_at_once(
    processes: Processes, limited_settings: Settings, jobs: JobManager
) -> None:
    _two_workers(processes, limited_settings)
    jobs.set_limit("tests.unlimited", "1", actor="ops")
    started = [jobs.start_job("tests.unlimited", {"seconds": 0.2}) for _ in range(8)]
    done = jobs.wait_for_completion([job.id for job in started], timeout=60)
    assert {job.status for job in done} == {JobStatus.COMPLETED}
    assert _most_at_once(_intervals(jobs, [job.id for job in started])) == 1

    jobs.clear_limit("tests.unlimited", actor="ops")
    again = [jobs.start_job("tests.unlimited", {"seconds": 1}) for _ in range(4)]
    done = jobs.wait_for_completion([job.id for job in again], timeout=60)
    assert _most_at_once(_intervals(jobs, [job.id for job in again])) >= 3
    assert not any(job.held for job in done)


def test_one_organization_cannot_take_every_slot(
    processes: Processes, limited_settings: Settings, jobs: JobManager
) -> None:
    """``tests.per_tenant`` runs one job at once per organization: two organizations'
    jobs run side by side, each organization's one after another."""
    _two_workers(processes, limited_settings)
    by_org = {
        org: [
            jobs.start_job("tests.per_tenant", {"seconds": 0.4}, organization=org) for _ in range(4)
        ]
        for org in ("acme", "globex")
    }
    ids = [job.id for group in by_org.values() for job in group]
    done = jobs.wait_for_completion(ids, timeout=60)
    assert {job.status for job in done} == {JobStatus.COMPLETED}
    for group in by_org.values():
        assert _most_at_once(_intervals(jobs, [job.id for job in group])) == 1
    assert _most_at_once(_intervals(jobs, ids)) == 2, "the organizations ran side by side"


def test_a_limit_per_parameter_value(
    processes: Processes, limited_settings: Settings, jobs: JobManager
) -> None:
    _two_workers(processes, limited_settings)
    jobs.set_limit("tests.unlimited", "1 per customer_id", actor="ops")
    by_customer = {
        customer: [
            jobs.start_job("tests.unlimited", {"seconds": 0.3, "customer_id": customer})
            for _ in range(3)
        ]
        for customer in ("c1", "c2", "c3")
    }
    ids = [job.id for group in by_customer.values() for job in group]
    jobs.wait_for_completion(ids, timeout=60)
    for group in by_customer.values():
        assert _most_at_once(_intervals(jobs, [job.id for job in group])) == 1
    assert _most_at_once(_intervals(jobs, ids)) == 3


def test_a_rate_limit_holds_over_several_periods(
    processes: Processes, limited_settings: Settings, jobs: JobManager
) -> None:
    """5 starts per second, 20 jobs: every one-second window holds at most 5 starts (one
    more at most where a start lagged its release), and the run takes about 3 s more."""
    _two_workers(processes, limited_settings)
    jobs.set_limit("tests.unlimited", "5/s", actor="ops")
    started = [jobs.start_job("tests.unlimited", {"seconds": 0}) for _ in range(20)]
    done = jobs.wait_for_completion([job.id for job in started], timeout=60)
    assert {job.status for job in done} == {JobStatus.COMPLETED}
    starts = sorted(start for start, _, _ in _intervals(jobs, [job.id for job in started]))
    period = timedelta(seconds=1)
    in_window = max(sum(1 for s in starts if first <= s < first + period) for first in starts)
    assert 5 <= in_window <= 6, f"{in_window} starts in one second"
    assert starts[-1] - starts[0] >= timedelta(seconds=2.9)


def test_a_held_job_is_not_republished_while_it_waits(
    processes: Processes, limited_settings: Settings, jobs: JobManager
) -> None:
    """While the only slot is taken, held jobs cost the broker nothing: no message is
    pushed to the queue; each held job is published again exactly once, when released."""
    processes.worker(limited_settings, concurrency=3)
    jobs.set_limit("tests.unlimited", "1", actor="ops")
    blocker = jobs.start_job("tests.unlimited", {"seconds": 4})
    _wait_for(lambda: jobs.get_job(blocker.id).status is JobStatus.PROCESSING)
    waiting = [jobs.start_job("tests.unlimited", {"seconds": 0}) for _ in range(10)]
    _wait_for(lambda: all(jobs.get_job(job.id).held for job in waiting))

    pushes = _count_pushes(limited_settings, seconds=2.0)
    assert pushes == 0, f"{pushes} messages pushed while every job waited"
    control = _count_pushes(
        limited_settings,
        seconds=1.0,
        during=lambda: jobs.start_job("diagnostics.echo", {"message": "seen"}),
    )
    assert control == 1, "the count sees a publish"

    done = jobs.wait_for_completion([job.id for job in waiting], timeout=60)
    assert {job.status for job in done} == {JobStatus.COMPLETED}
    for job in waiting:
        queued = [e for e in jobs.job_events(job.id) if e.status is JobStatus.QUEUED]
        assert len(queued) <= 2, f"{job.id} was queued {len(queued)} times"


def _count_pushes(
    settings: Settings, *, seconds: float, during: Callable[[], object] | None = None
) -> int:
    """Messages pushed to the test's queue (any priority) during ``seconds``, as Redis's
    MONITOR reports them."""
    client = redis.Redis.from_url(settings.broker_url)
    pushes = 0
    stop = time.monotonic() + seconds
    with client.monitor() as monitor:
        listening = threading.Event()

        def ping() -> None:  # MONITOR blocks until a command: keep one coming
            listening.wait(0.1)
            while time.monotonic() < stop + 0.2:
                redis.Redis.from_url(settings.broker_url).ping()
                time.sleep(0.1)

        threading.Thread(target=ping, daemon=True).start()
        listening.set()
        if during is not None:
            threading.Timer(0.2, during).start()
        for command in monitor.listen():
            if time.monotonic() >= stop:
                break
            words = command["command"].split()
            if (
                words
                and words[0].upper() in {"LPUSH", "RPUSH"}
                and settings.queue in command["command"]
            ):
                pushes += 1
    return pushes


def _wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
