"""`python -m benchmarks universe` runs on a tiny setting and writes its JSON and docs section; its synthetic
universe is seeded, ragged and read by `data.source=panel`."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict

import pytest

from benchmarks.synthetic_universe import MIN_LENGTH_FRAC, synthetic_panel, write_universe
from benchmarks.universe import parse_args, settings_from
from benchmarks.universe_table import TIME_TARGET_S, command_line, full_history_lines
from closecast.data.universe import read_panel
from tests.helpers.entries import run_module


def test_the_synthetic_universe_is_seeded(tmp_path):
    same = [write_universe(tmp_path / f"{name}.csv", 4, 300, seed=7) for name in ("a", "b")]
    other = write_universe(tmp_path / "c.csv", 4, 300, seed=8)
    assert same[0].read_bytes() == same[1].read_bytes()
    assert other.read_bytes() != same[0].read_bytes()


def test_the_synthetic_universe_is_ragged_and_reads_as_a_panel(tmp_path):
    path = write_universe(tmp_path / "universe.parquet", 6, 500, seed=0)
    frames = read_panel("panel", str(path), "auto", None)
    assert list(frames) == [f"S{i}" for i in range(6)]
    lengths = {name: len(frame) for name, frame in frames.items()}
    assert all(MIN_LENGTH_FRAC * 500 <= n <= 500 for n in lengths.values())
    assert len(set(lengths.values())) > 1  # random lengths, so random first days
    assert (
        len({str(frame["date"].iloc[-1]) for frame in frames.values()}) == 1
    )  # every one ends on the last day
    returns = (
        synthetic_panel(6, 500, seed=0)
        .groupby("series")["close"]
        .apply(lambda c: c.apply(math.log).diff().dropna().abs().max())
    )
    assert (returns < 0.5).all()  # no one-day move the cleaning step would take for a split


@pytest.mark.slow  # the entry started as a user starts it, with three fresh child processes of its own
def test_tiny_run_writes_json_and_its_docs_section(tmp_path):
    out, doc = tmp_path / "universe.json", tmp_path / "BENCHMARKS.md"
    doc.write_text("# Benchmarks\n\n<!-- bench:train -->\ntrain table\n<!-- /bench:train -->\n")

    proc = run_module(
        "benchmarks",
        "universe",
        "--tiny",
        "--json",
        str(out),
        "--update-docs",
        "--docs",
        str(doc),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]

    result = json.loads(out.read_text())
    preset, loops, memory = result["preset"], result["loops"], result["memory"]
    assert result["full_history"] is None  # the tiny run skips the second preset run
    assert preset["series"] == 2 and preset["epochs"] == 1 and preset["peak_rss_gb"] > 0
    phase_sum = sum(p["seconds"] for name, p in preset["phases"].items() if "again" not in name)
    assert 0 < phase_sum <= preset["total"]["seconds"] * 1.001  # the phases are parts of the whole run
    assert loops["ratio"] == pytest.approx(statistics.median(loops["paired_ratios"]))
    bare = loops["rounds"]["barebones"][0]
    assert (
        bare["samples"] == loops["train_samples"] and bare["seconds"] > 0
    )  # Lightning's loop, all features off
    # Each ratio is the median of the rounds' own: here the one round's.
    assert loops["barebones_ratio"] == pytest.approx(
        bare["samples_per_s"] / loops["rounds"]["plain"][0]["samples_per_s"]
    )
    assert loops["series"] == 2 and loops["rounds"]["project"][0]["samples"] == loops["train_samples"] > 0
    # Every side trains what the preset trains: the default Student-t head on the three close inputs.
    assert loops["model"] == "student_t head on return, abs_return, ma_dev"
    assert memory["series"] == 3 and memory["steps"] == 5 and memory["peak_rss_gb"] > 0
    assert proc.stdout.strip().splitlines()[-1].startswith(f"memory_peak_rss_gb: {memory['peak_rss_gb']:.2f}")

    text = doc.read_text()
    assert "<!-- bench:train -->\ntrain table\n<!-- /bench:train -->" in text  # other sections untouched
    section = text[text.index("<!-- bench:universe -->") : text.index("<!-- /bench:universe -->")]
    assert "## Universe (`python -m benchmarks universe`)" in section
    assert f"**{loops['ratio']:.3f}**" in section and "≥ 0.9" in section
    assert (
        f"| Ratio barebones Lightning / plain: the framework's own share | {loops['barebones_ratio']:.3f} |"
        in section
    )


def test_bad_settings_name_the_option():
    with pytest.raises(SystemExit, match="--steps must be at least 1, got 0"):
        settings_from(parse_args(["--tiny", "--steps", "0"]))


def test_the_whole_history_run_is_on_by_default_and_off_when_asked_or_tiny():
    assert settings_from(parse_args([])).full_history
    assert not settings_from(parse_args(["--no-full-history"])).full_history
    assert not settings_from(parse_args(["--tiny"])).full_history
    assert "--no-full-history" in command_line({**asdict(settings_from(parse_args(["--no-full-history"])))})


def test_the_whole_history_table_gives_its_prices_and_time_beside_the_target():
    phase = {"seconds": 250.4, "cpu_seconds": 240.0}
    full = {
        "prices": 166_321,
        "train_samples": 115_000,
        "epochs": 30,
        "phases": {"training epochs": {"seconds": 180.0, "cpu_seconds": 170.0}},
        "total": phase,
        "peak_rss_gb": 1.2,
        "overrides": ["data.start=1990-05-01"],
    }
    text = "\n".join(full_history_lines(full))
    assert "(`data.start=1990-05-01`: to 2022, 166,321 prices, 115,000 pooled training windows" in text
    assert (
        f"| **Whole run (first run: baselines fitted)** | **250.4 s (CPU 240.0 s)** | ≤ {TIME_TARGET_S} s |"
        in text
    )
    assert full_history_lines(None) == []


def test_the_command_line_repeats_the_settings_it_ran_with():
    assert (
        command_line(asdict(settings_from(parse_args([])))) == "python -m benchmarks universe --update-docs"
    )
    changed = asdict(settings_from(parse_args(["--rounds", "2", "--loop-epochs", "1"])))
    assert command_line(changed) == "python -m benchmarks universe --rounds 2 --loop-epochs 1 --update-docs"
