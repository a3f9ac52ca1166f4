"""Artifact format 4: one network and, per series, the codec (what was fitted on that series' training
part) and the calibration record (what was chosen on its validation part); every series round-trips
through a weights-only file and is answered by its own record, a bad record is refused by name, and files
of formats 1, 2 and 3 load as format 4 and a file of a newer format is refused by its number."""

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
    FORMAT_2,
    FORMAT_3,
    ArtifactError,
    build_artifact,
    build_universe_artifact,
    check_artifact,
    load_artifact,
    series_record,
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


def three_series() -> tuple[LSTMForecaster, dict[str, tuple[Codec, Calibration]], torch.Tensor]:
    """An untrained network and three series' codecs (fitted on different stretches) and calibrations."""
    net, _, prices = untrained()
    parts = {"AAPL": (0.35, "window"), "GOOG": (0.0, "none"), "IBM": (1.0, "window")}
    series = {}
    for k, (name, (shrink, scale)) in enumerate(parts.items()):
        codec = Codec.fit(prices[50 * k : 50 * k + 150], "return", 20, HORIZON)
        series[name] = (codec, a_calibration(shrink, scale))
    return net, series, prices


def test_a_format_4_artifact_round_trips_three_series_each_answered_by_its_own_codec(tmp_path: Path):
    net, series, prices = three_series()
    records = {
        name: series_record(codec, cal, {"ticker": name, "feature": "Close"}, {"test/mae": float(i)})
        for i, (name, (codec, cal)) in enumerate(series.items())
    }
    artifact = build_universe_artifact(net, records, {"test/mae": 1.0})
    assert artifact["format"] == FORMAT == "closecast.artifact/4"
    assert not {"codec", "calibration", "ticker"} & set(artifact)  # per series only
    loaded = load_artifact(save_artifact(artifact, tmp_path / "model.pt"))
    assert list(loaded["series"]) == ["AAPL", "GOOG", "IBM"] and loaded["metrics"] == {"test/mae": 1.0}
    forecaster = Forecaster(loaded)
    window = prices[200:220]
    answers = {}
    for name, (codec, calibration) in series.items():
        record = loaded["series"][name]
        assert Codec.from_dict(record["codec"]) == codec
        back = Calibration.from_dict(record["calibration"])
        assert (back.shrink, back.interval_scale) == (calibration.shrink, calibration.interval_scale)
        # Stored as float32, as the served arrays always were.
        torch.testing.assert_close(back.residuals, calibration.residuals.float())
        torch.testing.assert_close(back.pit, calibration.pit.float())
        # Each series' answer is its own codec and shrink around the one network.
        with torch.no_grad():
            move = net.likelihood.location(net.eval()(codec.encode(window).unsqueeze(0)))
        expected = codec.decode(move, window[-1:], calibration.shrink)[0].tolist()
        answer = forecaster.predict(window.tolist(), horizon=HORIZON, series=name)
        assert answer["predictions"] == expected and answer["series"] == name
        answers[name] = answer["predictions"]
        meta = forecaster.metadata_of(name)
        assert meta["calibration"] == {
            "shrink": calibration.shrink,
            "interval_scale": calibration.interval_scale,
        }
        assert meta["ticker"] == name and meta["metrics"] == record["metrics"]
    assert answers["GOOG"] == [float(window[-1])] * HORIZON  # shrink 0: naive
    assert answers["AAPL"] != answers["IBM"]


def test_a_single_series_artifact_is_a_universe_of_one_named_by_its_ticker(tmp_path: Path):
    net, codec, prices = untrained()
    artifact = build_artifact(net, codec, a_calibration(), {"ticker": "AAPL"}, {"test/mae": 1.0})
    loaded = load_artifact(save_artifact(artifact, tmp_path / "model.pt"))
    assert list(loaded["series"]) == ["AAPL"] and loaded["window"] == codec.window
    forecaster = Forecaster(loaded)
    values = prices[:20].tolist()
    assert forecaster.predict(values) == forecaster.predict(values, series="AAPL")
    unnamed = build_artifact(net, codec, a_calibration(), {}, {})
    assert list(check_artifact(unnamed)["series"]) == ["unnamed"]


def test_series_of_one_artifact_must_share_the_networks_input_layout():
    net, series, _ = three_series()
    records = {n: series_record(c, cal, {"ticker": n}, {}) for n, (c, cal) in series.items()}
    wider = Codec.fit(
        torch.linspace(100.0, 120.0, 100) + torch.sin(torch.arange(100.0)), "return", 30, HORIZON
    )
    records["IBM"] = series_record(wider, a_calibration(), {"ticker": "IBM"}, {})
    with pytest.raises(ArtifactError, match="series 'IBM': window/horizon 20/2 differ from its codec's 30/2"):
        check_artifact(build_universe_artifact(net, records, {}), "model.pt")
    with pytest.raises(ArtifactError, match="series: Dictionary should have at least 1 item"):
        check_artifact({**build_universe_artifact(net, records, {}), "series": {}}, "model.pt")


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
    spoil(artifact["series"]["AAPL"]["calibration"])
    with pytest.raises(ArtifactError, match="model.pt: malformed artifact") as err:
        check_artifact(artifact, "model.pt")
    assert err.match(message) and err.match("publish it again")


def format_2(artifact: dict) -> dict:
    """A one-series format-4 artifact as format 2 wrote it: the series' record at the top level."""
    ((name, record),) = artifact["series"].items()
    rest = {k: v for k, v in artifact.items() if k not in ("series", "metrics")}
    return {**rest, **record, "format": FORMAT_2, "ticker": name, "feature": record["data"].get("feature")}


def test_a_format_1_file_loads_as_format_4_with_its_choices_moved_out_of_the_codec(tmp_path: Path):
    net, codec, prices = untrained("none")
    calibration = a_calibration(shrink=0.5, interval_scale="none")
    new = build_artifact(net, codec, Calibration(calibration.residuals, 0.5), {"ticker": "AAPL"}, {})
    old = {k: v for k, v in format_2(new).items() if k != "calibration"}
    old.update(format=FORMAT_1, codec={**old["codec"], "shrink": 0.5, "interval_scale": "none"})
    old["residuals"] = new["series"]["AAPL"]["calibration"]["residuals"]
    with pytest.raises(ArtifactError, match="format"):
        check_artifact(old)  # format 1 is converted on load, not accepted as it is
    loaded = load_artifact(save_artifact(old, tmp_path / "old.pt"))
    record = loaded["series"]["AAPL"]
    assert loaded["format"] == FORMAT and "shrink" not in record["codec"] and "residuals" not in loaded
    assert record["calibration"]["shrink"] == 0.5 and record["calibration"]["pit"] is None
    values = prices[:20].tolist()
    assert Forecaster(loaded).predict(values, interval=0.9) == Forecaster(new).predict(values, interval=0.9)


def test_a_format_2_file_loads_as_format_4_its_one_series_named_by_its_ticker(tmp_path: Path):
    net, codec, prices = untrained()
    new = build_artifact(
        net, codec, a_calibration(), {"ticker": "MSFT", "feature": "Close"}, {"test/mae": 2.0}
    )
    old = format_2(new)
    assert {"codec", "calibration", "ticker"} <= set(old) and "series" not in old
    with pytest.raises(ArtifactError, match="format"):
        check_artifact(old)
    loaded = load_artifact(save_artifact(old, tmp_path / "old.pt"))
    assert list(loaded["series"]) == ["MSFT"] and loaded["metrics"] == {"test/mae": 2.0}
    assert loaded["series"]["MSFT"]["data"] == {"ticker": "MSFT", "feature": "Close"}
    values = prices[:20].tolist()
    assert Forecaster(loaded).predict(values, quantiles=[0.1, 0.9]) == Forecaster(new).predict(
        values, quantiles=[0.1, 0.9]
    )


def test_a_format_3_file_loads_as_format_4_with_its_records_as_they_were(tmp_path: Path):
    net, codec, prices = untrained()
    calibration = a_calibration()
    calibration.shrink_why = "validation chose it"
    new = build_artifact(net, codec, calibration, {"ticker": "IBM"}, {"test/mae": 3.0})
    old = {**new, "format": FORMAT_3}
    with pytest.raises(ArtifactError, match="format"):
        check_artifact(old)  # format 3 is converted on load, not accepted as it is
    loaded = load_artifact(save_artifact(old, tmp_path / "old.pt"))
    assert loaded["format"] == FORMAT and list(loaded["series"]) == ["IBM"]
    assert loaded["series"]["IBM"]["calibration"]["shrink_why"] == "validation chose it"
    values = prices[:20].tolist()
    assert Forecaster(loaded).predict(values, interval=0.9) == Forecaster(new).predict(values, interval=0.9)


@pytest.mark.parametrize("found", ["closecast.artifact/5", "closecast.artifact/12"])
def test_a_file_of_a_newer_format_is_refused_by_its_number_not_as_malformed(tmp_path: Path, found: str):
    net, codec, _ = untrained()
    artifact = build_artifact(net, codec, a_calibration(), {"ticker": "AAPL"}, {})
    artifact["series"]["AAPL"]["calibration"]["a_later_field"] = 1.0  # what a newer format may add
    artifact["format"] = found
    number = found.rsplit("/", 1)[1]
    message = f"format {number} is newer than this closecast reads \\(4\\); upgrade closecast"
    with pytest.raises(ArtifactError, match=message) as err:
        load_artifact(save_artifact(artifact, tmp_path / "new.pt"))
    assert "malformed" not in str(err.value) and "publish it again" not in str(err.value)


def test_a_file_of_an_unknown_format_is_still_refused_as_not_a_closecast_format():
    net, codec, _ = untrained()
    artifact = build_artifact(net, codec, a_calibration(), {"ticker": "AAPL"}, {})
    for found in ("someone.else/9", "closecast.artifact/x", None):
        with pytest.raises(ArtifactError, match="is not 'closecast.artifact/4'"):
            check_artifact({**artifact, "format": found})


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
    back = Calibration.from_dict(loaded["series"]["AAPL"]["calibration"])
    assert (back.weight, back.baseline) == (0.3, base)
    forecaster = Forecaster(loaded)
    serves = forecaster.metadata["serves"]["AAPL"]
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
    # The answer says what its quantiles are from, and when fewer closes came than were scored.
    full = forecaster.predict(values.tolist(), quantiles=[0.5])["served"]
    assert (full["kind"], full["closes_read"], full["closes_scored"], "note" in full) == (
        "combination",
        101,
        101,
        False,
    )
    short = forecaster.predict(values[-40:].tolist(), interval=0.9)["served"]
    assert (short["closes_read"], short["closes_scored"]) == (40, 101)
    assert short["note"].startswith("40 closes sent, 101 scored: the gjr_t part starts from its training")
    assert "served" not in forecaster.predict(values.tolist())  # a point answer only


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
