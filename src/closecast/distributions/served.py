"""The distribution `/predict` serves: a weighted quantile average of recalibrated parts — the network's
distribution, a volatility baseline's, or both (a combination whose network weight was chosen on
validation). Scoring and serving both read it from here, so the quantiles that are scored are the ones
served."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from closecast.distributions.predictive import LogReturnForecast, log_return_quantiles


@dataclass
class Part:
    """One recalibrated part of the served distribution: a forecast, its sorted validation PIT values
    (None: not recalibrated) and its weight in the quantile average."""

    forecast: LogReturnForecast
    pit: np.ndarray | None
    weight: float = 1.0


def combined(
    network: Part, baseline: LogReturnForecast | None, baseline_pit: np.ndarray | None, weight: float
) -> list[Part]:
    """The served parts: the network's `network` part at `weight` and, below weight 1 with a baseline
    forecast, the baseline's at `1 - weight` (evaluation and serving both build them here)."""
    if baseline is None or weight >= 1:
        return [network]
    return [Part(network.forecast, network.pit, weight), Part(baseline, baseline_pit, 1.0 - weight)]


def served_quantiles(parts: list[Part], levels) -> np.ndarray:
    """Quantiles of the log return `(n, horizon, L)` at nominal `levels` `(L,)`: the weighted average of
    each part's recalibrated quantiles (weights sum to 1; parts of weight 0 are not computed)."""
    used = [p for p in parts if p.weight > 0]
    total = sum(p.weight for p in used)
    if not used or abs(total - 1.0) > 1e-9:
        raise ValueError(f"served part weights must be >= 0 and sum to 1, got {[p.weight for p in parts]}")
    return sum(p.weight * log_return_quantiles(p.forecast, p.pit, levels) for p in used)
