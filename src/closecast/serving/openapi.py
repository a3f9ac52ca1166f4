"""The generated OpenAPI schema narrowed to what the loaded checkpoints accept, so that a body the
schema calls valid is answered: their window and horizon, the series they all hold and the device names
of this host. It changes on reload.

`normalize: "window"` (a series the network never saw) is accepted but left out of the narrowed schema:
whether such a request is answered depends on its history moving at all, which a schema cannot state."""

from __future__ import annotations

from typing import Any

import torch

UNSEEN_NOTE = (
    ' The server also accepts `"window"` (see the field description of `POST /predict` in the docs): it '
    "is left out of this schema because whether it is answered depends on the history moving at all."
)


def narrow_series(props: dict[str, Any], entries: list[Any]) -> list[str]:
    """Narrow `series` and `normalize` of a request's properties in place; the properties now required."""
    names = sorted(set.intersection(*(set(e.artifact["series"]) for e in entries)))
    several = any(len(e.artifact["series"]) > 1 for e in entries)
    described = {k: v for k, v in props["series"].items() if k in ("title", "description")}
    props["series"] = {**described, "enum": names if several else [*names, None]}
    described = {k: v for k, v in props["normalize"].items() if k in ("title", "description")}
    described["description"] = described.get("description", "") + UNSEEN_NOTE
    props["normalize"] = {**described, "enum": ["codec", None]}
    return ["series"] if several else []


def narrow(schema: dict[str, Any], entries: list[Any]) -> dict[str, Any]:
    """Narrow the `PredictRequest` and batch schemas of `schema` in place to `entries` (the loaded
    registry entries); returns `schema`."""
    components = schema["components"]["schemas"]
    devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    devices += ["cuda"] if len(devices) > 1 else []
    for name in ("PredictRequest", "BatchRequest"):
        props = components[name]["properties"]
        props["device"]["enum"] = devices
        if entries:
            horizon = props["horizon"]["anyOf"][0]
            horizon["maximum"] = min(e.context["horizon_max"] for e in entries)
    if entries:
        for name in ("PredictRequest", "BatchItem"):
            component = components[name]
            component["properties"]["values"]["minItems"] = max(e.context["window"] for e in entries)
            required = narrow_series(component["properties"], entries)
            component["required"] = sorted({*component.get("required", []), *required})
    return schema
