"""closecast: forecast a daily close with an LSTM (Hydra + Lightning), tuned by Optuna, served by FastAPI."""

from closecast.predict import predict_next_from_values

__all__ = ["predict_next_from_values"]
__version__ = "0.1.0"
