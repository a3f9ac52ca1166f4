"""`eval.py normalize=window`: series the network never saw, scored as `/predict` answers them with
`normalize: "window"`, beside each series' own baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from closecast.artifacts.schema import load_artifact
from closecast.distributions.served import served_quantiles
from closecast.errors import DataError
from closecast.evaluation.distribution_scores import GRID, grid_scores, outcome
from closecast.inference.forecaster import Forecaster
from closecast.inference.series import min_history
from closecast.training.evaluate import evaluate
from closecast.training.run import train
from closecast.training.trainer import build
from closecast.training.unseen import request_length, unseen_forecasts, window_requests
from tests.helpers.configs import compose_train

LEVELS = [0.05, 0.5, 0.95]


@pytest.fixture(scope="module")
def three_series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny pooled artifact trained on AAPL, GOOG and IBM (MSFT never seen)."""
    tmp = tmp_path_factory.mktemp("three")
    train(compose_train(tmp, ["data.tickers=[AAPL,GOOG,IBM]", "trainer.max_epochs=1", "publish=true"]))
    return tmp / "checkpoints" / "best.pt"


@pytest.mark.slow
def test_an_unseen_series_is_scored_on_what_predict_answers_for_its_windows(three_series, tmp_path, capfd):
    overrides = [f"artifact={three_series}", "data.ticker=MSFT", "normalize=window"]
    cfg = compose_train(tmp_path, overrides, config_name="eval")
    metrics = evaluate(cfg)
    out = capfd.readouterr().out
    assert "normalize=window" in out and "test: served CRPS" in out and "DM t =" in out
    assert {"test/served/vs_reference", "test/served/dm_t", "test/served/in_mcs"} <= set(metrics)
    assert metrics["served/weight"] == 1.0 and metrics["recalibrated"] == 0.0

    forecaster = Forecaster(load_artifact(three_series))
    datamodule = build(cfg.data)
    datamodule.setup("test")
    member = datamodule.members["MSFT"]
    test = member.parts["test"]
    items = window_requests(member, test, request_length(cfg, forecaster.window))
    assert {len(item.values) for item in items} == {min_history(forecaster.window)}
    point, served = unseen_forecasts(forecaster, items)
    grid = served_quantiles(served, GRID)
    # The scored test CRPS is that of these quantiles: the windows' answers are what is scored.
    y = outcome(test.last.numpy(), test.future.numpy())
    assert grid_scores(y, grid, "s")[0]["s/crps"] == pytest.approx(metrics["test/served/crps"], rel=1e-12)
    levels = [GRID.index(a) for a in LEVELS]
    for i in (0, len(items) // 2, len(items) - 1):  # a few test windows replayed one request each
        answer = forecaster.predict(items[i].values, quantiles=LEVELS, normalize="window")
        assert answer["normalize"] == "window" and answer["series"] is None
        assert answer["prediction"] == pytest.approx(point[i, 0], rel=1e-6)
        scored = float(test.last[i]) * np.exp(grid[i, 0, levels])
        got = [answer["quantiles"][k][0] for k in answer["quantiles"]]
        assert got == pytest.approx(scored.tolist(), rel=1e-6)


def test_a_request_history_below_what_predict_accepts_says_the_least(tmp_path):
    cfg = compose_train(tmp_path, ["request_history=30"], config_name="eval")
    with pytest.raises(DataError, match="request_history=30: .* at least 40 prices"):
        request_length(cfg, 10)
    cfg = compose_train(tmp_path, ["request_history=50"], config_name="eval")
    assert request_length(cfg, 10) == 50


def test_eval_refuses_an_unknown_normalize(tmp_path):
    cfg = compose_train(tmp_path, ["normalize=own"], config_name="eval")
    with pytest.raises(DataError, match="normalize=own: use normalize=codec .* or normalize=window"):
        evaluate(cfg)
