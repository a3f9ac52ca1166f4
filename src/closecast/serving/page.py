"""The forecast page, `GET /ui` (and `/`, which sends the browser there): for each loaded artifact and
series, its recent closes and the fan chart of its next closes, what it serves and how it scored on test
against its baselines. Rendered on the server as plain HTML with an inline SVG (`closecast.serving.charts`):
no script, nothing fetched from elsewhere.

The closes are those the artifact keeps (the series' last days when it was published); the forecast is the
one `POST /predict` gives for them."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

from closecast.errors import InputError
from closecast.inference.forecaster import Forecaster
from closecast.inference.series import SeriesModel
from closecast.serving.charts import LEVELS, fan_chart
from closecast.serving.dependencies import LoadedRegistry
from closecast.serving.registry import Entry

page_router = APIRouter(include_in_schema=False)

SERIES_SHOWN = 12  # series drawn per artifact; the rest are named (their forecasts: POST /predict)
DAYS_SHOWN = 120  # recent closes drawn before the forecast
BASELINE_CRPS = re.compile(r"^test/([a-z0-9_]+)/served/crps$")
STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 820px; color: #111827; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; } h3 { font-size: 1rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
td, th { border-bottom: 1px solid #e5e7eb; padding: 2px 10px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.note { color: #4b5563; font-size: 0.85rem; } .legend span { margin-right: 1rem; font-size: 0.8rem; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: middle; margin-right: 3px; }
"""
LEGEND = (
    '<p class="legend"><span><i class="swatch" style="background:#0f766e"></i>recent closes</span>'
    '<span><i class="swatch" style="background:#bfdbfe"></i>90% band</span>'
    '<span><i class="swatch" style="background:#60a5fa"></i>50% band</span>'
    '<span><i class="swatch" style="background:#1e3a8a"></i>median</span>'
    '<span><i class="swatch" style="background:#dc2626"></i>point forecast</span></p>'
)


def _num(value: Any, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "–"


def serves_words(serves: dict[str, Any], distribution: bool = True) -> str:
    """What a series' intervals and quantiles come from, in words (`Calibration.describe`; without a
    `distribution`, a point network's conformal intervals)."""
    kind = serves["kind"]
    if not distribution:
        what = "a point network: conformal intervals from its validation residuals, no distribution"
    elif kind == "network":
        what = "the network's predictive distribution (recalibrated on validation where that helped)"
    elif kind == "baseline":
        what = f"the {serves['baseline']} volatility baseline alone (validation gave the network weight 0)"
    else:
        what = (
            f"a quantile average of the network (weight {serves['network_weight']:g}) and the "
            f"{serves['baseline']} volatility baseline, the weight chosen on validation"
        )
    return f"<b>{kind}</b>: {escape(what)}"


def scores_table(metrics: dict[str, Any], serves: dict[str, Any]) -> str:
    """Test scores: the point forecast beside naive and drift, the served CRPS beside each baseline's."""
    rows = ["<table><tr><th>test, point</th><th>MAE</th><th>MASE</th></tr>"]
    for label, key in (("this model", "test"), ("naive", "test/naive"), ("drift", "test/drift")):
        rows.append(
            f"<tr><td>{label}</td><td>{_num(metrics.get(f'{key}/mae'))}</td>"
            f"<td>{_num(metrics.get(f'{key}/mase', 1.0 if label == 'naive' else None))}</td></tr>"
        )
    rows.append("</table>")
    served = metrics.get("test/served/crps")
    if not isinstance(served, float):
        return "".join(rows) + '<p class="note">No predictive distribution (a point network).</p>'
    found = ((m.group(1), v) for k, v in metrics.items() if (m := BASELINE_CRPS.match(k)))
    baselines = sorted(((name, v) for name, v in found if isinstance(v, float)), key=lambda kv: kv[1])
    rows.append("<table><tr><th>test, distribution</th><th>CRPS</th><th>model / baseline</th></tr>")
    rows.append(f"<tr><td><b>this model, as served</b></td><td>{_num(served, 6)}</td><td>1</td></tr>")
    for name, crps in baselines:
        ratio = _num(served / crps) if crps else "–"  # this model's CRPS over the baseline's
        rows.append(f"<tr><td>{escape(name)}</td><td>{_num(crps, 6)}</td><td>{ratio}</td></tr>")
    rows.append("</table>")
    if "vs_reference" in serves:
        mcs = "in" if serves.get("in_mcs") else "not in"
        rows.append(
            f'<p class="note">Against the reference baseline chosen on validation: CRPS ratio '
            f"{_num(serves['vs_reference'])}, Diebold-Mariano t {serves.get('dm_t', float('nan')):+.2f} "
            f"(|t| under 1.96: a tie); {mcs} the 10% model confidence set.</p>"
        )
    return "".join(rows)


def forecast_block(forecaster: Forecaster, model: SeriesModel) -> str:
    """The chart of a series' kept closes and the forecast of its next closes, with the numbers."""
    history = model.history
    if not history:
        return (
            '<p class="note">This artifact keeps no recent closes (it was published before they were '
            "kept): republish it from its run to see a chart here, or POST your closes to /predict.</p>"
        )
    distribution = forecaster.likelihood.has_distribution
    try:
        answer = forecaster.predict(
            history["values"],
            forecaster.horizon,
            None if distribution else 0.9,  # a point network: its conformal 90% interval as the band
            list(LEVELS) if distribution else None,
            high=history.get("high"),
            low=history.get("low"),
            series=model.name,
        )
    except InputError as exc:
        return f'<p class="note">No forecast from the kept closes: {escape(str(exc))}</p>'
    quantiles = {float(k): v for k, v in (answer.get("quantiles") or {}).items()}
    if not distribution:
        quantiles = {0.05: answer["lower"], 0.95: answer["upper"]}
    dates, closes = history["dates"][-DAYS_SHOWN:], history["values"][-DAYS_SHOWN:]
    title = f"{model.name}: last {len(closes)} closes and the next {len(answer['predictions'])}"
    chart = fan_chart(dates, closes, quantiles, answer["predictions"], title)
    steps = []
    for k, value in enumerate(answer["predictions"]):
        band = ""
        if 0.05 in quantiles:
            band = f" (90%: {_num(quantiles[0.05][k], 2)} – {_num(quantiles[0.95][k], 2)})"
        steps.append(f"+{k + 1}: {value:.2f}{band}")
    point = answer["point"]
    return (
        f"{chart}{LEGEND}<p>Next close{'s' if len(steps) > 1 else ''} after {escape(dates[-1])} "
        f"(last close {closes[-1]:.2f}): {escape('; '.join(steps))}.</p>"
        f'<p class="note">Point forecast: <b>{escape(point["source"])}</b>, {escape(point["why"])}.</p>'
    )


def entry_section(entry: Entry) -> str:
    """One artifact: what it is, then each of its first `SERIES_SHOWN` series."""
    info, forecaster = entry.info, entry.forecasters["cpu"]
    head = (
        f'<h2>{escape(entry.name)}</h2><p class="note">window {info["window"]}, horizon '
        f"{info['horizon']}, inputs {escape(', '.join(info['features'] or []))}, likelihood "
        f"{escape(str(info['model'].get('likelihood', 'none')))}, built {escape(str(info['created']))}</p>"
    )
    parts = [head]
    names = forecaster.names
    for name in names[:SERIES_SHOWN]:
        model = forecaster.series[name]
        data = model.data
        serves = forecaster.metadata["serves"][name]
        parts.append(
            f'<article class="series"><h3>{escape(name)} '
            f"<small>({escape(str(data.get('feature', '')))}, trained on {escape(str(data.get('start')))}"
            f" .. {escape(str(data.get('end')))})</small></h3>"
            f"<p>Intervals and quantiles: {serves_words(serves, forecaster.likelihood.has_distribution)}.</p>"
            f"{forecast_block(forecaster, model)}{scores_table(model.metrics, serves)}</article>"
        )
    if len(names) > SERIES_SHOWN:
        rest = ", ".join(names[SERIES_SHOWN:])
        parts.append(f'<p class="note">Also in this artifact (POST /predict with series): {escape(rest)}</p>')
    return "".join(parts)


def render(registry: Any) -> str:
    """The whole page for the registry's loaded artifacts."""
    sections = [entry_section(registry.entries[n]) for n in registry.names]
    if not sections:
        sections = [
            f'<p class="note">No checkpoint is loaded from {escape(str(registry.directory))}: train one '
            "(make train) and POST /models/reload.</p>"
        ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>closecast forecasts</title>'
        f"<style>{STYLE}</style></head><body><h1>closecast: next-close forecasts</h1>"
        '<p class="note">Each chart: the closes the artifact keeps, then the served distribution of the next '
        "close(s) (bands: its central 90% and 50%), its median and the point forecast. Prices in the "
        'column trained on. API: <a href="/docs">/docs</a>.</p>'
        f"{''.join(sections)}</body></html>"
    )


@page_router.get("/", response_class=RedirectResponse)
async def root() -> RedirectResponse:
    """The forecast page."""
    return RedirectResponse("/ui")


@page_router.get("/ui", response_class=HTMLResponse)
async def ui(registry: LoadedRegistry) -> HTMLResponse:
    """The forecast page of every loaded artifact."""
    return HTMLResponse(render(registry))
