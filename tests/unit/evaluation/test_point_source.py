"""The point forecast says what produced it: the shrink chosen on validation, in words, kept in the
calibration record and shown under the end-of-run point table."""

import pytest
import torch

from closecast.distributions.calibration import Calibration
from closecast.evaluation.report import point_words
from closecast.evaluation.shrink import shrink_choice
from tests.unit.evaluation.test_forecast_quality import _validation_part


def test_the_shrink_choice_says_why_naive_won_or_the_network_was_kept():
    n = 300
    codec, part, move, rng = _validation_part(seed=0, n=n)
    weak = 0.1 * move + torch.from_numpy(rng.normal(0, 1, (n, 1)))
    value, why = shrink_choice(codec, weak, part, "auto", min_gain_z=1.645)
    assert value == 0.0 and "second half" in why and "below the 1.645 needed" in why
    value, why = shrink_choice(codec, -move, part, "auto")
    assert value == 0.0 and why == "no shrink factor had a lower validation MAE than the naive forecast"
    value, why = shrink_choice(codec, move, part, "auto", min_gain_z=1.645)
    assert value == 1.0 and "at least 1.645 needed" in why
    value, why = shrink_choice(codec, move, part, 0.25)
    assert value == 0.25 and why == "calibration.shrink was set to 0.25 (not chosen on validation)"


@pytest.mark.parametrize(("shrink", "source"), [(0.0, "naive"), (1.0, "network"), (0.35, "shrunk")])
def test_the_point_source_follows_the_shrink_and_travels_in_the_record(shrink: float, source: str):
    calibration = Calibration(torch.zeros(5, 1), shrink, shrink_why="validation said so")
    again = Calibration.from_dict(calibration.to_dict())
    point = again.describe_point()
    assert point["source"] == source and point["shrink"] == shrink
    assert point["why"].endswith("because validation said so")
    words = point_words(point)
    assert words.startswith(f"model = {source}, shrink {shrink:g}")
    assert ("the model row is the naive row" in words) == (source == "naive")


def test_a_record_written_before_the_reason_was_kept_still_loads_and_says_so():
    old = {k: v for k, v in Calibration(torch.zeros(5, 1), 0.0).to_dict().items() if k != "shrink_why"}
    point = Calibration.from_dict(old).describe_point()
    assert point["source"] == "naive" and "predates" in point["why"]
    with pytest.raises(ValueError, match="shrink_why must be a string"):
        Calibration(torch.zeros(5, 1), 0.0, shrink_why=3)
