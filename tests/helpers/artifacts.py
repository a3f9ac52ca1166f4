"""Tiny artifacts of every kind the server serves, built with the artifact code itself (no training): an
untrained network with a random head and codecs fitted on the bundled closes, in milliseconds."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import torch

from closecast.artifacts.schema import build_universe_artifact, series_record
from closecast.data.codec import Codec
from closecast.distributions.calibration import Calibration
from closecast.models.lstm import LSTMForecaster
from tests.helpers.configs import ROOT

WINDOW = 12

# name → (likelihood, members, horizon, features, target, series)
KINDS: dict[str, tuple[str, int, int, list[str], str, list[str]]] = {
    "point": ("none", 1, 1, ["return"], "return", ["AAPL"]),
    "student_t": ("student_t", 1, 1, ["return", "abs_return"], "return", ["AAPL"]),
    "gaussian": ("gaussian", 1, 1, ["return"], "return", ["AAPL"]),
    "skewed_t": ("skewed_t", 1, 1, ["return"], "return", ["AAPL"]),
    "ensemble": ("student_t", 2, 1, ["return"], "return", ["AAPL"]),
    "range": ("student_t", 1, 1, ["return", "log_range"], "return", ["AAPL"]),
    "horizon": ("gaussian", 1, 3, ["return", "ma_dev"], "return", ["AAPL"]),
    "universe": ("student_t", 1, 2, ["return"], "return", ["AAPL", "GOOG", "IBM"]),
    "level": ("none", 1, 1, ["return"], "level", ["AAPL"]),
    "vol_input": ("student_t", 1, 1, ["return", "baseline_vol"], "return", ["AAPL", "IBM"]),
}
# `baseline_vol`'s model as `arch` would fit it on percent returns (here without a fit): a GJR-GARCH.
VOL_PARAMS = {"omega": 0.04, "alpha[1]": 0.02, "gamma[1]": 0.12, "beta[1]": 0.88}


def sample_prices(ticker: str, n: int = 400) -> tuple[torch.Tensor, torch.Tensor]:
    """The last `n` adjusted closes `(n,)` of a bundled ticker and its High/Low `(2, n)`."""
    frame = pd.read_csv(ROOT / "data" / "sample" / f"{ticker}.csv").tail(n)
    closes = torch.tensor(frame["Adj Close"].to_numpy(np.float64))
    return closes, torch.tensor(frame[["High", "Low"]].to_numpy(np.float64).T.copy())


def tiny_artifact(kind: str, seed: int = 0) -> dict[str, Any]:
    """An artifact of `kind` (`KINDS`): window `WINDOW`, a network of hidden size 4 with a random head."""
    likelihood, members, horizon, features, target, names = KINDS[kind]
    torch.manual_seed(seed)
    net = LSTMForecaster(
        hidden=4, layers=1, input_size=len(features), horizon=horizon, likelihood=likelihood, members=members
    )
    for head in [net.head] if members == 1 else [m["head"] for m in net.ensemble]:
        torch.nn.init.normal_(head.weight, std=0.1)
    rng = np.random.default_rng(seed)
    records = {}
    for name in names:
        closes, high_low = sample_prices(name)
        vol = {k: v * (1.0 + 0.1 * len(records)) for k, v in VOL_PARAMS.items()}  # one model a series
        codec = Codec.fit(closes[:300], target, WINDOW, horizon, features, 5, high_low[:, :300], "gjr_t", vol)
        residuals = torch.from_numpy(np.sort(rng.uniform(0.0, 0.05, (40, horizon)), axis=0))
        pit = None
        if likelihood != "none":
            pit = torch.from_numpy(np.sort(rng.uniform(0.0, 1.0, (40, horizon)), axis=0))
        calibration = Calibration(residuals, 0.5, "window", pit)
        data = {"ticker": name, "feature": "Adj Close", "start": "2020-01-01", "end": "2021-01-01"}
        records[name] = series_record(codec, calibration, data, {"test/mae": 1.0})
    return build_universe_artifact(net, records, {"test/mae": 1.0})


def nan_weights() -> dict[str, Any]:
    """A Student-t artifact whose weights are all NaN: it loads, but no answer is a number."""
    artifact = tiny_artifact("student_t")
    artifact["state_dict"] = {k: torch.full_like(v, float("nan")) for k, v in artifact["state_dict"].items()}
    return artifact


def absurd_window() -> dict[str, Any]:
    """A schema-valid point artifact declaring a window of a billion prices."""
    artifact = tiny_artifact("point")
    artifact["window"] = 10**9
    for record in artifact["series"].values():
        record["codec"]["window"] = 10**9
    return artifact


# Combined baselines for `with_baselines`, one a series in turn: (name, filter spec, network weight); the
# last serves the baseline alone.
BASELINES = [
    ("gjr_t", {"process": "gjr", "params": {"omega": 0.02, "alpha[1]": 0.05, "gamma[1]": 0.08,
                                            "beta[1]": 0.88, "nu": 6.0},
               "backcast": 2.0, "history": 30}, 0.3),
    ("garch_n", {"process": "garch", "params": {"omega": 0.03, "alpha[1]": 0.07, "beta[1]": 0.9},
                 "backcast": 1.5, "history": 40}, 0.6),
    ("ewma", {"process": "ewma", "params": {}, "backcast": 1.0, "history": 20}, 0.0),
]  # fmt: skip


def with_baselines(artifact: dict[str, Any], seed: int = 1) -> dict[str, Any]:
    """`artifact` with each series served as a combination with a volatility baseline (`BASELINES`)."""
    artifact = copy.deepcopy(artifact)
    rng = np.random.default_rng(seed)
    for k, record in enumerate(artifact["series"].values()):
        name, spec, weight = BASELINES[k % len(BASELINES)]
        calibration = record["calibration"]
        steps = calibration["residuals"].shape[1]
        calibration["weight"], calibration["baseline"] = weight, {"name": name, **spec}
        pit = np.sort(rng.uniform(0.0, 1.0, (25 + k, steps)), axis=0)
        calibration["baseline_pit"] = torch.from_numpy(pit).float()
    return artifact
