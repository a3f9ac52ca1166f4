"""What an installed package holds to train: the Hydra configs inside the wheel, every package listed, and
the `closecast-train` entry reading them with the working directory's configs/ beside them."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from tests.helpers.configs import ROOT, TINY
from tests.helpers.entries import _hydra_state_restored


def test_the_package_list_holds_every_package_under_src():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT / "src").parts)
        for p in (ROOT / "src").rglob("*.py")
        if "egg-info" not in str(p)
    }
    folders = [ROOT / "configs", *(d for d in (ROOT / "configs").rglob("*") if d.is_dir())]
    configs = {".".join(("closecast", *d.relative_to(ROOT).parts)) for d in folders}
    assert found <= listed and listed - found == configs | {"hydra_plugins"}, (found | configs) ^ listed


@pytest.mark.slow  # builds the wheel (offline, no isolation)
def test_the_wheel_carries_the_configs_and_the_train_and_eval_commands(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("closecast-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    configs = {
        f"closecast/configs/{p.relative_to(ROOT / 'configs')}" for p in (ROOT / "configs").rglob("*.yaml")
    }
    assert configs and configs <= names, sorted(configs - names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "closecast-train = closecast.training.entries:train_main" in text
    assert "closecast-eval = closecast.training.entries:eval_main" in text


@pytest.mark.slow  # a whole (smoke) run in this process
def test_closecast_train_composes_the_working_directorys_own_presets(tmp_path, monkeypatch):
    from closecast.training.entries import train_main

    preset = tmp_path / "configs" / "experiment" / "mine.yaml"
    preset.parent.mkdir(parents=True)
    preset.write_text("# @package _global_\npublish_name: mine.pt\n")
    args = [
        *TINY,
        "debug=fast_dev_run",
        "experiment=mine",
        f"paths.data_dir={ROOT / 'data'}",
        f"baselines.cache_dir={ROOT / '.cache' / 'baselines'}",
    ]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["closecast-train", *args])
    with _hydra_state_restored():
        train_main()
    (run,) = (tmp_path / "outputs" / "debug" / "runs").iterdir()  # the working directory's outputs/
    assert (run / "metrics.json").is_file()
    assert "publish_name: mine.pt" in (run / ".hydra" / "config.yaml").read_text()
