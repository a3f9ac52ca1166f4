"""The serving artifact: a `.pt` file of tensors and plain data that loads with `weights_only=True`.

It holds everything needed to answer a forecast — weights, network shape, codec (window, horizon,
normalization, shrink, input features), conformal residuals, the quantile recalibration of a
likelihood head — plus metadata (ticker, data range, metrics, versions).
No pickled classes: loading one can never run code from the file."""

from __future__ import annotations

import datetime as dt
import platform
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from torch import nn

from closecast.data.codec import Codec

FORMAT = "closecast.artifact/1"


class ArtifactError(ValueError):
    """A file that is not a usable closecast artifact."""


class ArtifactSchema(BaseModel):
    """The artifact format: what `build_artifact` writes and `load_artifact` accepts (extra keys allowed)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="allow", strict=True)

    format: Literal["closecast.artifact/1"]
    state_dict: dict[str, torch.Tensor]
    model: dict[str, int | float | str | bool | None]
    codec: dict[str, Any]
    window: int
    horizon: int
    residuals: torch.Tensor
    # Sorted validation PIT values `(n, horizon)` that recalibrate a likelihood head's quantiles
    # (`closecast.distributions.predictive`); absent for a point network.
    quantile_pit: torch.Tensor | None = None
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

    @model_validator(mode="after")
    def _shapes(self) -> ArtifactSchema:
        codec = Codec.from_dict(self.codec)
        if (codec.window, codec.horizon) != (self.window, self.horizon):
            raise ValueError(
                f"window/horizon {self.window}/{self.horizon} differ from the codec's "
                f"{codec.window}/{codec.horizon}"
            )
        r = self.residuals
        if r.ndim != 2 or r.shape[1] != self.horizon or not r.is_floating_point():
            raise ValueError(f"residuals must be a float tensor (n, {self.horizon}), got {tuple(r.shape)}")
        likelihood = self.model.get("likelihood", "none")
        pit = self.quantile_pit
        if likelihood != "none" and pit is None:
            raise ValueError(f"a model with likelihood={likelihood!r} needs its quantile_pit calibration")
        if pit is not None:
            if (
                pit.ndim != 2
                or pit.shape[0] < 2
                or pit.shape[1] != self.horizon
                or not pit.is_floating_point()
            ):
                raise ValueError(
                    f"quantile_pit must be a float tensor (n >= 2, {self.horizon}), got {tuple(pit.shape)}"
                )
            if not bool(((pit >= 0) & (pit <= 1)).all()):
                raise ValueError("quantile_pit holds values outside [0, 1]; they are probabilities")
        return self


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
    data: dict[str, Any],
    metrics: dict[str, float],
    residuals: np.ndarray,
    quantile_pit: np.ndarray | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the artifact dict; `residuals` are sorted absolute log residuals `(n, horizon)`,
    `quantile_pit` the sorted validation PIT values of a likelihood head (None for a point network)."""
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    return {
        "format": FORMAT,
        "state_dict": state,
        "model": dict(getattr(net, "hparams", {})),
        "codec": codec.to_dict(),
        "window": codec.window,
        "horizon": codec.horizon,
        "residuals": torch.as_tensor(np.asarray(residuals, dtype=np.float32)),
        **(
            {}
            if quantile_pit is None
            else {"quantile_pit": torch.as_tensor(np.asarray(quantile_pit, np.float32))}
        ),
        "data": dict(data),
        "ticker": data.get("ticker"),
        "feature": data.get("feature"),
        "metrics": {k: float(v) for k, v in metrics.items()},
        "versions": package_versions(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }


def load_artifact(path: str | Path) -> dict[str, Any]:
    """Load an artifact with `torch.load(weights_only=True)` and check it against `ArtifactSchema`."""
    path = Path(path)
    try:
        artifact = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ArtifactError(f"{path}: not a weights-only closecast artifact ({exc})") from exc
    return check_artifact(artifact, str(path))
