"""Prometheus metrics: HTTP metrics from prometheus-fastapi-instrumentator, plus the model's own.

Registered once per process, at import. With several workers (PROMETHEUS_MULTIPROC_DIR set before they
start) every worker writes its samples to that folder and /metrics adds them up.
"""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

INFERENCE = Histogram(
    "closecast_inference_seconds",
    "Time of one forecast (encoding, network, decoding), by checkpoint",
    ["checkpoint"],
    buckets=(0.0001, 0.0002, 0.0003, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25),
)
# Per worker: with several workers each reports its own count (label `pid`).
MODELS = Gauge("closecast_models_loaded", "Artifacts loaded by this worker", multiprocess_mode="all")
