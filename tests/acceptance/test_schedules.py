"""Schedules with real ``jobhub beat`` and ``jobhub worker`` processes on short intervals."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from jobhub import JobManager, JobStatus, Settings
from tests.conftest import Process, Processes, run_cli, settings_env


def _beat(processes: Processes, settings: Settings) -> Process:
    beat = processes.start("beat", ["beat", "--loglevel=INFO"], settings_env(settings))
    beat.wait_for_log("beat: Starting", timeout=60)
    return beat


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _due_times(manager: JobManager, job_type: str) -> Counter[datetime]:
    """Jobs per due time of the type's schedule fires."""
    due: Counter[datetime] = Counter()
    for job in manager.find_jobs(job_type=job_type, limit=1000):
        request = job.client_request_id or ""
        if request.startswith("schedule/"):
            due[datetime.fromisoformat(request.rsplit("/", 1)[1])] += 1
    return due


def test_a_schedule_set_while_beat_runs_fires_within_seconds_and_its_jobs_complete(
    manager: JobManager, processes: Processes, settings: Settings, worker: Process
) -> None:
    _beat(processes, settings)
    set_at = time.monotonic()

    result = run_cli(
        ["schedule", "set", "diagnostics.echo", "--every", "1s", "-p", "message=tick"],
        settings_env(settings),
    )
    assert result.returncode == 0, result.stderr
    _wait_for(lambda: bool(_due_times(manager, "diagnostics.echo")), 5, "the first fire")
    assert time.monotonic() - set_at <= 5

    _wait_for(lambda: len(_due_times(manager, "diagnostics.echo")) >= 3, 20, "three fires")
    jobs = manager.find_jobs(job_type="diagnostics.echo", limit=3)
    done = manager.wait_for_completion([job.id for job in jobs], timeout=30)
    assert {job.status for job in done} == {JobStatus.COMPLETED}
    assert {job.result["message"] for job in done} == {"tick"}  # type: ignore[index]
    (schedule,) = manager.get_job_schedules("diagnostics.echo")
    assert schedule.last_job_id is not None
    assert schedule.last_fire_at is not None
    assert schedule.next_fire_at is not None
    assert schedule.next_fire_at > schedule.last_fire_at


def test_clearing_a_schedule_stops_its_fires(
    manager: JobManager, processes: Processes, settings: Settings
) -> None:
    _beat(processes, settings)
    manager.set_job_schedule("diagnostics.echo", interval=timedelta(seconds=1))
    _wait_for(lambda: len(_due_times(manager, "diagnostics.echo")) >= 2, 10, "two fires")

    manager.clear_job_schedule("diagnostics.echo")
    time.sleep(1.5)  # a fire already under way may still land
    before = len(_due_times(manager, "diagnostics.echo"))
    time.sleep(3)

    assert len(_due_times(manager, "diagnostics.echo")) == before
    assert manager.get_job_schedules("diagnostics.echo") == []


def test_two_beats_fire_each_due_time_exactly_once_and_one_survives_the_other(
    manager: JobManager, processes: Processes, settings: Settings
) -> None:
    first = _beat(processes, settings)
    _beat(processes, settings)
    manager.set_job_schedule("diagnostics.echo", interval=timedelta(seconds=1))

    _wait_for(lambda: len(_due_times(manager, "diagnostics.echo")) >= 12, 60, "12 due times")
    first.kill()  # the other beat goes on alone
    _wait_for(lambda: len(_due_times(manager, "diagnostics.echo")) >= 24, 60, "24 due times")
    manager.clear_job_schedule("diagnostics.echo")
    time.sleep(1.5)

    due = _due_times(manager, "diagnostics.echo")
    assert max(due.values()) == 1, [t for t, n in due.items() if n > 1]
    times = sorted(due)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert set(gaps) == {timedelta(seconds=1)}, "a due time was skipped"


def test_a_beat_down_for_several_due_times_catches_up_once(
    manager: JobManager, processes: Processes, settings: Settings
) -> None:
    beat = _beat(processes, settings)
    manager.set_job_schedule("diagnostics.echo", interval=timedelta(seconds=2))
    _wait_for(lambda: len(_due_times(manager, "diagnostics.echo")) >= 1, 10, "a first fire")
    beat.kill()
    killed = manager.app.runtime.workers.now()
    time.sleep(12)  # six due times pass, well beyond the 5 s a slow tick may take
    restarted = manager.app.runtime.workers.now()
    _beat(processes, settings)
    time.sleep(5)

    due = _due_times(manager, "diagnostics.echo")
    assert max(due.values()) == 1
    after_kill = sorted(t for t in due if t > killed + timedelta(seconds=1))
    # The first fire after the outage is the latest due time missed when beat's first tick
    # ran (beat may take a moment to start), not one per missed time: none earlier than the
    # last due time before the restart.
    assert after_kill, sorted(due)
    assert after_kill[0] > restarted - timedelta(seconds=2), sorted(due)
    assert len(after_kill) >= 2, "fires did not resume"


def test_skipping_missed_runs_fires_none_of_them(
    manager: JobManager, processes: Processes, settings: Settings
) -> None:
    beat = _beat(processes, settings)
    manager.set_job_schedule("diagnostics.echo", interval=timedelta(seconds=2), catch_up=False)
    _wait_for(lambda: len(_due_times(manager, "diagnostics.echo")) >= 1, 10, "a first fire")
    beat.kill()
    killed = manager.app.runtime.workers.now()
    time.sleep(12)
    restarted = manager.app.runtime.workers.now()
    _beat(processes, settings)
    time.sleep(5)

    due = _due_times(manager, "diagnostics.echo")
    while_down = [t for t in due if killed + timedelta(seconds=1) < t <= restarted]
    assert while_down == []
    assert any(t > restarted for t in due), "fires did not resume"
