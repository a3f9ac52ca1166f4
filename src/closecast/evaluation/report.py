"""The end-of-run and backtest tables and verdicts: every table a run, a backtest or a report prints."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from closecast.evaluation import scoring_rules as scores
from closecast.evaluation.baselines import BASELINES
from closecast.evaluation.comparison import reference_of


def summary_table(metrics: dict[str, float], part: str = "test") -> str:
    """The end-of-run comparison: model beside the baselines on `part` (test; a sweep's trial: val)."""
    rows = [("model", part), ("naive", f"{part}/naive"), ("drift", f"{part}/drift")]
    lines = [f"{part:<8}{'MAE':>10}{'RMSE':>10}{'MAPE %':>10}{'MASE':>8}"]
    for label, key in rows:
        m = [metrics.get(f"{key}/{k}", math.nan) for k in ("mae", "rmse", "mape", "mase")]
        lines.append(f"{label:<8}{m[0]:>10.4f}{m[1]:>10.4f}{m[2]:>10.4f}{m[3]:>8.3f}")
    return "\n".join(lines)


def point_words(point: dict[str, Any]) -> str:
    """One line under the point table: what the model row's forecast is and why, from the series'
    `Calibration.describe_point()` (the same words every /predict answer gives under `point`)."""
    same = " (so the model row is the naive row)" if point["source"] == "naive" else ""
    return f"model = {point['source']}, shrink {point['shrink']:g}{same}: {point['why']}"


def significance_words(t: float) -> str:
    """What a Diebold-Mariano statistic says at 5%, in words (t < 0: the model's loss is lower)."""
    if not math.isfinite(t):
        return "no test"
    if abs(t) < 1.96:
        return "not significant: a tie"
    return "significantly better" if t < 0 else "significantly worse"


def distribution_verdict(metrics: dict[str, float], part: str = "test") -> str:
    """One line: the served CRPS as a ratio of the reference baseline's (chosen on validation), the
    Diebold-Mariano statistic and what it means, and membership of the 10% model confidence set."""
    reference = reference_of(metrics)
    if reference is None:
        return f"{part}: no strong baseline scored"
    ref = metrics.get(f"{part}/{reference}/served/crps", math.nan)
    if f"{part}/served/crps" not in metrics:
        return (
            f"{part}: no predictive distribution (model.likelihood=none); "
            f"{reference} (chosen on validation) served CRPS {ref:.6f}"
        )
    if part != "test":  # validation: where the reference, recalibration and weight were chosen
        ratio = _ratio(metrics[f"{part}/served/crps"], ref)
        return f"{part}: served CRPS {ratio:.4f} of {reference} (both chosen and calibrated on these days)"
    ratio, t = metrics[f"{part}/served/vs_reference"], metrics[f"{part}/served/dm_t"]
    mcs = "in" if metrics.get(f"{part}/served/in_mcs") else "not in"
    return (
        f"{part}: served CRPS {ratio:.4f} of {reference} (chosen on validation), DM t = {t:+.2f}: "
        f"{significance_words(t)}; {mcs} the 10% model confidence set"
    )


def calibration_line(metrics: dict[str, float], part: str = "test") -> str:
    """Coverage of the served central intervals, the 5% VaR backtests and the PIT test, in one line."""
    head = f"{part}/served"
    if f"{head}/var05/rate" not in metrics:  # tests of fit are on test only
        return ""
    cov = "/".join(f"{metrics[f'{head}/coverage_{c}']:.3f}" for c in (50, 80, 90, 95))
    var = {k: metrics[f"{head}/var05/{k}"] for k in ("rate", "kupiec", "conditional")}
    return (
        f"served coverage 50/80/90/95%: {cov}; 5% VaR: {var['rate']:.1%} failures "
        f"(Kupiec p {var['kupiec']:.2f}, Christoffersen p {var['conditional']:.2f}); "
        f"PIT uniformity p {metrics[f'{head}/pit_p']:.3f}"
    )


def distribution_table(metrics: dict[str, float], part: str = "test") -> str:
    """The end-of-run distribution table on `part`: each method as fitted (CRPS, NLL) and as served
    after the same validation recalibration (CRPS, ratio to the reference, 90% coverage, MCS)."""
    reference = reference_of(metrics)
    lines = [f"{part:<20}{'CRPS':>10}{'NLL':>8}{'served':>10}{'/ref':>8}{'cov90':>7}{'MCS':>5}"]
    ref = metrics.get(f"{part}/{reference}/served/crps", math.nan)
    methods = [
        ("network", f"{part}/raw", f"{part}/served"),
        *((b, f"{part}/{b}", f"{part}/{b}/served") for b in BASELINES),
    ]
    for label, raw, served in methods:
        if f"{raw}/crps" not in metrics and f"{served}/crps" not in metrics:
            continue
        name = f"{label} (ref)" if label == reference else label
        crps = metrics.get(f"{served}/crps", math.nan)
        mcs = {1.0: "yes", 0.0: "no"}.get(metrics.get(f"{served}/in_mcs", math.nan), "")
        fitted = (metrics.get(f"{raw}/{k}", math.nan) for k in ("crps", "nll"))
        cov = metrics.get(f"{served}/coverage_90", math.nan)
        lines.append(
            f"{name:<20}{next(fitted):>10.6f}{next(fitted):>8.3f}{crps:>10.6f}{_ratio(crps, ref):>8.4f}"
            f"{cov:>7.3f}{mcs:>5}"
        )
    extra = calibration_line(metrics, part)
    return "\n".join(lines + [distribution_verdict(metrics, part)] + ([extra] if extra else []))


# The distribution columns of the walk-forward backtest: every key is a mean over a fold's test samples,
# of the served distribution (after the fold's validation recalibration) except `raw_crps` (as fitted).
BACKTEST_SCORES = ("crps", "raw_crps", "coverage_90", "winkler_90", "pinball_05", "pinball_95")


def fold_rows(fold: str, metrics: dict[str, float], samples: int, reference: str | None) -> list[dict]:
    """One row per method of a fold's test part (the model, when it has a distribution, then every
    baseline) and a `reference` row: the baseline chosen on this fold's validation part."""
    rows = []
    methods = [
        ("model", "test/raw", "test/served"),
        *((b, f"test/{b}", f"test/{b}/served") for b in BASELINES),
    ]
    for method, raw, served in methods:
        if f"{served}/crps" in metrics:
            row = {"fold": fold, "method": method, "samples": samples}
            row |= {k: metrics[f"{served}/{k}"] for k in BACKTEST_SCORES if k != "raw_crps"}
            rows.append(row | {"raw_crps": metrics.get(f"{raw}/crps", math.nan)})
    chosen = [r for r in rows if r["method"] == reference]
    return rows + [chosen[0] | {"method": "reference", "chosen": reference}] if chosen else rows


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
    """Add `skill` (1 − CRPS / CRPS(constant) of the same fold, both served) to every row."""
    reference = {r["fold"]: r["crps"] for r in rows if r["method"] == "constant"}
    return [r | {"skill": scores.skill(r["crps"], reference[r["fold"]])} for r in rows]


def backtest_verdict(rows: list[dict], dm_t: float) -> str:
    """One sentence: the served pooled test CRPS against each fold's reference baseline (chosen on that
    fold's validation part), the Diebold-Mariano statistic over all folds' samples, and the fold wins."""
    crps = {(r["fold"], r["method"]): r["crps"] for r in rows}
    if ("all", "model") not in crps:
        return "No predictive distribution (model.likelihood=none): only the baselines are scored."
    if ("all", "reference") not in crps:
        return "No strong baseline was scored: nothing to hold the model against."
    folds = sorted({f for f, _ in crps if f != "all"}, key=int)
    wins = sum(crps[(f, "model")] < crps[(f, "reference")] for f in folds)
    chosen = ", ".join(
        dict.fromkeys(r["chosen"] for r in rows if r["method"] == "reference" and r["fold"] != "all")
    )
    ratio = crps[("all", "model")] / crps[("all", "reference")]
    return (
        f"Pooled served test CRPS {ratio:.4f} of the reference baseline chosen on each fold's validation "
        f"part ({chosen}), DM t = {dm_t:+.2f}: {significance_words(dm_t)}; "
        f"below the reference in {wins} of {len(folds)} folds."
    )


def backtest_markdown(rows: list[dict]) -> str:
    """The distribution rows as a Markdown table."""
    lines = [
        "| fold | method | CRPS (served) | CRPS (as fitted) | skill | cov. 90% | Winkler 90% "
        "| pinball 5% | pinball 95% |"
    ]
    lines.append("|" + "---|" * 9)
    for r in rows:
        chosen = r.get("chosen")
        method = f"reference ({chosen})" if isinstance(chosen, str) else r["method"]
        lines.append(
            f"| {r['fold']} | {method} | {r['crps']:.6f} | {r['raw_crps']:.6f} | {r['skill']:.4f} "
            f"| {r['coverage_90']:.3f} | {r['winkler_90']:.4f} "
            f"| {r['pinball_05']:.6f} | {r['pinball_95']:.6f} |"
        )
    return "\n".join(lines)


def _ratio(a: float, b: float) -> float:
    return a / b if math.isfinite(a) and math.isfinite(b) and b else math.nan


# More series than this: the console shows their summary, not a row (and tables) for each.
SUMMARY_AT = 10


def _scores(metrics: dict[str, float], head: str, part: str) -> dict:
    """One series' (`head` = "TICKER/") or the mean's (`head` = "") served scores on `part` against its
    reference baseline (chosen on its validation part)."""
    served = metrics.get(f"{head}{part}/served/crps", math.nan)
    ref = reference_of(metrics, head) if head else None
    ref_crps = metrics.get(f"{head}{part}/{ref}/served/crps", math.nan) if ref else math.nan
    ratio = (
        metrics.get(f"{head}test/served/vs_reference", math.nan)
        if part == "test"
        else _ratio(served, ref_crps)
    )
    return {
        "served_crps": served,
        "reference": ref or "-",
        "vs_reference": ratio,
        "dm_t": metrics.get(f"{head}{part}/served/dm_t", math.nan),
        "coverage_90": metrics.get(f"{head}{part}/served/coverage_90", math.nan),
        "mase": metrics.get(f"{head}{part}/mase", math.nan),
        "shrink": metrics.get(f"{head}shrink", math.nan),
    }


def _line(label: str, s: dict) -> str:
    return (
        f"{label:<10}{s['served_crps']:>10.6f}{s['reference']:>16}{s['vs_reference']:>8.4f}{s['dm_t']:>7.2f}"
        f"{s['coverage_90']:>7.3f}{s['mase']:>8.4f}{s['shrink']:>8.2f}"
    )


def _header(part: str) -> str:
    return f"{part:<10}{'served':>10}{'ref':>16}{'/ref':>8}{'DM t':>7}{'cov90':>7}{'MASE':>8}{'shrink':>8}"


def pooled_table(metrics: dict[str, float], tickers: list[str], part: str = "test") -> str:
    """The end-of-run overview: each series' served scores on `part` (test; a trial: val) against its
    reference baseline (chosen on its validation part), then their mean."""
    rows = [*((t, f"{t}/") for t in tickers), ("mean", "")]
    return "\n".join([_header(part), *(_line(label, _scores(metrics, head, part)) for label, head in rows)])


def series_scores(metrics: dict[str, float], tickers: list[str], part: str = "test") -> pd.DataFrame:
    """Each series' main scores on `part`, one row per series (the run's `series_scores.csv`)."""
    rows = [_scores(metrics, f"{t}/", part) for t in tickers]
    return pd.DataFrame(rows, index=pd.Index(tickers, name="series"))


def universe_summary(metrics: dict[str, float], tickers: list[str], part: str = "test") -> str:
    """The overview of many series: the mean and median of each score on `part`, and the series worst and
    best against their reference baseline (the highest and lowest served / reference CRPS)."""
    table = series_scores(metrics, tickers, part)
    numbers = table.drop(columns="reference")
    ranked = table["vs_reference"].dropna()
    lines = [_header(part)]
    for label, row in (("mean", numbers.mean()), ("median", numbers.median())):
        lines.append(_line(label, {**row.to_dict(), "reference": "-"}))
    if len(ranked):
        for label, ticker in (("worst", ranked.idxmax()), ("best", ranked.idxmin())):
            lines.append(_line(label, table.loc[ticker].to_dict()) + f"  {ticker}")
    lines.append(f"served CRPS below its reference's on {int((ranked < 1).sum())} of {len(table)} series")
    return "\n".join(lines)


def backtest_point_markdown(table: pd.DataFrame) -> str:
    """The backtest table as Markdown: one row per fold × method, the pooled `all` rows last."""
    head = "| fold | test period | method | MAE | RMSE | MAPE % | sMAPE % | MASE | coverage | shrink |"
    lines = [head, "|" + "---|" * 10]
    for r in table.itertuples(index=False):
        cov = "" if math.isnan(r.coverage) else f"{r.coverage:.3f}"
        shrink = "" if math.isnan(r.shrink) else f"{r.shrink:.2f}"
        lines.append(
            f"| {r.fold} | {r.test_start}..{r.test_end} | {r.method} | {r.mae:.4f} | {r.rmse:.4f} "
            f"| {r.mape:.3f} | {r.smape:.3f} | {r.mase:.4f} | {cov} | {shrink} |"
        )
    return "\n".join(lines)


def backtest_point_verdict(table: pd.DataFrame) -> str:
    """One sentence: does the model beat naive over all folds, and in how many folds."""
    model = table[table.method == "model"]
    overall = float(model[model.fold == "all"].mase.iloc[0])
    folds = model[model.fold != "all"]
    wins, ties = int((folds.mase < 1.0).sum()), int((folds.mase == 1.0).sum())
    shown = f"{overall:.4f}" if overall == 1.0 or round(overall, 4) != 1.0 else f"{overall:.6f}"
    if overall < 1.0:
        word = f"beats naive by {100 * (1 - overall):.4f}% of naive's MAE"
    elif overall == 1.0:
        word = "ties naive exactly (it fell back to the naive forecast)"
    else:
        word = f"loses to naive by {100 * (overall - 1):.4f}% of naive's MAE"
    return (
        f"Overall MASE {shown}: the model {word}; it is below 1 in {wins} of {len(folds)} folds"
        + (f" and exactly 1 (naive) in {ties}" if ties else "")
        + "."
    )


def backtest_settings(cfg: DictConfig) -> str:
    """The settings a backtest ran with, for its report."""
    d, b = cfg.data, cfg.backtest
    model = OmegaConf.to_container(cfg.model)
    model.pop("_target_", None)
    return (
        f"target={d.target}, window={d.window}, horizon={d.horizon}, model={model}, folds={b.folds}, "
        f"test_frac={b.test_frac}, epochs={b.epochs}, shrink={cfg.calibration.shrink}, seed={cfg.seed}"
    )
