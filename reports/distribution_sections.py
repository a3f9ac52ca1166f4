"""The predictive-distribution sections of docs/RESULTS.md (`python -m reports` renders them): the served
distribution's test CRPS against the reference baseline of each series (the strong baseline with the
lowest served validation CRPS), with its significance and calibration tests, for the default training
runs and the walk-forward backtests, checked against the targets of the distribution work."""

from __future__ import annotations

import math

from closecast.evaluation.comparison import reference_of
from closecast.evaluation.report import significance_words


def _get(m: dict, key: str) -> float:
    value = m.get(key)
    return math.nan if value is None else float(value)


def train_rows(trains: list[dict]) -> list[str]:
    """One row per default training run: served test CRPS against the reference and the tests."""
    lines = [
        "| series | served CRPS | reference (on validation) | ratio | DM t | verdict | in 10% MCS "
        "| coverage 50/80/90/95 | 5% VaR Kupiec / Christoffersen p | PIT p | MASE |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for tr in trains:
        m = tr["metrics"]
        ref = reference_of(m)
        t = _get(m, "test/served/dm_t")
        cov = "/".join(f"{_get(m, f'test/served/coverage_{c}'):.3f}" for c in (50, 80, 90, 95))
        mcs = {1.0: "yes", 0.0: "no"}.get(_get(m, "test/served/in_mcs"), "n/a")
        lines.append(
            f"| {tr['ticker']} | {_get(m, 'test/served/crps'):.6f} | {ref} | "
            f"{_get(m, 'test/served/vs_reference'):.4f} | {t:+.2f} | {significance_words(t)} | {mcs} | {cov} "
            f"| {_get(m, 'test/served/var05/kupiec'):.2f} / {_get(m, 'test/served/var05/conditional'):.2f} "
            f"| {_get(m, 'test/served/pit_p'):.3f} | {_get(m, 'test/mase'):.4f} |"
        )
    return lines


def targets(trains: list[dict]) -> list[str]:
    """The targets of the distribution work, each marked met or missed with the measured figure."""
    ms = [tr["metrics"] for tr in trains]
    if not ms or "test/served/crps" not in ms[0]:
        return ["- No predictive distribution in these runs (model.likelihood=none)."]
    names = [tr["ticker"] for tr in trains]
    ratios = [_get(m, "test/served/vs_reference") for m in ms]
    ts = [_get(m, "test/served/dm_t") for m in ms]
    above = [f"{n} ({r:.4f})" for n, r in zip(names, ratios, strict=True) if r > 1.0]
    better = sum(t < -1.96 for t in ts)
    worse = [n for n, t in zip(names, ts, strict=True) if t > 1.96]
    out_mcs = [n for n, m in zip(names, ms, strict=True) if _get(m, "test/served/in_mcs") != 1.0]
    cov_off = [
        f"{n} {c}% ({_get(m, f'test/served/coverage_{c}'):.3f})"
        for n, m in zip(names, ms, strict=True)
        for c in (50, 80, 90, 95)
        if abs(_get(m, f"test/served/coverage_{c}") - c / 100) > 0.025
    ]
    var_ok = sum(
        _get(m, "test/served/var05/kupiec") > 0.05 and _get(m, "test/served/var05/conditional") > 0.05
        for m in ms
    )
    mase = [_get(m, "test/mase") for m in ms]
    mean = sum(ratios) / len(ratios)
    ok = lambda flag: "met" if flag else "missed"  # noqa: E731
    return [
        f"- Served CRPS at most 1.000x the reference on every series: {ok(not above)}"
        + (f" (above on {', '.join(above)})" if above else "")
        + f"; at most 0.995x on average: {ok(mean <= 0.995)} (mean {mean:.4f}).",
        f"- Significantly better (DM, 5%) on at least a quarter of the series: {ok(4 * better >= len(ms))} "
        f"({better} of {len(ms)}); significantly worse on none: {ok(not worse)}"
        + (f" (worse on {', '.join(worse)})" if worse else "")
        + ".",
        f"- In the 10% model confidence set on every series: {ok(not out_mcs)}"
        + (f" (out on {', '.join(out_mcs)})" if out_mcs else "")
        + ".",
        f"- Served coverage within 2.5 points at 50/80/90/95%: {ok(not cov_off)}"
        + (f" (off: {', '.join(cov_off)})" if cov_off else "")
        + ".",
        f"- 5% VaR passes Kupiec and Christoffersen at 5% on at least 80% of series: "
        f"{ok(var_ok >= 0.8 * len(ms))} ({var_ok} of {len(ms)}).",
        f"- Point MASE at most 1.00 on each series: {ok(all(x <= 1.0 for x in mase))} "
        f"({min(mase):.4f} to {max(mase):.4f}).",
    ]


def backtest_rows(backtests: list[dict]) -> list[str]:
    """Pooled distribution scores of each backtest against each fold's reference, with its verdict."""
    lines = [
        "| series | target | served CRPS | reference CRPS | ratio | 90% coverage | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for bt in backtests:
        pooled = {r["method"]: r for r in bt.get("distribution", []) if r["fold"] == "all"}
        if "model" not in pooled or "reference" not in pooled:  # a point network: nothing to compare
            continue
        model, ref = pooled["model"], pooled["reference"]
        lines.append(
            f"| {bt['ticker']} | {bt['target']} | {model['crps']:.6f} | {ref['crps']:.6f} | "
            f"{model['crps'] / ref['crps']:.4f} | {model['coverage_90']:.3f} | {bt.get('dist_verdict', '')} |"
        )
    return lines


def section(backtests: list[dict], trains: list[dict]) -> list[str]:
    """The whole distribution section."""
    lines = [
        "## Predictive distribution against volatility models",
        "",
        "CRPS of the next log return (lower is better) of what `/predict` serves, against the reference: "
        "of the Student-t EWMA, GARCH(1,1), GJR-GARCH(1,1) and EGARCH(1,1) baselines (fixed parameters "
        "fitted on the training part, and refitted every 250 prices), the one with the lowest CRPS on "
        "validation, given the same validation recalibration rule as the network. DM t: Diebold-Mariano "
        "statistic of the CRPS differences with Newey-West errors (negative: the network is better; "
        "|t| < 1.96 is a tie at 5%). MCS: the 10% model confidence set among the network and every baseline. "
        "Keys and method: [FORECAST_QUALITY.md](FORECAST_QUALITY.md).",
        "",
    ]
    if trains:
        lines += ["### Default training runs (`python train.py data.ticker=X`), test part", ""]
        lines += train_rows(trains) + ["", *targets(trains), ""]
    if backtests:
        lines += ["### Walk-forward backtests, pooled over folds", ""] + backtest_rows(backtests) + [""]
    return lines
