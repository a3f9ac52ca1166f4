"""A universe on one GPU: 500 synthetic series x 5,000 days trained for 10 epochs, data preparation included,
and the project's loop against a plain PyTorch loop on the same pooled windows on the same card.

    python -m benchmarks universe-gpu                 # a CUDA device; one call of a few minutes
    python -m benchmarks universe-gpu --update-docs   # also rewrite its section of docs/BENCHMARKS.md
    python -m benchmarks universe-gpu --override data.batch_size=1024  # any preset key, as train.py takes it
    python -m benchmarks universe-gpu --tiny --device cpu --json x.json  # seconds-long check (the test)

Run from the repository root. Two measurements, each a normal run of the project:

1. Fit: a seeded GARCH(1,1)-t panel (`benchmarks.synthetic_universe`, ragged) written to Parquet, read by
   `data.source=panel` and trained through the run's fit (`closecast.training.run.fit_run`: load, clean,
   split, encode, every epoch with its validation pass, the best checkpoint) with the universe preset's
   settings on `trainer=gpu`, for `--epochs` epochs (early stopping off), in a fresh process. Timed from
   before the panel is written to the end of the fit.
2. Loops: `benchmarks.train_loops.compare_loops` on the same panel's pooled training windows on the same
   device: the project's Trainer, the plain loop and Lightning with every feature off, the preset's model
   on every side, rounds of each side in turn, medians of the rounds' ratios.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from benchmarks import document
from benchmarks.options import add_output_options, overridden
from benchmarks.train_loops import compare_loops, environment
from benchmarks.train_table import TARGET_RATIO
from benchmarks.universe_runs import compose, in_child, panel_fit, panel_overrides
from benchmarks.universe_settings import PRESET
from benchmarks.universe_table import loop_rows
from closecast.data.datamodule import PriceDataModule
from closecast.training.trainer import build

TIME_TARGET_S = 300  # 500 series x 5,000 days, 10 epochs, data preparation included, one GPU


@dataclass
class Settings:
    """What one run measures."""

    device: str
    series: int
    days: int
    epochs: int
    loop_epochs: int
    rounds: int
    overrides: list[str] = field(default_factory=list)  # over the preset, for every run
    seed: int = 0


DEFAULTS = dict(series=500, days=5000, epochs=10, loop_epochs=1, rounds=2)
TINY = dict(
    series=3,
    days=400,
    epochs=1,
    loop_epochs=1,
    rounds=1,
    overrides=["data.window=10", "data.batch_size=32", "model.hidden=8", "trainer.enable_progress_bar=false"],
)


def overrides_of(s: Settings) -> list[str]:
    """The preset on the chosen device's trainer, early stopping off, with the run's own overrides."""
    trainer = "trainer=gpu" if s.device == "cuda" else "trainer=cpu"
    return [*PRESET, trainer, "callbacks.early_stopping=null", *s.overrides]


def benchmark(s: Settings) -> dict:
    """The fit in a fresh process, then the loop rounds in this one, on the same panel."""
    if s.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch.cuda.is_available() is False (CPU build of torch or no GPU)")
    overrides = overrides_of(s)
    with tempfile.TemporaryDirectory(prefix="bench_universe_gpu_") as tmp:
        tmp = Path(tmp)
        print(f"fit ({s.series} series x {s.days} days, {s.epochs} epochs, {s.device}) ...", flush=True)
        fit = in_child(
            panel_fit,
            s.series,
            s.days,
            s.seed,
            [*overrides, f"trainer.max_epochs={s.epochs}"],
            str(tmp / "fit"),
        )
        print(f"fit: {fit['total_seconds']:.0f} s, {fit['epochs']} epochs", flush=True)
        cfg = compose(
            [*overrides, *panel_overrides(fit["panel"]), f"trainer.max_epochs={s.loop_epochs}"],
            tmp / "loops",
        )
        datamodule: PriceDataModule = build(cfg.data)
        datamodule.setup("fit")
        loops = compare_loops(cfg, datamodule, torch.device(s.device), s.rounds, tmp / "loops")
    return {
        "fit": fit,
        "loops": loops,
        "settings": asdict(s),
        "time_target_s": TIME_TARGET_S,
        **environment(),
    }


def markdown(result: dict) -> str:
    """The docs section: machine (the card), command, the fit beside its target, the loop ratios."""
    s, fit, loop = result["settings"], result["fit"], result["loops"]
    rows = [
        (
            "Panel",
            f"{fit['series']} series, {fit['prices']:,} prices, {fit['train_samples']:,} training windows",
        ),
        (
            "Model",
            f"{loop['model']}, batch {fit['batch_size']}, {fit['epochs']} epochs ({fit['steps']:,} steps)",
        ),
        ("Writing the panel", f"{fit['write_seconds']:.1f} s"),
        ("Load, clean, split, encode, Trainer", f"{fit['setup_seconds']:.1f} s"),
        ("Training epochs, validation passes included", f"{fit['training_seconds']:.1f} s"),
        ("Peak RSS of the process", f"{fit['peak_rss_gb']:.2f} GB"),
    ]
    lines = [
        "## A universe on one GPU (`python -m benchmarks universe-gpu`)",
        "",
        document.machine_line(result["machine"]),
        f"Settings: {json.dumps(s)}; torch {result['torch']}, Lightning {result['lightning']}.",
        "",
        "| Figure | Value | Target |",
        "|---|---|---|",
        *(f"| {a} | {b} | |" for a, b in rows),
        f"| **Whole fit, data preparation included** | **{fit['total_seconds']:.1f} s** "
        f"| ≤ {TIME_TARGET_S} s |",
        *loop_rows(loop),
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; unset ones take the defaults (or, with --tiny, the tiny settings)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks universe-gpu", description=__doc__.split("\n")[0])
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    p.add_argument("--tiny", action="store_true", help="a seconds-long run on tiny settings (for tests)")
    p.add_argument("--series", type=int, help="series of the synthetic panel")
    p.add_argument("--days", type=int, help="business days of the panel's calendar")
    p.add_argument("--epochs", type=int, help="epochs of the timed fit")
    p.add_argument("--loop-epochs", type=int, help="epochs of each timed loop round")
    p.add_argument("--rounds", type=int, help="timed loop rounds per side")
    p.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Hydra override of the preset for every run, e.g. data.batch_size=1024 (repeatable)",
    )
    p.add_argument("--seed", type=int, default=0)
    add_output_options(p)
    return p.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    """The defaults (or the tiny settings), overridden by any option given."""
    base = overridden(
        TINY if args.tiny else DEFAULTS, args, ("series", "days", "epochs", "loop_epochs", "rounds")
    )
    base["overrides"] = [*base.get("overrides", []), *args.override]
    return Settings(device=args.device, seed=args.seed, **base)


def main(argv: list[str]) -> int:
    """Run the benchmark, print one line per figure, optionally write JSON and the docs section."""
    args = parse_args(argv)
    result = benchmark(settings_from(args))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    if args.update_docs:
        document.update_section("universe-gpu", markdown(result), args.docs)
    fit, loop = result["fit"], result["loops"]
    card = result["machine"].get("gpu", "no GPU")
    print(f"device: {args.device} ({card})")
    print(f"fit_seconds: {fit['total_seconds']:.1f} (target <= {TIME_TARGET_S}; {fit['epochs']} epoch(s))")
    print(
        f"loop_ratio: {loop['ratio']:.3f} (target >= {TARGET_RATIO}; barebones {loop['barebones_ratio']:.3f})"
    )
    return 0
