"""A clean install of the base package (what serving and local prediction need) gives the serving and
predict commands, and the study export says what it lacks instead of a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers.configs import ROOT


@pytest.mark.slow
def test_a_clean_install_gives_the_serving_and_predict_commands(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    # This pip installs into the new environment (--python), so it needs no pip of its own; the bytecode
    # is left to be compiled on first import: what lands there is the same.
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet"]
    pip.append("--no-compile")
    subprocess.run([*pip, "torch==2.13.0"], check=True, timeout=1200)
    subprocess.run([*pip, str(ROOT)], check=True, timeout=1200)
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for command in (["closecast-serve", "--help"], ["closecast-predict", "--help"]):
        proc = subprocess.run(
            [str(venv / "bin" / command[0]), *command[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=clean,
            timeout=120,
        )
        assert proc.returncode == 0 and "usage" in proc.stdout.lower(), proc.stderr
    python = str(venv / "bin" / "python")
    for module in ("closecast.serve", "closecast.predict"):
        proc = subprocess.run(
            [python, "-m", module, "--help"], cwd=tmp_path, capture_output=True, text=True, env=clean
        )
        assert proc.returncode == 0 and "usage" in proc.stdout.lower(), proc.stderr
    # Outside a checkout, with the serving-only install, the export says what it needs instead of a traceback.
    proc = subprocess.run(
        [python, "-m", "closecast.hpo.export"], cwd=tmp_path, capture_output=True, text=True, env=clean
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and "closecast[train]" in proc.stderr
    assert "Traceback" not in proc.stderr
