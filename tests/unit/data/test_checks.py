"""Series that every row of passes and that still train badly are refused by default, each with the key
that accepts it: long gaps, one-day moves of a split, conflicting duplicate dates; empty holiday cells are
skipped apart from bad rows; a tiny test part warns; real adjusted daily series pass the defaults."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from closecast.data.cleaning import clean_series
from closecast.errors import DataError
from tests.helpers.configs import ROOT, compose_train
from tests.helpers.series import one_series

DEFAULTS = OmegaConf.load(ROOT / "configs" / "data" / "default.yaml")
CHECKS = {k: DEFAULTS[k] for k in ("max_dropped_frac", "max_gap_days", "max_daily_move", "duplicate_dates")}


def aapl() -> pd.DataFrame:
    return pd.read_csv(ROOT / "data" / "sample" / "AAPL.csv")[["Date", "Adj Close"]]


def clean(frame: pd.DataFrame, **changed) -> pd.Series:
    return clean_series(frame, "Adj Close", name="a.csv", **{**CHECKS, **changed})


def test_a_six_year_gap_is_refused_naming_it_and_the_way_out():
    frame = aapl()
    dates = pd.to_datetime(frame["Date"])
    holed = frame[(dates < "2005-01-01") | (dates >= "2011-01-01")]
    with pytest.raises(
        DataError, match=r"a.csv: 1 gap\(s\) of more than data.max_gap_days=10 trading days"
    ) as err:
        clean(holed)
    message = str(err.value)
    assert "from 2004-12-31 to 2011-01-03" in message and "data.max_gap_days=1565" in message
    assert "\n" not in message
    # Accepted, the gap still makes a tenfold "daily" move, and the moves check says where it comes from.
    with pytest.raises(DataError, match="largest 10.2x .* it spans 1565 weekdays without a price"):
        clean(holed, max_gap_days=1565)
    assert len(clean(holed, max_gap_days=None, max_daily_move=None)) == len(holed)


def test_an_unadjusted_split_is_refused_naming_the_split():
    frame = aapl()
    after = pd.to_datetime(frame["Date"]) >= "2005-02-28"
    frame.loc[after, "Adj Close"] = frame.loc[after, "Adj Close"] / 4  # as an unadjusted 4-for-1 split shows
    with pytest.raises(
        DataError, match="largest 3.97x from .* on 2005-02-28: most likely an unadjusted 4-for-1 split"
    ):
        clean(frame)
    assert len(clean(frame, max_daily_move=4.5)) == len(frame)


def test_a_date_given_twice_with_different_prices_is_refused_unless_told_which_wins():
    frame = aapl()
    twice = pd.concat([frame, frame.iloc[[100]].assign(**{"Adj Close": frame["Adj Close"].iloc[100] * 1.1})])
    day = frame["Date"].iloc[100]
    with pytest.raises(
        DataError, match=f"1 date\\(s\\) appear more than once with different prices, e.g. {day}"
    ):
        clean(twice)
    kept = clean(twice, duplicate_dates="last")
    assert kept[day] == pytest.approx(frame["Adj Close"].iloc[100] * 1.1)
    # The same row twice is no conflict: one is dropped and counted.
    assert len(clean(pd.concat([frame, frame.iloc[[100]]]))) == len(frame)
    with pytest.raises(DataError, match="data.duplicate_dates must be one of"):
        clean(frame, duplicate_dates="first")


@pytest.mark.parametrize("empty", ["", "."], ids=["empty", "fred-dot"])
def test_empty_cells_on_days_without_trading_are_skipped_not_counted_as_bad_rows(tmp_path, caplog, empty):
    frame = aapl()
    holidays = frame.index[::25]  # 4% of the rows: beyond max_dropped_frac=0.01 were they bad rows
    frame["Adj Close"] = frame["Adj Close"].map(lambda v: f"{v:.6f}")
    frame.loc[holidays, "Adj Close"] = empty
    path = tmp_path / "fred.csv"
    frame.to_csv(path, index=False)
    with caplog.at_level(logging.INFO, logger="closecast.data.cleaning"):
        series = clean(pd.read_csv(path))
    assert len(series) == len(frame) - len(holidays)
    assert f"skipped {len(holidays)} dated rows with no value" in caplog.text
    assert "removed" not in caplog.text
    # A bad value is still a bad row, counted against max_dropped_frac beside the skipped ones.
    frame.loc[1:40, "Adj Close"] = "n/a"
    with pytest.raises(DataError, match="would drop 40 of .* 40 unparseable price"):
        clean(frame)


def test_a_tiny_test_part_warns(caplog):
    series = one_series(source="sample", ticker="AAPL", start="2012-06-01", window=10)
    with caplog.at_level(logging.WARNING):
        series.setup()
    assert len(series.parts["test"]) < 100
    assert f"AAPL: only {len(series.parts['test'])} test samples (fewer than 100)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        one_series(source="sample", ticker="AAPL", start="2009-01-01", window=10).setup()
    assert "test samples" not in caplog.text


def test_the_check_keys_reach_every_series(tmp_path):
    cfg = compose_train(
        tmp_path, ["data.max_gap_days=null", "data.max_daily_move=4", "data.duplicate_dates=last"]
    )
    series = one_series(**{k: v for k, v in cfg.data.items() if k != "_target_"})
    assert series.checks == {"max_gap_days": None, "max_daily_move": 4.0, "duplicate_dates": "last"}


@pytest.mark.parametrize("ticker", ["AAPL", "GOOG", "IBM", "MSFT"])
def test_the_bundled_series_pass_the_default_checks(ticker, caplog):
    frame = pd.read_csv(ROOT / "data" / "sample" / f"{ticker}.csv")
    with caplog.at_level(logging.WARNING, logger="closecast.data.cleaning"):
        series = clean_series(frame, "Adj Close", name=ticker, **CHECKS)
    assert len(series) == len(frame) and not caplog.text


@pytest.mark.parametrize("module", ["sp500", "nasdaq"])
def test_the_arch_index_series_pass_the_default_checks(module):
    data = pytest.importorskip(f"arch.data.{module}")
    frame = data.load().reset_index(names="Date")
    assert len(clean_series(frame, "Adj Close", name=module, **CHECKS)) == len(frame)


def test_the_default_moves_check_lets_a_real_crash_through():
    # AAPL fell 52% on 2000-09-29: a real adjusted series moves this much, so the default accepts it.
    series = clean(aapl())
    moves = np.exp(np.abs(np.diff(np.log(series.to_numpy()))))
    assert 2.0 < moves.max() < CHECKS["max_daily_move"]
