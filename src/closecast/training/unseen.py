"""Scoring series as the server answers one the network never saw (`eval.py normalize=window`).

Every validation and test window of a series becomes the request a client would send for it with
`normalize: "window"`: the series' last `request_history` prices up to that day. The request goes through
the Forecaster exactly as `/predict` takes it (`closecast.inference.forecaster`): a codec fitted on the
request's own prices, the network, and the calibration an unseen series is served with (the trained
series' smallest shrink, the network's quantiles as they are, no baseline combined:
`closecast.inference.series.cautious_calibration`). Those answers are scored on the series' own test
part beside its own baselines fitted on its training part (`closecast.evaluation.assessment`). Nothing of
the series is fitted into what is served, so its validation part only picks the reference baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from closecast.data.series import SeriesData
from closecast.data.windows import WindowSet
from closecast.distributions.served import Part
from closecast.errors import DataError, InputError
from closecast.evaluation.assessment import assess_served
from closecast.inference.forecaster import Forecaster, Item
from closecast.inference.series import HISTORY_WINDOWS, min_history
from closecast.training.series import SeriesResult, series_result


def request_length(cfg: DictConfig, window: int) -> int:
    """The prices each request sends: `cfg.request_history`, or (null) the fewest `/predict` accepts
    with `normalize: "window"` (`min_history`); `DataError` below that."""
    need = min_history(window)
    asked = cfg.get("request_history")
    if asked is None:
        return need
    if int(asked) < need:
        raise DataError(
            f"request_history={asked}: normalize=window fits each request's normalization on at least "
            f"{need} prices ({HISTORY_WINDOWS} × window={window}); use request_history>={need} or null"
        )
    return int(asked)


def window_requests(member: SeriesData, part: WindowSet, history: int) -> list[Item]:
    """The `/predict` item of each window of `part`: the series' last `history` prices up to its anchor
    (fewer where the series starts later), with their High and Low for range inputs."""
    prices = member.series.to_numpy(dtype=np.float64)
    days = None
    if member.high_low is not None:
        days = member.high_low.loc[member.series.index].to_numpy(np.float64)
    items = []
    for a in range(part.anchors.start, part.anchors.stop):
        sent = slice(max(0, a + 1 - history), a + 1)
        high, low = (None, None) if days is None else (days[sent, 0], days[sent, 1])
        items.append(Item(prices[sent], normalize="window", high=high, low=low))
    return items


def unseen_forecasts(forecaster: Forecaster, items: list[Item]) -> tuple[np.ndarray, list[Part]]:
    """Predicted prices `(n, horizon)` and the served distribution's parts for `items`, each answered
    as `/predict` answers it with `normalize: "window"` (`Forecaster.prepare`, `outputs`), in one
    network call (`Forecaster.forward`); `InputError` names the window that cannot be answered."""
    prepared, point, dist = forecaster.forward(items, spread=True, label="window")
    models = [p.model for p in prepared]
    # Every unseen series is served with the one calibration of `Forecaster.unseen_calibration`: the
    # network alone (no baseline reads the prices), so its one part holds every row.
    first = prepared[0]
    assert first.model.spec is None and all(m.calibration is first.model.calibration for m in models)
    return point, [Part(dist, first.model.pit)]


def finish_unseen(
    cfg: DictConfig, member: SeriesData, forecaster: Forecaster, plot_dir: Path
) -> SeriesResult:
    """One series scored as a series the network never saw: its validation and test windows answered
    as `/predict` answers `normalize: "window"`, scored beside its own baselines (`assess_served`)."""
    if not forecaster.likelihood.has_distribution:
        raise DataError(
            f"normalize=window: this artifact is a point network (model.likelihood="
            f"{forecaster.likelihood.name}), and /predict answers a series it never saw with a point "
            "forecast only; score it with normalize=codec"
        )
    history = request_length(cfg, forecaster.window)
    pred, served = {}, {}
    for p in ("val", "test"):
        try:
            pred[p], parts = unseen_forecasts(forecaster, window_requests(member, member.parts[p], history))
        except InputError as exc:
            raise DataError(f"{member.name} {p} part, normalize=window: {exc}") from None
        served[p] = parts
    prices = member.series.to_numpy(dtype=np.float64)
    calibration = forecaster.unseen_calibration
    result = assess_served(
        cfg,
        member.codec,
        member.parts,
        prices,
        member.split.n_train,
        calibration,
        pred,
        served,
        member.day_ranges(),
    )
    result.metrics["request_history"] = float(history)
    return series_result(cfg, member, result, {}, plot_dir)
