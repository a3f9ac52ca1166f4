"""The `train` tables of docs/BENCHMARKS.md (`python -m benchmarks train --update-docs` writes them): each
figure of a run beside its target, and on a GPU the published H200 figures of the same settings."""

from __future__ import annotations

from benchmarks.train_settings import command_line

TARGET_RATIO = 0.9
# Published H200 figures at the GPU defaults: a plain loop with resident tensors on an H200.
GPU_REFERENCE_SAMPLES_PER_S = 137_874
GPU_REFERENCE_DATALOADER = 69_664  # the same loop fed by a DataLoader
GPU_REFERENCE_LIGHTNING = 44_954  # Lightning fed by a DataLoader


def markdown(result: dict) -> str:
    """The docs table: machine, date, command, figures, each target beside its figure."""
    s, m = result["settings"], result["machine"]
    cuda = s["device"] == "cuda"
    where = f"{m['cores']} cores, {m['cpu']}" + (f", GPU {m['gpu']}" if cuda and m.get("gpu") else "")
    data = f"synthetic random walk, {s['rows']:,} days" if s["rows"] else f"bundled {s['ticker']} sample"
    rows = [
        ("Machine", where, ""),
        ("Date", m["date"], ""),
        ("Command", f"`{command_line(s)}`", ""),
        (
            "Settings",
            f"{data} ({result['train_samples']:,} training windows), {result['model']}, "
            f"hidden {s['hidden']}, "
            f"{s['layers']} layers, window {s['window']}, batch {s['batch_size']}, {s['epochs']} epochs, "
            f"{s['rounds']} rounds of each side in turn (the median of the rounds' ratios); "
            f"torch {result['torch']}, Lightning {result['lightning']}, "
            f"torch threads: {result['threads']}",
            "",
        ),
        ("Plain PyTorch loop, samples/s (median)", f"{result['plain_samples_per_s']:,.0f}", ""),
        ("Project training loop, samples/s (median)", f"{result['project_samples_per_s']:,.0f}", ""),
        ("**Ratio project / plain**", f"**{result['ratio']:.3f}**", f"≥ {TARGET_RATIO}"),
        (
            "Ratio of Lightning with every feature off (`barebones=True`) / plain",
            f"{result['barebones_ratio']:.3f}",
            "",
        ),
        ("Ratio per round", ", ".join(f"{r:.3f}" for r in result["paired_ratios"]), ""),
        ("Ratio without the validation passes", f"{result['train_only_ratio']:.3f}", ""),
        ("Ratio of the whole `trainer.fit` (setup included)", f"{result['fit_ratio']:.3f}", ""),
    ]
    if cuda:
        rows.append(
            (
                "Published H200 figures (same network size, window and batch)",
                f"plain loop, resident tensors {GPU_REFERENCE_SAMPLES_PER_S:,}; plain loop through a "
                f"DataLoader {GPU_REFERENCE_DATALOADER:,}; Lightning with a DataLoader "
                f"{GPU_REFERENCE_LIGHTNING:,}",
                "",
            )
        )
    else:
        rows.append(
            (
                "Ratio of samples per CPU-second (steadier on a busy machine)",
                f"{result['cpu_time_ratio']:.3f}",
                "",
            )
        )
    lines = [
        f"## Training speed ({'GPU' if cuda else 'CPU'})",
        "",
        "The project's Trainer (validation, checkpoints, TensorBoard and progress bar every epoch, as in a",
        "normal run) against a plain PyTorch loop on the same tensors, network and loss (the default",
        "model's likelihood head), optimizer, clipping, batch size and epochs that also computes the",
        "validation loss after each epoch. Time runs from the first training step to the end of the last",
        "epoch. The project side is Lightning's own loop, one batch per optimizer step: what it pays beyond",
        "the plain loop is that loop's per-step hooks and bookkeeping, the progress bar, and each epoch's",
        "checkpoints and TensorBoard events.",
        "",
        "| Figure | Value | Target |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
    ]
    return "\n".join(lines)
