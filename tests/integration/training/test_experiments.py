"""Every `experiment=` and `debug=` preset runs as a tiny training run, reaches the run's artifact with the
keys it sets, and publishes nothing; the DDP preset runs through `train.py`, since DDP starts processes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from closecast.artifacts.schema import load_artifact
from closecast.evaluation.baselines import RANGE, STRONG
from closecast.training.run import objective, train
from tests.helpers.configs import ROOT, TINY, compose_train
from tests.helpers.entries import run_train

CONFIGS = ROOT / "configs"
EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))
DEBUG = sorted(p.stem for p in (CONFIGS / "debug").glob("*.yaml"))
SPAWNS = {"ddp_cpu"}  # DDP starts one process per device: only from a script, not inside pytest
# A preset of many series runs on a few of them here (the rest of what it sets is checked).
SUBSETS = {"universe": ["data.tickers=[AAPL,MSFT]"]}


def _leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    """`{dotted.key: value}` of a nested mapping; lists stay whole."""
    if not isinstance(node, dict):
        return {prefix: node}
    out: dict[str, Any] = {}
    for key, value in node.items():
        out.update(_leaves(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _preset_keys(group: str, name: str, overrides: list[str]) -> dict[str, Any]:
    """What `configs/<group>/<name>.yaml` sets, less the defaults list and the keys `overrides` set."""
    conf = OmegaConf.to_container(OmegaConf.load(CONFIGS / group / f"{name}.yaml"))
    conf.pop("defaults", None)
    overridden = {o.lstrip("+").split("=")[0] for o in overrides}
    return {k: v for k, v in _leaves(conf).items() if k not in overridden}


def _assert_reached(config: dict, keys: dict[str, Any]) -> None:
    resolved = _leaves(config)
    assert keys, "a preset that sets nothing the run can show"
    for key, value in keys.items():
        assert key in resolved and resolved[key] == value, (key, resolved.get(key, "<absent>"), value)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_runs_with_what_it_sets(name, tmp_path):
    sets_publish = "publish" in OmegaConf.load(CONFIGS / "experiment" / f"{name}.yaml")
    overrides = [f"experiment={name}", "trainer.max_epochs=1", *([] if sets_publish else ["publish=false"])]
    overrides += SUBSETS.get(name, [])
    cfg = compose_train(tmp_path, overrides)
    metrics = train(cfg)
    assert objective(metrics, cfg.optimized_metric) is not None  # the run's objective is among its metrics
    artifact = load_artifact(tmp_path / "run" / "model.pt")
    _assert_reached(artifact["config"], _preset_keys("experiment", name, [*TINY, *overrides]))
    assert not list((tmp_path / "checkpoints").glob("*.pt"))
    # A model with range inputs is held against the range baselines too; one without never reads High/Low.
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    ranges = "log_range" in cfg.data.features
    for baseline in RANGE:
        assert all((f"{p}/{baseline}/served/crps" in written) == ranges for p in ("val", "test")), baseline
    if ranges:  # the reference is chosen on validation from a set that holds them
        assert set(RANGE) <= set(STRONG)
        scored = [b for b in STRONG if f"val/{b}/served/crps" in written]
        chosen = min(scored, key=lambda b: written[f"val/{b}/served/crps"])
        ratio = written["test/served/crps"] / written[f"test/{chosen}/served/crps"]
        assert written["test/served/vs_reference"] == pytest.approx(ratio, rel=1e-12)


@pytest.mark.parametrize("name", [n for n in DEBUG if n not in SPAWNS])
def test_debug_preset_runs_quickly_and_publishes_nothing(name, tmp_path):
    overrides = [f"debug={name}"]
    cfg = compose_train(tmp_path, overrides)
    metrics = train(cfg)
    assert metrics["test/mae"] >= 0
    objective(metrics, cfg.optimized_metric)  # what train.py returns: a missing name would fail the run
    artifact = load_artifact(tmp_path / "run" / "model.pt")
    _assert_reached(artifact["config"], _preset_keys("debug", name, [*TINY, *overrides]))
    assert not (tmp_path / "checkpoints").exists() or not list((tmp_path / "checkpoints").glob("*.pt"))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SPAWNS & set(DEBUG)))
def test_spawning_debug_preset_runs_on_two_cpu_processes_from_the_entry_point(name, tmp_path: Path):
    # The preset publishes nothing (its own setting, checked here), and publish=true on top of it is
    # refused too (a debug run trains on part of the data); rank 0 alone writes the run's artifact.
    # A pooled run of three series: the ranks shard the pooled samples (tests/unit/data/test_data.py).
    assert compose_train(tmp_path, [f"debug={name}"]).publish is False
    pooled = "data.tickers=[AAPL,GOOG,IBM]"
    proc = run_train(f"debug={name}", pooled, "publish=true", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "world_size: 2" in proc.stderr or "distributed_backend=gloo" in proc.stderr
    (run,) = (tmp_path / "outputs" / "debug" / "runs").iterdir()
    artifact = load_artifact(run / "model.pt")
    assert list(artifact["series"]) == ["AAPL", "GOOG", "IBM"]
    _assert_reached(artifact["config"], _preset_keys("debug", name, [*TINY, pooled, "publish=true"]))
    assert artifact["config"]["trainer"]["strategy"] == "ddp"
    assert not (tmp_path / "ckpts" / "best.pt").exists()
    assert "not published: publish=true, but a debug run" in proc.stdout


def test_a_smoke_run_by_override_still_reports_its_objective(tmp_path):
    # `+trainer.fast_dev_run=true` keeps no checkpoint: its single validation pass is the objective.
    metrics = train(compose_train(tmp_path, ["+trainer.fast_dev_run=true"]))
    assert objective(metrics, "val/loss") == pytest.approx(metrics["val/loss"])
    assert not (tmp_path / "checkpoints" / "best.pt").exists()
