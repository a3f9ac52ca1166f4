"""A model with range inputs, served and run locally: it needs `high` and `low`; others ignore them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pandas as pd
import pytest

from closecast import predict_next_from_values
from closecast.inference.predict import main
from tests.helpers.configs import ROOT, compose_train
from tests.helpers.live_server import live_server

RANGE = "data.features=[return,ma_dev,log_range]"
DAYS = pd.read_csv(ROOT / "data" / "sample" / "AAPL.csv").tail(40)
# Adjusted closes beside unadjusted High/Low, as Yahoo gives them.
VALUES, HIGH, LOW = (DAYS[c].tolist() for c in ("Adj Close", "High", "Low"))


@pytest.fixture(scope="module")
def served(trained_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A range model (`range.pt`) beside a closes-only one (`best.pt`), and a server on them."""
    from closecast.training.run import train

    tmp = tmp_path_factory.mktemp("ranges")
    train(compose_train(tmp / "range", [RANGE, "publish=true"]))
    checkpoints = tmp / "checkpoints"
    checkpoints.mkdir()
    shutil.copyfile(tmp / "range" / "checkpoints" / "best.pt", checkpoints / "range.pt")
    shutil.copyfile(trained_artifact, checkpoints / "best.pt")
    with live_server(checkpoints) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield {"client": client, "dir": checkpoints}


def test_a_range_model_answers_with_high_and_low_as_predict_next_from_values(served: dict) -> None:
    client = served["client"]
    levels = [0.05, 0.5, 0.95]
    body = {"values": VALUES, "high": HIGH, "low": LOW, "checkpoint_path": "range.pt", "quantiles": levels}
    r = client.post("/predict", json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    value, meta = predict_next_from_values(
        VALUES, served["dir"] / "range.pt", "cpu", quantiles=levels, high=HIGH, low=LOW
    )
    assert answer["prediction"] == value and answer["quantiles"] == meta["quantiles"]
    # The range channel is read: other High/Low on the same closes give another distribution.
    wide = [h * 1.05 for h in HIGH]
    other = client.post("/predict", json={**body, "high": wide}).json()
    assert other["quantiles"] != answer["quantiles"]
    models = {m["name"]: m for m in client.get("/models").json()["models"]}
    assert models["range.pt"]["inputs"] == ["values", "high", "low"]
    assert models["best.pt"]["inputs"] == ["values"]
    assert models["range.pt"]["features"] == ["return", "ma_dev", "log_range"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"high": None, "low": None}, "send high and low too"),
        ({"low": None}, "send low too"),
        ({"high": HIGH[1:]}, "high has 39 numbers but values has 40"),
        ({"low": LOW + [LOW[-1]]}, "low has 41 numbers but values has 40"),
        ({"high": LOW, "low": HIGH}, "high must be at least low each day; position 0"),
    ],
    ids=["missing", "missing-low", "short-high", "long-low", "high-below-low"],
)
def test_a_range_model_refuses_missing_or_bad_high_low_with_422(
    served: dict, change: dict, message: str
) -> None:
    body = {"values": VALUES, "high": HIGH, "low": LOW, "checkpoint_path": "range.pt", **change}
    r = served["client"].post("/predict", json={k: v for k, v in body.items() if v is not None})
    assert r.status_code == 422 and message in r.json()["detail"], r.text


def test_a_closes_only_model_takes_the_reference_body_and_ignores_high_low(served: dict) -> None:
    client = served["client"]
    plain = client.post("/predict", json={"values": VALUES, "checkpoint_path": "best.pt", "device": "cpu"})
    assert plain.status_code == 200, plain.text
    with_ranges = client.post("/predict", json={"values": VALUES, "high": HIGH[1:], "low": LOW})
    assert with_ranges.status_code == 200 and with_ranges.json()["prediction"] == plain.json()["prediction"]
    # JSON that is not a list of positive prices is refused whichever the model, like `values`.
    bad = client.post("/predict", json={"values": VALUES, "high": ["x"] * 40})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("high.0")


def test_the_cli_reads_high_low_from_the_csv_and_plain_values_are_refused(
    served: dict, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    checkpoint = str(served["dir"] / "range.pt")
    expected, _ = predict_next_from_values(VALUES, checkpoint, high=HIGH, low=LOW)
    csv = tmp_path / "AAPL.csv"
    DAYS.to_csv(csv, index=False)
    assert main(["--checkpoint", checkpoint, "--csv", str(csv)]) == 0
    assert json.loads(capsys.readouterr().out)["prediction"] == expected
    assert main(["--checkpoint", checkpoint, *map(str, VALUES)]) == 2
    err = capsys.readouterr().err
    assert "plain values cannot carry" in err and "--csv" in err
    DAYS.drop(columns=["High"]).to_csv(csv, index=False)
    assert main(["--checkpoint", checkpoint, "--csv", str(csv)]) == 2
    err = capsys.readouterr().err
    assert "needs the day's High and Low" in err and "AAPL.csv" in err
