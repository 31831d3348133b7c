"""Shared helpers of the benchmarks: synthetic networks, timing, peak memory, JSON lines."""

from __future__ import annotations

import json
import platform
import resource
import sys
import time
from typing import Any

import twinsim
from twinsim.scenario import Scenario

#: The six bundled delivery models of the Rwanda population, in the README's order.
MODELS = [
    "rwanda_no_program",
    "rwanda_tpn",
    "rwanda_pairs",
    "rwanda_north_south",
    "rwanda_external_experts",
    "rwanda_hybrid",
]


def scaled_scenario(
    institutions: int, months: int = 120, recording: str = "aggregate", base: str = "rwanda_tpn"
) -> Scenario:
    """The Rwanda scenario with every kind's counts scaled to about ``institutions`` in total.

    Each region keeps its share of each kind (rounded, at least 1), so hospitals and districts, the
    topics and the programme are Rwanda's; ``months`` is the programme length (no follow-up).
    """
    scenario = twinsim.load_scenario(base)
    factor = institutions / scenario.n_institutions
    overrides: dict[str, Any] = {
        "simulation.months": months,
        "simulation.followup_months": 0,
        "recording.mode": recording,
    }
    for kind, spec in scenario.population.kinds.items():
        overrides[f"population.kinds.{kind}.counts"] = {r: max(1, round(c * factor)) for r, c in spec.counts.items()}
    return scenario.with_overrides(overrides)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(record: dict[str, Any]) -> None:
    """Print one JSON line (with the Python and twinsim versions) and flush."""
    record = {**record, "python": platform.python_version(), "twinsim": twinsim.__version__}
    print(json.dumps(record), flush=True)


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


if __name__ == "__main__":
    sys.exit("a helper module: run bench_rwanda.py, bench_scaling.py or bench_sweep.py")
