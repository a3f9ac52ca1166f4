"""The end-of-run overview of many series: each series' main test scores, and their summary."""

from __future__ import annotations

import pytest

from closecast.evaluation.report import pooled_table, series_scores, universe_summary


def metrics_of(ratios: dict[str, float]) -> dict[str, float]:
    """Per-series keys as a run writes them: CRPS `ratio` times EWMA's, and the plain keys (their mean)."""
    metrics: dict[str, float] = {}
    for ticker, ratio in ratios.items():
        metrics.update(
            {
                f"{ticker}/test/crps": 0.01 * ratio,
                f"{ticker}/test/ewma/crps": 0.01,
                f"{ticker}/test/garch/crps": 0.0105,
                f"{ticker}/test/coverage_90": 0.9,
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
    assert scores.loc["S03", "crps/ewma"] == pytest.approx(0.98)
    lines = {line.split()[0]: line for line in universe_summary(metrics, list(ratios)).splitlines()}
    assert lines["worst"].endswith("  S11") and lines["best"].endswith("  S00")
    assert lines["mean"].split()[2] == f"{sum(ratios.values()) / 12:.4f}"
    assert lines["median"].split()[2] == f"{(ratios['S05'] + ratios['S06']) / 2:.4f}"
    assert "CRPS below EWMA's on 5 of 12 series" in universe_summary(metrics, list(ratios))


def test_few_series_keep_a_row_each():
    table = pooled_table(metrics_of({"A": 0.9, "B": 1.1}), ["A", "B"]).splitlines()
    assert [line.split()[0] for line in table] == ["test", "A", "B", "mean"]
