"""The forecast page for a point network: its conformal interval is the band, and it says so."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from closecast.artifacts.publish import save_artifact
from closecast.artifacts.schema import build_universe_artifact, series_record
from closecast.serving.page import render
from closecast.serving.registry import Registry
from tests.unit.artifacts.test_schema import a_calibration, untrained


def test_a_point_network_is_drawn_with_its_conformal_band(tmp_path: Path):
    net, codec, prices = untrained("none")
    calibration = a_calibration()
    calibration.pit = None  # a point network has no distribution to recalibrate
    days = [str(d.date()) for d in pd.bdate_range("2024-01-01", periods=len(prices))]
    history = {"dates": days, "values": prices.tolist()}
    record = series_record(codec, calibration, {"ticker": "AAPL"}, {"test/mae": 1.0}, history)
    save_artifact(build_universe_artifact(net, {"AAPL": record}, {}), tmp_path / "point.pt")
    registry = Registry(tmp_path)
    assert registry.reload()["loaded"] == ["point.pt"]
    page = render(registry)
    assert 'class="fan fan-90"' in page and 'class="fan fan-50"' not in page
    assert "a point network: conformal intervals" in page and "No predictive distribution" in page
    assert f"Next closes after {days[-1]}" in page  # this network forecasts two steps
