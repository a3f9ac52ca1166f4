"""A sweep that meets a failing trial, a kill, or a dead sweep's trials: recorded, resumed, never RUNNING."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import optuna
import pytest
import torch
from optuna.trial import TrialState

from closecast.hpo.storage import fail_orphaned_trials, open_storage
from tests.helpers.configs import ROOT
from tests.helpers.sweeps import (
    distinct_params,
    ok,
    output,
    storage_url,
    study_of,
    sweep_here,
    sweep_overrides,
)


@pytest.mark.slow
def test_failed_trial_is_recorded_and_sweep_goes_on(tmp_path, capfd):
    # A grid over a sane and an absurd learning rate: the second diverges to a non-finite loss.
    grid = ["hydra/sweeper/sampler=grid", "data.window=10", "optimizer.lr=choice(0.003,1e30)"]
    grid.append("hydra.sweeper.n_trials=2")
    ok(sweep_here(tmp_path, *grid, "hydra.sweeper.max_failure_rate=0.5", capfd=capfd))
    study = study_of(storage_url(tmp_path))
    states = {t.params["optimizer.lr"]: t.state for t in study.trials}
    assert states == {0.003: TrialState.COMPLETE, 1e30: TrialState.FAIL}
    best = torch.load(tmp_path / "checkpoints" / "best.pt", weights_only=True)
    assert best["study"]["params"]["optimizer.lr"] == 0.003

    # With no failure allowed, the same failure stops the sweep with a clear error.
    proc = sweep_here(
        tmp_path, *grid, "hydra.sweeper.max_failure_rate=0.0", "hpo.study_name=strict", capfd=capfd
    )
    assert proc.returncode != 0
    assert "max_failure_rate=0.0" in proc.stderr
    assert "FloatingPointError" in proc.stderr


@pytest.mark.slow
def test_killed_sweep_resumes_and_leaves_no_running_trial(tmp_path, capfd):
    url = storage_url(tmp_path)
    cmd = ["hydra.sweeper.n_trials=2", "trainer.max_epochs=8", "callbacks.early_stopping=null"]
    args = [sys.executable, str(ROOT / "train.py"), "-m", *sweep_overrides(tmp_path, *cmd)]
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
    proc = ok(sweep_here(tmp_path, *cmd, capfd=capfd))
    assert f"trials [{killed_number}] were left RUNNING by a sweep that is gone" in output(proc)
    trials = study_of(url).trials
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert trials[killed_number].state == TrialState.FAIL
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 2
    assert [t.number for t in trials] == list(range(len(trials)))
    assert distinct_params(trials), [t.params for t in trials]


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
