"""The forecaster of an artifact of several series: each window read by its own series' codec and
calibration, many windows in one network call with the numbers one-by-one calls give, clear errors naming
the series and the item, and a series the network never saw normalized by its own history."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from closecast.artifacts.schema import build_artifact, build_universe_artifact, check_artifact, series_record
from closecast.data.codec import Codec
from closecast.distributions.calibration import Calibration
from closecast.errors import InputError
from closecast.inference.forecaster import Forecaster, Item
from closecast.inference.series import HISTORY_WINDOWS, min_history
from closecast.models.lstm import LSTMForecaster
from tests.helpers.configs import sample_closes

WINDOW, HORIZON = 12, 2
FEATURES = ["return", "abs_return", "ma_dev"]
SHRINKS = {"AAPL": 0.6, "GOOG": 0.25, "IBM": 1.0}


def calibration(shrink: float, seed: int, pit: bool = True) -> Calibration:
    rng = np.random.default_rng(seed)
    residuals = torch.from_numpy(np.sort(rng.uniform(0.0, 0.05, (40, HORIZON)), axis=0))
    values = torch.from_numpy(np.sort(rng.uniform(0.0, 1.0, (40, HORIZON)), axis=0)) if pit else None
    return Calibration(residuals, shrink, "window", values)


def universe(likelihood: str = "student_t") -> tuple[Forecaster, torch.Tensor]:
    """An untrained network and three series, each codec fitted on its own stretch of prices."""
    torch.manual_seed(0)
    net = LSTMForecaster(hidden=6, layers=1, input_size=3, horizon=HORIZON, likelihood=likelihood)
    torch.nn.init.normal_(net.head.weight, std=0.3)
    prices = torch.tensor(sample_closes(900), dtype=torch.float64)
    records = {}
    for k, (name, shrink) in enumerate(SHRINKS.items()):
        part = prices[250 * k : 250 * k + 300] * (1 + k)  # other levels, other spreads
        codec = Codec.fit(part, "return", WINDOW, HORIZON, FEATURES)
        records[name] = series_record(
            codec, calibration(shrink, k, likelihood != "none"), {"ticker": name}, {}
        )
    artifact = check_artifact(build_universe_artifact(net, records, {}))
    return Forecaster(artifact), prices


def windows_of(prices: torch.Tensor, n: int, length: int = WINDOW) -> list[list[float]]:
    return [prices[37 * i : 37 * i + length].tolist() for i in range(n)]


def test_each_series_is_answered_by_its_own_record():
    forecaster, prices = universe()
    values = prices[:WINDOW].tolist()
    answers = {name: forecaster.predict(values, interval=0.9, series=name) for name in SHRINKS}
    assert {a["series"] for a in answers.values()} == set(SHRINKS)
    assert forecaster.predict(values, interval=0.9, series="IBM", normalize="codec") == answers["IBM"]
    assert len({tuple(a["predictions"]) for a in answers.values()}) == 3
    assert len({tuple(a["upper"]) for a in answers.values()}) == 3
    # Each answer is the one a one-series artifact of that record gives.
    for name in SHRINKS:
        model = forecaster.series[name]
        alone = Forecaster(
            build_artifact(forecaster.net, model.codec, model.calibration, {"ticker": name}, {})
        )
        assert alone.predict(values, interval=0.9) == answers[name]


def test_a_batch_is_one_network_call_with_the_numbers_of_one_by_one_calls(monkeypatch):
    forecaster, prices = universe()
    names = list(SHRINKS)
    items = [Item(v, names[i % 3]) for i, v in enumerate(windows_of(prices, 20))]
    items.append(Item(prices[-min_history(WINDOW) :].tolist(), normalize="window"))  # an unseen series
    calls = []
    forward = forecaster.net.forward
    monkeypatch.setattr(forecaster.net, "forward", lambda x: calls.append(x.shape) or forward(x))
    batch = forecaster.predict_items(items, horizon=HORIZON, interval=0.8, quantiles=[0.1, 0.5, 0.9])
    assert calls == [(21, WINDOW - 1, 3)]
    for item, got in zip(items, batch, strict=True):
        alone = forecaster.predict(
            item.values, HORIZON, 0.8, [0.1, 0.5, 0.9], series=item.series, normalize=item.normalize
        )
        assert got["series"] == alone["series"] and got["normalize"] == alone["normalize"]
        np.testing.assert_allclose(got["predictions"], alone["predictions"], rtol=1e-9, atol=0)
        # The network's float32 sums may round differently in a batch (about 1e-7 of an output), which
        # moves a bound's price by up to ~1e-8 relative; the shrunk point forecast stays within 1e-9.
        for key in ("lower", "upper"):
            np.testing.assert_allclose(got[key], alone[key], rtol=1e-8, atol=0)
        for level, values in alone["quantiles"].items():
            np.testing.assert_allclose(got["quantiles"][level], values, rtol=1e-8, atol=0)
    assert batch[-1]["series"] is None and batch[-1]["normalize"] == "window"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (Item([100.0] * WINDOW), r"holds 3 series \(AAPL, GOOG, IBM\); name one with `series`"),
        (
            Item([100.0] * WINDOW, "MSFT"),
            r"series 'MSFT' is not in this checkpoint \(it holds AAPL, GOOG, IBM\)",
        ),
        (Item([100.0] * WINDOW, "AAPL", "window"), r"series 'AAPL' with normalize='window'"),
        (Item([100.0] * WINDOW, None, "zscore"), r"normalize must be one of \['codec', 'window'\]"),
        (Item([100.0] * (WINDOW - 1), "AAPL"), f"need at least window={WINDOW} values"),
        (Item([100.0, -1.0] * WINDOW, "AAPL"), "must be positive; position 1"),
        (
            Item([100.0] * (min_history(WINDOW) - 1), normalize="window"),
            f"send at least {HISTORY_WINDOWS * WINDOW} values \\({HISTORY_WINDOWS} × window={WINDOW}\\), "
            f"got {HISTORY_WINDOWS * WINDOW - 1}",
        ),
        (
            Item([100.0] * min_history(WINDOW), normalize="window"),
            "std must be finite and positive, got 0.0; send a history whose prices move",
        ),
    ],
)
def test_a_bad_item_is_refused_by_its_index_and_alone_without_it(item, message):
    forecaster, prices = universe()
    good = Item(prices[:WINDOW].tolist(), "IBM")
    with pytest.raises(InputError, match=f"^items\\[1\\]: .*{message}"):
        forecaster.predict_items([good, item, good])
    with pytest.raises(InputError, match=message) as alone:
        forecaster.predict(item.values, series=item.series, normalize=item.normalize)
    assert not str(alone.value).startswith("items[")


def test_an_unseen_series_is_normalized_by_its_own_history_with_the_most_cautious_shrink():
    forecaster, prices = universe()
    history = (prices[-min_history(WINDOW) :] * 3.7).tolist()  # a level no trained series had
    answer = forecaster.predict(history, horizon=HORIZON, quantiles=[0.05, 0.95], normalize="window")
    assert answer["series"] is None and answer["normalize"] == "window"
    # The same as a one-series artifact whose codec is fitted on the whole history, whose shrink is the
    # smallest of the trained series' and whose quantiles are not recalibrated (no PIT values).
    codec = Codec.fit(torch.tensor(history, dtype=torch.float64), "return", WINDOW, HORIZON, FEATURES)
    cautious = forecaster.series["GOOG"].calibration  # the smallest shrink
    record = Calibration(cautious.residuals, min(SHRINKS.values()), cautious.interval_scale, None)
    alone = Forecaster(build_artifact(forecaster.net, codec, record, {"ticker": "NEW"}, {}))
    expected = alone.predict(history, horizon=HORIZON, quantiles=[0.05, 0.95])
    assert answer["predictions"] == expected["predictions"] and answer["quantiles"] == expected["quantiles"]
    meta = forecaster.metadata_of(None)
    assert meta["calibration"]["shrink"] == 0.25 and meta["series"] is None and meta["metrics"] == {}
    # Normalized by itself, a series answers alike at any price level (returns are what the network reads).
    scaled = forecaster.predict([v * 10 for v in history], horizon=HORIZON, normalize="window")
    np.testing.assert_allclose(scaled["predictions"], np.array(answer["predictions"]) * 10, rtol=1e-9)


def test_an_unseen_series_of_a_point_network_gets_no_borrowed_intervals():
    forecaster, prices = universe("none")
    history = prices[-min_history(WINDOW) :].tolist()
    assert forecaster.predict(history, normalize="window")["series"] is None  # the point forecast is served
    with pytest.raises(InputError, match="point network .* drop interval and quantiles, or name a trained"):
        forecaster.predict(history, interval=0.9, normalize="window")
    assert "upper" in forecaster.predict(history, interval=0.9, series="AAPL")
