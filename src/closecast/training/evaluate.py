"""Scoring a published artifact on any source without refitting its network: `eval.py` at the root is
only its Hydra entry.

The artifact's network (loaded weights-only) is finished on each series of `cfg.data` exactly as a
training run finishes the network it fitted (`closecast.training.series.finish_series`): each series'
codec is fitted on its own training part, the shrink, recalibration and combination are chosen on its
validation part, the volatility baselines are fitted on its training part, and its test part is scored.
Given the data the artifact was trained on, the scores are those of its training run.

With `normalize=window` each series is scored as the server answers a series the network never saw
(`closecast.training.unseen`): every window normalized by the request's own history, nothing of the
series fitted into what is served, only its baselines fitted on its training part."""

from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl
from omegaconf import DictConfig, ListConfig, open_dict

from closecast.artifacts.publish import atomic_write
from closecast.artifacts.schema import ArtifactError, load_artifact
from closecast.data.codec import Codec
from closecast.data.datamodule import PriceDataModule
from closecast.errors import DataError
from closecast.inference.forecaster import Forecaster
from closecast.inference.series import NORMALIZE
from closecast.models.lstm import LSTMForecaster
from closecast.training.run import metrics_json, print_run, run_metrics
from closecast.training.series import SeriesResult, finish_series
from closecast.training.trainer import build_data, torch_threads
from closecast.training.unseen import finish_unseen

log = logging.getLogger(__name__)


# The data settings that shape the network's inputs and outputs: the artifact's, whatever cfg.data says.
SHAPE = ("window", "horizon", "target", "features", "ma_window", "vol_input")


# The settings of the finishing step the artifact's training run chose; the run's own unless overridden.
FINISHING = ("calibration", "baselines")


def load_network(path: Path) -> tuple[LSTMForecaster, dict]:
    """The network of the artifact at `path` (weights-only) and the artifact itself."""
    try:
        artifact = load_artifact(path)
    except FileNotFoundError:
        raise DataError(
            f"artifact {str(path)!r} does not exist; train and publish one (make train) or name one with "
            "artifact=<path to a .pt>"
        ) from None
    except ArtifactError as exc:
        raise DataError(f"{exc}; name a published artifact with artifact=<path to a .pt>") from None
    net = LSTMForecaster(**artifact["model"])
    net.load_state_dict(artifact["state_dict"])
    return net.eval(), artifact


def with_artifact_settings(cfg: DictConfig, artifact: dict, overridden: set[str]) -> DictConfig:
    """`cfg` with the artifact's input layout (`SHAPE`) in `cfg.data` and its run's finishing settings
    where the command line did not set them (`overridden`: the keys it set)."""
    cfg = cfg.copy()
    layout = Codec.from_dict(next(iter(artifact["series"].values()))["codec"])
    run = artifact.get("config") or {}
    with open_dict(cfg):
        for key in SHAPE:
            value, current = getattr(layout, key), cfg.data.get(key)
            current = list(current) if isinstance(current, ListConfig) else current
            if f"data.{key}" in overridden and current != value:
                log.warning(
                    "data.%s=%s ignored: the artifact's network reads %s=%s", key, cfg.data[key], key, value
                )
            cfg.data[key] = list(value) if isinstance(value, list) else value
        for group in FINISHING:
            for key, value in (run.get(group) or {}).items():
                if f"{group}.{key}" not in overridden and key in cfg[group]:
                    cfg[group][key] = value
    return cfg


def evaluate(cfg: DictConfig, overridden: set[str] = frozenset()) -> dict[str, float]:
    """Score the artifact `cfg.artifact` on every series of `cfg.data` (no refit), print each series'
    tables as training does and write metrics.json into the run dir; return the metrics."""
    normalize = str(cfg.get("normalize") or "codec")
    if normalize not in NORMALIZE:
        raise DataError(
            f"normalize={normalize}: use normalize=codec (each series by its own training codec) or "
            "normalize=window (as /predict answers a series the network never saw)"
        )
    path = Path(str(cfg.artifact))
    net, artifact = load_network(path)
    cfg = with_artifact_settings(cfg, artifact, overridden)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with torch_threads(cfg.get("threads")):
        pl.seed_everything(cfg.seed, workers=True)
        datamodule: PriceDataModule = build_data(cfg)
        datamodule.prepare_data()
        datamodule.setup("test")
        several = len(datamodule.members) > 1
        unseen = Forecaster(artifact) if normalize == "window" else None
        results: dict[str, SeriesResult] = {}
        for ticker, member in datamodule.members.items():
            plot_dir = output_dir / ticker if several else output_dir
            plot_dir.mkdir(exist_ok=True)
            if unseen is not None:
                results[ticker] = finish_unseen(cfg, member, unseen, plot_dir)
            else:
                results[ticker] = finish_series(cfg, member, net, output_dir, {}, plot_dir=plot_dir)
        metrics = run_metrics(results)
        atomic_write(output_dir / "metrics.json", lambda tmp: Path(tmp).write_text(metrics_json(metrics)))
        line = f"scored {path} without refitting its network (trained on {', '.join(artifact['series'])})"
        if unseen is not None:
            line += (
                f"; each series answered as /predict answers one it never saw (normalize=window, "
                f"{int(metrics['request_history'])} prices a request)"
            )
        print_run(cfg, datamodule, results, metrics, output_dir, path, (None, line))
    return metrics
