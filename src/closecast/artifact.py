"""The serving artifact: a `.pt` file of tensors and plain data that loads with `weights_only=True`.

It holds everything needed to answer a forecast — weights, network shape, codec (window, horizon,
normalization, shrink), conformal residuals — plus metadata (ticker, data range, metrics, versions).
No pickled classes: loading one can never run code from the file.
"""

from __future__ import annotations

import datetime as dt
import platform
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from closecast.codec import Codec

FORMAT = "closecast.artifact/1"


class ArtifactError(ValueError):
    """A file that is not a usable closecast artifact."""


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
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the artifact dict; `residuals` are sorted absolute log residuals `(n, horizon)`."""
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    return {
        "format": FORMAT,
        "state_dict": state,
        "model": dict(getattr(net, "hparams", {})),
        "codec": codec.to_dict(),
        "window": codec.window,
        "horizon": codec.horizon,
        "residuals": torch.as_tensor(np.asarray(residuals, dtype=np.float32)),
        "data": dict(data),
        "ticker": data.get("ticker"),
        "feature": data.get("feature"),
        "metrics": {k: float(v) for k, v in metrics.items()},
        "versions": package_versions(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }


def load_artifact(path: str | Path) -> dict[str, Any]:
    """Load and check an artifact with `torch.load(weights_only=True)`."""
    path = Path(path)
    try:
        artifact = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ArtifactError(f"{path}: not a weights-only closecast artifact ({exc})") from exc
    if not isinstance(artifact, dict) or artifact.get("format") != FORMAT:
        found = artifact.get("format") if isinstance(artifact, dict) else type(artifact).__name__
        raise ArtifactError(f"{path}: format {found!r} is not {FORMAT!r}")
    return artifact
