"""Runs per second of the Rwanda scenario with 1 and 2 worker processes: JSON lines on stdout.

A serial run in this process is the reference without any overhead. Workers are started and warmed up
(twinsim imported, one run done) before the clock starts, so the figures measure steady-state
throughput; ``startup_seconds`` reports the warm-up separately. The parallel efficiency of k workers
is rate(k) / (k x rate(1 worker)).

    python benchmarks/throughput.py                 # 128 runs, 1 and 2 workers
    python benchmarks/throughput.py --runs 200 --workers 1 2 4
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import time

from twinsim.experiments.engine import run_chunk, run_points
from twinsim.experiments.experiment import Experiment
from twinsim.scenario import load_scenario


def record(executor: str, runs: int, workers: int, seconds: float, **extra: float) -> dict:
    return {
        "benchmark": "throughput",
        "scenario": "rwanda_tpn",
        "executor": executor,
        "runs": runs,
        "workers": workers,
        "seconds": round(seconds, 3),
        "runs_per_second": round(runs / seconds, 2),
        **extra,
    }


def measure_serial(runs: int) -> dict:
    scenario = load_scenario("rwanda_tpn")
    run_points(scenario, [{}], replicates=2, seed=1)  # warm-up: what the first run imports (pandas for the table)
    start = time.perf_counter()
    table = run_points(scenario, [{}], replicates=runs)
    return record("serial", len(table), 1, time.perf_counter() - start)


def measure(runs: int, workers: int, chunk_size: int) -> dict:
    scenario = load_scenario("rwanda_tpn")
    seed = scenario.simulation.seed
    start = time.perf_counter()
    context = multiprocessing.get_context("forkserver")
    with cf.ProcessPoolExecutor(workers, mp_context=context) as pool:
        warm = [
            pool.submit(run_chunk, Experiment.from_points(scenario, [{}], 1, seed), [(0, 0)])
            for _ in range(2 * workers)
        ]
        cf.wait(warm)
        startup = time.perf_counter() - start
        start = time.perf_counter()
        table = run_points(scenario, [{}], replicates=runs, seed=seed, executor=pool, chunk_size=chunk_size)
        seconds = time.perf_counter() - start
    return record(
        "local processes", len(table), workers, seconds, chunk_size=chunk_size, startup_seconds=round(startup, 2)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=128)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--chunk-size", type=int, default=8)
    args = parser.parse_args()
    print(json.dumps(measure_serial(args.runs)), flush=True)
    base = None
    for workers in args.workers:
        line = measure(args.runs, workers, args.chunk_size)
        if workers == 1:
            base = line["runs_per_second"]
        if base:
            line["parallel_efficiency"] = round(line["runs_per_second"] / (workers * base), 3)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
