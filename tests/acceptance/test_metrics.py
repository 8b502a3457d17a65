"""``GET /metrics`` of a real ``jobhub api``, after a real worker ran a known set of jobs.

The exposition is parsed with prometheus_client's own parser, and every figure is
compared with what the database says, counted here with plain SQL over ``jobs`` and
``job_events`` (not through the statistics code under test).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy import create_engine, text

from jobhub import JobManager, JobStatus, Settings
from tests.conftest import ApiServer, Processes

LIVE = ("Created", "Queued", "Processing")
ENDED = {3: "Completed", 4: "CompletedWithErrors", 5: "Cancelled"}
IDLE_QUEUE = "nobody-consumes"


def scrape(api: ApiServer) -> dict[str, list[Sample]]:
    """Every sample of ``/metrics``, by the name of its family's sample."""
    with api.client() as http:
        response = http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def values(samples: dict[str, list[Sample]], name: str, *labels: str) -> dict[Any, float]:
    """``name``'s samples as {label values: value} (one label: its value alone)."""
    found = {}
    for sample in samples.get(name, []):
        key = tuple(sample.labels[label] for label in labels)
        found[key[0] if len(key) == 1 else key] = sample.value
    return found


def rows(settings: Settings, sql: str) -> list[Any]:
    assert settings.database_url is not None
    engine = create_engine(settings.database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql)))
    finally:
        engine.dispose()


def wait_until(manager: JobManager, job_id: uuid.UUID, status: JobStatus) -> None:
    deadline = time.monotonic() + 60
    while manager.get_job(job_id).status is not status:
        assert time.monotonic() < deadline, f"job {job_id} never became {status.label}"
        time.sleep(0.05)


@pytest.fixture
def ran(manager: JobManager, processes: Processes, settings: Settings) -> ApiServer:
    """A worker and an API; the known jobs run to their ends, and some left waiting."""
    processes.worker(settings)
    api = processes.api(settings)
    echo = [manager.start_job("diagnostics.echo", {"message": str(n)}).id for n in range(3)]
    failed = manager.start_job("diagnostics.sleep", {"steps": 1, "seconds": 0, "fail_at_step": 1})
    retried = manager.start_job("diagnostics.flaky", {"fail_times": 1})
    running = manager.start_job("diagnostics.sleep", {"steps": 400, "seconds": 0.05})
    never_ran = manager.start_job("diagnostics.echo", delay=timedelta(hours=1))
    manager.start_job("diagnostics.echo", delay=timedelta(hours=1))  # left waiting, not due
    manager.start_job("diagnostics.echo", queue=IDLE_QUEUE)  # left Queued: nobody consumes
    manager.cancel_job(never_ran.id)
    wait_until(manager, running.id, JobStatus.PROCESSING)
    manager.cancel_job(running.id)
    manager.wait_for_completion([*echo, failed.id, retried.id, running.id], timeout=90)
    manager.rerun_job(echo[0])
    manager.wait_for_completion([echo[0]], timeout=60)
    manager.set_job_schedule(
        "diagnostics.echo", interval="1h", start=datetime.now(UTC) - timedelta(minutes=5)
    )
    return api


def test_metrics_match_the_database_after_a_known_set_of_jobs(
    ran: ApiServer, settings: Settings
) -> None:
    before = datetime.now(UTC)
    samples = scrape(ran)
    after = datetime.now(UTC)

    live = values(samples, "jobhub_jobs", "type", "status")
    in_db = {(t, LIVE[s]): n for t, s, n in rows(settings, LIVE_SQL)}
    assert {key: n for key, n in live.items() if n} == in_db
    assert in_db == {("diagnostics.echo", "Created"): 1, ("diagnostics.echo", "Queued"): 1}

    created = values(samples, "jobhub_jobs_created_total", "type")
    assert created == {t: n for t, n in rows(settings, CREATED_SQL)}
    assert created["diagnostics.echo"] == 6

    finished = values(samples, "jobhub_jobs_finished_total", "type", "status")
    assert {key: n for key, n in finished.items() if n} == {
        (t, ENDED[s]): n for t, s, n in rows(settings, FINISHED_SQL)
    }
    assert finished["diagnostics.echo", "Completed"] == 4  # three runs and a rerun
    assert finished["diagnostics.echo", "Cancelled"] == 1
    assert finished["diagnostics.sleep", "CompletedWithErrors"] == 1
    assert finished["diagnostics.sleep", "Cancelled"] == 1
    assert finished["diagnostics.flaky", "Completed"] == 1
    assert finished["diagnostics.flaky", "CompletedWithErrors"] == 0  # retried, not ended

    attempts = values(samples, "jobhub_job_attempts_total", "type")
    assert attempts == {t: n for t, n in rows(settings, ATTEMPTS_SQL)}
    assert attempts == {"diagnostics.echo": 4, "diagnostics.sleep": 2, "diagnostics.flaky": 2}
    retries = values(samples, "jobhub_job_retries_total", "type")
    assert retries == {t: n for t, n in rows(settings, RETRIES_SQL)}
    assert retries["diagnostics.flaky"] == 1

    runs = values(samples, "jobhub_job_duration_seconds_count", "type")
    infinite = {
        s.labels["type"]: s.value
        for s in samples["jobhub_job_duration_seconds_bucket"]
        if s.labels["le"] == "+Inf"
    }
    assert (
        runs == infinite == {"diagnostics.echo": 4, "diagnostics.sleep": 2, "diagnostics.flaky": 1}
    )
    durations = values(samples, "jobhub_job_duration_seconds_sum", "type")
    assert durations == pytest.approx({t: float(n) for t, n in rows(settings, RUN_TIME_SQL)})

    depth = values(samples, "jobhub_queue_depth", "queue")
    assert depth == {settings.queue: 0, IDLE_QUEUE: 1}
    ((queued_at,),) = rows(settings, f"SELECT queued_at FROM jobs WHERE queue = '{IDLE_QUEUE}'")
    oldest = values(samples, "jobhub_queue_oldest_waiting_seconds", "queue")
    assert oldest[settings.queue] == 0.0
    lower, upper = (before - queued_at).total_seconds(), (after - queued_at).total_seconds()
    assert lower - 1 <= oldest[IDLE_QUEUE] <= upper + 1  # 1 s: the hosts' clocks may differ

    assert values(samples, "jobhub_workers_alive") == {(): 1.0}
    ((name, next_fire_at),) = rows(settings, "SELECT name, next_fire_at FROM job_schedules")
    lag = values(samples, "jobhub_schedule_lag_seconds", "schedule")[name]
    late_before, late_after = before - next_fire_at, after - next_fire_at
    assert max(0, late_before.total_seconds() - 1) <= lag <= max(0, late_after.total_seconds() + 1)
    assert values(samples, "jobhub_database_up") == {(): 1.0}


def test_each_route_counts_its_own_requests(ran: ApiServer) -> None:
    first = values(scrape(ran), "jobhub_api_requests_total", "route", "method", "status")
    with ran.client() as http:
        for _ in range(2):
            assert http.get("/health").status_code == 200
        assert http.get(f"/jobs/{uuid.uuid4()}").status_code == 401
        assert http.get("/no/such/page").status_code == 404
    second = values(scrape(ran), "jobhub_api_requests_total", "route", "method", "status")

    def grew(route: str, status: str) -> float:
        key = (route, "GET", status)
        return second.get(key, 0) - first.get(key, 0)

    assert grew("/health", "200") == 2
    assert grew("/jobs/{job_id}", "401") == 1
    assert grew("(unmatched)", "404") == 1
    assert grew("/metrics", "200") == 1
    assert not any("no/such" in route for route, _, _ in second)


LIVE_SQL = "SELECT job_type, status, count(*) FROM jobs WHERE status < 3 GROUP BY 1, 2"
CREATED_SQL = "SELECT job_type, count(*) FROM jobs GROUP BY 1"
# a run ends with the terminal event of an attempt no retry followed; a retried attempt's
# failure is recorded with the text "attempt N of M failed: ..." (jobhub.retries)
RUN_ENDED = """e.status >= 3 AND NOT (e.status = 4 AND e.attempt < j.attempt
                                      AND e.message LIKE 'attempt % failed%')"""
FINISHED_SQL = f"""
SELECT j.job_type, e.status, count(*) FROM job_events e JOIN jobs j ON j.id = e.job_id
WHERE {RUN_ENDED} GROUP BY 1, 2
"""
ATTEMPTS_SQL = """
SELECT j.job_type, count(DISTINCT (e.job_id, e.attempt)) FROM job_events e
JOIN jobs j ON j.id = e.job_id WHERE e.status = 2 GROUP BY 1
"""
RETRIES_SQL = "SELECT job_type, sum(retries) FROM jobs GROUP BY 1"
RUN_TIME_SQL = f"""
SELECT j.job_type, sum(extract(epoch FROM e.at - s.at)) FROM job_events e
JOIN jobs j ON j.id = e.job_id
JOIN LATERAL (SELECT p.at FROM job_events p WHERE p.job_id = e.job_id
              AND p.attempt = e.attempt AND p.status = 2 ORDER BY p.id LIMIT 1) s ON true
WHERE {RUN_ENDED} GROUP BY 1
"""
