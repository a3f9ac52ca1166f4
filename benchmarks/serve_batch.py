"""The artifacts the serving benchmark serves, and its batch figures.

`default_artifact` builds what `make train` publishes, in shape: the default network (configs/model/
lstm.yaml: its size and likelihood head), the default inputs, window and horizon (configs/data/default.yaml),
codecs fitted on the bundled prices and a calibration record of the same kind (residuals and PIT values,
and, as `calibration.combine=auto` publishes, a Student-t GJR-GARCH baseline over the last
`calibration.history` closes at network weight 0.5); the weights are seeded, not trained (speed only).
With `n_series` > 1 it is what a pooled run publishes: one network and that many series' records.

The batch figures: one `POST /predict/batch` of `n_series` windows, one series each, sent one at a time
over a kept-alive connection to the loaded server (p50, p99, forecasts per second), and the same batch in
this process (`Forecaster.predict_items`), to show what the server adds, with and without quantiles.
"""

from __future__ import annotations

import http.client
import json
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from benchmarks.timing import call_times, percentile_ms

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "checkpoints" / "best.pt"  # what `make train` publishes and `make serve` serves
TICKERS = ("AAPL", "GOOG", "IBM", "MSFT")


def place_artifact(target: Path, source: Path | None) -> str:
    """Copy `source` (an artifact file) to `target`, or where it is None or missing save one of the default
    shape there; what was served, in words."""
    if source is not None and source.is_file():
        shutil.copyfile(source, target)
        path = source.resolve()
        return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    default_artifact(target)
    return "an artifact of the default shape (no checkpoints/best.pt: `make train` publishes one)"


def default_artifact(path: Path, n_series: int = 1, seed: int = 0) -> Path:
    """Save an artifact of the default configuration's shape with `n_series` series records."""
    import pandas as pd
    import torch
    from omegaconf import OmegaConf

    from closecast.artifacts.publish import save_artifact
    from closecast.artifacts.schema import build_universe_artifact, series_record
    from closecast.data.codec import Codec
    from closecast.distributions.calibration import Calibration
    from closecast.models.lstm import LSTMForecaster

    data = OmegaConf.load(ROOT / "configs" / "data" / "default.yaml")
    model = OmegaConf.load(ROOT / "configs" / "model" / "lstm.yaml")
    history = int(OmegaConf.load(ROOT / "configs" / "train.yaml").calibration.history)
    features = list(data.features)
    torch.manual_seed(seed)
    net = LSTMForecaster(
        hidden=model.hidden,
        layers=model.layers,
        dropout=model.dropout,
        input_size=len(features),
        horizon=data.horizon,
        likelihood=model.likelihood,
    )
    torch.nn.init.normal_(net.head.weight, std=0.05)  # the untrained head is zero: make it compute
    rng = np.random.default_rng(seed)
    records = {}
    for k in range(n_series):
        ticker = TICKERS[k % len(TICKERS)]
        frame = pd.read_csv(ROOT / "data" / "sample" / f"{ticker}.csv")
        column = "Adj Close" if "Adj Close" in frame.columns else "Close"
        prices = torch.tensor(frame[column].to_numpy(dtype=float))
        start = (37 * k) % (len(prices) // 4)  # each series its own stretch, so its own statistics
        train = prices[start : start + int((len(prices) - start) * data.train_frac)]
        codec = Codec.fit(train, data.target, data.window, data.horizon, features, data.ma_window)
        sorted_draws = np.sort(rng.uniform(0.0, 1.0, (500, data.horizon)), axis=0)
        params = {"omega": 0.02 + 0.001 * k, "alpha[1]": 0.05, "gamma[1]": 0.08, "beta[1]": 0.88, "nu": 6.0}
        baseline = {"name": "gjr_t", "process": "gjr", "params": params, "backcast": 2.0, "history": history}
        calibration = Calibration(
            torch.from_numpy(sorted_draws * 0.05),
            0.5,
            "none",
            torch.from_numpy(sorted_draws),
            weight=0.5,
            baseline=baseline,
            baseline_pit=torch.from_numpy(sorted_draws),
        )
        name = ticker if n_series == 1 else f"{ticker}_{k}"
        meta = {"ticker": name, "feature": column, "start": None, "end": None}
        records[name] = series_record(codec, calibration, meta, {})
    return save_artifact(build_universe_artifact(net, records, {}), path)


def batch_items(n_series: int, window: int) -> list[dict]:
    """One window of prices per series of a `default_artifact(n_series)`, as a batch body's items."""
    return [
        {
            "series": f"{TICKERS[k % len(TICKERS)]}_{k}",
            "values": [round(100.0 + 5.0 * (((i + k) * 7919) % 97) / 97, 4) for i in range(window)],
        }
        for k in range(n_series)
    ]


def measure_batch(url: str, items: list[dict], requests: int) -> dict:
    """p50/p99 ms of one batch request to the server at `url`, one request at a time, and forecasts/s."""
    body = json.dumps({"items": items, "checkpoint_path": "universe.pt"}).encode()
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    headers = {"Content-Type": "application/json"}
    errors = 0

    def call() -> None:
        nonlocal errors
        connection.request("POST", "/predict/batch", body, headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200 or len(json.loads(answer)["items"]) != len(items):
            errors += 1

    try:
        times = call_times(call, requests, max(3, requests // 10))  # the first few warm the route
    finally:
        connection.close()
    p50 = percentile_ms(times, 50)
    return {
        "batch_items": len(items),
        "batch_body_bytes": len(body),
        "batch_p50_ms": p50,
        "batch_p99_ms": percentile_ms(times, 99),
        "batch_forecasts_per_s": len(items) / (p50 / 1e3),
        "batch_requests": requests,
        "batch_errors": errors,
    }


def measure_batch_inproc(artifact: Path, items: list[dict], iterations: int) -> dict:
    """p50 ms of the same batch in this process: the forecaster's own time, without HTTP and JSON."""
    import torch

    from closecast.artifacts.schema import load_artifact
    from closecast.inference.forecaster import Forecaster, Item

    torch.set_num_threads(1)  # as the server does
    forecaster = Forecaster(load_artifact(artifact))
    batch = [Item(i["values"], i["series"]) for i in items]
    times = call_times(lambda: forecaster.predict_items(batch), iterations, 3)
    # The same batch asking for quantiles: every item's served distribution (a combination runs its
    # baseline filter over every item's closes).
    levels = [0.05, 0.5, 0.95]
    spread = call_times(lambda: forecaster.predict_items(batch, quantiles=levels), max(3, iterations // 5), 1)
    return {
        "batch_inproc_p50_ms": percentile_ms(times, 50),
        "batch_quantiles_inproc_p50_ms": percentile_ms(spread, 50),
    }
