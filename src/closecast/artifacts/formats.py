"""Earlier artifact formats, read as the current one (`closecast.artifacts.schema` checks the result).

- Format 1: one series; its codec carried the shrink and interval scaling, the conformal residuals and
  PIT values sat at the top level.
- Format 2: one series; its codec and calibration record at the top level, beside its data range,
  ticker and metrics.
- Format 3: the shared weights and, under `series`, one record per series (codec, calibration, data
  range, metrics); later files of format 3 added the optional `shrink_why` (calibration) and `history`.
- Format 4 (current): format 3 with those optional fields declared, so a reader that predates them
  refuses the file by its format number instead of as a malformed record.
Each conversion is plain data in, plain data out; nothing else of a file changes. A file of a format
newer than `FORMAT` is refused by `newer_format`."""

from __future__ import annotations

from typing import Any

PREFIX = "closecast.artifact/"


FORMAT = f"{PREFIX}4"


FORMAT_3 = f"{PREFIX}3"


FORMAT_2 = f"{PREFIX}2"


FORMAT_1 = f"{PREFIX}1"


# The name of the one series of an older file that recorded no ticker.
UNNAMED = "unnamed"


# Validation choices a format-1 codec dict carried beside its training statistics.
FORMAT_1_CODEC_CHOICES = {"shrink": 1.0, "interval_scale": "none"}


# What a format-2 file held per series, at its top level (`ticker` and `feature` repeat `data`'s).
FORMAT_2_SERIES_KEYS = ("codec", "calibration", "data", "ticker", "feature")


def codec_fields(codec: dict[str, Any]) -> dict[str, Any]:
    """A codec dict without the validation choices a format-1 codec carried (`FORMAT_1_CODEC_CHOICES`)."""
    return {k: v for k, v in codec.items() if k not in FORMAT_1_CODEC_CHOICES}


def from_format_1(artifact: dict[str, Any]) -> dict[str, Any]:
    """A format-1 artifact as format 2: the codec's shrink and interval scaling and the top-level
    `residuals` and `quantile_pit` moved into its `calibration` record; everything else as it was."""
    codec = artifact.get("codec")
    choices = dict(FORMAT_1_CODEC_CHOICES)
    if isinstance(codec, dict):
        choices.update({k: codec[k] for k in choices if k in codec})
        codec = codec_fields(codec)
    calibration = {**choices, "residuals": artifact.get("residuals"), "pit": artifact.get("quantile_pit")}
    rest = {k: v for k, v in artifact.items() if k not in ("residuals", "quantile_pit")}
    return {**rest, "format": FORMAT_2, "codec": codec, "calibration": calibration}


def from_format_2(artifact: dict[str, Any]) -> dict[str, Any]:
    """A format-2 artifact as format 3: its codec, calibration, data range and metrics become the record
    of its one series, named by its ticker (`UNNAMED` without one); the run's metrics are that series'."""
    data = artifact.get("data")
    ticker = artifact.get("ticker") or (data.get("ticker") if isinstance(data, dict) else None)
    record = {k: artifact.get(k) for k in ("codec", "calibration", "data", "metrics")}
    rest = {k: v for k, v in artifact.items() if k not in FORMAT_2_SERIES_KEYS}
    return {**rest, "format": FORMAT_3, "series": {str(ticker or UNNAMED): record}}


def from_format_3(artifact: dict[str, Any]) -> dict[str, Any]:
    """A format-3 artifact as format 4: the same fields (the optional ones present or not)."""
    return {**artifact, "format": FORMAT}


def format_number(found: Any) -> int | None:
    """The number N of a `closecast.artifact/N` format string; None for anything else."""
    if isinstance(found, str) and found.startswith(PREFIX) and found[len(PREFIX) :].isdigit():
        return int(found[len(PREFIX) :])
    return None


def newer_format(found: Any) -> str | None:
    """Why a file of format `found` cannot be read, when it is a closecast format newer than `FORMAT`."""
    number, known = format_number(found), format_number(FORMAT)
    if number is None or number <= known:
        return None
    return f"format {number} is newer than this closecast reads ({known}); upgrade closecast"
