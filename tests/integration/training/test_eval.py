"""`eval.py`: a published artifact scored on any source without refitting its network, through the
finishing step a training run uses."""

from __future__ import annotations

import json
import math

import pytest

from closecast.training.evaluate import evaluate
from tests.helpers.configs import ROOT, compose_train
from tests.helpers.entries import run_entry


def test_eval_on_the_training_data_gives_the_training_runs_test_scores(tiny_run, trained_artifact, tmp_path):
    cfg = compose_train(tmp_path, [f"artifact={trained_artifact}"], config_name="eval")
    metrics = evaluate(cfg)
    trained = tiny_run[1]
    test_keys = [k for k in trained if k.startswith("test/")]
    assert len(test_keys) > 20
    for key in test_keys:
        a, b = metrics[key], trained[key]
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-6), key
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["test/mase"] == pytest.approx(trained["test/mase"], abs=1e-6)


def test_eval_scores_the_published_model_on_another_ticker(trained_artifact, tmp_path, capfd):
    cfg = compose_train(tmp_path, [f"artifact={trained_artifact}", "data.ticker=MSFT"], config_name="eval")
    metrics = evaluate(cfg)
    out = capfd.readouterr().out
    assert metrics["test/mase"] > 0 and "MSFT" in out and "without refitting" in out
    assert "naive" in out  # the same tables a training run prints


def test_eval_entry_without_an_artifact_says_how_to_get_one(tmp_path, capfd):
    args = [f"paths.log_dir={tmp_path}", f"artifact={tmp_path / 'none.pt'}"]
    proc = run_entry("eval.py", *args, cwd=ROOT, capfd=capfd)
    assert proc.returncode == 2 and "none.pt' does not exist; train and publish one" in proc.stderr
    assert "Traceback" not in proc.stderr
