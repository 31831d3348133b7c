"""Experiments: many runs of a scenario.

Replicate ``r`` of an experiment seeded with ``seed`` always runs with
``SeedSequence(seed, spawn_key=(r,))``, whatever the number of replicates or the order they run in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from twinsim.evaluation import interval95
from twinsim.posterior import Posterior, scenario_for_replicate
from twinsim.results import RunResult, simulate
from twinsim.scenario import Scenario

__all__ = ["ReplicateSet", "run_points", "run_replicates"]


@dataclass
class ReplicateSet:
    """Replicates of one scenario: one summary row per run, plus the tables of kept runs.

    Attributes:
        scenario: the scenario that was run.
        seed: the experiment seed.
        summaries: one row per replicate (see :meth:`RunResult.summary`).
        panels, ledgers: concatenated tidy tables of every run (when ``keep_tables``).
        posterior: the posterior file the replicates drew their parameters from, if any.

    """

    scenario: Scenario
    seed: int
    summaries: pd.DataFrame
    panels: pd.DataFrame | None = None
    ledgers: pd.DataFrame | None = None
    topics: list[str] = field(default_factory=list)
    posterior: str | None = None

    @property
    def replicates(self) -> int:
        """Number of replicates."""
        return len(self.summaries)

    def selected_vs_not(self) -> pd.DataFrame:
        """Per topic: the mean selected-vs-not effect over replicates, its 95% CI and the group sizes."""
        rows = []
        for topic in self.topics:
            mean, lo, hi = interval95(self.summaries[f"selected_vs_not.{topic}"])
            rows.append(
                {
                    "topic": topic,
                    "estimate": mean,
                    "ci95_low": lo,
                    "ci95_high": hi,
                    "n_selected": float(self.summaries[f"n_selected.{topic}"].mean()),
                    "n_not_selected": float(self.summaries[f"n_not_selected.{topic}"].mean()),
                }
            )
        return pd.DataFrame(rows).set_index("topic")

    def cost(self) -> tuple[float, float, float]:
        """Mean total cost over replicates and its 95% CI."""
        return interval95(self.summaries["total_cost"])

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready summary that ``twinsim run --json`` prints."""
        evaluation = {
            topic: {
                "estimate": _num(row.estimate),
                "ci95": [_num(row.ci95_low), _num(row.ci95_high)],
                "n_selected": _num(row.n_selected),
                "n_not_selected": _num(row.n_not_selected),
            }
            for topic, row in self.selected_vs_not().iterrows()
        }
        mean, lo, hi = self.cost()
        return {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "replicates": self.replicates,
            "months": self.scenario.simulation.months,
            "followup_months": self.scenario.simulation.followup_months,
            "institutions": self.scenario.n_institutions,
            **({"posterior": self.posterior} if self.posterior else {}),
            "evaluation": {"selected_vs_not": evaluation},
            "costs": {
                "total": _num(mean),
                "ci95": [_num(lo), _num(hi)],
                "currency": self.scenario.costs.currency,
                "price_year": self.scenario.costs.price_year,
            },
        }


def _num(value: float) -> float | None:
    """JSON-safe number: NaN becomes None."""
    return None if value != value else round(float(value), 6)  # noqa: PLR0124


def run_replicates(
    scenario: Scenario,
    replicates: int = 1,
    seed: int | None = None,
    *,
    keep_tables: bool = False,
    progress: Callable[[int], None] | None = None,
    posterior: Posterior | None = None,
) -> ReplicateSet:
    """Run ``replicates`` independent replicates of ``scenario`` (serially).

    Args:
        scenario: the validated scenario.
        replicates: number of replicates (>= 1).
        seed: experiment seed (default: ``scenario.simulation.seed``).
        keep_tables: also keep every run's panel and ledger (memory grows with replicates).
        progress: called with 1 after each finished run (e.g. a progress bar's ``advance``).
        posterior: carry parameter uncertainty: replicate ``r`` runs with the posterior's parameter set
            drawn for ``(seed, r)`` (see :func:`twinsim.posterior.scenario_for_replicate`).

    """
    if replicates < 1:
        raise ValueError("replicates must be >= 1")
    seed = scenario.simulation.seed if seed is None else int(seed)
    summaries, panels, ledgers = [], [], []
    for r in range(replicates):
        result: RunResult = simulate(scenario_for_replicate(scenario, posterior, seed, r), seed, r)
        summaries.append(result.summary())
        if keep_tables:
            panels.append(result.panel)
            ledgers.append(result.ledger)
        if progress is not None:
            progress(1)
    return ReplicateSet(
        scenario=scenario,
        seed=seed,
        summaries=pd.DataFrame(summaries),
        panels=pd.concat(panels, ignore_index=True) if keep_tables else None,
        ledgers=pd.concat(ledgers, ignore_index=True) if keep_tables else None,
        topics=list(scenario.topics),
        posterior=posterior.source if posterior is not None else None,
    )


def run_points(
    scenario: Scenario,
    points: list[dict[str, Any]],
    replicates: int = 1,
    seed: int | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Run every design point (a dict of dotted-key overrides) ``replicates`` times.

    Replicate ``r`` of every point uses the same ``SeedSequence(seed, spawn_key=(r,))``: design points
    share random draws (common random numbers), so differences between points are not noise.

    Returns:
        One tidy row per (point, replicate): ``point``, ``replicate``, ``seed``, the point's parameters
        (dotted keys) and the run's summary outputs.

    """
    seed = scenario.simulation.seed if seed is None else int(seed)
    rows = []
    for p, overrides in enumerate(points):
        point_scenario = scenario.with_overrides(overrides) if overrides else scenario
        for r in range(replicates):
            summary = simulate(point_scenario, seed, r).summary()
            rows.append({"point": p, **overrides, **summary})
            if progress is not None:
                progress(1)
    return pd.DataFrame(rows)
