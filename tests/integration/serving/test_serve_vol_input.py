"""A tiny pooled run with the `baseline_vol` input, published and served: each series' volatility model
travels in its codec, so /predict and /predict/batch answer from closes alone, as
`predict_next_from_values` does, each series by its own fitted model."""

from __future__ import annotations

import httpx
import pandas as pd
import pytest

from closecast.artifacts.schema import load_artifact
from closecast.inference.predict import predict_next_from_values
from tests.helpers.configs import ROOT, compose_train
from tests.helpers.live_server import live_server

TICKERS = ["AAPL", "IBM"]
LEVELS = [0.05, 0.5, 0.95]
WINDOW = 10  # tests/helpers/configs.py TINY


def closes(ticker: str) -> list[float]:
    return pd.read_csv(ROOT / "data" / "sample" / f"{ticker}.csv")["Adj Close"].tolist()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from closecast.training.run import train

    tmp = tmp_path_factory.mktemp("vol-input")
    overrides = [
        "data.tickers=[AAPL,IBM]",
        "data.features=[return,abs_return,baseline_vol]",
        "data.vol_input=egarch_t",
        "baselines.refit_every=0",
        "publish=true",
    ]
    train(compose_train(tmp, overrides))
    with live_server(tmp / "checkpoints") as url, httpx.Client(base_url=url, timeout=60) as client:
        yield {"client": client, "artifact": tmp / "checkpoints" / "best.pt"}


@pytest.mark.slow
def test_predict_answers_from_closes_as_predict_next_from_values(served: dict) -> None:
    codecs = {name: record["codec"] for name, record in load_artifact(served["artifact"])["series"].items()}
    assert {c["vol_input"] for c in codecs.values()} == {"egarch_t"}
    assert codecs["AAPL"]["vol_filter"] != codecs["IBM"]["vol_filter"]  # each fitted on its own series
    for ticker in TICKERS:
        values = closes(ticker)[-40:]
        body = {"series": ticker, "values": values, "quantiles": LEVELS}
        r = served["client"].post("/predict", json=body)
        assert r.status_code == 200, r.text
        value, meta = predict_next_from_values(
            values, served["artifact"], "cpu", quantiles=LEVELS, series=ticker
        )
        assert r.json()["prediction"] == pytest.approx(value, rel=1e-12)
        for level, got in r.json()["quantiles"].items():
            assert got == pytest.approx(meta["quantiles"][level], rel=1e-9)
    items = [{"series": t, "values": closes(t)[-40 - 5 * k :][:40]} for k in range(3) for t in TICKERS]
    r = served["client"].post("/predict/batch", json={"items": items, "quantiles": LEVELS})
    assert r.status_code == 200, r.text
    for item, answer in zip(items, r.json()["items"], strict=True):
        value, meta = predict_next_from_values(
            item["values"], served["artifact"], "cpu", quantiles=LEVELS, series=item["series"]
        )
        assert answer["prediction"] == pytest.approx(value, rel=1e-9)
        for level, got in answer["quantiles"].items():
            assert got == pytest.approx(meta["quantiles"][level], rel=1e-8)
    short = served["client"].post("/predict", json={"series": "IBM", "values": closes("IBM")[-3:]})
    assert short.status_code == 422 and "need at least window=10 values" in short.json()["detail"]
