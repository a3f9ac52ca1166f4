"""Hyperparameter search end to end: real `python train.py -m` sweeps on real SQLite/PostgreSQL studies."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides
from optuna.trial import TrialState

from closecast.hpo.export import ExportError, select_pareto
from closecast.hpo.sampling import TrialSeededSampler
from closecast.hpo.storage import fail_orphaned_trials, open_storage
from hydra_plugins.closecast_sweeper._impl import hydra_quoted, suggest
from tests.helpers.configs import ROOT
from tests.helpers.sweeps import TINY_SWEEP, ok, storage_url, study_of, sweep


# Tiny trials: the shared tiny run with a two-value search space instead of a fixed window.
def output(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def hparams_of(logdir: Path) -> tuple[dict[str, object], set[str]]:
    """The hyperparameters and metric names a run shows in TensorBoard's HParams tab (its event files)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    events = EventAccumulator(str(logdir))
    events.Reload()
    data = [
        plugin_data_pb2.HParamsPluginData.FromString(raw)
        for raw in events.PluginTagToContent("hparams").values()
    ]
    start = next(d.session_start_info for d in data if d.HasField("session_start_info"))
    params = {
        k: v.number_value if v.HasField("number_value") else v.string_value for k, v in start.hparams.items()
    }
    shown = next(d.experiment for d in data if d.HasField("experiment"))
    return params, {m.name.tag for m in shown.metric_infos}


def distinct_params(trials: list[optuna.trial.FrozenTrial]) -> bool:
    configurations = [tuple(sorted(t.params.items())) for t in trials]
    return len(set(configurations)) == len(configurations)


@pytest.mark.slow
def test_sweep_publishes_best_and_resumes(tmp_path):
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

    # The same command with a larger study size: finished trials kept, numbering continues, and the
    # new trial is a new configuration (the rerun's sampler does not start over from the same seed).
    ok(sweep(tmp_path, "hydra.sweeper.n_trials=3"))
    study = study_of(storage_url(tmp_path))
    assert [t.number for t in study.trials] == [0, 1, 2]
    assert {t.number: (t.params, t.value) for t in study.trials if t.number < 2} == first
    assert distinct_params(study.trials), [t.params for t in study.trials]

    # Once the study holds n_trials finished trials, rerunning the command trains and publishes nothing
    # and leaves no empty sweep dir behind.
    (tmp_path / "checkpoints" / "best.pt").unlink()
    sweep_dirs = set((tmp_path / "outputs" / "hpo" / "multiruns").iterdir())
    proc = ok(sweep(tmp_path, "hydra.sweeper.n_trials=3"))
    assert len(study_of(storage_url(tmp_path)).trials) == 3
    assert "3 of 3 trials finished" in output(proc)
    assert "complete (3 of n_trials=3 finished), nothing to run" in output(proc)
    assert set((tmp_path / "outputs" / "hpo" / "multiruns").iterdir()) == sweep_dirs
    assert not (tmp_path / "checkpoints" / "best.pt").exists()
    # ... unless asked to publish.
    proc = ok(sweep(tmp_path, "hydra.sweeper.n_trials=3", "hpo.export.publish_on_complete=true"))
    best = torch.load(tmp_path / "checkpoints" / "best.pt", weights_only=True)
    assert best["study"]["trial"] == study_of(storage_url(tmp_path)).best_trial.number


@pytest.mark.slow
def test_sweeper_own_storage_keys_reach_the_trials(tmp_path):
    # The keys every hydra-optuna-sweeper user writes, while hpo.storage still names another database.
    own = f"sqlite:///{tmp_path / 'own.db'}"
    keys = [f"hydra.sweeper.storage={own}", "hydra.sweeper.study_name=own_study"]
    ok(sweep(tmp_path, "hydra.sweeper.n_trials=1", *keys))
    (trial,) = study_of(own, "own_study").trials
    assert trial.state == TrialState.COMPLETE
    assert sorted(trial.intermediate_values) == [0, 1]  # the trial's callback reported to this study
    assert not (tmp_path / "outputs" / "optuna.db").exists()
    # The export command takes the same keys.
    exported = tmp_path / "exported"
    ok(sweep(tmp_path, *keys, f"hpo.export.checkpoints_dir={exported}", module="closecast.hpo.export"))
    assert torch.load(exported / "best.pt", weights_only=True)["study"]["name"] == "own_study"


@pytest.mark.slow
def test_pruner_stops_trials_and_they_end_pruned(tmp_path):
    # A threshold no validation loss can meet: every trial must be pruned after its second epoch.
    proc = ok(
        sweep(
            tmp_path,
            "hydra.sweeper.n_trials=2",
            "trainer.max_epochs=5",
            "hparams_search/pruner=median",
            "hpo.pruner._target_=optuna.pruners.ThresholdPruner",
            "~hpo.pruner.n_startup_trials",
            "+hpo.pruner.upper=0.000001",
            pruning=True,
        )
    )
    study = study_of(storage_url(tmp_path))
    assert [t.state for t in study.trials] == [TrialState.PRUNED, TrialState.PRUNED]
    for t in study.trials:
        assert sorted(t.intermediate_values) == [0, 1, 2, 3]  # n_warmup_steps=3: pruned at epoch 3
        run = Path(t.user_attrs["run_dir"])
        assert not (run / "model.pt").exists()  # stopped mid-training, nothing evaluated
    assert not (tmp_path / "checkpoints" / "best.pt").exists()
    assert "nothing to export" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_pruned_trial_stops_every_ddp_rank(tmp_path):
    # Two CPU ranks; rank 0 asks the pruner, and its answer must reach rank 1, which stops by itself
    # (and says so in its own log) at the same epoch, instead of being left waiting in a collective.
    ok(
        sweep(
            tmp_path,
            "hydra.sweeper.n_trials=1",
            "trainer=ddp",
            "trainer.accelerator=cpu",
            "trainer.devices=2",
            "trainer.max_epochs=5",
            "hparams_search/pruner=median",
            "hpo.pruner._target_=optuna.pruners.ThresholdPruner",
            "~hpo.pruner.n_startup_trials",
            "+hpo.pruner.upper=0.000001",
            pruning=True,
        )
    )
    (trial,) = study_of(storage_url(tmp_path)).trials
    assert trial.state == TrialState.PRUNED
    assert sorted(trial.intermediate_values) == [0, 1, 2, 3]  # reported once per epoch, by rank 0 alone
    run = Path(trial.user_attrs["run_dir"])
    logs = {p.name: p.read_text() for p in run.glob("*.log")}
    for rank in (0, 1):
        said = f"rank {rank} stops: trial {trial.number} pruned after epoch 3"
        assert any(said in text for text in logs.values()), {k: v[-2000:] for k, v in logs.items()}
    assert not (run / "model.pt").exists()


@pytest.mark.slow
def test_failed_trial_is_recorded_and_sweep_goes_on(tmp_path):
    # A grid over a sane and an absurd learning rate: the second diverges to a non-finite loss.
    grid = ["hydra/sweeper/sampler=grid", "data.window=10", "optimizer.lr=choice(0.003,1e30)"]
    grid.append("hydra.sweeper.n_trials=2")
    ok(sweep(tmp_path, *grid, "hydra.sweeper.max_failure_rate=0.5"))
    study = study_of(storage_url(tmp_path))
    states = {t.params["optimizer.lr"]: t.state for t in study.trials}
    assert states == {0.003: TrialState.COMPLETE, 1e30: TrialState.FAIL}
    best = torch.load(tmp_path / "checkpoints" / "best.pt", weights_only=True)
    assert best["study"]["params"]["optimizer.lr"] == 0.003

    # With no failure allowed, the same failure stops the sweep with a clear error.
    proc = sweep(tmp_path, *grid, "hydra.sweeper.max_failure_rate=0.0", "hpo.study_name=strict")
    assert proc.returncode != 0
    assert "max_failure_rate=0.0" in proc.stderr
    assert "FloatingPointError" in proc.stderr


@pytest.mark.slow
def test_pareto_sweep_writes_front_and_exports_pick(tmp_path):
    proc = ok(sweep(tmp_path, "hydra.sweeper.n_trials=3", search="optuna_pareto"))
    url = storage_url(tmp_path)
    study = study_of(url, "closecast_lstm_pareto")
    assert len(study.trials) == 3 and all(t.state == TrialState.COMPLETE for t in study.trials)
    assert study.metric_names == ["val/raw/mae", "val/raw/rmse", "val/raw/mape"]
    (table,) = (tmp_path / "outputs" / "hpo" / "multiruns").glob("*/pareto.csv")
    rows = list(csv.DictReader(table.open()))
    assert {int(r["trial"]) for r in rows} == {t.number for t in study.best_trials}
    for row in rows:
        assert Path(row["artifact"]).exists()
        assert {"val/raw/mae", "val/raw/rmse", "val/raw/mape", "data.window", "optimizer.lr"} <= set(row)
    (picked,) = [r for r in rows if r["selected"] == "1"]
    assert float(picked["val/raw/mae"]) == min(float(r["val/raw/mae"]) for r in rows)
    said = f"published trial {picked['trial']} (hpo.export.selection=min_mae on a Pareto front"
    assert said in output(proc)
    pick = torch.load(tmp_path / "checkpoints" / "best_pareto_lstm.pt", weights_only=True)
    assert pick["study"]["trial"] == int(picked["trial"])
    assert pick["study"]["objectives"] == ["val/raw/mae", "val/raw/rmse", "val/raw/mape"]
    assert pick["study"]["values"] == pytest.approx(
        [float(picked[k]) for k in ("val/raw/mae", "val/raw/rmse", "val/raw/mape")]
    )

    # Re-pick from the stored study without training.
    ok(
        sweep(
            tmp_path, "hpo.export.selection=min_rmse", search="optuna_pareto", module="closecast.hpo.export"
        )
    )
    best_rmse = min(rows, key=lambda r: float(r["val/raw/rmse"]))
    again = torch.load(tmp_path / "checkpoints" / "best_pareto_lstm.pt", weights_only=True)
    assert again["study"]["trial"] == int(best_rmse["trial"])
    assert again["study"]["selection"] == "min_rmse"
    assert len(study_of(url, "closecast_lstm_pareto").trials) == 3


@pytest.mark.slow
def test_joblib_launcher_runs_trials_in_parallel_workers(tmp_path):
    ok(
        sweep(
            tmp_path,
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            "hydra.sweeper.n_jobs=2",
            "hydra.sweeper.n_trials=2",
        )
    )
    study = study_of(storage_url(tmp_path))
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    # Two worker processes, one trial each, both reporting to the shared SQLite study.
    assert len({t.user_attrs["pid"] for t in study.trials}) == 2
    assert all(len(t.intermediate_values) == 2 for t in study.trials)


@pytest.mark.slow
def test_killed_sweep_resumes_and_leaves_no_running_trial(tmp_path):
    url = storage_url(tmp_path)
    cmd = [
        "hydra.sweeper.n_trials=2",
        "hpo.pruner=null",
        "trainer.max_epochs=8",
        "callbacks.early_stopping=null",
    ]
    args = [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        "hparams_search=optuna",
        f"paths.root_dir={ROOT}",
        f"paths.log_dir={tmp_path / 'outputs'}",
        f"paths.checkpoints_dir={tmp_path / 'checkpoints'}",
        f"hpo.storage={url}",
        *TINY_SWEEP,
        *cmd,
    ]
    log = (tmp_path / "killed.log").open("w")
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    db = tmp_path / "outputs" / "optuna.db"
    try:
        deadline = time.monotonic() + 300
        killed_number = None
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            # Read-only plain SQL: opening it through Optuna could race the sweep creating the tables.
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
                    running = con.execute(
                        "SELECT t.number FROM trials t WHERE t.state = 'RUNNING' AND EXISTS "
                        "(SELECT 1 FROM trial_intermediate_values v WHERE v.trial_id = t.trial_id)"
                    ).fetchall()
            except sqlite3.Error:
                continue  # not created yet
            if running:
                killed_number = running[0][0]
                os.killpg(proc.pid, signal.SIGKILL)
                break
        assert killed_number is not None, (tmp_path / "killed.log").read_text()[-5000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()

    # Rerun at once, long before the killed trial's heartbeat (30 s, grace 90 s) goes stale: its sweep's
    # pid is dead on this host, so it is failed now and the rerun still ends with n_trials finished.
    proc = ok(sweep(tmp_path, *cmd))
    assert f"trials [{killed_number}] were left RUNNING by a sweep that is gone" in output(proc)
    trials = study_of(url).trials
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert trials[killed_number].state == TrialState.FAIL
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 2
    assert [t.number for t in trials] == list(range(len(trials)))
    assert distinct_params(trials), [t.params for t in trials]


@pytest.mark.slow
def test_two_processes_share_one_postgresql_study(tmp_path):
    url = os.environ.get("CLOSECAST_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CLOSECAST_TEST_POSTGRES_URL is not set; .ci/run starts PostgreSQL and sets it")
        pytest.skip("set CLOSECAST_TEST_POSTGRES_URL (e.g. from .ci/postgres.sh) to run this test")
    name = f"shared_{uuid.uuid4().hex[:8]}"
    args = [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        "hparams_search=optuna",
        f"paths.root_dir={ROOT}",
        f"paths.checkpoints_dir={tmp_path / 'checkpoints'}",
        f"hpo.storage={url}",
        f"hpo.study_name={name}",
        "hydra.sweeper.n_trials=6",
        "hpo.pruner=null",
        *TINY_SWEEP,
    ]
    procs = [
        subprocess.Popen(
            [*args, f"paths.log_dir={tmp_path / f'machine{i}'}"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=600)[0] for p in procs]
        for p, out in zip(procs, outputs, strict=True):
            assert p.returncode == 0, out[-5000:]
        trials = optuna.load_study(study_name=name, storage=url).trials
        numbers = [t.number for t in trials]
        assert len(numbers) >= 6 and sorted(numbers) == list(range(len(numbers)))
        assert all(t.state == TrialState.COMPLETE for t in trials)
        # Started together, the two processes still draw distinct configurations (seeded by trial number).
        assert distinct_params(trials), [t.params for t in trials]
        # Both processes trained trials of the one study.
        assert len({t.user_attrs["pid"] for t in trials}) == 2
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        try:
            optuna.delete_study(study_name=name, storage=url)
        except KeyError:
            pass


def test_rerun_seeds_the_sampler_by_trial_number(tmp_path):
    """A second process on a study (a resumed sweep) never draws an earlier trial's configuration."""
    space = create_params_from_overrides(["x=interval(0.0,1.0)", "k=choice(1,2,3,4,5,6,7,8)"])[0]

    def objective(trial: optuna.Trial) -> float:
        return suggest(trial, "x", space["x"]) + suggest(trial, "k", space["k"])

    def study_after(url: str, runs: list[int], sampler) -> list[optuna.trial.FrozenTrial]:
        for n in runs:  # each run a fresh process with the same config (same seed), as a rerun makes it
            study = optuna.create_study(
                study_name="resumed", storage=open_storage(url), sampler=sampler(), load_if_exists=True
            )
            study.optimize(objective, n_trials=n)
        return study_of(url, "resumed").trials

    seeded = study_after(
        storage_url(tmp_path / "a"),
        [3, 1, 1],
        lambda: TrialSeededSampler(lambda seed: optuna.samplers.TPESampler(seed=seed), 42),
    )
    assert [t.number for t in seeded] == [0, 1, 2, 3, 4]
    assert distinct_params(seeded), [t.params for t in seeded]
    # Reproducible: trial n draws the same wherever and whenever it runs.
    again = study_after(
        storage_url(tmp_path / "b"),
        [5],
        lambda: TrialSeededSampler(lambda seed: optuna.samplers.TPESampler(seed=seed), 42),
    )
    assert [t.params for t in again] == [t.params for t in seeded]
    # What it prevents: a plain seeded sampler draws a rerun's first configuration again.
    plain = study_after(storage_url(tmp_path / "c"), [3, 1], lambda: optuna.samplers.TPESampler(seed=42))
    assert plain[3].params == plain[0].params


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


def test_trials_of_a_dead_sweep_on_this_host_are_failed_at_once(tmp_path):
    url = storage_url(tmp_path)
    study = optuna.create_study(study_name="orphans", storage=open_storage(url))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owners = {
            "dead": (socket.gethostname(), int(dead.stdout)),
            "alive": (socket.gethostname(), alive.pid),
            "elsewhere": ("another-host", int(dead.stdout)),  # its pid means nothing here
        }
        numbers = {}
        for name, (host, pid) in owners.items():
            trial = study.ask()
            trial.set_user_attr("sweep_host", host)
            trial.set_user_attr("sweep_pid", pid)
            numbers[name] = trial.number
        assert fail_orphaned_trials(study) == [numbers["dead"]]
    finally:
        alive.kill()
        alive.wait()
    states = {name: study.trials[n].state for name, n in numbers.items()}
    assert states == {"dead": TrialState.FAIL, "alive": TrialState.RUNNING, "elsewhere": TrialState.RUNNING}


def test_study_export_help_prints_usage():
    proc = subprocess.run(
        [sys.executable, "-m", "closecast.hpo.export", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: python -m closecast.hpo.export")
    for key in ("hparams_search=", "hpo.storage=", "hpo.study_name=", "hpo.export.selection="):
        assert key in proc.stdout
    assert proc.stderr == ""


def test_unreachable_storage_stops_before_training(tmp_path):
    proc = sweep(tmp_path, "hpo.storage=postgresql://someone:secret@127.0.0.1:9/nowhere")
    assert proc.returncode != 0
    assert "cannot be reached" in proc.stderr
    assert "secret" not in proc.stderr  # the password is not echoed
    assert not list((tmp_path / "outputs").glob("**/trial_*"))


def frozen(number: int, values: list[float]) -> optuna.trial.FrozenTrial:
    trial = optuna.trial.create_trial(values=values, params={}, distributions={})
    trial.number = number
    return trial


def test_pareto_objectives_differ_between_networks(tmp_path):
    """Two trials with different networks must get different objective values: the objectives are the
    networks' own validation forecasts, not the served ones after the fall-back to naive."""
    from closecast.training.run import objective, train
    from tests.helpers.configs import compose_train

    values = []
    for hidden in (4, 24):
        cfg = compose_train(tmp_path / str(hidden), [f"model.hidden={hidden}", "publish=false"])
        cfg_pareto = compose_train(tmp_path / str(hidden), ["hparams_search=optuna_pareto"])
        assert list(cfg_pareto.optimized_metric) == ["val/raw/mae", "val/raw/rmse", "val/raw/mape"]
        values.append(objective(train(cfg), list(cfg_pareto.optimized_metric)))
    assert all(v > 0 for v in values[0] + values[1])
    assert values[0] != values[1]


@pytest.mark.parametrize(
    "names", [["val/mae", "val/rmse", "val/mape"], ["val/raw/mae", "val/raw/rmse", "val/raw/mape"]]
)
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


@pytest.mark.slow
def test_bench_hpo_tiny_run_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            *("-m", "benchmarks", "hpo"),  # from the repository root, as the benchmarks run
            "--trials",
            "2",
            "--epochs",
            "1",
            "--seeds",
            "7",
        ]
        + ["--json", str(out), "--workdir", str(tmp_path / "work")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    report = json.loads(out.read_text())
    for arm in ("pruned", "unpruned"):
        assert report[arm]["trials"] == 2
        assert report[arm]["epochs"] >= 1
    assert report["epochs_ratio"] == pytest.approx(report["pruned"]["epochs"] / report["unpruned"]["epochs"])
