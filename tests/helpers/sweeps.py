"""Sweeps run as a user runs them (`python train.py -m ...`), tiny and offline, and their studies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tests.helpers.configs import ROOT, TINY
from tests.helpers.entries import run_entry

TINY_SWEEP = [
    *(o for o in TINY if not o.startswith("data.window=")),
    "hydra.sweeper.params=null",
    "data.window=choice(10,20)",
    "optimizer.lr=tag(log,interval(0.001,0.01))",
]


def storage_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'outputs' / 'optuna.db'}"


def sweep_overrides(
    tmp_path: Path, *overrides: str, search: str = "optuna", tiny: bool = True, pruning: bool = False
) -> list[str]:
    """The command line of a tiny sweep (or, without `tiny`, of the study export) writing into `tmp_path`.

    Without `pruning`, trials still report every epoch but are never pruned, so outcomes are fixed.
    """
    return [
        f"hparams_search={search}",
        f"paths.root_dir={ROOT}",
        f"paths.log_dir={tmp_path / 'outputs'}",
        f"paths.checkpoints_dir={tmp_path / 'checkpoints'}",
        f"hpo.storage={storage_url(tmp_path)}",
        *(TINY_SWEEP if tiny else []),
        *([] if not tiny or pruning else ["hpo.pruner=null"]),
        *overrides,
    ]


def sweep(
    tmp_path: Path,
    *overrides: str,
    search: str = "optuna",
    module: str | None = None,
    pruning: bool = False,
    timeout: int = 600,
) -> subprocess.CompletedProcess:
    """Run one sweep (or, with `module`, `python -m module`) in a subprocess writing into `tmp_path`."""
    head = [sys.executable, "-m", module] if module else [sys.executable, str(ROOT / "train.py"), "-m"]
    args = sweep_overrides(tmp_path, *overrides, search=search, tiny=not module, pruning=pruning)
    return subprocess.run([*head, *args], cwd=tmp_path, capture_output=True, text=True, timeout=timeout)


def sweep_here(
    tmp_path: Path,
    *overrides: str,
    capfd: pytest.CaptureFixture[str],
    search: str = "optuna",
    pruning: bool = False,
) -> subprocess.CompletedProcess:
    """The same sweep as `sweep`, run in this process (`train.py -m` with its command line)."""
    args = sweep_overrides(tmp_path, *overrides, search=search, pruning=pruning)
    return run_entry("train.py", "-m", *args, cwd=tmp_path, capfd=capfd)


def export_here(tmp_path: Path, *overrides: str, search: str = "optuna") -> int:
    """`python -m closecast.hpo.export` on the sweep's study (its main, in this process); its exit code."""
    from closecast.hpo.export import main

    return main(sweep_overrides(tmp_path, *overrides, search=search, tiny=False))


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc


def study_of(url: str, name: str = "closecast_lstm") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=url)


def output(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def distinct_params(trials: list[optuna.trial.FrozenTrial]) -> bool:
    configurations = [tuple(sorted(t.params.items())) for t in trials]
    return len(set(configurations)) == len(configurations)


def _hparams_data(logdir: Path) -> tuple[object, list]:
    """A run folder's loaded event files and the HParams plugin records in them."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    events = EventAccumulator(str(logdir))
    events.Reload()
    plugin = events.PluginTagToContent("hparams").values()
    return events, [plugin_data_pb2.HParamsPluginData.FromString(raw) for raw in plugin]


def hparams_of(logdir: Path) -> tuple[dict[str, object], set[str]]:
    """The hyperparameters and metric names a run shows in TensorBoard's HParams tab (its event files)."""
    _, data = _hparams_data(logdir)
    start = next(d.session_start_info for d in data if d.HasField("session_start_info"))
    params = {
        k: v.number_value if v.HasField("number_value") else v.string_value for k, v in start.hparams.items()
    }
    shown = next(d.experiment for d in data if d.HasField("experiment"))
    return params, {m.name.tag for m in shown.metric_infos}


def hparams_row(logdir: Path) -> dict[str, float]:
    """The values of a run's HParams row as TensorBoard reads them: each column's last point of its tag, in
    the run's folder or in the subfolder its metric group names."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    board, data = _hparams_data(logdir)
    shown = next(d.experiment for d in data if d.HasField("experiment"))
    row = {}
    for info in shown.metric_infos:
        run = EventAccumulator(str(logdir / info.name.group)) if info.name.group else board
        run.Reload()
        if info.name.tag in run.Tags()["scalars"]:
            row[info.name.tag] = run.Scalars(info.name.tag)[-1].value
    return row
