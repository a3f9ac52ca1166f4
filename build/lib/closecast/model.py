"""The network: a plain `nn.Module`, built from `configs/model/*.yaml`."""

from __future__ import annotations

import torch
from torch import nn


class LSTMForecaster(nn.Module):
    """Stacked LSTM over a univariate sequence, with a linear head giving the next `horizon` targets.

    The head starts at zero, so an untrained model predicts a zero target — the naive forecast under the
    default `return` target — and training moves it only where the data pays for it.
    """

    def __init__(
        self, hidden: int = 64, layers: int = 2, dropout: float = 0.0, input_size: int = 1, horizon: int = 1
    ) -> None:
        super().__init__()
        if hidden < 1 or layers < 1:
            raise ValueError(f"hidden and layers must be positive, got hidden={hidden}, layers={layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.hparams = {
            "hidden": int(hidden),
            "layers": int(layers),
            "dropout": float(dropout),
            "input_size": int(input_size),
            "horizon": int(horizon),
        }
        # nn.LSTM applies dropout between layers only; with one layer it would just warn.
        self.lstm = nn.LSTM(
            input_size, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        self.head = nn.Linear(hidden, horizon)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(batch, length, input_size)` → `(batch, horizon)`."""
        out, _ = self.lstm(x)
        return self.head(out[:, -1])
