"""What the Makefile's install and clean targets do, run in a copy of the repository's layout."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.helpers.configs import ROOT


def make(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(["make", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_clean_keeps_the_published_models_and_the_studies_and_clean_all_deletes_them(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path)
    kept = ["checkpoints/best.pt", "checkpoints/best_pareto_lstm.pt", "outputs/optuna.db", "outputs/.gitkeep"]
    gone = ["outputs/train/runs/r1/model.pt", "outputs/hpo/s/0/metrics.json", "data/cache/AAPL.csv"]
    for name in [*kept, *gone, ".cache/baselines/fit.npz"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert make("clean", cwd=tmp_path).returncode == 0
    assert all((tmp_path / name).exists() for name in kept), list(tmp_path.rglob("*"))
    assert not any((tmp_path / name).exists() for name in gone)
    assert make("clean-all", cwd=tmp_path).returncode == 0
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["Makefile", "outputs/.gitkeep"]


@pytest.mark.parametrize(
    ("torch", "index"),
    [("", None), ("TORCH=cuda", None), ("TORCH=cpu", "https://download.pytorch.org/whl/cpu")],
)
def test_torch_picks_the_index_torch_is_installed_from(torch, index, tmp_path):
    proc = make("-n", "install", f"STAMP={tmp_path / 'never'}", *filter(None, [torch]))
    (line,) = [line for line in proc.stdout.splitlines() if "install --quiet torch==" in line]
    assert (f"--index-url {index}" in line) if index else "--index-url" not in line


def test_an_unknown_torch_build_is_refused_naming_the_choices(tmp_path):
    proc = make("-n", "install", "TORCH=gpu", f"STAMP={tmp_path / 'never'}")
    assert proc.returncode != 0 and "TORCH=gpu is not cpu or cuda" in proc.stderr
