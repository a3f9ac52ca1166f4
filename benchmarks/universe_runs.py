"""The measured runs of the universe benchmark (`python -m benchmarks universe`), each in a fresh child
process (`in_child`), so that its peak resident memory is its own and every run starts from a cold import:
the preset's phases and the peak memory of training on a large synthetic panel."""

from __future__ import annotations

import multiprocessing
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import open_dict

from benchmarks.synthetic_universe import write_universe
from closecast import config as project_config
from closecast.training.run import fit_run, train
from closecast.training.series import finish_series

ROOT = Path(__file__).resolve().parents[1]


def in_child(function, *args: Any) -> Any:
    """`function(*args)` in a fresh (spawned) process; its return value."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def peak_rss_gb() -> float:
    """This process's peak resident memory so far, in GB of 10^9 bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def compose(overrides: list[str], run_dir: Path):
    """The project's `train` config in `run_dir` with `overrides`, its baselines cached under `run_dir`."""
    paths = [
        f"paths.root_dir={ROOT}",
        f"paths.log_dir={run_dir}",
        f"paths.checkpoints_dir={run_dir / 'published'}",
        f"baselines.cache_dir={run_dir / 'baselines'}",  # empty: the first scoring fits every baseline
    ]
    return project_config.compose_config("train", [*paths, *overrides], output_dir=run_dir)


class Clock:
    """Wall and CPU seconds since it started, read at named marks."""

    def __init__(self) -> None:
        self.t0, self.cpu0 = time.perf_counter(), time.process_time()
        self.marks: dict[str, tuple[float, float]] = {}

    def mark(self, name: str) -> None:
        self.marks[name] = (time.perf_counter() - self.t0, time.process_time() - self.cpu0)

    def between(self, a: str, b: str) -> dict[str, float]:
        (wa, ca), (wb, cb) = self.marks[a], self.marks[b]
        return {"seconds": wb - wa, "cpu_seconds": cb - ca}


class PhaseClock(pl.Callback):
    """Marks the fit's phases on a `Clock`, sums the validation passes and keeps the fitted module."""

    def __init__(self, clock: Clock) -> None:
        self.clock, self.val = clock, {"seconds": 0.0, "cpu_seconds": 0.0}
        self.epochs, self.module = 0, None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.clock.mark("fit_start")

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.clock.mark("train_start")

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.clock.mark("val_start")

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.clock.mark("val_end")
        for key, value in self.clock.between("val_start", "val_end").items():
            self.val[key] += value

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epochs += 1

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.clock.mark("train_end")
        self.module = pl_module


def preset_phases(overrides: list[str], run_dir: str) -> dict[str, Any]:
    """`python train.py <overrides>` as the job runs it (`closecast.training.run.train`), its baselines
    fitted afresh: wall and CPU seconds of each phase, then each series scored again with the baselines
    now cached (the end of a rerun), and the process's peak resident memory."""
    run_dir = Path(run_dir)
    clock = Clock()
    cfg = compose(overrides, run_dir)
    phases = PhaseClock(clock)
    train(cfg, extra_callbacks=[phases])
    clock.mark("end")
    loop = clock.between("train_start", "train_end")
    epochs_only = {k: loop[k] - phases.val[k] for k in loop}
    datamodule = phases.module.trainer.datamodule
    with open_dict(cfg):
        cfg.plots = False
    clock.mark("rescore_start")
    for member in datamodule.members.values():
        finish_series(cfg, member, phases.module.net, run_dir / "rescored", {})
    clock.mark("rescore_end")
    return {
        "phases": {
            "setup (config, data load/clean/split/encode, trainer)": _from_start(clock, "fit_start"),
            "fit start (Lightning, before the first step)": clock.between("fit_start", "train_start"),
            "training epochs": epochs_only,
            "validation passes": dict(phases.val),
            "end of run, cold (best checkpoint, scoring with baseline fits, artifact)": clock.between(
                "train_end", "end"
            ),
            "scoring every series again, warm (cached baselines)": clock.between(
                "rescore_start", "rescore_end"
            ),
        },
        "total": _from_start(clock, "end"),
        "epochs": phases.epochs,
        "series": len(datamodule.members),
        "prices": int(sum(len(m.series) for m in datamodule.members.values())),
        "train_samples": len(datamodule.parts["train"]),
        "batch_size": int(cfg.data.batch_size),
        "peak_rss_gb": peak_rss_gb(),
    }


def _from_start(clock: Clock, name: str) -> dict[str, float]:
    wall, cpu = clock.marks[name]
    return {"seconds": wall, "cpu_seconds": cpu}


def panel_overrides(panel: str | Path) -> list[str]:
    """The overrides that read every series of the panel file `panel` over its whole calendar."""
    return ["data.source=panel", "data.tickers=null", f"data.path={panel}", "data.start=null"]


def panel_fit(series: int, days: int, seed: int, overrides: list[str], run_dir: str) -> dict:
    """Write a synthetic panel of `series` x `days` (`synthetic_universe`) and train on it through the
    run's fit with `overrides` (`closecast.training.run.fit_run`: load, clean, split, encode, the epochs and
    their validation passes): what it trained on, the seconds of each part from before the panel was
    written, and the process's peak resident memory."""
    run_dir = Path(run_dir)
    clock = Clock()
    panel = write_universe(run_dir / "universe.parquet", series, days, seed)
    clock.mark("written")
    rss_before = peak_rss_gb()
    cfg = compose([*overrides, *panel_overrides(panel)], run_dir)
    phases = PhaseClock(clock)
    _, datamodule, fitted = fit_run(cfg, [phases])
    clock.mark("end")
    return {
        "panel": str(panel),
        "series": len(datamodule.members),
        "prices": int(sum(len(m.series) for m in datamodule.members.values())),
        "train_samples": len(datamodule.parts["train"]),
        "val_samples": len(datamodule.parts["val"]),
        "steps": int(fitted.trainer.global_step),
        "epochs": phases.epochs,
        "batch_size": int(cfg.data.batch_size),
        "write_seconds": clock.marks["written"][0],
        "setup_seconds": clock.between("written", "train_start")["seconds"],
        "training_seconds": clock.between("train_start", "train_end")["seconds"],
        "fit_run_seconds": clock.between("written", "end")["seconds"],
        "total_seconds": clock.marks["end"][0],
        "peak_rss_gb_before_training": rss_before,
        "peak_rss_gb": peak_rss_gb(),
    }


def panel_memory(series: int, days: int, steps: int, seed: int, overrides: list[str], run_dir: str) -> dict:
    """`panel_fit` for `steps` training steps of one epoch and its validation pass: the memory run."""
    steps_only = ["trainer.max_epochs=1", f"+trainer.limit_train_batches={steps}"]
    return panel_fit(series, days, seed, [*overrides, *steps_only], run_dir)
