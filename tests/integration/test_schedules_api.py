"""The manager's schedule operations and the beat runner's rules, on real PostgreSQL.

The runner is driven tick by tick here; real beat processes are in
tests/acceptance/test_schedules.py.
"""

from __future__ import annotations

import threading
import time
from datetime import time as time_of_day
from datetime import timedelta

import pytest

from jobhub import (
    InvalidDuration,
    InvalidInput,
    InvalidParameters,
    JobManager,
    StartType,
    UnknownJobType,
)
from jobhub.scheduling.rules import IntervalRule, WeeklyRule
from jobhub.scheduling.runner import ScheduleRunner
from jobhub.scheduling.schedules import ScheduleSpec


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"interval": timedelta(0)}, InvalidInput),
        ({"interval": "-5m"}, InvalidDuration),
        ({"interval": "30m1h"}, InvalidDuration),
        ({"interval": "0s"}, InvalidInput),
        ({"days": "", "at": "02:00"}, InvalidInput),
        ({"days": "mon", "at": "25:00"}, InvalidInput),
        ({"days": "mon", "at": "02:00", "tz": "Mars/Base"}, InvalidInput),
        ({"interval": "15m", "parameters": {"message": 5}}, InvalidParameters),
        ({}, InvalidInput),
    ],
)
def test_bad_schedules_are_refused_and_write_nothing(
    manager: JobManager, arguments: dict[str, object], error: type[Exception]
) -> None:
    manager.set_job_schedule("diagnostics.echo", interval="1h")
    before = manager.get_job_schedules("diagnostics.echo")

    with pytest.raises(error):
        manager.set_job_schedule("diagnostics.echo", **arguments)  # type: ignore[arg-type]

    assert manager.get_job_schedules("diagnostics.echo") == before


def test_an_unknown_job_type_cannot_be_scheduled(manager: JobManager) -> None:
    with pytest.raises(UnknownJobType):
        manager.set_job_schedule("no.such.type", interval="1h")


def test_a_type_may_have_several_schedules_and_setting_replaces_them(
    manager: JobManager,
) -> None:
    specs = [
        ScheduleSpec(rule=IntervalRule(every=timedelta(minutes=15))),
        ScheduleSpec(
            rule=WeeklyRule(days=frozenset({0, 3}), at=time_of_day(2, 0), tz="Europe/Berlin"),
            parameters={"message": "weekly"},
        ),
    ]
    two = manager.set_job_schedules("diagnostics.echo", specs)
    assert [s.name for s in two] == ["diagnostics.echo/1", "diagnostics.echo/2"]
    assert two[1].parameters["message"] == "weekly"

    one = manager.set_job_schedule("diagnostics.echo", interval="1h")
    assert len(one) == 1
    manager.clear_job_schedule("diagnostics.echo")
    assert manager.get_job_schedules("diagnostics.echo") == []


def _runner(manager: JobManager) -> ScheduleRunner:
    return ScheduleRunner(manager.app.runtime, manager.app.dispatcher)


def test_concurrent_runners_fire_each_due_time_once(manager: JobManager) -> None:
    manager.set_job_schedule("diagnostics.echo", interval=timedelta(milliseconds=200))
    runners = [_runner(JobManager.from_settings(manager.settings)) for _ in range(3)]
    stop = time.monotonic() + 3

    def run(runner: ScheduleRunner) -> None:
        while time.monotonic() < stop:
            runner.tick()
            time.sleep(0.01)

    threads = [threading.Thread(target=run, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    jobs = manager.find_jobs(job_type="diagnostics.echo", limit=1000)
    requests = [job.client_request_id for job in jobs]
    assert len(requests) >= 10
    assert len(set(requests)) == len(requests)


def test_never_types_are_not_started_even_on_their_schedule(manager: JobManager) -> None:
    manager.add_job("diagnostics.echo", StartType.NEVER)
    manager.set_job_schedule("diagnostics.echo", interval=timedelta(milliseconds=200))
    time.sleep(0.5)

    _runner(manager).tick()

    assert manager.find_jobs(job_type="diagnostics.echo") == []
    (schedule,) = manager.get_job_schedules("diagnostics.echo")
    assert schedule.next_fire_at is not None  # moved on all the same


def test_immediate_types_start_with_beat(manager: JobManager) -> None:
    manager.add_job("diagnostics.echo", StartType.IMMEDIATE)

    _runner(manager).start({})

    (job,) = manager.find_jobs(job_type="diagnostics.echo")
    assert job.client_request_id is not None
    assert job.client_request_id.startswith("beat-start/")


def test_delay_start_types_start_once_at_the_first_tick_if_they_never_ran(
    manager: JobManager,
) -> None:
    manager.add_job("diagnostics.echo", StartType.DELAY_START)

    _runner(manager).tick()
    _runner(manager).tick()  # a second beat, or a restart: it ran already

    assert len(manager.find_jobs(job_type="diagnostics.echo")) == 1


def test_static_schedules_are_written_once_and_keep_their_history(manager: JobManager) -> None:
    entries = {"echo often": {"task": "diagnostics.echo", "schedule": 0.2}}
    first = _runner(manager)
    first.start(entries)
    time.sleep(0.5)
    first.tick()
    (fired,) = manager.get_job_schedules("diagnostics.echo")
    assert fired.source == "static"
    assert fired.last_job_id is not None

    _runner(manager).start(entries)  # another beat starts with the same file

    (again,) = manager.get_job_schedules("diagnostics.echo")
    assert again.id == fired.id
    assert again.last_job_id == fired.last_job_id
