"""The line a sweep logs as each trial ends: how far the study is, how the trial ended, values by name."""

from __future__ import annotations

import logging

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from closecast.hpo.progress import TrialProgress, trial_line

NAMES = ["val/loss"]


def test_a_finished_trial_names_its_objectives():
    trial = create_trial(value=0.6871234, state=TrialState.COMPLETE)
    assert trial_line(trial, 13, 20, NAMES, "val/loss") == "trial 13/20 (finished, val/loss=0.687123)"
    pareto = create_trial(values=[1.5, 2.25], state=TrialState.COMPLETE)
    assert trial_line(pareto, 2, 4, ["val/mae", "val/rmse"], "val/loss") == (
        "trial 2/4 (finished, val/mae=1.5, val/rmse=2.25)"
    )


def test_a_pruned_trial_says_at_which_epoch_and_its_last_value():
    trial = create_trial(state=TrialState.PRUNED, intermediate_values={0: 0.9, 1: 0.8, 2: 0.75, 3: 0.687})
    assert trial_line(trial, 13, 20, NAMES, "val/loss") == "trial 13/20 (pruned at epoch 3, val/loss=0.687)"
    early = create_trial(state=TrialState.PRUNED)
    assert trial_line(early, 1, 20, NAMES, "val/loss") == "trial 1/20 (pruned before its first epoch)"


def test_a_failed_trial_is_not_counted_and_a_refused_repeat_says_nothing():
    study = optuna.create_study()
    study.add_trial(create_trial(state=TrialState.FAIL))
    (failed,) = study.trials
    line = trial_line(failed, 4, 20, NAMES, "val/loss")
    assert line.startswith("trial 0 failed, not counted (4/20 finished)")
    repeat = create_trial(state=TrialState.FAIL, user_attrs={"repeats": 2})
    assert trial_line(repeat, 4, 20, NAMES, "val/loss") is None


def test_the_callback_counts_the_studys_finished_trials(caplog):
    study = optuna.create_study()
    study.set_metric_names(NAMES)
    space = {"x": FloatDistribution(0, 1)}
    for state, value in ((TrialState.COMPLETE, 0.5), (TrialState.PRUNED, None)):
        study.add_trial(create_trial(state=state, value=value, params={"x": 0.1}, distributions=space))
    with caplog.at_level(logging.INFO, logger="closecast.hpo.progress"):
        TrialProgress(n_trials=5)(study, study.trials[-1])
    said = [r.message for r in caplog.records if r.name == "closecast.hpo.progress"]
    assert said == ["trial 2/5 (pruned before its first epoch)"]
