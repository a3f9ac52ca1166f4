"""The training run of several series in one network (`data.tickers=[AAPL,GOOG,IBM,MSFT]`): one fit on
their pooled samples (`closecast.data.pooled`), then each series is finished on its own, exactly as a
single-series run is (`closecast.training.series`): shrink guard and quantile recalibration on its own
validation part, scores on its own test part, its own serving artifact (the same weights, its codec).

metrics.json holds each series' keys under its ticker (`AAPL/test/crps`, …) and, under the plain keys
(`test/crps`, …), their mean over the series: what a sweep optimizes. `val/loss` is the pooled
validation loss of the kept epoch (the one checkpointing and early stopping used)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
from omegaconf import DictConfig

from closecast.artifacts.publish import atomic_write
from closecast.data.pooled import PooledDataModule
from closecast.evaluation.report import pooled_table
from closecast.training.hparams import log_final_metrics
from closecast.training.run import fit_metrics, fit_run, metrics_json, publish_run
from closecast.training.series import SeriesResult, finish_series, print_series

log = logging.getLogger(__name__)


POOLED_TARGET = f"{PooledDataModule.__module__}.{PooledDataModule.__qualname__}"


def artifact_name(index: int, ticker: str) -> str:
    """The first listed series' artifact is the run's `model.pt` (published, and a sweep trial's artifact
    as for a single series); every other series' is `model_<TICKER>.pt` beside it."""
    return "model.pt" if index == 0 else f"model_{ticker}.pt"


def pooled_metrics(results: dict[str, SeriesResult]) -> dict[str, float]:
    """Every series' metrics under `<ticker>/`, and the plain keys as their mean over the series (the keys
    every series has; a score that is not finite on one series is not finite in the mean)."""
    runs = list(results.values())
    shared = [k for k in runs[0].metrics if all(k in r.metrics for r in runs)]
    metrics = {k: float(np.mean([r.metrics[k] for r in runs])) for k in shared}
    for ticker, result in results.items():
        metrics.update({f"{ticker}/{k}": v for k, v in result.metrics.items()})
    return metrics


def train_pooled(cfg: DictConfig, extra_callbacks: list[pl.Callback] | None = None) -> dict[str, float]:
    """Fit one network on every series of `data.tickers`, finish each series on its own, write
    metrics.json and one artifact per series, publish the first series'; return the metrics."""
    output_dir, datamodule, fitted = fit_run(cfg, extra_callbacks, _target_=POOLED_TARGET)
    trainer, logger = fitted.trainer, fitted.logger
    if not trainer.is_global_zero:
        return {}

    run = fit_metrics(trainer)
    results: dict[str, SeriesResult] = {}
    for index, (ticker, member) in enumerate(datamodule.members.items()):
        plot_dir = output_dir / ticker
        plot_dir.mkdir(exist_ok=True)
        results[ticker] = finish_series(
            cfg, member, fitted.net, output_dir, run, artifact_name(index, ticker), plot_dir=plot_dir
        )
    metrics = pooled_metrics(results)
    if logger:
        log_final_metrics(logger, cfg, metrics, trainer.global_step)
    atomic_write(output_dir / "metrics.json", lambda tmp: Path(tmp).write_text(metrics_json(metrics)))
    first = next(iter(results.values()))
    published = publish_run(cfg, trainer, first.artifact)

    log.info("best checkpoint: %s", fitted.best_path or "(none)")
    for ticker, result in results.items():
        print_series(cfg, result, datamodule.members[ticker].codec)
    print(f"\none network on {len(results)} series, each scored on its own test part:")
    print(pooled_table(metrics, list(results)))
    artifacts = "\n".join(f"  {t}: {r.artifact}" for t, r in results.items())
    print(
        f"run dir:  {output_dir}\nartifacts (same weights, each series' codec and calibration):\n{artifacts}"
        + (f"\npublished: {published} ({first.data['ticker']})" if published else "")
    )
    return metrics
