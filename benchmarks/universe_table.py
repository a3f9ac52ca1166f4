"""The `universe` section of docs/BENCHMARKS.md (`python -m benchmarks universe --update-docs` writes it):
the preset's phases, the loop comparison and the memory run, each figure beside its target."""

from __future__ import annotations

from benchmarks.train_table import TARGET_RATIO
from benchmarks.universe_settings import DEFAULTS, Settings

TIME_TARGET_S = 300  # the 20-stock preset, default settings, on 2 cores
MEMORY_TARGET_GB = 4.0  # peak RSS of training on 500 series x 5,000 days


def _seconds(phase: dict[str, float]) -> str:
    return f"{phase['seconds']:.1f} s (CPU {phase['cpu_seconds']:.1f} s)"


def command_line(s: dict) -> str:
    """The command that repeats a run with these settings."""
    parts = ["python -m benchmarks universe"]
    defaults = {**DEFAULTS, "seed": Settings.seed}
    for key in ("rounds", "loop_epochs", "series", "days", "steps", "seed"):
        if s[key] != defaults[key]:
            parts.append(f"--{key.replace('_', '-')} {s[key]}")
    if not s.get("full_history", True):
        parts.append("--no-full-history")
    return " ".join([*parts, "--update-docs"])


def full_history_lines(full: dict | None) -> list[str]:
    """The preset once more on the dataset's whole history, beside the same target (nothing if not run)."""
    if not full:
        return []
    return [
        f"**The whole history** (`{' '.join(full['overrides'])}`: to 2022, {full['prices']:,} prices, "
        f"{full['train_samples']:,} pooled training windows, {full['epochs']} epochs to early stopping), "
        "the same way:",
        "",
        "| Figure | Value | Target |",
        "|---|---|---|",
        f"| Training epochs | {_seconds(full['phases']['training epochs'])} | |",
        f"| **Whole run (first run: baselines fitted)** | **{_seconds(full['total'])}** "
        f"| ≤ {TIME_TARGET_S} s |",
        f"| Peak RSS of the run's process | {full['peak_rss_gb']:.2f} GB | |",
        "",
    ]


def loop_rows(loop: dict) -> list[str]:
    """Table rows of a loop comparison (`benchmarks.train_loops.compare_loops`): each side's samples/s,
    the ratio beside its target, and the rounds."""
    return [
        f"| Plain PyTorch loop, samples/s (median) | {loop['plain_samples_per_s']:,.0f} | |",
        f"| Project training loop, samples/s (median) | {loop['project_samples_per_s']:,.0f} | |",
        f"| **Ratio project / plain** | **{loop['ratio']:.3f}** | ≥ {TARGET_RATIO} |",
        f"| Lightning with every feature off (`barebones=True`), samples/s (median) "
        f"| {loop['barebones_samples_per_s']:,.0f} | |",
        f"| Ratio barebones Lightning / plain: the framework's own share | {loop['barebones_ratio']:.3f} | |",
        f"| Ratio per round | {', '.join(f'{r:.3f}' for r in loop['paired_ratios'])} | |",
    ]


def markdown(result: dict) -> str:
    """The docs section: machine, command, the preset's phases, loops and memory beside their targets."""
    s, m = result["settings"], result["machine"]
    preset, loop, memory = result["preset"], result["loops"], result["memory"]
    total = preset["total"]
    phases = [(name, _seconds(phase), "") for name, phase in preset["phases"].items()]
    lines = [
        "## Universe (`python -m benchmarks universe`)",
        "",
        f"Machine: {m['cores']} cores, {m['cpu']}. Date: {m['date']}. Command: `{command_line(s)}`; torch "
        f"{result['torch']}, Lightning {result['lightning']}, torch threads {result['threads']}.",
        "",
        f"**Preset** `python train.py {' '.join(s['preset'])}` ({preset['series']} series, "
        f"{preset['train_samples']:,} pooled training windows, batch {preset['batch_size']}, "
        f"{preset['epochs']} epochs to early stopping), in a fresh process with an empty baseline cache. "
        "Wall seconds on a machine shared with other jobs; the CPU seconds of the process move less with "
        "the load.",
        "",
        "| Phase | Time | Target |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in phases),
        f"| **Whole run (first run: baselines fitted)** | **{_seconds(total)}** | ≤ {TIME_TARGET_S} s |",
        f"| Peak RSS of the run's process | {preset['peak_rss_gb']:.2f} GB | |",
        "",
        *full_history_lines(result.get("full_history")),
        f"**Loops** on the preset's pooled training windows ({loop['train_samples']:,}, {loop['series']} "
        f"series, batch {loop['batch_size']}, {s['loop_epochs']} epoch(s) a round, {s['rounds']} rounds of "
        "each side in turn, each ratio the median of the rounds' own; the preset's model on every side "
        f"({loop['model']}): "
        "the plain loop of `python -m benchmarks train`):",
        "",
        "| Figure | Value | Target |",
        "|---|---|---|",
        *loop_rows(loop),
        f"| Ratio without the validation passes | {loop['train_only_ratio']:.3f} | |",
        f"| Ratio of samples per CPU-second | {loop['cpu_time_ratio']:.3f} | |",
        "",
        f"**Memory**: a synthetic GARCH(1,1)-t panel (`benchmarks/synthetic_universe.py`, seed {s['seed']}) "
        f"of {memory['series']} series on a calendar of {s['days']:,} business days, ragged "
        f"({memory['prices']:,} prices in all), read by `data.source=panel` and trained with the preset's "
        f"settings through the run's fit: load, clean, split, encode, {memory['steps']} training steps of "
        f"batch {memory['batch_size']} ({memory['train_samples']:,} training windows in the epoch) and the "
        f"full validation pass ({memory['val_samples']:,} windows), in a fresh process. The end-of-run "
        "scoring of every series is not part of it.",
        "",
        "| Figure | Value | Target |",
        "|---|---|---|",
        f"| Peak RSS after writing the panel, before training | {memory['peak_rss_gb_before_training']:.2f}"
        " GB | |",
        f"| **Peak RSS of the process** | **{memory['peak_rss_gb']:.2f} GB** | ≤ {MEMORY_TARGET_GB:g} GB |",
        f"| Wall time of the fit | {memory['fit_run_seconds']:.0f} s | |",
    ]
    return "\n".join(lines)
