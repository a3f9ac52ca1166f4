"""closecast's generated reports: `python -m reports` (`make results`) regenerates docs/RESULTS.md;
`python -m reports.pooled` the pooled-network table of docs/FORECAST_QUALITY.md; `python -m
reports.compare_configs` compares training configurations on validation.

Run from the repository root: `python -m` puts the current folder on `sys.path`, which is how the modules
of this package find each other (`reports.…`) and `benchmarks.document`.
"""
