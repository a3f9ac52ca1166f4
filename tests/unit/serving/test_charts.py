"""The page's fan chart: bands, median and point forecast drawn inside the frame; an unbounded band is
left out rather than drawn to infinity."""

from __future__ import annotations

import re

from closecast.serving.charts import fan_chart

DATES = [f"2024-01-{d:02d}" for d in range(1, 31)]
CLOSES = [100 + (i % 7) for i in range(30)]


def coordinates(svg: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", svg)]


def test_the_fan_has_its_bands_median_and_point_inside_the_frame():
    steps = {0.05: [95.0, 93.0, 91.0], 0.25: [99.0, 98.0, 97.0], 0.5: [101.0, 101.0, 101.0],
             0.75: [103.0, 104.0, 105.0], 0.95: [107.0, 109.0, 111.0]}  # fmt: skip
    svg = fan_chart(DATES, CLOSES, steps, [101.0, 101.5, 102.0], "AAPL <test>")
    for mark in (
        'class="fan fan-90"',
        'class="fan fan-50"',
        'class="median"',
        'class="point"',
        'class="history"',
    ):
        assert mark in svg
    assert svg.count("<circle") == 3 and "+3 trading days" in svg and "AAPL &lt;test&gt;" in svg
    width, height = map(float, re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).groups())
    assert all(0 <= x <= width and 0 <= y <= height for x, y in coordinates(svg))


def test_an_unbounded_band_is_left_out():
    steps = {0.05: [0.0], 0.25: [99.0], 0.5: [101.0], 0.75: [103.0], 0.95: [None]}
    svg = fan_chart(DATES, CLOSES, steps, [101.0], "AAPL")
    assert 'class="fan fan-90"' not in svg and 'class="fan fan-50"' in svg
