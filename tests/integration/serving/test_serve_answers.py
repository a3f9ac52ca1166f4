"""Answers that explain themselves: what produced the point forecast, in /predict, /predict/batch and
/models, and a description for every field of their OpenAPI schemas."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.helpers.configs import sample_closes
from tests.helpers.live_server import live_server

ROUTES = (("/predict", "post"), ("/predict/batch", "post"), ("/models", "get"))


@pytest.fixture(scope="module")
def client(trained_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> httpx.Client:
    checkpoints = tmp_path_factory.mktemp("answers") / "checkpoints"
    checkpoints.mkdir()
    shutil.copyfile(trained_artifact, checkpoints / "best.pt")
    with live_server(checkpoints) as url, httpx.Client(base_url=url, timeout=30) as c:
        yield c


def test_the_answer_says_what_produced_the_point_forecast(client: httpx.Client) -> None:
    values = sample_closes(40)
    body = client.post("/predict", json={"values": values, "quantiles": [0.5]}).json()
    point = body["point"]
    assert point["source"] in ("naive", "network", "shrunk") and point["why"]
    assert point["source"] == {0.0: "naive", 1.0: "network"}.get(point["shrink"], "shrunk")
    if point["source"] == "naive":  # the tiny run's guard finds no edge: the last value sent, said so
        assert body["prediction"] == pytest.approx(values[-1], rel=1e-12)
        assert point["why"].startswith("the naive forecast (the last price sent, at every step), because ")
    batch = client.post("/predict/batch", json={"items": [{"values": values}]}).json()
    assert batch["items"][0]["point"] == point
    (model,) = client.get("/models").json()["models"]
    (series,) = model["series"]
    assert series["point"] == point
    assert series["serves"]["kind"] in ("network", "baseline", "combination")


def undescribed(schema: dict, components: dict, where: str, seen: set[str]) -> list[str]:
    """Paths of the properties under `schema` (refs followed once) that carry no description."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        return undescribed(components[name], components, name, seen)
    missing = []
    for key, prop in schema.get("properties", {}).items():
        if not prop.get("description"):
            missing.append(f"{where}.{key}")
        missing += undescribed(prop, components, f"{where}.{key}", seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            missing += undescribed(sub, components, where, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            missing += undescribed(schema[key], components, where, seen)
    return missing


def test_every_field_of_the_forecast_routes_is_described_in_openapi(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    components, missing, seen = spec["components"]["schemas"], [], set()
    for path, method in ROUTES:
        operation = spec["paths"][path][method]
        bodies = [operation.get("requestBody", {}).get("content", {}).get("application/json", {})]
        bodies += [r.get("content", {}).get("application/json", {}) for r in operation["responses"].values()]
        for body in bodies:
            if "schema" in body:
                missing += undescribed(body["schema"], components, path, seen)
    assert {"PredictResponse", "BatchResponse", "ModelsResponse", "PointSource"} <= seen
    assert missing == []
