"""RunResult: the tidy tables of one finished run.

Columns (every table carries ``replicate`` and ``seed`` so that many runs concatenate):

- ``panel``: month, date, institution, name, kind, region, topic, capacity, indicator, selected
  (one row per institution x applicable topic x month; month 0 is the baseline).
- ``ledger``: month, activity, events, institutions, staff_days, direct_cost, staff_cost, total_cost.
- ``institutions``: institution, name, kind, region, budget, leadership_commitment, topics, twins, cost.
- ``ties``: learner, mentor, topic, similarity, activities, knowledge_flow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from twinsim.evaluation import evaluate_observed, measure, selected_vs_not, survey_months
from twinsim.model import TwinningModel, run_seed_sequence
from twinsim.scenario import Scenario

__all__ = ["RunResult", "simulate"]

LEDGER_COLUMNS = [
    "month",
    "activity",
    "events",
    "institutions",
    "staff_days",
    "direct_cost",
    "staff_cost",
    "total_cost",
]


@dataclass
class RunResult:
    """Everything one run produced, as arrays plus lazily built pandas tables."""

    scenario: Scenario
    seed: int
    replicate: int
    history: np.ndarray
    model: TwinningModel = field(repr=False)

    @classmethod
    def from_model(cls, model: TwinningModel, seed: int, replicate: int) -> RunResult:
        """Collect a finished model's results."""
        return cls(model.params, seed, replicate, model.history, model)

    @property
    def months(self) -> int:
        """Programme length in months (the endline month)."""
        return self.scenario.simulation.months

    def _tag(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame.insert(0, "seed", self.seed)
        frame.insert(0, "replicate", self.replicate)
        return frame

    @cached_property
    def panel(self) -> pd.DataFrame:
        """Institution x topic x month panel (applicable topics only)."""
        m = self.model
        months = self.history.shape[0]
        inst, topic = np.nonzero(m.applicable)
        month = np.repeat(np.arange(months), inst.size)
        cap = self.history[:, inst, topic].ravel()
        start = pd.Period(self.scenario.simulation.start, freq="M")
        frame = pd.DataFrame(
            {
                "month": month,
                "date": (start + np.maximum(month - 1, 0)).astype(str) if months else [],
                "institution": np.tile(inst, months),
                "name": pd.Categorical(np.tile(np.array([i.name for i in m.institutions])[inst], months)),
                "kind": pd.Categorical(np.tile(np.array(m.kind_names)[m.kind[inst]], months)),
                "region": pd.Categorical(np.tile(np.array(m.region_names)[m.region[inst]], months)),
                "topic": pd.Categorical(np.tile(np.array(m.topic_names)[topic], months)),
                "capacity": cap,
                "indicator": m.indicator(self.history)[:, inst, topic].ravel(),
                "selected": np.tile(m.selected[inst, topic], months),
            }
        )
        return self._tag(frame)

    @cached_property
    def ledger(self) -> pd.DataFrame:
        """Priced activity firings, one row per activity per month."""
        rows = [{**vars(r), "total_cost": r.total_cost} for r in self.model.ledger]
        return self._tag(pd.DataFrame(rows, columns=LEDGER_COLUMNS))

    @cached_property
    def institutions(self) -> pd.DataFrame:
        """One row per institution: attributes, chosen topics, twins and allocated cost."""
        m = self.model
        topics = [";".join(i.selected_topics) for i in m.institutions]
        twins = np.bincount(m.ties.learner, minlength=m.n)
        frame = pd.DataFrame(
            {
                "institution": np.arange(m.n),
                "name": [i.name for i in m.institutions],
                "kind": np.array(m.kind_names)[m.kind],
                "region": np.array(m.region_names)[m.region],
                "budget": m.budget,
                "leadership_commitment": m.leadership,
                "topics": topics,
                "twins": twins,
                "mentees": m.mentees(),
                "cost": m.cost_by_institution,
            }
        )
        return self._tag(frame)

    @cached_property
    def ties(self) -> pd.DataFrame:
        """The partnership network as a table of learner -> mentor ties."""
        m = self.model
        frame = pd.DataFrame(
            {
                "learner": m.ties.learner,
                "mentor": m.ties.mentor,
                "topic": np.array(m.topic_names, dtype=object)[m.ties.topic] if len(m.ties) else [],
                "similarity": m.tie_similarity,
                "activities": m.tie_events,
                "knowledge_flow": m.tie_flow,
            }
        )
        return self._tag(frame)

    @property
    def total_cost(self) -> float:
        """Total cost of the run: the sum of its ledger."""
        return float(sum(r.total_cost for r in self.model.ledger))

    def selected_vs_not(self, month: int | None = None) -> pd.DataFrame:
        """The Rwanda paper's comparison per topic at ``month`` (default: the endline)."""
        m = self.model
        month = self.months if month is None else month
        change = m.indicator(self.history[month]) - m.indicator(self.history[0])
        return selected_vs_not(change, m.selected, m.applicable, m.topic_names)

    @cached_property
    def observed(self) -> np.ndarray:
        """Measured indicators at the survey months: surveys x institutions x topics (NaN where not applicable).

        True indicator plus independent normal error of ``evaluation.measurement_sd`` from the run's
        measurement stream; surveys are baseline, (midline,) endline, see :func:`survey_months`.
        """
        m = self.model
        months = survey_months(self.scenario)
        true = np.where(m.applicable, m.indicator(self.history[months]), np.nan)
        return measure(true, self.scenario.evaluation.measurement_sd, m.streams["measurement"])

    def evaluation(self) -> pd.DataFrame:
        """The evaluator's analyses per topic on the measured indicators (see :func:`evaluate_observed`)."""
        m = self.model
        return evaluate_observed(self.observed, m.selected, m.applicable, m.topic_names)

    def summary(self) -> dict[str, Any]:
        """Scalar outcomes of the run (tidy: one flat dict)."""
        m = self.model
        end = self.months
        gain = m.indicator(self.history[end]) - m.indicator(self.history[0])
        out: dict[str, Any] = {
            "replicate": self.replicate,
            "seed": self.seed,
            "mean_gain": float(gain[m.applicable].mean()),
            "mean_gain_selected": _mean_or_nan(gain[m.selected]),
            "total_cost": self.total_cost,
            "ties": len(m.ties),
        }
        for topic, row in self.selected_vs_not().iterrows():
            out[f"selected_vs_not.{topic}"] = float(row["estimate"])
            out[f"n_selected.{topic}"] = int(row["n_selected"])
            out[f"n_not_selected.{topic}"] = int(row["n_not_selected"])
        return out


def _mean_or_nan(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def simulate(
    scenario: Scenario, seed: int | None = None, replicate: int = 0, *, programme_learning: bool = True
) -> RunResult:
    """Run one replicate of a scenario.

    Args:
        scenario: the validated scenario.
        seed: experiment seed (default: ``scenario.simulation.seed``).
        replicate: replicate number; the run uses ``SeedSequence(seed, spawn_key=(replicate,))``.
        programme_learning: False runs the counterfactual with the programme's learning switched off
            (same institutions, topic choices and random draws; see :class:`~twinsim.model.TwinningModel`).

    """
    seed = scenario.simulation.seed if seed is None else int(seed)
    model = TwinningModel(scenario, run_seed_sequence(seed, replicate), programme_learning=programme_learning)
    model.run()
    return RunResult.from_model(model, seed, replicate)
