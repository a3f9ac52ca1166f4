"""The `baseline_vol` input: causal, started afresh in every window from one documented state, the same
numbers as the served baseline's filter, and the same inputs in training (several series pooled) and in
serving (several series stacked in one request batch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from closecast.data.codec import Codec
from closecast.data.datamodule import PriceDataModule
from closecast.distributions.calibration import Calibration
from closecast.distributions.volatility_filter import FilterSpec, one_step_variance
from closecast.errors import DataError
from closecast.inference.series import SeriesModel, stacked_codec
from tests.helpers.artifacts import sample_prices

# Parameters of the shape `arch` fits on percent returns (no fit needed here).
PARAMS = {
    "garch_t": {"omega": 0.05, "alpha[1]": 0.08, "beta[1]": 0.9, "nu": 6.0},
    "gjr_t": {"omega": 0.04, "alpha[1]": 0.02, "gamma[1]": 0.12, "beta[1]": 0.88, "nu": 7.0},
    "egarch_t": {"omega": 0.01, "alpha[1]": 0.12, "gamma[1]": -0.08, "beta[1]": 0.97, "nu": 6.5},
}
FEATURES = ["return", "abs_return", "baseline_vol"]
CHANNEL = FEATURES.index("baseline_vol")


def fitted(name: str, target: str = "return", window: int = 20) -> tuple[Codec, torch.Tensor]:
    closes, _ = sample_prices("AAPL", 500)
    codec = Codec.fit(closes[:300], target, window, 1, FEATURES, 5, None, name, PARAMS[name])
    return codec, closes


@pytest.mark.parametrize("name", list(PARAMS))
@pytest.mark.parametrize("target", ["return", "level"])
def test_a_later_price_changes_no_earlier_channel_value(name: str, target: str) -> None:
    codec, closes = fitted(name, target)
    window = closes[320:340].clone()
    x = codec.encode(window[None])[0, :, CHANNEL]
    first = 1 if target == "return" else 0  # input position i reads prices up to i + first
    for day in (5, 12, 19):
        edited = window.clone()
        edited[day] *= 1.07
        y = codec.encode(edited[None])[0, :, CHANNEL]
        changed = day - first
        torch.testing.assert_close(y[:changed], x[:changed], rtol=0, atol=0)
        assert (y[changed:] != x[changed:]).any()


@pytest.mark.parametrize("name", list(PARAMS))
def test_the_last_value_is_the_served_filters_next_spread_from_the_training_variance(name: str) -> None:
    codec, closes = fitted(name)
    start = float(np.var(np.diff(np.log(closes[:300].numpy())) * 100.0, ddof=1))
    assert codec.vol_filter["start"] == pytest.approx(start, rel=1e-12)
    window = closes[400:420].numpy()
    mean, std = codec.feature_mean[CHANNEL], codec.feature_std[CHANNEL]
    channel = codec.encode(torch.from_numpy(window)[None])[0, :, CHANNEL].double().numpy() * std + mean
    # The filter a server runs for a combined baseline, started where every window starts.
    backcast = np.log(start) if name == "egarch_t" else start
    spec = FilterSpec(name.removesuffix("_t"), PARAMS[name], backcast, history=19)
    returns = np.diff(np.log(window))
    for t in (0, 9, 18):
        var = one_step_variance(spec, returns[None, : t + 1])[0]
        assert channel[t] == pytest.approx(0.5 * np.log(var), abs=1e-6)
    # Every window starts from that state, whatever came before it: only the window's own returns count.
    elsewhere = codec.encode(torch.from_numpy(window * 3.7)[None])[0, :, CHANNEL].double().numpy()
    np.testing.assert_allclose(elsewhere * std + mean, channel, atol=1e-6)


def test_a_codec_round_trips_and_an_older_one_without_the_channel_loads() -> None:
    codec, closes = fitted("gjr_t")
    again = Codec.from_dict(codec.to_dict())
    windows = closes.unfold(0, 20, 1)[300:340]
    torch.testing.assert_close(again.encode(windows), codec.encode(windows), rtol=0, atol=0)
    old = {k: v for k, v in Codec.fit(closes[:300], "return", 20, 1).to_dict().items() if "vol" not in k}
    assert Codec.from_dict(old).vol_filter == {}
    with pytest.raises(ValueError, match="data.vol_input='har_t' is not one of"):
        Codec.from_dict({**codec.to_dict(), "vol_input": "har_t"})
    with pytest.raises(ValueError, match="baseline_vol needs a vol_filter"):
        Codec.from_dict({**codec.to_dict(), "vol_filter": {}})


def pooled(vol_fit=None) -> PriceDataModule:
    return PriceDataModule(
        tickers=["AAPL", "IBM"],
        start="2012-01-01",
        window=12,
        features=FEATURES,
        on_device=False,
        vol_input="gjr_t",
        vol_fit=vol_fit,
    )


def test_training_and_serving_read_the_same_inputs_per_series() -> None:
    seen = []

    def vol_fit(name: str, prices: np.ndarray, n_train: int) -> dict[str, float]:
        seen.append((name, len(prices), n_train))
        return {k: v * (1.0 + 0.1 * len(seen)) for k, v in PARAMS[name].items()}  # one model a series

    dm = pooled(vol_fit)
    dm.setup("fit")
    assert [s[0] for s in seen] == ["gjr_t", "gjr_t"]
    members = list(dm.members.values())
    assert members[0].codec.vol_filter != members[1].codec.vol_filter
    # Training: the pooled validation inputs, each series by its own codec; serving: the same windows
    # stacked in one batch, each row by its series' codec (`stacked_codec`).
    train_x = dm.parts["val"].x[:] if not isinstance(dm.parts["val"].x, torch.Tensor) else dm.parts["val"].x
    windows, models = [], []
    for member in members:
        part = member.parts["val"]
        windows.append(part.window_prices)
        calibration = Calibration(torch.zeros(4, 1), 1.0, "none")
        models += [SeriesModel(member.ticker, member.codec, calibration)] * len(part)
    codec, _ = stacked_codec(models)
    served = codec.encode(torch.cat(windows))
    torch.testing.assert_close(served, train_x, rtol=0, atol=1e-6)
    assert not torch.equal(served[:, :, CHANNEL], members[0].codec.encode(torch.cat(windows))[:, :, CHANNEL])


def test_without_a_fit_the_data_layer_says_where_to_get_one() -> None:
    with pytest.raises(DataError, match="baseline_vol, whose volatility model is fitted with arch"):
        pooled().setup("fit")
