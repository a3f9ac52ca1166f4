"""One series read the way a run reads it: the only member of a `PriceDataModule` of one ticker or CSV."""

from __future__ import annotations

from typing import Any

from closecast.data.datamodule import PriceDataModule
from closecast.data.series import SeriesData


def one_series(**settings: Any) -> SeriesData:
    """The only series of a `PriceDataModule` built from `settings` (`data.*` keys), not set up yet."""
    (series,) = PriceDataModule(**settings).members.values()
    return series
