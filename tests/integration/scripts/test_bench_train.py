"""`python -m benchmarks train` runs on a tiny setting and writes valid JSON and its docs table (no timings);
bad settings are refused naming the option."""

from __future__ import annotations

import json
import math
import statistics

import pytest
import torch

from benchmarks.train import benchmark, parse_args, settings_from
from benchmarks.train_loops import network
from benchmarks.train_settings import compose_config
from closecast.training.trainer import build
from tests.helpers.entries import run_module


@pytest.mark.slow  # the entry started as a user starts it: a subprocess each
def test_tiny_run_writes_json_and_its_docs_table(tmp_path):
    out, doc = tmp_path / "train.json", tmp_path / "BENCHMARKS.md"
    doc.write_text("# Benchmarks\n\n<!-- bench:serve -->\nserving table\n<!-- /bench:serve -->\n")

    proc = run_module(
        "benchmarks",
        "train",
        *("--tiny", "--threads", "1", "--json", str(out), "--update-docs", "--docs", str(doc)),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]

    result = json.loads(out.read_text())
    assert result["device"] == "cpu"
    for key in (
        "ratio",
        "project_samples_per_s",
        "plain_samples_per_s",
        "project_fit_samples_per_s",
        "barebones_ratio",
    ):
        assert math.isfinite(result[key]) and result[key] > 0, key
    assert result["ratio"] == pytest.approx(statistics.median(result["paired_ratios"]))
    assert (
        result["settings"] | {"device": "cpu", "hidden": 8, "layers": 1, "window": 10} == result["settings"]
    )
    # Both sides trained on every training window once per epoch: the same work, counted the same way.
    project, plain = result["rounds"]["project"][0], result["rounds"]["plain"][0]
    epochs = result["settings"]["epochs"]
    assert project["samples"] == plain["samples"] == result["train_samples"] * epochs > 0
    assert result["model"] == "student_t head on return, abs_return, ma_dev"  # the default model
    # The figures come last, one line each, the ratio at the end.
    assert proc.stdout.strip().splitlines()[-1].startswith(f"ratio: {result['ratio']:.3f}")

    text = doc.read_text()
    assert "<!-- bench:serve -->\nserving table\n<!-- /bench:serve -->" in text  # other tables untouched
    table = text[text.index("<!-- bench:train -->") : text.index("<!-- /bench:train -->")]
    assert f"**{result['ratio']:.3f}**" in table and "≥ 0.9" in table
    assert "`python -m benchmarks train --hidden 8 --layers 1 --window 10 --batch-size 32" in table


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown where there is no GPU")
def test_cuda_without_a_gpu_says_so():
    settings = settings_from(parse_args(["--device", "cuda", "--tiny"]))
    with pytest.raises(SystemExit, match=r"torch\.cuda\.is_available\(\) is False"):
        benchmark(settings)


def test_bad_settings_name_the_option():
    with pytest.raises(SystemExit, match="--rows 20 must lie in"):
        settings_from(parse_args(["--tiny", "--rows", "20"]))
    with pytest.raises(SystemExit, match="--epochs must be at least 1, got 0"):
        settings_from(parse_args(["--tiny", "--epochs", "0"]))


def test_every_side_trains_the_configs_network_and_loss(tmp_path):
    cfg = compose_config(settings_from(parse_args(["--tiny"])), tmp_path / "run", None)
    datamodule = build(cfg.data)
    datamodule.setup("fit")
    train = datamodule.parts["train"]
    net, likelihood = network(cfg, train)
    assert likelihood.name == cfg.model.likelihood == "student_t"
    assert net.lstm.input_size == datamodule.codec.n_features == 3
    out = net(train.x[:16])
    assert out.shape == (16, 1, likelihood.n_params)  # a distribution head, scored by its NLL
    assert torch.isfinite(likelihood.loss(out, train.y[:16]))


def test_rounds_rotate_the_sides_and_each_ratio_is_the_median_of_the_rounds_own(tmp_path, monkeypatch):
    """A machine whose speed drifts from round to round: each round's own ratio compares sides run
    seconds apart, and the ratio is their median, not a ratio of the sides' medians (1.0 here)."""
    from benchmarks import train_loops

    cfg = compose_config(settings_from(parse_args(["--tiny"])), tmp_path / "run", None)
    datamodule = build(cfg.data)
    datamodule.setup("fit")
    order: list[str] = []
    speeds = [1.0, 1.0, 3.0, 0.2]  # the machine's, in the warm-up and in each of three rounds
    factors = {"project": [1.25, 1.0, 2.0, 1.25], "plain": [1.0] * 4, "barebones": [1.1] * 4}  # time taken

    def timed(name: str):
        def run(*args, **kwargs) -> dict:
            order.append(name)
            r = (len(order) - 1) // 3
            seconds = factors[name][r] / speeds[r]
            return {"samples": 1000, "seconds": seconds, "val_seconds": 0.0, "cpu_seconds": seconds,
                    "fit_seconds": seconds}  # fmt: skip

        return run

    for name in factors:
        monkeypatch.setattr(train_loops, f"run_{name}", timed(name))
    result = train_loops.compare_loops(cfg, datamodule, torch.device("cpu"), 3, tmp_path)
    # The warm-up, then the sides' order rotated round by round: none always first or last.
    assert order == ["project", "plain", "barebones"] * 2 + ["plain", "barebones", "project"] + [
        "barebones", "project", "plain"
    ]  # fmt: skip
    assert result["paired_ratios"] == pytest.approx([1.0, 0.5, 0.8])
    assert result["ratio"] == pytest.approx(0.8)
    assert result["project_samples_per_s"] / result["plain_samples_per_s"] == pytest.approx(1.0)
    assert result["barebones_ratio"] == pytest.approx(1 / 1.1)
    assert result["train_only_ratio"] == pytest.approx(0.8) and result["cpu_time_ratio"] == pytest.approx(0.8)
