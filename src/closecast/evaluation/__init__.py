"""Scores of a fitted network and its baselines: point scores, scoring rules, volatility baselines,
calibration on validation, reports and plots."""
