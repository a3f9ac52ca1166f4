"""Hyperparameter search: Optuna storage, the pruning callback, and publishing a study's pick."""
