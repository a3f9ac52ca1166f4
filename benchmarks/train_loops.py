"""The timed sides of the training-speed benchmarks (`python -m benchmarks train`, `... universe`): one fit
through the project's Trainer with a callback that times its loop, the hand-written PyTorch loop it is set
against, and between the two Lightning's own loop with every feature off (`barebones`): what the framework
costs before anything the project adds."""

from __future__ import annotations

import gc
import math
import statistics
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, open_dict
from torch import nn

from benchmarks import document
from closecast.data.batches import Batches
from closecast.data.datamodule import EVAL_BATCH_SIZE, PriceDataModule
from closecast.data.windows import WindowSet
from closecast.distributions.likelihood import Likelihood, likelihood_of
from closecast.training.trainer import build, build_callbacks, build_logger, build_module_and_trainer


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
    logger = build_logger(cfg, run_dir)
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


def network(cfg: DictConfig, train: WindowSet) -> tuple[nn.Module, Likelihood]:
    """The run's network and its likelihood (the training loss) as the project builds them from `cfg`: the
    same on every side of a comparison."""
    likelihood = likelihood_of(cfg.model.get("likelihood", "none"))
    inputs, horizon = int(train.x.shape[-1]), int(train.y.shape[1])
    return build(cfg.model, input_size=inputs, horizon=horizon, likelihood=likelihood), likelihood


def run_plain(cfg: DictConfig, train: WindowSet, val: WindowSet, epochs: int, seed: int) -> dict:
    """The hand-written loop: the config's network and its likelihood's loss (`network`), Adam (from the
    config), clipping as configured, shuffled index batches, and after each epoch the validation loss, as
    the project's run computes it for checkpointing."""
    x, y = train.x, train.y
    device = x.device
    torch.manual_seed(seed)
    net, likelihood = network(cfg, train)
    net = net.to(device)
    optimizer = build(cfg.optimizer)(params=net.parameters())
    loss_fn = likelihood.loss
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


class Barebones(pl.LightningModule):
    """The plain loop's step inside Lightning: the same network, loss, optimizer and validation loss."""

    def __init__(self, cfg: DictConfig, train: WindowSet) -> None:
        super().__init__()
        self.net, likelihood = network(cfg, train)
        self.loss_fn, self.optimizer_cfg = likelihood.loss, cfg.optimizer

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        return self.loss_fn(self.net(x), y)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.loss_fn(self.net(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return build(self.optimizer_cfg)(params=self.parameters())


def run_barebones(cfg: DictConfig, train: WindowSet, val: WindowSet, epochs: int, seed: int) -> dict:
    """`Barebones` fitted by `Trainer(barebones=True)` (no logger, checkpoints, progress bar or summary) on
    the plain loop's batches and clipping, a validation pass per epoch; timed by the project side's own
    `LoopTimer`, from the first training step to the end of fit, so that both Lightning sides leave out
    the same setup."""
    device = train.x.device
    torch.manual_seed(seed)
    module = Barebones(cfg, train)
    timer = LoopTimer(device, len(train))
    trainer = pl.Trainer(
        barebones=True,
        max_epochs=epochs,
        accelerator=device.type,
        devices=1,
        gradient_clip_val=cfg.trainer.get("gradient_clip_val"),
        callbacks=[timer],
    )
    batch_size = int(cfg.data.batch_size)
    loaders = {
        "train_dataloaders": Batches((train.x, train.y), batch_size, shuffle=True, seed=seed),
        "val_dataloaders": Batches((val.x, val.y), max(batch_size, EVAL_BATCH_SIZE), shuffle=False),
    }
    gc.collect()
    trainer.fit(module, **loaders)
    if timer.samples != epochs * len(train):
        raise RuntimeError(f"barebones Lightning trained {timer.samples} samples, not {epochs} epochs")
    return {
        "samples": timer.samples,
        "seconds": timer.seconds,
        "cpu_seconds": timer.cpu_seconds,
        "samples_per_s": timer.samples / timer.seconds,
    }


def compare_loops(
    cfg: DictConfig, datamodule: PriceDataModule, device: torch.device, rounds: int, tmp: Path
) -> dict:
    """One untimed warm-up epoch of each side, then `rounds` rounds of one fit of each side on the set-up
    `datamodule`, `cfg.trainer.max_epochs` epochs each, the sides' order rotated from round to round (so
    none always runs first or last). The machine's speed drifts from one stretch of seconds to the next, so
    each ratio is the median over the rounds of that round's own ratio: sides measured seconds apart."""
    train_part = datamodule.parts["train"].to(device)
    val_part = datamodule.parts["val"].to(device)
    epochs, seed = int(cfg.trainer.max_epochs), int(cfg.seed)
    warm = cfg.copy()
    with open_dict(warm):
        warm.trainer.max_epochs = 1
    run_project(warm, datamodule, device, tmp / "warmup")
    run_plain(warm, train_part, val_part, 1, seed)
    run_barebones(warm, train_part, val_part, 1, seed)

    runs = {
        "project": lambda r: run_project(cfg, datamodule, device, tmp / f"round{r}"),
        "plain": lambda r: run_plain(cfg, train_part, val_part, epochs, seed),
        "barebones": lambda r: run_barebones(cfg, train_part, val_part, epochs, seed),
    }
    names = list(runs)
    sides: dict[str, list[dict]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % 3 :] + names[: r % 3]:
            res = runs[name](r)
            res["samples_per_s"] = res["samples"] / res["seconds"]
            if name != "barebones":
                res["train_only_samples_per_s"] = res["samples"] / (res["seconds"] - res["val_seconds"])
            res["samples_per_cpu_s"] = res["samples"] / res["cpu_seconds"]
            sides[name].append(res)
        project, plain = sides["project"][-1], sides["plain"][-1]
        print(
            f"round {r + 1}/{rounds}: project {project['samples_per_s']:,.0f} samples/s "
            f"({project['seconds']:.2f} s loop, {project['fit_seconds']:.2f} s fit), "
            f"plain {plain['samples_per_s']:,.0f} samples/s ({plain['seconds']:.2f} s), "
            f"barebones Lightning {sides['barebones'][-1]['samples_per_s']:,.0f} samples/s",
            flush=True,
        )

    def median(side: str, key: str) -> float:
        return statistics.median(r[key] for r in sides[side])

    def paired(side: str, key: str = "samples_per_s") -> list[float]:
        """Each round's `side` figure over the plain loop's figure of the same round."""
        return [a[key] / b[key] for a, b in zip(sides[side], sides["plain"], strict=True)]

    ratios = paired("project")
    return {
        "ratio": statistics.median(ratios),
        "paired_ratios": ratios,
        "project_samples_per_s": median("project", "samples_per_s"),
        "plain_samples_per_s": median("plain", "samples_per_s"),
        # Lightning's loop with every feature off against the plain loop: the framework's own share.
        "barebones_samples_per_s": median("barebones", "samples_per_s"),
        "barebones_ratio": statistics.median(paired("barebones")),
        "project_fit_samples_per_s": statistics.median(
            r["samples"] / r["fit_seconds"] for r in sides["project"]
        ),
        "fit_ratio": statistics.median(
            (p["samples"] / p["fit_seconds"]) / q["samples_per_s"]
            for p, q in zip(sides["project"], sides["plain"], strict=True)
        ),
        "project_train_only_samples_per_s": median("project", "train_only_samples_per_s"),
        "plain_train_only_samples_per_s": median("plain", "train_only_samples_per_s"),
        "train_only_ratio": statistics.median(paired("project", "train_only_samples_per_s")),
        # Samples per second of process CPU time: on a machine shared with other jobs this moves far less
        # than wall time (on a GPU it mostly measures the host's waiting, so read it on the CPU only).
        "cpu_time_ratio": statistics.median(paired("project", "samples_per_cpu_s")),
        "train_samples": len(train_part),
        # What every side trains: the config's likelihood head on the codec's input channels.
        "model": f"{cfg.model.get('likelihood', 'none')} head on {', '.join(datamodule.codec.features)}",
        "rounds": sides,
    }


def environment() -> dict:
    """What a training benchmark ran on: the machine, torch and Lightning versions, torch's threads."""
    return {
        "machine": document.machine(),
        "torch": torch.__version__,
        "lightning": pl.__version__,
        "threads": torch.get_num_threads(),
    }
