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


@pytest.mark.parametrize("name", ["gaussian", "student_t", "skewed_t"])
def test_nll_gradients_are_finite_even_for_extreme_outputs(name):
    likelihood = D.likelihood_of(name)
    raw = torch.tensor([[[0.0, -80.0, -80.0, -80.0]], [[3.0, 60.0, 60.0, 60.0]], [[-1.0, 0.5, 0.0, 0.3]]])
    raw = raw[..., : likelihood.n_params].clone().requires_grad_(True)
    pred = likelihood.predictive(raw)
    assert (pred.scale > 0).all() and (pred.df is None or (pred.df > 2).all())
    assert pred.skew is None or (torch.isfinite(pred.skew) & (pred.skew > 0)).all()
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
        loss = D.Gaussian().loss(raw.expand(4000, 1, 2), y)
        loss.backward()
        optimizer.step()
    assert float(D.Gaussian().predictive(raw.detach()).scale) == pytest.approx(float(y.std()), rel=0.02)


def test_head_size_and_name_errors_say_the_way_out():
    with pytest.raises(ValueError, match="n_params"):
        D.StudentT().predictive(torch.zeros(4, 1, 2))
    with pytest.raises(ValueError, match=r"model.likelihood='laplace' is not one of .*gaussian"):
        D.likelihood_of("laplace")
    with pytest.raises(ValueError, match="no predictive distribution"):
        D.Point().predictive(torch.zeros(4, 1))


@pytest.mark.parametrize(
    ("name", "n_params", "has_distribution"),
    [("none", 1, False), ("gaussian", 2, True), ("student_t", 3, True), ("skewed_t", 4, True)],
)
def test_a_config_name_maps_to_the_head_that_owns_its_size_and_loss(name, n_params, has_distribution):
    likelihood = D.likelihood_of(name)
    assert (likelihood.name, likelihood.n_params, likelihood.has_distribution) == (
        name,
        n_params,
        has_distribution,
    )
    torch.manual_seed(0)
    shape = (5, 2) if n_params == 1 else (5, 2, n_params)
    raw, y = torch.randn(shape), torch.randn(5, 2)
    point = likelihood.location(raw)
    assert point.shape == (5, 2)
    if has_distribution:
        torch.testing.assert_close(likelihood.loss(raw, y), D.nll(likelihood.predictive(raw), y))
        torch.testing.assert_close(point, likelihood.predictive(raw).loc)
        with pytest.raises(FloatingPointError, match="non-finite"):
            likelihood.loss(torch.full(shape, float("nan")), y)
    else:
        torch.testing.assert_close(likelihood.loss(raw, y), ((raw - y) ** 2).mean())
        torch.testing.assert_close(point, raw)
