"""Sources of many series: a wide or long panel file (CSV or Parquet), several CSV files, one Yahoo
download of several tickers, the skfolio stocks; each series cleaned and checked on its own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from closecast.data import sources
from closecast.data.datamodule import PriceDataModule
from closecast.data.price_grid import price_tick, warn_coarse_grid
from closecast.data.windows import WindowInputs
from closecast.errors import DataError
from tests.helpers.yahoo import recorded_frame

NAMES = ("AAA", "BBB", "CCC")


def wide_prices(n: int = 300) -> pd.DataFrame:
    """Three random-walk closes, one column each, dates in the index; BBB listed 40 days late."""
    rng = np.random.default_rng(1)
    days = pd.bdate_range("2015-01-01", periods=n, name="Date")
    frame = pd.DataFrame({s: 20 * np.exp(np.cumsum(rng.normal(0, 0.01, n))) for s in NAMES}, index=days)
    frame.loc[: days[39], "BBB"] = np.nan
    return frame


def datamodule(**settings) -> PriceDataModule:
    dm = PriceDataModule(window=10, features=["return", "abs_return"], **settings)
    dm.setup()
    return dm


def test_wide_csv_one_series_per_column_ragged_starts_kept(tmp_path):
    prices = wide_prices()
    path = tmp_path / "wide.csv"
    prices.reset_index().to_csv(path, index=False)
    dm = datamodule(source="panel", path=str(path))
    assert list(dm.members) == list(NAMES)
    for name in NAMES:  # each series as given, the empty cells before BBB's listing no rows of it
        np.testing.assert_allclose(dm.members[name].series.to_numpy(), prices[name].dropna().to_numpy())
    assert len(dm.members["BBB"].series) == 260
    picked = datamodule(source="panel", path=str(path), tickers=["CCC", "AAA"])
    assert list(picked.members) == ["CCC", "AAA"]
    with pytest.raises(DataError, match=r"data.tickers \['ZZZ'\] are not in it; it holds AAA, BBB, CCC"):
        PriceDataModule(source="panel", path=str(path), tickers=["AAA", "ZZZ"])


def test_wide_parquet_with_dates_in_the_index(tmp_path):
    path = tmp_path / "wide.parquet"
    wide_prices().to_parquet(path)
    dm = datamodule(source="panel", path=str(path), layout="wide")
    assert list(dm.members) == list(NAMES)
    assert dm.members["AAA"].describe()["start"] == "2015-01-01"


def test_long_file_in_the_nixtla_names_and_in_plain_ones(tmp_path):
    long = wide_prices().reset_index().melt(id_vars="Date", var_name="unique_id", value_name="y").dropna()
    nixtla = tmp_path / "long.csv"
    long.rename(columns={"Date": "ds"}).to_csv(nixtla, index=False)
    dm = datamodule(source="panel", path=str(nixtla))  # auto: a series column makes it long
    assert list(dm.members) == list(NAMES)
    np.testing.assert_allclose(dm.members["BBB"].series.to_numpy(), wide_prices()["BBB"].dropna().to_numpy())
    plain = tmp_path / "plain.parquet"
    long.rename(columns={"unique_id": "series", "Date": "date", "y": "close"}).to_parquet(plain)
    again = datamodule(source="panel", path=str(plain), layout="long")
    assert again.members["CCC"].series.equals(dm.members["CCC"].series)


def test_panel_errors_name_the_file_and_the_way_out(tmp_path):
    wide = tmp_path / "wide.csv"
    wide_prices().reset_index().to_csv(wide, index=False)
    with pytest.raises(DataError, match="data.layout=long needs a series column"):
        PriceDataModule(source="panel", path=str(wide), layout="long")
    with pytest.raises(DataError, match="data.source=panel needs data.path"):
        PriceDataModule(source="panel")
    with pytest.raises(DataError, match="'.*nope.parquet' does not exist"):
        PriceDataModule(source="panel", path=str(tmp_path / "nope.parquet"))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="is not a readable Parquet file"):
        PriceDataModule(source="panel", path=str(broken))
    bad = wide_prices().reset_index()
    bad["AAA"] = bad["AAA"].astype(object)
    bad.loc[5:200, "AAA"] = "abc"
    bad.to_csv(wide, index=False)
    with pytest.raises(DataError, match="series 'AAA' of '.*wide.csv': 196 of 300 values in column 'Close'"):
        datamodule(source="panel", path=str(wide))


def test_several_csv_files_by_list_or_pattern_each_named_by_its_file(tmp_path):
    folder = tmp_path / "prices"
    folder.mkdir()
    for name in NAMES:
        wide_prices()[[name]].dropna().rename(columns={name: "Close"}).to_csv(folder / f"{name}.csv")
    by_pattern = datamodule(source="csv", path=str(folder / "*.csv"))
    assert list(by_pattern.members) == list(NAMES)
    assert by_pattern.members["BBB"].name == str(folder / "BBB.csv")
    by_list = datamodule(source="csv", path=[str(folder / "CCC.csv"), str(folder / "AAA.csv")])
    assert list(by_list.members) == ["CCC", "AAA"]
    picked = datamodule(source="csv", path=str(folder / "*.csv"), tickers=["BBB"])
    assert list(picked.members) == ["BBB"]
    with pytest.raises(DataError, match="matches no file"):
        PriceDataModule(source="csv", path=str(tmp_path / "none" / "*.csv"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "AAA.csv").write_text((folder / "AAA.csv").read_text())
    with pytest.raises(DataError, match=r"several files named \['AAA'\]"):
        PriceDataModule(source="csv", path=[str(folder / "AAA.csv"), str(tmp_path / "other" / "AAA.csv")])


def several_tickers(tickers: list[str], empty: set[str]) -> pd.DataFrame:
    """A several-ticker download as yfinance returns it: (field, ticker) columns, NaN for a failed one."""
    one = recorded_frame()
    parts = {}
    for i, ticker in enumerate(tickers):
        part = one.droplevel(1, axis=1) * (1 + i)
        parts[ticker] = part * np.nan if ticker in empty else part
    return pd.concat(parts, axis=1).swaplevel(0, 1, axis=1)


def test_yahoo_several_tickers_in_one_download_cached_each_failures_named(tmp_path, monkeypatch, caplog):
    calls = []

    def fake_download(tickers, start, end):
        calls.append(list(tickers))
        return several_tickers(list(tickers), empty={"GONE"})

    monkeypatch.setattr(sources, "yf_download", fake_download)
    settings = {
        "source": "yahoo",
        "tickers": ["T1", "GONE", "T2"],
        "start": "2020-01-01",
        "data_dir": str(tmp_path),
    }
    dm = PriceDataModule(window=10, features=["return"], **settings)
    dm.prepare_data()
    dm.setup()
    assert calls[0] == ["T1", "GONE", "T2"], "one request for every ticker"
    assert list(dm.members) == ["T1", "T2"]
    assert "Yahoo Finance returned no rows for 1 of 3 tickers: GONE" in caplog.text
    assert "dropped 1 of 3 series, Yahoo Finance returned no rows: GONE" in caplog.text
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        "T1_2020-01-01_last.csv",
        "T2_2020-01-01_last.csv",
    ]
    np.testing.assert_allclose(
        dm.members["T2"].series.to_numpy(), 3 * recorded_frame()[("Adj Close", "TEST")]
    )
    calls.clear()
    again = PriceDataModule(window=10, features=["return"], **{**settings, "tickers": ["T1", "T2"]})
    again.prepare_data()
    again.setup()
    assert calls == [], "cached tickers are not downloaded again"
    monkeypatch.setattr(sources, "yf_download", lambda *a: several_tickers(["X", "Y"], empty={"X", "Y"}))
    with pytest.raises(DataError, match="no series left: Yahoo Finance returned no rows: X, Y"):
        PriceDataModule(window=10, **{**settings, "tickers": ["X", "Y"]}).setup()


def test_skfolio_stocks_from_the_installed_package_with_a_coarse_grid_warning(caplog):
    dm = datamodule(source="skfolio", tickers=["AAPL", "MSFT"], start="1995-01-01", end="2004-12-31")
    assert list(dm.members) == ["AAPL", "MSFT"]
    assert dm.members["AAPL"].describe()["start"] == "1995-01-03"
    grid = [r.getMessage() for r in caplog.records if "rounded to 0.001" in r.getMessage()]
    assert len(grid) == 1 and grid[0].startswith("series 'AAPL' of skfolio:") and "1995-01-03.." in grid[0]
    assert len(PriceDataModule(source="skfolio").members) == 20


def test_price_tick_and_the_coarse_grid_warning(caplog):
    assert price_tick(np.array([0.264, 12.5, 3.0])) == pytest.approx(0.001)
    assert price_tick(np.array([1.0, 2.0])) == 1.0
    assert price_tick(np.array([4.186663, 1 / 3])) is None
    days = pd.bdate_range("2000-01-03", periods=200)
    cheap = pd.Series(np.round(np.linspace(0.2, 2, 200), 3), index=days)
    assert warn_coarse_grid(cheap, "CHEAP")
    assert "CHEAP: prices are rounded to 0.001" in caplog.text and "2000-01-03.." in caplog.text
    assert not warn_coarse_grid(cheap + 10, "DEAR")  # the same grid, small beside the price
    assert not warn_coarse_grid(pd.Series(np.linspace(0.2, 2, 200) / 3, index=days), "FINE")


def test_inputs_encoded_per_batch_equal_those_encoded_once(tmp_path):
    path = tmp_path / "wide.csv"
    wide_prices().reset_index().to_csv(path, index=False)
    features = ["return", "abs_return", "ma_dev"]
    lazy = PriceDataModule(source="panel", path=str(path), window=10, features=features, input_cache_mb=0)
    eager = PriceDataModule(source="panel", path=str(path), window=10, features=features)
    lazy.setup()
    eager.setup()
    assert isinstance(lazy.parts["train"].x, WindowInputs) and isinstance(
        eager.parts["train"].x, torch.Tensor
    )
    n = len(eager.parts["train"])
    rows = torch.tensor([5, 0, n - 1, 300])
    assert torch.equal(lazy.parts["train"].x[rows], eager.parts["train"].x[rows])
    assert torch.equal(lazy.parts["train"].x[:], eager.parts["train"].x)
    assert lazy.parts["train"].x.shape == eager.parts["train"].x.shape == (n, 9, 3)
    for member in lazy.members.values():  # each series' samples by its own codec
        test = member.parts["test"]
        assert torch.equal(test.x[:], member.codec.encode(test.window_prices))
        assert torch.equal(test.x[-1, 2], member.codec.encode(test.window_prices[-1:])[0, 2])
