"""Artifacts published by earlier releases keep loading and keep giving the same answer."""

import json
from pathlib import Path

import pytest

from closecast.artifacts.schema import load_artifact
from closecast.inference.forecaster import Forecaster

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def answers_as_recorded(name: str, ticker: str) -> None:
    recorded = json.loads((FIXTURES / f"{name}_answer.json").read_text())
    artifact = load_artifact(FIXTURES / f"{name}.pt")
    assert list(artifact["series"]) == [ticker]  # read as format 4: its one series, named by its ticker
    forecaster = Forecaster(artifact)
    levels = [float(level) for level in recorded["answer"]["quantiles"]]
    for series in (None, ticker):  # the original body names no series; naming its one series is the same
        answer = forecaster.predict(recorded["values"], interval=0.9, quantiles=levels, series=series)
        expected = recorded["answer"]
        assert answer["prediction"] == pytest.approx(expected["prediction"], rel=1e-12)
        for level, values in expected["quantiles"].items():
            assert answer["quantiles"][level] == pytest.approx(values, rel=1e-9), level
        assert answer["lower"] == pytest.approx(expected["lower"], rel=1e-9)
        assert answer["upper"] == pytest.approx(expected["upper"], rel=1e-9)


def test_a_version_1_artifact_answers_as_it_did_when_published():
    # `artifact_v1.pt`: the default model as `make train` published it under format closecast.artifact/1,
    # with the answer that release gave for the last 60 MSFT closes of the bundled sample.
    answers_as_recorded("artifact_v1", "AAPL")


def test_a_version_2_artifact_answers_as_it_did_when_published():
    # `artifact_v2.pt`: a tiny MSFT run (tests/helpers/configs.py TINY, data.ticker=MSFT) as published under
    # format closecast.artifact/2, with the answer that release gave for the last 60 MSFT closes.
    answers_as_recorded("artifact_v2", "MSFT")


def test_a_version_3_artifact_answers_as_it_did_when_published():
    # `artifact_v3.pt`: a tiny IBM run (tests/helpers/configs.py TINY, data.ticker=IBM) as published under
    # format closecast.artifact/3, its calibration record carrying `shrink_why` and its series `history`,
    # with the answer that release gave for the last 60 IBM closes.
    answers_as_recorded("artifact_v3", "IBM")
