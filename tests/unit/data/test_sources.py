"""Where prices come from and the integrity step: every input problem is a DataError naming the file."""

import io
import logging
import re
from contextlib import redirect_stderr
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from closecast.config import CONFIG_DIR, compose_config
from closecast.data import sources
from closecast.data.cleaning import clean_series
from closecast.data.sources import read_source
from closecast.errors import DataError, exit_on_data_error
from tests.helpers.configs import ROOT, compose_train
from tests.helpers.series import one_series
from tests.helpers.yahoo import recorded_frame


def test_sample_source_unknown_ticker_names_the_bundled_ones():
    with pytest.raises(DataError, match="bundled: \\['AAPL', 'GOOG', 'IBM', 'MSFT'\\]"):
        read_source("sample", ticker="TSLA", data_dir="data")


def test_yahoo_source_downloads_once_then_uses_cache(tmp_path, monkeypatch):
    calls = []

    def fake_download(ticker, start, end):
        calls.append((ticker, start, end))
        return recorded_frame()

    monkeypatch.setattr(sources, "yf_download", fake_download)
    dm = one_series(source="yahoo", ticker="TEST", start="2020-01-01", data_dir=str(tmp_path), window=10)
    dm.prepare_data()
    dm.setup()
    assert calls == [("TEST", "2020-01-01", None)]
    assert (tmp_path / "cache" / "TEST_2020-01-01_last.csv").exists()
    np.testing.assert_allclose(dm.series.to_numpy(), recorded_frame()[("Adj Close", "TEST")].to_numpy())
    again = one_series(source="yahoo", ticker="TEST", start="2020-01-01", data_dir=str(tmp_path), window=10)
    again.setup()
    assert len(calls) == 1, "a cached download must be reused"
    assert len(again.series) == len(dm.series)


def test_yahoo_empty_frame_is_a_clear_error(tmp_path, monkeypatch):
    # Offline, yf.download logs an error and returns an empty frame instead of raising.
    monkeypatch.setattr(sources, "yf_download", lambda *a: pd.DataFrame())
    with pytest.raises(DataError, match="'PETR4.SA'.*no rows.*data.source=sample"):
        read_source("yahoo", ticker="PETR4.SA", data_dir=tmp_path)
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def test_yahoo_download_exception_is_a_clear_error(tmp_path, monkeypatch):
    def boom(*a):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(sources, "yf_download", boom)
    with pytest.raises(DataError, match="'AAPL'.*download failed.*no route to host"):
        read_source("yahoo", ticker="AAPL", data_dir=tmp_path)


def test_csv_source_and_its_errors(tmp_path):
    path = tmp_path / "prices.csv"
    frame = recorded_frame().droplevel(1, axis=1).reset_index()[["Date", "Close"]]
    frame.to_csv(path, index=False)
    dm = one_series(source="csv", path=str(path), window=10)
    dm.setup()
    assert dm.feature == "Close" and len(dm.series) == 300
    with pytest.raises(DataError, match="needs data.path"):
        read_source("csv", path=None)
    with pytest.raises(DataError, match="does not exist"):
        read_source("csv", path=str(tmp_path / "nope.csv"))
    with pytest.raises(DataError, match="not one of"):
        one_series(source="ftp")


def test_cleaning_removes_each_kind_of_bad_row_and_logs_it(caplog):
    frame = pd.DataFrame(
        {
            "Date": [
                "2020-01-03",
                "2020-01-01",
                "2020-01-02",
                "2020-01-02",
                "2020-01-06",
                "2020-01-07",
                "2020-01-08",
                "2020-01-09",
                "not a date",
            ],
            "Close": [103.0, 101.0, 1.0, 102.0, -np.inf, np.inf, 0.0, -5.0, 110.0],
        }
    )
    with caplog.at_level(logging.WARNING, logger="closecast.data.cleaning"):
        series = clean_series(frame, "Close", name="prices.csv", max_dropped_frac=1.0)
    assert list(series.index.strftime("%Y-%m-%d")) == ["2020-01-01", "2020-01-02", "2020-01-03"]
    assert list(series) == [101.0, 102.0, 103.0]  # the later duplicate row wins
    text = caplog.text
    assert "cleaning prices.csv: removed 6 of 9 rows" in text
    for rule in ("1 unparseable date", "1 duplicate date", "2 non-finite price", "2 non-positive price"):
        assert rule in text


# ------------------------------------------------------------------------------- unreadable files


def write_prices(path, dates, prices) -> str:
    """A CSV at `path` with a Date and a Close column (values written as given)."""
    pd.DataFrame({"Date": dates, "Close": prices}).to_csv(path, index=False)
    return str(path)


def business_days(n: int, fmt: str = "%Y-%m-%d", start: str = "2000-01-03") -> list[str]:
    return list(pd.bdate_range(start, periods=n).strftime(fmt))


def unreadable(tmp_path, kind: str) -> str:
    """A path that pandas alone cannot turn into a price frame."""
    path = tmp_path / f"{kind}.csv"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "binary":
        path.write_bytes(bytes(range(256)) * 8)
    elif kind == "latin1":
        path.write_bytes("Date,Close\n2000-01-03,1\n2000-01-04,2 \xe9\n".encode("latin-1"))
    elif kind == "ragged":
        path.write_text("Date,Close\n2000-01-03,1.0\n2000-01-04,2.0,3.0,4.0\n")
    elif kind == "directory":
        path.mkdir()
    return str(path)


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("empty", "is empty"),
        ("binary", "is a binary file"),
        ("latin1", "is not UTF-8 text"),
        ("ragged", "is not a well-formed CSV .*Expected 2 fields in line 3, saw 4"),
        ("directory", "is a directory"),
    ],
)
def test_an_unreadable_csv_is_a_data_error_naming_the_file(tmp_path, kind, says):
    path = unreadable(tmp_path, kind)
    with pytest.raises(DataError, match=re.escape(f"data.path '{path}' ") + says) as err:
        read_source("csv", path=path)
    assert "\n" not in str(err.value)


def test_a_spreadsheet_export_with_a_byte_order_mark_reads_its_date_column(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfDate,Close\n2000-01-03,1.5\n2000-01-04,1.6\n")
    assert list(read_source("csv", path=str(path)).columns) == ["Date", "Close"]


def test_a_csv_with_a_header_and_no_rows_names_the_file(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("Date,Close\n")
    dm = one_series(source="csv", path=str(path))
    with pytest.raises(DataError, match=f"{path}: a header but no rows"):
        dm.setup()


@pytest.mark.parametrize("target", ["return", "level"])
def test_constant_prices_are_a_data_error_naming_the_file(tmp_path, target):
    path = write_prices(tmp_path / "flat.csv", business_days(200), np.full(200, 5.0))
    dm = one_series(source="csv", path=path, window=10, target=target)
    with pytest.raises(
        DataError, match=f"series '{path}', training part 2000-01-03..2000-07-14: .*do not move"
    ):
        dm.setup()


def test_a_corrupt_cached_download_says_to_delete_it(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "TEST_first_last.csv").write_bytes(b"")
    with pytest.raises(DataError, match="cached download .*TEST_first_last.csv' is empty .*; delete it"):
        read_source("yahoo", ticker="TEST", data_dir=tmp_path)


# ------------------------------------------------------------------------------------------ dates


def test_day_first_dates_are_read_day_first_when_only_that_reading_fits(tmp_path):
    path = write_prices(tmp_path / "eu.csv", business_days(60, "%d/%m/%Y"), np.linspace(10, 20, 60))
    dm = one_series(source="csv", path=path, window=10)
    series = dm.load_series()
    assert list(series.index) == list(pd.bdate_range("2000-01-03", periods=60))
    assert series.iloc[0] == 10.0 and series.iloc[-1] == 20.0


def test_the_bundled_sample_written_day_first_loads_as_the_same_series(tmp_path):
    frame = pd.read_csv(ROOT / "data" / "sample" / "MSFT.csv")
    frame["Date"] = pd.to_datetime(frame["Date"]).dt.strftime("%d/%m/%Y")  # 01/03/2000 is 1 March
    frame.to_csv(tmp_path / "msft_eu.csv", index=False)
    day_first = one_series(source="csv", path=str(tmp_path / "msft_eu.csv")).load_series()
    pd.testing.assert_series_equal(day_first, one_series(ticker="MSFT").load_series())


def test_dates_that_read_both_ways_stop_and_ask_for_the_format(tmp_path):
    frame = pd.DataFrame({"Date": business_days(8, "%d/%m/%Y"), "Close": np.linspace(10, 20, 8)})
    with pytest.raises(DataError, match="ambiguous: '03/01/2000' reads as 2000-03-01 with %m/%d/%Y") as err:
        clean_series(frame, "Close", name="eu.csv")
    assert "data.date_format=%d/%m/%Y" in str(err.value) and str(err.value).startswith("eu.csv: ")
    series = clean_series(frame, "Close", date_format="%d/%m/%Y")
    assert list(series.index) == list(pd.bdate_range("2000-01-03", periods=8))


def test_dates_that_parse_for_only_part_of_the_file_stop_with_the_format_and_a_bad_value():
    dates = business_days(150) + business_days(50, "%d/%m/%Y", start="2000-08-01")
    frame = pd.DataFrame({"Date": dates, "Close": np.linspace(10, 20, 200)})
    with pytest.raises(DataError, match="would drop 50 of 200 rows") as err:
        clean_series(frame, "Close", name="mixed.csv")
    message = str(err.value)
    assert "50 unparseable date (read as %Y-%m-%d, '01/08/2000' does not fit" in message
    assert "data.date_format=%d/%m/%Y" in message and "data.max_dropped_frac=0.25" in message


def test_dates_that_mostly_do_not_match_the_given_format_are_refused():
    frame = pd.DataFrame({"Date": business_days(50), "Close": np.linspace(10, 20, 50)})
    with pytest.raises(
        DataError, match="50 of 50 dates in 'Date' do not parse .*does not match data.date_format"
    ):
        clean_series(frame, "Close", date_format="%d/%m/%Y", max_dropped_frac=1.0)


def test_a_date_format_with_an_unknown_directive_is_a_data_error():
    frame = pd.DataFrame({"Date": business_days(5), "Close": np.linspace(10, 20, 5)})
    with pytest.raises(DataError, match="data.date_format=%Q is not a date format .*bad directive"):
        clean_series(frame, "Close", date_format="%Q")


def test_the_date_format_the_errors_suggest_is_a_valid_override(tmp_path):
    cfg = compose_config("train", ["data.date_format=%d/%m/%Y", "data.max_dropped_frac=0.05"], tmp_path)
    dm = one_series(**{k: v for k, v in cfg.data.items() if k not in ("_target_", "data_dir")})
    assert (dm.date_format, dm.max_dropped_frac) == ("%d/%m/%Y", 0.05)


# ----------------------------------------------------------------------------------------- prices


def test_thousands_separators_are_read_as_such(tmp_path):
    values = np.linspace(900, 1500, 100)
    path = write_prices(tmp_path / "k.csv", business_days(100), [f"{v:,.2f}" for v in values])
    series = one_series(source="csv", path=path).load_series()
    assert len(series) == 100
    np.testing.assert_allclose(series.to_numpy(), np.round(values, 2))


@pytest.mark.parametrize("written", ["$1,234.50", "12,5"])
def test_a_price_column_that_mostly_does_not_parse_is_refused(written):
    frame = pd.DataFrame({"Date": business_days(40), "Close": [written] * 30 + ["10.0"] * 10})
    says = f"k.csv: 30 of 40 values in column 'Close' are not numbers .*{re.escape(repr(written))}"
    with pytest.raises(DataError, match=says):
        clean_series(frame, "Close", name="k.csv", max_dropped_frac=1.0)


def test_dropping_more_than_the_allowed_share_is_refused_with_counts_per_rule(caplog):
    prices = np.linspace(10, 20, 200)
    prices[[5, 6, 7]] = -1.0
    prices[9] = np.inf  # an empty cell (NaN) is a day without trading, no bad row
    frame = pd.DataFrame({"Date": business_days(200), "Close": prices})
    with pytest.raises(DataError, match="p.csv: the integrity step would drop 4 of 200 rows") as err:
        clean_series(frame, "Close", name="p.csv")
    assert "1 non-finite price, 3 non-positive price;" in str(err.value)
    assert "allow it with data.max_dropped_frac=0.02" in str(err.value)
    with caplog.at_level(logging.WARNING, logger="closecast.data.cleaning"):
        series = clean_series(frame, "Close", name="p.csv", max_dropped_frac=0.02)
    assert len(series) == 196 and "removed 4 of 200 rows" in caplog.text
    one_bad = clean_series(frame.drop(index=[5, 6, 7]), "Close", name="p.csv")  # 1 of 197 rows: allowed
    assert len(one_bad) == 196


@pytest.mark.parametrize("ticker", ["AAPL", "GOOG", "IBM", "MSFT"])
def test_the_bundled_sample_loads_with_nothing_dropped(ticker, caplog):
    with caplog.at_level(logging.WARNING, logger="closecast.data.cleaning"):
        series = one_series(source="sample", ticker=ticker).load_series()
    assert len(series) == len(pd.read_csv(ROOT / "data" / "sample" / f"{ticker}.csv"))
    assert "removed" not in caplog.text


# ------------------------------------------------------------------------------------------ names


def test_errors_and_metadata_name_the_csv_file_not_the_default_ticker(tmp_path):
    path = write_prices(tmp_path / "acme.csv", business_days(20), np.linspace(10, 20, 20))
    dm = one_series(source="csv", path=path, window=30)
    with pytest.raises(DataError, match=f"series '{path}' has 20 rows") as err:
        dm.setup()
    assert "AAPL" not in str(err.value)
    assert dm.ticker == "acme"
    pd.DataFrame({"Date": business_days(20), "Price": np.linspace(10, 20, 20)}).to_csv(path, index=False)
    with pytest.raises(DataError, match=f"{path}: no 'Adj Close' or 'Close' column.*data.feature=<column>"):
        one_series(source="csv", path=path).load_series()


# ----------------------------------------------------------------------------------- entry points


def test_the_exit_helper_prints_one_line_and_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        with exit_on_data_error():
            raise DataError("data.path 'x.csv' is not a well-formed CSV (line 3\n); fix it")
    assert exit_.value.code == 2
    assert capsys.readouterr().err == "error: data.path 'x.csv' is not a well-formed CSV (line 3 ); fix it\n"


def test_inside_a_sweep_the_data_error_propagates_so_the_trial_fails():
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR)):
        cfg = compose("train", return_hydra_config=True)
    cfg.hydra.mode = RunMode.MULTIRUN
    HydraConfig.instance().set_config(cfg)
    try:
        with pytest.raises(DataError, match="bad file"):
            with exit_on_data_error():
                raise DataError("bad file")
    finally:
        HydraConfig.instance().cfg = None


def _entry(script: str, args: list[str], tmp_path) -> SimpleNamespace:
    """What `python <script> <args>` does with a data error, in-process: the entry's own
    `exit_on_data_error` around its job (the scripts themselves are run once in the training tests)."""
    from closecast.training.backtest import run_backtest
    from closecast.training.run import train

    config, job = {"train.py": ("train", train), "backtest.py": ("backtest", run_backtest)}[script]
    cfg = compose_train(tmp_path, args, config_name=config)
    err = io.StringIO()
    with redirect_stderr(err), pytest.raises(SystemExit) as exc, exit_on_data_error():
        job(cfg)
    return SimpleNamespace(returncode=exc.value.code, stderr=err.getvalue())


def _assert_one_line_error(proc: SimpleNamespace, *says: str) -> None:
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    for text in says:
        assert text in errors[0]


@pytest.mark.parametrize("kind", ["empty", "ragged", "directory", "flat"])
def test_train_py_ends_a_bad_csv_with_one_error_line_and_exit_2(tmp_path, kind):
    if kind == "flat":
        path = write_prices(tmp_path / "flat.csv", business_days(200), np.full(200, 5.0))
    else:
        path = unreadable(tmp_path, kind)
    proc = _entry("train.py", ["data.source=csv", f"data.path={path}", "data.window=10"], tmp_path)
    _assert_one_line_error(proc, path)


def test_backtest_py_ends_a_missing_file_with_one_error_line_and_exit_2(tmp_path):
    path = str(tmp_path / "missing.csv")
    proc = _entry("backtest.py", ["data.source=csv", f"data.path={path}"], tmp_path)
    _assert_one_line_error(proc, f"data.path '{path}' does not exist")


def test_results_py_ends_an_unknown_ticker_with_one_error_line_and_exit_2(tmp_path):
    from reports.results import main

    args = ["--tickers", "NOPE", "--no-train", "--jobs", "1", "--workdir", str(tmp_path)]
    err = io.StringIO()
    with redirect_stderr(err), pytest.raises(SystemExit) as exc, exit_on_data_error():
        main([*args, "--doc", str(tmp_path / "r.md")])
    _assert_one_line_error(
        SimpleNamespace(returncode=exc.value.code, stderr=err.getvalue()),
        "ticker 'NOPE' is not in the bundled sample",
    )
    assert not (tmp_path / "r.md").exists()


def test_the_sample_source_without_its_folder_says_where_else_to_read_from(tmp_path):
    # An installed package has no bundled prices: the error says so and names the other sources.
    said = r"the bundled sample is not here .*data\.source=csv data\.path=<file>"
    with pytest.raises(DataError, match=said):
        read_source("sample", "AAPL", None, None, None, data_dir=tmp_path)
