"""Distribution scores of a run: the model's predictive distribution beside the volatility baselines
(constant, EWMA, GARCH(1,1); `closecast.evaluation.baselines`), all on the log return from the last
observed price.

Keys, per part (`val`, `test`) and method (the model: no method segment; baselines: `/constant`,
`/ewma`, `/garch`): `crps` and `nll` (closed form), `pinball_05` … `pinball_95`, `coverage_50` …
`coverage_95` and `winkler_50` … `winkler_95` (central intervals from the served, recalibrated
quantiles for the model), and `skill` = 1 − CRPS / CRPS(constant). docs/FORECAST_QUALITY.md has the list."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from closecast.distributions.predictive import LogReturnForecast, log_return_quantiles, quantile
from closecast.evaluation import scoring_rules as scores
from closecast.evaluation.baselines import BASELINES, baseline_sigma

QuantileFn = Callable[[float], np.ndarray]


def outcome(last: np.ndarray, future: np.ndarray) -> np.ndarray:
    """What happened: log returns `(n, horizon)` from the last observed price."""
    return np.log(np.asarray(future, dtype=float) / np.asarray(last, dtype=float)[:, None])


def quantile_scores(y: np.ndarray, quantile_at: QuantileFn, prefix: str) -> dict[str, float]:
    """Pinball loss per level and coverage / Winkler score per central interval."""
    out = {}
    for level in scores.QUANTILE_LEVELS:
        out[f"{prefix}/pinball_{round(level * 100):02d}"] = float(
            np.mean(scores.pinball(y, quantile_at(level), level))
        )
    for cov in scores.INTERVAL_LEVELS:
        lower, upper = quantile_at((1 - cov) / 2), quantile_at((1 + cov) / 2)
        tag = round(cov * 100)
        out[f"{prefix}/coverage_{tag}"] = float(np.mean(scores.covered(y, lower, upper)))
        out[f"{prefix}/winkler_{tag}"] = float(np.mean(scores.winkler(y, lower, upper, cov)))
    return out


def forecast_scores(
    y: np.ndarray, forecast: LogReturnForecast, quantile_at: QuantileFn, prefix: str
) -> dict[str, float]:
    """CRPS, NLL and the quantile scores of one method on one part."""
    out = {
        f"{prefix}/crps": float(np.mean(scores.crps(y, forecast.loc, forecast.scale, forecast.df))),
        f"{prefix}/nll": float(
            np.mean(scores.negative_log_density(y, forecast.loc, forecast.scale, forecast.df))
        ),
    }
    out.update(quantile_scores(y, quantile_at, prefix))
    return out


def baseline_forecasts(prices: np.ndarray, n_train: int, horizon: int) -> dict[str, np.ndarray]:
    """Each baseline's `sigma` `(n_prices, horizon)`, fitted on the first `n_train` prices only."""
    return {name: baseline_sigma(name, prices, n_train, horizon) for name in BASELINES}


def part_scores(
    y: np.ndarray,
    anchors: slice,
    sigmas: dict[str, np.ndarray],
    prefix: str,
    model: LogReturnForecast | None = None,
    pit: np.ndarray | None = None,
) -> dict[str, float]:
    """Distribution scores of the baselines (naive-centred Gaussians) and, if given, the model."""
    out: dict[str, float] = {}
    for name, sigma in sigmas.items():
        fc = LogReturnForecast(np.zeros_like(y), sigma[anchors])
        out.update(forecast_scores(y, fc, lambda a, fc=fc: quantile(a, fc.loc, fc.scale), f"{prefix}/{name}"))
    if model is not None:
        out.update(forecast_scores(y, model, lambda a: log_return_quantiles(model, pit, [a])[..., 0], prefix))
    reference = out.get(f"{prefix}/constant/crps")
    if reference:
        for head in [prefix, *(f"{prefix}/{name}" for name in sigmas)]:
            if f"{head}/crps" in out:
                out[f"{head}/skill"] = scores.skill(out[f"{head}/crps"], reference)
    return out
