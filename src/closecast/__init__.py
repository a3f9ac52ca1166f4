"""closecast: forecast a daily close with an LSTM (Hydra + Lightning), tuned by Optuna, served by FastAPI."""

from typing import Any

__all__ = ["predict_next_from_values"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Imported on first use: `python -m closecast.<module>` then runs that module once, and the server
    # does not load what only local inference needs.
    if name == "predict_next_from_values":
        from closecast.inference.predict import predict_next_from_values

        return predict_next_from_values
    raise AttributeError(f"module 'closecast' has no attribute {name!r}")
