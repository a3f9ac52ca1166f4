"""Sweeps run as a user runs them (`python train.py -m ...`), tiny and offline, and their studies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna

from tests.helpers.configs import ROOT, TINY

TINY_SWEEP = [
    *(o for o in TINY if not o.startswith("data.window=")),
    "hydra.sweeper.params=null",
    "data.window=choice(10,20)",
    "optimizer.lr=tag(log,interval(0.001,0.01))",
]


def storage_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'outputs' / 'optuna.db'}"


def sweep(
    tmp_path: Path,
    *overrides: str,
    search: str = "optuna",
    module: str | None = None,
    pruning: bool = False,
    timeout: int = 600,
) -> subprocess.CompletedProcess:
    """Run one sweep (or, with `module`, `python -m module`) writing into `tmp_path`.

    Without `pruning`, trials still report every epoch but are never pruned, so outcomes are fixed.
    """
    head = [sys.executable, "-m", module] if module else [sys.executable, str(ROOT / "train.py"), "-m"]
    cmd = [
        *head,
        f"hparams_search={search}",
        f"paths.root_dir={ROOT}",
        f"paths.log_dir={tmp_path / 'outputs'}",
        f"paths.checkpoints_dir={tmp_path / 'checkpoints'}",
        f"hpo.storage={storage_url(tmp_path)}",
        *([] if module else TINY_SWEEP),
        *([] if module or pruning else ["hpo.pruner=null"]),
        *overrides,
    ]
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=timeout)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc


def study_of(url: str, name: str = "closecast_lstm") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=url)
