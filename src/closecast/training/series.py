"""The end of a run for one series, after fitting: its calibrated scores, test plots, its record in the
run's serving artifact and end-of-run tables. A run does this once per series: once for `data.ticker`,
once each for `data.tickers`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from closecast.artifacts.schema import series_record
from closecast.data.codec import Codec
from closecast.data.series import SeriesData
from closecast.distributions.calibration import Calibration
from closecast.evaluation.assessment import Assessment, assess
from closecast.evaluation.plots import forecast_figures, save_figures
from closecast.evaluation.report import distribution_table, point_words, summary_table

HISTORY_DAYS = 250  # the least number of a series' last days its artifact record keeps


@dataclass
class SeriesResult:
    """One series' final scores and files, from `finish_series`."""

    metrics: dict[str, float]
    data: dict[str, Any]  # `SeriesData.describe()`
    record: dict[str, Any]  # its part of the run's serving artifact (`series_record`)
    plots: list[Path]


def finish_series(
    cfg: DictConfig,
    member: SeriesData,
    net: torch.nn.Module,
    output_dir: Path,
    run_metrics: dict[str, float],
    plot_dir: Path | None = None,
    tensorboard: Any = None,
    step: int = 0,
) -> SeriesResult:
    """Calibrate the fitted `net` on one series' validation part and score its validation and test parts
    (`closecast.evaluation.assessment`), plot its test forecasts and build its record for the run's
    serving artifact (its codec, calibration, data range and metrics)."""
    prices = member.series.to_numpy(dtype=np.float64)
    result = assess(cfg, member.codec, net, member.parts, prices, member.split.n_train, member.day_ranges())
    return series_result(cfg, member, result, run_metrics, plot_dir or output_dir, tensorboard, step)


def series_result(
    cfg: DictConfig,
    member: SeriesData,
    result: Assessment,
    run_metrics: dict[str, float],
    plot_dir: Path,
    tensorboard: Any = None,
    step: int = 0,
) -> SeriesResult:
    """One series' scores `result` (`assess`, or `assess_served`) with the run's own metrics, its test
    plots in `plot_dir` and its record."""
    metrics = result.metrics
    metrics.update(run_metrics)
    data_meta = member.describe()
    test = member.parts["test"]
    plot_files = []
    if cfg.get("plots", True):
        figures = forecast_figures(
            test.anchor_dates,
            test.future.numpy(),
            result.test_pred,
            result.test_lower,
            result.test_upper,
            float(cfg.calibration.interval),
            title=f"{data_meta['ticker']} test",
            last=test.last.numpy(),
            quantiles=result.test_quantiles,
            point="point forecast ({source}, shrink {shrink:g})".format(
                **result.calibration.describe_point()
            ),
        )
        plot_files = save_figures(figures, plot_dir, tensorboard, step)
    # Enough days for the page's chart and for the forecast a client sending them would get: the
    # network's window and the combined baseline's history.
    base = result.calibration.baseline or {}
    days = max(HISTORY_DAYS, member.codec.window, int(base.get("history", 0)) + 1)
    record = series_record(member.codec, result.calibration, data_meta, metrics, member.recent(days))
    return SeriesResult(metrics, data_meta, record, plot_files)


def print_series(cfg: DictConfig, series: SeriesResult, codec: Codec, part: str = "test") -> None:
    """The end-of-run tables of one series on `part` (test; a sweep's trial: val): point scores beside
    naive and drift, distribution scores."""
    meta, metrics = series.data, series.metrics
    print(
        f"\n{meta['ticker']} {meta['feature']} {meta['start']}..{meta['end']}, "
        f"target={codec.target}, shrink={metrics['shrink']}, window={codec.window}, horizon={codec.horizon}"
    )
    print(summary_table(metrics, part))
    print(point_words(Calibration.from_dict(series.record["calibration"]).describe_point()))
    coverage = metrics[f"{part}/coverage"]
    print(f"{float(cfg.calibration.interval):.0%} interval coverage on {part}: {coverage:.3f}")
    print(distribution_table(metrics, part))
