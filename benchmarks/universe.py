"""Universe scale: the 20-stock preset's wall time by phase, the training loop against a plain PyTorch loop on
the pooled universe, and the peak memory of training on a large synthetic panel.

    python -m benchmarks universe                   # CPU, the preset's default settings
    python -m benchmarks universe --update-docs     # also rewrite its section of docs/BENCHMARKS.md
    python -m benchmarks universe --tiny --json x.json  # seconds-long check that it runs (the test uses it)

Run from the repository root. Three measurements, each a normal run of the project:

1. Preset: `python train.py experiment=universe plots=false` (the 20 skfolio stocks) in a fresh process with
   an empty baseline cache (a first run's cost), timed by phase; then every series is scored again with
   the baselines now cached (what a rerun pays at its end). Then the same on the dataset's whole history
   (`data.start=1990-05-01` to 2022; `--no-full-history` skips it).
2. Loops: the project's Trainer against the plain loop of `python -m benchmarks train`
   (`benchmarks.train_loops`, one implementation) on the preset's pooled training windows at the preset's
   batch size, the preset's model (the default Student-t head on three inputs) on every side, rounds of each
   side in turn, the ratio the median of the rounds' own ratios.
3. Memory: a seeded GARCH(1,1)-t panel (`benchmarks.synthetic_universe`, ragged: random lengths and starts)
   read by `data.source=panel`, trained through the run's fit (`fit_run`: load, clean, split, encode, a
   few hundred steps of one epoch and its full validation pass) in a fresh process; its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch

from benchmarks import document
from benchmarks.options import add_output_options, overridden
from benchmarks.train_loops import compare_loops, environment
from benchmarks.universe_runs import compose, in_child, panel_memory, preset_phases
from benchmarks.universe_settings import DEFAULTS, FULL_HISTORY, TINY, Settings
from benchmarks.universe_table import MEMORY_TARGET_GB, TIME_TARGET_S, markdown
from closecast.data.datamodule import PriceDataModule
from closecast.training.trainer import build


def loops(s: Settings, tmp: Path) -> dict:
    """The project's Trainer against the plain loop on the preset's pooled training windows."""
    overrides = [*s.preset, f"trainer.max_epochs={s.loop_epochs}", f"seed={s.seed}"]
    cfg = compose(overrides, tmp / "loops")
    datamodule: PriceDataModule = build(cfg.data)
    datamodule.setup("fit")
    result = compare_loops(cfg, datamodule, torch.device("cpu"), s.rounds, tmp / "loops")
    return {**result, "batch_size": int(cfg.data.batch_size), "series": len(datamodule.members)}


def benchmark(s: Settings) -> dict:
    """The three measurements, one after the other, each in its own run dir."""
    with tempfile.TemporaryDirectory(prefix="bench_universe_") as tmp:
        tmp = Path(tmp)
        print("preset run (fresh process, empty baseline cache) ...", flush=True)
        preset = in_child(preset_phases, s.preset, str(tmp / "preset"))
        print(f"preset: {preset['total']['seconds']:.0f} s, {preset['epochs']} epochs", flush=True)
        full = None
        if s.full_history:
            print(f"preset on the whole history ({FULL_HISTORY[0]}) ...", flush=True)
            full = in_child(preset_phases, [*s.preset, *FULL_HISTORY], str(tmp / "full_history"))
            full["overrides"] = FULL_HISTORY
            print(f"whole history: {full['total']['seconds']:.0f} s, {full['epochs']} epochs", flush=True)
        loop = loops(s, tmp)
        print(f"memory run ({s.series} series x {s.days} days, {s.steps} steps) ...", flush=True)
        memory = in_child(panel_memory, s.series, s.days, s.steps, s.seed, s.preset, str(tmp / "memory"))
    return {
        "preset": preset,
        "full_history": full,
        "loops": loop,
        "memory": memory,
        "time_target_s": TIME_TARGET_S,
        "memory_target_gb": MEMORY_TARGET_GB,
        "settings": asdict(s),
        **environment(),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; unset ones take the defaults (or, with --tiny, the tiny settings)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks universe", description=__doc__.split("\n", 1)[0])
    p.add_argument("--tiny", action="store_true", help="a seconds-long run on tiny settings (for tests)")
    p.add_argument("--rounds", type=int, help="timed loop rounds per side")
    p.add_argument("--loop-epochs", type=int, help="epochs of each timed loop round")
    p.add_argument("--series", type=int, help="series of the synthetic panel of the memory run")
    p.add_argument("--days", type=int, help="business days of the synthetic panel's calendar")
    p.add_argument("--steps", type=int, help="training steps of the memory run")
    p.add_argument(
        "--no-full-history", action="store_true", help="skip the preset's second run on the whole history"
    )
    p.add_argument("--seed", type=int, default=0)
    add_output_options(p)
    return p.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    """The defaults (or the tiny settings), overridden by any option given."""
    base = overridden(
        TINY if args.tiny else DEFAULTS, args, ("rounds", "loop_epochs", "series", "days", "steps")
    )
    if args.no_full_history:
        base["full_history"] = False
    return Settings(seed=args.seed, **base)


def main(argv: list[str]) -> int:
    """Run the benchmark, print one line per figure, optionally write JSON and the docs section."""
    args = parse_args(argv)
    torch.set_num_threads(1)  # the project's `threads` default, for the loop rounds in this process
    result = benchmark(settings_from(args))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    if args.update_docs:
        document.update_section("universe", markdown(result), args.docs)
    preset, loop, memory = result["preset"], result["loops"], result["memory"]
    print(f"preset_seconds: {preset['total']['seconds']:.0f} (target <= {TIME_TARGET_S})")
    print(f"preset_peak_rss_gb: {preset['peak_rss_gb']:.2f}")
    if result["full_history"]:
        full = result["full_history"]
        print(f"full_history_seconds: {full['total']['seconds']:.0f} ({full['prices']:,} prices)")
    print(f"loop_ratio: {loop['ratio']:.3f} (plain {loop['plain_samples_per_s']:.0f} samples/s)")
    print(f"memory_peak_rss_gb: {memory['peak_rss_gb']:.2f} (target <= {MEMORY_TARGET_GB})")
    return 0
