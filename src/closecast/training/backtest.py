"""Walk-forward backtest: refit on an expanding window, score each fold's unseen test block.

Fold k sees only the prices before its test block. Its codec (the scaler) is fitted on its training
part, early stopping, the shrink and the conformal residuals come from its validation part, and its test
block is read only to score the model against the naive and drift baselines, and its predictive
distribution against the volatility baselines (constant, EWMA, GARCH(1,1) fitted on the fold's training
part; `closecast.evaluation.distribution_scores`). `backtest.py` at the repository root is the Hydra
entry; `python -m reports` (`make results`) runs it on every bundled series for docs/RESULTS.md."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, open_dict

from closecast.artifacts.schema import codec_fields
from closecast.data.codec import Codec
from closecast.data.datamodule import PriceDataModule
from closecast.data.series import SeriesData
from closecast.data.splits import Split, walk_forward_splits
from closecast.errors import DataError
from closecast.evaluation import report
from closecast.evaluation.assessment import assess, predict_normalized
from closecast.evaluation.point import interval_coverage, score_forecasts
from closecast.evaluation.shrink import choose_shrink
from closecast.evaluation.significance import diebold_mariano
from closecast.training.trainer import build, build_data, fit_network, torch_threads

log = logging.getLogger(__name__)


METHODS = ("model", "naive", "drift")


SCORES = ("mae", "rmse", "mape", "smape", "mase")


@dataclass
class FoldForecasts:
    """One fold's test block: dates, actual prices, last observed prices and each method's forecasts."""

    dates: list
    actual: np.ndarray
    last: np.ndarray
    model: np.ndarray
    drift: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


@dataclass
class BacktestResult:
    """The per-fold and overall table, the forecasts behind it, and the wall time."""

    table: pd.DataFrame
    forecasts: list[FoldForecasts] = field(default_factory=list)
    seconds: float = 0.0
    distribution: pd.DataFrame | None = None  # fold × method distribution scores (`report.fold_rows`)
    # Diebold-Mariano t of the served test CRPS against each fold's reference, over all folds' samples.
    dm_t: float = math.nan


def only_series(datamodule: PriceDataModule) -> SeriesData:
    """The one series a backtest walks forward on; a list of several fails with the way out."""
    if len(datamodule.members) != 1:
        raise DataError(
            f"data.tickers={list(datamodule.members)} pools several series into one network, which only "
            "training (python train.py) does; for one series here set data.ticker=<TICKER> data.tickers=null"
        )
    return next(iter(datamodule.members.values()))


def fold_datamodule(
    cfg: DictConfig, series: pd.Series, split: Split, high_low: pd.DataFrame | None = None
) -> PriceDataModule:
    """A datamodule of one series over the prefix of `series` that `split` covers; statistics from its
    train part only (`high_low`: the series' daily High and Low, for range inputs)."""
    datamodule: PriceDataModule = build_data(cfg)
    member = only_series(datamodule)
    member.feature = str(series.name)  # the column `load_series` resolved `auto` to
    member.high_low = high_low
    total = split.n_train + split.n_val + split.n_test
    member.use_series(series.iloc[:total], split)
    datamodule.setup("fit")  # pools the set-up series' train and validation parts for the Trainer
    return datamodule


def fold_config(cfg: DictConfig) -> DictConfig:
    """The training config a fold runs with: the backtest's epochs, no resume, no publishing."""
    fold_cfg = cfg.copy()
    with open_dict(fold_cfg):
        fold_cfg.trainer.max_epochs = int(cfg.backtest.epochs)
        fold_cfg.ckpt_path = None
        fold_cfg.publish = False
        if not cfg.backtest.get("tensorboard", False):
            fold_cfg.logger = None
    return fold_cfg


def _rows(fold: str, dates: list, scores: dict, coverage: float, shrink: float) -> list[dict]:
    rows = []
    for method in METHODS:
        row = {"fold": fold, "method": method, "test_start": str(dates[0].date())}
        row.update(test_end=str(dates[-1].date()), samples=len(dates))
        row.update({k: scores[method][k] for k in SCORES})
        row["coverage"] = coverage if method == "model" else math.nan
        row["shrink"] = shrink if method == "model" else math.nan
        rows.append(row)
    return rows


def run_backtest(cfg: DictConfig, output_dir: Path | None = None) -> BacktestResult:
    """Run every fold of `cfg.backtest`, writing fold runs under `output_dir`; return the table."""
    with torch_threads(cfg.get("threads")):
        return _run_folds(cfg, Path(output_dir or cfg.paths.output_dir))


def _run_folds(cfg: DictConfig, output_dir: Path) -> BacktestResult:
    began = time.perf_counter()
    output_dir.mkdir(parents=True, exist_ok=True)
    data = cfg.data
    loader = only_series(build(data))
    series = loader.load_series()
    splits = walk_forward_splits(
        len(series), int(cfg.backtest.folds), float(cfg.backtest.test_frac), data.train_frac, data.val_frac
    )
    fold_cfg = fold_config(cfg)
    rows: list[dict] = []
    dist_rows: list[dict] = []
    forecasts: list[FoldForecasts] = []
    loss_pairs: list[tuple[np.ndarray, np.ndarray]] = []  # per fold: served and reference test CRPS
    for k, split in enumerate(splits, start=1):
        pl.seed_everything(cfg.seed, workers=True)
        datamodule = fold_datamodule(fold_cfg, series, split, loader.high_low)
        fitted = fit_network(fold_cfg, datamodule, output_dir / f"fold{k}")
        fold = only_series(datamodule)
        prices = fold.series.to_numpy(dtype=np.float64)
        result = assess(
            fold_cfg, fold.codec, fitted.net, fold.parts, prices, split.n_train, fold.day_ranges()
        )
        val, test = fold.parts["val"], fold.parts["test"]
        location = fitted.net.likelihood.location
        # Network outputs (the point forecast: a likelihood head's location) and prices of the fold,
        # kept so calibration rules can be studied offline.
        np.savez(
            output_dir / f"fold{k}" / "forecasts.npz",
            y_val=location(predict_normalized(fitted.net, val)).numpy(),
            val_last=val.last.numpy(),
            val_future=val.future.numpy(),
            y_test=location(predict_normalized(fitted.net, test)).numpy(),
            test_last=test.last.numpy(),
            test_future=test.future.numpy(),
            codec=json.dumps(fold.codec.to_dict()),
        )
        fc = FoldForecasts(
            dates=list(test.anchor_dates),
            actual=test.future.numpy(),
            last=test.last.numpy(),
            model=result.test_pred,
            drift=result.test_drift,
            lower=result.test_lower,
            upper=result.test_upper,
        )
        forecasts.append(fc)
        scores = score_forecasts({"model": fc.model, "drift": fc.drift}, fc.actual, fc.last)
        rows += _rows(str(k), fc.dates, scores, result.metrics["test/coverage"], result.metrics["shrink"])
        comparison = result.comparison
        dist_rows += report.fold_rows(str(k), result.metrics, len(test), comparison.reference)
        if "served" in comparison.losses and comparison.reference:
            loss_pairs.append((comparison.losses["served"], comparison.losses[comparison.reference]))
        log.info(
            "fold %d/%d: test %s..%s, model MASE %.4f, drift MASE %.4f, shrink %.2f",
            k, len(splits), fc.dates[0].date(), fc.dates[-1].date(),
            scores["model"]["mase"], scores["drift"]["mase"], result.metrics["shrink"],
        )  # fmt: skip
        # Finished folds reach the disk at once: a crash in a later fold loses none of them.
        pd.DataFrame(rows).to_csv(output_dir / "backtest.csv", index=False)
    pooled = {
        name: np.concatenate([getattr(f, name) for f in forecasts]) for name in FoldForecasts.__annotations__
    }
    scores = score_forecasts(
        {"model": pooled["model"], "drift": pooled["drift"]}, pooled["actual"], pooled["last"]
    )
    coverage = interval_coverage(pooled["actual"], pooled["lower"], pooled["upper"])
    rows += _rows("all", list(pooled["dates"]), scores, coverage, math.nan)
    dist = pd.DataFrame(report.with_skill(dist_rows + report.pooled_rows(dist_rows)))
    dm_t = math.nan
    if loss_pairs:
        model, reference = (np.concatenate(x) for x in zip(*loss_pairs, strict=True))
        dm_t = diebold_mariano(model, reference, min_lag=int(cfg.data.horizon) - 1)[0]
    return BacktestResult(pd.DataFrame(rows), forecasts, time.perf_counter() - began, dist, dm_t)


def guard_study(output_dir: Path, zs: tuple[float, ...] = (0.0, 1.0, 1.645, 2.0)) -> dict[float, float]:
    """Pooled test MASE the saved folds of a backtest would have had under other `min_gain_z` settings.

    The guard acts after fitting (it only picks the shrink on validation), so the fitted networks'
    saved outputs answer this without refitting.
    """
    totals = {z: [0.0, 0.0] for z in zs}
    for path in sorted(Path(output_dir).glob("fold*/forecasts.npz")):
        saved = np.load(path)
        codec = Codec.from_dict(codec_fields(json.loads(str(saved["codec"]))))
        val = SimpleNamespace(
            last=torch.from_numpy(saved["val_last"]), future=torch.from_numpy(saved["val_future"])
        )
        y_val, y_test = torch.from_numpy(saved["y_val"]), torch.from_numpy(saved["y_test"])
        last, future = torch.from_numpy(saved["test_last"]), saved["test_future"]
        naive = np.abs(future - last.numpy()[:, None]).sum()
        for z in zs:
            shrink = choose_shrink(codec, y_val, val, "auto", z)
            totals[z][0] += np.abs(codec.decode(y_test, last, shrink=shrink).numpy() - future).sum()
            totals[z][1] += naive
    return {z: (a / b if b else math.nan) for z, (a, b) in totals.items()}


def save_outputs(result: BacktestResult, output_dir: Path, title: str) -> dict[str, Path]:
    """Write `backtest.csv`, `backtest.md` and `backtest.png` into `output_dir`."""
    from closecast.evaluation.plots import backtest_figure

    output_dir = Path(output_dir)
    paths = {
        "csv": output_dir / "backtest.csv",
        "md": output_dir / "backtest.md",
        "png": output_dir / "backtest.png",
    }
    result.table.to_csv(paths["csv"], index=False)
    point = report.backtest_point_markdown(result.table)
    text = f"## {title}\n\n{point}\n\n{report.backtest_point_verdict(result.table)}\n"
    if result.distribution is not None:
        paths["distribution"] = output_dir / "backtest_distribution.csv"
        result.distribution.to_csv(paths["distribution"], index=False)
        rows = result.distribution.to_dict("records")
        verdict = report.backtest_verdict(rows, result.dm_t)
        text += f"\n{report.backtest_markdown(rows)}\n\n{verdict}\n"
    paths["md"].write_text(text)
    fig = backtest_figure(result.forecasts, result.table, title)
    fig.savefig(paths["png"], dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return paths
