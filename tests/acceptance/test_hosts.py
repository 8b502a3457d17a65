"""Many hosts on one broker and database: worker hosts as network namespaces
(``tests.hosts``), PostgreSQL and Redis on a services host of their own, every jobhub
process reaching them over the bridge. The test process is one more host on the bridge.

Throughput grows with the worker hosts (``make scale`` prints the long run's figures). A
worker host cut off mid-run loses nothing: its jobs are recovered by the reaper (on a
beat host) within the worker timeout plus one maintenance interval, and once healed it
runs jobs again without starting any attempt twice.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine

from jobhub import JobManager, JobRequest, JobStatus, Settings
from jobhub.db import migrate
from tests import services as svc
from tests.conftest import Processes, settings_env
from tests.hosts import Host, Network, NetworkUnavailable

HEARTBEAT = 0.5
WORKER_TIMEOUT = 3.0
MAINTENANCE = 1.0


@dataclass
class Cluster:
    network: Network
    postgres: svc.ThrowawayPostgres
    redis: svc.ThrowawayRedis

    def settings(self, data_dir: Path) -> Settings:
        """A queue of its own on the services host's servers; quick recovery."""
        return Settings(
            data_dir=data_dir,
            database_url=self.postgres.url,
            broker_url=self.redis.url,
            queue=f"hosts-{uuid.uuid4().hex[:10]}",
            wait_poll_interval=0.1,
            cancel_poll_interval=0.1,
            heartbeat_interval=HEARTBEAT,
            worker_timeout=WORKER_TIMEOUT,
            maintenance_interval=MAINTENANCE,
        )


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    try:
        hosts = Network.up(["svc", "h1", "h2", "h3", "h4"])
        made = hosts.__enter__()
    except NetworkUnavailable as exc:
        pytest.fail(f"{exc}: run the tests as root (for example sudo make test)")
    try:
        yield made
    finally:
        hosts.__exit__(None, None, None)


@pytest.fixture(scope="module")
def cluster(network: Network) -> Iterator[Cluster]:
    """PostgreSQL and Redis on the services host, listening on its address only."""
    services = network["svc"]
    root = Path(tempfile.mkdtemp(prefix="jobhub-hosts-"))  # the postgres user must reach it
    postgres = svc.ThrowawayPostgres(root, host=services.address, inside=services.command([]))
    redis = svc.ThrowawayRedis(root, host=services.address, inside=services.command([]))
    try:
        postgres.initialise().start()
        redis.start()
        engine = create_engine(postgres.url)
        migrate.upgrade(engine)
        engine.dispose()
        yield Cluster(network, postgres, redis)
    finally:
        redis.stop()
        postgres.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def _worker(processes: Processes, settings: Settings, host: Host) -> str:
    """A ``jobhub worker`` on ``host``; returns its node name."""
    node = f"{host.name}-{uuid.uuid4().hex[:6]}@{host.name}"
    process = processes.start(
        f"worker-{host.name}",
        ["worker", "--concurrency=2", f"--hostname={node}"],
        settings_env(settings),
        inside=host.command([]),
    )
    process.wait_for_log(" ready.", timeout=60)
    return node


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


Event = tuple[int, int, datetime, str | None]
"""(attempt, status, at, worker id)"""


def _histories(database_url: str, ids: set[uuid.UUID]) -> dict[uuid.UUID, list[Event]]:
    """Each job's events: (attempt, status, at, worker_id), in order."""
    with psycopg.connect(svc.libpq_url(database_url)) as connection:
        rows = connection.execute(
            "SELECT job_id, attempt, status, at, worker_id FROM job_events"
            " WHERE job_id = ANY(%s) ORDER BY id",
            (list(ids),),
        ).fetchall()
    histories: dict[uuid.UUID, list[Event]] = {}
    for job_id, *rest in rows:
        histories.setdefault(job_id, []).append(tuple(rest))
    return histories


def test_a_worker_host_cut_off_mid_run_loses_nothing_and_rejoins(
    cluster: Cluster, processes: Processes, tmp_path: Path
) -> None:
    settings = cluster.settings(tmp_path / "data")
    network = cluster.network
    node_1 = _worker(processes, settings, network["h1"])
    node_2 = _worker(processes, settings, network["h2"])
    processes.start("beat", ["beat"], settings_env(settings), inside=network["h3"].command([]))
    manager = JobManager.from_settings(settings)
    try:
        jobs = [
            manager.start_job("diagnostics.sleep", {"steps": 4, "seconds": 0.25}) for _ in range(30)
        ]
        ids = {job.id for job in jobs}

        def running_on(node: str) -> set[uuid.UUID]:
            return {
                job.id
                for job in manager.running_jobs(limit=100)
                if job.id in ids and (job.worker_id or "").startswith(node)
            }

        _wait_for(lambda: bool(running_on(node_1)), 60, "a job running on h1")
        network["h1"].cut()
        cut_at = time.time()
        done = manager.wait_for_completion(list(ids), timeout=120)
        network["h1"].heal()

        assert {job.status for job in done} == {JobStatus.COMPLETED}
        histories = _histories(settings.database_url or "", ids)
        for job_id, history in histories.items():
            # one Processing and one terminal event per attempt, whoever ran it
            per_attempt = Counter((attempt, status) for attempt, status, _, _ in history)
            assert all(n == 1 for n in per_attempt.values()), (job_id, history)
        lost = {job.id for job in done if job.attempt > 1}
        assert lost, "no job was running on h1 when it was cut off"
        slowest = 0.0
        for job_id in lost:
            history = histories[job_id]
            first = [(status, at, w) for attempt, status, at, w in history if attempt == 1]
            assert first[-2][0] == JobStatus.PROCESSING
            assert first[-2][2].startswith(node_1)
            assert first[-1][0] >= JobStatus.COMPLETED  # the reaper ended the lost attempt,
            recovered_after = first[-1][1].timestamp() - cut_at
            slowest = max(slowest, recovered_after)
            assert recovered_after <= WORKER_TIMEOUT + MAINTENANCE + 2.0, (recovered_after, history)
            last_runner = [w for _, status, _, w in history if status == JobStatus.PROCESSING][-1]
            assert last_runner.startswith(node_2), history  # and h2 ran it again
        print(f"\n{len(lost)} jobs lost with h1, the last recovered {slowest:.1f} s after the cut")

        # Healed, h1 takes jobs again, and nothing it ran before the cut runs twice.
        more = [
            manager.start_job("diagnostics.sleep", {"steps": 1, "seconds": 0.3}) for _ in range(20)
        ]
        again = manager.wait_for_completion([job.id for job in more], timeout=120)
        assert {job.status for job in again} == {JobStatus.COMPLETED}
        assert any((job.worker_id or "").startswith(node_1) for job in again)
        later = _histories(settings.database_url or "", ids)
        assert later == histories
    finally:
        manager.close()


# -- throughput grows with hosts ----------------------------------------------------------

SCALE_JOBS = int(os.environ.get("JOBHUB_SCALE_JOBS", "600"))
"""Jobs per run: ``make test`` runs 600, ``make scale`` 2,000."""
SCALE_RATIO = float(os.environ.get("JOBHUB_SCALE_RATIO", "2.0"))
"""How much faster three worker hosts must be than one: ``make scale`` asks 2.5, on runs
long enough that starting and draining weigh little and alone on the machine; ``make
test``, with other test files beside it, asks 2.0."""


def _completed(database_url: str, ids: list[uuid.UUID]) -> int:
    with psycopg.connect(svc.libpq_url(database_url)) as connection:
        row = connection.execute(
            "SELECT count(*) FROM jobs WHERE id = ANY(%s) AND status = %s",
            (ids, int(JobStatus.COMPLETED)),
        ).fetchone()
    return int(row[0]) if row else 0


def _rate(cluster: Cluster, processes: Processes, data_dir: Path, hosts: int) -> float:
    """Jobs per second of ``hosts`` worker hosts (two processes each) on 20 ms jobs."""
    settings = cluster.settings(data_dir)
    started = [
        processes.start(
            f"worker-h{n}",
            ["worker", "--concurrency=2", f"--hostname=scale{hosts}-h{n}@h{n}"],
            settings_env(settings),
            inside=cluster.network[f"h{n}"].command([]),
        )
        for n in range(1, hosts + 1)
    ]
    for worker in started:
        worker.wait_for_log(" ready.", timeout=60)
    manager = JobManager.from_settings(settings)
    try:
        requests = [
            JobRequest(job_type="diagnostics.sleep", parameters={"steps": 1, "seconds": 0.02})
            for _ in range(SCALE_JOBS)
        ]
        began = time.monotonic()
        ids = [outcome.job.id for outcome in manager.start_jobs(requests) if outcome.job]
        deadline = began + 60 + SCALE_JOBS / 10
        while _completed(settings.database_url or "", ids) < len(ids):
            assert time.monotonic() < deadline, f"{hosts} hosts never finished"
            time.sleep(0.02)
        elapsed = time.monotonic() - began
    finally:
        manager.close()
        for worker in started:
            worker.stop()
    return len(ids) / elapsed


def test_throughput_grows_with_worker_hosts(
    cluster: Cluster, processes: Processes, tmp_path: Path
) -> None:
    rates = {hosts: _rate(cluster, processes, tmp_path / f"d{hosts}", hosts) for hosts in (1, 2, 3)}

    print(
        f"\n{SCALE_JOBS} jobs of 20 ms, 2 worker processes a host: "
        + ", ".join(f"{hosts} host(s) {rate:.0f} jobs/s" for hosts, rate in rates.items())
        + f"; 3 hosts / 1 host = {rates[3] / rates[1]:.2f}"
    )
    assert rates[1] < rates[2] < rates[3]
    assert rates[3] >= SCALE_RATIO * rates[1]
