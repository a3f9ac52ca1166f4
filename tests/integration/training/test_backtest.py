"""Walk-forward backtest: fold layout, no leakage from a fold's test block, and the full Hydra entry."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from closecast.data.splits import walk_forward_splits
from closecast.errors import DataError
from closecast.evaluation.assessment import assess
from closecast.evaluation.baselines import STRONG, baseline_names
from closecast.evaluation.report import backtest_point_markdown
from closecast.training.backtest import (
    fold_config,
    fold_datamodule,
    guard_study,
    only_series,
    run_backtest,
    save_outputs,
)
from closecast.training.trainer import build, fit_network
from tests.helpers.configs import ROOT, TINY, compose_train

SHIFT = 1e6  # far outside any price the bundled series ever had
# The shared tiny run, deterministic, with a two-fold backtest of two epochs per fold.
BACKTEST_TINY = ["trainer.deterministic=true", "backtest.folds=2", "backtest.epochs=2"]


def compose_backtest(tmp_path: Path, overrides: list[str] | tuple[str, ...] = ()):
    """The `backtest` config, tiny, writing into `tmp_path`."""
    return compose_train(tmp_path, [*BACKTEST_TINY, *overrides], config_name="backtest")


def test_folds_expand_and_tile_the_test_region():
    splits = walk_forward_splits(1000, folds=4, test_frac=0.3, train_frac=0.7, val_frac=0.15)
    starts = [s.n_train + s.n_val for s in splits]
    assert starts[0] == 700
    for before, after in zip(splits, splits[1:], strict=False):
        # The next fold's history ends exactly where this fold's test block ended.
        assert after.n_train + after.n_val == before.n_train + before.n_val + before.n_test
        assert after.n_train > before.n_train
    last = splits[-1]
    assert last.n_train + last.n_val + last.n_test == 1000
    assert sum(s.n_test for s in splits) == 300
    for s in splits:  # validation keeps the configured proportion of the history
        assert s.n_val == int((s.n_train + s.n_val) * 0.15 / 0.85)
    with pytest.raises(DataError, match="backtest.folds"):
        walk_forward_splits(1000, folds=0, test_frac=0.3, train_frac=0.7, val_frac=0.15)


def _shifted(series: pd.Series, start: int) -> pd.Series:
    moved = series.copy()
    moved.iloc[start:] += SHIFT
    return moved


def test_a_shifted_test_block_moves_neither_scaler_nor_train_or_val_windows(tmp_path):
    cfg = fold_config(compose_backtest(tmp_path, ["backtest.folds=3"]))
    series = only_series(build(cfg.data)).load_series()
    splits = walk_forward_splits(len(series), 3, 0.3, cfg.data.train_frac, cfg.data.val_frac)
    for split in splits:
        test_start = split.n_train + split.n_val
        clean = only_series(fold_datamodule(cfg, series, split))
        moved = only_series(fold_datamodule(cfg, _shifted(series, test_start), split))
        assert clean.codec.to_dict() == moved.codec.to_dict()
        for part in ("train", "val"):
            for name in ("x", "y", "last", "future"):
                assert torch.equal(getattr(clean.parts[part], name)[:], getattr(moved.parts[part], name)[:])
        # The shift really is in the fold's test block (so the test above could fail).
        assert float(moved.parts["test"].future.min()) > SHIFT
        # A shift reaching back into the training part does move the scaler: the check can fail.
        leaky = only_series(fold_datamodule(cfg, _shifted(series, split.n_train - 1), split))
        assert leaky.codec.to_dict() != clean.codec.to_dict()


def test_a_shifted_test_block_changes_nothing_the_fold_learns(tmp_path):
    cfg = fold_config(compose_backtest(tmp_path, ["backtest.folds=2", "backtest.epochs=2"]))
    series = only_series(build(cfg.data)).load_series()
    split = walk_forward_splits(len(series), 2, 0.3, cfg.data.train_frac, cfg.data.val_frac)[0]
    outcomes = []
    for k, s in enumerate((series, _shifted(series, split.n_train + split.n_val))):
        torch.manual_seed(cfg.seed)
        datamodule = fold_datamodule(cfg, s, split)
        fitted = fit_network(cfg, datamodule, tmp_path / f"fold{k}")
        result = assess(cfg, datamodule.codec, fitted.net, only_series(datamodule).parts)
        outcomes.append((fitted, result))
    (a, ra), (b, rb) = outcomes
    assert a.trainer.current_epoch == b.trainer.current_epoch  # early stopping saw the same validation
    for name, tensor in a.net.state_dict().items():
        assert torch.equal(tensor, b.net.state_dict()[name]), name
    assert ra.metrics["shrink"] == rb.metrics["shrink"]
    torch.testing.assert_close(ra.calibration.residuals, rb.calibration.residuals, rtol=0, atol=0)
    val_keys = [k for k in ra.metrics if k.startswith("val/")]
    assert val_keys and all(ra.metrics[k] == rb.metrics[k] for k in val_keys)
    # Only the test scores differ: the shifted block is scored, never learned from.
    assert ra.metrics["test/mae"] != rb.metrics["test/mae"]


@pytest.mark.slow
def test_backtest_writes_table_plot_and_markdown(tmp_path):
    cfg = compose_backtest(tmp_path, ["data.horizon=2"])
    result = run_backtest(cfg, tmp_path / "run")
    table = result.table
    assert set(table.method) == {"model", "naive", "drift"}
    assert list(dict.fromkeys(table.fold)) == ["1", "2", "all"]
    assert len(table) == 9
    assert (table[table.method == "naive"].mase == 1.0).all()
    folds = table[(table.fold != "all") & (table.method == "model")]
    assert (folds.test_start < folds.test_end).all()
    assert table[table.method == "model"].coverage.between(0, 1).all()
    paths = save_outputs(result, tmp_path / "run", "AAPL")
    assert pd.read_csv(paths["csv"]).shape == table.shape
    assert paths["png"].stat().st_size > 10_000
    assert backtest_point_markdown(table) in paths["md"].read_text()
    assert sum(f.actual.shape[0] for f in result.forecasts) == int(table[table.fold == "all"].samples.iloc[0])
    assert all(f.actual.shape[1] == 2 for f in result.forecasts)
    # Replaying the saved fold outputs under the configured guard reproduces the pooled model score.
    study = guard_study(tmp_path / "run", (0.0, float(cfg.calibration.min_gain_z)))
    pooled = float(table[(table.fold == "all") & (table.method == "model")].mase.iloc[0])
    assert study[float(cfg.calibration.min_gain_z)] == pytest.approx(pooled, rel=1e-9)
    # Distribution scores per fold and pooled, for the model, every volatility baseline and each fold's
    # reference (the strong baseline chosen on that fold's validation part).
    dist = result.distribution
    methods = {"model", "reference", *baseline_names(cfg.baselines.refit_every)}  # closes only: no range ones
    assert set(dist.method) == methods and len(dist) == 3 * len(methods)
    assert np.isfinite(dist[["crps", "raw_crps", "skill", "coverage_90", "winkler_90"]].to_numpy()).all()
    refs = dist[dist.method == "reference"]
    for row in refs[refs.fold != "all"].itertuples():
        chosen = dist[(dist.fold == row.fold) & (dist.method == row.chosen)].iloc[0]
        assert row.chosen in STRONG and row.crps == chosen.crps
    assert np.isfinite(result.dm_t)
    pooled_rows = dist[dist.fold == "all"].set_index("method")
    folds_rows = dist[(dist.fold != "all") & (dist.method == "garch")]
    weighted = (folds_rows.crps * folds_rows.samples).sum() / folds_rows.samples.sum()
    assert pooled_rows.loc["garch", "crps"] == pytest.approx(weighted)
    text = paths["md"].read_text()
    assert (
        "reference baseline chosen on each fold's validation part" in text and paths["distribution"].is_file()
    )


@pytest.mark.slow
def test_backtest_hydra_entry_runs_from_the_command_line(tmp_path):
    out = tmp_path / "bt"
    # Any daily series in Yahoo's CSV layout: here a copy of a bundled file read through data.source=csv.
    csv = tmp_path / "prices.csv"
    csv.write_text((ROOT / "data" / "sample" / "MSFT.csv").read_text())
    overrides = [o for o in [*TINY, *BACKTEST_TINY] if not o.startswith(("backtest.folds", "data.ticker"))]
    overrides += ["backtest.folds=2", "data.source=csv", f"data.path={csv}"]
    proc = subprocess.run(
        [sys.executable, "backtest.py", f"hydra.run.dir={out}", *overrides],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| all |" in proc.stdout and "Overall MASE" in proc.stdout
    assert f"{csv} walk-forward backtest" in proc.stdout
    table = pd.read_csv(out / "backtest.csv")
    assert set(table.method) == {"model", "naive", "drift"}
    assert (out / "backtest.png").exists() and (out / "backtest.md").exists()
