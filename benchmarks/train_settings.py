"""What one training-speed benchmark run trains (`python -m benchmarks train`): the settings and their
per-device defaults, the command line that repeats them, the synthetic series and the project config they
compose."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from closecast import config as project_config

ROOT = Path(__file__).resolve().parents[1]
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


# Per device: the CPU runs the project's default model and data; the GPU runs the settings of the
# published H200 figures (`train_table`) on a longer (synthetic) series so that an epoch is hundreds of
# steps rather than five. On the CPU, rounds are a multiple of three (each order of the three sides as often)
# of eight epochs each (once-a-fit costs weigh little, as in a run).
DEFAULTS = {
    "cpu": dict(hidden=64, layers=2, window=30, batch_size=64, epochs=8, rounds=9, rows=None),
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
    ]
    if data_csv is not None:
        overrides += ["data.source=csv", f"data.path={data_csv}"]
    if s.start:
        overrides.append(f"data.start={s.start}")
    return project_config.compose_config("train", overrides, output_dir=run_dir)


def command_line(s: dict) -> str:
    """The command that repeats a run with these settings (output paths left out)."""
    parts = ["python -m benchmarks train"]
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
