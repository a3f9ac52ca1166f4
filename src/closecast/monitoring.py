"""What the server tells operators: Prometheus metrics (the app adds the `X-Response-Time-ms` header).

Its own module so the metrics are registered once per process, even when `python -m closecast.serve`
runs the server module as `__main__` and uvicorn imports it again by name.
"""

from __future__ import annotations

import os
from typing import Any

import psutil
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

__all__ = [
    "BATCH",
    "CONTENT_TYPE_LATEST",
    "INFERENCE",
    "MODELS",
    "metrics_payload",
    "record_request",
    "sample_process",
]

REQUESTS = Counter(
    "closecast_http_requests_total",
    "HTTP requests by method, route and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "closecast_http_request_duration_seconds",
    "Time from request to response start, by method, route and status",
    ["method", "route", "status"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
INFERENCE = Histogram(
    "closecast_inference_seconds",
    "Time of one network call (encoding the windows of a batch included), by checkpoint",
    ["checkpoint"],
    buckets=(0.0001, 0.0002, 0.0003, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25),
)
BATCH = Histogram(
    "closecast_batch_size",
    "Forecasts answered by one network call",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024),
)
MODELS = Gauge("closecast_models_loaded", "Artifacts loaded by this worker", multiprocess_mode="max")
RSS = Gauge("closecast_process_resident_memory_bytes", "Resident memory per worker", multiprocess_mode="all")
CPU = Gauge("closecast_process_cpu_seconds", "CPU time (user + system) per worker", multiprocess_mode="all")
_PROCESS = psutil.Process()


def sample_process() -> None:
    """Record this process's CPU time and resident memory."""
    cpu = _PROCESS.cpu_times()
    CPU.set(cpu.user + cpu.system)
    RSS.set(_PROCESS.memory_info().rss)


def metrics_payload() -> bytes:
    """The exposition text: all workers when PROMETHEUS_MULTIPROC_DIR is set, else this process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(DEFAULT_REGISTRY)


_CHILDREN: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def record_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one request and observe its latency, by method, route template and status."""
    key = (method, route, status)
    children = _CHILDREN.get(key)
    if children is None:  # looked up once per label set: `labels()` takes a lock each call
        children = _CHILDREN[key] = (
            REQUESTS.labels(method, route, str(status)),
            LATENCY.labels(method, route, str(status)),
        )
    children[0].inc()
    children[1].observe(seconds)
