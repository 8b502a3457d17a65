"""The benchmark's results as one JSON document, and as readable tables.

``document`` assembles everything measured (runs, summary, ratios, lag, long run,
queries, targets, machine, command); ``render`` prints it as text and ``to_json`` as
strict JSON (NaN becomes null).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from tests.bench.cpu import GROUPS
from tests.bench.harness import RoundResult
from tests.bench.lag import LagResult
from tests.bench.longrun import LongResult
from tests.bench.metrics import MetricsResult
from tests.bench.pages import PagesResult, failed, worst
from tests.bench.queries import QueriesResult
from tests.bench.stats import summary
from tests.bench.targets import evaluate

CONFIG_NAMES = {
    "C": "plain Celery as it ships (its defaults: early acks, prefetch 4, no task events), "
    "no result backend; Completed = the task body ran (Redis count)",
    "A": "plain Celery with jobhub's Celery settings (late acks, prefetch 1, task events), "
    "no result backend; Completed = the task body ran (Redis count)",
    "B": "Celery + its SQLAlchemy database result backend in PostgreSQL (result_extended, "
    "task_track_started; Celery's default pool_pre_ping adds an empty statement per store); "
    "Completed = celery_taskmeta SUCCESS",
    "J": "jobhub: Created, Queued, Processing, Completed each persisted in PostgreSQL; "
    "Completed = jobs.status 3",
    "L": "J while 300 jobs of another type wait under a 50/s rate limit and are released "
    "beside it; Completed = jobs.status 3 of J's type",
}


def _cpu_of(group: str) -> Callable[[RoundResult], float]:
    return lambda run: run.cpu_ms_per_job.get(group, math.nan)


SUMMARISED: dict[str, Callable[[RoundResult], float]] = {
    "jobs_per_second": lambda r: r.jobs_per_second,
    "enqueue_rate": lambda r: r.enqueue_rate,
    "latency_p50_ms": lambda r: r.latency.get("p50_ms", math.nan),
    "latency_p99_ms": lambda r: r.latency.get("p99_ms", math.nan),
    "commits_per_job": lambda r: r.commits_per_job,
    "wal_bytes_per_job": lambda r: r.wal_bytes_per_job,
    "rollbacks_per_job": lambda r: r.rollbacks_per_job,
    "worker_peak_total_mib": lambda r: r.worker_peak.get("total_kb", 0) / 1024,
    "worker_peak_max_child_mib": lambda r: r.worker_peak.get("max_child_kb", 0) / 1024,
    **{f"cpu_{group}_ms_per_job": _cpu_of(group) for group in GROUPS},
}


def _ratio(top: float, bottom: float) -> float:
    return top / bottom if bottom else math.nan


def limit_ratios(runs: Sequence[RoundResult]) -> list[dict[str, float]]:
    """What a limit costs, round by round: L over J end to end (the unlimited type's
    throughput beside a limited one), and the limited type's starts per second."""
    by_key = {(r.config, r.round): r for r in runs}
    found = []
    for round_no in sorted({r.round for r in runs}):
        j, lim = by_key.get(("J", round_no)), by_key.get(("L", round_no))
        if j is None or lim is None:
            continue
        found.append(
            {
                "round": round_no,
                "L/J": _ratio(lim.jobs_per_second, j.jobs_per_second),
                "limited/s": lim.figures.get("limited_per_second", math.nan),
                "limit/s": lim.figures.get("limited_limit_per_second", math.nan),
            }
        )
    return found


RATIOS = ("J/C", "J/A", "J/B", "enqueue J/A")
"""Each round's J over its C (each as shipped), A (identical settings) and B (the peer),
and J's enqueue rate over A's."""


def pair_ratios(runs: Sequence[RoundResult]) -> list[dict[str, float]]:
    """``RATIOS``, round by round (a ratio whose configuration did not run is NaN)."""
    by_key = {(r.config, r.round): r for r in runs}
    pairs = []
    for round_no in sorted({r.round for r in runs}):
        c, a, b, j = (by_key.get((name, round_no)) for name in "CABJ")
        if a is None or b is None or j is None:
            continue
        pairs.append(
            {
                "round": round_no,
                "J/C": math.nan if c is None else _ratio(j.jobs_per_second, c.jobs_per_second),
                "J/A": _ratio(j.jobs_per_second, a.jobs_per_second),
                "J/B": _ratio(j.jobs_per_second, b.jobs_per_second),
                "enqueue J/A": _ratio(j.enqueue_rate, a.enqueue_rate),
            }
        )
    return pairs


def document(
    *,
    mode: str,
    command: str,
    machine: dict[str, Any],
    parameters: dict[str, Any],
    runs: Sequence[RoundResult] = (),
    lag: LagResult | None = None,
    long: LongResult | None = None,
    queries: QueriesResult | None = None,
    pages: PagesResult | None = None,
    metrics: MetricsResult | None = None,
) -> dict[str, Any]:
    summaries = {
        name: {
            key: summary([get(r) for r in runs if r.config == name])
            for key, get in SUMMARISED.items()
        }
        for name in "CABJL"
        if any(r.config == name for r in runs)
    }
    pairs = pair_ratios(runs)
    ratio_summary = {key: summary([p[key] for p in pairs]) for key in RATIOS}
    slowest = max(queries.shapes, key=lambda s: s.p99_ms) if queries and queries.shapes else None
    slowest_page = worst(pages) if pages else None
    targets = evaluate(
        j_over_c=ratio_summary["J/C"]["mean"] if pairs else None,
        j_over_a=ratio_summary["J/A"]["mean"] if pairs else None,
        j_over_b=ratio_summary["J/B"]["mean"] if pairs else None,
        enqueue_ratio=ratio_summary["enqueue J/A"]["mean"] if pairs else None,
        lag_p99_ms=lag.lag.get("p99_ms") if lag else None,
        rss_growth_percent=long.growth_percent if long else None,
        worst_query_p99_ms=slowest.p99_ms if slowest else None,
        worst_query=slowest.shape if slowest else "",
        worst_page_p99_ms=slowest_page.p99_ms if slowest_page else None,
        worst_page=slowest_page.page if slowest_page else "",
        pages_failed=len(failed(pages)) if pages else 0,
        scrape_p99_ms=metrics.scrape.p99_ms if metrics and metrics.scrape else None,
        scrape_rows=metrics.rows if metrics else None,
    )
    violations = [v for r in runs for v in r.violations]
    violations += lag.violations if lag else []
    violations += long.violations if long else []
    exactly_once = (
        all(r.exactly_once for r in runs)
        and (lag is None or lag.exactly_once)
        and (long is None or long.exactly_once)
    )
    return {
        "benchmark": "tests.bench",
        "mode": mode,
        "command": command,
        "machine": machine,
        "parameters": parameters,
        "configurations": {k: v for k, v in CONFIG_NAMES.items() if k in summaries},
        "runs": [r.as_dict() for r in runs],
        "summary": summaries,
        "ratios": {"pairs": pairs, "summary": ratio_summary if pairs else {}},
        "limits": limit_ratios(runs),
        "lag": lag.as_dict() if lag else None,
        "long": long.as_dict() if long else None,
        "queries": queries.as_dict() if queries else None,
        "pages": pages.as_dict() if pages else None,
        "metrics": metrics.as_dict() if metrics else None,
        "targets": [t.as_dict() for t in targets],
        "exactly_once": exactly_once,
        "violations": violations,
    }


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def to_json(doc: dict[str, Any]) -> str:
    return json.dumps(_clean(doc), indent=2, allow_nan=False, default=str)


# -- text ------------------------------------------------------------------------------


def _f(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, text_columns: int = 1
) -> list[str]:
    """Rows under headers; the first ``text_columns`` left-aligned, the rest right."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    align = [str.ljust] * text_columns + [str.rjust] * (len(headers) - text_columns)
    lines = ["  ".join(align[i](h, widths[i]) for i, h in enumerate(headers)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(align[i](c, widths[i]) for i, c in enumerate(row)).rstrip())
    return lines


def render(doc: dict[str, Any]) -> str:
    out: list[str] = []
    m = doc["machine"]
    pg = m["postgresql"]
    out.append(f"jobhub benchmark ({doc['mode']})")
    out.append(
        f"machine: {m['cpu_model']}, {m['cpu_count']} CPUs, {m['memory_gib']} GiB; {m['os']}"
    )
    out.append(
        f"PostgreSQL {pg['server_version']} (synchronous_commit={pg['synchronous_commit']}, "
        f"fsync={pg['fsync']}, shared_buffers={pg['shared_buffers']}), Redis {m['redis']}, "
        f"Python {m['python']}, Celery {m['celery']}, kombu {m['kombu']}, "
        f"SQLAlchemy {m['sqlalchemy']}, psycopg {m['psycopg']}, jobhub {m['jobhub']}"
    )
    out.append(f"workers: {m['worker_pool']}; parameters: {json.dumps(doc['parameters'])}")
    if doc["runs"]:
        out += ["", *_runs_section(doc)]
    if doc["lag"]:
        out += ["", *_lag_section(doc["lag"])]
    if doc["long"]:
        out += ["", *_long_section(doc["long"])]
    if doc["queries"]:
        out += ["", *_queries_section(doc["queries"])]
    if doc["pages"]:
        out += ["", *_pages_section(doc["pages"])]
    if doc.get("metrics"):
        out += ["", *_metrics_section(doc["metrics"])]
    out += ["", "Targets"]
    out += _table(
        ["target", "requirement", "measured", "result"],
        [
            [
                t["name"],
                t["requirement"],
                "-" if t["value"] is None else f"{_f(t['value'], 2)} {t['unit']}",
                {True: "PASS", False: "FAIL", None: "n/a"}[t["passed"]]
                + (f" ({t['note']})" if t["note"] else ""),
            ]
            for t in doc["targets"]
        ],
        text_columns=4,
    )
    out.append("")
    if doc["exactly_once"]:
        out.append("Exactly once: every job of every run completed exactly once.")
    else:
        out.append("EXACTLY-ONCE CHECK FAILED:")
        out += [f"  {v}" for v in doc["violations"][:50]]
    out.append(f"Reproduce: {doc['command']}")
    return "\n".join(out)


def _runs_section(doc: dict[str, Any]) -> list[str]:
    out = ["Configurations"]
    out += [f"  {k}: {v}" for k, v in doc["configurations"].items()]
    out += [
        "",
        "Per round, in the order run. jobs/s = N / (first enqueue -> last Completed seen);",
        "enqueue/s = N / burst; p50/p99 = enqueue -> Completed; commits/job = (xact_commit",
        "delta of the run's own database - the harness's polls) / N; WAL B/job = the server's",
        "WAL bytes from enqueue to settled / N (A writes none of its own); peak RSS = VmHWM.",
    ]
    rows = []
    for r in doc["runs"]:
        peak = r["worker_peak"]
        rows.append(
            [
                f"{r['config']}{r['round']}",
                _f(r["jobs_per_second"]),
                _f(r["enqueue_rate"]),
                _f(r["latency"].get("p50_ms"), 0),
                _f(r["latency"].get("p99_ms"), 0),
                _f(r["commits_per_job"], 2),
                _f(r["rollbacks_per_job"], 2),
                _f(r.get("wal_bytes_per_job"), 0),
                str(r["harness_transactions"]),
                f"{peak.get('main_kb', 0) / 1024:.0f}/{peak.get('max_child_kb', 0) / 1024:.0f}"
                f"/{peak.get('total_kb', 0) / 1024:.0f}",
                "yes" if r["exactly_once"] else "NO",
            ]
        )
    out += _table(
        [
            "run",
            "jobs/s",
            "enqueue/s",
            "p50 ms",
            "p99 ms",
            "commits/job",
            "rollbacks/job",
            "WAL B/job",
            "polls",
            "peak RSS MiB main/child/total",
            "once",
        ],
        rows,
    )
    out += ["", "Summary: mean [min .. max]"]
    rows = []
    for name, figures in doc["summary"].items():

        def cell(key: str, digits: int = 1, figures: dict[str, Any] = figures) -> str:
            s = figures[key]
            return f"{_f(s['mean'], digits)} [{_f(s['min'], digits)} .. {_f(s['max'], digits)}]"

        rows.append(
            [
                name,
                cell("jobs_per_second"),
                cell("enqueue_rate"),
                cell("latency_p50_ms", 0),
                cell("latency_p99_ms", 0),
                cell("commits_per_job", 2),
                cell("wal_bytes_per_job", 0),
                cell("worker_peak_total_mib", 0),
            ]
        )
    out += _table(
        [
            "cfg",
            "jobs/s",
            "enqueue/s",
            "p50 ms",
            "p99 ms",
            "commits/job",
            "WAL B/job",
            "peak RSS total MiB",
        ],
        rows,
    )
    out += ["", "CPU per job, ms (mean of rounds; postgres includes the harness's polls)"]
    out += _table(
        ["cfg", *GROUPS, "total"],
        [
            [
                name,
                *(_f(figures[f"cpu_{g}_ms_per_job"]["mean"], 3) for g in GROUPS),
                _f(sum(figures[f"cpu_{g}_ms_per_job"]["mean"] for g in GROUPS), 3),
            ]
            for name, figures in doc["summary"].items()
        ],
    )
    pairs = doc["ratios"]["pairs"]
    if pairs:
        out += ["", "Ratios, pair by pair (round i's J over round i's C, A or B)"]
        rows = [[str(p["round"]), *(_f(p[key], 3) for key in RATIOS)] for p in pairs]
        s = doc["ratios"]["summary"]
        rows += [
            [label, *(_f(s[key][label], 3) for key in RATIOS)] for label in ("mean", "min", "max")
        ]
        out += _table(
            [
                "round",
                "J/C jobs/s (each as shipped)",
                "J/A jobs/s (same settings)",
                "J/B jobs/s",
                "J/A enqueue (start_job/apply_async)",
            ],
            rows,
        )
    limits = doc.get("limits") or []
    if limits:
        out += ["", "What a limit costs (round i's L over round i's J; the limited type's starts)"]
        out += _table(
            ["round", "L/J jobs/s", "limited starts/s", "its limit/s"],
            [
                [str(p["round"]), _f(p["L/J"], 3), _f(p["limited/s"]), _f(p["limit/s"])]
                for p in limits
            ],
        )
    return out


def _lag_section(lag: dict[str, Any]) -> list[str]:
    figures = lag["lag"]
    return [
        "Completed lag (J): task returned -> Completed row visible to a poller",
        f"  {lag['jobs']} jobs at {_f(lag['target_rate'])}/s (half of J's mean end-to-end rate; "
        f"achieved {_f(lag['achieved_rate'])}/s), polled every "
        f"{_f(lag['mean_poll_interval_ms'], 2)} ms on average ({lag['polls']} polls)",
        f"  p50 {_f(figures.get('p50_ms'), 2)} ms, p99 {_f(figures.get('p99_ms'), 2)} ms, "
        f"max {_f(figures.get('max_ms'), 2)} ms over {_f(figures.get('count'), 0)} jobs; "
        f"exactly once: {'yes' if lag['exactly_once'] else 'NO'}",
    ]


def _long_section(long: dict[str, Any]) -> list[str]:
    out = [
        f"Long run (J): {long['jobs']:,} jobs in {_f(long['seconds'])} s "
        f"({_f(long['jobs_per_second'])} jobs/s); at most 10,000 outstanding",
        f"  worker RSS (main + children) after {long['warmup_jobs']:,} jobs: "
        f"{long['rss_after_warmup_kb'] / 1024:.1f} MiB; at the end: "
        f"{long['rss_end_kb'] / 1024:.1f} MiB; growth {_f(long['growth_percent'], 2)} %",
        f"  peak (VmHWM) main/max child/total: {long['peak'].get('main_kb', 0) / 1024:.0f}/"
        f"{long['peak'].get('max_child_kb', 0) / 1024:.0f}/"
        f"{long['peak'].get('total_kb', 0) / 1024:.0f} MiB; exactly once: "
        f"{'yes' if long['exactly_once'] else 'NO'}",
    ]
    samples = long["samples"]
    step = max(1, len(samples) // 12)
    out.append(
        "  samples (s, completed, RSS MiB): "
        + ", ".join(f"({s[0]:.0f}, {s[1]}, {s[2] / 1024:.1f})" for s in samples[::step])
    )
    return out


def _queries_section(queries: dict[str, Any]) -> list[str]:
    out = [
        f"Job queries over {queries['rows']:,} rows "
        f"(table with indexes: {queries['table_size']}; filled in "
        f"{_f(queries['fill_seconds'])} s, VACUUM ANALYZE {_f(queries['analyze_seconds'])} s)",
        "  through JobStore.find(JobQuery(...)), 100 runs per shape after 3 warm-up runs,",
        "  limit 100 newest first; time includes the pooled connection and building Job values",
        "",
    ]
    out += _table(
        ["shape", "p50 ms", "p99 ms", "max ms", "rows", "p99 <= 20 ms"],
        [
            [
                s["shape"],
                _f(s["p50_ms"], 2),
                _f(s["p99_ms"], 2),
                _f(s["max_ms"], 2),
                _f(s["mean_rows"], 0),
                "PASS" if s["p99_ms"] <= 20 else "FAIL",
            ]
            for s in queries["shapes"]
        ],
    )
    out += ["", "Plans (EXPLAIN (ANALYZE, BUFFERS) of one instance of each shape)"]
    for s in queries["shapes"]:
        out += ["", f"-- {s['shape']}", *s["plan"].splitlines()]
    return out


def _pages_section(pages: dict[str, Any]) -> list[str]:
    out = [
        f"Dashboard pages over {pages['rows']:,} jobs "
        f"(table with indexes: {pages['table_size']}; filled in "
        f"{_f(pages['fill_seconds'])} s, VACUUM ANALYZE {_f(pages['analyze_seconds'])} s)",
        "  GET through one jobhub api process, one request at a time on a keep-alive",
        "  connection, 100 runs per page after 3 warm-ups; body read; non-200 not timed",
        "  sign-in: " + ", ".join(f"{who} {said}" for who, said in pages["sign_in"].items()),
        "",
    ]
    out += _table(
        ["page", "as", "p50 ms", "p99 ms", "max ms", "KiB", "failed", "p99 <= 100 ms"],
        [
            [
                p["page"],
                p["who"],
                _f(p["p50_ms"], 1),
                _f(p["p99_ms"], 1),
                _f(p["max_ms"], 1),
                _f(p["mean_kib"], 1),
                str(p["failures"]),
                "PASS" if p["runs"] and not p["failures"] and p["p99_ms"] <= 100 else "FAIL",
            ]
            for p in pages["pages"]
        ],
        text_columns=2,
    )
    failures = [p for p in pages["pages"] if p["failure"]]
    if failures:
        out += ["", "Failures (the first of each page)"]
        out += [f"  {p['page']}: {p['failure']}" for p in failures]
    return out


def _metrics_section(metrics: dict[str, Any]) -> list[str]:
    out = [
        f"Metrics over {metrics['rows']:,} jobs and {metrics['events']:,} events "
        f"(filled and analysed in {_f(metrics['fill_seconds'])} s)",
        f"  the history folded once in {_f(metrics['fold_seconds'])} s: "
        f"{_f(metrics['fold_us_per_event'], 2)} us per event, off the per-job path "
        "(a job's writes are unchanged)",
        "  rollup rows: "
        + ", ".join(f"{name} {count:,}" for name, count in metrics["rollup_rows"].items()),
        f"  100 runs each after 3 warm-ups; /metrics answer {metrics['scrape_bytes']:,} bytes",
        "",
    ]
    timings = [metrics["scrape"], *metrics["overview"], *metrics["parts"], *metrics["tails"]]
    out += _table(
        ["measured", "p50 ms", "p99 ms", "max ms"],
        [[t["name"], _f(t["p50_ms"], 2), _f(t["p99_ms"], 2), _f(t["max_ms"], 2)] for t in timings],
    )
    return out
