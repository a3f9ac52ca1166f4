"""An artifact keeps each series' last days (what the forecast page draws and forecasts from); files
without them keep loading."""

from __future__ import annotations

import pytest

from closecast.artifacts.schema import (
    ArtifactError,
    build_universe_artifact,
    check_artifact,
    load_artifact,
    series_record,
)
from closecast.inference.forecaster import Forecaster
from tests.helpers.configs import sample_closes
from tests.unit.artifacts.test_schema import a_calibration, untrained


def test_a_published_run_keeps_its_series_last_days(trained_artifact):
    artifact = load_artifact(trained_artifact)
    (record,) = artifact["series"].values()
    history = record["history"]
    assert len(history["dates"]) == len(history["values"]) >= 250
    assert history["dates"][-1] == record["data"]["end"]
    assert history["values"][-1] == pytest.approx(sample_closes(1)[0])
    (model,) = Forecaster(artifact).series.values()
    assert model.history == history


def test_a_record_without_history_loads_and_a_ragged_one_is_refused():
    net, codec, _ = untrained()
    plain = series_record(codec, a_calibration(), {"ticker": "AAPL"}, {})
    assert "history" not in plain
    assert (
        Forecaster(check_artifact(build_universe_artifact(net, {"AAPL": plain}, {}))).series["AAPL"].history
        is None
    )
    ragged = series_record(codec, a_calibration(), {}, {}, {"dates": ["2024-01-02"], "values": [1.0, 2.0]})
    with pytest.raises(ArtifactError, match="history needs dates and values of one length"):
        check_artifact(build_universe_artifact(net, {"AAPL": ragged}, {}), "model.pt")
