"""``GET /metrics``: the figures ops and autoscalers watch, in Prometheus' text format.

Two sources, kept apart so that several API processes never count anything twice:

* **the database** (``jobhub_jobs``, ``jobhub_jobs_*_total``, ``jobhub_job_*``,
  ``jobhub_queue_*``, ``jobhub_workers_alive``, ``jobhub_schedule_lag_seconds``,
  ``jobhub_database_up``): read at each scrape (``JobManager.metrics``), the same from
  every API process, whichever one Prometheus scrapes;
* **this process** (``jobhub_api_*``): the requests this API process answered, by route
  template (never the raw path, so the number of series stays bounded), method and
  status. Each process counts only its own, so summing the processes is right.

Each app has a registry of its own (not prometheus_client's global one), so two apps in
one process (tests) keep their request counts apart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobhub.errors import JobHubError
from jobhub.manager import JobManager
from jobhub.stats import FINISHED_STATUSES, LIVE_STATUSES, MetricsSnapshot

logger = logging.getLogger(__name__)

router = APIRouter(tags=["system"])

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "(unmatched)"
"""The route label of a request no route matched (a 404, or refused before routing)."""


@router.get(
    "/metrics",
    summary="Figures for Prometheus: jobs, queues, workers, schedules, API requests",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    """Public, like ``/health``: the figures say how much runs, never what. The database
    figures are read at each scrape; ``jobhub_database_up`` is 0 when it could not be."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(registry), media_type=content_type)


def install(app: FastAPI) -> None:
    """Give ``app`` its registry (database figures from ``app.state.manager``, request
    counts from a middleware) and ``GET /metrics``."""
    registry = CollectorRegistry()
    registry.register(DatabaseFigures(app.state.manager))
    app.state.metrics_registry = registry
    app.add_middleware(RequestMetrics, registry=registry)
    app.include_router(router)


class DatabaseFigures(Collector):
    """The database's figures, read at each scrape through the manager."""

    def __init__(self, manager: JobManager) -> None:
        self._manager = manager

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "jobhub_database_up", "Whether this scrape read the database figures (1) or not (0)"
        )
        try:
            snapshot = self._manager.metrics()
        except JobHubError as exc:
            logger.warning("metrics: the database figures could not be read: %s", exc)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *families(snapshot)]


def families(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    """``snapshot`` as Prometheus metric families; every job type known to the totals or
    with live jobs gets every status (a series that vanishes at zero breaks alerts)."""
    types = sorted({t.job_type for t in snapshot.totals} | set(snapshot.live))
    jobs = GaugeMetricFamily(
        "jobhub_jobs", "Jobs Created, Queued or Processing now", labels=["type", "status"]
    )
    for job_type in types:
        now = snapshot.live.get(job_type, {})
        for status in LIVE_STATUSES:
            jobs.add_metric([job_type, status.label], now.get(status, 0))
    yield jobs
    created = CounterMetricFamily("jobhub_jobs_created", "Jobs recorded", labels=["type"])
    ended = CounterMetricFamily(
        "jobhub_jobs_finished", "Jobs that ended, by status", labels=["type", "status"]
    )
    attempts = CounterMetricFamily(
        "jobhub_job_attempts", "Attempts that began to run (retries, reruns)", labels=["type"]
    )
    retries = CounterMetricFamily(
        "jobhub_job_retries", "Failed attempts retried automatically", labels=["type"]
    )
    durations = HistogramMetricFamily(
        "jobhub_job_duration_seconds",
        "Run time of finished jobs, from the start of their last attempt",
        labels=["type"],
    )
    for totals in snapshot.totals:
        labels = [totals.job_type]
        created.add_metric(labels, totals.created)
        attempts.add_metric(labels, totals.attempts)
        retries.add_metric(labels, totals.retries)
        for status in FINISHED_STATUSES:
            ended.add_metric([totals.job_type, status.label], totals.finished.get(status, 0))
        buckets = [(_bound(le), count) for le, count in totals.durations.cumulative()]
        durations.add_metric(labels, buckets, sum_value=totals.durations.sum)
    yield from (created, ended, attempts, retries, durations)
    depth = GaugeMetricFamily(
        "jobhub_queue_depth", "Jobs waiting on the queue (Queued, or due)", labels=["queue"]
    )
    oldest = GaugeMetricFamily(
        "jobhub_queue_oldest_waiting_seconds",
        "How long the longest-waiting job of the queue has waited (0 when none waits)",
        labels=["queue"],
    )
    for queue in snapshot.queues:
        depth.add_metric([queue.queue], queue.waiting)
        oldest.add_metric([queue.queue], queue.oldest_waiting_seconds)
    yield from (depth, oldest)
    yield GaugeMetricFamily(
        "jobhub_workers_alive", "Workers whose heartbeat is recent", value=snapshot.workers_alive
    )
    lag = GaugeMetricFamily(
        "jobhub_schedule_lag_seconds",
        "How late the schedule's next fire is (0 until it is due); active schedules only",
        labels=["schedule"],
    )
    for schedule in snapshot.schedules:
        late = schedule.lag_seconds(snapshot.at)
        if late is not None:
            lag.add_metric([schedule.name], late)
    yield lag


def _bound(le: float) -> str:
    return "+Inf" if le == float("inf") else repr(le)


class RequestMetrics:
    """ASGI middleware: counts and times this process's requests by route template."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "jobhub_api_requests",
            "HTTP requests this API process answered",
            ["route", "method", "status"],
            registry=registry,
        )
        self.seconds = Histogram(
            "jobhub_api_request_duration_seconds",
            "Time this API process took to answer, by route",
            ["route", "method"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # unless a response starts: an exception became the server error

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        began = time.perf_counter()
        try:
            await self.app(scope, receive, watched)
        finally:
            route = route_of(scope)
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            self.requests.labels(route, method, str(status)).inc()
            self.seconds.labels(route, method).observe(time.perf_counter() - began)


def route_of(scope: Scope) -> str:
    """The template of the route that answered (``/jobs/{job_id}``), as routing left it
    in the scope."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    return f"{path}/{{path}}" if isinstance(route, Mount) else path
