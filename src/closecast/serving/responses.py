"""The answers of `POST /predict`, `POST /predict/batch` and `GET /models`, as pydantic models: every field
described, so the OpenAPI schema says what each number is, in which unit and for which day."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

PRICE = "a price in the units of the column the checkpoint was trained on (`feature`, e.g. Adj Close)"
STEPS = (
    "one per horizon step: step k is the k-th trading day after the last value sent (the first is the "
    "next trading day)"
)
SERVED = (
    "the served distribution: the network's predictive distribution recalibrated on validation, or its "
    "quantile average with a volatility baseline (/models `series[].serves`)"
)


class DataRange(BaseModel):
    """Dates of the series' data the checkpoint was trained on (ISO dates; null when unknown)."""

    start: str | None = Field(None, description="First day of the series' data.")
    end: str | None = Field(None, description="Last day of the series' data (the test period ends here).")
    train_end: str | None = Field(None, description="Last day of the training part.")
    val_end: str | None = Field(
        None, description="Last day of the validation part; the test period starts after it."
    )


class TestMetrics(BaseModel):
    """The checkpoint's point-forecast scores on its test period, computed when it was trained: how it did
    on held-out days, not the error of this forecast. Null for a series the network never saw."""

    mae: float | None = Field(description="Mean absolute error, in price units.")
    rmse: float | None = Field(description="Root mean squared error, in price units.")
    mape: float | None = Field(description="Mean absolute percentage error, in percent.")
    mase: float | None = Field(
        description="MAE divided by the naive forecast's (the last price) on the same days: 1.0 is no "
        "better than naive, below 1 better."
    )


class PointSource(BaseModel):
    """What produced `prediction`/`predictions`: the shrink chosen on validation and why."""

    source: Literal["naive", "network", "shrunk"] = Field(
        description="`naive`: the last price sent, at every step (shrink 0: the network's move is not "
        "used); `network`: the network's own forecast (shrink 1); `shrunk`: the network's move from the "
        "last price, scaled by `shrink`."
    )
    shrink: float = Field(description="The factor in [0, 1] the network's move is scaled by.")
    why: str = Field(description="In words: what the point forecast is and why validation chose it.")


class ServedSource(BaseModel):
    """What the quantiles and interval are from: the network, a volatility baseline run over the closes
    sent, or their quantile average (the same as /models `series[].serves`)."""

    kind: Literal["network", "baseline", "combination"] = Field(
        description="`network`: its recalibrated distribution alone; `baseline`: the volatility baseline "
        "alone; `combination`: their quantile average with weight `network_weight` on the network."
    )
    network_weight: float = Field(description="The network's weight in [0, 1], chosen on validation.")
    baseline: str | None = Field(None, description="The volatility baseline combined (e.g. `gjr_t`).")
    history: int | None = Field(None, description="Past returns the baseline reads.")
    closes_read: int | None = Field(None, description="Closes of this request the baseline read.")
    closes_scored: int | None = Field(
        None, description="Closes the baseline read when this distribution was scored (history + 1)."
    )
    note: str | None = Field(
        None,
        description="Set when fewer closes were sent than scored: the baseline part then starts from its "
        "training-time level, and the distribution differs from the one scored.",
    )


SERVED_SOURCE = Field(
    None,
    description="What `quantiles`, `lower` and `upper` are from; present when they were asked for and the "
    "model has a distribution head.",
)
POINT = Field(description="What produced the point forecast (`prediction`, `predictions`), and why.")
PREDICTION = Field(
    description=f"The point forecast for the next trading day after the last value sent, {PRICE}. "
    "See `point` for what produced it. It is the forecast validated for absolute error and may differ "
    'from the `"0.5"` quantile (see `quantiles`).'
)
PREDICTIONS = Field(description=f"The point forecasts, {STEPS}; `prediction` is the first.")
INTERVAL = Field(None, description="The central interval level asked for (e.g. 0.9); null when none.")
LOWER = Field(
    None,
    description=f"Lower bound of the central `interval`, {STEPS}: a quantile of {SERVED}, or a conformal "
    "bound around the point forecast for a point network; 0 where unbounded.",
)
UPPER = Field(None, description="Upper bound of the central `interval`, as `lower`; null where unbounded.")
QUANTILES = Field(
    None,
    description=(
        'The requested quantiles: level as written (e.g. `"0.05"`) → one price per horizon step (null: '
        f"beyond the calibration data's reach), of {SERVED}. Its `\"0.5\"` is that distribution's median and "
        "generally differs from `prediction`, on purpose: the point forecast is the one validated for "
        "absolute error (the naive one when the network showed no edge), while the quantiles are "
        "recalibrated so that each level's share of outcomes below it held on validation; moving the "
        "median onto `prediction` would break that calibration."
    ),
    examples=[{"0.05": [55.1], "0.5": [56.1], "0.95": [57.2]}],
)
SERIES = Field(description="The series answered; null for a series the network never saw.")
NORMALIZE = Field(description="`codec` (the series' training statistics) or `window` (its own history).")
CHECKPOINT = Field(description="The loaded artifact that answered (its file name).")
DEVICE = Field(description="Where the network ran: `cpu` or `cuda:N`.")
WINDOW = Field(description="Prices the network reads: only the last `window` values sent are used.")
HORIZON = Field(description="Steps answered (`predictions` has this many).")
HORIZON_MAX = Field(description="The most steps ahead this checkpoint forecasts.")


class BatchAnswer(BaseModel):
    """One item's forecast, as `POST /predict` answers it (without the checkpoint's details)."""

    prediction: float = PREDICTION
    predictions: list[float] = PREDICTIONS
    point: PointSource = POINT
    series: str | None = SERIES
    normalize: str = NORMALIZE
    interval: float | None = INTERVAL
    lower: list[float] | None = LOWER
    upper: list[float | None] | None = UPPER
    quantiles: dict[str, list[float | None]] | None = QUANTILES
    served: ServedSource | None = SERVED_SOURCE


class PredictResponse(BatchAnswer):
    """A forecast with what it came from."""

    checkpoint: str = CHECKPOINT
    device: str = DEVICE
    window: int = WINDOW
    horizon: int = HORIZON
    horizon_max: int = HORIZON_MAX
    ticker: str | None = Field(description="The ticker the series was trained on.")
    feature: str | None = Field(description="The price column trained on (e.g. Adj Close): the unit.")
    data: DataRange = Field(description="The dates of the data the checkpoint was trained on.")
    metrics: TestMetrics = Field(description="The checkpoint's test scores (not this forecast's).")


class BatchResponse(BaseModel):
    """The forecasts of a batch, in the order of its items, with the checkpoint that made them."""

    checkpoint: str = CHECKPOINT
    device: str = DEVICE
    window: int = WINDOW
    horizon: int = HORIZON
    horizon_max: int = HORIZON_MAX
    items: list[BatchAnswer] = Field(description="One answer per item, in the body's order.")


class Serves(BaseModel):
    """What a series' intervals and quantiles come from, and how they scored on test."""

    kind: Literal["network", "baseline", "combination"] = Field(
        description="`network`: the network's distribution alone; `baseline`: a volatility baseline "
        "alone (the network's weight 0); `combination`: their quantile average."
    )
    network_weight: float = Field(description="The network's weight in the quantile average, in [0, 1].")
    baseline: str | None = Field(None, description="The combined volatility baseline's name.")
    history: int | None = Field(None, description="Past closes the baseline reads from a request.")
    vs_reference: float | None = Field(
        None, description="Test CRPS as a ratio of the reference baseline's (chosen on validation)."
    )
    dm_t: float | None = Field(
        None, description="Diebold-Mariano statistic of that comparison (below -1.96: significantly better)."
    )
    in_mcs: float | None = Field(None, description="1 when in the 10% model confidence set on test, else 0.")


class SeriesInfo(BaseModel):
    """One series of an artifact."""

    name: str = Field(description="The name `POST /predict` takes as `series`.")
    ticker: str | None = Field(description="The ticker trained on.")
    feature: str | None = Field(description="The price column trained on: the unit of its forecasts.")
    data: DataRange = Field(description="The dates of its data.")
    metrics: TestMetrics = Field(description="Its point-forecast scores on its test period.")
    point: PointSource = Field(description="What its point forecast is, and why (as each answer says).")
    serves: Serves = Field(description="What its intervals and quantiles come from.")


class ModelInfo(BaseModel):
    """One loaded artifact: what it is, never its training config, paths or storage URLs."""

    name: str = Field(description="The name `checkpoint_path` takes.")
    sha256: str = Field(description="SHA-256 of the file.")
    size_bytes: int = Field(description="Size of the file.")
    modified: str = Field(description="When the file was last written (UTC).")
    window: int = WINDOW
    horizon: int = HORIZON_MAX
    features: list[str] | None = Field(description="The network's input features.")
    target: str | None = Field(description="What the network predicts: `return` or `level`.")
    ticker: str | None = Field(description="The ticker of an artifact of one series; null for several.")
    feature: str | None = Field(description="Its price column; null for several series.")
    data: DataRange = Field(description="Its data range; all null for several series.")
    created: str | None = Field(description="When the artifact was built.")
    inputs: list[str] = Field(description="The request arrays it reads: `values`, and `high`/`low`.")
    series: list[SeriesInfo] = Field(description="Its series, each with its own scores and choices.")
    model: dict[str, int | float | str | bool | None] = Field(description="The network's shape.")
    metrics: dict[str, float | None] = Field(description="The run's metrics (the mean over its series).")
    versions: dict[str, str] = Field(description="Versions of the packages that built it.")


class ModelsResponse(BaseModel):
    """The loaded artifacts and the files that were refused."""

    models: list[ModelInfo] = Field(description="The loaded artifacts, by name.")
    errors: dict[str, str] = Field(description="Refused files → why (the file's name only).")
