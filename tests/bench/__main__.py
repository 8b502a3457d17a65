"""``python -m tests.bench``: run the benchmark and print its report.

With no mode flag it runs the A/B/J comparison (alternating A B J L, ``--rounds`` times;
L is J beside a rate-limited type) and then the Completed-lag phase. ``--smoke`` is A B J
at N=200, one round and a small lag phase (what ``make test`` runs). ``--long`` runs only
the worker-memory run, ``--queries`` only the job-query benchmark, ``--pages`` only the
dashboard's pages, ``--metrics`` only the metrics scrape and the overview. Exit status: 0
when every job completed exactly once (and, with ``--pages``, every page answered 200), 1
when not, 2 when the benchmark could not run.
"""

from __future__ import annotations

import sys
import time
import traceback
from typing import Any

import click

from tests.bench import machine, report
from tests.bench.harness import RoundResult, run_round
from tests.bench.lag import LagResult, run_lag
from tests.bench.longrun import LongResult, run_long
from tests.bench.metrics import MetricsResult, run_metrics
from tests.bench.pages import PagesResult, failed, run_pages
from tests.bench.pg import DEFAULT_ADMIN_URL, Postgres
from tests.bench.queries import QueriesResult, run_queries
from tests.bench.services import DEFAULT_REDIS_URL, Services

DEFAULT_JOBS = 5_000
SMOKE_JOBS = 200
LONG_JOBS = 100_000
LAG_JOBS = 2_000
SMOKE_LAG_JOBS = 100


def _progress(message: str) -> None:
    click.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True)


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help=f"Jobs per run [default: {DEFAULT_JOBS:,}; --smoke {SMOKE_JOBS}; --long {LONG_JOBS:,}].",
)
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Rounds of A B J L (--smoke: 1 of A B J).",
)
@click.option(
    "--lag-jobs",
    type=click.IntRange(min=1),
    default=None,
    help=f"Jobs in the lag phase [default: {LAG_JOBS:,}; --smoke {SMOKE_LAG_JOBS}].",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@click.option("--smoke", is_flag=True, help="A quick check: N=200, 1 round, a small lag phase.")
@click.option("--long", "long_run", is_flag=True, help="Only the worker-memory run (J).")
@click.option("--queries", is_flag=True, help="Only the job-query benchmark.")
@click.option("--pages", is_flag=True, help="Only the dashboard pages (a real jobhub api).")
@click.option("--metrics", is_flag=True, help="Only GET /metrics and the overview.")
@click.option(
    "--rows",
    type=click.IntRange(min=1000),
    default=1_000_000,
    show_default=True,
    help="Rows for --queries, --pages and --metrics.",
)
@click.option(
    "--postgres",
    default=DEFAULT_ADMIN_URL,
    show_default=True,
    help="Admin URL; the benchmark creates and drops its own databases.",
)
@click.option(
    "--redis",
    "redis_url",
    default=DEFAULT_REDIS_URL,
    show_default=True,
    help="Redis for the broker and the task bodies' records.",
)
@click.option("--keep-logs", is_flag=True, help="Keep the worker logs folder.")
def main(
    jobs: int | None,
    rounds: int,
    lag_jobs: int | None,
    as_json: bool,
    smoke: bool,
    long_run: bool,
    queries: bool,
    pages: bool,
    metrics: bool,
    rows: int,
    postgres: str,
    redis_url: str,
    keep_logs: bool,
) -> None:
    """Benchmark jobhub side by side with plain Celery (see README, Performance).

    \b
    Examples:
      python -m tests.bench                 # A/B/J comparison and the lag phase
      python -m tests.bench --smoke --json  # the quick check `make test` runs
      python -m tests.bench --queries       # 1,000,000-row job queries, with plans
      python -m tests.bench --pages         # dashboard pages on 1,000,000 jobs
      python -m tests.bench --long          # worker RSS over 100,000 jobs
      python -m tests.bench --metrics       # /metrics and the overview on 1,000,000 jobs
    """
    if sum((smoke, long_run, queries, pages, metrics)) > 1:
        raise click.UsageError(
            "choose at most one of --smoke, --long, --queries, --pages, --metrics"
        )
    modes = {
        "smoke": smoke,
        "long": long_run,
        "queries": queries,
        "pages": pages,
        "metrics": metrics,
    }
    mode = next((name for name, chosen in modes.items() if chosen), "compare")
    services = Services(Postgres(postgres), redis_url, keep_logs=keep_logs)
    runs: list[RoundResult] = []
    lag: LagResult | None = None
    long: LongResult | None = None
    query_result: QueriesResult | None = None
    page_result: PagesResult | None = None
    metrics_result: MetricsResult | None = None
    parameters: dict[str, Any] = {"mode": mode, "concurrency": services.concurrency}
    try:
        machine_info = machine.describe(services)
        if mode in ("compare", "smoke"):
            n = jobs or (SMOKE_JOBS if smoke else DEFAULT_JOBS)
            rounds = 1 if smoke else rounds
            lag_n = lag_jobs or (SMOKE_LAG_JOBS if smoke else LAG_JOBS)
            order = "CABJ" if smoke else "CABJL"
            parameters.update(jobs=n, rounds=rounds, order=" ".join(order), lag_jobs=lag_n)
            _progress(
                f"{mode}: {n} jobs per run, {rounds} round(s) of {' '.join(order)}, "
                f"prefork x{services.concurrency}"
            )
            for round_no in range(1, rounds + 1):
                for name in order:
                    result = run_round(services, name, round_no, n, progress=_progress)
                    runs.append(result)
                    _progress(
                        f"{name} round {round_no}: {result.jobs_per_second:.1f} jobs/s"
                        + "".join(f", {k} {v:.1f}" for k, v in result.figures.items())
                        + ", "
                        f"enqueue {result.enqueue_rate:.1f}/s, "
                        f"{result.commits_per_job:.2f} commits/job, "
                        f"{result.wal_bytes_per_job:,.0f} B WAL/job, "
                        f"exactly once: {'yes' if result.exactly_once else 'NO'}"
                    )
            j_rates = [r.jobs_per_second for r in runs if r.config == "J" and r.jobs_per_second]
            if j_rates:
                rate = sum(j_rates) / len(j_rates) / 2
                lag = run_lag(services, lag_n, rate, progress=_progress)
            else:
                _progress("lag phase skipped: no J round completed")
        elif mode == "long":
            n = jobs or LONG_JOBS
            parameters.update(jobs=n)
            _progress(f"long: {n:,} jobs through one J worker")
            long = run_long(services, n, progress=_progress)
        elif mode == "metrics":
            parameters.update(rows=rows)
            metrics_result = run_metrics(services, rows, progress=_progress)
        elif mode == "queries":
            parameters.update(rows=rows)
            query_result = run_queries(services, rows, progress=_progress)
        else:
            parameters.update(rows=rows)
            page_result = run_pages(services, rows, progress=_progress)
    except Exception as exc:
        _progress(f"benchmark failed: {type(exc).__name__}: {exc}")
        traceback.print_exc(file=sys.stderr)
        sys.exit(2)
    finally:
        services.close()
    if keep_logs:
        _progress(f"worker logs kept in {services.scratch}")
    doc = report.document(
        mode=mode,
        command=machine.command(),
        machine=machine_info,
        parameters=parameters,
        runs=runs,
        lag=lag,
        long=long,
        queries=query_result,
        pages=page_result,
        metrics=metrics_result,
    )
    click.echo(report.to_json(doc) if as_json else report.render(doc))
    if not doc["exactly_once"]:
        click.echo("error: not every job completed exactly once (see above)", err=True)
        sys.exit(1)
    if page_result is not None and failed(page_result):
        click.echo(
            f"error: {len(failed(page_result))} page(s) did not answer 200 (see above)", err=True
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
