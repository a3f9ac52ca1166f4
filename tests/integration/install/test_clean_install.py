"""A clean install of the base package (what serving and local prediction need) gives the serving and
predict commands, and the study export says what it lacks instead of a traceback."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.helpers.configs import ROOT


def _link_torch(site_packages: Path, into: Path) -> None:
    """Makes this environment's torch and what it requires importable in the new one, linked rather than
    unpacked again (most of a clean install's time): a `.pth` file names a folder of links to their files,
    dist-info included, so pip in the new environment sees the torch pin as met and installs the rest."""
    names, todo = set(), ["torch"]
    while todo:
        dist = importlib.metadata.distribution(todo.pop())
        if dist.metadata["Name"].lower() in names:
            continue
        names.add(dist.metadata["Name"].lower())
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    into.mkdir()
    for name in names:
        for top in {f.parts[0] for f in importlib.metadata.distribution(name).files}:
            source = Path(importlib.metadata.distribution(name).locate_file(top))
            if top not in ("..", "__pycache__") and not top.endswith(".pth") and source.exists():
                (into / top).symlink_to(source)
    (site_packages / "linked-torch.pth").write_text(f"{into}\n")


@pytest.mark.slow
def test_a_clean_install_gives_the_serving_and_predict_commands(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    # This pip installs into the new environment (--python), so it needs no pip of its own; the bytecode
    # is left to be compiled on first import: what lands there is the same.
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet"]
    pip.append("--no-compile")
    site = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    _link_torch(Path(site), tmp_path / "linked-torch")
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
