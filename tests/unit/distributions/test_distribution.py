"""Likelihood heads (torch) and the predictive distribution (numpy): quantiles, cdf, recalibration.
The scoring rules are tested in tests/unit/evaluation/test_scoring_rules.py."""

import numpy as np
import pytest
import torch
from scipy import stats

from closecast.distributions import likelihood as D
from closecast.distributions import predictive as P
from closecast.evaluation import scoring_rules as S


def test_quantile_and_cdf_are_inverses():
    loc, scale, df = 0.001, 0.02, 5.0
    q = P.quantile(0.95, loc, scale, df)
    assert P.cdf(q, loc, scale, df) == pytest.approx(0.95)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        P.quantile(1.0, loc, scale)


def test_recalibrated_levels_restore_coverage_of_a_too_narrow_forecast():
    rng = np.random.default_rng(1)
    val, test = rng.normal(0, 2, 5000), rng.normal(0, 2, 5000)
    levels = P.recalibrated_levels(P.cdf(val, 0.0, 1.0), [0.05, 0.95])  # forecast scale is half the truth
    lower, upper = P.quantile(levels, 0.0, 1.0)
    assert S.covered(test, lower, upper).mean() == pytest.approx(0.9, abs=0.015)


@pytest.mark.parametrize("likelihood", D.LIKELIHOODS)
def test_nll_gradients_are_finite_even_for_extreme_outputs(likelihood):
    raw = torch.tensor([[[0.0, -80.0, -80.0]], [[3.0, 60.0, 60.0]], [[-1.0, 0.5, 0.0]]])
    raw = raw[..., : D.n_params(likelihood)].clone().requires_grad_(True)
    pred = D.predictive(raw, likelihood)
    assert (pred.scale > 0).all() and (pred.df is None or (pred.df > 2).all())
    loss = D.nll(pred, torch.tensor([[0.5], [-10.0], [1.0]]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(raw.grad).all() and raw.grad.abs().sum() > 0


def test_torch_nll_matches_scipy_log_densities():
    y, loc, scale, df = torch.tensor([0.3, -2.0]), torch.tensor([0.1, 0.0]), torch.tensor([0.5, 2.0]), 4.0
    expected_t = -stats.t.logpdf(y.numpy(), df, loc.numpy(), scale.numpy()).mean()
    expected_n = -stats.norm.logpdf(y.numpy(), loc.numpy(), scale.numpy()).mean()
    student_t = D.Predictive(loc, scale, torch.full((2,), df))
    assert float(D.nll(student_t, y)) == pytest.approx(expected_t, rel=1e-5)
    assert float(D.nll(D.Predictive(loc, scale), y)) == pytest.approx(expected_n, rel=1e-5)


def test_nll_training_recovers_a_known_scale():
    torch.manual_seed(0)
    y = 3.0 * torch.randn(4000, 1)
    raw = torch.zeros(1, 1, 2, requires_grad=True)
    optimizer = torch.optim.Adam([raw], lr=0.1)
    for _ in range(1000):
        optimizer.zero_grad()
        loss = D.nll(D.predictive(raw.expand(4000, 1, 2), "gaussian"), y)
        loss.backward()
        optimizer.step()
    assert float(D.predictive(raw.detach(), "gaussian").scale) == pytest.approx(float(y.std()), rel=0.02)


def test_head_size_and_name_errors_say_the_way_out():
    with pytest.raises(ValueError, match="n_params"):
        D.predictive(torch.zeros(4, 1, 2), "student_t")
    with pytest.raises(ValueError, match="gaussian"):
        D.n_params("laplace")
