"""Artifacts published by earlier releases keep loading and keep giving the same answer."""

import json
from pathlib import Path

import pytest

from closecast.artifacts.schema import load_artifact
from closecast.inference.forecaster import Forecaster

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def test_a_version_1_artifact_answers_as_it_did_when_published():
    # `artifact_v1.pt`: the default model as `make train` published it under format closecast.artifact/1,
    # with the answer that release gave for the last 60 MSFT closes of the bundled sample.
    recorded = json.loads((FIXTURES / "artifact_v1_answer.json").read_text())
    forecaster = Forecaster(load_artifact(FIXTURES / "artifact_v1.pt"))
    levels = [float(level) for level in recorded["answer"]["quantiles"]]
    answer = forecaster.predict(recorded["values"], interval=0.9, quantiles=levels)
    expected = recorded["answer"]
    assert answer["prediction"] == pytest.approx(expected["prediction"], rel=1e-12)
    for level, values in expected["quantiles"].items():
        assert answer["quantiles"][level] == pytest.approx(values, rel=1e-9), level
    assert answer["lower"] == pytest.approx(expected["lower"], rel=1e-9)
    assert answer["upper"] == pytest.approx(expected["upper"], rel=1e-9)
