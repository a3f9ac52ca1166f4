"""The skewed Student-t head: its density, CDF and quantile function (numpy), its training log density
(torch) and its scores, against their definitions and against the Student-t it reduces to at skew 1."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from closecast.distributions import likelihood as D
from closecast.distributions import predictive as P
from closecast.distributions import skewed_t
from closecast.evaluation import scoring_rules as S
from closecast.evaluation.distribution_scores import GRID, closed_form_scores, grid_crps, variance

dfs = st.floats(2.01, 60.0)
skews = st.floats(0.15, 7.0)


def density(z, df, skew):
    return np.exp(skewed_t.logpdf(z, df, skew))


@settings(max_examples=10, deadline=None)
@given(df=dfs, skew=skews)
def test_the_density_integrates_to_one_and_its_cdf_is_its_integral(df, skew):
    below = integrate.quad(density, -np.inf, 0.0, args=(df, skew))[0]
    above = integrate.quad(density, 0.0, np.inf, args=(df, skew))[0]
    assert below + above == pytest.approx(1.0, abs=1e-6)
    assert below == pytest.approx(float(skewed_t.cdf(0.0, df, skew)), abs=1e-6)
    to_one = integrate.quad(density, -np.inf, 1.0, args=(df, skew))[0]
    assert to_one == pytest.approx(float(skewed_t.cdf(1.0, df, skew)), abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(x=st.floats(-30.0, 30.0), loc=st.floats(-0.05, 0.05), scale=st.floats(1e-3, 0.1), df=dfs, skew=skews)
def test_the_quantile_of_the_cdf_is_the_outcome(x, loc, scale, df, skew):
    y = loc + scale * x
    level = P.cdf(y, loc, scale, df, skew)
    if not 1e-12 < level < 1 - 1e-9:  # beyond float precision of a level in (0, 1)
        return
    assert float(P.quantile(level, loc, scale, df, skew)) == pytest.approx(y, abs=1e-6 * scale)


@settings(max_examples=100, deadline=None)
@given(level=st.floats(1e-6, 1 - 1e-6), df=dfs, skew=skews)
def test_the_cdf_of_the_quantile_is_the_level(level, df, skew):
    assert float(skewed_t.cdf(skewed_t.ppf(level, df, skew), df, skew)) == pytest.approx(level, abs=1e-9)


def test_at_skew_one_every_output_is_the_student_t_s():
    rng = np.random.default_rng(0)
    y, loc = rng.normal(0, 0.02, (50, 2)), rng.normal(0, 0.002, (50, 2))
    scale, df, one = rng.uniform(0.005, 0.03, (50, 2)), rng.uniform(2.1, 30, (50, 2)), np.ones((50, 2))
    levels = np.array([0.01, 0.3, 0.5, 0.9])[:, None, None]
    np.testing.assert_allclose(P.quantile(levels, loc, scale, df, one), P.quantile(levels, loc, scale, df))
    np.testing.assert_allclose(P.cdf(y, loc, scale, df, one), P.cdf(y, loc, scale, df), atol=1e-15)
    np.testing.assert_allclose(S.crps(y, loc, scale, df, one), S.crps(y, loc, scale, df), rtol=1e-10)
    np.testing.assert_allclose(
        S.negative_log_density(y, loc, scale, df, one), S.negative_log_density(y, loc, scale, df), rtol=1e-12
    )
    # The torch head: a skew output of 0 is skew 1, and its NLL is the Student-t head's.
    raw = torch.randn(50, 2, 4, dtype=torch.float64)
    raw[..., 3] = 0.0
    skewed, student = D.SkewedT(), D.StudentT()
    assert torch.equal(skewed.predictive(raw).skew, torch.ones(50, 2, dtype=torch.float64))
    target = torch.randn(50, 2, dtype=torch.float64)
    torch.testing.assert_close(skewed.loss(raw, target), student.loss(raw[..., :3], target))


def test_training_and_serving_agree_on_the_log_density():
    rng = np.random.default_rng(1)
    y, loc, scale = rng.normal(0, 1, 200), rng.normal(0, 0.3, 200), rng.uniform(0.3, 2, 200)
    df, skew = rng.uniform(2.1, 20, 200), np.exp(rng.uniform(-1.5, 1.5, 200))
    torch_args = [torch.from_numpy(a) for a in (df, loc, scale, skew)]
    trained = D.SkewedStudentT(*torch_args).log_prob(torch.from_numpy(y)).numpy()
    np.testing.assert_allclose(-trained, S.negative_log_density(y, loc, scale, df, skew), rtol=1e-10)


@pytest.mark.parametrize(("df", "skew"), [(2.5, 1.7), (6.0, 0.4), (30.0, 1.2)])
def test_crps_mean_and_variance_match_their_definitions(df, skew):
    def square(z, y):
        return (skewed_t.cdf(z, df, skew) - (z >= y)) ** 2

    for y in (-2.0, 0.1, 1.5):
        sides = ((-np.inf, y), (y, np.inf))
        by_definition = sum(integrate.quad(square, *ends, args=(y,))[0] for ends in sides)
        assert float(S.crps_skewed_t(y, 0.0, 1.0, df, skew)) == pytest.approx(by_definition, rel=1e-7)
    first = integrate.quad(lambda z: z * density(z, df, skew), -np.inf, np.inf)[0]
    second = integrate.quad(lambda z: z * z * density(z, df, skew), -np.inf, np.inf, limit=200)[0]
    assert float(skewed_t.mean(df, skew)) == pytest.approx(first, rel=1e-7)
    assert float(skewed_t.variance(df, skew)) == pytest.approx(second - first**2, rel=1e-6)
    # The served distribution's grid CRPS stays close to the closed form, as it does for the Student-t.
    y = np.array([[-0.02], [0.003], [0.015]])
    fc = P.LogReturnForecast(*(np.full_like(y, v) for v in (0.0, 0.01, df, skew)))
    grid = grid_crps(y, P.log_return_quantiles(fc, None, GRID))
    np.testing.assert_allclose(grid, S.crps(y, *fc.parameters())[:, 0], rtol=0.02)


def test_a_right_skewed_forecast_scores_better_on_right_skewed_outcomes():
    level = np.random.default_rng(2).uniform(size=(4000, 1))
    y = 0.01 * skewed_t.ppf(level, 5.0, 1.5)  # drawn by inverting the CDF
    shape = np.ones_like(y)
    right = P.LogReturnForecast(0 * y, 0.01 * shape, 5 * shape, 1.5 * shape)
    left = P.LogReturnForecast(0 * y, 0.01 * shape, 5 * shape, 1 / 1.5 * shape)
    scored_right, scored_left = closed_form_scores(y, right, "r"), closed_form_scores(y, left, "l")
    assert scored_right["r/crps"] < scored_left["l/crps"] and scored_right["r/nll"] < scored_left["l/nll"]
    assert np.isfinite(scored_right["r/qlike"]) and (variance(right) > 0).all()


def test_an_ensemble_averages_the_log_skew():
    raws = torch.randn(2, 3, 1, 4, dtype=torch.float64)
    raws[0, ..., 3], raws[1, ..., 3] = D.inverse_skewness(torch.tensor(np.log(2.0))), 0.0
    combined = D.SkewedT().predictive(D.SkewedT().combine(raws))
    torch.testing.assert_close(combined.skew, torch.full((3, 1), np.sqrt(2.0), dtype=torch.float64))
    members = D.SkewedT().predictive(raws)
    torch.testing.assert_close(combined.df, members.df.mean(dim=0))


def test_crps_refuses_a_skew_that_is_not_positive():
    with pytest.raises(ValueError, match="skew > 0"):
        S.crps_skewed_t(0.0, 0.0, 1.0, 4.0, np.array([1.0, 0.0]))
