"""The training job: config in, metrics out. `train.py` at the root is only its Hydra entry.

One path for one or several series (`data.ticker=X` or `data.tickers=[AAPL,GOOG,IBM,MSFT]`): one fit on
the series' pooled samples (`closecast.data.datamodule`), then each series is finished on its own
(`closecast.training.series`): shrink guard and quantile recalibration on its own validation part, scores
on its own test part, its own serving artifact (the same weights, its codec).

metrics.json holds one series' keys as they are. With several series it holds each series' keys under
its ticker (`AAPL/test/crps`, …) and, under the plain keys (`test/crps`, …), their mean over the series:
what a sweep optimizes. `val/loss` is the validation loss of the kept epoch (pooled over the series; the
one checkpointing and early stopping used)."""

from __future__ import annotations

import json
import logging
import math
import sys
from contextlib import nullcontext, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
from omegaconf import DictConfig

from closecast.artifacts.publish import atomic_write, publish
from closecast.data.datamodule import PriceDataModule
from closecast.evaluation.report import SUMMARY_AT, pooled_table, series_scores, universe_summary
from closecast.training.hparams import log_final_metrics
from closecast.training.series import SeriesResult, finish_series, print_series
from closecast.training.trainer import Fitted, best_checkpoint, build, fit_network, torch_threads

log = logging.getLogger(__name__)


def metrics_json(metrics: dict[str, float]) -> str:
    """`metrics` as strict JSON: a non-finite number (a MASE over a flat series, say) becomes null."""
    clean = {k: (float(v) if math.isfinite(v) else None) for k, v in metrics.items()}
    return json.dumps(clean, indent=2, allow_nan=False)


def fit_metrics(trainer: pl.Trainer) -> dict[str, float]:
    """The run's own numbers from fitting: epochs, and the kept epoch's validation loss (what a sweep
    optimizes and what every trial reports per epoch)."""
    metrics = {"epochs": float(trainer.current_epoch)}
    ckpt = best_checkpoint(trainer)
    if ckpt is not None and ckpt.best_model_score is not None:
        metrics[ckpt.monitor] = float(ckpt.best_model_score)
    elif trainer.fast_dev_run and "val/loss" in trainer.callback_metrics:
        # A smoke run keeps no checkpoint: its one validation pass is the only one there is.
        metrics["val/loss"] = float(trainer.callback_metrics["val/loss"])
    return metrics


def publish_run(cfg: DictConfig, trainer: pl.Trainer, artifact_path: Path) -> Path | None:
    """Copy the run's artifact to `paths.checkpoints_dir/publish_name` unless told not to."""
    # A smoke run (`+trainer.fast_dev_run=true`) trains on a batch or two: never a model to serve.
    if cfg.get("publish", True) and not trainer.fast_dev_run:
        return publish(artifact_path, cfg.paths.checkpoints_dir, cfg.get("publish_name", "best.pt"))
    return None


def artifact_name(index: int, ticker: str) -> str:
    """The first listed series' artifact is the run's `model.pt` (published, and a sweep trial's
    artifact); every other series' is `model_<TICKER>.pt` beside it."""
    return "model.pt" if index == 0 else f"model_{ticker}.pt"


def run_metrics(results: dict[str, SeriesResult]) -> dict[str, float]:
    """The plain keys as the mean over the series of the keys every series has (one series: its own
    values; a score that is not finite on one series is not finite in the mean) and, with several
    series, every series' metrics under `<ticker>/`."""
    runs = list(results.values())
    shared = [k for k in runs[0].metrics if all(k in r.metrics for r in runs)]
    metrics = {k: float(np.mean([r.metrics[k] for r in runs])) for k in shared}
    if len(runs) > 1:
        for ticker, result in results.items():
            metrics.update({f"{ticker}/{k}": v for k, v in result.metrics.items()})
    return metrics


def train(cfg: DictConfig, extra_callbacks: list[pl.Callback] | None = None) -> dict[str, float]:
    """Fit one network on the series of `cfg.data`, finish each series on its own, write metrics.json and
    one artifact per series, publish the first series'; return the metrics (non-zero DDP ranks: none)."""
    with torch_threads(cfg.get("threads")):
        output_dir, datamodule, fitted = fit_run(cfg, extra_callbacks)
        trainer, logger = fitted.trainer, fitted.logger
        if not trainer.is_global_zero:
            return {}

        several = len(datamodule.members) > 1
        # Several series' plots go to their own folders only: their board tags would collide.
        tensorboard = logger.experiment if logger and not several else None
        fitting = fit_metrics(trainer)
        results: dict[str, SeriesResult] = {}
        for index, (ticker, member) in enumerate(datamodule.members.items()):
            plot_dir = output_dir / ticker if several else output_dir
            plot_dir.mkdir(exist_ok=True)
            results[ticker] = finish_series(
                cfg,
                member,
                fitted.net,
                output_dir,
                fitting,
                artifact_name(index, ticker),
                plot_dir=plot_dir,
                tensorboard=tensorboard,
                step=trainer.global_step,
            )
        metrics = run_metrics(results)
        if logger:
            log_final_metrics(logger, cfg, metrics, trainer.global_step)
        atomic_write(output_dir / "metrics.json", lambda tmp: Path(tmp).write_text(metrics_json(metrics)))
        published = publish_run(cfg, trainer, next(iter(results.values())).artifact)

        log.info("best checkpoint: %s", fitted.best_path or "(none)")
        print_run(cfg, datamodule, results, metrics, output_dir, published)
        return metrics


def fit_run(
    cfg: DictConfig, extra_callbacks: list[pl.Callback] | None
) -> tuple[Path, PriceDataModule, Fitted]:
    """The run dir, the datamodule built from `cfg.data` and set up, and the network fitted on it, seeded
    by `cfg.seed`."""
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(cfg.seed, workers=True)
    datamodule: PriceDataModule = build(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    return output_dir, datamodule, fit_network(cfg, datamodule, output_dir, extra_callbacks)


def print_run(
    cfg: DictConfig,
    datamodule: PriceDataModule,
    results: dict[str, SeriesResult],
    metrics: dict[str, float],
    output_dir: Path,
    published: Path | None,
) -> None:
    """The end-of-run tables: each series' own, then (several series) their overview, and the run's files;
    beyond `SUMMARY_AT` series, the summary of their scores, each series' tables going to a file."""
    tickers = list(results)
    many = len(results) > SUMMARY_AT
    tables_file = output_dir / "series_tables.txt"
    with tables_file.open("w") if many else nullcontext(sys.stdout) as tables, redirect_stdout(tables):
        for ticker, result in results.items():
            print_series(cfg, result, datamodule.members[ticker].codec)
    if len(results) == 1:
        (result,) = results.values()
        plots = ", ".join(str(p) for p in result.plots)
        print(
            f"run dir:  {output_dir}\nartifact: {result.artifact}\nplots:    {plots}"
            + (f"\npublished: {published}" if published else "")
        )
        return
    scores_csv = output_dir / "series_scores.csv"
    series_scores(metrics, tickers).to_csv(scores_csv)
    print(f"\none network on {len(results)} series, each scored on its own test part ({scores_csv}):")
    print(universe_summary(metrics, tickers) if many else pooled_table(metrics, tickers))
    artifacts = "\n".join(f"  {t}: {r.artifact}" for t, r in results.items())
    if many:
        print(f"each series' tables: {tables_file}")
        artifacts = f"  {output_dir}/model*.pt ({len(results)} files)"
    first = next(iter(results.values()))
    print(
        f"run dir:  {output_dir}\nartifacts (same weights, each series' codec and calibration):\n{artifacts}"
        + (f"\npublished: {published} ({first.data['ticker']})" if published else "")
    )


def objective(metrics: dict[str, float], optimized: Any) -> float | tuple[float, ...] | None:
    """The value(s) a sweep optimizes; a name missing from the metrics fails loudly."""
    if not optimized or not metrics:  # non-zero DDP ranks return no metrics
        return None
    names = [optimized] if isinstance(optimized, str) else list(optimized)
    missing = [n for n in names if n not in metrics]
    if missing:
        raise KeyError(f"optimized_metric {missing} not in metrics; available: {sorted(metrics)}")
    values = tuple(float(metrics[n]) for n in names)
    return values[0] if isinstance(optimized, str) else values
