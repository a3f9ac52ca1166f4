"""What the server tells operators: Prometheus metrics and the `X-Response-Time-ms` header.

Its own module so the metrics are registered once per process, even when `python -m closecast.serve`
runs the server module as `__main__` and uvicorn imports it again by name.
"""

from __future__ import annotations

import os
import time
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
    "Instrumented",
    "metrics_payload",
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


class Instrumented:
    """ASGI middleware: `X-Response-Time-ms` on every response, request counts and latency histograms."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def timed_send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                elapsed = f"{(time.perf_counter() - start) * 1e3:.3f}".encode()
                message = {
                    **message,
                    "headers": [*message.get("headers", ()), (b"x-response-time-ms", elapsed)],
                }
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            route = scope.get("route")
            # Route templates, never raw paths: unknown URLs must not grow the label set without bound.
            labels = (scope["method"], getattr(route, "path", "unmatched"), status)
            children = self._children.get(labels)
            if children is None:  # looked up once per label set: `labels()` takes a lock each call
                method, path, code = labels
                children = REQUESTS.labels(method, path, str(code)), LATENCY.labels(method, path, str(code))
                self._children[labels] = children
            children[0].inc()
            children[1].observe(time.perf_counter() - start)
