"""The Diebold-Mariano statistic of the shrink guard: `mean_gain_z` with Newey-West (HAC) errors, against
the Bartlett sum written out here, on random series and on the edge cases."""

import math

import numpy as np
import pytest

from closecast.evaluation.significance import mean_gain_z


def mean_gain_z_by_hand(gains, min_lag=0):
    """The statistic as the module computed it by hand, kept as the yardstick."""
    g = np.asarray(gains, dtype=np.float64)
    n = g.size
    if n < 2:
        return -math.inf
    mean = float(g.mean())
    d = g - mean
    lag = min(n - 1, max(min_lag, int(4 * (n / 100) ** (2 / 9))))
    var = float(d @ d) / n
    for k in range(1, lag + 1):
        var += 2 * (1 - k / (lag + 1)) * float(d[k:] @ d[:-k]) / n
    if var <= 0:
        return math.inf if mean > 0 else -math.inf if mean < 0 else 0.0
    return mean / math.sqrt(var / n)


def ar1(rng, n, phi, scale=1.0, shift=0.0):
    """An AR(1) series of `n` values: daily loss differences come in calm and volatile stretches."""
    e = rng.normal(size=n)
    g = np.empty(n)
    g[0] = e[0]
    for t in range(1, n):
        g[t] = phi * g[t - 1] + e[t]
    return shift + scale * g


@pytest.mark.parametrize("seed", range(8))
def test_mean_gain_z_matches_the_bartlett_sum_on_random_series(seed):
    rng = np.random.default_rng(seed)
    for _ in range(25):
        n = int(rng.integers(2, 1500))
        g = ar1(rng, n, phi=rng.uniform(-0.9, 0.95), scale=rng.uniform(1e-4, 10.0), shift=rng.normal(0, 0.1))
        min_lag = int(rng.integers(0, 30))  # above the rule for short series, and above n - 1 for tiny ones
        assert mean_gain_z(g, min_lag) == pytest.approx(mean_gain_z_by_hand(g, min_lag), rel=1e-12, abs=0)


def test_mean_gain_z_on_a_hand_example():
    # d = (-1.5, -0.5, 0.5, 1.5), lag 1: variance 1.25 + 2 * 0.5 * 0.3125 = 1.5625,
    # standard error sqrt(1.5625 / 4) = 0.625, z = 2.5 / 0.625.
    assert mean_gain_z(np.array([1.0, 2.0, 3.0, 4.0]), min_lag=1) == pytest.approx(4.0, rel=1e-12)


def test_autocorrelated_gains_carry_less_evidence_than_the_iid_formula_claims():
    g = ar1(np.random.default_rng(1), 400, phi=0.8)
    naive_z = g.mean() / (g.std(ddof=1) / np.sqrt(g.size))
    hac_z = mean_gain_z(g)
    assert np.sign(hac_z) == np.sign(naive_z) and abs(hac_z) < 0.6 * abs(naive_z)


@pytest.mark.parametrize(
    "gains, expected",
    [
        (np.array([]), -math.inf),
        (np.array([0.5]), -math.inf),
        (np.full(10, 0.5), math.inf),  # no spread: any positive mean is overwhelming evidence
        (np.full(10, -0.25), -math.inf),
        (np.zeros(10), 0.0),
    ],
)
def test_mean_gain_z_edge_cases(gains, expected):
    assert mean_gain_z(gains, min_lag=2) == expected == mean_gain_z_by_hand(gains, min_lag=2)


def test_a_nearly_constant_series_is_overwhelming_evidence():
    # 0.3 is not exact in binary, so the deviations from the mean are rounding noise, not zero.
    g = np.full(10, 0.3)
    assert mean_gain_z(g) > 1e6
    assert mean_gain_z(g) == pytest.approx(mean_gain_z_by_hand(g), rel=1e-12)
