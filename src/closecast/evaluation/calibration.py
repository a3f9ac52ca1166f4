"""Calibration on the validation part: how far to trust the network's move (the shrink toward naive) and
how wide its conformal intervals are. Nothing here reads the test part."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from closecast.data.codec import Codec
from closecast.data.windows import WindowSet
from closecast.distributions.conformal import log_residuals, part_scale
from closecast.evaluation.shrink import choose_shrink


def calibrate(codec: Codec, y_val: torch.Tensor, val: WindowSet, calibration: Any) -> np.ndarray:
    """Set `codec.shrink` and `codec.interval_scale` from the `calibration` settings and the network's
    validation outputs `y_val`; return the conformal residuals of the shrunk forecast."""
    min_gain_z = float(calibration.get("min_gain_z", 0.0))
    codec.shrink = choose_shrink(codec, y_val, val, calibration.shrink, min_gain_z)
    codec.interval_scale = str(calibration.get("interval_scale", "none"))
    pred = codec.decode(y_val, val.last).numpy()
    return log_residuals(pred, val.future.numpy(), part_scale(codec, val))
