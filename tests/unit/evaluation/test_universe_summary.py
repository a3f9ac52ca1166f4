"""The end-of-run overview of many series: each series' main scores, and their summary."""

from __future__ import annotations

import pytest

from closecast.evaluation.comparison import STRONG
from closecast.evaluation.report import pooled_table, series_scores, universe_summary

REF = STRONG[0]


def metrics_of(ratios: dict[str, float]) -> dict[str, float]:
    """Per-series keys as a run writes them: served CRPS `ratio` times its reference baseline's."""
    metrics: dict[str, float] = {}
    for ticker, ratio in ratios.items():
        metrics.update(
            {
                f"{ticker}/val/{REF}/served/crps": 0.01,
                f"{ticker}/test/{REF}/served/crps": 0.01,
                f"{ticker}/test/served/crps": 0.01 * ratio,
                f"{ticker}/test/served/vs_reference": ratio,
                f"{ticker}/test/served/dm_t": -1.0,
                f"{ticker}/test/served/coverage_90": 0.9,
                f"{ticker}/test/mase": 1.0,
                f"{ticker}/shrink": 0.5,
            }
        )
    return metrics


def test_summary_names_the_worst_and_best_series_and_the_middle():
    ratios = {f"S{i:02d}": 0.95 + 0.01 * i for i in range(12)}  # S00 best, S11 worst
    metrics = metrics_of(ratios)
    scores = series_scores(metrics, list(ratios))
    assert list(scores.index) == list(ratios)
    assert scores.loc["S03", "vs_reference"] == pytest.approx(0.98)
    assert scores.loc["S03", "reference"] == REF
    summary = universe_summary(metrics, list(ratios))
    lines = {line.split()[0]: line for line in summary.splitlines()}
    assert lines["worst"].endswith("  S11") and lines["best"].endswith("  S00")
    assert lines["mean"].split()[3] == f"{sum(ratios.values()) / 12:.4f}"
    assert lines["median"].split()[3] == f"{(ratios['S05'] + ratios['S06']) / 2:.4f}"
    assert "served CRPS below its reference's on 5 of 12 series" in summary


def test_few_series_keep_a_row_each():
    table = pooled_table(metrics_of({"A": 0.9, "B": 1.1}), ["A", "B"]).splitlines()
    assert [line.split()[0] for line in table] == ["test", "A", "B", "mean"]
