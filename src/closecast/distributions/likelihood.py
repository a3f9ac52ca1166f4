"""Likelihood heads for training: raw network outputs → distribution parameters → negative log-likelihood.

The network predicts, per horizon step, a location and a scale (and, for Student-t, degrees of freedom) of
the normalized log return from the last observed price. The scale is made positive with softplus and the
degrees of freedom are kept above 2, so the predictive distribution always has a finite variance (and a
finite CRPS). Scoring the forecasts (CRPS, pinball, intervals) is numpy work and lives in
`closecast.evaluation.scoring_rules`; this module is what the training step calls, so it stays in torch."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.distributions import Normal, StudentT

LIKELIHOODS = ("gaussian", "student_t")


# A floor on the scale keeps the log-likelihood finite when a network pushes its scale output to -inf.
MIN_SCALE = 1e-4


MIN_DF = 2.0


# Degrees of freedom sit just above MIN_DF at the lowest, so the variance stays finite in float arithmetic.
DF_FLOOR = MIN_DF + 1e-3


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
    return F.softplus(raw) + DF_FLOOR


def predictive(raw: torch.Tensor, likelihood: str) -> Predictive:
    """Network output `(..., horizon, n_params)` → `Predictive` with parameters `(..., horizon)`."""
    k = n_params(likelihood)
    if raw.shape[-1] != k:
        raise ValueError(
            f"a {likelihood} head needs {k} outputs per horizon step, got {raw.shape[-1]}; "
            "size the network's output layer with closecast.distributions.likelihood.n_params"
        )
    loc, scale = raw[..., 0], positive_scale(raw[..., 1])
    df = degrees_of_freedom(raw[..., 2]) if likelihood == "student_t" else None
    return Predictive(loc, scale, df)


def inverse_softplus(value: torch.Tensor) -> torch.Tensor:
    """The raw output whose softplus is `value` (> 0), written to stay finite for small and large values."""
    value = value.clamp_min(torch.finfo(value.dtype).tiny)
    return value + torch.log(-torch.expm1(-value))


def combine_members(raws: torch.Tensor, likelihood: str) -> torch.Tensor:
    """Members' raw outputs `(members, ..., horizon, n_params)` → one raw output `(..., horizon, n_params)`.

    Quantile averaging (Vincentization): the combined distribution's quantiles are the mean of the members'
    quantiles. Within one location-scale family that is the mean location and the mean scale (and, for
    Student-t, the mean degrees of freedom, which matches the quantile average where the members' tails
    agree and stays close where they differ). Unlike a mixture of the members, it keeps their sharpness
    rather than widening the forecast by their disagreement about the location.
    The means are mapped back through the inverses of `positive_scale` and `degrees_of_freedom`, so
    `predictive` reads the result like any single network's output. For `none`, the point forecasts'
    mean.
    """
    if likelihood == "none":
        return raws.mean(dim=0)
    pred = predictive(raws, likelihood)
    parts = [pred.loc.mean(dim=0), inverse_softplus(pred.scale.mean(dim=0) - MIN_SCALE)]
    if pred.df is not None:
        parts.append(inverse_softplus(pred.df.mean(dim=0) - DF_FLOOR))
    return torch.stack(parts, dim=-1)


def nll(pred: Predictive, target: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of `target` `(..., horizon)` under `pred`."""
    return -pred.distribution().log_prob(target).mean()


def location(raw: torch.Tensor, likelihood: str) -> torch.Tensor:
    """The point forecast `(..., horizon)` in a network's output: the output itself for `none`, else the
    distribution's location."""
    return raw if likelihood == "none" else raw[..., 0]
