"""One calendar split for a universe: date ranges shared by every series, whatever their lengths; one
series split exactly as by its own fractions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closecast.data.datamodule import PriceDataModule
from closecast.data.splits import calendar_split, split_sizes

DAYS = pd.bdate_range("2001-01-01", periods=400)


@st.composite
def ragged(draw) -> dict[str, pd.DatetimeIndex]:
    """A few series on the business-day calendar, each starting and ending on its own day, with gaps."""
    out = {}
    for i in range(draw(st.integers(1, 5))):
        first = draw(st.integers(0, len(DAYS) - 2))
        last = draw(st.integers(first + 1, len(DAYS)))
        keep = draw(st.lists(st.booleans(), min_size=last - first, max_size=last - first))
        idx = DAYS[first:last][np.array(keep, dtype=bool)]
        if len(idx):
            out[f"S{i}"] = idx
    return out or {"S0": DAYS}


@settings(max_examples=200, deadline=None)
@given(ragged(), st.floats(0.1, 0.7), st.floats(0.05, 0.25))
def test_every_series_parts_lie_in_the_shared_date_ranges(dates, train_frac, val_frac):
    calendar, splits = calendar_split(dates, train_frac, val_frac)
    for name, idx in dates.items():
        split = splits[name]
        assert split.n_train + split.n_val + split.n_test == len(idx)
        train, val, test = np.split(idx, [split.n_train, split.n_train + split.n_val])
        assert (train < calendar.val_start).all()
        assert ((val >= calendar.val_start) & (val < calendar.test_start)).all()
        assert (test >= calendar.test_start).all()
    union = pd.DatetimeIndex(sorted(set().union(*dates.values())))
    sizes = split_sizes(len(union), train_frac, val_frac)
    assert (union < calendar.val_start).sum() == sizes.n_train  # the fractions cut the union calendar
    assert (union < calendar.test_start).sum() == sizes.n_train + sizes.n_val


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 400), st.floats(0.1, 0.7), st.floats(0.05, 0.25))
def test_one_series_is_split_by_its_own_fractions(n, train_frac, val_frac):
    _, splits = calendar_split({"ONLY": DAYS[:n]}, train_frac, val_frac)
    assert splits["ONLY"] == split_sizes(n, train_frac, val_frac)


def _ragged_panel(tmp_path) -> str:
    """A wide file of three series: one over all the days, one listed late, one delisted early."""
    rng = np.random.default_rng(0)
    days = pd.bdate_range("2010-01-01", periods=600)
    prices = pd.DataFrame(
        {name: 50 * np.exp(np.cumsum(rng.normal(0, 0.01, len(days)))) for name in ("FULL", "LATE", "EARLY")},
        index=days,
    )
    prices.loc[: days[249], "LATE"] = np.nan
    prices.loc[days[560] :, "EARLY"] = np.nan
    path = tmp_path / "ragged.csv"
    prices.rename_axis("Date").to_csv(path)
    return str(path)


def test_no_sample_of_any_series_reaches_a_later_part(tmp_path):
    dm = PriceDataModule(
        source="panel", path=_ragged_panel(tmp_path), window=10, horizon=2, features=["return"]
    )
    dm.setup()
    assert list(dm.members) == ["FULL", "LATE", "EARLY"]
    union = pd.DatetimeIndex(sorted(set().union(*(m.series.index for m in dm.members.values()))))
    sizes = split_sizes(len(union), 0.7, 0.15)
    val_start, test_start = union[sizes.n_train], union[sizes.n_train + sizes.n_val]
    for member in dm.members.values():
        idx, parts = member.series.index, member.parts
        last_target = {p: idx[parts[p].anchors.stop - 1 + dm.horizon] for p in ("train", "val", "test")}
        first_target = {p: idx[parts[p].anchors.start + 1] for p in ("train", "val", "test")}
        assert last_target["train"] < val_start <= first_target["val"]
        assert last_target["val"] < test_start <= first_target["test"]
        # Normalization is each series' own, fitted on its training dates only.
        train_prices = member.series[member.series.index < val_start]
        assert len(train_prices) == member.split.n_train
        returns = np.diff(np.log(train_prices.to_numpy()))
        assert member.codec.std == pytest.approx(np.std(returns, ddof=1), rel=1e-12)


def test_a_series_left_too_short_by_the_shared_split_is_dropped_by_name(tmp_path, caplog):
    path = _ragged_panel(tmp_path)
    frame = pd.read_csv(path)
    frame.loc[: len(frame) - 60, "LATE"] = np.nan  # now listed inside the test period only
    frame.to_csv(path, index=False)
    dm = PriceDataModule(source="panel", path=path, window=10, features=["return"])
    dm.setup()
    assert list(dm.members) == ["FULL", "EARLY"]
    assert "dropped 1 of 3 series, too short for the shared calendar split: LATE (train/val/test samples" in (
        caplog.text
    )
