"""Counterfactual decomposition of the selected-vs-not comparison.

Institutions chose their own topics, so the paper's comparison mixes the effect of twinning with the
motivation (and baseline differences) that made them choose. For every replicate the model is run twice
with the same institutions, topic choices and random draws: once as is, and once with the programme's
learning switched off (``programme_learning=False``). Per topic,

    observed difference = twinning part + self-selection part,

where the self-selection part is the counterfactual run's selected-vs-not difference (what selectors
would have gained over non-selectors anyway) and the twinning part is the rest. The parts add up
exactly in every replicate. Indicators are read without measurement error (it has mean zero).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from twinsim.analysis.evaluation import interval95, json_number
from twinsim.experiments.posterior import Posterior, scenario_for_replicate
from twinsim.model.results import simulate
from twinsim.scenario import Scenario

__all__ = ["PARTS", "Decomposition", "decompose"]

PARTS = ("observed", "twinning", "self_selection")


@dataclass
class Decomposition:
    """Per-replicate parts (``replicates``: replicate, topic, observed, twinning, self_selection)."""

    scenario: Scenario
    seed: int
    replicates: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Per topic: mean and 95% CI of each part over replicates, and the twinning share of the mean."""
        rows = []
        for topic, group in self.replicates.groupby("topic", sort=False):
            row: dict[str, float | str] = {"topic": str(topic)}
            for part in PARTS:
                mean, lo, hi = interval95(group[part])
                row.update({part: mean, f"{part}_ci95_low": lo, f"{part}_ci95_high": hi})
            row["twinning_share"] = row["twinning"] / row["observed"] if row["observed"] else np.nan
            rows.append(row)
        return pd.DataFrame(rows).set_index("topic")

    def to_dict(self) -> dict:
        """JSON-ready: per topic, each part's estimate and 95% CI."""
        out = {}
        for topic, row in self.summary().iterrows():
            out[str(topic)] = {
                part: {
                    "estimate": json_number(row[part]),
                    "ci95": [json_number(row[f"{part}_ci95_low"]), json_number(row[f"{part}_ci95_high"])],
                }
                for part in PARTS
            }
            out[str(topic)]["twinning_share"] = json_number(row["twinning_share"])
        return {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "replicates": int(self.replicates["replicate"].nunique()),
            "decomposition": out,
        }


def decompose(
    scenario: Scenario,
    replicates: int = 1,
    seed: int | None = None,
    *,
    posterior: Posterior | None = None,
    progress: Callable[[int], None] | None = None,
) -> Decomposition:
    """Split each topic's selected-vs-not difference into a twinning part and a self-selection part.

    Args:
        scenario: the validated scenario.
        replicates: number of replicate pairs (factual and counterfactual run).
        seed: experiment seed (default: ``scenario.simulation.seed``).
        posterior: optional posterior; replicate ``r`` uses its draw for ``(seed, r)`` in both runs.
        progress: called with 1 after each replicate pair.

    """
    seed = scenario.simulation.seed if seed is None else int(seed)
    rows = []
    for r in range(replicates):
        sc = scenario_for_replicate(scenario, posterior, seed, r)
        factual = simulate(sc, seed, r)
        counterfactual = simulate(sc, seed, r, programme_learning=False)
        if not np.array_equal(factual.model.selected, counterfactual.model.selected):  # pragma: no cover
            raise RuntimeError("counterfactual run chose different topics: random streams are not separated")
        observed = factual.selected_vs_not()["estimate"]
        selection = counterfactual.selected_vs_not()["estimate"]
        for topic in observed.index:
            rows.append(
                {
                    "replicate": r,
                    "topic": topic,
                    "observed": observed[topic],
                    "twinning": observed[topic] - selection[topic],
                    "self_selection": selection[topic],
                }
            )
        if progress is not None:
            progress(1)
    return Decomposition(scenario, seed, pd.DataFrame(rows))
