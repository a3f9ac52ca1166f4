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
    """One recalibrated part of the served distribution: a forecast `(n, horizon)`, its sorted validation
    PIT values (shared by every row, or a list of one per row; None: not recalibrated) and its weight in
    the quantile average (one for every row, or one per row `(n,)`)."""

    forecast: LogReturnForecast
    pit: np.ndarray | list | None
    weight: float | np.ndarray = 1.0


def combined(
    network: Part,
    baseline: LogReturnForecast | None,
    baseline_pit: np.ndarray | list | None,
    weight: float | np.ndarray,
) -> list[Part]:
    """The served parts: the network's `network` part at `weight` and, below weight 1 with a baseline
    forecast, the baseline's at `1 - weight` (evaluation and serving both build them here). A per-row
    `weight` `(n,)` combines each row by its own weight (a row at weight 1 never reads the baseline's)."""
    if baseline is None or np.all(np.asarray(weight) >= 1):
        return [network]
    return [Part(network.forecast, network.pit, weight), Part(baseline, baseline_pit, 1.0 - weight)]


def served_quantiles(parts: list[Part], levels) -> np.ndarray:
    """Quantiles of the log return `(n, horizon, L)` at nominal `levels` `(L,)`: the weighted average of
    each part's recalibrated quantiles (each row's weights sum to 1; a part is not computed at rows where
    its weight is 0), every row in one computation a part."""
    n, horizon = parts[0].forecast.loc.shape
    weights = [np.broadcast_to(np.asarray(p.weight, dtype=float), (n,)) for p in parts]
    total = sum(np.where(w > 0, w, 0.0) for w in weights)
    bad = np.flatnonzero(~(np.abs(total - 1.0) <= 1e-9))
    if bad.size:
        got = [float(w[bad[0]]) for w in weights]
        raise ValueError(f"served part weights must be >= 0 and sum to 1, got {got}")
    out = np.zeros((n, horizon, len(levels)))
    for p, w in zip(parts, weights, strict=True):
        rows = w > 0
        if rows.all():
            out += w[:, None, None] * log_return_quantiles(p.forecast, p.pit, levels)
        elif rows.any():
            pit = [p.pit[i] for i in np.flatnonzero(rows)] if isinstance(p.pit, list) else p.pit
            out[rows] += w[rows, None, None] * log_return_quantiles(p.forecast.rows(rows), pit, levels)
    return out
