"""The pruner stops trials (state PRUNED, nothing evaluated); under DDP its answer stops every rank."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.trial import TrialState

from tests.helpers.sweeps import hparams_of, ok, output, storage_url, study_of, sweep, sweep_here

# A threshold no validation loss can meet: every trial is pruned once the pruner's warm-up is over.
NEVER_GOOD_ENOUGH = [
    "trainer.max_epochs=5",
    "hparams_search/pruner=median",
    "hpo.pruner._target_=optuna.pruners.ThresholdPruner",
    "~hpo.pruner.n_startup_trials",
    "+hpo.pruner.upper=0.000001",
]


@pytest.mark.slow
def test_pruner_stops_trials_and_they_end_pruned(tmp_path, capfd):
    proc = ok(sweep_here(tmp_path, "hydra.sweeper.n_trials=2", *NEVER_GOOD_ENOUGH, pruning=True, capfd=capfd))
    study = study_of(storage_url(tmp_path))
    assert [t.state for t in study.trials] == [TrialState.PRUNED, TrialState.PRUNED]
    for t in study.trials:
        assert sorted(t.intermediate_values) == [0, 1, 2, 3]  # n_warmup_steps=3: pruned at epoch 3
        run = Path(t.user_attrs["run_dir"])
        assert not (run / "model.pt").exists()  # stopped mid-training, nothing evaluated
    assert not (tmp_path / "checkpoints" / "best.pt").exists()
    assert "nothing to export" in output(proc)
    # The sweep says how far it is and how each trial ended, by the metric's name.
    for done, t in enumerate(study.trials, start=1):
        value = t.intermediate_values[3]
        assert f"trial {done}/2 (pruned at epoch 3, val/loss={value:.6g})" in output(proc)
        # A pruned trial has its HParams row too, with the objective it reported.
        params, metrics = hparams_of(Path(t.user_attrs["run_dir"]) / "tensorboard")
        assert params["data/window"] == t.params["data.window"] and {"val/loss", "epochs"} <= metrics


@pytest.mark.slow
def test_pruned_trial_stops_every_ddp_rank(tmp_path):
    # Two CPU ranks; rank 0 asks the pruner, and its answer must reach rank 1, which stops by itself
    # (and says so in its own log) at the same epoch, instead of being left waiting in a collective.
    # DDP starts a process per rank from the command line: this sweep runs in a subprocess.
    ddp = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"]
    ok(sweep(tmp_path, "hydra.sweeper.n_trials=1", *ddp, *NEVER_GOOD_ENOUGH, pruning=True))
    (trial,) = study_of(storage_url(tmp_path)).trials
    assert trial.state == TrialState.PRUNED
    assert sorted(trial.intermediate_values) == [0, 1, 2, 3]  # reported once per epoch, by rank 0 alone
    run = Path(trial.user_attrs["run_dir"])
    logs = {p.name: p.read_text() for p in run.glob("*.log")}
    for rank in (0, 1):
        said = f"rank {rank} stops: trial {trial.number} pruned after epoch 3"
        assert any(said in text for text in logs.values()), {k: v[-2000:] for k, v in logs.items()}
    assert not (run / "model.pt").exists()
