"""Training speed: the project's training path against a plain PyTorch loop, side by side in one run.

    python -m benchmarks train                      # CPU, the project's default model and data
    python -m benchmarks train --device cuda --json bench_train_gpu.json
    python -m benchmarks train --update-docs        # also rewrite the `train` table of docs/BENCHMARKS.md
    python -m benchmarks train --tiny --json x.json # seconds-long check that it runs (the test uses it)

Run from the repository root (`python -m` puts it on `sys.path`, so `benchmarks.…` and `configs/` resolve).

Project side: the config composed from `configs/` (Hydra compose API), `PriceDataModule` with its resident
`Batches`, `ForecastModule` stepped by Lightning's own loop (one batch per step), and a
`pytorch_lightning.Trainer` with the run's callbacks (checkpointing, early stopping, progress bar) and
TensorBoard logger, writing into a temporary run dir: a normal run, only with fewer epochs. Plain side: a
hand-written loop over the same training tensors on the same device with the same network class, optimizer
config, loss, gradient clipping, batch size and epochs, drawing shuffled index batches, and computing the
validation loss after each epoch (the project's run validates every epoch to pick its checkpoint, so both
sides do that work).

What is timed: from the first training step to the end of the last epoch. For the project that is
Lightning's `on_train_start` .. `on_train_end`, so it includes every per-epoch cost of a normal run
(validation pass and metrics, checkpoint writes, TensorBoard events, progress bar) and excludes the
one-off work before the loop (data loading and windowing, Trainer construction, moving the model). The
whole `trainer.fit` call is reported beside it as `project_fit_samples_per_s`. After one untimed warm-up
epoch of each side, each round runs every side once, their order rotated from round to round; each ratio
is the median over the rounds of that round's own ratio (the machine's speed drifts between rounds).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch

from benchmarks import document
from benchmarks.train_loops import compare_loops, environment
from benchmarks.train_settings import Settings, compose_config, settings_from, synthetic_csv
from benchmarks.train_table import TARGET_RATIO, markdown
from closecast.data.datamodule import PriceDataModule
from closecast.training.trainer import build


def benchmark(s: Settings) -> dict:
    """Warm up every side, then rounds of each side in turn; medians of samples/s and of the paired ratios."""
    if s.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch.cuda.is_available() is False (CPU build of torch or no GPU)")
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        tmp = Path(tmp)
        data_csv = synthetic_csv(s.rows, tmp, s.seed) if s.rows else None
        cfg = compose_config(s, tmp / "run", data_csv)
        datamodule: PriceDataModule = build(cfg.data)
        datamodule.setup("fit")  # one-off load/clean/window, shared by both sides and by every round
        result = compare_loops(cfg, datamodule, torch.device(s.device), s.rounds, tmp)
    return {
        **result,
        "device": s.device,
        "target_ratio": TARGET_RATIO,
        "settings": asdict(s),
        **environment(),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; unset model/data/epoch options take the per-device defaults."""
    p = argparse.ArgumentParser(prog="python -m benchmarks train", description=__doc__.split("\n", 1)[0])
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--tiny", action="store_true", help="a seconds-long run on a tiny model (for tests)")
    p.add_argument("--hidden", type=int)
    p.add_argument("--layers", type=int)
    p.add_argument("--window", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--rounds", type=int, help="timed rounds per side")
    p.add_argument("--rows", type=int, help="train on a synthetic series of this many days")
    p.add_argument("--ticker", default="AAPL", help="bundled sample ticker (when --rows is not given)")
    p.add_argument("--start", help="first date of the sample series, YYYY-MM-DD")
    p.add_argument(
        "--threads",
        type=int,
        help="torch intra-op threads for both sides (default on the CPU: the project's `threads` setting, "
        "1; on a GPU: torch's choice)",
    )
    p.add_argument("--json", type=Path, help="write the result as JSON here")
    p.add_argument("--update-docs", action="store_true", help="rewrite this benchmark's table in the docs")
    p.add_argument("--docs", type=Path, default=document.DOC, help="the benchmarks document to update")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    """Run the benchmark, print one line per figure (last), optionally write JSON and the docs table."""
    args = parse_args(argv)
    settings = settings_from(args)
    if settings.threads:
        # On a shared machine, fewer threads than cores avoids OpenMP oversubscription stalls.
        torch.set_num_threads(settings.threads)
    result = benchmark(settings)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    if args.update_docs:
        document.update_section(
            "train-gpu" if settings.device == "cuda" else "train",
            markdown(result),
            args.docs,
        )
    card = result["machine"].get("gpu") if settings.device == "cuda" else None
    print(f"device: {result['device']}" + (f" ({card})" if card else ""))
    print(f"plain_samples_per_s: {result['plain_samples_per_s']:.0f}")
    print(f"project_samples_per_s: {result['project_samples_per_s']:.0f}")
    print(f"project_fit_samples_per_s: {result['project_fit_samples_per_s']:.0f}")
    verdict = "ok" if result["ratio"] >= TARGET_RATIO else "BELOW TARGET"
    print(f"ratio: {result['ratio']:.3f} (target >= {TARGET_RATIO}: {verdict})")
    return 0
