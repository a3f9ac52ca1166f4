"""Scoring rules (numpy): the library-backed scores against closed forms written out here and against
numeric integration of the CRPS definition, plus the behaviour the reports rely on."""

import numpy as np
import pytest
from scipy import integrate, special, stats

from closecast.distributions import predictive as P
from closecast.evaluation import scoring_rules as S
from closecast.evaluation.distribution_scores import quantile_scores

# Closed forms as the module computed them by hand, kept as the yardstick the library must meet.


def crps_gaussian_closed_form(y, loc, scale):
    z = (y - loc) / scale
    return scale * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))


def crps_student_t_closed_form(y, loc, scale, df):
    z = (y - loc) / scale
    pdf, cdf = stats.t.pdf(z, df), stats.t.cdf(z, df)
    log_const = (
        np.log(2 * np.sqrt(df) / (df - 1)) + special.betaln(0.5, df - 0.5) - 2 * special.betaln(0.5, df / 2)
    )
    return scale * (z * (2 * cdf - 1) + 2 * pdf * (df + z**2) / (df - 1) - np.exp(log_const))


def negative_log_density_closed_form(y, loc, scale, df=None):
    z = (y - loc) / scale
    return np.log(scale) - (stats.norm.logpdf(z) if df is None else stats.t.logpdf(z, df))


def pinball_closed_form(y, q, level):
    diff = y - q
    return np.maximum(level * diff, (level - 1) * diff)


def winkler_closed_form(y, lower, upper, coverage):
    alpha = 1 - coverage
    return (upper - lower) + (2 / alpha) * (np.maximum(lower - y, 0.0) + np.maximum(y - upper, 0.0))


# Outcomes up to 30 standard units either side, at the scale of daily log returns and of prices.
Z = np.linspace(-30.0, 30.0, 241)
SCALES = (1e-3, 0.02, 1.0, 7.0)
DFS = (1.05, 1.5, 2.001, 3.0, 5.0, 10.0, 30.0, 100.0, 1000.0)


def _outcomes(scale):
    loc = 0.3 * scale - 0.01
    return loc + Z * scale, loc


@pytest.mark.parametrize("scale", SCALES)
def test_gaussian_scores_match_the_closed_forms(scale):
    y, loc = _outcomes(scale)
    np.testing.assert_allclose(
        S.crps_gaussian(y, loc, scale), crps_gaussian_closed_form(y, loc, scale), rtol=1e-12, atol=0
    )
    # The log score crosses zero (where the density is 1), so a relative check needs an absolute floor.
    np.testing.assert_allclose(
        S.negative_log_density(y, loc, scale),
        negative_log_density_closed_form(y, loc, scale),
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("df", DFS)
def test_student_t_scores_match_the_closed_forms(scale, df):
    y, loc = _outcomes(scale)
    np.testing.assert_allclose(
        S.crps_student_t(y, loc, scale, df), crps_student_t_closed_form(y, loc, scale, df), rtol=1e-12, atol=0
    )
    np.testing.assert_allclose(
        S.negative_log_density(y, loc, scale, df),
        negative_log_density_closed_form(y, loc, scale, df),
        rtol=1e-12,
        atol=1e-12,
    )


def test_scores_broadcast_per_forecast_parameters_like_the_closed_forms():
    rng = np.random.default_rng(3)
    loc, scale = rng.normal(0, 0.01, (50, 3)), rng.uniform(0.005, 0.05, (50, 3))
    df = rng.uniform(2.1, 40.0, (50, 3))
    y = loc + scale * rng.standard_t(4, (50, 3))
    np.testing.assert_allclose(
        S.crps(y, loc, scale, df), crps_student_t_closed_form(y, loc, scale, df), rtol=1e-12
    )
    np.testing.assert_allclose(S.crps(y, loc, scale), crps_gaussian_closed_form(y, loc, scale), rtol=1e-12)
    np.testing.assert_allclose(
        S.negative_log_density(y, loc, scale, df),
        negative_log_density_closed_form(y, loc, scale, df),
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.parametrize("level", S.QUANTILE_LEVELS)
def test_pinball_matches_the_closed_form(level):
    rng = np.random.default_rng(4)
    y, q = rng.normal(0, 0.02, (200, 2)), rng.normal(0, 0.02, (200, 2))
    got = S.pinball(y, q, level)
    assert got.shape == y.shape and (got >= 0).all()
    np.testing.assert_allclose(got, pinball_closed_form(y, q, level), rtol=1e-12, atol=0)


@pytest.mark.parametrize("coverage", S.INTERVAL_LEVELS)
def test_winkler_matches_the_closed_form_and_keeps_the_shape(coverage):
    rng = np.random.default_rng(5)
    y = rng.normal(0, 0.02, (200, 1))
    half = rng.uniform(0.001, 0.03, (200, 1))
    lower, upper = -half, half
    got = S.winkler(y, lower, upper, coverage)
    assert got.shape == (200, 1)  # a one-step horizon keeps its axis
    np.testing.assert_allclose(got, winkler_closed_form(y, lower, upper, coverage), rtol=1e-12, atol=0)


def crps_by_integration(y: float, cdf) -> float:
    """CRPS from its definition: the integral of (F(x) − 1{x ≥ y})² over x."""
    below = integrate.quad(lambda x: cdf(x) ** 2, -np.inf, y, limit=200)[0]
    above = integrate.quad(lambda x: (1 - cdf(x)) ** 2, y, np.inf, limit=200)[0]
    return below + above


@pytest.mark.parametrize("y, loc, scale", [(0.3, 0.0, 1.0), (-2.5, 0.4, 0.7), (0.01, -0.002, 0.015)])
def test_gaussian_crps_matches_its_definition(y, loc, scale):
    expected = crps_by_integration(y, lambda x: stats.norm.cdf(x, loc, scale))
    assert S.crps_gaussian(y, loc, scale) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "y, loc, scale, df",
    [(0.3, 0.0, 1.0, 3.0), (-2.5, 0.4, 0.7, 2.2), (1.0, 0.1, 2.0, 30.0), (0.0, 0.0, 1.0, 1e4)],
)
def test_student_t_crps_matches_its_definition(y, loc, scale, df):
    expected = crps_by_integration(y, lambda x: stats.t.cdf(x, df, loc, scale))
    assert S.crps_student_t(y, loc, scale, df) == pytest.approx(expected, rel=1e-5)


def test_student_t_crps_tends_to_gaussian_for_large_df():
    y = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(S.crps_student_t(y, 0.0, 1.0, 1e6), S.crps_gaussian(y, 0.0, 1.0), rtol=1e-5)


def test_pinball_coverage_and_winkler_on_a_hand_example():
    y = np.array([1.0, 5.0, -2.0])
    assert S.pinball(y, 0.0, 0.9).tolist() == pytest.approx([0.9, 4.5, 0.2])
    lower, upper = np.array([0.0, 0.0, 0.0]), np.array([2.0, 2.0, 2.0])
    assert S.covered(y, lower, upper).tolist() == [1.0, 0.0, 0.0]
    # Width 2, plus 2/alpha (= 20 at 90%) times the miss: 0, 3, 2.
    assert S.winkler(y, lower, upper, 0.9).tolist() == pytest.approx([2.0, 62.0, 42.0])


def test_log_score_is_the_negative_log_density():
    # Sign and scale: a wider forecast has a lower density at its centre, so a higher log score.
    assert S.negative_log_density(0.0, 0.0, 1.0) == pytest.approx(0.5 * np.log(2 * np.pi))
    assert S.negative_log_density(0.0, 0.0, 2.0, 5.0) == pytest.approx(-stats.t.logpdf(0.0, 5.0, 0.0, 2.0))
    assert S.negative_log_density(0.0, 0.0, 2.0) > S.negative_log_density(0.0, 0.0, 1.0)


def test_interval_scores_reward_the_true_distribution():
    rng = np.random.default_rng(0)
    y = rng.standard_t(5, size=20000)
    true = quantile_scores(y, lambda a: P.quantile(a, 0.0, 1.0, 5.0), "")
    true["/crps"] = S.crps(y, 0.0, 1.0, 5.0).mean()
    too_narrow = quantile_scores(y, lambda a: P.quantile(a, 0.0, 0.5, 5.0), "")
    too_narrow["/crps"] = S.crps(y, 0.0, 0.5, 5.0).mean()
    assert abs(true["/coverage_90"] - 0.9) < 0.01 and too_narrow["/coverage_90"] < 0.8
    for key in ("crps", "pinball_05", "pinball_95", "winkler_90", "winkler_50"):
        assert true[f"/{key}"] < too_narrow[f"/{key}"], key


def test_scores_reject_a_non_positive_scale():
    for score in (S.crps_gaussian, S.negative_log_density):
        with pytest.raises(ValueError, match="scale must be positive"):
            score(0.0, 0.0, np.array([1.0, 0.0]))


def test_student_t_crps_rejects_df_without_a_finite_mean():
    with pytest.raises(ValueError, match="df > 1"):
        S.crps_student_t(0.0, 0.0, 1.0, np.array([3.0, 1.0]))
    with pytest.raises(ValueError, match="df > 1"):
        S.crps_student_t(0.0, 0.0, 1.0, np.nan)
