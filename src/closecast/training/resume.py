"""Resuming a run from a Lightning checkpoint (`ckpt_path=…/checkpoints/last.ckpt`).

A resume goes on with the run it resumes only when it is the same run: every checkpoint carries the data
and model config it was trained with (`ConfigStamp`), and a change is refused, since the best epoch would
be picked across different validation sets. A checkpoint with nothing left to train (its last epoch, or
early stopping) is refused too, rather than trained for zero epochs and scored again. The new run never
writes into the old run's folder: the old run's checkpoints are copied into the new run's own
`checkpoints/`, pointed there, and training goes on from the copy, so the best epoch is still chosen
across both parts."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from closecast.artifacts.publish import atomic_write
from closecast.errors import DataError

log = logging.getLogger(__name__)


STAMP_KEY = "closecast_config"  # the checkpoint's own copy of the data and model config it was trained with
# Data keys that change neither what a sample is nor which samples each part holds.
LOADER_KEYS = ("batch_size", "on_device", "data_dir", "seed")
WAY_OUT = "start a new run (without ckpt_path)"


def run_stamp(cfg: DictConfig) -> dict[str, Any]:
    """The data and model config of a run, as a checkpoint records it (`data.*`, `model.*` leaves)."""
    stamp: dict[str, Any] = {}
    for group in ("data", "model"):
        conf = OmegaConf.to_container(cfg[group], resolve=True) if cfg.get(group) else {}
        for key, value in (conf or {}).items():
            if not (group == "data" and key in LOADER_KEYS):
                stamp[f"{group}.{key}"] = value
    return stamp


class ConfigStamp(pl.Callback):
    """Write the run's data and model config into every checkpoint it saves, for a resume to compare."""

    def __init__(self, cfg: DictConfig) -> None:
        self.stamp = run_stamp(cfg)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict
    ) -> None:
        checkpoint[STAMP_KEY] = self.stamp


def read_checkpoint(given: str) -> dict[str, Any]:
    """The Lightning checkpoint at `given`, or a one-line DataError naming `ckpt_path` and the way out."""
    path = Path(given)
    example = "e.g. ckpt_path=outputs/train/runs/<run>/checkpoints/last.ckpt"
    if not path.is_file():
        what = "a folder" if path.is_dir() else "no such file"
        raise DataError(f"ckpt_path={given}: {what}; give a run's Lightning checkpoint, {example}")
    try:
        # A full load, as Lightning's own resume does: only resume from checkpoints you trained yourself.
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        reason = " ".join(str(exc).split())[:160]
        raise DataError(
            f"ckpt_path={given}: not a Lightning checkpoint ({type(exc).__name__}: {reason}); {example}"
        ) from None
    if not isinstance(ckpt, dict) or "loops" not in ckpt or "state_dict" not in ckpt:
        raise DataError(
            f"ckpt_path={given}: not a Lightning training checkpoint (a serving artifact such as model.pt "
            f"cannot be resumed); {example}"
        )
    return ckpt


def check_same_run(cfg: DictConfig, ckpt: dict[str, Any], given: str) -> None:
    """Refuse a resume whose data or model config differs from the checkpoint's."""
    saved = ckpt.get(STAMP_KEY)
    if saved is None:
        log.warning(
            "ckpt_path=%s records no config (an older checkpoint): resuming without checking it", given
        )
        return
    now = run_stamp(cfg)
    changed = [k for k in sorted(set(saved) | set(now)) if saved.get(k) != now.get(k)]
    if changed:
        pairs = ", ".join(f"{k}={saved.get(k)} (now {now.get(k)})" for k in changed)
        keep = " ".join(f"{k}={saved.get(k)}" for k in changed)
        raise DataError(
            f"ckpt_path={given} was trained with {pairs}: resuming would pick the best epoch across "
            f"different data or models; resume with {keep}, or {WAY_OUT}"
        )


def check_left_to_train(cfg: DictConfig, ckpt: dict[str, Any], given: str) -> None:
    """Refuse a checkpoint whose run has nothing left to train: its last epoch, or stopped early."""
    # Saved at the end of an epoch, before the loop counts it completed: `processed` counts it.
    progress = ckpt["loops"].get("fit_loop", {}).get("epoch_progress", {}).get("current", {})
    done = int(progress.get("processed", ckpt.get("epoch", -1) + 1))
    max_epochs = cfg.trainer.get("max_epochs")
    if max_epochs is not None and int(max_epochs) >= 0 and done >= int(max_epochs):
        raise DataError(
            f"nothing left to train: ckpt_path={given} has finished {done} epochs of "
            f"trainer.max_epochs={max_epochs}; raise trainer.max_epochs to train on, or {WAY_OUT}"
        )
    states = [v for k, v in (ckpt.get("callbacks") or {}).items() if k.startswith("EarlyStopping")]
    if not (cfg.get("callbacks") or {}).get("early_stopping"):
        return  # early stopping is off now: the run goes on to trainer.max_epochs
    stopped = [
        s for s in states if s.get("stopped_epoch", 0) > 0 or s.get("wait_count", 0) >= s.get("patience", 1)
    ]
    if stopped:
        state = stopped[0]
        raise DataError(
            f"nothing left to train: ckpt_path={given} stopped early after {done} epochs (no improvement "
            f"for patience={state.get('patience')} epochs); train on past it with "
            f"callbacks.early_stopping=null, or {WAY_OUT}"
        )


def _repoint(value: Any, old: str, new: str) -> Any:
    """`value` with the folder `old` at its start replaced by `new` (paths, and dicts keyed by paths)."""
    if isinstance(value, str) and (value == old or value.startswith(old + os.sep)):
        return new + value[len(old) :]
    if isinstance(value, dict):
        return {_repoint(k, old, new): v for k, v in value.items()}
    return value


def copy_checkpoints(path: Path, ckpt: dict[str, Any], dest: Path) -> Path:
    """Copy the checkpoints beside `path` into `dest`, the resumed one with its callbacks pointed at
    `dest`, so the new run writes only there; the copy to resume from."""
    old, new = os.path.realpath(path.parent), os.path.realpath(dest)
    if old == new:
        return path
    dest.mkdir(parents=True, exist_ok=True)
    for other in sorted(path.parent.glob("*.ckpt")):
        if other.name != path.name:
            atomic_write(dest / other.name, lambda tmp, src=other: Path(tmp).write_bytes(src.read_bytes()))
    for state in (ckpt.get("callbacks") or {}).values():
        if isinstance(state, dict) and "dirpath" in state:
            state.update({k: _repoint(v, old, new) for k, v in state.items()})
    copy = dest / path.name
    atomic_write(copy, lambda tmp: torch.save(ckpt, tmp))
    log.info("resuming from %s, copied into %s (the original run's files stay as they are)", path, copy)
    return copy


def prepare_resume(cfg: DictConfig, output_dir: Path) -> Path | None:
    """The checkpoint to resume from (None: a fresh run), checked and copied into the run's own
    `checkpoints/`; a one-line DataError when it cannot be resumed."""
    given = cfg.get("ckpt_path")
    if not given:
        return None
    ckpt = read_checkpoint(str(given))
    check_same_run(cfg, ckpt, str(given))
    check_left_to_train(cfg, ckpt, str(given))
    return copy_checkpoints(Path(str(given)), ckpt, output_dir / "checkpoints")
