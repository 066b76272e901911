"""Benchmarks of hexcast's hot paths on a synthetic, realistically clustered population.

Run them from the repository root, e.g. `python -m bench.selection --devices 1000000`.
Each writes its table under `bench/results/`, or under `$HEXCAST_BENCH_RESULTS_DIR` when
set (the test suite's smoke runs keep theirs out of the repository).
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(os.environ.get("HEXCAST_BENCH_RESULTS_DIR") or ROOT / "bench" / "results")
