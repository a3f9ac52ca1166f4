"""The in-process batch of 500 with and without 3 quantiles (`serve_batch.measure_batch_inproc`) for two
source trees, alternating A/B rounds in fresh processes; medians and their ratio.

    python -m benchmarks.quantile_batches OLD_SRC NEW_SRC [--rounds 3] [--iterations 50]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, sys
from pathlib import Path
from benchmarks.serve_batch import batch_items, default_artifact, measure_batch_inproc
path = Path(sys.argv[1])
if not path.exists():
    default_artifact(path, 500)
print(json.dumps(measure_batch_inproc(path, batch_items(500, 40), int(sys.argv[2]))))
"""
KEYS = ("batch_inproc_p50_ms", "batch_quantiles_inproc_p50_ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the src folder of the tree before")
    parser.add_argument("new", help="the src folder of the tree after")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=50)
    args = parser.parse_args()
    artifact = Path(tempfile.mkdtemp()) / "universe500.pt"  # one artifact for both trees
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    for _ in range(args.rounds):
        for name in runs:
            src = Path(getattr(args, name)).resolve()
            env = dict(os.environ, PYTHONPATH=f"{src}{os.pathsep}{ROOT}", OMP_NUM_THREADS="1")
            command = [sys.executable, "-c", CHILD, str(artifact), str(args.iterations)]
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
            runs[name].append(json.loads(out.strip().splitlines()[-1]))
            print(name, runs[name][-1], flush=True)
    for key in KEYS:
        medians = {name: statistics.median(r[key] for r in rows) for name, rows in runs.items()}
        old, new = medians["old"], medians["new"]
        print(f"{key}: old {old:.2f}, new {new:.2f}, old/new {old / new:.2f}")


if __name__ == "__main__":
    main()
