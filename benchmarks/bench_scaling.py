"""Scaling: synthetic networks (the Rwanda scenario's kinds, regions and topics, counts scaled) over
120 months, one run per size, each in a fresh process so that peak memory is its own.

    python benchmarks/bench_scaling.py [--sizes 1000 10000 100000] [--months 120]
                                       [--recording aggregate|panel] [--panel-dir DIR]

Prints one JSON line per size: wall time (model set-up, kickoff matching, every month, the aggregate
table), seconds per institution-month, peak resident memory of the process (MiB, including the
interpreter and imports, reported separately as ``rss_after_imports_mib``), and the ratio of wall time
to the previous size's divided by the ratio of sizes (``doubling_factor``: time multiple per doubling).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def one_size(institutions: int, months: int, recording: str, panel_dir: str, seed: int) -> dict:
    from common import Timer, peak_rss_mib, scaled_scenario

    from twinsim.model.results import simulate

    rss_imports = peak_rss_mib()
    scenario = scaled_scenario(institutions, months=months, recording=recording)
    if panel_dir:
        scenario = scenario.with_overrides({"recording.panel_dir": panel_dir})
    with Timer() as t:
        result = simulate(scenario, seed, 0)
        table = result.aggregates
    n = result.model.n
    return {
        "benchmark": "scaling",
        "institutions": n,
        "months": months,
        "recording": recording + (" (streamed)" if panel_dir else ""),
        "ties": len(result.model.ties),
        "aggregate_rows": len(table),
        "seconds": round(t.seconds, 3),
        "microseconds_per_institution_month": round(1e6 * t.seconds / (n * months), 3),
        "peak_rss_mib": round(peak_rss_mib()),
        "rss_after_imports_mib": round(rss_imports),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--recording", choices=["aggregate", "panel"], default="aggregate")
    parser.add_argument("--panel-dir", default="", help="stream the panel to Parquet files in this folder")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_size(args.sizes[0], args.months, args.recording, args.panel_dir, args.seed)))
        return
    from common import emit

    previous = None
    for size in args.sizes:
        cmd = [sys.executable, str(HERE / "bench_scaling.py"), "--child", "--sizes", str(size)]
        cmd += ["--months", str(args.months), "--recording", args.recording, "--seed", str(args.seed)]
        if args.panel_dir:
            cmd += ["--panel-dir", args.panel_dir]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=HERE).stdout
        record = json.loads(out.strip().splitlines()[-1])
        if previous is not None:
            doublings = math.log2(record["institutions"] / previous["institutions"])
            growth = record["seconds"] / previous["seconds"]
            record["doubling_factor"] = round(growth ** (1 / doublings), 3)
        emit(record)
        previous = record


if __name__ == "__main__":
    main()
