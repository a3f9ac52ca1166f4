"""Hostile request bodies against every kind of artifact (point, Student-t, skewed Student-t, Gaussian,
ensemble, range inputs, several horizon steps, several series, level target): each is answered with
finite numbers or refused with a 4xx that says why, never a 500. In-process (the app as uvicorn runs it),
property-based."""

from __future__ import annotations

import json
import math

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from closecast.artifacts.publish import save_artifact
from closecast.data.codec import MAX_PRICE
from closecast.serving.app import create_app
from closecast.serving.settings import Settings
from tests.helpers.artifacts import KINDS, WINDOW, sample_prices, tiny_artifact


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    checkpoints = tmp_path_factory.mktemp("hostile") / "checkpoints"
    checkpoints.mkdir()
    for kind in KINDS:
        save_artifact(tiny_artifact(kind), checkpoints / f"{kind}.pt")
    app = create_app(Settings(checkpoints_dir=checkpoints, reload_interval=0))
    with TestClient(app, raise_server_exceptions=False) as c:
        assert sorted(c.get("/health").json()["models"]) == sorted(f"{k}.pt" for k in KINDS)
        yield c


CLOSES, HIGH_LOW = sample_prices("AAPL", 5 * WINDOW)

prices = st.floats(min_value=5e-324, max_value=MAX_PRICE) | st.sampled_from([0.0, -1.0, 1e300])
# Levels and intervals: ordinary ones, those within a rounding of 0 or 1, and some outside (0, 1).
levels = st.floats(min_value=0.0, max_value=1.0) | st.sampled_from([1e-17, 5e-324, 1 - 1e-16, 0.5, 2.0])
names = st.text(max_size=8) | st.sampled_from(["AAPL", "GOOG", "IBM", "\udc80", "a\x00b"])


def history(draw, n: int, hostile: bool) -> list[float]:
    """Real closes, or drawn prices (any positive float, and some that are not)."""
    if not hostile:
        return [float(v) for v in CLOSES[-n:]]
    return draw(st.lists(prices, min_size=max(n - 2, 0), max_size=n + 2))


def sometimes(draw, rarely: int = 4) -> bool:
    return draw(st.integers(0, rarely - 1)) == 0


@st.composite
def bodies(draw) -> dict:
    """A body for one of the artifacts: mostly well formed, each part hostile now and then."""
    kind = draw(st.sampled_from(list(KINDS)))
    n = draw(st.sampled_from([WINDOW, 4 * WINDOW, 5 * WINDOW]))
    hostile = sometimes(draw)
    body: dict = {"checkpoint_path": kind, "values": history(draw, n, hostile)}
    if KINDS[kind][3] != ["return"] or sometimes(draw):
        body["high"] = [float(v) for v in HIGH_LOW[0, -n:]] if not hostile else history(draw, n, True)
        body["low"] = [float(v) for v in HIGH_LOW[1, -n:]] if not hostile else history(draw, n, True)
    trained = KINDS[kind][5]
    body["series"] = draw(names if sometimes(draw) else st.sampled_from(trained))
    if sometimes(draw):
        body["normalize"] = draw(st.sampled_from([None, "codec", "window"]))
        body["series"] = None if body["normalize"] == "window" else body["series"]
    optional = {
        "horizon": st.integers(-1, 5),
        "interval": levels,
        "quantiles": st.lists(levels, min_size=1, max_size=4),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            body[key] = draw(strategy)
    return body


def answered_or_refused(client: TestClient, path: str, body: dict) -> None:
    # ASCII JSON: a lone surrogate travels as its escape, as any client may send it.
    r = client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code < 500, r.text
    body = r.json()  # strict JSON: no NaN or Infinity in an answer
    if r.status_code != 200:
        assert 400 <= r.status_code < 500 and body["detail"], body
        return
    for item in body.get("items", [body]):
        assert all(math.isfinite(v) for v in item["predictions"] + (item.get("lower") or []))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(body=bodies())
def test_any_predict_body_is_answered_or_refused_with_a_4xx(client: TestClient, body: dict) -> None:
    answered_or_refused(client, "/predict", body)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(first=bodies(), second=bodies())
def test_any_batch_is_answered_or_refused_with_a_4xx(client: TestClient, first: dict, second: dict) -> None:
    item_keys = ("series", "values", "normalize", "high", "low")
    items = [{k: v for k, v in b.items() if k in item_keys} for b in (first, second)]
    batch = {k: v for k, v in first.items() if k not in item_keys}
    answered_or_refused(client, "/predict/batch", {**batch, "items": items})


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("level", [1e-17, 5.5e-17, 5e-324])
def test_a_quantile_level_within_a_rounding_of_0_is_answered(client: TestClient, kind: str, level: float):
    trained = KINDS[kind][5]
    series = trained[1] if len(trained) > 1 else None
    closes = [float(v) for v in sample_prices(series or "AAPL", WINDOW)[0]]
    body = {"checkpoint_path": kind, "values": closes, "series": series, "quantiles": [level, 0.5]}
    if KINDS[kind][3] != ["return"] and "log_range" in KINDS[kind][3]:
        body.update(high=[v * 1.01 for v in closes], low=[v * 0.99 for v in closes])
    r = client.post("/predict", json=body)
    assert r.status_code == 200, r.text
    lowest = r.json()["quantiles"][repr(level)][0]
    assert lowest is None or 0 <= lowest <= r.json()["quantiles"]["0.5"][0]
