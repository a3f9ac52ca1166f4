"""A sweep's study from start to resume: `python train.py -m hparams_search=optuna` as a user runs it (once
in a subprocess, the entry itself; reruns in this process), its storage keys, its export, its errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.trial import TrialState

from hydra_plugins.closecast_sweeper._impl import hydra_quoted
from tests.helpers.sweeps import (
    distinct_params,
    export_here,
    hparams_of,
    hparams_row,
    ok,
    output,
    storage_url,
    study_of,
    sweep,
    sweep_here,
)


@pytest.mark.slow
def test_sweep_publishes_best_and_resumes(tmp_path, capfd):
    proc = ok(sweep(tmp_path, "hydra.sweeper.n_trials=2"))
    study = study_of(storage_url(tmp_path))
    assert [t.number for t in study.trials] == [0, 1]
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert study.metric_names == ["val/loss"]  # what optuna-dashboard shows instead of "Objective 0"
    # Optuna's warnings about the heartbeats our loop uses are known and harmless: not shown.
    assert "ExperimentalWarning" not in output(proc)
    assert "Heartbeat of storage" not in output(proc)
    # Every trial reported its per-epoch validation loss; the objective is the best of them.
    for t in study.trials:
        assert sorted(t.intermediate_values) == [0, 1]
        assert t.value == pytest.approx(min(t.intermediate_values.values()), rel=1e-6)
    best = torch.load(tmp_path / "checkpoints" / "best.pt", weights_only=True)
    assert best["study"]["name"] == "closecast_lstm"
    assert best["study"]["trial"] == study.best_trial.number
    assert best["study"]["values"] == [study.best_value]
    assert best["window"] == study.best_trial.params["data.window"]
    # Published once, at the end, saying which trial and why.
    assert output(proc).count("published trial") == 1
    assert f"published trial {study.best_trial.number} (best val/loss=" in output(proc)
    first = {t.number: (t.params, t.value) for t in study.trials}
    # TensorBoard's HParams tab lists every trial with its parameters and final scores.
    for t in study.trials:
        params, metrics = hparams_of(Path(t.user_attrs["run_dir"]) / "tensorboard")
        assert params["data/window"] == t.params["data.window"]
        assert params["optimizer/lr"] == pytest.approx(t.params["optimizer.lr"])
        assert "val/mae" in metrics and not [m for m in metrics if m.startswith("test/")]  # judged on val
        assert {"val/loss", "val/raw/mae"} <= metrics  # the sweep's objective beside them
        if t.value is not None:  # the row's objective is the kept epoch's, the value the study holds
            assert hparams_row(Path(t.user_attrs["run_dir"]) / "tensorboard")["val/loss"] == pytest.approx(
                t.value
            )
    assert f"trial 2/2 (finished, val/loss={study.trials[1].value:.6g})" in output(proc)

    # The same command with a larger study size: finished trials kept, numbering continues, and the
    # new trial is a new configuration (the rerun's sampler does not start over from the same seed).
    ok(sweep_here(tmp_path, "hydra.sweeper.n_trials=3", capfd=capfd))
    study = study_of(storage_url(tmp_path))
    assert [t.number for t in study.trials] == [0, 1, 2]
    assert {t.number: (t.params, t.value) for t in study.trials if t.number < 2} == first
    assert distinct_params(study.trials), [t.params for t in study.trials]

    # Once the study holds n_trials finished trials, rerunning the command trains and publishes nothing
    # and leaves no empty sweep dir behind.
    (tmp_path / "checkpoints" / "best.pt").unlink()
    sweep_dirs = set((tmp_path / "outputs" / "hpo" / "multiruns").iterdir())
    proc = ok(sweep_here(tmp_path, "hydra.sweeper.n_trials=3", capfd=capfd))
    assert len(study_of(storage_url(tmp_path)).trials) == 3
    assert "3 of 3 trials finished" in output(proc)
    assert "complete (3 of n_trials=3 finished), nothing to run" in output(proc)
    assert set((tmp_path / "outputs" / "hpo" / "multiruns").iterdir()) == sweep_dirs
    assert not (tmp_path / "checkpoints" / "best.pt").exists()
    # ... unless asked to publish.
    ok(sweep_here(tmp_path, "hydra.sweeper.n_trials=3", "hpo.export.publish_on_complete=true", capfd=capfd))
    best = torch.load(tmp_path / "checkpoints" / "best.pt", weights_only=True)
    assert best["study"]["trial"] == study_of(storage_url(tmp_path)).best_trial.number


def test_sweeper_own_storage_keys_reach_the_trials(tmp_path, capfd):
    # The keys every hydra-optuna-sweeper user writes, while hpo.storage still names another database.
    own = f"sqlite:///{tmp_path / 'own.db'}"
    keys = [f"hydra.sweeper.storage={own}", "hydra.sweeper.study_name=own_study"]
    ok(sweep_here(tmp_path, "hydra.sweeper.n_trials=1", *keys, capfd=capfd))
    (trial,) = study_of(own, "own_study").trials
    assert trial.state == TrialState.COMPLETE
    assert sorted(trial.intermediate_values) == [0, 1]  # the trial's callback reported to this study
    assert not (tmp_path / "outputs" / "optuna.db").exists()
    # The export command takes the same keys.
    exported = tmp_path / "exported"
    assert export_here(tmp_path, *keys, f"hpo.export.checkpoints_dir={exported}") == 0
    assert torch.load(exported / "best.pt", weights_only=True)["study"]["name"] == "own_study"


@pytest.mark.parametrize(
    "value",
    [
        "sqlite:////tmp/a b/optuna.db",
        "postgresql://u:p%40ss@127.0.0.1:5432/db?sslmode=disable&application_name=x",
        "study's, (1) = a\\b\\",
    ],
)
def test_jobs_get_the_sweepers_storage_and_study_name_verbatim(value):
    (override,) = OverridesParser.create().parse_overrides([f"++hpo.storage={hydra_quoted(value)}"])
    assert override.value() == value


def test_study_export_help_prints_usage(capsys):
    from closecast.hpo.export import main

    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out, err = capsys.readouterr()
    assert out.startswith("usage: python -m closecast.hpo.export")
    for key in ("hparams_search=", "hpo.storage=", "hpo.study_name=", "hpo.export.selection="):
        assert key in out
    assert err == ""


def test_unreachable_storage_stops_before_training(tmp_path, capfd):
    proc = sweep_here(tmp_path, "hpo.storage=postgresql://someone:secret@127.0.0.1:9/nowhere", capfd=capfd)
    assert proc.returncode != 0
    assert "cannot be reached" in proc.stderr
    assert "secret" not in proc.stderr  # the password is not echoed
    assert not list((tmp_path / "outputs").glob("**/trial_*"))
