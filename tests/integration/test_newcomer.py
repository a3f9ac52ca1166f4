"""A new user's first hour: the README's commands and files exist and run as printed, smoke runs do not
publish, every entry point has `--help` (a clean install: install/test_clean_install.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from closecast.training.run import train
from tests.helpers.configs import ROOT, compose_train

README = (ROOT / "README.md").read_text()
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONWARNINGS": "default"}


def _commands(text: str) -> list[str]:
    """Shell lines of the ```bash blocks (comments cut)."""
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_files_and_make_targets_named_by_the_docs_exist():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, flags=re.M))
    missing = []
    for doc in DOCS:
        for command in _commands(doc.read_text()):
            for path in re.findall(r"(?<![\w/.])((?:data|docs|configs|scripts)/[\w./-]+\.\w+)", command):
                if not (ROOT / path).exists():
                    missing.append(f"{doc.name}: {path}")
            if command.startswith("make "):
                target = command.split()[1]
                if "=" not in target and target not in targets:
                    missing.append(f"{doc.name}: make {target}")
        for link in re.findall(r"\]\(((?!https?:)[^)#]+)\)", doc.read_text()):
            if not (doc.parent / link).exists():
                missing.append(f"{doc.name}: link {link}")
    assert not missing, missing


def test_readme_request_body_fits_any_window_the_default_search_picks():
    body = json.loads((ROOT / "data" / "predict_request.json").read_text())
    search = (ROOT / "configs" / "hparams_search" / "optuna.yaml").read_text()
    windows = [int(w) for w in re.search(r"data\.window: choice\(([^)]*)\)", search).group(1).split(",")]
    assert len(body["values"]) >= max(windows)
    assert body["checkpoint_path"] == "checkpoints/best.pt" and body["device"] == "cpu"
    closes = (ROOT / "data" / "recent_closes.txt").read_text().split()
    assert len(closes) >= max(windows)
    assert "@data/predict_request.json" in README and "< data/recent_closes.txt" in README


@pytest.mark.parametrize(
    "overrides",
    [["+trainer.fast_dev_run=true"], ["publish=false"]],
    ids=["fast_dev_run", "publish=false"],
)
def test_runs_not_meant_for_serving_do_not_publish(tmp_path, overrides):
    train(compose_train(tmp_path, overrides))
    assert not list((tmp_path / "checkpoints").glob("*.pt"))


@pytest.mark.parametrize("module", ["closecast.predict", "closecast.serve", "closecast.hpo.export"])
def test_every_entry_point_prints_usage_and_no_warning(module):
    proc = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage" in proc.stdout.lower()
    assert "Warning" not in proc.stderr, proc.stderr
    if module == "closecast.serve":  # the settings it reads, and it starts nothing
        settings = (
            "HOST",
            "PORT",
            "WORKERS",
            "CHECKPOINTS_DIR",
            "RELOAD_INTERVAL",
            "API_KEY",
            "BODY_TIMEOUT",
        )
        assert all(name in proc.stdout for name in settings), proc.stdout
        assert "Uvicorn running" not in proc.stdout + proc.stderr


@pytest.mark.slow  # the entry started as a user starts it: a subprocess each
def test_readme_predict_commands_run_as_printed(trained_artifact):
    best = trained_artifact  # what `make train` publishes as checkpoints/best.pt
    printed = [c for c in _commands(README) if "closecast.predict" in c]
    assert len(printed) == 2
    for command in printed:
        command = command.replace(".venv/bin/python", sys.executable).replace(
            "checkpoints/best.pt", str(best)
        )
        proc = subprocess.run(
            command, shell=True, cwd=ROOT, capture_output=True, text=True, env=_env(), timeout=120
        )
        assert proc.returncode == 0, (command, proc.stderr)
        answer = json.loads(proc.stdout)
        assert answer["prediction"] > 0
        assert "Warning" not in proc.stderr, proc.stderr
