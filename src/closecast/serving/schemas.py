"""The request bodies of `POST /predict` and `POST /predict/batch` and the error body, as pydantic models
(they are the OpenAPI schema); the answers are in `closecast.serving.responses`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from closecast.artifacts.limits import MAX_VALUES
from closecast.data.codec import MAX_PRICE
from closecast.inference.forecaster import MAX_INTERVAL
from closecast.inference.series import HISTORY_WINDOWS

MAX_BODY_BYTES = 512 * 1024  # fits MAX_VALUES numbers written with full float precision

MAX_QUANTILES = 99  # levels per request
MAX_BATCH_ITEMS = 1000  # windows per batch request: one network call of this many rows stays in milliseconds
MAX_BATCH_BODY_BYTES = 4 * 1024 * 1024  # fits MAX_BATCH_ITEMS windows of 200 full-precision prices
MAX_SERIES_NAME = 200  # characters of a series name
Price = Annotated[float, Field(gt=0, le=MAX_PRICE, allow_inf_nan=False)]
Level = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]
# fmt: off
EXAMPLE = {  # the capstone's body: 60 recent closes (any window the default search picks), oldest first
    "values": [
        74.673, 69.8682, 70.9642, 69.1495, 68.7048, 70.2048, 69.8951, 68.6878, 66.1078, 67.2795,
        69.2338, 68.2495, 67.6556, 67.3444, 67.4531, 66.5235, 66.7907, 66.0812, 69.0098, 71.1957,
        70.2966, 68.339, 67.937, 68.1198, 67.0552, 67.8864, 67.4702, 65.0647, 63.0119, 65.6275,
        65.1853, 64.8378, 65.4563, 66.6539, 58.4188, 57.0417, 58.3319, 59.4264, 59.2397, 59.0659,
        58.8234, 57.3576, 59.3712, 59.3071, 61.0603, 61.9419, 62.5874, 61.0186, 60.9025, 60.8477,
        60.0092, 59.987, 58.5343, 58.1704, 58.7899, 57.7453, 58.5499, 57.9761, 57.5627, 56.1374,
    ],
    "checkpoint_path": "checkpoints/best.pt",
    "device": "cpu",
}
# fmt: on


Normalize = Literal["codec", "window"] | None


class Window(BaseModel):
    """One series' recent prices as a request sends them: `values`, `high`/`low` for range inputs, which
    series they are and how they are normalized (`POST /predict`'s body and each batch item)."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

    values: list[Price] = Field(
        min_length=1,
        max_length=MAX_VALUES,
        description=(
            f"Recent prices, oldest first: at least the checkpoint's window, at most {MAX_VALUES} "
            f"(only the last window is used). JSON numbers only; the whole body is at most "
            f"{MAX_BODY_BYTES} bytes."
        ),
    )
    high: list[Price] | None = Field(
        None,
        max_length=MAX_VALUES,
        description=(
            "Each day's High, one per value (the same days, oldest first). Required by a checkpoint "
            "with range inputs (`data.features` with `range`; see /models `inputs`), else ignored. "
            "May be unadjusted beside adjusted values: only High/Low is read."
        ),
    )
    low: list[Price] | None = Field(
        None,
        max_length=MAX_VALUES,
        description="Each day's Low, one per value, at most that day's High; as `high`.",
    )
    series: str | None = Field(
        None,
        max_length=MAX_SERIES_NAME,
        description=(
            "Which of the checkpoint's series `values` are (see /models `series`): required when it holds "
            "several, optional with one. Omitted or null with `normalize: window`: a series the network "
            "never saw."
        ),
    )
    normalize: Normalize = Field(
        None,
        description=(
            "`codec` (default): normalized by the named series' training statistics. `window`: a series "
            "the network never saw (`series` omitted or null), normalized by the request's own history: "
            f"send at least {HISTORY_WINDOWS} × the checkpoint's window values; quantiles are the "
            "network's own (not recalibrated) and the move is shrunk as for the most cautious trained "
            "series."
        ),
    )


class Options(BaseModel):
    """What a forecast request asks of the checkpoint, shared by `POST /predict` and `POST /predict/batch`
    (a batch applies them to every item): the checkpoint, the device, the horizon, an interval and
    quantiles."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

    checkpoint_path: str = Field(
        "best.pt",
        max_length=255,
        description="Name of a loaded artifact: `best`, `best.pt` or `checkpoints/best.pt`.",
    )
    device: str = Field("cpu", max_length=32, description="`cpu`, or `cuda`/`cuda:N` where present.")
    horizon: int | None = Field(
        None, ge=1, description="Steps ahead: default 1, at most the checkpoint's horizon (else 422)."
    )
    interval: float | None = Field(
        None,
        gt=0,
        le=MAX_INTERVAL,
        description=(
            "Central prediction interval level, e.g. 0.9: from the predictive distribution recalibrated "
            "on validation (likelihood head), or conformal (point network)."
        ),
    )
    quantiles: list[Level] | None = Field(
        None,
        min_length=1,
        max_length=MAX_QUANTILES,
        description=(
            "Quantile levels strictly between 0 and 1, e.g. [0.05, 0.5, 0.95]; answered under "
            "`quantiles`, one price per horizon step for each level."
        ),
    )


def as_in_predict(*shared: type[BaseModel]):
    """A `json_schema_extra` that describes the fields of the `shared` models as `POST /predict`'s, where a
    batch schema repeats them."""
    names = [name for model in shared for name in model.model_fields]

    def extra(schema: dict[str, Any]) -> None:
        for name in names:
            schema["properties"][name]["description"] = "As in `POST /predict`."

    return extra


class PredictRequest(Options, Window):
    """The body of `POST /predict`: the original capstone's body, plus optional `series` (required for a
    checkpoint of several series), `normalize`, `horizon`, `interval`, `quantiles`, and `high`/`low`
    (needed by a model with range inputs)."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})


class BatchItem(Window):
    """One window of a batch: a series' recent prices, as `POST /predict` takes them."""

    model_config = ConfigDict(json_schema_extra=as_in_predict(Window))


class BatchRequest(Options):
    """The body of `POST /predict/batch`: many series' windows, answered by one network call; the
    checkpoint, device, horizon, interval and quantiles apply to every item."""

    model_config = ConfigDict(json_schema_extra=as_in_predict(Options))

    items: list[BatchItem] = Field(
        min_length=1,
        max_length=MAX_BATCH_ITEMS,
        description=(
            f"At most {MAX_BATCH_ITEMS} windows, each `{{series, values}}` (the whole body at most "
            f"{MAX_BATCH_BODY_BYTES} bytes); answered in the same order."
        ),
    )


class ErrorBody(BaseModel):
    """What went wrong and how to fix it; `errors` lists each invalid field."""

    detail: str = Field(description="One line: what is wrong, the value, and how to fix it.")
    errors: list[dict[str, Any]] | None = Field(
        None, description="For an invalid body: each invalid field, with its location and message."
    )


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed JSON."},
    401: {
        "model": ErrorBody,
        "description": "API_KEY is set and the request lacks `Authorization: Bearer <key>`.",
    },
    404: {"model": ErrorBody, "description": "No loaded checkpoint has that name (paths are refused)."},
    408: {
        "model": ErrorBody,
        "description": "The body did not arrive in time (BODY_TIMEOUT seconds per part).",
    },
    413: {"model": ErrorBody, "description": f"Body over {MAX_BODY_BYTES} bytes."},
    422: {
        "model": ErrorBody,
        "description": (
            "Invalid body: missing/empty values, fewer than the checkpoint's window, more than "
            f"{MAX_VALUES}, non-numbers, NaN/Infinity, non-positive prices, unknown device, a horizon "
            "beyond the checkpoint's, quantile levels outside (0, 1), a forecast out of range; for a "
            "checkpoint with range inputs: missing `high`/`low`, a length other than `values`, or a "
            "High below its Low; a `series` missing for a checkpoint of several, or not among its "
            f"series; `normalize: window` with a named series or fewer than {HISTORY_WINDOWS} × window "
            "values."
        ),
    },
    503: {"model": ErrorBody, "description": "No checkpoint is loaded."},
}


BATCH_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    413: {"model": ErrorBody, "description": f"Body over {MAX_BATCH_BODY_BYTES} bytes."},
    422: {
        "model": ErrorBody,
        "description": (
            f"No items or more than {MAX_BATCH_ITEMS}; any item `POST /predict` would refuse, named by "
            "its index (`items[3]: …` or `items.3.values: …`)."
        ),
    },
}
