"""Artifact format 2: the codec holds what was fitted on training, the calibration record what was chosen
on validation; both round-trip through a weights-only file, and a bad record is refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from closecast.artifacts.publish import save_artifact
from closecast.artifacts.schema import (
    FORMAT,
    FORMAT_1,
    ArtifactError,
    build_artifact,
    check_artifact,
    load_artifact,
)
from closecast.data.codec import Codec
from closecast.distributions.calibration import Calibration
from closecast.inference.forecaster import Forecaster
from closecast.models.lstm import LSTMForecaster
from tests.helpers.configs import sample_closes

HORIZON = 2


def untrained(likelihood: str = "student_t") -> tuple[LSTMForecaster, Codec, torch.Tensor]:
    torch.manual_seed(0)
    net = LSTMForecaster(hidden=4, layers=1, horizon=HORIZON, likelihood=likelihood)
    torch.nn.init.normal_(net.head.weight, std=0.1)
    prices = torch.tensor(sample_closes(300), dtype=torch.float64)
    return net, Codec.fit(prices[:200], "return", 20, HORIZON), prices


def a_calibration(shrink: float = 0.35, interval_scale: str = "window") -> Calibration:
    rng = np.random.default_rng(0)
    residuals = torch.from_numpy(np.sort(rng.uniform(0.0, 0.05, (30, HORIZON)), axis=0))
    pit = torch.from_numpy(np.sort(rng.uniform(0.0, 1.0, (30, HORIZON)), axis=0))
    return Calibration(residuals, shrink, interval_scale, pit)


def test_a_format_2_artifact_round_trips_and_its_codec_holds_no_validation_choices(tmp_path: Path):
    net, codec, prices = untrained()
    calibration = a_calibration()
    artifact = build_artifact(net, codec, calibration, {"ticker": "AAPL"}, {"test/mae": 1.0})
    assert artifact["format"] == FORMAT
    assert not {"shrink", "interval_scale", "residuals", "pit"} & set(artifact["codec"])
    assert not {"residuals", "quantile_pit"} & set(artifact)
    loaded = load_artifact(save_artifact(artifact, tmp_path / "model.pt"))
    assert Codec.from_dict(loaded["codec"]) == codec
    back = Calibration.from_dict(loaded["calibration"])
    assert (back.shrink, back.interval_scale) == (0.35, "window")
    # Stored as float32, as the served arrays always were.
    torch.testing.assert_close(back.residuals, calibration.residuals.float())
    torch.testing.assert_close(back.pit, calibration.pit.float())
    # The forecaster answers with the record's shrink: the move is 0.35 of the network's own.
    window = prices[:20]
    forecaster = Forecaster(loaded)
    with torch.no_grad():
        move = net.likelihood.location(net.eval()(codec.encode(window).unsqueeze(0)))
    expected = codec.decode(move, window[-1:], 0.35)[0].tolist()
    assert forecaster.predict(window.tolist(), horizon=HORIZON)["predictions"] == expected
    assert forecaster.metadata["calibration"] == {"shrink": 0.35, "interval_scale": "window"}


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda c: c.update(shrink=1.5), "shrink must be a number in"),
        (lambda c: c.update(interval_scale="garch"), "interval_scale='garch'"),
        (lambda c: c.update(residuals=torch.zeros(30)), "residuals must be a float tensor"),
        (
            lambda c: c.update(residuals=torch.zeros(30, 3), pit=torch.full((30, 3), 0.5)),
            "calibration residuals cover 3 horizon steps, the model 2",
        ),
        (lambda c: c.update(pit=c["pit"] + 2), "probabilities"),
        (lambda c: c.update(pit=c["pit"][:, :1]), "pit must be a float tensor"),
        (lambda c: c.update(quantile_pit=c["pit"]), "not \\['quantile_pit'\\]"),
        (lambda c: c.pop("residuals"), "need residuals"),
    ],
)
def test_a_bad_calibration_record_is_refused_by_name(spoil, message):
    net, codec, _ = untrained()
    artifact = build_artifact(net, codec, a_calibration(), {"ticker": "AAPL"}, {})
    assert check_artifact(artifact) is artifact  # schema-valid before the record is spoiled
    spoil(artifact["calibration"])
    with pytest.raises(ArtifactError, match="model.pt: malformed artifact") as err:
        check_artifact(artifact, "model.pt")
    assert err.match(message) and err.match("publish it again")


def test_a_format_1_file_loads_as_format_2_with_its_choices_moved_out_of_the_codec(tmp_path: Path):
    net, codec, prices = untrained("none")
    calibration = a_calibration(shrink=0.5, interval_scale="none")
    new = build_artifact(net, codec, Calibration(calibration.residuals, 0.5), {"ticker": "AAPL"}, {})
    old = {k: v for k, v in new.items() if k != "calibration"}
    old.update(format=FORMAT_1, codec={**new["codec"], "shrink": 0.5, "interval_scale": "none"})
    old["residuals"] = new["calibration"]["residuals"]
    with pytest.raises(ArtifactError, match="format"):
        check_artifact(old)  # format 1 is converted on load, not accepted as it is
    loaded = load_artifact(save_artifact(old, tmp_path / "old.pt"))
    assert loaded["format"] == FORMAT and "shrink" not in loaded["codec"] and "residuals" not in loaded
    assert loaded["calibration"]["shrink"] == 0.5 and loaded["calibration"]["pit"] is None
    values = prices[:20].tolist()
    assert Forecaster(loaded).predict(values, interval=0.9) == Forecaster(new).predict(values, interval=0.9)


sorted_rows = st.integers(2, 12).flatmap(
    lambda n: st.lists(
        st.lists(st.floats(0.0, 1.0), min_size=HORIZON, max_size=HORIZON), min_size=n, max_size=n
    )
)


@settings(max_examples=50, deadline=None)
@given(
    shrink=st.floats(0.0, 1.0),
    interval_scale=st.sampled_from(["none", "window"]),
    rows=sorted_rows,
    with_pit=st.booleans(),
)
def test_calibration_round_trips_through_plain_data(shrink, interval_scale, rows, with_pit):
    values = torch.tensor(sorted(rows), dtype=torch.float32).sort(dim=0).values
    record = Calibration(values * 0.1, shrink, interval_scale, values if with_pit else None)
    back = Calibration.from_dict(record.to_dict())
    assert (back.shrink, back.interval_scale) == (record.shrink, record.interval_scale)
    assert torch.equal(back.residuals, record.residuals)
    assert (back.pit is None) == (not with_pit) and (back.pit is None or torch.equal(back.pit, values))


def test_a_distribution_head_without_pit_values_is_served_as_fitted(tmp_path: Path):
    net, codec, prices = untrained()
    plain = a_calibration(shrink=1.0)
    plain.pit = None  # validation found that recalibrating did not pay
    recalibrated = a_calibration(shrink=1.0)
    window = prices[:20].tolist()
    answers = []
    for calibration in (plain, recalibrated):
        artifact = build_artifact(net, codec, calibration, {"ticker": "AAPL"}, {})
        loaded = load_artifact(save_artifact(artifact, tmp_path / "model.pt"))
        answers.append(Forecaster(loaded).predict(window, quantiles=[0.1, 0.9])["quantiles"])
    with torch.no_grad():
        raw = net.eval()(codec.encode(prices[:20]).unsqueeze(0)).double()
    pred = net.likelihood.predictive(raw)
    z = stats.t.ppf(0.9, pred.df[0, 0].item())
    move = (pred.loc[0, 0] + pred.scale[0, 0] * z).item() * codec.std
    assert answers[0]["0.9"][0] == pytest.approx(window[-1] * np.exp(move), rel=1e-6)
    assert answers[1]["0.9"][0] != pytest.approx(answers[0]["0.9"][0], rel=1e-6)


def test_a_combination_round_trips_and_answers_the_weighted_quantile_average(tmp_path: Path):
    from closecast.distributions.predictive import log_return_forecast, log_return_quantiles
    from closecast.distributions.volatility_filter import FilterSpec, filter_forecast, history_returns

    net, codec, prices = untrained()
    params = {"omega": 0.02, "alpha[1]": 0.03, "gamma[1]": 0.05, "beta[1]": 0.9, "nu": 6.0}
    base = {"name": "gjr_t", **FilterSpec("gjr", params, 1.2, history=100).to_dict()}
    rng = np.random.default_rng(5)
    base_pit = torch.from_numpy(np.sort(rng.uniform(0.0, 1.0, (30, HORIZON)), axis=0))
    calibration = a_calibration(shrink=1.0)
    calibration.weight, calibration.baseline, calibration.baseline_pit = 0.3, base, base_pit
    artifact = build_artifact(net, codec, calibration, {"ticker": "AAPL"}, {"test/served/vs_reference": 0.99})
    loaded = load_artifact(save_artifact(artifact, tmp_path / "model.pt"))
    back = Calibration.from_dict(loaded["calibration"])
    assert (back.weight, back.baseline) == (0.3, base)
    forecaster = Forecaster(loaded)
    serves = forecaster.metadata["serves"]
    assert serves == {"kind": "combination", "network_weight": 0.3, "baseline": "gjr_t", "history": 100,
                      "vs_reference": 0.99}  # fmt: skip
    values = prices[:150].numpy()
    answer = forecaster.predict(values.tolist(), horizon=HORIZON, quantiles=[0.05, 0.95])["quantiles"]
    with torch.no_grad():
        raw = net.eval()(codec.encode(torch.from_numpy(values[-20:])).unsqueeze(0))
    net_fc = log_return_forecast(codec, net.likelihood, raw, 1.0)
    q_net = log_return_quantiles(net_fc, calibration.pit.double().numpy(), [0.05, 0.95])
    spec = back.filter_spec()
    base_fc = filter_forecast(spec, history_returns(values[None], 100), HORIZON)
    q_base = log_return_quantiles(base_fc, base_pit.float().double().numpy(), [0.05, 0.95])
    expected = values[-1] * np.exp(0.3 * q_net + 0.7 * q_base)[0]
    # float32 PIT values in the file: agreement to float32 precision.
    np.testing.assert_allclose(answer["0.05"], expected[:, 0], rtol=1e-7)
    np.testing.assert_allclose(answer["0.95"], expected[:, 1], rtol=1e-7)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weight": 1.5}, "weight must be a number in"),
        ({"weight": 0.5}, "needs its baseline"),
        ({"weight": 0.5, "baseline": {"name": "x", "process": "har"}}, "not one of"),
        ({"weight": 0.5, "baseline": {"name": "x", "process": "garch", "size": 3}}, "malformed"),
        ({"baseline_pit": torch.zeros(1, HORIZON)}, "baseline_pit must be"),
    ],
)
def test_a_bad_combination_is_refused_by_name(change, message):
    record = a_calibration().to_dict() | change
    with pytest.raises(ValueError, match=message):
        Calibration.from_dict(record)
