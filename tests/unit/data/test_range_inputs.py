"""Range inputs (each day's High and Low): the codec's channels, and the data step that reads them."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from closecast.data.codec import Codec
from closecast.data.series import SeriesData
from closecast.errors import DataError
from tests.helpers.configs import ROOT
from tests.helpers.series import one_series

RANGE = ["return", "abs_return", "ma_dev", "range"]
LOG_RANGE = ["return", "ma_dev", "log_range"]


def sample_frame(ticker: str = "AAPL") -> pd.DataFrame:
    return pd.read_csv(ROOT / "data" / "sample" / f"{ticker}.csv")


def sample_arrays(n: int = 400) -> tuple[torch.Tensor, torch.Tensor]:
    """Adjusted closes `(n,)` and unadjusted High/Low `(2, n)` of the bundled AAPL sample."""
    frame = sample_frame().tail(n)
    closes = torch.tensor(frame["Adj Close"].to_numpy(np.float64))
    return closes, torch.tensor(frame[["High", "Low"]].to_numpy(np.float64).T.copy())


@pytest.mark.parametrize("features", [RANGE, LOG_RANGE])
def test_range_inputs_are_scale_free(features: list[str]) -> None:
    closes, high_low = sample_arrays()
    codec = Codec.fit(closes[:300], "return", 20, 1, features, 10, high_low[:, :300])
    x = codec.encode(closes.unfold(0, 20, 1), *(h.unfold(0, 20, 1) for h in high_low))
    # Other units for the closes and for the High/Low (unadjusted beside adjusted): the same inputs.
    scaled = Codec.fit(closes[:300] * 7.0, "return", 20, 1, features, 10, high_low[:, :300] / 3.0)
    assert scaled.feature_std == pytest.approx(codec.feature_std, rel=1e-9)
    again = scaled.encode((closes * 7.0).unfold(0, 20, 1), *(h.unfold(0, 20, 1) / 3.0 for h in high_low))
    torch.testing.assert_close(again, x, rtol=1e-5, atol=1e-6)
    # The range channel is each input day's log(High/Low) over its training spread, standardized.
    j = len(features) - 1
    day = (high_low[0] / high_low[1]).log()[1:20]
    expected = day if features[-1] == "range" else day.log()
    mean = codec.feature_mean[j] if features[-1] == "log_range" else 0.0
    torch.testing.assert_close(
        x[0, :, j].double(), (expected - mean) / codec.feature_std[j], rtol=1e-5, atol=1e-6
    )


def test_range_inputs_use_no_future_day_and_train_statistics_only(tmp_path: Path) -> None:
    frame = sample_frame().tail(600).reset_index(drop=True)
    path = tmp_path / "aapl.csv"
    frame.to_csv(path, index=False)
    window = 10
    dm = one_series(source="csv", path=str(path), window=window, features=RANGE)
    dm.setup()
    test = dm.parts["test"]
    anchor = test.anchors.start  # position of the first test sample's last observed day
    # Widen the day after that anchor, and a day in the test part's future: nothing the anchor's
    # sample sees (nor the codec, fitted on training days) may change.
    later = frame.copy()
    later.loc[anchor + 1, "High"] *= 1.3
    later.loc[len(frame) - 2, "High"] *= 1.3
    later.to_csv(path, index=False)
    moved = one_series(source="csv", path=str(path), window=window, features=RANGE)
    moved.setup()
    assert moved.codec.feature_std == dm.codec.feature_std
    torch.testing.assert_close(moved.parts["test"].x[0], test.x[0], rtol=0, atol=0)
    assert not torch.equal(moved.parts["test"].x[1], test.x[1])  # the next sample does see that day
    # The anchor's own day is its last input step.
    same_day = frame.copy()
    same_day.loc[anchor, "High"] *= 1.3
    same_day.to_csv(path, index=False)
    own = one_series(source="csv", path=str(path), window=window, features=RANGE)
    own.setup()
    assert not torch.equal(own.parts["test"].x[0, -1], test.x[0, -1])
    torch.testing.assert_close(own.parts["test"].x[0, :-1], test.x[0, :-1], rtol=0, atol=0)


def test_a_codec_with_a_range_input_needs_high_and_low() -> None:
    closes, high_low = sample_arrays()
    codec = Codec.fit(closes[:300], "return", 20, 1, RANGE, 10, high_low[:, :300])
    with pytest.raises(ValueError, match="needs each day's High and Low"):
        codec.encode(closes[None, :20])
    assert Codec.from_dict(codec.to_dict()) == codec
    # A day whose High equals its Low (a halted stock) stays a finite input under log_range.
    flat = high_low.clone()
    flat[0, 10] = flat[1, 10]
    log_codec = Codec.fit(closes[:300], "return", 20, 1, LOG_RANGE, 10, flat[:, :300])
    assert torch.isfinite(log_codec.encode(closes[None, :20], flat[None, 0, :20], flat[None, 1, :20])).all()


def test_the_default_inputs_read_no_high_low(tmp_path: Path) -> None:
    path = tmp_path / "closes.csv"
    sample_frame()[["Date", "Close"]].to_csv(path, index=False)
    dm = one_series(source="csv", path=str(path), window=10)
    dm.setup()
    assert dm.high_low is None and not dm.codec.needs_high_low


def test_a_range_input_on_a_source_without_high_low_names_the_file_and_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "closes.csv"
    sample_frame()[["Date", "Close"]].to_csv(path, index=False)
    dm = one_series(source="csv", path=str(path), window=10, features=RANGE)
    with pytest.raises(DataError) as exc:
        dm.setup()
    message = str(exc.value)
    assert str(path) in message and "needs the day's High and Low" in message
    assert "a CSV with High and Low columns" in message and "data.features without range inputs" in message


def test_high_low_are_checked_day_by_day(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    frame = sample_frame().tail(500).reset_index(drop=True)
    path = tmp_path / "hl.csv"

    def load(f: pd.DataFrame, **kw: float) -> SeriesData:
        f.to_csv(path, index=False)
        dm = one_series(source="csv", path=str(path), window=10, features=RANGE, **kw)
        dm.series = dm.load_series()
        return dm

    # High and Low swapped on many days: refused, with the count, the rule and the keys that change it.
    swapped = frame.copy()
    swapped.loc[100:139, ["High", "Low"]] = swapped.loc[100:139, ["Low", "High"]].to_numpy().copy()
    with pytest.raises(DataError, match=r"40 of 500 days have no usable High/Low \(40 High below Low"):
        load(swapped)
    # High/Low of another scale than the day's close (e.g. from another file): refused.
    shifted = frame.copy()
    shifted[["High", "Low"]] *= 2.0
    with pytest.raises(DataError, match="500 close outside its day's High/Low.*data.max_dropped_frac=1.0"):
        load(shifted)
    # A missing High on one day: that day is dropped with its close, and said so.
    one = frame.copy()
    one.loc[250, "High"] = np.nan
    with caplog.at_level(logging.WARNING):
        dm = load(one)
    assert len(dm.series) == 499 and frame.loc[250, "Date"] not in dm.series.index.strftime("%Y-%m-%d")
    assert "1 no High/Low that day" in caplog.text
    assert dm.high_low.index.equals(dm.series.index)
    # An adjusted close beside unadjusted High/Low is fine: the check reads the unadjusted Close.
    assert len(load(frame).series) == 500


def test_backtest_folds_read_the_series_high_low(tmp_path: Path) -> None:
    from closecast.data.splits import walk_forward_splits
    from closecast.training.backtest import fold_config, fold_datamodule, only_series
    from closecast.training.trainer import build
    from tests.helpers.configs import compose_train

    cfg = fold_config(compose_train(tmp_path, [f"data.features=[{','.join(RANGE)}]"], "backtest"))
    loader = only_series(build(cfg.data))
    series = loader.load_series()
    split = walk_forward_splits(len(series), 2, 0.3, cfg.data.train_frac, cfg.data.val_frac)[0]
    fold = only_series(fold_datamodule(cfg, series, split, loader.high_low))
    test = fold.parts["test"]
    day = test.anchors.start  # the first test sample's last input day
    expected = np.log(loader.high_low["high"].iloc[day] / loader.high_low["low"].iloc[day])
    assert float(test.x[0, -1, -1]) == pytest.approx(expected / fold.codec.feature_std[-1], rel=1e-6)
    with pytest.raises(DataError, match="need each day's High and Low, and none were read"):
        fold_datamodule(cfg, series, split)


def test_a_yahoo_download_keeps_high_low_for_range_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from closecast.data import sources
    from tests.helpers.yahoo import recorded_frame

    frame = recorded_frame()
    monkeypatch.setattr(sources, "yf_download", lambda *args: frame)
    dm = one_series(source="yahoo", ticker="TEST", data_dir=str(tmp_path), window=10, features=RANGE)
    dm.prepare_data()
    dm.setup()  # reads the cached CSV, as every later run does
    np.testing.assert_allclose(dm.high_low["high"].to_numpy(), frame[("High", "TEST")].to_numpy())
    np.testing.assert_allclose(dm.high_low["low"].to_numpy(), frame[("Low", "TEST")].to_numpy())
    assert dm.codec.needs_high_low and len(dm.series) == len(frame)
