"""``GET /metrics``' exposition: the families a snapshot becomes, parsed back by
prometheus_client's own parser, and the answer when the database cannot be read."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from jobhub import JobManager, Settings
from jobhub.api.app import create_app
from jobhub.api.metrics import families
from jobhub.jobs import JobStatus
from jobhub.stats import (
    DURATION_BUCKETS,
    DurationHistogram,
    MetricsSnapshot,
    QueueDepth,
    ScheduleDue,
    TypeTotals,
)

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class Snapshot:
    """A snapshot as a registry's only collector."""

    def __init__(self, snapshot: MetricsSnapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> object:
        return families(self.snapshot)


def exposed(snapshot: MetricsSnapshot) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    registry = CollectorRegistry()
    registry.register(Snapshot(snapshot))  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            found.setdefault(sample.name, {})[labels] = sample.value
    return found


def snapshot() -> MetricsSnapshot:
    counts = [0] * (len(DURATION_BUCKETS) + 1)
    counts[0], counts[-1] = 2, 1
    return MetricsSnapshot(
        at=NOW,
        live={
            "reports.daily": {JobStatus.CREATED: 0, JobStatus.QUEUED: 3, JobStatus.PROCESSING: 1}
        },
        totals=[
            TypeTotals(
                job_type="mail.send",
                created=10,
                attempts=12,
                retries=2,
                finished={JobStatus.COMPLETED: 7, JobStatus.CANCELLED: 1},
                durations=DurationHistogram(tuple(counts), 9000.25),
            )
        ],
        queues=[QueueDepth(queue="jobhub", waiting=3, oldest_waiting_seconds=42.5)],
        workers_alive=2,
        schedules=[
            ScheduleDue(
                name="late", job_type="t", next_fire_at=NOW - timedelta(minutes=2), paused=False
            ),
            ScheduleDue(
                name="soon", job_type="t", next_fire_at=NOW + timedelta(hours=1), paused=False
            ),
            ScheduleDue(name="paused", job_type="t", next_fire_at=NOW, paused=True),
            ScheduleDue(name="done", job_type="t", next_fire_at=None, paused=False),
        ],
    )


def test_every_known_type_gets_every_live_status_and_every_end() -> None:
    found = exposed(snapshot())

    jobs = found["jobhub_jobs"]
    assert jobs[(("status", "Queued"), ("type", "reports.daily"))] == 3
    assert jobs[(("status", "Created"), ("type", "mail.send"))] == 0
    assert len(jobs) == 6
    ended = found["jobhub_jobs_finished_total"]
    assert ended[(("status", "Completed"), ("type", "mail.send"))] == 7
    assert ended[(("status", "CompletedWithErrors"), ("type", "mail.send"))] == 0
    assert found["jobhub_jobs_created_total"] == {(("type", "mail.send"),): 10}
    assert found["jobhub_job_attempts_total"] == {(("type", "mail.send"),): 12}
    assert found["jobhub_job_retries_total"] == {(("type", "mail.send"),): 2}


def test_run_times_are_a_cumulative_histogram() -> None:
    found = exposed(snapshot())

    buckets = found["jobhub_job_duration_seconds_bucket"]
    assert buckets[(("le", "0.1"), ("type", "mail.send"))] == 2
    assert buckets[(("le", "7200.0"), ("type", "mail.send"))] == 2
    assert buckets[(("le", "+Inf"), ("type", "mail.send"))] == 3
    assert found["jobhub_job_duration_seconds_count"] == {(("type", "mail.send"),): 3}
    assert found["jobhub_job_duration_seconds_sum"] == {(("type", "mail.send"),): 9000.25}


def test_queues_workers_and_the_lag_of_active_schedules_only() -> None:
    found = exposed(snapshot())

    assert found["jobhub_queue_depth"] == {(("queue", "jobhub"),): 3}
    assert found["jobhub_queue_oldest_waiting_seconds"] == {(("queue", "jobhub"),): 42.5}
    assert found["jobhub_workers_alive"] == {(): 2}
    assert found["jobhub_schedule_lag_seconds"] == {
        (("schedule", "late"),): 120.0,
        (("schedule", "soon"),): 0.0,
    }


def test_a_scrape_without_the_database_says_so_and_still_counts_requests(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url="postgresql://jobhub@127.0.0.1:1/none", database_timeout=1
    )
    manager = JobManager.from_settings(settings)

    async def scrape() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(manager))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            await client.get("/health")
            return await client.get("/metrics")

    try:
        response = asyncio.run(scrape())
    finally:
        manager.close()

    assert response.status_code == 200
    names = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert [s.value for s in names["jobhub_database_up"].samples] == [0]
    assert "jobhub_jobs" not in names
    requests = {
        (s.labels["route"], s.labels["status"]): s.value
        for s in names["jobhub_api_requests"].samples
        if s.name == "jobhub_api_requests_total"
    }
    assert requests == {("/health", "200"): 1}
