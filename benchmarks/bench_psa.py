"""The donor's decision-grade answer at full size: the six bundled models under full uncertainty.

    python benchmarks/bench_psa.py --draws 1000 --workers 2

Prints the wall time and peak memory of the comparison (every uncertain input drawn, 2 replicates per draw), the
probabilities of being the best buy, the acceptability frontier, the EVPI and the five largest EVPPIs at each stretch
of the frontier, and the PRIM sentences: the figures of issue 22's note.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
from common import MODELS

from twinsim.analysis.compare import compare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--uncertainty", default="full")
    args = parser.parse_args()
    start = time.perf_counter()
    result = compare(MODELS, 2 * args.draws, executor=args.workers, uncertainty=args.uncertainty)
    runs = time.perf_counter() - start
    voi_start = time.perf_counter()
    points = result.decision_points() or [result.decision_wtp()]
    voi = result.value_of_information(points)
    regions = result.when_best()
    analysis = time.perf_counter() - voi_start
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{len(MODELS)} models x {args.draws} draws x 2 replicates, {args.workers} workers, {args.uncertainty}")
    print(f"  runs: {runs:.1f} s; value of information + PRIM: {analysis:.1f} s; total {runs + analysis:.1f} s")
    print(f"  peak memory: this process {own:.0f} MiB, largest worker {children:.0f} MiB")
    print("  " + result.uncertainty_note())
    table = result.table()
    for name, row in table.iterrows():
        print(f"  {name:<24} effect {row['effect']:+.2f}  cost {row['cost']:>12,.0f}  {row['dominance']}")
    buys = result.best_buy(points)
    print("  P(best buy) at " + ", ".join(f"{w:,.0f}" for w in points) + " USD per point:")
    for name in buys.index:
        print(f"    {name:<24} " + "  ".join(f"{p:>5.0%}" for p in buys.loc[name]))
    frontier = result.acceptability_frontier()
    changes = frontier[frontier["model"] != frontier["model"].shift()]
    print("  acceptability frontier: " + "; ".join(
        f"from {w:,.0f}: {m} (P {p:.0%})" for w, m, p in changes.itertuples(index=False)))  # fmt: skip
    for k, w in enumerate(voi.wtp):
        top = ", ".join(f"{key} {value:,.0f}" for key, value in voi.top(5, k))
        groups = ", ".join(f"{g} {voi.evppi[g][k]:,.0f}" for g in voi.groups)
        population = voi.evpi[k] * voi.population
        print(f"  at {w:,.0f}: EVPI {voi.evpi[k]:,.0f} per programme ({population:,.0f} over 10 years);"
              f" groups: {groups}; top inputs: {top}")  # fmt: skip
    print(f"  when the answer flips (at {result.decision_wtp():,.0f} USD per point):")
    for region in regions:
        print("    - " + region.sentence())
    assert np.isfinite(voi.evpi).all()


if __name__ == "__main__":
    main()
