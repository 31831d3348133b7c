"""Kickoff matching time of each registered matching rule on the scaled Rwanda network.

    python benchmarks/bench_matching.py [--sizes 1000 10000] [--rules best_performer most_similar ...]

Prints one JSON line per size and rule: seconds for ``model.form_ties()`` and the number of ties.
"""

from __future__ import annotations

import argparse

from common import Timer, emit, scaled_scenario

from twinsim.model import TwinningModel, run_seed_sequence
from twinsim.programme.matching import MATCHING_RULES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rules", nargs="+", default=sorted(MATCHING_RULES))
    args = parser.parse_args()
    for size in args.sizes:
        for rule in args.rules:
            scenario = scaled_scenario(size).with_overrides({"programme.matching": rule})
            model = TwinningModel(scenario, run_seed_sequence(1))
            with Timer() as t:
                model.form_ties()
            emit(
                {
                    "benchmark": "matching",
                    "institutions": model.n,
                    "rule": rule,
                    "seconds": round(t.seconds, 3),
                    "ties": len(model.ties),
                }
            )


if __name__ == "__main__":
    main()
