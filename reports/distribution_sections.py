"""The predictive-distribution sections of docs/RESULTS.md (`python -m reports` renders them): the model's
test CRPS beside the constant, EWMA and GARCH(1,1) spreads, for the default training runs and the
walk-forward backtests, checked against the targets of the distribution work."""

from __future__ import annotations

import math

BASELINES = ("constant", "ewma", "garch")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if math.isfinite(a) and b else "n/a"


def train_rows(trains: list[dict]) -> list[str]:
    """One row per default training run: test CRPS of each method, ratios, coverage and MASE."""
    lines = [
        "| ticker | model CRPS | constant | EWMA | GARCH(1,1) | model / EWMA | model / GARCH | skill "
        "| 90% coverage | MASE |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for tr in trains:
        m = tr["metrics"]
        crps = {k: m.get(f"test/{k}/crps", math.nan) for k in BASELINES}
        model = m.get("test/crps", math.nan)
        lines.append(
            f"| {tr['ticker']} | {model:.6f} | {crps['constant']:.6f} | {crps['ewma']:.6f} | "
            f"{crps['garch']:.6f} | {_ratio(model, crps['ewma'])} | {_ratio(model, crps['garch'])} | "
            f"{m.get('test/skill', math.nan):.4f} | {m.get('test/coverage_90', math.nan):.3f} "
            f"| {m['test/mase']:.4f} |"
        )
    return lines


def targets(trains: list[dict]) -> list[str]:
    """The targets: CRPS below EWMA on every series, at most 1.01x GARCH on average, coverage, MASE."""
    if not trains or "test/crps" not in trains[0]["metrics"]:
        return ["- No predictive distribution in these runs (model.likelihood=none)."]
    ms = [tr["metrics"] for tr in trains]
    below = [tr["ticker"] for tr, m in zip(trains, ms, strict=True) if m["test/crps"] < m["test/ewma/crps"]]
    above = [
        f"{tr['ticker']} ({m['test/crps'] / m['test/ewma/crps']:.3f})"
        for tr, m in zip(trains, ms, strict=True)
        if m["test/crps"] >= m["test/ewma/crps"]
    ]
    mean_garch = sum(m["test/crps"] / m["test/garch/crps"] for m in ms) / len(ms)
    covs = [m["test/coverage_90"] for m in ms]
    mase = [m["test/mase"] for m in ms]
    ok = lambda flag: "met" if flag else "missed"  # noqa: E731
    return [
        f"- Test CRPS below EWMA's on every series: {ok(not above)} (below on {', '.join(below) or 'none'}"
        + (f"; above on {', '.join(above)}" if above else "")
        + ").",
        f"- Mean CRPS ratio to GARCH(1,1) at most 1.01: {ok(mean_garch <= 1.01)} ({mean_garch:.3f}).",
        f"- 90% coverage within 0.87-0.93 on each series: {ok(all(0.87 <= c <= 0.93 for c in covs))} "
        f"({min(covs):.3f} to {max(covs):.3f}).",
        f"- Point MASE at most 1.00 on each series: {ok(all(x <= 1.0 for x in mase))} "
        f"({min(mase):.4f} to {max(mase):.4f}).",
    ]


def backtest_rows(backtests: list[dict]) -> list[str]:
    """Pooled distribution scores of each backtest, with its verdict against GARCH(1,1)."""
    lines = [
        "| ticker | target | model CRPS | EWMA | GARCH(1,1) | model / GARCH | 90% coverage | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for bt in backtests:
        pooled = {r["method"]: r for r in bt.get("distribution", []) if r["fold"] == "all"}
        if "model" not in pooled:  # a point network (the level target): no distribution to compare
            continue
        model = pooled.get("model", {})
        crps = model.get("crps", math.nan)
        lines.append(
            f"| {bt['ticker']} | {bt['target']} | {crps:.6f} | {pooled['ewma']['crps']:.6f} | "
            f"{pooled['garch']['crps']:.6f} | {_ratio(crps, pooled['garch']['crps'])} | "
            f"{model.get('coverage_90', math.nan):.3f} | {bt.get('dist_verdict', '')} |"
        )
    return lines


def section(backtests: list[dict], trains: list[dict]) -> list[str]:
    """The whole distribution section."""
    lines = [
        "## Predictive distribution against volatility models",
        "",
        "CRPS of the next log return (lower is better), all forecasts centred on the naive forecast except "
        "the model's (its shrunk location): constant = training std, EWMA = lambda 0.94, GARCH(1,1) fitted "
        "on the training part and filtered with fixed parameters. Skill = 1 - CRPS / CRPS(constant). "
        "The model's coverage is that of its quantiles recalibrated on validation. Keys and method: "
        "[FORECAST_QUALITY.md](FORECAST_QUALITY.md).",
        "",
    ]
    if trains:
        lines += ["### Default training runs (`python train.py data.ticker=X`), test part", ""]
        lines += train_rows(trains) + ["", *targets(trains), ""]
    if backtests:
        lines += ["### Walk-forward backtests, pooled over folds", ""] + backtest_rows(backtests) + [""]
    return lines
