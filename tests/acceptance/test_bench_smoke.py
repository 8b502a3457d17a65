"""``python -m tests.bench --smoke``: the benchmark harness still runs end to end.

The smoke run (N=200, one round of A, B and J on real prefork workers, a small lag
phase) must exit 0 and report, in its JSON, every job of every configuration completed
exactly once, positive rates, database commits for the configurations that persist, and
the Completed-lag figures. The page (``--pages``) and metrics (``--metrics``) runs, on a
small table, must sign in, answer every page and fold the history they filled.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import pytest

from tests import services as svc
from tests.conftest import subprocess_env

SMOKE_JOBS = 200
SMOKE_LAG_JOBS = 100
SMALL_TABLE = 5_000
"""Rows for the page and metrics runs here: the harness end to end, not the figures."""


def _bench(
    services: svc.Services, *mode: str, module: str = "tests.bench"
) -> subprocess.CompletedProcess[str]:
    """``python -m <module> <mode> --json`` on the test's servers."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            module,
            *mode,
            "--json",
            "--postgres",
            svc.libpq_url(services.postgres_url),
            "--redis",
            services.redis_url,
        ],
        capture_output=True,
        text=True,
        env=subprocess_env({}),
        timeout=240,
        check=False,
    )


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def test_smoke_benchmark_reports_a_b_and_j_each_completed_exactly_once(
    services: svc.Services,
) -> None:
    result = _bench(services, "--smoke")

    assert result.returncode == 0, (
        f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
    )
    doc = json.loads(result.stdout)
    assert doc["mode"] == "smoke"
    runs = {run["config"]: run for run in doc["runs"]}
    assert sorted(runs) == ["A", "B", "C", "J"]
    assert len(doc["runs"]) == 4
    for name, run in runs.items():
        assert run["jobs"] == SMOKE_JOBS, name
        assert run["completed"] == SMOKE_JOBS, name
        assert run["exactly_once"] is True, (name, run["violations"])
        assert run["violations"] == [], name
        assert _positive(run["jobs_per_second"]), name
        assert _positive(run["enqueue_rate"]), name
        assert run["latency"]["count"] == SMOKE_JOBS, name
        assert _positive(run["latency"]["p50_ms"]), name
        assert run["latency"]["p99_ms"] >= run["latency"]["p50_ms"], name
        assert _positive(run["worker_peak"]["total_kb"]), name
    assert _positive(runs["B"]["commits_per_job"])
    assert _positive(runs["J"]["commits_per_job"])
    assert _positive(runs["B"]["wal_bytes_per_job"])
    assert _positive(runs["J"]["wal_bytes_per_job"])
    assert doc["exactly_once"] is True
    assert doc["violations"] == []

    lag = doc["lag"]
    assert lag["jobs"] == SMOKE_LAG_JOBS
    assert lag["exactly_once"] is True, lag["violations"]
    assert lag["lag"]["count"] == SMOKE_LAG_JOBS
    assert _positive(lag["lag"]["p50_ms"])
    assert lag["lag"]["p99_ms"] >= lag["lag"]["p50_ms"]
    assert _positive(lag["target_rate"])

    pairs = doc["ratios"]["pairs"]
    assert len(pairs) == 1
    assert _positive(pairs[0]["J/C"])
    assert _positive(pairs[0]["J/A"])
    assert _positive(pairs[0]["J/B"])
    assert {t["name"] for t in doc["targets"]} >= {
        "J/C end-to-end jobs/s, each as shipped",
        "J/A end-to-end jobs/s, the same Celery settings",
        "J/B end-to-end jobs/s",
        "Completed visible after task returned, p99 at half peak rate",
    }


def _run_bench(services: svc.Services, mode: str) -> dict[str, Any]:
    """A page or metrics run on ``SMALL_TABLE`` rows, which must exit 0; its JSON."""
    result = _bench(services, mode, "--rows", str(SMALL_TABLE))
    assert result.returncode == 0, f"stderr:\n{result.stderr[-3000:]}"
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_page_benchmark_signs_in_and_times_every_page(services: svc.Services) -> None:
    doc = _run_bench(services, "--pages")

    pages = doc["pages"]
    assert pages["rows"] == SMALL_TABLE
    assert pages["sign_in"] == {"admin": "ok", "operator": "ok"}
    assert len(pages["pages"]) >= 15
    for page in pages["pages"]:
        assert page["failures"] == 0, (page["page"], page["failure"])
        assert page["runs"] == 100, page["page"]
        assert _positive(page["p99_ms"]), page["page"]
    (target,) = [t for t in doc["targets"] if t["name"] == "dashboard page p99, worst page"]
    assert _positive(target["value"])


def test_metrics_benchmark_folds_the_history_and_times_the_scrape(
    services: svc.Services,
) -> None:
    doc = _run_bench(services, "--metrics")

    metrics = doc["metrics"]
    assert metrics["rows"] == SMALL_TABLE
    assert metrics["events"] > SMALL_TABLE
    assert metrics["rollup_rows"]["stats_totals"] > 0
    assert _positive(metrics["scrape"]["p99_ms"])
    assert metrics["scrape_bytes"] > 0
    (target,) = [t for t in doc["targets"] if t["name"] == "GET /metrics p99"]
    assert target["note"] == f"measured on {SMALL_TABLE:,} jobs"


def test_wal_split_names_the_jobs_table_and_its_indexes(services: svc.Services) -> None:
    result = _bench(services, "--jobs", "100", module="tests.bench.wal")

    assert result.returncode == 0, f"stderr:\n{result.stderr[-3000:]}"
    doc = json.loads(result.stdout)
    assert doc["completed"] == 100
    assert _positive(doc["bytes_per_job"])
    relations = {share["name"]: share["bytes_per_job"] for share in doc["relations"]}
    assert _positive(relations["jobs"])
    assert _positive(relations["pk_jobs"])
    assert sum(relations.values()) == pytest.approx(doc["bytes_per_job"])


def test_enqueue_rates_cover_every_way_to_enqueue(services: svc.Services) -> None:
    result = _bench(services, "--jobs", "50", module="tests.bench.enqueue")

    assert result.returncode == 0, f"stderr:\n{result.stderr[-3000:]}"
    doc = json.loads(result.stdout)
    assert sorted(doc["rates"]) == [
        "AsyncRemoteJobManager",
        "apply_async loop",
        "start_job loop",
        "start_jobs batch",
    ]
    assert all(_positive(rate) for rate in doc["rates"].values())
    assert doc["ratios"]["apply_async loop"] == pytest.approx(1.0)


def test_api_benchmark_compares_post_jobs_with_a_bare_endpoint(services: svc.Services) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.bench.api",
            "--requests",
            "40",
            "--postgres",
            svc.libpq_url(services.postgres_url),
            "--redis",
            services.redis_url,
        ],
        capture_output=True,
        text=True,
        env=subprocess_env({}),
        timeout=240,
        check=False,
    )

    assert result.returncode == 0, f"stderr:\n{result.stderr[-3000:]}"
    lines = result.stdout.splitlines()
    assert any(line.startswith("POST /jobs, bare FastAPI + apply_async") for line in lines)
    assert any(line.startswith("POST /jobs over the bare endpoint: ") for line in lines)
    assert all("errors 0" in line for line in lines if "req/s" in line)


def test_workflow_benchmark_checks_every_step_ran_once(services: svc.Services) -> None:
    result = _bench(services, "--workflows", "10", module="tests.bench.workflows")

    assert result.returncode == 0, f"stderr:\n{result.stderr[-3000:]}"
    doc = json.loads(result.stdout)
    assert doc["workflows"] == 10
    assert doc["steps"] == 50
    for figure in (
        "plain_jobs_per_second",
        "workflow_steps_per_second",
        "start_workflow_per_second",
    ):
        assert _positive(doc[figure])
