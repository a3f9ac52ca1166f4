"""`python -m benchmarks universe-gpu` runs on a tiny CPU setting and writes its JSON and docs section; on a
GPU it trains with `trainer=gpu` for every epoch asked (early stopping off)."""

from __future__ import annotations

import json
import math
import statistics

import pytest
import torch

from benchmarks.universe_gpu import benchmark, overrides_of, parse_args, settings_from
from benchmarks.universe_runs import compose
from closecast.training.trainer import build_callbacks
from tests.helpers.entries import run_module


@pytest.mark.slow  # the entry started as a user starts it, with a fresh child process of its own
def test_tiny_run_writes_json_and_its_docs_section(tmp_path):
    out, doc = tmp_path / "universe_gpu.json", tmp_path / "BENCHMARKS.md"
    doc.write_text("# Benchmarks\n\n<!-- bench:universe -->\nuniverse table\n<!-- /bench:universe -->\n")
    args = ("universe-gpu", "--tiny", "--device", "cpu", "--epochs", "2", "--json", str(out))
    proc = run_module("benchmarks", *args, "--update-docs", "--docs", str(doc), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]

    result = json.loads(out.read_text())
    fit, loops = result["fit"], result["loops"]
    assert fit["series"] == 3 and fit["epochs"] == 2  # every epoch asked for
    assert fit["steps"] == 2 * math.ceil(fit["train_samples"] / fit["batch_size"])
    assert fit["write_seconds"] + fit["setup_seconds"] + fit["training_seconds"] <= fit["total_seconds"]
    assert loops["model"] == "student_t head on return, abs_return, ma_dev"  # the preset's model
    assert loops["train_samples"] == fit["train_samples"]  # the loops train on the fit's panel
    assert loops["ratio"] == pytest.approx(statistics.median(loops["paired_ratios"]))
    assert proc.stdout.strip().splitlines()[-1].startswith(f"loop_ratio: {loops['ratio']:.3f}")

    text = doc.read_text()
    assert "<!-- bench:universe -->\nuniverse table\n<!-- /bench:universe -->" in text  # others untouched
    section = text[text.index("<!-- bench:universe-gpu -->") :]
    assert f"**{fit['total_seconds']:.1f} s** | ≤ 300 s" in section and f"**{loops['ratio']:.3f}**" in section


def test_the_gpu_run_trains_on_the_gpu_trainer_without_early_stopping(tmp_path):
    cfg = compose([*overrides_of(settings_from(parse_args([]))), "trainer.max_epochs=10"], tmp_path)
    assert cfg.trainer.accelerator == "gpu" and cfg.trainer.devices == 1 and cfg.trainer.max_epochs == 10
    assert cfg.data.source == "skfolio"  # the universe preset, before the panel overrides
    names = {type(c).__name__ for c in build_callbacks(cfg, tmp_path)}
    assert "EarlyStopping" not in names and "ModelCheckpoint" in names


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown where there is no GPU")
def test_cuda_without_a_gpu_says_so():
    with pytest.raises(SystemExit, match=r"torch\.cuda\.is_available\(\) is False"):
        benchmark(settings_from(parse_args(["--tiny"])))


def test_bad_settings_name_the_option():
    with pytest.raises(SystemExit, match="--epochs must be at least 1, got 0"):
        settings_from(parse_args(["--epochs", "0"]))


def test_overrides_reach_every_run_after_the_preset(tmp_path):
    settings = settings_from(
        parse_args(["--override", "data.batch_size=1024", "--override", "model.hidden=32"])
    )
    cfg = compose(overrides_of(settings), tmp_path)
    assert (cfg.data.batch_size, cfg.model.hidden) == (1024, 32)
    tiny = settings_from(parse_args(["--tiny", "--override", "data.window=12"]))
    assert tiny.overrides[-1] == "data.window=12" and "model.hidden=8" in tiny.overrides
