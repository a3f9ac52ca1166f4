"""Likelihood heads for training: raw network outputs → distribution parameters → negative log-likelihood.

A `Likelihood` object owns everything that depends on the head: its config name, the raw outputs it
needs per horizon step, the map from raw outputs to parameters (`Predictive`), the training loss, the
location (point forecast) of a raw output and the combination of an ensemble's members. The network,
the training step, scoring and serving hold one and never branch on the name; `likelihood_of` is the
one map from a config name (`model.likelihood`) to an object.

A distribution head predicts, per horizon step, a location and a scale (and, for Student-t, degrees of
freedom; for the skewed Student-t also a skew) of the normalized log return from the last observed price.
The scale is made positive with softplus and the degrees of freedom are kept above 2, so the predictive
distribution always has a finite variance (and a finite CRPS); the skew's log is bounded by
`MAX_LOG_SKEW`. Scoring the forecasts (CRPS, pinball, intervals) is numpy work and lives in
`closecast.evaluation.scoring_rules`; this module is what the training step calls, so it stays in torch."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import distributions as td

# A floor on the scale keeps the log-likelihood finite when a network pushes its scale output to -inf.
MIN_SCALE = 1e-4


MIN_DF = 2.0


# Degrees of freedom sit just above MIN_DF at the lowest, so the variance stays finite in float arithmetic.
DF_FLOOR = MIN_DF + 1e-3


# The skew gamma stays within exp(±MAX_LOG_SKEW), so each side of the mode keeps at least 1 / (1 + e⁴), about
# 2%, of the mass and a runaway output cannot overflow.
MAX_LOG_SKEW = 2.0


class SkewedStudentT(td.Distribution):
    """The Fernandez–Steel skewed Student-t (`closecast.distributions.skewed_t`): the Student-t's density
    stretched by `skew` above `loc` and by `1 / skew` below it; only its log density, which training needs."""

    arg_constraints: dict = {}

    def __init__(self, df, loc, scale, skew) -> None:
        self.df, self.loc, self.scale, self.skew = torch.broadcast_tensors(df, loc, scale, skew)
        super().__init__(self.loc.shape, validate_args=False)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Log density at `value`, broadcast against the parameters."""
        z = (value - self.loc) / self.scale
        stretched = torch.where(z >= 0, z / self.skew, z * self.skew)
        log_t = td.StudentT(self.df, validate_args=False).log_prob(stretched)
        return log_t + math.log(2.0) - torch.log(self.skew + 1.0 / self.skew) - torch.log(self.scale)


@dataclass
class Predictive:
    """Distribution parameters, each of shape `(..., horizon)`; `df` is None for the Gaussian, `skew`
    None for all but the skewed Student-t."""

    loc: torch.Tensor
    scale: torch.Tensor
    df: torch.Tensor | None = None
    skew: torch.Tensor | None = None

    def distribution(self) -> td.Distribution:
        """The torch distribution these parameters describe."""
        if self.skew is not None:
            return SkewedStudentT(self.df, self.loc, self.scale, self.skew)
        if self.df is None:
            return td.Normal(self.loc, self.scale, validate_args=False)
        return td.StudentT(self.df, self.loc, self.scale, validate_args=False)


def positive_scale(raw: torch.Tensor) -> torch.Tensor:
    """Raw output → scale > 0 (softplus, so the gradient never vanishes for large negative outputs)."""
    return F.softplus(raw) + MIN_SCALE


def degrees_of_freedom(raw: torch.Tensor) -> torch.Tensor:
    """Raw output → degrees of freedom > 2 (finite variance)."""
    return F.softplus(raw) + DF_FLOOR


def skewness(raw: torch.Tensor) -> torch.Tensor:
    """Raw output → skew gamma in (exp(-MAX_LOG_SKEW), exp(MAX_LOG_SKEW)); 0 → 1, the Student-t."""
    return torch.exp(MAX_LOG_SKEW * torch.tanh(raw / MAX_LOG_SKEW))


def inverse_skewness(log_skew: torch.Tensor) -> torch.Tensor:
    """The raw output whose `skewness` has log `log_skew` (clamped inside the open bound)."""
    bound = 1.0 - torch.finfo(log_skew.dtype).eps
    return MAX_LOG_SKEW * torch.atanh((log_skew / MAX_LOG_SKEW).clamp(-bound, bound))


def inverse_softplus(value: torch.Tensor) -> torch.Tensor:
    """The raw output whose softplus is `value` (> 0), written to stay finite for small and large values."""
    value = value.clamp_min(torch.finfo(value.dtype).tiny)
    return value + torch.log(-torch.expm1(-value))


class Likelihood:
    """What a network head is: its config `name`, `n_params` raw outputs per horizon step, and whether
    it describes a distribution (`has_distribution`) or only a point forecast."""

    name: str = ""
    n_params: int = 1
    has_distribution: bool = False

    def predictive(self, raw: torch.Tensor) -> Predictive:
        """Network output `(..., horizon, n_params)` → `Predictive` with parameters `(..., horizon)`."""
        raise ValueError(
            f"model.likelihood={self.name} is a point forecast with no predictive distribution; "
            "use model.likelihood=student_t, skewed_t or gaussian for one"
        )

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The training loss of network outputs `out` against normalized targets `y` `(..., horizon)`."""
        raise NotImplementedError

    def location(self, raw: torch.Tensor) -> torch.Tensor:
        """The point forecast `(..., horizon)` in a network's output."""
        raise NotImplementedError

    def combine(self, raws: torch.Tensor) -> torch.Tensor:
        """Members' raw outputs `(members, ...)` → one raw output `(...)`, read like a single network's."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Point(Likelihood):
    """No distribution: one normalized target per step `(..., horizon)`, trained by MSE."""

    name, n_params, has_distribution = "none", 1, False

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the point forecasts `out` `(..., horizon)`."""
        return F.mse_loss(out, y)

    def location(self, raw: torch.Tensor) -> torch.Tensor:
        """The output itself: `(..., horizon)`."""
        return raw

    def combine(self, raws: torch.Tensor) -> torch.Tensor:
        """The members' mean point forecast `(..., horizon)`."""
        return raws.mean(dim=0)


class _LocationScale(Likelihood):
    """A location-scale family: raw outputs `(..., horizon, n_params)`, location first, then scale."""

    has_distribution = True

    def _df(self, raw: torch.Tensor) -> torch.Tensor | None:
        return None

    def _skew(self, raw: torch.Tensor) -> torch.Tensor | None:
        return None

    def predictive(self, raw: torch.Tensor) -> Predictive:
        """Network output `(..., horizon, n_params)` → `Predictive` with parameters `(..., horizon)`."""
        if raw.shape[-1] != self.n_params:
            raise ValueError(
                f"a {self.name} head needs {self.n_params} outputs per horizon step, got {raw.shape[-1]}; "
                "size the network's output layer with the likelihood's n_params"
            )
        return Predictive(raw[..., 0], positive_scale(raw[..., 1]), self._df(raw), self._skew(raw))

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of `y` `(..., horizon)` under the outputs `out`."""
        if not torch.isfinite(out).all():
            # Weights that went non-finite: say so plainly (torch's distributions would refuse the NaN
            # parameters with a constraint error that does not name the cause).
            raise FloatingPointError("network outputs became non-finite")
        return nll(self.predictive(out), y)

    def location(self, raw: torch.Tensor) -> torch.Tensor:
        """The distribution's location `(..., horizon)`."""
        return raw[..., 0]

    def combine(self, raws: torch.Tensor) -> torch.Tensor:
        """Members' raw outputs `(members, ..., horizon, n_params)` → one `(..., horizon, n_params)`.

        Quantile averaging (Vincentization): the combined distribution's quantiles are the mean of the
        members' quantiles. Within one location-scale family that is the mean location and the mean scale
        (and, for Student-t, the mean degrees of freedom, which matches the quantile average where the
        members' tails agree and stays close where they differ; for the skewed Student-t, the mean log
        skew, so skews of 2 and 1/2 average to the symmetric 1). Unlike a mixture of the members, it keeps
        their sharpness rather than widening the forecast by their disagreement about the location.
        The means are mapped back through the inverses of `positive_scale` and `degrees_of_freedom`, so
        `predictive` reads the result like any single network's output.
        """
        pred = self.predictive(raws)
        parts = [pred.loc.mean(dim=0), inverse_softplus(pred.scale.mean(dim=0) - MIN_SCALE)]
        if pred.df is not None:
            parts.append(inverse_softplus(pred.df.mean(dim=0) - DF_FLOOR))
        if pred.skew is not None:
            parts.append(inverse_skewness(pred.skew.log().mean(dim=0)))
        return torch.stack(parts, dim=-1)


class Gaussian(_LocationScale):
    """A Normal distribution per step: location and scale."""

    name, n_params = "gaussian", 2


class StudentT(_LocationScale):
    """A Student-t distribution per step: location, scale and degrees of freedom (> 2)."""

    name, n_params = "student_t", 3

    def _df(self, raw: torch.Tensor) -> torch.Tensor | None:
        return degrees_of_freedom(raw[..., 2])


class SkewedT(StudentT):
    """A Fernandez–Steel skewed Student-t per step: location (the mode), scale, degrees of freedom (> 2)
    and skew gamma (1: the Student-t; above 1, a longer right side)."""

    name, n_params = "skewed_t", 4

    def _skew(self, raw: torch.Tensor) -> torch.Tensor | None:
        return skewness(raw[..., 3])


LIKELIHOODS = {cls.name: cls for cls in (Point, Gaussian, StudentT, SkewedT)}


def likelihood_of(name: str) -> Likelihood:
    """The head a config name (`model.likelihood`: none, gaussian, student_t, skewed_t) stands for."""
    if name not in LIKELIHOODS:
        raise ValueError(f"model.likelihood={name!r} is not one of {tuple(LIKELIHOODS)}; pick one of them")
    return LIKELIHOODS[name]()


def nll(pred: Predictive, target: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of `target` `(..., horizon)` under `pred`."""
    return -pred.distribution().log_prob(target).mean()
