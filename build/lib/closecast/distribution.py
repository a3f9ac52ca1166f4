"""Likelihood heads for training: raw network outputs → distribution parameters → negative log-likelihood.

The network predicts, per horizon step, a location and a scale (and, for Student-t, degrees of freedom) of
the normalized log return from the last observed price. The scale is made positive with softplus and the
degrees of freedom are kept above 2, so the predictive distribution always has a finite variance (and a
finite CRPS). Scoring the forecasts (CRPS, pinball, intervals) is numpy work and lives in
`closecast.scores`; this module is what the training step calls, so it stays in torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.distributions import Normal, StudentT

LIKELIHOODS = ("gaussian", "student_t")

# A floor on the scale keeps the log-likelihood finite when a network pushes its scale output to -inf.
MIN_SCALE = 1e-4
MIN_DF = 2.0


@dataclass
class Predictive:
    """Distribution parameters, each of shape `(..., horizon)`; `df` is None for the Gaussian."""

    loc: torch.Tensor
    scale: torch.Tensor
    df: torch.Tensor | None = None

    def distribution(self) -> torch.distributions.Distribution:
        """The torch distribution these parameters describe."""
        if self.df is None:
            return Normal(self.loc, self.scale, validate_args=False)
        return StudentT(self.df, self.loc, self.scale, validate_args=False)


def n_params(likelihood: str) -> int:
    """Raw outputs the network needs per horizon step for `likelihood`."""
    check_likelihood(likelihood)
    return 2 if likelihood == "gaussian" else 3


def check_likelihood(likelihood: str) -> None:
    """Fail with the allowed names when `likelihood` is not one of them."""
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"model.likelihood={likelihood!r} is not one of {LIKELIHOODS}; pick one of them")


def positive_scale(raw: torch.Tensor) -> torch.Tensor:
    """Raw output → scale > 0 (softplus, so the gradient never vanishes for large negative outputs)."""
    return F.softplus(raw) + MIN_SCALE


def degrees_of_freedom(raw: torch.Tensor) -> torch.Tensor:
    """Raw output → degrees of freedom > 2 (finite variance)."""
    return F.softplus(raw) + MIN_DF + 1e-3


def predictive(raw: torch.Tensor, likelihood: str) -> Predictive:
    """Network output `(..., horizon, n_params)` → `Predictive` with parameters `(..., horizon)`."""
    k = n_params(likelihood)
    if raw.shape[-1] != k:
        raise ValueError(
            f"a {likelihood} head needs {k} outputs per horizon step, got {raw.shape[-1]}; "
            "size the network's output layer with closecast.distribution.n_params"
        )
    loc, scale = raw[..., 0], positive_scale(raw[..., 1])
    df = degrees_of_freedom(raw[..., 2]) if likelihood == "student_t" else None
    return Predictive(loc, scale, df)


def nll(pred: Predictive, target: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of `target` `(..., horizon)` under `pred`."""
    return -pred.distribution().log_prob(target).mean()


def gaussian_nll(target: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Mean Gaussian negative log-likelihood (scale already positive)."""
    return nll(Predictive(loc, scale), target)


def student_t_nll(
    target: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor, df: torch.Tensor
) -> torch.Tensor:
    """Mean Student-t negative log-likelihood (scale positive, df > 0)."""
    return nll(Predictive(loc, scale, df), target)


def standard_deviation(pred: Predictive) -> torch.Tensor:
    """Standard deviation of the predictive distribution (finite because df > 2)."""
    if pred.df is None:
        return pred.scale
    return pred.scale * torch.sqrt(pred.df / (pred.df - 2))
