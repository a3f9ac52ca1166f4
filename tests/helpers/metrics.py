"""Reading the server's Prometheus text: one sample, and a scrape that waits for counts being written."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families


def sample(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` with these labels in a Prometheus exposition text (0 when absent)."""
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def scrape_until(scrape: Callable[[], str], done: Callable[[str], bool], timeout: float = 10.0) -> str:
    """The first scrape for which `done` holds, or the last one when `timeout` seconds have passed.

    The HTTP counters are written by middleware after the response has gone out, so a client can hold
    its answer before the request is counted; with several workers the next scrape may be read by a
    worker other than the one that answered. Waiting for the expected count, then asserting the exact
    figure on what came back, keeps an over-count a failure and a late write not one.
    """
    deadline = time.monotonic() + timeout
    text = scrape()
    while not done(text) and time.monotonic() < deadline:
        time.sleep(0.05)
        text = scrape()
    return text
