"""The training job: config in, metrics out. `train.py` at the root is only its Hydra entry."""

from __future__ import annotations

import contextlib
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from closecast.artifact import build_artifact
from closecast.codec import Codec
from closecast.data import PriceDataModule, WindowSet
from closecast.metrics import conformal_quantile, interval_coverage, mean_gain_z, score_forecasts
from closecast.module import ForecastModule
from closecast.plots import save_forecast_plots
from closecast.publish import atomic_write, publish, save_artifact

log = logging.getLogger(__name__)

SHRINK_GRID = np.round(np.linspace(0.0, 1.0, 21), 2)
# Config `_target_`s may only name these packages: a config file cannot make training call arbitrary code.
TRUSTED_TARGETS = [
    "closecast.*",
    "torch.optim.*",
    "pytorch_lightning.*",
    "lightning.pytorch.*",
    "optuna.pruners.*",
]


def build(conf: Any, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate` restricted to the trusted target packages."""
    return hydra.utils.instantiate(conf, _execution_whitelist_=TRUSTED_TARGETS, **kwargs)


def build_callbacks(cfg: DictConfig, output_dir: Path) -> list[pl.Callback]:
    """Callbacks from `cfg.callbacks`; the checkpoint folder is pinned to the run dir."""
    callbacks = []
    for name, conf in (cfg.get("callbacks") or {}).items():
        if conf is None:
            continue
        if name == "progress_bar" and not cfg.trainer.get("enable_progress_bar", True):
            continue  # `trainer.enable_progress_bar=false` alone turns the bar off
        if name == "model_checkpoint":
            callbacks.append(build(conf, dirpath=str(output_dir / "checkpoints")))
        else:
            callbacks.append(build(conf))
    return callbacks


@torch.inference_mode()
def predict_normalized(net: torch.nn.Module, part: WindowSet, batch_size: int = 4096) -> torch.Tensor:
    """Network outputs for every sample of a part, on the CPU."""
    net.eval()
    device = next(net.parameters()).device
    outs = [net(part.x[i : i + batch_size].to(device)).cpu() for i in range(0, len(part), batch_size)]
    return torch.cat(outs)


def shrink_gains(codec: Codec, y_hat: torch.Tensor, part: WindowSet) -> np.ndarray:
    """Per-sample gain over naive (naive's absolute error minus the model's, averaged over the horizon)
    for every factor of `SHRINK_GRID`: shape `(len(SHRINK_GRID), samples)`."""
    future = part.future.numpy()
    naive_err = np.abs(future - part.last.numpy()[:, None]).mean(axis=1)
    return np.stack(
        [
            naive_err - np.abs(codec.decode(y_hat, part.last, shrink=s).numpy() - future).mean(axis=1)
            for s in SHRINK_GRID
        ]
    )


def choose_shrink(
    codec: Codec, y_hat: torch.Tensor, part: WindowSet, setting: Any, min_gain_z: float = 0.0
) -> float:
    """`auto`: the factor in [0, 1] with the lowest validation MAE (0 is naive); else the number given.

    With `min_gain_z` > 0 the factor must also earn its keep on data it was not chosen on: it is picked on
    the first half of the validation part (chronologically) and kept only if its gain over naive on the
    second half is at least `min_gain_z` Newey-West standard errors above zero (a one-sided
    Diebold-Mariano test); otherwise the forecast falls back to naive (0). Picking the best of the grid
    and testing it on the same samples would overstate the evidence twice over (the selection, and the
    autocorrelation of daily errors). A model with no real edge then scores exactly naive.
    """
    if setting != "auto":
        value = float(setting)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"calibration.shrink must be 'auto' or in [0, 1], got {setting!r}")
        return value
    gains = shrink_gains(codec, y_hat, part)
    if min_gain_z <= 0:
        mean = gains.mean(axis=1)
        best = int(np.argmax(mean))  # first maximum: the smallest factor among ties
        return float(SHRINK_GRID[best]) if mean[best] > 0 else 0.0
    half = gains.shape[1] // 2
    if half < 2:
        return 0.0
    mean = gains[:, :half].mean(axis=1)
    best = int(np.argmax(mean))
    if mean[best] <= 0:
        return 0.0
    z = mean_gain_z(gains[best, half:], min_lag=codec.horizon - 1)
    return float(SHRINK_GRID[best]) if z >= min_gain_z else 0.0


def log_residuals(pred: np.ndarray, actual: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """Sorted absolute log residuals per horizon step, each divided by its sample's `scale` (the
    conformal calibration set)."""
    residuals = np.abs(np.log(actual / pred))
    if scale is not None:
        residuals = residuals / np.asarray(scale, dtype=np.float64)[:, None]
    return np.sort(residuals, axis=0)


def part_scale(codec: Codec, part: WindowSet) -> np.ndarray:
    """Per-sample residual scale of a part (ones unless `codec.interval_scale` says otherwise)."""
    if part.window_prices is None:
        return np.ones(len(part))
    return codec.residual_scale(part.window_prices.cpu()).numpy()


def interval_bounds(
    codec: Codec, pred: np.ndarray, part: WindowSet, residuals: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper `(n, horizon)` prices of the conformal `level` interval around `pred`."""
    radius = conformal_quantile(residuals, level)[None, :] * part_scale(codec, part)[:, None]
    return pred * np.exp(-radius), pred * np.exp(radius)


def evaluate(
    codec: Codec, y_hat: torch.Tensor, part: WindowSet, residuals: np.ndarray, level: float, prefix: str
) -> dict[str, float]:
    """Model, naive and drift scores on one part, plus the coverage of the `level` interval."""
    pred = codec.decode(y_hat, part.last).numpy()
    future = part.future.numpy()
    report = score_forecasts(
        {"model": pred, "drift": codec.drift_forecast(part.last).numpy()}, future, part.last.numpy()
    )
    flat: dict[str, float] = {}
    for method, scores in report.items():
        head = prefix if method == "model" else f"{prefix}/{method}"
        flat.update({f"{head}/{k}": v for k, v in scores.items()})
    lower, upper = interval_bounds(codec, pred, part, residuals, level)
    flat[f"{prefix}/coverage"] = interval_coverage(future, lower, upper)
    return flat


def summary_table(metrics: dict[str, float]) -> str:
    """The end-of-run comparison: model beside the baselines on the test part."""
    rows = [("model", "test"), ("naive", "test/naive"), ("drift", "test/drift")]
    lines = [f"{'test':<8}{'MAE':>10}{'RMSE':>10}{'MAPE %':>10}{'MASE':>8}"]
    for label, key in rows:
        m = [metrics.get(f"{key}/{k}", math.nan) for k in ("mae", "rmse", "mape", "mase")]
        lines.append(f"{label:<8}{m[0]:>10.4f}{m[1]:>10.4f}{m[2]:>10.4f}{m[3]:>8.3f}")
    return "\n".join(lines)


@dataclass
class Fitted:
    """A network fitted by `fit_network`, on the CPU, with the trainer and logger that fitted it."""

    net: torch.nn.Module
    trainer: pl.Trainer
    logger: Any
    best_path: str


def fit_network(
    cfg: DictConfig,
    datamodule: PriceDataModule,
    output_dir: Path,
    extra_callbacks: list[pl.Callback] | None = None,
) -> Fitted:
    """Build the network and module from `cfg`, fit on the datamodule's train part with early stopping on
    its validation part, and reload the best checkpoint. The test part is never read here."""
    callbacks = build_callbacks(cfg, output_dir) + list(extra_callbacks or [])
    logger = build(cfg.logger, save_dir=str(output_dir)) if cfg.get("logger") else False
    module, trainer = build_module_and_trainer(cfg, datamodule, callbacks, logger)
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if best and trainer.is_global_zero:
        # Our own checkpoint from this run: a full load is fine here (the server never does this).
        state = torch.load(best, map_location="cpu", weights_only=False)["state_dict"]
        module.load_state_dict(state)
    return Fitted(module.net.cpu(), trainer, logger, best or "")


STEPS_PER_CALL_AUTO = 8


def resolve_steps_per_call(setting: Any, trainer: pl.Trainer) -> int:
    """`steps_per_call` for this Trainer: `auto` is 8 where the grouped step can run, else 1.

    The grouped step (several optimizer steps per `training_step`, see `ForecastModule`) needs one
    device, no gradient accumulation and no 16-bit loss scaling; elsewhere Lightning's own loop runs.
    """
    blockers = []
    if trainer.world_size > 1:
        blockers.append(f"{trainer.world_size} processes (DDP needs one backward per forward)")
    if trainer.accumulate_grad_batches != 1:
        blockers.append(f"trainer.accumulate_grad_batches={trainer.accumulate_grad_batches}")
    if str(trainer.precision) == "16-mixed":
        blockers.append("trainer.precision=16-mixed (loss scaling runs per Lightning step)")
    if setting in (None, "auto"):
        return 1 if blockers else STEPS_PER_CALL_AUTO
    if isinstance(setting, bool) or not isinstance(setting, int) or setting < 1:
        raise ValueError(f"steps_per_call must be 'auto' or a positive integer, got {setting!r}")
    if setting > 1 and blockers:
        raise ValueError(
            f"steps_per_call={setting} cannot run with {'; '.join(blockers)}: use steps_per_call=1 or auto"
        )
    return setting


def build_module_and_trainer(
    cfg: DictConfig, datamodule: PriceDataModule, callbacks: list[pl.Callback], logger: Any
) -> tuple[ForecastModule, pl.Trainer]:
    """The LightningModule and Trainer of a run, with clipping and `steps_per_call` wired between them."""
    codec = datamodule.codec
    clip = cfg.trainer.get("gradient_clip_val")
    # The module clips (see `ForecastModule`); a Trainer with clipping set refuses manual optimization.
    trainer: pl.Trainer = build(
        cfg.trainer, callbacks=callbacks, logger=logger, gradient_clip_val=None, gradient_clip_algorithm=None
    )
    steps = resolve_steps_per_call(cfg.get("steps_per_call", "auto"), trainer)
    module = ForecastModule(
        net=build(cfg.model, input_size=1, horizon=codec.horizon),
        optimizer=build(cfg.optimizer),
        scheduler=build(cfg.scheduler) if cfg.get("scheduler") else None,
        codec=codec,
        gradient_clip_val=float(clip) if clip else None,
        gradient_clip_algorithm=str(cfg.trainer.get("gradient_clip_algorithm") or "norm"),
        steps_per_call=steps,
    )
    datamodule.steps_per_call = steps
    return module, trainer


@dataclass
class Assessment:
    """Calibrated forecasts of one fitted network: metrics, conformal residuals, test predictions."""

    metrics: dict[str, float]
    residuals: np.ndarray
    test_pred: np.ndarray
    test_drift: np.ndarray
    test_lower: np.ndarray  # the `calibration.interval` band around test_pred
    test_upper: np.ndarray


def assess(cfg: DictConfig, codec: Codec, net: torch.nn.Module, parts: dict[str, WindowSet]) -> Assessment:
    """Choose the shrink and the conformal residuals on validation, then score val and test.

    Sets `codec.shrink`. Nothing about the test part feeds a choice: it is only scored.
    """
    val, test = parts["val"], parts["test"]
    y_val, y_test = predict_normalized(net, val), predict_normalized(net, test)
    min_gain_z = float(cfg.calibration.get("min_gain_z", 0.0))
    codec.shrink = choose_shrink(codec, y_val, val, cfg.calibration.shrink, min_gain_z)
    codec.interval_scale = str(cfg.calibration.get("interval_scale", "none"))
    residuals = log_residuals(
        codec.decode(y_val, val.last).numpy(), val.future.numpy(), part_scale(codec, val)
    )
    level = float(cfg.calibration.interval)
    metrics = {
        **evaluate(codec, y_val, val, residuals, level, "val"),
        **evaluate(codec, y_test, test, residuals, level, "test"),
    }
    metrics["shrink"] = codec.shrink
    # The network's own validation score before any shrink: a sweep still sees which trial learned most
    # when the guard sends every shrink to naive (and val/mae is then naive's for all of them).
    raw = score_forecasts(
        {"model": codec.decode(y_val, val.last, shrink=1.0).numpy()}, val.future.numpy(), val.last.numpy()
    )["model"]
    metrics.update({f"val/raw/{k}": raw[k] for k in ("mae", "rmse", "mase")})
    test_pred = codec.decode(y_test, test.last).numpy()
    lower, upper = interval_bounds(codec, test_pred, test, residuals, level)
    return Assessment(metrics, residuals, test_pred, codec.drift_forecast(test.last).numpy(), lower, upper)


@contextlib.contextmanager
def torch_threads(count: int | None):
    """Run with `count` torch intra-op threads (None: leave torch's default), restoring it afterwards."""
    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(int(count))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train(cfg: DictConfig, extra_callbacks: list[pl.Callback] | None = None) -> dict[str, float]:
    """Fit, test on the best checkpoint, write metrics.json and the serving artifact; return metrics."""
    with torch_threads(cfg.get("threads")):
        return _train(cfg, extra_callbacks)


def _train(cfg: DictConfig, extra_callbacks: list[pl.Callback] | None) -> dict[str, float]:
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(cfg.seed, workers=True)

    datamodule: PriceDataModule = build(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    codec = datamodule.codec
    fitted = fit_network(cfg, datamodule, output_dir, extra_callbacks)
    trainer, logger, best, net = fitted.trainer, fitted.logger, fitted.best_path, fitted.net
    if not trainer.is_global_zero:
        return {}

    result = assess(cfg, codec, net, datamodule.parts)
    metrics, residuals = result.metrics, result.residuals
    level = float(cfg.calibration.interval)
    # The reference's top-level naive keys (test part), kept for scripts that read them.
    metrics.update({f"naive/{k}": metrics[f"test/naive/{k}"] for k in ("mae", "rmse", "mape", "smape")})
    metrics["epochs"] = float(trainer.current_epoch)
    if logger:
        logger.log_metrics({k: v for k, v in metrics.items() if math.isfinite(v)}, step=trainer.global_step)
    # The best epoch's monitored value (val/loss), the quantity a sweep reports per epoch and prunes on;
    # added after logging so TensorBoard's val/loss curve keeps one point per epoch.
    ckpt = trainer.checkpoint_callback
    if ckpt is not None and ckpt.monitor and ckpt.best_model_score is not None:
        metrics[ckpt.monitor] = float(ckpt.best_model_score)

    data_meta = datamodule.describe()
    atomic_write(output_dir / "metrics.json", lambda tmp: Path(tmp).write_text(json.dumps(metrics, indent=2)))
    test = datamodule.parts["test"]
    plot_files = save_forecast_plots(
        output_dir,
        test.anchor_dates,
        test.future.numpy(),
        result.test_pred,
        result.test_lower,
        result.test_upper,
        level,
        title=f"{data_meta['ticker']} test",
        tensorboard=logger.experiment if logger else None,
        step=trainer.global_step,
    )
    artifact = build_artifact(
        net,
        codec,
        data_meta,
        metrics,
        residuals,
        extra={"run_dir": str(output_dir), "config": OmegaConf.to_container(cfg, resolve=True)},
    )
    artifact_path = save_artifact(artifact, output_dir / "model.pt")
    published = None
    if cfg.get("publish", True):
        published = publish(artifact_path, cfg.paths.checkpoints_dir, cfg.get("publish_name", "best.pt"))

    log.info("best checkpoint: %s", best or "(none)")
    print(
        f"\n{data_meta['ticker']} {data_meta['feature']} {data_meta['start']}..{data_meta['end']}, "
        f"target={codec.target}, shrink={codec.shrink}, window={codec.window}, horizon={codec.horizon}"
    )
    print(summary_table(metrics))
    print(f"{level:.0%} interval coverage on test: {metrics['test/coverage']:.3f}")
    plots = ", ".join(str(p) for p in plot_files)
    print(
        f"run dir:  {output_dir}\nartifact: {artifact_path}\nplots:    {plots}"
        + (f"\npublished: {published}" if published else "")
    )
    return metrics


def objective(metrics: dict[str, float], optimized: Any) -> float | tuple[float, ...] | None:
    """The value(s) a sweep optimizes; a name missing from the metrics fails loudly."""
    if not optimized or not metrics:  # non-zero DDP ranks return no metrics
        return None
    names = [optimized] if isinstance(optimized, str) else list(optimized)
    missing = [n for n in names if n not in metrics]
    if missing:
        raise KeyError(f"optimized_metric {missing} not in metrics; available: {sorted(metrics)}")
    values = tuple(float(metrics[n]) for n in names)
    return values[0] if isinstance(optimized, str) else values
