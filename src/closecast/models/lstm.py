"""The network: a plain `nn.Module`, built from `configs/model/*.yaml`."""

from __future__ import annotations

import math

import torch
from torch import nn

from closecast.distributions.likelihood import Likelihood, likelihood_of


class LSTMForecaster(nn.Module):
    """Stacked LSTM over a sequence of input features, with a linear head for the next `horizon` steps.

    `likelihood` (a `Likelihood`, or its config name) sizes the head: `none` gives one normalized target
    per step (a point forecast, trained by MSE); `gaussian` / `student_t` / `skewed_t` give the raw
    distribution parameters per step (`closecast.distributions.likelihood`). `hparams` keep its name, so
    an artifact rebuilds the network from plain data.
    The head starts at a zero location — the naive forecast under the default `return` target — and a unit
    scale (the training spread), and a skewed head at no skew, so training moves it only where the data
    pays for it.

    `members=K > 1` makes a deep ensemble: K independent LSTM+head pairs, each from its own random LSTM
    weights and the same naive start, each trained on its own loss (`member_outputs`). `forward` answers
    one set of raw outputs, the members combined by the likelihood's `combine`, so every reader of a network's
    output (calibration, scores, artifact, serving) sees a single network.
    """

    def __init__(
        self,
        hidden: int = 64,
        layers: int = 2,
        dropout: float = 0.0,
        input_size: int = 1,
        horizon: int = 1,
        likelihood: Likelihood | str = "none",
        members: int = 1,
    ) -> None:
        super().__init__()
        if hidden < 1 or layers < 1:
            raise ValueError(f"hidden and layers must be positive, got hidden={hidden}, layers={layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        head = likelihood if isinstance(likelihood, Likelihood) else likelihood_of(likelihood)
        if isinstance(members, bool) or not isinstance(members, int) or members < 1:
            raise ValueError(f"model.members={members!r} must be a whole number >= 1 (1 = a single network)")
        self.hparams = {
            "hidden": int(hidden),
            "layers": int(layers),
            "dropout": float(dropout),
            "input_size": int(input_size),
            "horizon": int(horizon),
            "likelihood": head.name,
            "members": members,
        }
        self.likelihood, self.horizon = head, int(horizon)
        self.n_params = head.n_params
        self.members = members
        if members == 1:
            # The single network keeps its attribute names, so artifacts and checkpoints from before
            # ensembles load as they are.
            single = self._member(input_size, hidden, layers, dropout)
            self.lstm, self.head = single["lstm"], single["head"]
        else:
            self.ensemble = nn.ModuleList(
                self._member(input_size, hidden, layers, dropout) for _ in range(members)
            )

    def _member(self, input_size: int, hidden: int, layers: int, dropout: float) -> nn.ModuleDict:
        # nn.LSTM applies dropout between layers only; with one layer it would just warn.
        lstm = nn.LSTM(input_size, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        head = nn.Linear(hidden, self.horizon * self.n_params)
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
        if self.n_params > 1:
            with torch.no_grad():  # softplus(log(e - 1)) = 1: a unit starting scale
                head.bias.view(self.horizon, self.n_params)[:, 1] = math.log(math.e - 1)
        return nn.ModuleDict({"lstm": lstm, "head": head})

    def _run(self, lstm: nn.LSTM, head: nn.Linear, x: torch.Tensor) -> torch.Tensor:
        out, _ = lstm(x)
        y = head(out[:, -1])
        return y if self.n_params == 1 else y.view(-1, self.horizon, self.n_params)

    def member_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each member's raw output, shaped as `forward`'s; what training scores, one loss per member."""
        if self.members == 1:
            return [self._run(self.lstm, self.head, x)]
        return [self._run(m["lstm"], m["head"], x) for m in self.ensemble]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(batch, length, input_size)` → `(batch, horizon)`, or `(batch, horizon, n_params)` with a
        likelihood head; an ensemble's members combined into one such output."""
        outputs = self.member_outputs(x)
        return outputs[0] if self.members == 1 else self.likelihood.combine(torch.stack(outputs))
