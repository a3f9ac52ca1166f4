"""The serving artifact: a `.pt` file of tensors and plain data that loads with `weights_only=True`.

It holds everything needed to answer a forecast — weights, network shape, the codec fitted on the
training part (window, horizon, normalization, input features) and, apart from it, the calibration chosen
on validation (shrink, interval scaling, conformal residuals, the quantile recalibration of a likelihood
head) — plus metadata (ticker, data range, metrics, versions).
No pickled classes: loading one can never run code from the file. Format 1 files (their codec carried
the shrink and interval scaling, the residuals and PIT values sat at the top level) load as format 2."""

from __future__ import annotations

import datetime as dt
import platform
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from torch import nn

from closecast.data.codec import Codec
from closecast.distributions.calibration import Calibration
from closecast.distributions.likelihood import likelihood_of

FORMAT = "closecast.artifact/2"


FORMAT_1 = "closecast.artifact/1"


# Validation choices a format-1 codec dict carried beside its training statistics.
FORMAT_1_CODEC_CHOICES = {"shrink": 1.0, "interval_scale": "none"}


class ArtifactError(ValueError):
    """A file that is not a usable closecast artifact."""


class ArtifactSchema(BaseModel):
    """The artifact format: what `build_artifact` writes and `load_artifact` accepts (extra keys allowed)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="allow", strict=True)

    format: Literal["closecast.artifact/2"]
    state_dict: dict[str, torch.Tensor]
    model: dict[str, int | float | str | bool | None]
    codec: dict[str, Any]
    # `Calibration.to_dict()`: what was chosen on validation (`closecast.distributions.calibration`).
    calibration: dict[str, Any]
    window: int
    horizon: int
    data: dict[str, Any]
    ticker: str | None = None
    feature: str | None = None
    metrics: dict[str, float | None]  # None: a metric that could not be computed
    versions: dict[str, str]
    created: str

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

    @model_validator(mode="after")
    def _shapes(self) -> ArtifactSchema:
        codec = Codec.from_dict(self.codec)
        if (codec.window, codec.horizon) != (self.window, self.horizon):
            raise ValueError(
                f"window/horizon {self.window}/{self.horizon} differ from the codec's "
                f"{codec.window}/{codec.horizon}"
            )
        calibration = Calibration.from_dict(self.calibration)
        if calibration.horizon != self.horizon:
            raise ValueError(
                f"calibration residuals cover {calibration.horizon} horizon steps, the model {self.horizon}"
            )
        # A distribution head without pit values is served as fitted: validation found that recalibrating
        # its quantiles did not pay (`closecast.evaluation.recalibration`).
        likelihood_of(self.model.get("likelihood", "none"))  # a known head, or a ValueError naming it
        return self


def codec_fields(codec: dict[str, Any]) -> dict[str, Any]:
    """A codec dict without the validation choices a format-1 codec carried (`FORMAT_1_CODEC_CHOICES`)."""
    return {k: v for k, v in codec.items() if k not in FORMAT_1_CODEC_CHOICES}


def from_format_1(artifact: dict[str, Any]) -> dict[str, Any]:
    """A format-1 artifact as format 2: the codec's shrink and interval scaling and the top-level
    `residuals` and `quantile_pit` moved into its `calibration` record; everything else as it was."""
    codec = artifact.get("codec")
    choices = dict(FORMAT_1_CODEC_CHOICES)
    if isinstance(codec, dict):
        choices.update({k: codec[k] for k in choices if k in codec})
        codec = codec_fields(codec)
    calibration = {**choices, "residuals": artifact.get("residuals"), "pit": artifact.get("quantile_pit")}
    rest = {k: v for k, v in artifact.items() if k not in ("residuals", "quantile_pit")}
    return {**rest, "format": FORMAT, "codec": codec, "calibration": calibration}


def check_artifact(artifact: Any, source: str = "artifact") -> dict[str, Any]:
    """`artifact` if it follows `ArtifactSchema`, else `ArtifactError` naming the first bad field."""
    if not isinstance(artifact, dict) or artifact.get("format") != FORMAT:
        found = artifact.get("format") if isinstance(artifact, dict) else type(artifact).__name__
        raise ArtifactError(f"{source}: format {found!r} is not {FORMAT!r}")
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


def build_artifact(
    net: nn.Module,
    codec: Codec,
    calibration: Calibration,
    data: dict[str, Any],
    metrics: dict[str, float],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the artifact dict of a network (`LSTMForecaster`, its `hparams` rebuild it), the codec
    fitted on training and the calibration chosen on validation."""
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    return {
        "format": FORMAT,
        "state_dict": state,
        "model": dict(net.hparams),
        "codec": codec.to_dict(),
        "calibration": calibration.to_dict(),
        "window": codec.window,
        "horizon": codec.horizon,
        "data": dict(data),
        "ticker": data.get("ticker"),
        "feature": data.get("feature"),
        "metrics": {k: float(v) for k, v in metrics.items()},
        "versions": package_versions(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }


def load_artifact(path: str | Path) -> dict[str, Any]:
    """Load an artifact with `torch.load(weights_only=True)` and check it against `ArtifactSchema`
    (a format-1 file converted to format 2 first, `from_format_1`)."""
    path = Path(path)
    try:
        artifact = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ArtifactError(f"{path}: not a weights-only closecast artifact ({exc})") from exc
    if isinstance(artifact, dict) and artifact.get("format") == FORMAT_1:
        artifact = from_format_1(artifact)
    return check_artifact(artifact, str(path))
