"""The serving artifact: a `.pt` file of tensors and plain data that loads with `weights_only=True`.

It holds everything needed to answer a forecast for each series the network was trained on: the shared
weights and network shape and, per series (`series`: name → record), the codec fitted on that series'
training part (window, horizon, normalization, input features), the calibration chosen on its validation
part (shrink, interval scaling, conformal residuals, the quantile recalibration of a likelihood head),
its data range and its metrics; plus the run's metrics and versions. One series is a universe of one.
No pickled classes: loading one can never run code from the file. Files of formats 1 and 2 (one series,
its codec and calibration at the top level) and 3 load as format 4 (`closecast.artifacts.formats`); a
file of a newer format is refused by its number."""

from __future__ import annotations

import datetime as dt
import platform
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from torch import nn

from closecast.artifacts.formats import (
    FORMAT,
    FORMAT_1,
    FORMAT_2,
    FORMAT_3,
    UNNAMED,
    codec_fields,
    from_format_1,
    from_format_2,
    from_format_3,
    newer_format,
)
from closecast.artifacts.limits import exceeded
from closecast.data.codec import Codec
from closecast.distributions.calibration import Calibration
from closecast.distributions.likelihood import likelihood_of

__all__ = [
    "FORMAT",
    "FORMAT_1",
    "FORMAT_2",
    "FORMAT_3",
    "ArtifactError",
    "build_artifact",
    "build_universe_artifact",
    "codec_fields",
    "load_artifact",
    "series_record",
]

# Codec fields every series of one artifact shares: the network reads one input layout.
SHARED_CODEC_FIELDS = ("target", "window", "horizon", "features", "ma_window", "vol_input")


class ArtifactError(ValueError):
    """A file that is not a usable closecast artifact."""


WITHIN_LIMITS = "publish one within the limits of closecast.artifacts.limits (a smaller model)"


class SeriesRecord(BaseModel):
    """What one series needs beside the shared weights: its codec, calibration, data range and metrics."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="allow", strict=True)

    codec: dict[str, Any]
    # `Calibration.to_dict()`: what was chosen on validation (`closecast.distributions.calibration`).
    calibration: dict[str, Any]
    data: dict[str, Any]
    metrics: dict[str, float | None]  # None: a metric that could not be computed
    # The series' last days (`SeriesData.recent`): what the forecast page draws and forecasts from.
    # Absent in artifacts written before it was kept.
    history: dict[str, list[str] | list[float]] | None = None

    @field_validator("history")
    @classmethod
    def _history(cls, value: dict[str, list] | None) -> dict[str, list] | None:
        if value is None:
            return value
        lengths = {k: len(v) for k, v in value.items()}
        if not {"dates", "values"} <= set(value) or len(set(lengths.values())) != 1 or not value["values"]:
            raise ValueError(f"history needs dates and values of one length, got lengths {lengths}")
        return value

    @field_validator("codec")
    @classmethod
    def _codec(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            Codec.from_dict(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not a codec ({exc})") from exc
        return value

    @field_validator("calibration")
    @classmethod
    def _calibration(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            Calibration.from_dict(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not a calibration record ({exc})") from exc
        return value


class ArtifactSchema(BaseModel):
    """The artifact format: what `build_artifact` writes and `load_artifact` accepts (extra keys allowed)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="allow", strict=True)

    format: Literal["closecast.artifact/4"]
    state_dict: dict[str, torch.Tensor]
    model: dict[str, int | float | str | bool | None]
    window: int
    horizon: int
    series: dict[str, SeriesRecord] = Field(min_length=1)
    metrics: dict[str, float | None]  # the run's (metrics.json): with several series, their mean and each
    versions: dict[str, str]
    created: str

    @field_validator("series")
    @classmethod
    def _names(cls, value: dict[str, SeriesRecord]) -> dict[str, SeriesRecord]:
        bad = [name for name in value if not name.strip()]
        if bad:
            raise ValueError(f"series names must be non-empty, got {bad[:3]!r}")
        return value

    @model_validator(mode="after")
    def _shapes(self) -> ArtifactSchema:
        likelihood_of(self.model.get("likelihood", "none"))
        first_name, first = None, None
        for name, record in self.series.items():
            codec = Codec.from_dict(record.codec)
            if (codec.window, codec.horizon) != (self.window, self.horizon):
                raise ValueError(
                    f"series {name!r}: window/horizon {self.window}/{self.horizon} differ from its codec's "
                    f"{codec.window}/{codec.horizon}"
                )
            shared = {k: getattr(codec, k) for k in SHARED_CODEC_FIELDS}
            if first is None:
                first_name, first = name, shared
            elif shared != first:
                raise ValueError(
                    f"series {name!r} has codec {shared}, series {first_name!r} {first}: one network reads "
                    "one input layout"
                )
            calibration = Calibration.from_dict(record.calibration)
            if calibration.horizon != self.horizon:
                raise ValueError(
                    f"series {name!r}: calibration residuals cover {calibration.horizon} horizon steps, "
                    f"the model {self.horizon}"
                )
            # A distribution head without pit values is served as fitted: validation found that
            # recalibrating its quantiles did not pay (`closecast.evaluation.recalibration`).
        return self


def check_artifact(artifact: Any, source: str = "artifact") -> dict[str, Any]:
    """`artifact` if it follows `ArtifactSchema`, else `ArtifactError` naming the first bad field."""
    newer = newer_format(artifact.get("format")) if isinstance(artifact, dict) else None
    if newer:
        raise ArtifactError(f"{source}: {newer}")
    if not isinstance(artifact, dict) or artifact.get("format") != FORMAT:
        found = artifact.get("format") if isinstance(artifact, dict) else type(artifact).__name__
        raise ArtifactError(f"{source}: format {found!r} is not {FORMAT!r}")
    too_large = exceeded(artifact)
    if too_large:
        raise ArtifactError(f"{source}: {too_large}; {WITHIN_LIMITS}")
    try:
        ArtifactSchema.model_validate(artifact)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "artifact"
        raise ArtifactError(
            f"{source}: malformed artifact, {where}: {first['msg']} ({len(exc.errors())} problem(s)); "
            "publish it again from a training run"
        ) from None
    return artifact


def package_versions() -> dict[str, str]:
    """Versions of the packages that produced an artifact."""
    versions = {"python": platform.python_version()}
    for name in ("closecast", "torch", "pytorch-lightning", "numpy"):
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def series_record(
    codec: Codec,
    calibration: Calibration,
    data: dict[str, Any],
    metrics: dict[str, float],
    history: dict[str, list] | None = None,
) -> dict[str, Any]:
    """One series' part of an artifact: its codec fitted on training, calibration chosen on validation,
    data range (`SeriesData.describe()`), metrics and, when given, its last days (`SeriesData.recent`)."""
    record = {
        "codec": codec.to_dict(),
        "calibration": calibration.to_dict(),
        "data": dict(data),
        "metrics": {k: float(v) for k, v in metrics.items()},
    }
    return record | ({"history": history} if history is not None else {})


def build_universe_artifact(
    net: nn.Module,
    series: dict[str, dict[str, Any]],
    metrics: dict[str, float],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the artifact dict of a network (`LSTMForecaster`, its `hparams` rebuild it) and the
    `series_record` of each series it was trained on (name → record), with the run's `metrics`."""
    if not series:
        raise ValueError("an artifact needs at least one series record")
    first = Codec.from_dict(next(iter(series.values()))["codec"])
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    return {
        "format": FORMAT,
        "state_dict": state,
        "model": dict(net.hparams),
        "window": first.window,
        "horizon": first.horizon,
        "series": dict(series),
        "metrics": {k: float(v) for k, v in metrics.items()},
        "versions": package_versions(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }


def build_artifact(
    net: nn.Module,
    codec: Codec,
    calibration: Calibration,
    data: dict[str, Any],
    metrics: dict[str, float],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The artifact of a network trained on one series (a universe of one, named by `data["ticker"]`)."""
    name = str(data.get("ticker") or UNNAMED)
    record = series_record(codec, calibration, data, metrics)
    return build_universe_artifact(net, {name: record}, metrics, extra)


def load_artifact(path: str | Path) -> dict[str, Any]:
    """Load an artifact with `torch.load(weights_only=True)` and check it against `ArtifactSchema`
    (a file of format 1, 2 or 3 converted to format 4 first, `closecast.artifacts.formats`)."""
    path = Path(path)
    too_large = exceeded(None, path.stat().st_size)  # before reading: a file may be sparse and huge
    if too_large:
        raise ArtifactError(f"{path}: {too_large}; {WITHIN_LIMITS}")
    try:
        artifact = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ArtifactError(f"{path}: not a weights-only closecast artifact ({exc})") from exc
    if isinstance(artifact, dict) and artifact.get("format") == FORMAT_1:
        artifact = from_format_1(artifact)
    if isinstance(artifact, dict) and artifact.get("format") == FORMAT_2:
        artifact = from_format_2(artifact)
    if isinstance(artifact, dict) and artifact.get("format") == FORMAT_3:
        artifact = from_format_3(artifact)
    return check_artifact(artifact, str(path))
