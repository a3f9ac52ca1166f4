"""The network's likelihood heads, the served predictive distribution and its recalibration, conformal
intervals."""
