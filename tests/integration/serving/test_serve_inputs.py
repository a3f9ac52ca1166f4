"""What a client can send to `POST /predict` that is wrong, and what the schema promises: a live server."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import httpx
import pytest

from closecast.serving.schemas import MAX_BODY_BYTES, MAX_VALUES
from tests.helpers.configs import sample_closes
from tests.helpers.live_server import live_server


@pytest.fixture(scope="module")
def client(trained_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> httpx.Client:
    checkpoints = tmp_path_factory.mktemp("inputs") / "checkpoints"
    checkpoints.mkdir()
    shutil.copyfile(trained_artifact, checkpoints / "best.pt")  # window 10, horizon 1
    with live_server(checkpoints) as url, httpx.Client(base_url=url, timeout=30) as c:
        yield c


WINDOW = 10
GOOD = sample_closes(WINDOW)


def _json(obj: object) -> bytes:
    return json.dumps(obj).encode()


BAD_BODIES = {
    "missing values": (_json({"checkpoint_path": "best.pt"}), 422, "values"),
    "empty values": (_json({"values": []}), 422, "at least 1"),
    "fewer than the window": (_json({"values": GOOD[:5]}), 422, "window=10"),
    "numeric strings": (_json({"values": [str(v) for v in GOOD]}), 422, "valid number"),
    "one numeric string": (_json({"values": [*GOOD[:-1], "101.5"]}), 422, "values.9"),
    "booleans": (_json({"values": [True] * WINDOW}), 422, "valid number"),
    "nested lists": (_json({"values": [[v] for v in GOOD]}), 422, "valid number"),
    "nulls": (_json({"values": [None] * WINDOW}), 422, "valid number"),
    "values not a list": (_json({"values": 101.5}), 422, "valid list"),
    "NaN": (b'{"values": [' + b"1.0, " * 9 + b"NaN]}", 422, "finite"),
    "Infinity": (b'{"values": [' + b"1.0, " * 9 + b"Infinity]}", 422, "finite"),
    "-Infinity": (b'{"values": [-Infinity' + b", 1.0" * 9 + b"]}", 422, ""),
    "overflowing literal": (b'{"values": [' + b"1.0, " * 9 + b"1e999]}", 422, "finite"),
    "zero price": (_json({"values": [*GOOD[:-1], 0]}), 422, "greater than 0"),
    "negative price": (_json({"values": [-1.0] * WINDOW}), 422, "greater than 0"),
    "too many values": (_json({"values": [1.5] * (MAX_VALUES + 1)}), 422, f"at most {MAX_VALUES}"),
    "malformed JSON": (b'{"values": [1.0, 2.0', 400, "not valid JSON"),
    "empty body": (b"", 400, "not valid JSON"),
    "not an object": (_json(GOOD), 422, "valid dictionary"),
    "unknown field": (_json({"values": GOOD, "path": "x"}), 422, "path"),
    "unknown device": (_json({"values": GOOD, "device": "tpu"}), 422, "tpu"),
    "absent device": (_json({"values": GOOD, "device": "cuda:7"}), 422, "cuda:7"),
    "device not a string": (_json({"values": GOOD, "device": 0}), 422, "device"),
    "horizon zero": (_json({"values": GOOD, "horizon": 0}), 422, "horizon"),
    "horizon beyond the model": (_json({"values": GOOD, "horizon": 2}), 422, "from 1 to 1"),
    "horizon as string": (_json({"values": GOOD, "horizon": "1"}), 422, "horizon"),
    "horizon as boolean": (_json({"values": GOOD, "horizon": True}), 422, "horizon"),
    "horizon as float": (_json({"values": GOOD, "horizon": 1.5}), 422, "horizon"),
    "interval out of range": (_json({"values": GOOD, "interval": 1.5}), 422, "interval"),
    "quantile level 0": (_json({"values": GOOD, "quantiles": [0.05, 0.0]}), 422, "quantiles"),
    "quantile level 1.2": (_json({"values": GOOD, "quantiles": [1.2]}), 422, "quantiles"),
    "quantiles not numbers": (_json({"values": GOOD, "quantiles": ["0.5"]}), 422, "quantiles"),
    "checkpoint not a string": (_json({"values": GOOD, "checkpoint_path": ["best.pt"]}), 422, "checkpoint"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_input_is_a_4xx_that_says_why(client: httpx.Client, case: str) -> None:
    body, status, fragment = BAD_BODIES[case]
    r = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert fragment in r.json()["detail"] + json.dumps(r.json().get("errors"))
    assert "X-Response-Time-ms" in r.headers


def test_oversize_body_is_413_with_or_without_a_length(client: httpx.Client) -> None:
    big = b'{"values": [' + b"1.0, " * (MAX_BODY_BYTES // 5) + b"1.0]}"
    r = client.post("/predict", content=big)
    assert r.status_code == 413 and str(MAX_BODY_BYTES) in r.json()["detail"]

    def chunks():  # no Content-Length: the server must count as it reads
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    r = client.post("/predict", content=chunks())
    assert r.status_code == 413, r.text


def test_openapi_states_the_limits(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/predict"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/PredictRequest")
    schema = spec["components"]["schemas"]["PredictRequest"]
    assert schema["properties"]["values"]["maxItems"] == MAX_VALUES
    assert schema["properties"]["values"]["items"]["exclusiveMinimum"] == 0
    assert schema["additionalProperties"] is False
    assert {"400", "404", "408", "413", "422", "503"} <= set(op["responses"])
    assert str(MAX_BODY_BYTES) in json.dumps(op)
    (example,) = schema["examples"]  # the documented example is a request that works
    assert client.post("/predict", json=example).status_code == 200


def test_wrong_method_and_unknown_url_are_4xx(client: httpx.Client) -> None:
    assert client.get("/predict").status_code == 405
    assert client.put("/predict", json={"values": GOOD}).status_code == 405
    r = client.get("/nothing/here")
    assert r.status_code == 404 and "X-Response-Time-ms" in r.headers


@pytest.mark.parametrize(
    "values",
    [
        [1.7e308] * WINDOW,
        [1e-300] * (WINDOW - 1) + [1e12],
        [1e12] * (WINDOW - 1) + [1e-300],
        [5e-324] * WINDOW,
    ],
)
@pytest.mark.parametrize("extra", [{}, {"interval": 0.9}])
def test_extreme_prices_get_a_finite_answer_or_a_422(client: httpx.Client, values: list, extra: dict) -> None:
    r = client.post("/predict", json={"values": values, **extra})
    assert r.status_code in (200, 422), r.text
    body = r.json()  # strict JSON: no NaN or Infinity slipped into an answer
    if r.status_code == 422:
        assert "out of range" in body["detail"] or "less than or equal to" in body["detail"]
    else:
        assert all(math.isfinite(v) for v in body["predictions"])


def test_openapi_promises_no_horizon_the_server_refuses(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["PredictRequest"]
    horizon = schema["properties"]["horizon"]["anyOf"][0]
    assert horizon["minimum"] == 1 and horizon["maximum"] == 1  # the smallest loaded horizon
    assert schema["properties"]["values"]["minItems"] == WINDOW  # the largest loaded window
    assert client.post("/predict", json={"values": GOOD, "horizon": 1000}).status_code == 422
