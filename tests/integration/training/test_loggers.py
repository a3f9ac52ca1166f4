"""Each logger a run can choose (`logger=csv|mlflow|tensorboard|null`), read back as its own tools read it;
the TensorBoard run is the session's tiny run, read from its event files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from closecast.config import groups_set_to_null
from tests.helpers.configs import ROOT, TINY
from tests.helpers.entries import run_entry


def _train(tmp_path: Path, logger: str, capfd) -> Path:
    """`python train.py logger=<logger>` (one tiny epoch) in this process; its run dir."""
    paths = [f"paths.log_dir={tmp_path / 'outputs'}", f"paths.checkpoints_dir={tmp_path / 'ckpts'}"]
    args = [*TINY, "trainer.max_epochs=1", f"logger={logger}", *paths]
    proc = run_entry("train.py", *args, cwd=ROOT, capfd=capfd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    (run,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    return run


def _csv(run: Path, metrics: dict[str, float]) -> None:
    with (run / "csv" / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [float(r["val/loss"]) for r in rows if r["val/loss"]][0] == pytest.approx(metrics["val/loss"])
    (end,) = [r for r in rows if r["test/mae"]]  # the end-of-run scores, once
    assert float(end["test/mae"]) == pytest.approx(metrics["test/mae"])
    assert yaml.safe_load((run / "csv" / "hparams.yaml").read_text())["model"]["hidden"] == 8


def _mlflow(run: Path, metrics: dict[str, float]) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{run.parents[2] / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("train")
    (logged,) = client.search_runs([experiment.experiment_id])
    assert logged.info.run_name == run.name and logged.info.status == "FINISHED"
    assert logged.data.params["model/hidden"] == "8"
    assert logged.data.metrics["test/mae"] == pytest.approx(metrics["test/mae"])
    (point,) = client.get_metric_history(logged.info.run_id, "val/loss")  # one epoch, one point
    assert point.value == pytest.approx(metrics["val/loss"])


def _none(run: Path, metrics: dict[str, float]) -> None:
    assert not [p for p in run.iterdir() if p.name in ("tensorboard", "csv", "lightning_logs")]


CHECKS = {"csv": _csv, "mlflow": _mlflow, "null": _none}


@pytest.mark.parametrize(
    "logger",
    ["csv", pytest.param("mlflow", marks=pytest.mark.slow), "null"],  # mlflow: creating its store is slow
)
def test_a_run_logs_to_the_logger_it_names_and_writes_metrics_json(logger, tmp_path, capfd):
    run = _train(tmp_path, logger, capfd)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test/mae"] > 0
    CHECKS[logger](run, metrics)


def test_a_group_set_to_null_on_the_command_line_is_removed_as_hydra_removes_one():
    assert groups_set_to_null(["logger=null", "callbacks=null", "seed=null", "data.ticker=MSFT"]) == [
        "~logger",
        "~callbacks",
        "seed=null",  # a plain key, not a group: null is its value
        "data.ticker=MSFT",
    ]


def test_tensorboard_keeps_curves_as_scalars_and_end_of_run_scores_in_the_hparams_row(tiny_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from closecast.evaluation.assessment import EPOCH_METRICS
    from tests.helpers.sweeps import hparams_of

    tmp, metrics = tiny_run
    board = tmp / "run" / "tensorboard"
    params, names = hparams_of(board)
    assert params["model/hidden"] == 8 and params["data/window"] == 10 and params["optimizer/lr"] == 0.001
    # The row holds the final scores and the sweep's objectives (the curves' last points).
    assert {"val/mae", "val/mase", "test/mae", "test/mase", "test/coverage", "shrink", "epochs"} <= names
    assert {"val/loss", "val/raw/mae", "val/raw/rmse"} <= names

    events = EventAccumulator(str(board), size_guidance={"scalars": 0})
    events.Reload()
    scalars = {tag: events.Scalars(tag) for tag in events.Tags()["scalars"] if tag != "epoch"}
    epochs = int(metrics["epochs"])
    assert [len(scalars[t]) for t in ("val/loss", "val/raw/mae", "train/loss")] == [epochs] * 3
    # An end-of-run score is one point, for the row, only when the row shows it: no other one-point tags
    # (every baseline's every score is in metrics.json, not on the board).
    ends = {tag for tag in scalars if tag not in EPOCH_METRICS}
    assert ends <= names and len(ends) < 25 and "test/garch/crps" not in scalars
    assert scalars["val/mae"][0].value == pytest.approx(metrics["val/mae"])
    for tag, points in scalars.items():
        steps = [p.step for p in points]
        assert steps == sorted(set(steps)), f"{tag} logged twice at one step"


@pytest.mark.slow  # a training run of its own
def test_hparams_row_shows_the_kept_epoch_not_the_last(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from closecast.training.run import objective, train
    from tests.helpers.configs import compose_train
    from tests.helpers.sweeps import hparams_row

    # A high learning rate: validation loss rises in the last epoch, so the kept epoch is an earlier one.
    metrics = train(compose_train(tmp_path, ["trainer.max_epochs=4", "optimizer.lr=0.1"]))
    board = tmp_path / "run" / "tensorboard"
    curves = EventAccumulator(str(board))
    curves.Reload()
    val_loss = [p.value for p in curves.Scalars("val/loss")]
    assert len(val_loss) == 4 and min(val_loss) < val_loss[-1], "the last epoch must not be the kept one"
    kept = val_loss.index(min(val_loss))
    # metrics.json, the sweep's objective and the checkpointed epoch agree.
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["val/loss"] == pytest.approx(min(val_loss)) == objective(metrics, "val/loss")
    assert saved["val/raw/mae"] == pytest.approx(curves.Scalars("val/raw/mae")[kept].value, rel=1e-5)
    row = hparams_row(board)
    assert row["val/loss"] == pytest.approx(saved["val/loss"])
    assert row["val/raw/mae"] == pytest.approx(saved["val/raw/mae"])
    assert row["val/mae"] == pytest.approx(saved["val/mae"])  # an end-of-run score, as before
