"""Many hosts on one broker and database: worker hosts as network namespaces
(``tests.hosts``), PostgreSQL and Redis on a services host of their own, every jobhub
process reaching them over the bridge. The test process is one more host on the bridge.

``make test`` runs one scenario (a host cut off, its clock ahead); ``make scale`` runs them
all (``pytest.mark.scale``). Throughput grows with the worker hosts. A
worker host cut off mid-run, or whose worker is SIGKILLed, loses nothing: its jobs are
recovered by the reaper (on a beat host) within the worker timeout plus one maintenance
interval, and once back it runs jobs again without starting any attempt twice. The API
on a host of its own starts jobs that a worker elsewhere runs, and serves the documents
that worker wrote. Beats on two hosts fire each due time once; one cut off, the other
carries on.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine

from jobhub import JobManager, JobRequest, JobStatus, RemoteJobManager, Settings
from jobhub.db import migrate
from tests import services as svc
from tests.conftest import Process, Processes, settings_env
from tests.hosts import Host, Network, NetworkUnavailable

CLOCK_AHEAD = 300.0
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


def _worker(
    processes: Processes, settings: Settings, host: Host, *, skew: float = 0.0
) -> tuple[Process, str]:
    """A ``jobhub worker`` on ``host``, ready, and its node name (``h1-...@h1``); ``skew``:
    seconds its clock is off (``tests.support.skewed_clock``)."""
    node = f"{host.name}-{uuid.uuid4().hex[:6]}@{host.name}"
    env = settings_env(settings)
    if skew:
        env |= {
            "JOBHUB_JOB_MODULES": "workers,tests.support.skewed_clock",
            "JOBHUB_TEST_CLOCK_SKEW": str(skew),
        }
    process = processes.start(
        f"worker-{host.name}",
        ["worker", "--concurrency=2", f"--hostname={node}"],
        env,
        inside=host.command([]),
    )
    process.wait_for_log(" ready.", timeout=60)
    return process, node


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


@pytest.mark.parametrize("loss", ["cut", pytest.param("kill", marks=pytest.mark.scale)])
def test_a_worker_host_lost_mid_run_loses_nothing_and_rejoins(
    cluster: Cluster, processes: Processes, tmp_path: Path, loss: str
) -> None:
    """``cut``: h1's link goes down, then comes back; ``kill``: h1's worker is SIGKILLed,
    then a new one starts there. h1's clock is five minutes ahead: that changes neither
    the order of a history nor when its jobs are taken for lost."""
    settings = cluster.settings(tmp_path / "data")
    network = cluster.network
    worker_1, node_1 = _worker(processes, settings, network["h1"], skew=CLOCK_AHEAD)
    _, node_2 = _worker(processes, settings, network["h2"])
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
        if loss == "cut":
            network["h1"].cut()
        else:
            worker_1.kill()
        cut_at = time.time()
        done = manager.wait_for_completion(list(ids), timeout=120)
        if loss == "cut":
            network["h1"].heal()
        else:
            _worker(processes, settings, network["h1"])

        assert {job.status for job in done} == {JobStatus.COMPLETED}
        histories = _histories(settings.database_url or "", ids)
        for job_id, history in histories.items():
            # one Processing and one terminal event per attempt, whoever ran it (and with
            # whatever clock), each attempt in order
            per_attempt = Counter((attempt, status) for attempt, status, _, _ in history)
            assert all(n == 1 for n in per_attempt.values()), (job_id, history)
            ranks = [(attempt, min(status, 3)) for attempt, status, _, _ in history]
            assert ranks == sorted(ranks), (job_id, history)
        lost = {job.id for job in done if job.attempt > 1}
        assert lost, "no job was running on h1 when it was cut off"
        assert len(lost) <= 2, "jobs were taken for lost before h1 was"  # its 2 processes
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
        print(f"\n{loss}: {len(lost)} jobs lost with h1, the last recovered {slowest:.1f} s after")

        # Back, h1 takes jobs again, and nothing it ran before runs twice.
        more = [
            manager.start_job("diagnostics.sleep", {"steps": 1, "seconds": 0.3}) for _ in range(20)
        ]
        again = manager.wait_for_completion([job.id for job in more], timeout=120)
        assert {job.status for job in again} == {JobStatus.COMPLETED}
        assert any((job.worker_id or "").startswith("h1-") for job in again)
        later = _histories(settings.database_url or "", ids)
        assert later == histories
    finally:
        manager.close()


# -- throughput grows with hosts ----------------------------------------------------------

SCALE_JOBS = int(os.environ.get("JOBHUB_SCALE_JOBS", "600"))
"""Jobs per run: ``make scale`` runs 2,000."""
SCALE_RATIO = float(os.environ.get("JOBHUB_SCALE_RATIO", "2.0"))
"""How much faster three worker hosts must be than one: ``make scale`` asks 2.5 (2,000
jobs, so that starting and draining weigh little); a run of 600 asks 2.0."""


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


@pytest.mark.scale
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


# -- the API and beat on hosts of their own ----------------------------------------------


@pytest.mark.scale
def test_the_api_on_its_own_host_starts_jobs_that_workers_elsewhere_run(
    cluster: Cluster, processes: Processes, tmp_path: Path
) -> None:
    """Documents a worker on h1 writes (database storage) download through the API on h2."""
    settings = replace(cluster.settings(tmp_path / "data"), inline_result_limit=1000)
    network = cluster.network
    _, node = _worker(processes, settings, network["h1"])
    api = processes.api(settings, address=network["h2"].address, inside=network["h2"].command([]))
    manager = JobManager.from_settings(settings)
    try:
        token = manager.access.create_api_key(identity="svc", organization="acme", role="admin")
        with RemoteJobManager(api.url, token.token, poll_interval=0.1) as remote:
            small = remote.start_job("diagnostics.echo", {"message": "hello"})
            large = remote.start_job("diagnostics.echo", {"message": "x" * 5000})
            done = remote.wait_for_completion([small.id, large.id], timeout=60)
        assert {job.status for job in done} == {JobStatus.COMPLETED}
        assert {(job.worker_id or "").split("/")[0] for job in done} == {node}
        with api.client(token.token) as client:
            result = client.get(f"/jobs/{large.id}/result").json()
            assert result["responseType"] == "Publishlink"
            assert result["publishLink"].startswith(api.url)
            download = client.get(result["publishLink"])
        assert download.status_code == 200, download.text
        assert download.json()["message"] == "x" * 5000
    finally:
        manager.close()


@pytest.mark.scale
def test_beats_on_two_hosts_fire_each_due_time_once_and_one_carries_on_cut_off(
    cluster: Cluster, processes: Processes, tmp_path: Path
) -> None:
    settings = cluster.settings(tmp_path / "data")
    network = cluster.network
    _worker(processes, settings, network["h1"])
    for host in ("h3", "h4"):
        beat = processes.start(
            f"beat-{host}",
            ["beat", "--loglevel=INFO"],
            settings_env(settings),
            inside=network[host].command([]),
        )
        beat.wait_for_log("beat: Starting", timeout=60)
    manager = JobManager.from_settings(settings)
    job_type = "diagnostics.echo"
    try:
        every_second = timedelta(seconds=1)
        manager.set_job_schedule(job_type, interval=every_second, parameters={"message": "tick"})

        def due_times() -> Counter[datetime]:
            due: Counter[datetime] = Counter()
            for job in manager.find_jobs(job_type=job_type, limit=1000):
                request = job.client_request_id or ""
                if request.startswith("schedule/") and job.queue == settings.queue:
                    due[datetime.fromisoformat(request.rsplit("/", 1)[1])] += 1
            return due

        _wait_for(lambda: len(due_times()) >= 3, 30, "three fires")
        network["h3"].cut()
        cut_at = datetime.now(UTC)
        _wait_for(
            lambda: sum(at > cut_at for at in due_times()) >= 4, 30, "four fires after the cut"
        )
        network["h3"].heal()
        time.sleep(2.0)  # the healed beat's late attempts at the same due times land now
        fired = due_times()
    finally:
        manager.clear_job_schedule(job_type)
        manager.close()

    assert set(fired.values()) == {1}, fired  # each due time once, whichever beat fired it
    after = sorted(at for at in fired if at > cut_at)
    assert all(b - a <= timedelta(seconds=2) for a, b in itertools.pairwise(after)), after
