"""The training job: config in, metrics out. `train.py` at the root is only its Hydra entry.

One path for one or several series (`data.ticker=X` or `data.tickers=[AAPL,GOOG,IBM,MSFT]`): one fit on
the series' pooled samples (`closecast.data.datamodule`), then each series is finished on its own
(`closecast.training.series`): shrink guard and quantile recalibration on its own validation part, scores
on its own test part. The run saves one serving artifact, `model.pt`: the weights and every series' codec
and calibration (`save_run_artifact`).

metrics.json holds one series' keys as they are. With several series it holds each series' keys under
its ticker (`AAPL/test/served/crps`, …) and, under the plain keys (`test/served/crps`, …), their mean over
the series:
what a sweep optimizes. `val/loss` is the validation loss of the kept epoch (pooled over the series; the
one checkpointing and early stopping used)."""

from __future__ import annotations

import io
import json
import logging
import math
import sys
from contextlib import nullcontext, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import TensorBoardLogger
from torch import nn

from closecast.artifacts.limits import exceeded
from closecast.artifacts.publish import atomic_write, publish, save_artifact
from closecast.artifacts.schema import build_universe_artifact
from closecast.data.codec import MAX_PRICE
from closecast.data.datamodule import PriceDataModule
from closecast.evaluation.report import SUMMARY_AT, pooled_table, series_scores, universe_summary
from closecast.training.hparams import log_final_metrics
from closecast.training.series import SeriesResult, finish_series, print_series
from closecast.training.trainer import Fitted, build_data, fit_metrics, fit_network, torch_threads

log = logging.getLogger(__name__)
# The end-of-run tables as printed, for the run's log file: configs/hydra/default.yaml gives this logger
# the job's file handler alone, so the console shows them once, as printed (and outside a Hydra job,
# where no file handler is set, nowhere else).
tables_log = logging.getLogger(f"{__name__}.tables")
tables_log.propagate = False


def metrics_json(metrics: dict[str, float]) -> str:
    """`metrics` as strict JSON: a non-finite number (a MASE over a flat series, say) becomes null."""
    clean = {k: (float(v) if math.isfinite(v) else None) for k, v in metrics.items()}
    return json.dumps(clean, indent=2, allow_nan=False)


def not_for_serving(
    cfg: DictConfig,
    trainer: pl.Trainer,
    largest_price: float,
    artifact: dict[str, Any] | None = None,
    size_bytes: int | None = None,
) -> str | None:
    """Why this run's artifact (its dict and file size) must not be published even when asked (None: it
    may be)."""
    if trainer.fast_dev_run:
        return "a smoke run (trainer.fast_dev_run) trains on a batch or two"
    # Lightning reads an int as a number of batches and a float as a share of them.
    limit, overfit = cfg.trainer.get("limit_train_batches"), cfg.trainer.get("overfit_batches")
    if limit is not None and not (isinstance(limit, float) and limit >= 1.0):
        return f"a debug run (trainer.limit_train_batches={limit}) trains on part of the training data"
    if overfit:
        return f"a debug run (trainer.overfit_batches={overfit}) trains on part of the training data"
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        job = HydraConfig.get().job.get("num")
        return (
            f"job {job} of a multirun: the last job to end would win, not the best (a sweep publishes "
            "its pick when it ends); publish the job you choose with python -m closecast.artifacts.publish"
        )
    if largest_price > MAX_PRICE:
        return (
            f"the series reaches {largest_price:.4g}, above the largest price the server accepts "
            f"({MAX_PRICE:.0e}): every request would be refused; train on a rescaled series"
        )
    too_large = exceeded(artifact, size_bytes)  # what the server checks before it loads a file
    if too_large:
        return f"{too_large}, so the server would refuse the file; train a smaller model"
    return None


ARTIFACT_NAME = "model.pt"  # the run's serving artifact, in its run dir (a sweep trial's artifact too)


def save_run_artifact(
    cfg: DictConfig,
    net: nn.Module,
    results: dict[str, SeriesResult],
    metrics: dict[str, float],
    output_dir: Path,
) -> tuple[Path, dict[str, Any]]:
    """Save the run's one serving artifact, `output_dir/model.pt`: the fitted network's weights, every
    series' record (codec, calibration, data range, metrics) and the run's metrics; its path and dict."""
    artifact = build_universe_artifact(
        net,
        {ticker: result.record for ticker, result in results.items()},
        metrics,
        extra={"run_dir": str(output_dir), "config": OmegaConf.to_container(cfg, resolve=True)},
    )
    return save_artifact(artifact, output_dir / ARTIFACT_NAME), artifact


def publish_run(
    cfg: DictConfig,
    trainer: pl.Trainer,
    artifact_path: Path,
    largest_price: float,
    artifact: dict[str, Any] | None = None,
) -> tuple[Path | None, str]:
    """Copy the run's artifact to `paths.checkpoints_dir/publish_name` when the run asks to (`publish=true`)
    and is meant to be served; the published path (or None) and the line that says which and why."""
    name = cfg.get("publish_name", "best.pt")
    why_not = not_for_serving(cfg, trainer, largest_price, artifact, artifact_path.stat().st_size)
    if why_not:
        asked = "publish=true, but " if cfg.get("publish", False) else ""
        return None, f"not published: {asked}{why_not}"
    if not cfg.get("publish", False):
        return None, (
            "not published: a run publishes only when asked (publish=true; make train asks); to serve this "
            f"one: python -m closecast.artifacts.publish {artifact_path} --checkpoints-dir "
            f"{cfg.paths.checkpoints_dir} --name {name}"
        )
    target = publish(artifact_path, cfg.paths.checkpoints_dir, name)
    return target, f"published: {target} (publish=true); make serve serves it"


def scored_part(cfg: DictConfig) -> str:
    """The part a run's tables and logged scores show: test, but validation only in a sweep's trial,
    which is judged on validation (its test scores stay in metrics.json, for after the pick)."""
    return "val" if (cfg.get("hpo") or {}).get("trial") is not None else "test"


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
    the one serving artifact, publish it; return the metrics (non-zero DDP ranks: none)."""
    with torch_threads(cfg.get("threads")):
        output_dir, datamodule, fitted = fit_run(cfg, extra_callbacks)
        trainer, logger = fitted.trainer, fitted.logger
        if not trainer.is_global_zero:
            return {}

        several = len(datamodule.members) > 1
        # Several series' plots go to their own folders only: their board tags would collide.
        tensorboard = logger.experiment if isinstance(logger, TensorBoardLogger) and not several else None
        fitting = fit_metrics(trainer)
        results: dict[str, SeriesResult] = {}
        for ticker, member in datamodule.members.items():
            plot_dir = output_dir / ticker if several else output_dir
            plot_dir.mkdir(exist_ok=True)
            results[ticker] = finish_series(
                cfg,
                member,
                fitted.net,
                output_dir,
                fitting,
                plot_dir=plot_dir,
                tensorboard=tensorboard,
                step=trainer.global_step,
            )
        metrics = run_metrics(results)
        if logger:
            parts = ("val",) if scored_part(cfg) == "val" else ("val", "test")
            log_final_metrics(logger, cfg, metrics, trainer.global_step, parts=parts)
        atomic_write(output_dir / "metrics.json", lambda tmp: Path(tmp).write_text(metrics_json(metrics)))
        artifact, saved = save_run_artifact(cfg, fitted.net, results, metrics, output_dir)
        largest = max(float(m.series.max()) for m in datamodule.members.values())
        published = publish_run(cfg, trainer, artifact, largest, saved)

        log.info("best checkpoint: %s", fitted.best_path or "(none)")
        printed = io.StringIO()
        with redirect_stdout(printed):
            print_run(cfg, datamodule, results, metrics, output_dir, artifact, published)
        print(printed.getvalue(), end="")
        tables_log.info("end of run:%s", printed.getvalue().rstrip())
        return metrics


def fit_run(
    cfg: DictConfig, extra_callbacks: list[pl.Callback] | None
) -> tuple[Path, PriceDataModule, Fitted]:
    """The run dir, the datamodule built from `cfg.data` and set up, and the network fitted on it, seeded
    by `cfg.seed`."""
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(cfg.seed, workers=True)
    datamodule: PriceDataModule = build_data(cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")
    return output_dir, datamodule, fit_network(cfg, datamodule, output_dir, extra_callbacks)


def print_run(
    cfg: DictConfig,
    datamodule: PriceDataModule,
    results: dict[str, SeriesResult],
    metrics: dict[str, float],
    output_dir: Path,
    artifact: Path,
    published: tuple[Path | None, str],
) -> None:
    """The end-of-run tables: each series' own, then (several series) their overview, and the run's files;
    beyond `SUMMARY_AT` series, the summary of their scores, each series' tables going to a file."""
    part = scored_part(cfg)
    tickers = list(results)
    many = len(results) > SUMMARY_AT
    tables_file = output_dir / "series_tables.txt"
    with tables_file.open("w") if many else nullcontext(sys.stdout) as tables, redirect_stdout(tables):
        for ticker, result in results.items():
            print_series(cfg, result, datamodule.members[ticker].codec, part)
    if part == "val":
        print("a sweep's trial: validation scores only (its test scores are in metrics.json)")
    if len(results) == 1:
        (result,) = results.values()
        plots = ", ".join(str(p) for p in result.plots) or "none (plots=false)"
        print(f"run dir:  {output_dir}\nartifact: {artifact}\nplots:    {plots}\n{published[1]}")
        return
    scores_csv = output_dir / "series_scores.csv"
    series_scores(metrics, tickers, part).to_csv(scores_csv)
    print(f"\none network on {len(results)} series, each scored on its own {part} part ({scores_csv}):")
    print(universe_summary(metrics, tickers, part) if many else pooled_table(metrics, tickers, part))
    if many:
        print(f"each series' tables: {tables_file}")
    line = published[1]
    print(
        f"run dir:  {output_dir}\nartifact: {artifact} (one network, each of the {len(results)} series' "
        "codec and calibration; /predict takes `series`)"
    )
    print(line)


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
