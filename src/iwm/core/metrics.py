"""Prometheus metrics (prometheus-client), correct across the workers of one server.

`iwm serve` points `PROMETHEUS_MULTIPROC_DIR` at a fresh folder before its workers start
(and before this module is imported: prometheus-client picks its mode at import),
so every worker writes its figures there and `/metrics`, answered by any worker, sums them
(prometheus-client's multiprocess mode). Without that variable (tests, a single process
run by another server) the process's own registry is served."""

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "iwm_http_requests",
    "HTTP requests answered, by route template and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "iwm_http_request_duration_seconds",
    "Time to answer a request, by route template and status",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
POOL_IN_USE = Gauge(
    "iwm_db_pool_connections_in_use",
    "PostgreSQL connections checked out of the pool",
    ["pool"],
    multiprocess_mode="livesum",
)
PART_ERRORS = Counter(
    "iwm_part_errors",
    "Requests answered 503 because a part was down or too slow, by part",
    ["part"],
)
HEARTBEAT_BUFFER = Gauge(
    "iwm_heartbeat_buffer_kiosks",
    "Kiosks heard since the last heartbeat flush, waiting to be written",
    multiprocess_mode="livesum",
)
HEARTBEAT_FLUSH = Histogram(
    "iwm_heartbeat_flush_seconds",
    "Time to write the buffered heartbeats",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
JOB_RUNS = Counter("iwm_job_runs", "Scheduled job runs, by job and outcome", ["job", "outcome"])

# The (count, latency) series of each (method, route, status) seen: `labels()` validates and
# looks the series up under a lock on every call, a cost paid by every request otherwise.
_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}
_SERIES_KEPT = 5_000  # beyond: looked up each time (clients can send any method)


def count_request(method: str, route: str, status: int, seconds: float) -> None:
    """One answered request in `iwm_http_requests` and `iwm_http_request_duration_seconds`."""
    key = (method, route, status)
    series = _SERIES.get(key)
    if series is None:
        series = (REQUESTS.labels(method, route, status), LATENCY.labels(method, route, status))
        if len(_SERIES) < _SERIES_KEPT:
            _SERIES[key] = series
    series[0].inc()
    series[1].observe(seconds)


def render(extra: CollectorRegistry | None = None) -> tuple[bytes, str]:
    """The exposition text of every worker's metrics (or this process's), plus `extra`."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY  # noqa: PLC0415

        body = generate_latest(REGISTRY)
    if extra is not None:
        body += generate_latest(extra)
    return body, CONTENT_TYPE_LATEST


def watch_pool(engine: AsyncEngine, name: str) -> None:
    """Counts the engine's checked-out connections in `iwm_db_pool_connections_in_use`."""
    gauge = POOL_IN_USE.labels(name)

    @event.listens_for(engine.sync_engine, "checkout")
    def _out(*_: Any) -> None:
        gauge.inc()

    @event.listens_for(engine.sync_engine, "checkin")
    def _in(*_: Any) -> None:
        gauge.dec()
