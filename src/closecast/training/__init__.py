"""Trainer assembly from config, the training run (one or many series), hyperparameter logging and
the walk-forward backtest."""
