"""An inline SVG fan chart, built as text: a series' recent closes, then the served distribution's
central bands over the next closes, its median and the point forecast. No script and no library: the
page is drawn by the browser from the markup alone."""

from __future__ import annotations

import math
from html import escape

# Band pairs (outer first) and their fills: solid colours, so the chart reads the same on any background.
BANDS = ((0.05, 0.95, "#bfdbfe"), (0.25, 0.75, "#60a5fa"))
LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)  # the quantiles a chart needs
HISTORY_COLOR, MEDIAN_COLOR, POINT_COLOR = "#0f766e", "#1e3a8a", "#dc2626"
FORECAST_SHARE = 0.22  # of the plot's width, for the forecast steps


def _ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """About `count` round values between `lo` and `hi`."""
    raw = (hi - lo) / count
    step = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step *= next((m for m in (1, 2, 5, 10) if raw <= m * step), 10)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def fan_chart(
    dates: list[str],
    closes: list[float],
    quantiles: dict[float, list[float | None]],
    point: list[float],
    title: str,
    width: int = 760,
    height: int = 300,
) -> str:
    """The SVG markup of `closes` (oldest first, dated `dates`) followed by the forecast of the next
    `len(point)` closes: `quantiles` (level → one price per step, `LEVELS`) drawn as bands and median."""
    left, right, top, bottom = 64, 16, 12, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    steps = len(point)
    split = left + plot_w * (1 - FORECAST_SHARE)
    bounded = {a: q for a, q in quantiles.items() if all(v is not None and math.isfinite(v) for v in q)}
    seen = [*closes, *point, *(v for q in bounded.values() for v in q)]
    lo, hi = min(seen), max(seen)
    pad = (hi - lo) * 0.06 or abs(hi) * 0.01 or 1.0
    lo, hi = lo - pad, hi + pad

    def x_hist(i: int) -> float:
        return left + (split - left) * i / max(len(closes) - 1, 1)

    def x_step(k: int) -> float:  # k = 0 is the last close
        return split + (left + plot_w - split) * k / steps

    def y(v: float) -> float:
        return top + plot_h * (hi - v) / (hi - lo)

    def path(points: list[tuple[float, float]]) -> str:
        return "M" + " L".join(f"{px:.1f},{py:.1f}" for px, py in points)

    last = closes[-1]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="fan-chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#ffffff" stroke="#d1d5db"/>',
    ]
    for tick in _ticks(lo, hi):
        ty = y(tick)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#e5e7eb"/>'
            f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11">{tick:g}</text>'
        )
    for low, high, color in BANDS:
        if low in bounded and high in bounded:
            outline = [(x_step(0), y(last))]
            outline += [(x_step(k + 1), y(v)) for k, v in enumerate(bounded[high])]
            outline += [(x_step(k + 1), y(v)) for k, v in reversed(list(enumerate(bounded[low])))]
            band = f"{round(100 * (high - low))}"
            parts.append(f'<path class="fan fan-{band}" d="{path(outline)} Z" fill="{color}" stroke="none"/>')
    history = [(x_hist(i), y(v)) for i, v in enumerate(closes)]
    parts.append(f'<path class="history" d="{path(history)}" fill="none" stroke="{HISTORY_COLOR}"/>')
    if 0.5 in bounded:
        median = [(x_step(0), y(last))] + [(x_step(k + 1), y(v)) for k, v in enumerate(bounded[0.5])]
        parts.append(
            f'<path class="median" d="{path(median)}" fill="none" stroke="{MEDIAN_COLOR}" '
            'stroke-dasharray="4 3"/>'
        )
    forecast = [(x_step(0), y(last))] + [(x_step(k + 1), y(v)) for k, v in enumerate(point)]
    parts.append(
        f'<path class="point" d="{path(forecast)}" fill="none" stroke="{POINT_COLOR}" stroke-width="2"/>'
    )
    parts += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{POINT_COLOR}"/>' for px, py in forecast[1:]]
    base = top + plot_h + 18
    parts.append(
        f'<line x1="{split:.1f}" x2="{split:.1f}" y1="{top}" y2="{top + plot_h}" stroke="#9ca3af" '
        'stroke-dasharray="2 2"/>'
        f'<text x="{left}" y="{base}" font-size="11">{escape(dates[0])}</text>'
        f'<text x="{split:.1f}" y="{base}" font-size="11" text-anchor="middle">{escape(dates[-1])}</text>'
        f'<text x="{left + plot_w}" y="{base}" font-size="11" text-anchor="end">+{steps} '
        f"trading day{'s' if steps > 1 else ''}</text>"
    )
    return "\n".join([*parts, "</svg>"])
