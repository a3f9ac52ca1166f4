"""Training speed: the project's training path against a plain PyTorch loop, side by side in one run.

    python scripts/bench_train.py                      # CPU, the project's default model and data
    python scripts/bench_train.py --device cuda --json bench_train_gpu.json
    python scripts/bench_train.py --update-docs        # also rewrite the `train` table of docs/BENCHMARKS.md
    python scripts/bench_train.py --tiny --json x.json # seconds-long check that it runs (the test uses it)

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
whole `trainer.fit` call is reported beside it as `project_fit_samples_per_s`. The rounds alternate
project/plain (A/B/A/B) after one untimed warm-up epoch of each, and the medians give the ratio.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchdoc  # noqa: E402  (sibling script module, not part of the package)

from closecast import config as project_config  # noqa: E402
from closecast.data import EVAL_BATCH_SIZE, PriceDataModule, WindowSet  # noqa: E402
from closecast.training import build, build_callbacks, build_module_and_trainer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 0.9
# The GPU reference: a plain loop with resident tensors on an H200 at these settings.
GPU_REFERENCE_SAMPLES_PER_S = 137_874
GPU_REFERENCE_DATALOADER = 69_664  # the same loop fed by a DataLoader
GPU_REFERENCE_LIGHTNING = 44_954  # Lightning fed by a DataLoader
SYNTHETIC_START = "1678-01-01"
MAX_ROWS = 200_000  # days from SYNTHETIC_START that stay before pandas' last Timestamp (2262)


@dataclass
class Settings:
    """What one benchmark run trains: the same on both sides."""

    device: str
    hidden: int
    layers: int
    window: int
    batch_size: int
    epochs: int
    rounds: int
    ticker: str
    start: str | None
    rows: int | None  # synthetic series length; None = the bundled sample prices of `ticker`
    threads: int | None = None  # torch intra-op threads; None = torch's default
    seed: int = 0


# Per device: the CPU runs the project's default model and data; the GPU runs the reference
# settings on a longer (synthetic) series so that an epoch is hundreds of steps rather than five.
DEFAULTS = {
    "cpu": dict(hidden=64, layers=2, window=30, batch_size=64, epochs=8, rounds=5, rows=None),
    "cuda": dict(hidden=64, layers=2, window=60, batch_size=512, epochs=5, rounds=3, rows=200_000),
}
TINY = dict(hidden=8, layers=1, window=10, batch_size=32, epochs=1, rounds=1, rows=None, start="2009-01-01")


def synthetic_csv(rows: int, folder: Path, seed: int) -> Path:
    """A seeded geometric random walk of `rows` days in the Yahoo column layout."""
    rng = np.random.default_rng(seed)
    prices = 100.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, rows)))
    # Calendar days from pandas' earliest date: the longest run of dates a Timestamp can hold.
    dates = pd.date_range(SYNTHETIC_START, periods=rows, freq="D")
    path = folder / f"synthetic_{rows}.csv"
    pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Close": prices}).to_csv(path, index=False)
    return path


def compose_config(s: Settings, run_dir: Path, data_csv: Path | None) -> DictConfig:
    """The project's `train` config with the benchmark's overrides; everything else as in a normal run."""
    overrides = [
        f"paths.root_dir={ROOT}",
        f"paths.output_dir={run_dir}",
        f"paths.checkpoints_dir={run_dir / 'published'}",
        f"paths.log_dir={run_dir}",
        f"seed={s.seed}",
        f"model.hidden={s.hidden}",
        f"model.layers={s.layers}",
        f"data.window={s.window}",
        f"data.batch_size={s.batch_size}",
        f"data.ticker={s.ticker}",
        f"trainer.max_epochs={s.epochs}",
        f"trainer.accelerator={'gpu' if s.device == 'cuda' else 'cpu'}",
        "trainer.devices=1",
        # The plain loop below is the point network's (MSE on the return input): both sides run the same.
        "model.likelihood=none",
        "data.features=[return]",
    ]
    if data_csv is not None:
        overrides += ["data.source=csv", f"data.path={data_csv}"]
    if s.start:
        overrides.append(f"data.start={s.start}")
    return project_config.compose_config("train", overrides, output_dir=run_dir)


class LoopTimer(pl.Callback):
    """Wall time from the first training step to the end of fit, the part of it spent validating, and
    the samples trained on. Placed first among the callbacks, so the checkpoint writes that follow each
    validation count as training time."""

    def __init__(self, device: torch.device, samples_per_epoch: int) -> None:
        self.device = device
        self.samples_per_epoch = samples_per_epoch
        self.samples = 0
        self.seconds = math.nan
        self.val_seconds = 0.0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        _sync(self.device)
        self.t0, self.cpu0 = time.perf_counter(), time.process_time()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Counted per epoch, not per batch: a per-batch hook would add its own cost to every step.
        self.samples += self.samples_per_epoch

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        _sync(self.device)
        self.val_t0 = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        _sync(self.device)
        self.val_seconds += time.perf_counter() - self.val_t0

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        _sync(self.device)
        self.seconds = time.perf_counter() - self.t0
        self.cpu_seconds = time.process_time() - self.cpu0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_project(cfg: DictConfig, datamodule: PriceDataModule, device: torch.device, run_dir: Path) -> dict:
    """One fit through the project's Trainer; returns samples, loop seconds and whole-fit seconds."""
    with open_dict(cfg):
        cfg.paths.output_dir = str(run_dir)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    timer = LoopTimer(device, len(datamodule.parts["train"]))
    logger = build(cfg.logger, save_dir=str(run_dir))
    callbacks = [timer, *build_callbacks(cfg, run_dir)]
    module, trainer = build_module_and_trainer(cfg, datamodule, callbacks, logger)  # as `fit_network` does
    gc.collect()  # start each timed run, on either side, from the same clean heap
    t0 = time.perf_counter()
    trainer.fit(module, datamodule=datamodule)
    _sync(device)
    fit_seconds = time.perf_counter() - t0
    if not list((run_dir / "checkpoints").glob("*.ckpt")):
        raise RuntimeError(f"project run wrote no checkpoint under {run_dir}; the benchmark would be unfair")
    return {
        "samples": timer.samples,
        "seconds": timer.seconds,
        "val_seconds": timer.val_seconds,
        "cpu_seconds": timer.cpu_seconds,
        "fit_seconds": fit_seconds,
    }


def run_plain(cfg: DictConfig, train: WindowSet, val: WindowSet, epochs: int, seed: int) -> dict:
    """The hand-written loop: Adam (from the config), MSE, clipping as configured, shuffled index batches,
    and after each epoch the validation loss, as the project's run computes it for checkpointing."""
    x, y = train.x, train.y
    device = x.device
    torch.manual_seed(seed)
    net = build(cfg.model, input_size=1, horizon=y.shape[1]).to(device)
    optimizer = build(cfg.optimizer)(params=net.parameters())
    loss_fn = nn.MSELoss()
    clip = cfg.trainer.get("gradient_clip_val")
    batch_size, n = int(cfg.data.batch_size), int(x.shape[0])
    generator = torch.Generator().manual_seed(seed)
    samples, val_seconds, val_loss = 0, 0.0, math.nan
    net.train()
    gc.collect()
    _sync(device)
    t0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator).to(device)
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(x[idx]), y[idx])
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(net.parameters(), float(clip))
            optimizer.step()
            samples += int(idx.shape[0])
        v0 = time.perf_counter()
        net.eval()
        with torch.inference_mode():
            step = max(batch_size, EVAL_BATCH_SIZE)
            pred = torch.cat([net(val.x[i : i + step]) for i in range(0, len(val), step)])
            val_loss = float(loss_fn(pred, val.y))  # read on the host, like a monitored metric
        net.train()
        val_seconds += time.perf_counter() - v0
    _sync(device)
    if not math.isfinite(val_loss):
        raise FloatingPointError(f"plain loop diverged (val loss {val_loss}); the comparison is void")
    return {
        "samples": samples,
        "seconds": time.perf_counter() - t0,
        "val_seconds": val_seconds,
        "cpu_seconds": time.process_time() - cpu0,
    }


def benchmark(s: Settings) -> dict:
    """Warm up both sides, then alternate project/plain rounds; medians and ratio of samples/s."""
    if s.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch.cuda.is_available() is False (CPU build of torch or no GPU)")
    device = torch.device(s.device)
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        tmp = Path(tmp)
        data_csv = synthetic_csv(s.rows, tmp, s.seed) if s.rows else None
        cfg = compose_config(s, tmp / "run", data_csv)
        datamodule: PriceDataModule = build(cfg.data)
        datamodule.setup("fit")  # one-off load/clean/window, shared by both sides and by every round
        train_part = datamodule.parts["train"].to(device)
        val_part = datamodule.parts["val"].to(device)
        n_train = len(train_part)

        warm = cfg.copy()
        with open_dict(warm):
            warm.trainer.max_epochs = 1
        run_project(warm, datamodule, device, tmp / "warmup")
        run_plain(warm, train_part, val_part, 1, s.seed)

        rounds: dict[str, list[dict]] = {"project": [], "plain": []}
        for r in range(s.rounds):
            project = run_project(cfg, datamodule, device, tmp / f"round{r}")
            plain = run_plain(cfg, train_part, val_part, s.epochs, s.seed)
            for name, res in (("project", project), ("plain", plain)):
                res["samples_per_s"] = res["samples"] / res["seconds"]
                res["train_only_samples_per_s"] = res["samples"] / (res["seconds"] - res["val_seconds"])
                res["samples_per_cpu_s"] = res["samples"] / res["cpu_seconds"]
                rounds[name].append(res)
            print(
                f"round {r + 1}/{s.rounds}: project {project['samples_per_s']:,.0f} samples/s "
                f"({project['seconds']:.2f} s loop, {project['fit_seconds']:.2f} s fit), "
                f"plain {plain['samples_per_s']:,.0f} samples/s ({plain['seconds']:.2f} s)",
                flush=True,
            )

    project_sps = statistics.median(r["samples_per_s"] for r in rounds["project"])
    plain_sps = statistics.median(r["samples_per_s"] for r in rounds["plain"])
    fit_sps = statistics.median(r["samples"] / r["fit_seconds"] for r in rounds["project"])
    project_cpu = statistics.median(r["samples_per_cpu_s"] for r in rounds["project"])
    plain_cpu = statistics.median(r["samples_per_cpu_s"] for r in rounds["plain"])
    project_train = statistics.median(r["train_only_samples_per_s"] for r in rounds["project"])
    plain_train = statistics.median(r["train_only_samples_per_s"] for r in rounds["plain"])
    return {
        "ratio": project_sps / plain_sps,
        "project_samples_per_s": project_sps,
        "plain_samples_per_s": plain_sps,
        "project_fit_samples_per_s": fit_sps,
        "fit_ratio": fit_sps / plain_sps,
        "project_train_only_samples_per_s": project_train,
        "plain_train_only_samples_per_s": plain_train,
        "train_only_ratio": project_train / plain_train,
        # Samples per second of process CPU time: on a machine shared with other jobs this moves far less
        # than wall time (on a GPU it mostly measures the host's waiting, so read it on the CPU only).
        "cpu_time_ratio": project_cpu / plain_cpu,
        "paired_ratios": [
            p["samples_per_s"] / q["samples_per_s"]
            for p, q in zip(rounds["project"], rounds["plain"], strict=True)
        ],
        "device": s.device,
        "target_ratio": TARGET_RATIO,
        "train_samples": n_train,
        "settings": asdict(s),
        "rounds": rounds,
        "machine": benchdoc.machine(),
        "torch": torch.__version__,
        "lightning": pl.__version__,
        "threads": torch.get_num_threads(),
    }


def command_line(s: dict) -> str:
    """The command that repeats a run with these settings (output paths left out)."""
    parts = ["python scripts/bench_train.py"]
    if s["device"] != "cpu":
        parts.append(f"--device {s['device']}")
    defaults = DEFAULTS[s["device"]]
    for key in ("hidden", "layers", "window", "batch_size", "epochs", "rounds", "rows"):
        if s[key] != defaults[key] and s[key] is not None:
            parts.append(f"--{key.replace('_', '-')} {s[key]}")
    if s["ticker"] != "AAPL":
        parts.append(f"--ticker {s['ticker']}")
    if s["start"]:
        parts.append(f"--start {s['start']}")
    if s["threads"]:
        parts.append(f"--threads {s['threads']}")
    return " ".join([*parts, "--update-docs"])


def markdown(result: dict) -> str:
    """The docs table: machine, date, command, figures, each target beside its figure."""
    s, m = result["settings"], result["machine"]
    cuda = s["device"] == "cuda"
    where = f"{m['cores']} cores, {m['cpu']}" + (f", GPU {m['gpu']}" if cuda and m.get("gpu") else "")
    data = f"synthetic random walk, {s['rows']:,} days" if s["rows"] else f"bundled {s['ticker']} sample"
    rows = [
        ("Machine", where, ""),
        ("Date", m["date"], ""),
        ("Command", f"`{command_line(s)}`", ""),
        (
            "Settings",
            f"{data} ({result['train_samples']:,} training windows), hidden {s['hidden']}, "
            f"{s['layers']} layers, window {s['window']}, batch {s['batch_size']}, {s['epochs']} epochs, "
            f"{s['rounds']} rounds each side A/B; torch {result['torch']}, Lightning {result['lightning']}, "
            f"torch threads: {result['threads']}",
            "",
        ),
        ("Plain PyTorch loop, samples/s (median)", f"{result['plain_samples_per_s']:,.0f}", ""),
        ("Project training loop, samples/s (median)", f"{result['project_samples_per_s']:,.0f}", ""),
        ("**Ratio project / plain**", f"**{result['ratio']:.3f}**", f"≥ {TARGET_RATIO}"),
        ("Ratio per round", ", ".join(f"{r:.3f}" for r in result["paired_ratios"]), ""),
        ("Ratio without the validation passes", f"{result['train_only_ratio']:.3f}", ""),
        ("Ratio of the whole `trainer.fit` (setup included)", f"{result['fit_ratio']:.3f}", ""),
    ]
    if cuda:
        rows.append(
            (
                "The issue's H200 figures (same model settings)",
                f"plain loop, resident tensors {GPU_REFERENCE_SAMPLES_PER_S:,}; plain loop through a "
                f"DataLoader {GPU_REFERENCE_DATALOADER:,}; Lightning with a DataLoader "
                f"{GPU_REFERENCE_LIGHTNING:,}",
                "",
            )
        )
    else:
        rows.append(
            (
                "Ratio of samples per CPU-second (steadier on a busy machine)",
                f"{result['cpu_time_ratio']:.3f}",
                "",
            )
        )
    lines = [
        f"## Training speed ({'GPU' if cuda else 'CPU'})",
        "",
        "The project's Trainer (validation, checkpoints, TensorBoard and progress bar every epoch, as in a",
        "normal run) against a plain PyTorch loop on the same tensors, network, optimizer, clipping, batch",
        "size and epochs that also computes the validation loss after each epoch. Time runs from the first",
        "training step to the end of the last epoch. The project side is Lightning's own loop, one batch",
        "per optimizer step: what it pays beyond the plain loop is that loop's per-step hooks and",
        "bookkeeping, the progress bar, and each epoch's checkpoints and TensorBoard events.",
        "",
        "| Figure | Value | Target |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; unset model/data/epoch options take the per-device defaults."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
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
    p.add_argument("--docs", type=Path, default=benchdoc.DOC, help="the benchmarks document to update")
    return p.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    """Defaults for the device (or the tiny setting), overridden by any option given."""
    base = {**DEFAULTS[args.device], "start": None, **(TINY if args.tiny else {})}
    if args.rows is not None:
        base["start"] = None  # a date range is a choice within the bundled sample, not the synthetic series
    for key in ("hidden", "layers", "window", "batch_size", "epochs", "rounds", "rows", "start"):
        value = getattr(args, key)
        if value is not None:
            base[key] = value
    for key in ("hidden", "layers", "window", "batch_size", "epochs", "rounds"):
        if base[key] < 1:
            raise SystemExit(f"--{key.replace('_', '-')} must be at least 1, got {base[key]}")
    if base["rows"] is not None and not 10 * base["window"] <= base["rows"] <= MAX_ROWS:
        raise SystemExit(
            f"--rows {base['rows']} must lie in [{10 * base['window']}, {MAX_ROWS:,}] for window "
            f"{base['window']} (ten windows at least; dates must fit pandas' calendar)"
        )
    if args.threads is not None and args.threads < 1:
        raise SystemExit(f"--threads must be at least 1, got {args.threads}")
    threads = args.threads
    if threads is None and args.device == "cpu":
        threads = int(OmegaConf.load(ROOT / "configs" / "train.yaml").threads)  # what a normal run uses
    return Settings(device=args.device, ticker=args.ticker, threads=threads, **base)


def main(argv: list[str] | None = None) -> int:
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
        benchdoc.update_section(
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


if __name__ == "__main__":
    raise SystemExit(main())
