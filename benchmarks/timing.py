"""The one timing loop of the benchmarks: warm up, then time each call, and report percentiles."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def call_times(call: Callable[[], object], iterations: int, warmup: int) -> list[float]:
    """Seconds of each of `iterations` calls of `call`, after `warmup` untimed calls."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def percentile_ms(times: list[float], q: float) -> float:
    """The `q`th percentile of `times` (seconds), in milliseconds."""
    return float(np.percentile(times, q)) * 1e3
