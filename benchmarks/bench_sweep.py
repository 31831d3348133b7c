"""Sweep throughput: a Sobol analysis (Saltelli sampling, SALib) of 10 learning parameters of the Rwanda
scenario, run end to end by ``twinsim.analysis.sensitivity.run_sensitivity`` through the experiments engine with 1
and 2 local worker processes.

    python benchmarks/bench_sweep.py [--n 32] [--workers 1 2]

Prints one JSON line per worker count: runs, seconds (worker start-up and the SALib analysis included),
runs per second, and the time a Sobol analysis with N = 1024 (22,528 runs) would take at that rate.
``--n 1024 --workers 2`` times that analysis itself.
"""

from __future__ import annotations

import argparse

from common import Timer, emit

import twinsim
from twinsim.analysis.sensitivity import run_sensitivity
from twinsim.cli.common import engine_options
from twinsim.scenario import SensitivitySpec

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
SOBOL_1024_RUNS = 1024 * (2 * len(PARAMETERS) + 2)  # with second-order indices: the 22,528 runs


def spec(n: int) -> SensitivitySpec:
    """Sobol (S1, ST and S2) over the parameters' plausible ranges, one run per point, two outputs."""
    return SensitivitySpec(
        method="sobol",
        samples=n,
        second_order=True,
        outputs=["mean_gain", "selected_vs_not.accreditation"],
        params={p: {} for p in PARAMETERS},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32, help="Saltelli base sample size, a power of 2 (runs = n * 22)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    scenario = twinsim.load_scenario("rwanda_tpn")
    for workers in args.workers:
        with Timer() as t:
            result = run_sensitivity(scenario, spec(args.n), options=engine_options(workers=workers))
        rate = result.runs / t.seconds
        emit(
            {
                "benchmark": "sweep",
                "analysis": "sobol",
                "parameters": len(PARAMETERS),
                "n": args.n,
                "workers": workers,
                "runs": result.runs,
                "seconds": round(t.seconds, 2),
                "runs_per_second": round(rate, 1),
                "projected_sobol_n1024_seconds": round(SOBOL_1024_RUNS / rate, 1),
            }
        )


if __name__ == "__main__":
    main()
