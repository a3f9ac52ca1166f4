"""Training runs: config overrides reach the artifact, resume from last.ckpt, the Hydra entry (DDP runs
in test_experiments.py, through its preset)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from closecast.artifacts.schema import FORMAT, load_artifact
from closecast.training.run import objective, train
from tests.helpers.configs import ROOT, TINY, compose_train
from tests.helpers.entries import run_entry


def test_hidden_override_reaches_the_artifact(tmp_path):
    train(compose_train(tmp_path, ["model.hidden=128", "publish=true", "publish_name=big.pt"]))
    artifact = torch.load(tmp_path / "checkpoints" / "big.pt", weights_only=True)
    assert artifact["format"] == FORMAT
    assert artifact["model"]["hidden"] == 128
    assert artifact["state_dict"]["lstm.weight_hh_l0"].shape == (4 * 128, 128)


def test_artifact_is_plain_data_with_the_promised_metadata(tiny_run):
    tmp_path, metrics = tiny_run
    artifact = load_artifact(tmp_path / "run" / "model.pt")
    assert list(artifact["series"]) == ["AAPL"]  # a universe of one
    record = artifact["series"]["AAPL"]
    assert record["data"]["ticker"] == "AAPL" and record["data"]["feature"] == "Adj Close"
    assert artifact["window"] == 10 and artifact["horizon"] == 1
    assert record["data"]["start"] == "2009-01-02" and record["data"]["end"] == "2013-03-01"
    codec = record["codec"]
    assert codec["target"] == "return" and codec["std"] > 0 and "shrink" not in codec
    assert record["calibration"]["shrink"] == metrics["shrink"] and 0 <= metrics["shrink"] <= 1
    assert artifact["metrics"]["test/mase"] == pytest.approx(metrics["test/mase"])
    assert record["metrics"]["test/mase"] == pytest.approx(metrics["test/mase"])
    assert {"torch", "closecast", "python"} <= set(artifact["versions"])
    # The published copy is byte-identical to the run's artifact.
    assert (tmp_path / "checkpoints" / "best.pt").read_bytes() == (tmp_path / "run" / "model.pt").read_bytes()


def test_naive_baseline_scores_match_a_direct_computation(tiny_run):
    _, metrics = tiny_run
    from tests.helpers.series import one_series

    dm = one_series(source="sample", ticker="AAPL", start="2009-01-01", window=10)
    dm.setup()
    test = dm.parts["test"]
    err = (test.future[:, 0] - test.last).abs()
    assert metrics["test/naive/mae"] == pytest.approx(float(err.mean()), rel=1e-9)
    assert metrics["test/naive/mase"] == 1.0


def test_resume_from_last_checkpoint_continues_training(tmp_path):
    first = compose_train(tmp_path / "a", ["trainer.max_epochs=2", "callbacks.early_stopping=null"])
    train(first)
    last = tmp_path / "a" / "run" / "checkpoints" / "last.ckpt"
    saved = torch.load(last, weights_only=False)
    assert saved["epoch"] == 1
    resumed = compose_train(
        tmp_path / "b", ["trainer.max_epochs=4", "callbacks.early_stopping=null", f"ckpt_path={last}"]
    )
    metrics = train(resumed)
    # The resumed run goes on in its own checkpoint folder; the first run's stays as it was.
    assert torch.load(last, weights_only=False)["epoch"] == 1
    after = torch.load(tmp_path / "b" / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert after["epoch"] == 3
    assert after["global_step"] == 2 * saved["global_step"], "resumed run continues the step count"
    assert metrics["epochs"] == 4


def test_last_checkpoint_is_the_last_epoch_and_resuming_keeps_the_best(tmp_path):
    # lr=0: the weights never change, so val/loss never improves on epoch 0's.
    frozen = ["optimizer.lr=0.0", "callbacks.early_stopping=null"]
    first = train(compose_train(tmp_path / "a", ["trainer.max_epochs=3", *frozen]))
    folder = tmp_path / "a" / "run" / "checkpoints"
    assert torch.load(folder / "last.ckpt", weights_only=False)["epoch"] == 2
    assert sorted(p.name for p in folder.glob("*.ckpt")) == ["epoch000.ckpt", "last.ckpt"]

    resumed = ["trainer.max_epochs=5", *frozen, f"ckpt_path={folder / 'last.ckpt'}"]
    metrics = train(compose_train(tmp_path / "b", resumed))
    own = tmp_path / "b" / "run" / "checkpoints"
    assert torch.load(own / "last.ckpt", weights_only=False)["epoch"] == 4
    assert torch.load(folder / "last.ckpt", weights_only=False)["epoch"] == 2  # the first run's, untouched
    assert metrics["epochs"] == 5
    # No epoch after the resume beat epoch 0: it is still the kept one, with its score.
    assert sorted(p.name for p in own.glob("*.ckpt")) == ["epoch000.ckpt", "last.ckpt"]
    assert metrics["val/loss"] == first["val/loss"]
    assert load_artifact(tmp_path / "b" / "run" / "model.pt")["metrics"]["val/loss"] == first["val/loss"]


def test_objective_fails_loudly_on_an_unknown_metric():
    assert objective({"val/mae": 1.5}, "val/mae") == 1.5
    assert objective({"val/mae": 1.5, "val/rmse": 2.0}, ["val/mae", "val/rmse"]) == (1.5, 2.0)
    with pytest.raises(KeyError, match="val/maee"):
        objective({"val/mae": 1.5}, "val/maee")


def _entry_command(args: list[str], tmp_path: Path) -> list[str]:
    overrides = [f"paths.log_dir={tmp_path / 'outputs'}", f"paths.checkpoints_dir={tmp_path / 'ckpts'}"]
    return [*TINY, *overrides, *args]


@pytest.mark.slow  # the entry started as a user starts it: a subprocess each
def test_hydra_entry_writes_a_run_dir_publishes_and_prints_no_warning(tmp_path):
    # The entry itself, as a user starts it; warnings shown as Python shows them by default.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": "default"}
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            *_entry_command(["model.hidden=16", "publish=true"], tmp_path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = list((tmp_path / "outputs" / "train" / "runs").iterdir())
    assert len(runs) == 1
    run = runs[0]
    assert (run / ".hydra" / "config.yaml").exists()
    assert json.loads((run / "metrics.json").read_text())["test/mase"] > 0
    assert load_artifact(tmp_path / "ckpts" / "best.pt")["model"]["hidden"] == 16
    assert "naive" in proc.stdout and "published:" in proc.stdout
    # No warning a user cannot act on.
    noise = [line for line in proc.stderr.splitlines() if re.search(r"warn|deprecat", line, flags=re.I)]
    assert not noise, noise


def test_hydra_entry_rejects_an_unknown_ticker_with_a_clear_message(tmp_path, capfd):
    proc = run_entry("train.py", *_entry_command(["data.ticker=NOPE"], tmp_path), cwd=ROOT, capfd=capfd)
    assert proc.returncode == 2
    assert "error: ticker 'NOPE' is not in the bundled sample" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_threads_setting_applies_during_training_and_is_restored(tmp_path):
    import pytorch_lightning as pl

    seen = []

    class Record(pl.Callback):
        def on_train_start(self, trainer, pl_module):
            seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        train(compose_train(tmp_path, ["threads=1", "trainer.max_epochs=1"]), extra_callbacks=[Record()])
        assert seen == [1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_metrics_json_is_strict_json_with_null_for_non_finite_numbers():
    from closecast.training.run import metrics_json

    text = metrics_json({"test/mase": float("nan"), "val/mape": float("inf"), "val/mae": 1.5})

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    assert json.loads(text, parse_constant=refuse) == {"test/mase": None, "val/mape": None, "val/mae": 1.5}


def test_plots_false_draws_no_figures_and_says_so(tmp_path, capsys):
    train(compose_train(tmp_path, ["plots=false"]))
    assert not list((tmp_path / "run").glob("*.png"))
    assert "plots:    none (plots=false)" in capsys.readouterr().out
