"""The one engine on 1 and 2 workers: wall time of a 6-model comparison and of a calibration, and the speed-up.

    python benchmarks/bench_engine.py [--replicates 200] [--budget 4000] [--workers 1 2]

Each analysis runs through its command-line entry point's library function with ``executor=K`` (K local worker
processes; 1 runs serially in this process) and must give the same result on every worker count (checked here).
Prints one JSON line per measurement and one with the speed-ups.
"""

from __future__ import annotations

import argparse

import pandas as pd
from common import MODELS, Timer, emit

import twinsim
from twinsim.analysis.calibration import calibrate, load_targets
from twinsim.analysis.compare import compare
from twinsim.scenario import bundled_scenarios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200, help="replicates per model of the comparison")
    parser.add_argument("--budget", type=int, default=4000, help="model runs of the calibration design")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    args = parser.parse_args()
    scenarios = [twinsim.load_scenario(m) for m in MODELS]
    targets = load_targets(bundled_scenarios()["rwanda_tpn"].parent / "targets" / "rwanda_tpn.toml")
    rwanda = twinsim.load_scenario("rwanda_tpn")
    seconds: dict[str, dict[int, float]] = {"compare": {}, "calibrate": {}}
    tables: dict[str, list[pd.DataFrame]] = {"compare": [], "calibrate": []}
    for workers in args.workers:
        executor = workers if workers > 1 else None
        with Timer() as t:
            result = compare(scenarios, args.replicates, executor=executor)
        seconds["compare"][workers] = t.seconds
        tables["compare"].append(result.table())
        emit({"benchmark": "engine", "analysis": "compare", "models": len(MODELS), "replicates": args.replicates,
              "workers": workers, "seconds": round(t.seconds, 2)})  # fmt: skip
        with Timer() as t:
            fit = calibrate(rwanda, targets, args.budget, engine={"executor": executor})
        seconds["calibrate"][workers] = t.seconds
        tables["calibrate"].append(fit.design)
        emit({"benchmark": "engine", "analysis": "calibrate", "budget": args.budget, "workers": workers,
              "seconds": round(t.seconds, 2)})  # fmt: skip
    for frames in tables.values():
        for frame in frames[1:]:
            pd.testing.assert_frame_equal(frames[0], frame)  # the same result on every worker count
    one = min(args.workers)
    for name, by_workers in seconds.items():
        for workers, s in by_workers.items():
            if workers != one:
                emit({"benchmark": "engine", "analysis": name, "workers": workers,
                      "speedup_vs_" + str(one): round(by_workers[one] / s, 2)})  # fmt: skip


if __name__ == "__main__":
    main()
