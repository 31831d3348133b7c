"""Peak memory of a sweep as its number of runs grows: one JSON line per size on stdout.

Each size runs in a fresh Python process (serial executor, so the whole sweep lives in that process)
that reports its peak resident set size. Runs go to a result store as they finish, so the peak should
stay flat: only the chunks in flight are ever held in memory (and each finished model is released, see
``twinsim.experiments.release``).

    python benchmarks/sweep_memory.py                    # sizes 40, 160, 640 runs
    python benchmarks/sweep_memory.py --sizes 100 1000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time

POINTS = 8


def child(runs: int, chunk_size: int) -> None:
    from twinsim.experiments.sweep import sweep

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        summary = sweep(
            "rwanda_tpn",
            [f"learning.gap_ceiling=0.2:0.9:{POINTS}"],
            replicates=max(1, runs // POINTS),
            seed=1,
            out=out,
            chunk_size=chunk_size,
        )
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    record = {
        "benchmark": "sweep_memory",
        "runs": summary.runs,
        "executor": "serial",
        "chunk_size": chunk_size,
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "seconds": round(seconds, 2),
    }
    print(json.dumps(record), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[40, 160, 640])
    parser.add_argument("--chunk-size", type=int, default=20, help="runs per task (fixed, so only runs vary)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.chunk_size)
        return
    for runs in args.sizes:
        command = [sys.executable, __file__, "--child", str(runs), "--chunk-size", str(args.chunk_size)]
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
