"""A sweep on a universe (`python train.py -m hparams_search=optuna_pareto experiment=universe`, with its own
objectives and with scale-free ones): each trial fits one network on every series, its objectives are the
means of the series' own validation scores, and the pick it publishes holds every series and answers each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from optuna.trial import TrialState

from closecast.predict import predict_next_from_values
from tests.helpers.sweeps import ok, storage_url, study_of, sweep_here

STOCKS = ["AAPL", "KO", "MSFT"]
# The search's own objectives, and the scale-free ones the docs give for a universe (FORECAST_QUALITY.md).
SEARCHES = {
    "price_units": (["val/raw/mae", "val/raw/rmse", "val/raw/mape"], "min_mae"),
    "scale_free": (["val/raw/mase", "val/raw/mape"], "min_mase"),
}


@pytest.mark.slow
@pytest.mark.parametrize("search", sorted(SEARCHES))
def test_a_pareto_sweep_on_a_universe_scores_every_series_and_publishes_them_all(search, tmp_path, capfd):
    objectives, selection = SEARCHES[search]
    universe = ["experiment=universe", f"data.tickers=[{','.join(STOCKS)}]", "data.start=2017-01-01"]
    chosen = [
        f"optimized_metric=[{','.join(objectives)}]",
        f"hydra.sweeper.direction=[{','.join(['minimize'] * len(objectives))}]",
        f"hpo.export.selection={selection}",
    ]
    overrides = [*universe, *chosen, "hydra.sweeper.n_trials=2"]
    ok(sweep_here(tmp_path, *overrides, search="optuna_pareto", capfd=capfd))
    study = study_of(storage_url(tmp_path), "closecast_lstm_pareto")
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(done) == 2 and study.metric_names == objectives
    for trial in done:
        metrics = json.loads((Path(trial.user_attrs["run_dir"]) / "metrics.json").read_text())
        for key, value in zip(objectives, trial.values, strict=True):
            # Each objective is the mean over the series of that series' own score, never a pooled mix.
            per_series = [metrics[f"{s}/{key}"] for s in STOCKS]
            assert value == pytest.approx(sum(per_series) / len(per_series), rel=1e-12)
            assert len(set(per_series)) == len(STOCKS)

    pick = torch.load(tmp_path / "checkpoints" / "best_pareto_lstm.pt", weights_only=True)
    assert sorted(pick["series"]) == STOCKS
    first = min(study.best_trials, key=lambda t: (t.values[0], t.number))  # `selection`: min of the first
    assert pick["study"]["trial"] == first.number and pick["study"]["objectives"] == objectives
    values = [100.0 + 0.5 * i + (i % 3) for i in range(60)]
    path = str(tmp_path / "checkpoints" / "best_pareto_lstm.pt")
    answers = {s: predict_next_from_values(values, path, quantiles=[0.05, 0.95], series=s) for s in STOCKS}
    # One network, each series read through its own codec and calibration: the same window gets each
    # series' own spread (the point may be the naive last price for all, where the guard falls back).
    spreads = {s: tuple(q[0] for q in answers[s][1]["quantiles"].values()) for s in STOCKS}
    assert len(set(spreads.values())) == len(STOCKS), spreads
    for s in STOCKS:
        assert answers[s][1]["series"] == s
