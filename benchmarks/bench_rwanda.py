"""Rwanda scenario on one core: runs per second, institution-months per second, and the ratio to the
straightforward Mesa reference (benchmarks/reference_model.py) measured in the same process.

    python benchmarks/bench_rwanda.py [--runs 300] [--reference-runs 20]

Prints one JSON line per measurement. A twinsim run is timed whole (set-up, kickoff matching, every
month, costing, recording, summary); a reference run is timed from its construction (from a kicked-off
twinsim model: the same population and ties) through its remaining months, so the ratio favours the
reference.
"""

from __future__ import annotations

import argparse
import gc
import os

from common import Timer, emit

import twinsim
from twinsim.model import TwinningModel, run_seed_sequence
from twinsim.results import simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="twinsim runs to time")
    parser.add_argument("--reference-runs", type=int, default=20, help="reference runs to time")
    parser.add_argument("--seed", type=int, default=20210801)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    scenario = twinsim.load_scenario("rwanda_tpn")
    n, months = scenario.n_institutions, scenario.simulation.months + scenario.simulation.followup_months

    for r in range(5):  # warm-up
        simulate(scenario, args.seed, r).summary()
    gc.collect()
    with Timer() as t:
        for r in range(args.runs):
            simulate(scenario, args.seed, r).summary()
    twinsim_ims = args.runs * n * months / t.seconds
    emit(
        {
            "benchmark": "rwanda",
            "model": "twinsim",
            "runs": args.runs,
            "seconds": round(t.seconds, 3),
            "runs_per_second": round(args.runs / t.seconds, 1),
            "institution_months_per_second": round(twinsim_ims),
        }
    )

    from reference_model import ReferenceModel

    seconds = 0.0
    for r in range(args.reference_runs):
        source = TwinningModel(scenario, run_seed_sequence(args.seed, r))
        source.step()  # kickoff (not timed)
        with Timer() as t:
            reference = ReferenceModel(source, seed=r)
            reference.run()
        seconds += t.seconds
    ref_months = months - 1
    reference_ims = args.reference_runs * n * ref_months / seconds
    emit(
        {
            "benchmark": "rwanda",
            "model": "reference",
            "runs": args.reference_runs,
            "seconds": round(seconds, 3),
            "runs_per_second": round(args.reference_runs / seconds, 1),
            "institution_months_per_second": round(reference_ims),
        }
    )
    emit({"benchmark": "rwanda", "ratio_institution_months_per_second": round(twinsim_ims / reference_ims, 1)})


if __name__ == "__main__":
    main()
