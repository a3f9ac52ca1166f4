"""The end-of-run and backtest tables and verdicts: every table a run, a backtest or a report prints."""

from __future__ import annotations

import math

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from closecast.evaluation import scoring_rules as scores
from closecast.evaluation.baselines import BASELINES


def summary_table(metrics: dict[str, float]) -> str:
    """The end-of-run comparison: model beside the baselines on the test part."""
    rows = [("model", "test"), ("naive", "test/naive"), ("drift", "test/drift")]
    lines = [f"{'test':<8}{'MAE':>10}{'RMSE':>10}{'MAPE %':>10}{'MASE':>8}"]
    for label, key in rows:
        m = [metrics.get(f"{key}/{k}", math.nan) for k in ("mae", "rmse", "mape", "mase")]
        lines.append(f"{label:<8}{m[0]:>10.4f}{m[1]:>10.4f}{m[2]:>10.4f}{m[3]:>8.3f}")
    return "\n".join(lines)


def distribution_verdict(metrics: dict[str, float], part: str = "test") -> str:
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
    return "\n".join(lines + [distribution_verdict(metrics, part)])


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


def _ratio(a: float, b: float) -> float:
    return a / b if math.isfinite(a) and math.isfinite(b) and b else math.nan


POOLED_HEADER = f"{'test':<10}{'CRPS':>10}{'/EWMA':>8}{'/GARCH':>8}{'cov90':>7}{'MASE':>8}{'shrink':>8}"


# More series than this: the console shows their summary, not a row (and tables) for each.
SUMMARY_AT = 10


def _scores(metrics: dict[str, float], head: str) -> dict[str, float]:
    """One series' (`head` = "TICKER/") or the mean's (`head` = "") main test scores."""
    keys = ("test/crps", "test/coverage_90", "test/mase", "test/ewma/crps", "test/garch/crps", "shrink")
    m = {k: metrics.get(f"{head}{k}", math.nan) for k in keys}
    return {
        "crps": m["test/crps"],
        "crps/ewma": _ratio(m["test/crps"], m["test/ewma/crps"]),
        "crps/garch": _ratio(m["test/crps"], m["test/garch/crps"]),
        "coverage_90": m["test/coverage_90"],
        "mase": m["test/mase"],
        "shrink": m["shrink"],
    }


def _pooled_line(label: str, s: dict[str, float]) -> str:
    return (
        f"{label:<10}{s['crps']:>10.6f}{s['crps/ewma']:>8.4f}{s['crps/garch']:>8.4f}"
        f"{s['coverage_90']:>7.3f}{s['mase']:>8.4f}{s['shrink']:>8.2f}"
    )


def pooled_table(metrics: dict[str, float], tickers: list[str]) -> str:
    """The end-of-run overview: each series' test scores, then their mean."""
    rows = [*((t, f"{t}/") for t in tickers), ("mean", "")]
    return "\n".join([POOLED_HEADER, *(_pooled_line(label, _scores(metrics, head)) for label, head in rows)])


def series_scores(metrics: dict[str, float], tickers: list[str]) -> pd.DataFrame:
    """Each series' main test scores, one row per series (the run's `series_scores.csv`)."""
    return pd.DataFrame([_scores(metrics, f"{t}/") for t in tickers], index=pd.Index(tickers, name="series"))


def universe_summary(metrics: dict[str, float], tickers: list[str]) -> str:
    """The overview of many series: the mean and median of each test score, and the series worst and best
    against EWMA (the highest and lowest CRPS / EWMA CRPS)."""
    table = series_scores(metrics, tickers)
    ranked = table["crps/ewma"].dropna()
    lines = [POOLED_HEADER]
    lines.append(_pooled_line("mean", table.mean().to_dict()))
    lines.append(_pooled_line("median", table.median().to_dict()))
    if len(ranked):
        for label, ticker in (("worst", ranked.idxmax()), ("best", ranked.idxmin())):
            lines.append(_pooled_line(label, table.loc[ticker].to_dict()) + f"  {ticker}")
    below = int((ranked < 1).sum())
    lines.append(f"CRPS below EWMA's on {below} of {len(table)} series")
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
