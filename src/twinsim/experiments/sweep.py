"""Sweeps: a design over scenario parameters, replicated, run on any executor into a result store.

The same as ``twinsim sweep`` on the command line, for notebooks::

    from twinsim.experiments.sweep import sweep
    summary = sweep("rwanda_tpn", ["learning.gap_ceiling=0.3:0.9:4"], replicates=10, out="runs/ceiling")
    table = summary.table()        # tidy: one row per (point, replicate)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from twinsim.errors import ScenarioError
from twinsim.experiments.designs import MAX_POINTS, ParamSpec, build_design, parse_param
from twinsim.experiments.engine import STORE_CHUNKS_PER_WORKER, execute, experiment_seed, store_manifest
from twinsim.experiments.executors import open_executor
from twinsim.experiments.experiment import Experiment
from twinsim.experiments.store import ResultStore
from twinsim.scenario import Scenario, as_scenario

__all__ = ["SweepSummary", "sweep"]


@dataclass(frozen=True)
class SweepSummary:
    """What a sweep did and where its results are.

    Attributes:
        store: the result-store directory.
        design_points: number of design points.
        replicates: replicates per point.
        runs: design points x replicates.
        done: runs computed by this call.
        skipped: runs already in the store (``resume``).
        failed: runs in the store whose run raised (recorded with their seed and error).
        retryable: of the failed runs, those that failed for lack of resources (memory, disk): ``resume`` runs
            them again.

    """

    store: Path
    design_points: int
    replicates: int
    runs: int
    done: int
    skipped: int
    failed: int
    retryable: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``twinsim sweep --json`` prints."""
        return {
            "store": str(self.store),
            "design_points": self.design_points,
            "replicates": self.replicates,
            "runs": self.runs,
            "done": self.done,
            "skipped": self.skipped,
            "failed": self.failed,
            "retryable": self.retryable,
        }

    def table(self) -> pd.DataFrame:
        """The tidy table of every run (see :meth:`twinsim.experiments.store.ResultStore.runs`)."""
        return ResultStore(self.store).runs()


def _design_size(params: list[str] | list[ParamSpec], design: str, samples: int | None) -> int:
    """Design points a sweep asks for (1 when it cannot tell before building the design)."""
    if design != "grid":
        return max(samples or 1, 1)
    specs = [parse_param(p) if isinstance(p, str) else p for p in params]
    return math.prod(max(len(s.values), 1) for s in specs) if specs else 1


def sweep(
    scenario: Scenario | str | Path,
    params: list[str] | list[ParamSpec],
    *,
    out: str | Path,
    design: str = "grid",
    samples: int | None = None,
    replicates: int = 1,
    seed: int | None = None,
    executor: Any = None,
    resume: bool = False,
    streams: str = "common",
    chunk_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    check: Callable[[Scenario, int], None] | None = None,
) -> SweepSummary:
    """Run a sweep and store every run in ``out``; failed runs are recorded, the others go on.

    Args:
        scenario: a :class:`Scenario`, a scenario file or the name of a bundled scenario.
        params: ``"KEY=VALUES"`` specifications (see :mod:`twinsim.experiments.designs`).
        out: the result-store directory.
        design: ``grid``, ``lhs`` or ``sobol``.
        samples: number of points of an ``lhs`` or ``sobol`` design.
        replicates: replicates per design point.
        seed: experiment seed (default: ``scenario.simulation.seed``).
        executor: see :func:`twinsim.experiments.executors.open_executor` (default: serial).
        resume: compute only the runs ``out`` does not hold yet.
        streams: ``common`` (common random numbers across points) or ``independent``.
        chunk_size: runs per task (default: chosen from the number of runs and workers).
        progress: called as ``progress(advance, total)``: once with 0 before the first run, then with the
            runs of each finished chunk; ``total`` is the number of runs this call computes.
        check: called as ``check(scenario, runs)`` once the design is built, before the store is created (e.g.
            :func:`twinsim.experiments.resources.check_size`; it raises to refuse the sweep).

    Raises:
        ScenarioError: a bad parameter key, value, design or sample count.
        StoreError: ``out`` holds other results (or results, without ``resume``).

    """
    if replicates < 1:
        raise ValueError("replicates must be >= 1")
    base = as_scenario(scenario)
    seed = experiment_seed(base, seed)
    size = _design_size(params, design, samples)  # before the design is built and validated (slow when large)
    if size > MAX_POINTS:
        what = "--param: the grid" if design == "grid" else "--samples: the design"
        raise ScenarioError(f"{what} has {size:,} design points; at most {MAX_POINTS:,}")
    if check is not None:
        check(base, size * replicates)
    points = build_design(base, params, design, samples, seed)
    experiment = Experiment.from_points(base, points, replicates, seed, streams=streams)
    about = {"design": design, "samples": samples, "params": [p if isinstance(p, str) else p.key for p in params]}
    with open_executor(executor) as handle:  # a cluster is reached before anything is written
        store = ResultStore.create(out, store_manifest(experiment, about), resume, option="--out")
        try:
            skip = store.done() if resume else set()
            left = len(points) * replicates - sum(1 for p, r in skip if p < len(points) and r < replicates)
            if progress is not None:
                progress(0, left)
            counts = execute(
                experiment,
                handle,
                store.write,
                skip=skip,
                chunk_size=chunk_size,
                progress=None if progress is None else lambda k: progress(k, left),
                chunks_per_worker=STORE_CHUNKS_PER_WORKER,  # a part per chunk: a killed sweep loses little
                stored=True,
            )
        finally:
            store.close()
    return SweepSummary(
        store=store.path,
        design_points=len(points),
        replicates=replicates,
        runs=counts.runs,
        done=counts.done,
        skipped=counts.skipped,
        failed=store.failed(),
        retryable=store.retryable(),
    )
