"""The network: a plain `nn.Module`, built from `configs/model/*.yaml`."""

from __future__ import annotations

import math

import torch
from torch import nn

from closecast.distribution import n_params

LIKELIHOOD_CHOICES = ("none", "gaussian", "student_t")


class LSTMForecaster(nn.Module):
    """Stacked LSTM over a sequence of input features, with a linear head for the next `horizon` steps.

    `likelihood=none` gives one normalized target per step (a point forecast, trained by MSE);
    `gaussian` / `student_t` give the raw distribution parameters per step (`closecast.distribution`).
    The head starts at a zero location — the naive forecast under the default `return` target — and a unit
    scale (the training spread), so training moves it only where the data pays for it.
    """

    def __init__(
        self,
        hidden: int = 64,
        layers: int = 2,
        dropout: float = 0.0,
        input_size: int = 1,
        horizon: int = 1,
        likelihood: str = "none",
    ) -> None:
        super().__init__()
        if hidden < 1 or layers < 1:
            raise ValueError(f"hidden and layers must be positive, got hidden={hidden}, layers={layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if likelihood not in LIKELIHOOD_CHOICES:
            raise ValueError(f"model.likelihood={likelihood!r} is not one of {LIKELIHOOD_CHOICES}")
        self.hparams = {
            "hidden": int(hidden),
            "layers": int(layers),
            "dropout": float(dropout),
            "input_size": int(input_size),
            "horizon": int(horizon),
            "likelihood": str(likelihood),
        }
        self.likelihood, self.horizon = likelihood, int(horizon)
        self.n_params = 1 if likelihood == "none" else n_params(likelihood)
        # nn.LSTM applies dropout between layers only; with one layer it would just warn.
        self.lstm = nn.LSTM(
            input_size, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        self.head = nn.Linear(hidden, horizon * self.n_params)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        if self.n_params > 1:
            with torch.no_grad():  # softplus(log(e - 1)) = 1: a unit starting scale
                self.head.bias.view(horizon, self.n_params)[:, 1] = math.log(math.e - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(batch, length, input_size)` → `(batch, horizon)`, or `(batch, horizon, n_params)` with a
        likelihood head."""
        out, _ = self.lstm(x)
        y = self.head(out[:, -1])
        return y if self.n_params == 1 else y.view(-1, self.horizon, self.n_params)
