"""A multi-objective sweep (`hparams_search=optuna_pareto`): its front, the pick it publishes, re-picks."""

from __future__ import annotations

import csv
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

from closecast.hpo.export import ExportError, select_pareto
from tests.helpers.sweeps import export_here, ok, output, storage_url, study_of, sweep_here

OBJECTIVES = ["val/raw/mae", "val/raw/rmse", "val/raw/mape"]


@pytest.mark.slow
def test_pareto_sweep_writes_front_and_exports_pick(tmp_path, capfd):
    proc = ok(sweep_here(tmp_path, "hydra.sweeper.n_trials=3", search="optuna_pareto", capfd=capfd))
    url = storage_url(tmp_path)
    study = study_of(url, "closecast_lstm_pareto")
    assert len(study.trials) == 3 and all(t.state == TrialState.COMPLETE for t in study.trials)
    assert study.metric_names == OBJECTIVES
    (table,) = (tmp_path / "outputs" / "hpo" / "multiruns").glob("*/pareto.csv")
    rows = list(csv.DictReader(table.open()))
    assert {int(r["trial"]) for r in rows} == {t.number for t in study.best_trials}
    for row in rows:
        assert Path(row["artifact"]).exists()
        assert {*OBJECTIVES, "data.window", "optimizer.lr"} <= set(row)
    (picked,) = [r for r in rows if r["selected"] == "1"]
    assert float(picked["val/raw/mae"]) == min(float(r["val/raw/mae"]) for r in rows)
    said = f"published trial {picked['trial']} (hpo.export.selection=min_mae on a Pareto front"
    assert said in output(proc)
    pick = torch.load(tmp_path / "checkpoints" / "best_pareto_lstm.pt", weights_only=True)
    assert pick["study"]["trial"] == int(picked["trial"])
    assert pick["study"]["objectives"] == OBJECTIVES
    assert pick["study"]["values"] == pytest.approx([float(picked[k]) for k in OBJECTIVES])

    # Re-pick from the stored study without training.
    assert export_here(tmp_path, "hpo.export.selection=min_rmse", search="optuna_pareto") == 0
    best_rmse = min(rows, key=lambda r: float(r["val/raw/rmse"]))
    again = torch.load(tmp_path / "checkpoints" / "best_pareto_lstm.pt", weights_only=True)
    assert again["study"]["trial"] == int(best_rmse["trial"])
    assert again["study"]["selection"] == "min_rmse"
    assert len(study_of(url, "closecast_lstm_pareto").trials) == 3


def test_pareto_objectives_differ_between_networks(tmp_path):
    """Two trials with different networks must get different objective values: the objectives are the
    networks' own validation forecasts, not the served ones after the fall-back to naive."""
    from closecast.training.run import objective, train
    from tests.helpers.configs import compose_train

    values = []
    for hidden in (4, 24):
        cfg = compose_train(tmp_path / str(hidden), [f"model.hidden={hidden}", "publish=false"])
        cfg_pareto = compose_train(tmp_path / str(hidden), ["hparams_search=optuna_pareto"])
        assert list(cfg_pareto.optimized_metric) == OBJECTIVES
        values.append(objective(train(cfg), list(cfg_pareto.optimized_metric)))
    assert all(v > 0 for v in values[0] + values[1])
    assert values[0] != values[1]


def frozen(number: int, values: list[float]) -> optuna.trial.FrozenTrial:
    trial = optuna.trial.create_trial(values=values, params={}, distributions={})
    trial.number = number
    return trial


@pytest.mark.parametrize("names", [["val/mae", "val/rmse", "val/mape"], OBJECTIVES])
def test_pareto_selection_rules(names):
    front = [frozen(0, [1.0, 9.0, 5.0]), frozen(1, [2.0, 3.0, 0.4]), frozen(2, [3.0, 2.0, 0.5])]
    assert select_pareto(front, names, "min_mae").number == 0
    assert select_pareto(front, names, "min_rmse").number == 2
    assert select_pareto(front, names, "min_mape").number == 1
    # Scaled to [0, 1] per objective: trial 1 is (0.5, 1/7, 0), the lowest sum.
    assert select_pareto(front, names, "weighted", {"mae": 1, "rmse": 1, "mape": 1}).number == 1
    assert select_pareto(front, names, "weighted", {"mae": 10, "rmse": 1, "mape": 1}).number == 0
    with pytest.raises(ExportError, match="not one of"):
        select_pareto(front, names, "best")
    with pytest.raises(ExportError, match="weights"):
        select_pareto(front, names, "weighted", {"smape": 1})
    with pytest.raises(ExportError, match="needs an objective named 'mase'"):
        select_pareto(front, names, "min_mase")


def test_any_objective_can_be_the_pick_as_a_universe_sweep_needs():
    names = ["val/raw/mase", "val/raw/mape"]  # scale-free: every series of a universe weighs alike
    front = [frozen(0, [0.99, 0.92]), frozen(1, [0.98, 0.95])]
    assert select_pareto(front, names, "min_mase").number == 1
    assert select_pareto(front, names, "min_mape").number == 0
    with pytest.raises(ExportError, match=r"not one of \['min_mase', 'min_mape', 'weighted'\]"):
        select_pareto(front, names, "lowest")
