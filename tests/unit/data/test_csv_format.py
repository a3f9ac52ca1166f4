"""How a CSV file is written (separator, decimal mark, date column): detected, or named by data.sep,
data.decimal and data.date_column, on every CSV path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closecast.data.csv_format import SEPARATORS, CsvFormat, detect_decimal, detect_sep, resolve
from closecast.data.datamodule import PriceDataModule
from closecast.data.sources import read_source
from closecast.errors import DataError
from tests.helpers.configs import compose_train
from tests.helpers.exports import csv_export as export

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ABC", min_size=1, max_size=8).filter(str.strip)


@settings(max_examples=60, deadline=None)
@given(
    sep=st.sampled_from(SEPARATORS),
    columns=st.lists(names, min_size=2, max_size=5),
    values=st.lists(st.floats(0.01, 1e6, allow_nan=False), min_size=1, max_size=12),
    comma=st.booleans(),
)
def test_the_separator_and_decimal_mark_of_a_table_are_found(sep, columns, values, comma):
    decimal = "," if comma and sep != "," else "."
    cells = [f"{v:.3f}".replace(".", decimal) for v in values]
    lines = [sep.join(columns)] + [sep.join(cells[i % len(cells)] for i in range(len(columns)))] * 3
    assert resolve(CsvFormat(), "\n".join(lines) + "\n") == (sep, decimal)


@settings(max_examples=30, deadline=None)
@given(sep=st.sampled_from(SEPARATORS), decimal=st.sampled_from([".", ","]))
def test_a_named_separator_and_decimal_mark_win_over_detection(sep, decimal):
    head = "Date,Close\n2000-01-03,1.5\n"
    assert resolve(CsvFormat(sep=sep, decimal=decimal), head) == (sep, decimal)


def test_a_ragged_or_one_column_file_is_read_as_comma_separated_so_its_reader_reports_it():
    assert detect_sep(["Date,Close", "2000-01-03,1.5", "2000-01-04,1.5,9,9"]) == ","
    assert detect_sep(["Close", "1.5", "1.6"]) == ","
    assert detect_decimal(["Date,Close", '2000-01-03,"1,5"'], ",") == "."  # 1,5 may be thousands there


@pytest.mark.parametrize(("given_sep", "means"), [("tab", "\t"), ("\\t", "\t"), (";", ";"), ("|", "|")])
def test_a_tab_can_be_written_as_a_word(given_sep, means):
    assert CsvFormat(sep=given_sep).sep == means


@pytest.mark.parametrize(
    ("settings_", "says"),
    [({"sep": "ab"}, "data.sep='ab' is not a field separator"), ({"decimal": ";"}, "data.decimal=';'")],
)
def test_a_wrong_separator_or_decimal_mark_is_a_data_error(settings_, says):
    with pytest.raises(DataError, match=says):
        PriceDataModule(**settings_)


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_a_file_read_with_the_wrong_separator_names_the_one_it_has(tmp_path, sep):
    path = tmp_path / "prices.csv"
    path.write_text(export(50, sep=sep, decimal=".")[0])
    shown = "tab" if sep == "\t" else repr(sep)
    with pytest.raises(DataError, match=f"looks like {shown}-separated data; set data.sep={shown}") as err:
        read_source("csv", path=str(path), fmt=CsvFormat(sep=","))
    assert "data.feature" not in str(err.value)


def test_a_semicolon_decimal_comma_export_with_a_timestamp_column_reads_as_its_prices(tmp_path):
    path = tmp_path / "export.csv"
    text, closes = export()
    path.write_text(text)
    dm = PriceDataModule(source="csv", path=str(path), window=10, features=["return"])
    dm.setup()
    series = dm.members["export"].series
    np.testing.assert_allclose(series.to_numpy(), closes)
    assert series.index[0] == pd.Timestamp("2015-01-01")


def test_an_unnamed_index_column_is_the_date_column(tmp_path):
    path = tmp_path / "saved.csv"
    text, closes = export(sep=",", decimal=".", date="")
    path.write_text(text)
    dm = PriceDataModule(source="csv", path=str(path), window=10, features=["return"])
    dm.setup()
    np.testing.assert_allclose(dm.members["saved"].series.to_numpy(), closes)


def test_data_date_column_names_a_date_column_of_any_name(tmp_path):
    path = tmp_path / "when.csv"
    days = pd.bdate_range("2015-01-01", periods=300)
    closes = export()[1]
    rows = [f"{c},{d:%Y-%m-%d},7" for c, d in zip(closes, days, strict=True)]
    path.write_text("\n".join(["Close,Stamp,Volume", *rows]) + "\n")
    with pytest.raises(DataError, match=r"no date column .*columns are \['Close', 'Stamp', 'Volume'\]; "):
        PriceDataModule(source="csv", path=str(path), window=10).setup()
    with pytest.raises(DataError, match="name it with data.date_column=<column>"):
        PriceDataModule(source="csv", path=str(path), window=10).setup()
    dm = PriceDataModule(source="csv", path=str(path), window=10, features=["return"], date_column="Stamp")
    dm.setup()
    np.testing.assert_allclose(dm.members["when"].series.to_numpy(), closes)
    with pytest.raises(DataError, match=r"data.date_column='When' is not a column; columns are \['Close'"):
        PriceDataModule(source="csv", path=str(path), date_column="When").setup()


def test_the_csv_format_applies_to_a_list_of_files_and_a_wide_panel(tmp_path):
    for i in range(2):
        (tmp_path / f"S{i}.csv").write_text(export(200, seed=i)[0])
    files = PriceDataModule(source="csv", path=str(tmp_path / "S*.csv"), window=10, features=["return"])
    files.setup()
    assert list(files.members) == ["S0", "S1"]
    _, a = export(200, seed=0)
    _, b = export(200, seed=1)
    days = pd.bdate_range("2015-01-01", periods=200)
    wide = "\n".join(
        [
            "Timestamp\tAAA\tBBB",
            *(f"{d:%Y-%m-%d}\t{x}\t{y}".replace(".", ",") for d, x, y in zip(days, a, b, strict=True)),
        ]
    )
    (tmp_path / "wide.txt").write_text(wide + "\n")
    panel = PriceDataModule(source="panel", path=str(tmp_path / "wide.txt"), window=10, features=["return"])
    panel.setup()
    np.testing.assert_allclose(panel.members["BBB"].series.to_numpy(), b)


def test_the_csv_options_compose_as_the_docs_write_them(tmp_path):
    cfg = compose_train(tmp_path, ["data.sep=';'", "data.decimal=','", "data.date_column=Timestamp"])
    assert (cfg.data.sep, cfg.data.decimal, cfg.data.date_column) == (";", ",", "Timestamp")
