"""Distribution scores of a run: the model's predictive distribution beside the volatility baselines
(constant, EWMA, GARCH(1,1); `closecast.volatility`), all on the log return from the last observed price.

Keys, per part (`val`, `test`) and method (the model: no method segment; baselines: `/constant`,
`/ewma`, `/garch`): `crps` and `nll` (closed form), `pinball_05` … `pinball_95`, `coverage_50` …
`coverage_95` and `winkler_50` … `winkler_95` (central intervals from the served, recalibrated
quantiles for the model), and `skill` = 1 − CRPS / CRPS(constant). docs/FORECAST_QUALITY.md has the list.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from closecast import scores
from closecast.quantiles import LogReturnForecast, log_return_quantiles
from closecast.volatility import BASELINES, baseline_sigma

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
        f"{prefix}/crps": float(np.mean(forecast.crps(y))),
        f"{prefix}/nll": float(np.mean(forecast.nll(y))),
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
        out.update(
            forecast_scores(y, fc, lambda a, fc=fc: scores.quantile(a, fc.loc, fc.scale), f"{prefix}/{name}")
        )
    if model is not None:
        out.update(forecast_scores(y, model, lambda a: log_return_quantiles(model, pit, [a])[..., 0], prefix))
    reference = out.get(f"{prefix}/constant/crps")
    if reference:
        for head in [prefix, *(f"{prefix}/{name}" for name in sigmas)]:
            if f"{head}/crps" in out:
                out[f"{head}/skill"] = scores.skill(out[f"{head}/crps"], reference)
    return out


def verdict(metrics: dict[str, float], part: str = "test") -> str:
    """One line: the model's CRPS against GARCH(1,1)'s on `part`."""
    model, garch = metrics.get(f"{part}/crps", math.nan), metrics.get(f"{part}/garch/crps", math.nan)
    if not math.isfinite(garch):
        return f"{part}: no GARCH(1,1) score"
    if not math.isfinite(model):
        return f"{part}: no predictive distribution (model.likelihood=none); GARCH(1,1) CRPS {garch:.6f}"
    ratio = model / garch
    word = "beats" if ratio < 1 else "does not beat"
    return (
        f"{part}: CRPS {model:.6f} vs GARCH(1,1) {garch:.6f} (ratio {ratio:.3f}): the model {word} GARCH(1,1)"
    )


def distribution_table(metrics: dict[str, float], part: str = "test") -> str:
    """The end-of-run distribution table: model and baselines side by side on `part`."""
    lines = [f"{part:<9}{'CRPS':>10}{'skill':>8}{'NLL':>9}{'cov90':>7}{'wink90':>9}"]
    for label, head in [("model", part), *((b, f"{part}/{b}") for b in BASELINES)]:
        if f"{head}/crps" not in metrics:
            continue
        m = [
            metrics.get(f"{head}/{k}", math.nan)
            for k in ("crps", "skill", "nll", "coverage_90", "winkler_90")
        ]
        lines.append(f"{label:<9}{m[0]:>10.6f}{m[1]:>8.3f}{m[2]:>9.3f}{m[3]:>7.3f}{m[4]:>9.4f}")
    return "\n".join(lines + [verdict(metrics, part)])


# The distribution columns of the walk-forward backtest: every key is a mean over a fold's test samples.
BACKTEST_SCORES = ("crps", "nll", "coverage_90", "winkler_90", "pinball_05", "pinball_95")


def fold_rows(fold: str, metrics: dict[str, float], samples: int) -> list[dict]:
    """One row per method (model, when it has a distribution, then the baselines) of a fold's test part."""
    rows = []
    for method, head in [("model", "test"), *((b, f"test/{b}") for b in BASELINES)]:
        if f"{head}/crps" in metrics:
            row = {"fold": fold, "method": method, "samples": samples}
            rows.append(row | {k: metrics[f"{head}/{k}"] for k in BACKTEST_SCORES})
    return rows


def pooled_rows(rows: list[dict]) -> list[dict]:
    """The `all` rows: each method's scores over every fold's test samples (sample-weighted means)."""
    out = []
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        n = sum(r["samples"] for r in mine)
        row = {"fold": "all", "method": method, "samples": n}
        out.append(row | {k: sum(r[k] * r["samples"] for r in mine) / n for k in BACKTEST_SCORES})
    return out


def with_skill(rows: list[dict]) -> list[dict]:
    """Add `skill` (1 − CRPS / CRPS(constant) of the same fold) to every row."""
    reference = {r["fold"]: r["crps"] for r in rows if r["method"] == "constant"}
    return [r | {"skill": scores.skill(r["crps"], reference[r["fold"]])} for r in rows]


def backtest_verdict(rows: list[dict]) -> str:
    """One sentence: the model's pooled test CRPS against GARCH(1,1)'s, and in how many folds it wins."""
    crps = {(r["fold"], r["method"]): r["crps"] for r in rows}
    if ("all", "model") not in crps:
        return "No predictive distribution (model.likelihood=none): only the baselines are scored."
    folds = sorted({f for f, _ in crps if f != "all"}, key=int)
    wins = sum(crps[(f, "model")] < crps[(f, "garch")] for f in folds)
    ratio = crps[("all", "model")] / crps[("all", "garch")]
    word = "beats" if ratio < 1 else "does not beat"
    return (
        f"Pooled test CRPS {crps[('all', 'model')]:.6f} against GARCH(1,1)'s {crps[('all', 'garch')]:.6f} "
        f"(ratio {ratio:.3f}): the model {word} GARCH(1,1); "
        f"it is below GARCH(1,1) in {wins} of {len(folds)} folds."
    )


def backtest_markdown(rows: list[dict]) -> str:
    """The distribution rows as a Markdown table."""
    lines = ["| fold | method | CRPS | skill | NLL | cov. 90% | Winkler 90% | pinball 5% | pinball 95% |"]
    lines.append("|" + "---|" * 9)
    for r in rows:
        lines.append(
            f"| {r['fold']} | {r['method']} | {r['crps']:.6f} | {r['skill']:.4f} | {r['nll']:.3f} "
            f"| {r['coverage_90']:.3f} | {r['winkler_90']:.4f} "
            f"| {r['pinball_05']:.6f} | {r['pinball_95']:.6f} |"
        )
    return "\n".join(lines)
