"""A sweep's trials are judged on validation only and say so, a pruned trial reads as pruned, no parameter
set runs twice whatever the sampler, and a study is rerun only with the search space and pruner it has."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides
from omegaconf import OmegaConf
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

from closecast.hpo.sampling import TrialSeededSampler
from closecast.hpo.storage import open_storage
from hydra_plugins.closecast_sweeper._repeats import RepeatedParams, Repeats
from hydra_plugins.closecast_sweeper._results import state_counts, write_results
from hydra_plugins.closecast_sweeper._study import open_study
from tests.helpers.sweeps import ok, storage_url, study_of, sweep_here

SAMPLERS = {
    "nsgaii": (lambda seed: optuna.samplers.NSGAIISampler(seed=seed, population_size=4), 2),
    "tpe": (lambda seed: optuna.samplers.TPESampler(seed=seed), 1),
    "random": (lambda seed: optuna.samplers.RandomSampler(seed=seed), 1),
}


def nine_trials(name: str, repeats: Repeats | None) -> list[optuna.trial.FrozenTrial]:
    """A study of 9 finished trials on a 3 x 3 space of choices, as the sweeper runs it (trial-seeded)."""
    make, objectives = SAMPLERS[name]
    study = optuna.create_study(directions=["minimize"] * objectives, sampler=TrialSeededSampler(make, 0))

    def objective(trial: optuna.Trial):
        a, b = trial.suggest_categorical("a", [1, 2, 3]), trial.suggest_categorical("b", [1, 2, 3])
        if repeats is not None:
            repeats.check(trial)
        return (a * b, a + b)[:objectives] if objectives > 1 else a * b + 0.1 * a

    callbacks = [MaxTrialsCallback(9, states=(TrialState.COMPLETE,))] + ([repeats] if repeats else [])
    study.optimize(objective, catch=(RepeatedParams,), callbacks=callbacks)
    return study.trials


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_no_sampler_runs_a_parameter_set_twice(name):
    plain = [tuple(t.params.values()) for t in nine_trials(name, None)]
    assert len(set(plain)) < len(plain), "the sampler repeats nothing here: the check below proves nothing"
    trials = nine_trials(name, Repeats())
    run = [tuple(sorted(t.params.items())) for t in trials if t.state == TrialState.COMPLETE]
    assert len(run) == 9 and len(set(run)) == 9
    refused = [t for t in trials if t.state == TrialState.FAIL]
    assert all(t.params == trials[t.user_attrs["repeats"]].params for t in refused)


def test_a_sampler_with_nothing_new_left_stops_the_sweep(caplog):
    repeats = Repeats(limit=5)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))

    def one_choice(trial: optuna.Trial) -> float:
        value = float(trial.suggest_categorical("a", [1]))
        repeats.check(trial)
        return value

    study.optimize(one_choice, catch=(RepeatedParams,), callbacks=[repeats], n_trials=100)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] + [TrialState.FAIL] * 5
    assert "no parameter set this sampler has not tried" in caplog.text


def test_the_study_summary_counts_repeated_draws_apart_from_failed_trials(tmp_path, caplog):
    repeats = Repeats()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial: optuna.Trial) -> float:
        value = float(trial.suggest_categorical("a", [1, 2]))
        repeats.check(trial)
        if trial.number == 0:
            raise FloatingPointError("diverged")
        return value

    study.optimize(objective, catch=(RepeatedParams, FloatingPointError), callbacks=[repeats], n_trials=12)
    trials = study.trials
    repeated = sum("repeats" in t.user_attrs for t in trials)
    assert repeated >= 1, "no draw repeated: the count below proves nothing"
    with caplog.at_level("INFO"):
        write_results(study, ["minimize"], tmp_path)
    counts = state_counts(study)
    assert counts["REPEATED"] == repeated
    assert counts["FAIL"] == 1  # trial 0, which ran and failed
    assert counts["COMPLETE"] == sum(t.state == TrialState.COMPLETE for t in trials)
    saved = OmegaConf.load(tmp_path / "optimization_results.yaml")
    assert saved.states.REPEATED == repeated and saved.states.FAIL == 1
    assert f"'FAIL': 1, 'REPEATED': {repeated}" in caplog.text


def open_with(url: str, space: list[str], pruner: dict | None, name: str = "closecast_lstm") -> optuna.Study:
    """`open_study` as a sweep over `space` with `pruner` (its config) opens it."""
    fake = SimpleNamespace(
        storage=url, study_name=name, directions=["minimize"], pruner=None, pruner_spec=pruner, export=None
    )
    return open_study(fake, open_storage(url), None, create_params_from_overrides(space)[0])


def test_a_study_refuses_another_search_space_or_pruner_naming_the_study_to_use(tmp_path):
    url = storage_url(tmp_path)
    median = {"_target_": "optuna.pruners.MedianPruner", "n_startup_trials": 5, "n_warmup_steps": 3}
    space = ["data.window=choice(10,20)", "optimizer.lr=tag(log,interval(0.001,0.01))"]
    open_with(url, space, median)
    again = open_with(url, space, median)  # the same sweep again: its study
    assert again.user_attrs["pruner"] == median
    assert set(again.user_attrs["search_space"]) == {"data.window", "optimizer.lr"}
    grown = [*space, "model.members=choice(1,3,5)"]
    with pytest.raises(
        ValueError, match="was run with another search space .* hpo.study_name=closecast_lstm_"
    ):
        open_with(url, grown, median)
    hyperband = {"_target_": "optuna.pruners.HyperbandPruner", "min_resource": 1}
    with pytest.raises(ValueError, match="was run with another pruner") as err:
        open_with(url, space, hyperband)
    suggested = str(err.value).rsplit("hpo.study_name=", 1)[1]
    assert open_with(url, space, hyperband, name=suggested).study_name == suggested


@pytest.mark.slow
def test_a_trial_shows_validation_only_and_keeps_test_in_metrics_json(tmp_path, capfd):
    proc = ok(sweep_here(tmp_path, "hydra.sweeper.n_trials=1", capfd=capfd))
    (trial,) = study_of(storage_url(tmp_path)).trials
    run = Path(trial.user_attrs["run_dir"])
    shown = proc.stdout + proc.stderr + (run / "train.log").read_text()
    assert "\nval            MAE" in proc.stdout and "validation scores only" in proc.stdout
    assert not [line for line in shown.splitlines() if line.startswith("test")]  # no test table
    assert "coverage on test" not in shown and "test: CRPS" not in shown
    assert "test/mae" in json.loads((run / "metrics.json").read_text())


@pytest.mark.slow
def test_a_pruned_trial_is_logged_as_pruned_not_as_a_failed_job(tmp_path, capfd):
    pruning = ["hparams_search/pruner=median", "hpo.pruner._target_=optuna.pruners.ThresholdPruner"]
    pruning += ["~hpo.pruner.n_startup_trials", "+hpo.pruner.upper=0.000001", "trainer.max_epochs=5"]
    proc = ok(sweep_here(tmp_path, "hydra.sweeper.n_trials=1", *pruning, capfd=capfd, pruning=True))
    (trial,) = study_of(storage_url(tmp_path)).trials
    assert trial.state == TrialState.PRUNED
    log = (Path(trial.user_attrs["run_dir"]) / "train.log").read_text()
    assert "trial 0 pruned after epoch 3" in log
    for said in (log, proc.stdout + proc.stderr):
        assert "Job failed" not in said and "Traceback" not in said and "ERROR" not in said


@pytest.mark.slow
def test_an_nsgaii_study_holds_no_repeated_parameter_set(tmp_path, capfd):
    space = ["hydra.sweeper.params=null", "data.window=choice(10,20)", "model.hidden=choice(4,8)"]
    proc = ok(
        sweep_here(
            tmp_path,
            *space,
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.sampler.population_size=2",
            "trainer.max_epochs=1",
            capfd=capfd,
            search="optuna_pareto",
        )
    )
    trials = study_of(storage_url(tmp_path), "closecast_lstm_pareto").trials
    finished = [tuple(sorted(t.params.items())) for t in trials if t.state == TrialState.COMPLETE]
    assert len(finished) == 4 and len(set(finished)) == 4, [t.params for t in trials]
    assert "Job failed" not in proc.stderr


@pytest.mark.slow
def test_rerunning_a_study_with_another_pruner_is_refused(tmp_path, capfd):
    ok(sweep_here(tmp_path, "hydra.sweeper.n_trials=1", "trainer.max_epochs=1", capfd=capfd))
    again = ["hydra.sweeper.n_trials=1", "trainer.max_epochs=1"]
    proc = sweep_here(tmp_path, *again, capfd=capfd, pruning=True)  # hyperband
    assert proc.returncode != 0
    assert "was run with another pruner" in proc.stderr and "hpo.study_name=closecast_lstm_" in proc.stderr
