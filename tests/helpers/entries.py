"""Run the repository's entries as a user types them: `python -m` in a subprocess, or a Hydra entry
(`train.py`, `backtest.py`) in this process with its command line, for tests that check what it does
rather than that it starts."""

from __future__ import annotations

import contextlib
import logging
import os
import runpy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.configs import ROOT


def run_module(module: str, *args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """`python -m module args…` in `cwd`, with the repository root on PYTHONPATH as running from it gives."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_train(
    *overrides: str, tmp_path: Path, multirun: bool = False, timeout: float = 600
) -> subprocess.CompletedProcess:
    """`python train.py [-m]` with the tiny settings and `overrides`, as a user starts it (a subprocess
    from the repository root); run dirs under `tmp_path/outputs`, published files under `tmp_path/ckpts`."""
    from tests.helpers.configs import TINY

    paths = [f"paths.log_dir={tmp_path / 'outputs'}", f"paths.checkpoints_dir={tmp_path / 'ckpts'}"]
    mode = ["-m"] if multirun else []
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *mode, *TINY, *overrides, *paths],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextlib.contextmanager
def _hydra_state_restored() -> Iterator[None]:
    """Leave Hydra's globals and the logging setup as they were: a Hydra entry sets both for its run."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    loggers = {
        name: (list(lg.handlers), lg.level, lg.propagate, lg.disabled)
        for name, lg in logging.Logger.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    GlobalHydra.instance().clear()
    try:
        yield
    finally:
        GlobalHydra.instance().clear()
        HydraConfig.instance().cfg = None  # else later runs in this process would think they are in a sweep
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:], root.level = handlers, level
        for name, (kept, *state) in loggers.items():
            lg = logging.getLogger(name)
            for handler in lg.handlers:
                if handler not in kept:
                    handler.close()
            lg.handlers[:] = kept
            lg.level, lg.propagate, lg.disabled = state


def run_entry(
    script: str, *args: str, cwd: Path, capfd: pytest.CaptureFixture[str]
) -> subprocess.CompletedProcess:
    """`python <script> args…` (a Hydra entry at the repository root) run in this process from `cwd`.

    What it printed and logged and its exit status come back as a `CompletedProcess`, so a test reads it
    as it reads a subprocess's. Hydra's globals, the logging setup, `sys.argv` and the directory are
    restored afterwards.
    """
    path = ROOT / script
    capfd.readouterr()
    argv, before = sys.argv, Path.cwd()
    code = 0
    with _hydra_state_restored():
        sys.argv = [str(path), *args]
        os.chdir(cwd)
        try:
            runpy.run_path(str(path), run_name="__main__")  # what `python script` runs
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = argv
            os.chdir(before)
    out, err = capfd.readouterr()
    return subprocess.CompletedProcess([sys.executable, str(path), *args], code, out, err)
