"""Sweep throughput: a Saltelli design over 10 parameters of the Rwanda scenario, run with 1 and 2
worker processes (a plain ``multiprocessing.Pool`` over chunks of design points, each chunk run by
``twinsim.experiments.run_points``).

    python benchmarks/bench_sweep.py [--n 32] [--workers 1 2]

Prints one JSON line per worker count: runs, seconds (pool start-up included), runs per second, and
the time a Sobol analysis with N = 1024 (22,528 runs) would take at that rate.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp

import numpy as np
from common import Timer, emit
from SALib.sample import sobol as sobol_sample

import twinsim
from twinsim.experiments import run_points
from twinsim.scenario import plausible_range

PARAMETERS = [
    "learning.peer_contact_rate",
    "learning.followup_tie_intensity",
    "learning.similarity_weight",
    "learning.gap_ceiling",
    "learning.mentor_gain",
    "learning.leadership_weight",
    "learning.interest_weight",
    "learning.mentor_load_penalty",
    "learning.motivation_rate",
    "learning.forgetting",
]
SOBOL_1024_RUNS = 1024 * (2 * len(PARAMETERS) + 2)


def design(n: int) -> list[dict[str, float]]:
    problem = {"num_vars": len(PARAMETERS), "names": PARAMETERS, "bounds": [plausible_range(p) for p in PARAMETERS]}
    sample = sobol_sample.sample(problem, n, calc_second_order=True, seed=1)
    return [dict(zip(PARAMETERS, map(float, row), strict=True)) for row in sample]


def run_chunk(points: list[dict[str, float]]) -> int:
    scenario = twinsim.load_scenario("rwanda_tpn")
    return len(run_points(scenario, points))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32, help="Saltelli base sample size (runs = n * 22)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    points = design(args.n)
    for workers in args.workers:
        chunks = [list(c) for c in np.array_split(np.array(points, dtype=object), workers * 8) if len(c)]
        with Timer() as t, mp.get_context("fork").Pool(workers) as pool:
            runs = sum(pool.map(run_chunk, chunks))
        rate = runs / t.seconds
        emit(
            {
                "benchmark": "sweep",
                "workers": workers,
                "runs": runs,
                "seconds": round(t.seconds, 2),
                "runs_per_second": round(rate, 1),
                "projected_sobol_n1024_seconds": round(SOBOL_1024_RUNS / rate, 1),
            }
        )


if __name__ == "__main__":
    main()
