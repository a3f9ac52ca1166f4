"""A batch's quantiles and intervals are one computation over every item, with the numbers a single
`/predict` gives each item: over every artifact kind, with and without a combined baseline (Student-t,
Gaussian and baseline-only), trained and unseen series in one batch."""

from __future__ import annotations

import pytest
import torch

from closecast.artifacts.schema import check_artifact
from closecast.distributions import predictive
from closecast.inference.forecaster import Forecaster, Item
from tests.helpers.artifacts import KINDS, WINDOW, sample_prices, tiny_artifact, with_baselines

CLOSES, HIGH_LOW = sample_prices("AAPL", 300)
OPTIONS = [
    {"interval": 0.8, "quantiles": [0.001, 0.05, 0.5, 0.95, 0.999]},
    {"quantiles": [0.75, 0.25], "interval": 0.5, "horizon": 1},
    {"interval": 0.999},
]


def forecaster(kind: str, combined: bool) -> Forecaster:
    """The artifact of `kind`, its network answering row by row: a batch's network outputs are then those
    of one window alone, so any difference left is the quantile step's."""
    artifact = tiny_artifact(kind)
    f = Forecaster(check_artifact(with_baselines(artifact) if combined else artifact))
    forward = f.net.forward
    f.net.forward = lambda x: torch.cat([forward(x[i : i + 1]) for i in range(len(x))])
    return f


def items(f: Forecaster) -> list[Item]:
    """Windows of several lengths of each trained series and, for a likelihood head, two unseen ones."""
    out = []
    for j in range(8):
        unseen = j >= 6  # its normalization needs 4 windows of history
        n = WINDOW + 5 * j if j % 2 and not unseen else 5 * WINDOW + j
        if unseen and not f.likelihood.has_distribution:
            continue
        start = 10 * j
        item = Item(CLOSES[start : start + n].tolist(), None if unseen else f.names[j % len(f.names)])
        item.normalize = "window" if unseen else None
        if f.needs_high_low:
            item.high, item.low = (HIGH_LOW[k, start : start + n].tolist() for k in (0, 1))
        out.append(item)
    return out


def close(got, want) -> None:
    """Equal answers, numbers to 1e-12 relative (None where a bound is unbounded)."""
    if isinstance(want, dict):
        assert set(got) == set(want)
        for key in want:
            close(got[key], want[key])
    elif isinstance(want, list):
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            close(a, b)
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-12, abs=0)
    else:
        assert got == want


@pytest.mark.parametrize("combined", [False, True], ids=["alone", "combined"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_each_batch_item_is_its_single_predict_answer(kind: str, combined: bool) -> None:
    f = forecaster(kind, combined)
    batch = items(f)
    for options in OPTIONS:
        answers = f.predict_items(batch, **options)
        for item, got in zip(batch, answers, strict=True):
            alone = f.predict(
                item.values, high=item.high, low=item.low, series=item.series, normalize=item.normalize,
                **options,
            )  # fmt: skip
            close(got, alone)
    if combined and f.likelihood.has_distribution:
        served = {a.get("served", {}).get("kind") for a in answers}
        assert served >= ({"combination", "baseline"} if len(f.names) >= 3 else {"combination"})


def test_a_batch_computes_each_part_once_whatever_its_size(monkeypatch) -> None:
    f = forecaster("universe", combined=True)  # the network, a Student-t, a Gaussian and a lone baseline
    calls = []
    quantile = predictive.quantile
    monkeypatch.setattr(predictive, "quantile", lambda *a: calls.append(1) or quantile(*a))
    counts = []
    for copies in (1, 20):
        calls.clear()
        f.predict_items(items(f) * copies, interval=0.9, quantiles=[0.1, 0.5, 0.9])
        counts.append(len(calls))
    assert counts[0] == counts[1] <= 4
