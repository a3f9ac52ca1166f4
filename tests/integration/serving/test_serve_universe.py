"""Serving a universe, end to end: a real uvicorn server on a loopback port with the one artifact of a tiny
pooled run over the four bundled tickers beside a one-series artifact; `series` on /predict, the batch
route, series the network never saw, /models, and the predict CLI, each against `predict_next_from_values`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pandas as pd
import pytest

from closecast.inference.predict import main, predict_next_from_values
from closecast.serving.schemas import MAX_BATCH_BODY_BYTES, MAX_BATCH_ITEMS
from tests.helpers.configs import ROOT
from tests.helpers.live_server import live_server

TICKERS = ["AAPL", "GOOG", "IBM", "MSFT"]
WINDOW = 10  # tests/helpers/configs.py TINY
LEVELS = [0.05, 0.5, 0.95]
# The network computes in float32, and a batch's sums may round differently from one window's (about 1e-7
# of an output): a quantile's log return of a few percent then moves its price by up to ~1e-8 relative. The
# point forecast, whose move is shrunk, stays within 1e-9.
BATCH_QUANTILE_RTOL = 1e-8


def closes(ticker: str) -> list[float]:
    """The bundled sample's adjusted closes of `ticker`, oldest first."""
    return pd.read_csv(ROOT / "data" / "sample" / f"{ticker}.csv")["Adj Close"].tolist()


@pytest.fixture(scope="module")
def served(universe_artifact: Path, trained_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A server on a checkpoints dir with the pooled run's artifact (`universe.pt`) and a one-series one."""
    checkpoints = tmp_path_factory.mktemp("served-universe") / "checkpoints"
    checkpoints.mkdir()
    shutil.copyfile(universe_artifact, checkpoints / "universe.pt")
    shutil.copyfile(trained_artifact, checkpoints / "best.pt")
    with live_server(checkpoints) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield {"client": client, "universe": checkpoints / "universe.pt", "single": checkpoints / "best.pt"}


def test_models_lists_each_artifacts_series(served: dict) -> None:
    body = served["client"].get("/models").json()
    models = {m["name"]: m for m in body["models"]}
    universe, single = models["universe.pt"], models["best.pt"]
    assert [s["name"] for s in universe["series"]] == TICKERS and universe["ticker"] is None
    for entry in universe["series"]:
        assert entry["ticker"] == entry["name"] and entry["data"]["start"] and entry["data"]["val_end"]
        assert set(entry["metrics"]) == {"mae", "rmse", "mape", "mase"}
    assert len({s["metrics"]["mae"] for s in universe["series"]}) == 4  # each scored on its own test part
    assert [s["name"] for s in single["series"]] == ["AAPL"] and single["ticker"] == "AAPL"


@pytest.mark.parametrize("ticker", TICKERS)
def test_predict_answers_the_named_series_as_predict_next_from_values(served: dict, ticker: str) -> None:
    values = closes(ticker)[-40:]
    body = {"series": ticker, "values": values, "checkpoint_path": "universe", "quantiles": LEVELS}
    r = served["client"].post("/predict", json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    value, meta = predict_next_from_values(values, served["universe"], "cpu", quantiles=LEVELS, series=ticker)
    assert answer["prediction"] == pytest.approx(value, rel=1e-12)
    for level, got in answer["quantiles"].items():
        assert got == pytest.approx(meta["quantiles"][level], rel=1e-9)
    assert answer["series"] == answer["ticker"] == meta["series"] == ticker
    assert answer["normalize"] == "codec" and answer["data"]["start"] == meta["data"]["start"]


def test_a_series_is_required_by_a_universe_and_must_be_one_of_its_own(served: dict) -> None:
    client, values = served["client"], closes("MSFT")[-40:]
    missing = client.post("/predict", json={"values": values, "checkpoint_path": "universe"})
    assert missing.status_code == 422
    assert "holds 4 series (AAPL, GOOG, IBM, MSFT); name one with `series`" in missing.json()["detail"]
    unknown = client.post(
        "/predict", json={"values": values, "checkpoint_path": "universe", "series": "TSLA"}
    )
    assert unknown.status_code == 422
    assert (
        "series 'TSLA' is not in this checkpoint (it holds AAPL, GOOG, IBM, MSFT)" in unknown.json()["detail"]
    )
    # The original capstone's body on a one-series artifact is answered as before, and naming its series too.
    reference = {"values": values, "checkpoint_path": "checkpoints/best.pt", "device": "cpu"}
    plain = client.post("/predict", json=reference)
    assert plain.status_code == 200 and plain.json()["series"] == "AAPL"
    assert client.post("/predict", json={**reference, "series": "AAPL"}).json() == plain.json()
    other = client.post("/predict", json={**reference, "series": "MSFT"})
    assert other.status_code == 422 and "(it holds AAPL)" in other.json()["detail"]


def test_a_20_series_batch_equals_predict_next_from_values_per_series(served: dict) -> None:
    items = []
    for k, ticker in enumerate(TICKERS):  # three windows of each trained series
        prices = closes(ticker)
        items += [
            {"series": ticker, "values": prices[-40 - 17 * j - k : len(prices) - 17 * j - k]}
            for j in range(3)
        ]
    for k in range(8):  # and eight series the network never saw, normalized by their own history
        prices = closes(TICKERS[k % 4])[300 * k : 300 * k + 4 * WINDOW + k]
        items.append({"series": None, "values": [p * (1.5 + k) for p in prices], "normalize": "window"})
    r = served["client"].post(
        "/predict/batch", json={"items": items, "checkpoint_path": "universe", "quantiles": LEVELS}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["items"]) == 20 and body["checkpoint"] == "universe.pt" and body["window"] == WINDOW
    for item, answer in zip(items, body["items"], strict=True):
        value, meta = predict_next_from_values(
            item["values"],
            served["universe"],
            "cpu",
            quantiles=LEVELS,
            series=item["series"],
            normalize=item.get("normalize"),
        )
        assert answer["series"] == item["series"]
        assert answer["prediction"] == pytest.approx(value, rel=1e-9)
        for level, got in answer["quantiles"].items():
            assert got == pytest.approx(meta["quantiles"][level], rel=BATCH_QUANTILE_RTOL)


def test_bad_batch_items_are_refused_by_index(served: dict) -> None:
    client = served["client"]
    good = {"series": "IBM", "values": closes("IBM")[-WINDOW:]}

    def post(items: list, **extra) -> httpx.Response:
        return client.post("/predict/batch", json={"items": items, "checkpoint_path": "universe", **extra})

    cases = [
        ([good, good, {"series": "TSLA", "values": good["values"]}], "items[2]: series 'TSLA' is not in"),
        ([good, {"values": good["values"]}], "items[1]: this checkpoint holds 4 series"),
        ([good, {"series": "IBM", "values": good["values"][:3]}], "items[1]: need at least window=10 values"),
        ([{"series": "IBM", "values": ["1.0"] * WINDOW}], "items.0.values.0: Input should be a valid number"),
        ([good, {"series": "IBM", "value": [1.0]}], "items.1.values: Field required"),
        ([], "items: List should have at least 1 item"),
        ([good] * (MAX_BATCH_ITEMS + 1), f"items: List should have at most {MAX_BATCH_ITEMS} items"),
    ]
    for items, says in cases:
        r = post(items)
        assert r.status_code == 422 and says in r.json()["detail"], (says, r.text)
    short = {"values": good["values"] * 3, "normalize": "window"}
    r = post([good, short])
    assert r.status_code == 422 and "items[1]: normalize='window'" in r.json()["detail"]
    assert "send at least 40 values (4 × window=10), got 30" in r.json()["detail"]
    assert post([good], horizon=2).status_code == 422
    huge = b'{"items": [{"series": "IBM", "values": [' + b"1.0," * (MAX_BATCH_BODY_BYTES // 4) + b"1.0]}]}"
    r = client.post("/predict/batch", content=huge, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and f"send at most {MAX_BATCH_ITEMS} items" in r.json()["detail"]


def test_an_unseen_series_is_answered_from_its_own_history_of_at_least_four_windows(served: dict) -> None:
    client = served["client"]
    history = [p * 7.0 for p in closes("GOOG")[1000 : 1000 + 4 * WINDOW]]
    body = {"values": history, "checkpoint_path": "universe", "normalize": "window", "quantiles": LEVELS}
    r = client.post("/predict", json={**body, "series": None})
    assert r.status_code == 200, r.text
    answer = r.json()
    value, meta = predict_next_from_values(history, served["universe"], quantiles=LEVELS, normalize="window")
    assert answer["prediction"] == pytest.approx(value, rel=1e-12) and meta["normalize"] == "window"
    assert answer["series"] is None and answer["ticker"] is None and answer["normalize"] == "window"
    assert answer["metrics"] == {"mae": None, "rmse": None, "mape": None, "mase": None}
    short = client.post("/predict", json={**body, "values": history[1:]})
    assert (
        short.status_code == 422
        and "send at least 40 values (4 × window=10), got 39" in short.json()["detail"]
    )
    named = client.post("/predict", json={**body, "series": "GOOG"})
    assert named.status_code == 422 and "series 'GOOG' with normalize='window'" in named.json()["detail"]


def test_the_predict_cli_takes_the_series(served: dict, capsys: pytest.CaptureFixture) -> None:
    path, values = str(served["universe"]), closes("MSFT")[-40:]
    assert main(["--checkpoint", path, "--series", "MSFT", *map(str, values)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["prediction"] == predict_next_from_values(values, path, series="MSFT")[0]
    assert printed["series"] == printed["ticker"] == "MSFT"
    # A CSV named like one of the checkpoint's series is answered as that series.
    assert main(["--checkpoint", path, "--csv", str(ROOT / "data" / "sample" / "MSFT.csv")]) == 0
    assert json.loads(capsys.readouterr().out)["series"] == "MSFT"
    assert main(["--checkpoint", path, *map(str, values)]) == 2
    assert "holds 4 series (AAPL, GOOG, IBM, MSFT)" in capsys.readouterr().err
    assert main(["--checkpoint", path, "--normalize", "window", *map(str, values)]) == 0
    assert json.loads(capsys.readouterr().out)["series"] is None
