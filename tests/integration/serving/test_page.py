"""The forecast page and the API docs in a real headless browser, offline, against a real server."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from closecast.serving.charts import BANDS, HISTORY_COLOR, POINT_COLOR
from tests.helpers.browser import dom, screenshot
from tests.helpers.live_server import live_server

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture(scope="module")
def url(trained_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A server on the tiny run's artifact (it keeps its last closes) and one from before they were kept."""
    checkpoints = tmp_path_factory.mktemp("page") / "checkpoints"
    checkpoints.mkdir()
    shutil.copyfile(trained_artifact, checkpoints / "best.pt")
    shutil.copyfile(FIXTURES / "artifact_v2.pt", checkpoints / "older.pt")
    with live_server(checkpoints) as base:
        yield base


def near(pixels: np.ndarray, color: str, tolerance: int = 14) -> np.ndarray:
    """Mask of the pixels within `tolerance` of `color` (`#rrggbb`) on every channel."""
    rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])
    return (np.abs(pixels[..., :3].astype(int) - rgb) <= tolerance).all(axis=-1)


def test_the_page_draws_the_recent_closes_and_the_fan_of_the_next(url: str, tmp_path: Path) -> None:
    assert httpx.get(f"{url}/", follow_redirects=False).headers["location"] == "/ui"
    pixels = np.asarray(Image.open(screenshot(f"{url}/ui", tmp_path / "ui.png")).convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # not blank
    history = near(pixels, HISTORY_COLOR)
    assert history.sum() > 200
    split = np.nonzero(history.any(axis=0))[0].max()  # the last close: the forecast is drawn right of it
    for color in (*(c for _, _, c in BANDS), POINT_COLOR):
        assert near(pixels[:, split - 2 :], color).sum() > 20, color


def test_the_page_says_what_each_series_is_and_how_it_scored(url: str) -> None:
    page = dom(f"{url}/ui")
    for mark in ('class="history"', 'class="fan fan-90"', 'class="fan fan-50"', 'class="point"'):
        assert mark in page
    assert "Intervals and quantiles: <b>" in page and "Point forecast: <b>" in page
    assert "this model, as served" in page and "drift" in page
    # The older artifact keeps no closes: the page says so rather than drawing nothing.
    assert "older.pt" in page and "keeps no recent closes" in page


def test_the_api_docs_render_with_no_network(url: str) -> None:
    docs = dom(f"{url}/docs")
    assert 'class="swagger-ui"' in docs and "opblock-post" in docs and "/predict/batch" in docs
    redoc = dom(f"{url}/redoc")
    assert "/predict/batch" in redoc
