"""Prometheus metrics: HTTP metrics from prometheus-fastapi-instrumentator, plus the model's own.

Registered once per process, at import. With several workers (PROMETHEUS_MULTIPROC_DIR set before they
start) every worker writes its samples to that folder and /metrics adds them up.
"""

from __future__ import annotations

from prometheus_client import Gauge, Histogram
from prometheus_fastapi_instrumentator import metrics as http_metrics

INFERENCE = Histogram(
    "closecast_inference_seconds",
    "Time of one network call (encoding, network, decoding, answers) answering one /predict/batch body "
    "or one or more coalesced /predict requests, by checkpoint",
    ["checkpoint"],
    buckets=(0.0001, 0.0002, 0.0003, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25),
)
# How many /predict requests each network call answered (`closecast.serving.coalescing`): a mean above 1
# means concurrent requests shared calls.
COALESCED = Histogram(
    "closecast_coalesced_requests",
    "/predict requests answered by one network call, by checkpoint",
    ["checkpoint"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 500),
)
# Per worker: with several workers each reports its own count (label `pid`).
MODELS = Gauge("closecast_models_loaded", "Artifacts loaded by this worker", multiprocess_mode="all")

# The two conventional HTTP metrics (requests by handler/method/grouped status, and latency), made once per
# process like the rest: the library registers a metric when its instrumentation is made and gives None for
# a second one of the same name, so an app made later in the process (tests make many) would count nothing.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
HTTP = (http_metrics.requests(), http_metrics.latency(buckets=LATENCY_BUCKETS))
