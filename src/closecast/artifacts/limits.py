"""The largest artifact a server loads: what a file may weigh and declare (window, horizon, network size,
series), checked on the plain data before anything is allocated from it.

One definition for both sides: the server refuses a file beyond them (`load_artifact`), and training
refuses to publish one (`closecast.training.run.not_for_serving`). Each bound is far above any model this
project trains; it exists so that one crafted or corrupt number cannot make a server allocate without
bound."""

from __future__ import annotations

from typing import Any

from closecast.data.codec import FEATURES, MAX_PRICE
from closecast.distributions.likelihood import likelihood_of

__all__ = ["MAX_FILE_BYTES", "MAX_PRICE", "MAX_VALUES", "MAX_WINDOW", "exceeded", "parameter_count"]

MAX_FILE_BYTES = 2**30  # bytes of one artifact file, checked before it is read
# Prices one request may carry (the server's schema), so the longest window a request can fill; a
# window is tens of prices, so this is generous.
MAX_VALUES = 10_000
MAX_WINDOW = MAX_VALUES
MAX_HORIZON = 1_000  # steps ahead
MAX_HIDDEN = 4_096  # LSTM units per layer
MAX_LAYERS = 16
MAX_MEMBERS = 64  # networks of a deep ensemble
MAX_PARAMETERS = 100_000_000  # weights of the whole network, members together
MAX_SERIES = 10_000  # series of one artifact

# The whole numbers an artifact declares (its own keys, and its network's under `model.`) and their bounds.
BOUNDS = {
    "window": MAX_WINDOW,
    "horizon": MAX_HORIZON,
    "model.horizon": MAX_HORIZON,
    "model.hidden": MAX_HIDDEN,
    "model.layers": MAX_LAYERS,
    "model.members": MAX_MEMBERS,
    "model.input_size": len(FEATURES),
}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parameter_count(model: dict[str, Any]) -> int:
    """Weights of the network `model` (an artifact's `model` hparams) describes, without building it."""
    hidden, layers = _int(model.get("hidden")) or 0, _int(model.get("layers")) or 0
    inputs, horizon = _int(model.get("input_size")) or 1, _int(model.get("horizon")) or 1
    members = _int(model.get("members")) or 1
    try:
        outputs = horizon * likelihood_of(str(model.get("likelihood", "none"))).n_params
    except ValueError:  # an unknown head: the schema names it
        outputs = horizon
    # nn.LSTM: four gates per layer, each with input and hidden weights and two biases; then the head.
    lstm = sum(4 * hidden * ((inputs if k == 0 else hidden) + hidden + 2) for k in range(layers))
    return members * (lstm + hidden * outputs + outputs)


def exceeded(artifact: Any, size_bytes: int | None = None) -> str | None:
    """Why a server would refuse `artifact` (a loaded dict; `size_bytes`: its file's size) for its size,
    in one line, or None. Only what is declared is read: a wrong type is left to the schema."""
    if size_bytes is not None and size_bytes > MAX_FILE_BYTES:
        return f"the file is {size_bytes} bytes, over the {MAX_FILE_BYTES} an artifact may be"
    if not isinstance(artifact, dict):
        return None
    model = artifact.get("model") if isinstance(artifact.get("model"), dict) else {}
    for key, bound in BOUNDS.items():
        where, name = (model, key[6:]) if key.startswith("model.") else (artifact, key)
        value = _int(where.get(name))
        if value is not None and value > bound:
            return f"{key}={value} is over the largest a server loads ({bound})"
    series = artifact.get("series")
    if isinstance(series, dict) and len(series) > MAX_SERIES:
        return f"{len(series)} series is over the largest number a server loads ({MAX_SERIES})"
    for name, record in series.items() if isinstance(series, dict) else ():
        codec = record.get("codec") if isinstance(record, dict) else None
        ma_window = _int(codec.get("ma_window")) if isinstance(codec, dict) else None
        if ma_window is not None and ma_window > MAX_WINDOW:  # the trailing mean pads by it
            over = f"codec.ma_window={ma_window} is over the largest a server loads ({MAX_WINDOW})"
            return f"series {name!r}: {over}"
    count = parameter_count(model)
    if count > MAX_PARAMETERS:
        return f"the network has {count} weights, over the largest a server loads ({MAX_PARAMETERS})"
    return None
