"""The end-of-run verdict says what the Diebold-Mariano test shows, against the reference chosen on
validation, and never more."""

from __future__ import annotations

import pytest

from closecast.evaluation.report import (
    distribution_table,
    distribution_verdict,
    pooled_table,
    significance_words,
)


def metrics(t: float, ratio: float = 0.998) -> dict[str, float]:
    return {
        "val/egarch_t/served/crps": 1.0,
        "val/gjr_t/served/crps": 1.1,  # egarch_t is best on validation: the reference
        "test/egarch_t/served/crps": 0.010,
        "test/gjr_t/served/crps": 0.009,  # better on test, which must not matter
        "test/served/crps": 0.010 * ratio,
        "test/served/vs_reference": ratio,
        "test/served/dm_t": t,
        "test/served/in_mcs": 1.0,
    }


@pytest.mark.parametrize(
    ("t", "words"),
    [
        (-2.5, "significantly better"),
        (-1.0, "not significant: a tie"),
        (1.9, "a tie"),
        (2.2, "significantly worse"),
    ],
)
def test_the_verdict_names_the_reference_chosen_on_validation_and_what_the_test_says(t, words):
    line = distribution_verdict(metrics(t))
    assert "of egarch_t (chosen on validation)" in line and f"DM t = {t:+.2f}" in line
    assert words in line and words in significance_words(t)
    assert "in the 10% model confidence set" in line


def test_without_a_network_distribution_only_the_reference_is_named():
    m = {k: v for k, v in metrics(-1.0).items() if not k.startswith("test/served")}
    assert "no predictive distribution" in distribution_verdict(m) and "egarch_t" in distribution_verdict(m)
    assert distribution_verdict({}) == "test: no strong baseline scored"


def test_tables_mark_the_reference_and_show_each_series_against_its_own():
    table = distribution_table(metrics(-2.5))
    assert "egarch_t (ref)" in table and "gjr_t (ref)" not in table
    both = {f"{s}/{k}": v for s in ("AAPL", "IBM") for k, v in metrics(-2.5).items()}
    both["IBM/val/gjr_t/served/crps"] = 0.5  # IBM's reference is another baseline
    lines = pooled_table(both, ["AAPL", "IBM"]).splitlines()
    assert "egarch_t" in lines[1] and "gjr_t" in lines[2]
