"""Run the repository's `python -m` entries (`benchmarks`, `reports`) in a subprocess, from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
