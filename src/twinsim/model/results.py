"""RunResult: the tidy tables of one finished run.

Columns (every table carries ``replicate`` and ``seed`` so that many runs concatenate):

- ``panel``: month, date, institution, name, kind, region, topic, capacity, indicator, selected
  (one row per institution x applicable topic x month; month 0 is the baseline). Kept in memory, or
  read back from the Parquet file the run streamed it to (``recording.panel_dir``); not available in
  ``recording.mode = "aggregate"``.
- ``aggregates``: month, kind, region, topic, selected, institutions, capacity, indicator (mean capacity
  and indicator per group; every recording mode).
- ``ledger``: month, activity, events, institutions, staff_days, direct_cost, staff_cost, total_cost, volume,
  event_cost, travel_cost, expert_days, expert_cost, volunteer_days, volunteer_cost (see costs module).
- ``institutions``: institution, name, kind, region, budget, leadership_commitment, topics, twins, cost.
- ``ties``: learner, mentor, topic, similarity, activities, knowledge_flow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twinsim.analysis.evaluation import (
    evaluate_observed,
    measure,
    selected_vs_not,
    selected_vs_not_arrays,
    survey_months,
)
from twinsim.model import TwinningModel, run_seed_sequence
from twinsim.model.recording import panel_frame
from twinsim.model.replicate import Replicate
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
    "volume",
    "event_cost",
    "travel_cost",
    "expert_days",
    "expert_cost",
    "volunteer_days",
    "volunteer_cost",
]


@dataclass
class RunResult:
    """Everything one run produced, as arrays plus lazily built pandas tables."""

    scenario: Scenario
    seed: int
    replicate: int
    history: np.ndarray | None
    model: Replicate = field(repr=False)

    @classmethod
    def from_model(cls, model: TwinningModel, seed: int, replicate: int, block: int = 0) -> RunResult:
        """Collect the results of replicate ``block`` of a finished model."""
        view = model.replicate(block)
        return cls(model.params, seed, replicate, view.history, view)

    @property
    def panel_path(self) -> Path | None:
        """The Parquet file the panel was streamed to, if ``recording.panel_dir`` was set."""
        return self.model.panel_path

    @property
    def flows(self) -> pd.DataFrame:
        """Capacity gained over the run by source (peer, event, partner, expert, own, forgetting, turnover), topic."""
        flows = self.model.flows
        frame = pd.DataFrame(flows, index=pd.Index(self.model.topic_names, name="topic")).reset_index()
        return self._tag(frame.melt(id_vars="topic", var_name="source", value_name="capacity_gain"))

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
        if self.panel_path is not None:
            return pd.read_parquet(self.panel_path)
        if self.history is None:
            raise ValueError(
                "this run kept no panel (recording.mode = 'aggregate'); use .aggregates, or run with "
                "recording.mode = 'panel' (optionally with recording.panel_dir for large networks)"
            )
        return self._tag(panel_frame(self.model, 0, self.history))

    @cached_property
    def aggregates(self) -> pd.DataFrame:
        """Mean capacity and indicator per month, kind, region, topic and choice (``selected``)."""
        return self._tag(self.model.aggregates.copy())

    @cached_property
    def ledger(self) -> pd.DataFrame:
        """Priced activity firings, one row per activity per month."""
        rows = [{**vars(r), "total_cost": r.total_cost} for r in self.model.ledger]
        return self._tag(pd.DataFrame(rows, columns=LEDGER_COLUMNS))

    @cached_property
    def institutions(self) -> pd.DataFrame:
        """One row per institution: attributes, chosen topics, twins and allocated cost."""
        m = self.model
        chosen = np.where(m.selected, np.array(m.topic_names, dtype=object), "")
        topics = [";".join(t for t in row if t) for row in chosen]
        twins = np.bincount(m.ties.learner, minlength=m.n)
        frame = pd.DataFrame(
            {
                "institution": np.arange(m.n),
                "name": m.institution_names,
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
        """The Rwanda paper's comparison per topic at ``month`` (default: the endline).

        Any month needs the in-memory panel; the endline is kept in every recording mode.
        """
        m = self.model
        return selected_vs_not(self._gain(month), m.selected, m.applicable, m.topic_names)

    def mean_indicator_by_month(self) -> np.ndarray:
        """Mean indicator over all applicable institution x topic cells, per month (0 .. months + follow-up).

        Available in every recording mode: from the in-memory panel, or weighted from the aggregates.
        """
        m = self.model
        if self.history is not None:
            return m.indicator(self.history)[:, m.applicable].mean(axis=1)
        agg = self.model.aggregates
        weighted = (agg["indicator"] * agg["institutions"]).groupby(agg["month"]).sum()
        return (weighted / agg.groupby("month")["institutions"].sum()).to_numpy()

    def capacity_at(self, month: int) -> np.ndarray:
        """Capacity (institutions x topics) at ``month``.

        The baseline and the endline are kept in every recording mode; other months need the in-memory panel.
        """
        m = self.model
        if month == 0:
            return m.baseline
        if month == self.months:
            return m.endline
        if month == m.months_total and self.history is None:
            return m.capacity
        if self.history is None:
            raise ValueError(f"month {month}: only the baseline and endline are kept without an in-memory panel")
        return self.history[month]

    def _gain(self, month: int | None = None) -> np.ndarray:
        """Indicator change from the baseline to ``month`` (default: the endline)."""
        m = self.model
        month = self.months if month is None else month
        return m.indicator(self.capacity_at(month)) - m.indicator(self.capacity_at(0))

    def equity_change(self) -> float:
        """Change in the between-institution SD of the indicator, endline minus baseline, averaged over topics.

        Negative when the spread between institutions narrows (more equal).
        """
        m = self.model
        end = _spread(m.indicator(self.capacity_at(self.months)), m.applicable)
        return float(np.mean(end - _spread(m.indicator(m.baseline), m.applicable)))

    def programme_outcomes(self) -> dict[str, Any]:
        """The delivery-model outcomes of :meth:`summary`: sustained gain, cost per point, equity, ties formed.

        ``sustained_gain``: mean indicator gain over applicable cells at the end of the follow-up (the model's
        final state); ``cost_per_point``: total cost per point of the endline mean gain (NaN unless the gain is
        positive; a gross figure: :mod:`twinsim.analysis.compare` gives cost per point of programme effect);
        ``equity_change``: see :meth:`equity_change`; ``ties_formed``: peer ties plus ties to outside partners;
        ``unmatched_share``, ``unmatched_led_share`` (chosen topics without a twin; of those, the ones some peer led),
        ``partner_gain`` (outside partners' mean indicator gain on their partnership topics) and ``dropped_share``:
        see ``TwinningModel.mechanism_outcomes`` (docs/ODD.md 7.18-7.20).
        """
        m = self.model
        app = m.applicable
        mean_gain = float(self._gain()[app].mean())
        return {
            "sustained_gain": float((m.indicator(m.capacity) - m.indicator(m.baseline))[app].mean()),
            "cost_per_point": self.total_cost / mean_gain if mean_gain > 0 else float("nan"),
            "equity_change": self.equity_change(),
            "ties_formed": m.ties_formed,
            **m.mechanism_outcomes(),
        }

    @cached_property
    def observed(self) -> np.ndarray:
        """Measured indicators at the survey months: surveys x institutions x topics (NaN where not applicable).

        True indicator plus independent normal error of ``evaluation.measurement_sd`` from the run's
        measurement stream; surveys are baseline, (midline,) endline, see :func:`survey_months`.
        """
        m = self.model
        months = survey_months(self.scenario)
        true = np.where(m.applicable, m.indicator(np.stack([self.capacity_at(t) for t in months])), np.nan)
        return measure(true, self.scenario.evaluation.measurement_sd, m.streams["measurement"])

    def evaluation(self) -> pd.DataFrame:
        """The evaluator's analyses per topic on the measured indicators (see :func:`evaluate_observed`)."""
        m = self.model
        return evaluate_observed(self.observed, m.selected, m.applicable, m.topic_names)

    def summary(self) -> dict[str, Any]:
        """Scalar outcomes of the run (tidy: one flat dict).

        Keys: ``mean_gain`` and ``mean_gain_selected`` (indicator points, endline minus baseline, over applicable
        and chosen cells), ``total_cost``, ``ties`` (peer ties), the keys of :meth:`programme_outcomes`
        (``sustained_gain``, ``cost_per_point``, ``equity_change``, ``ties_formed``), and per topic the
        selected-vs-not estimate and group sizes, and the before-after change (endline minus baseline, indicator
        points) among all institutions the topic applies to (``change.TOPIC``), those that chose it
        (``change_selected.TOPIC``) and those that did not (``change_not_selected.TOPIC``).
        """
        m = self.model
        gain = self._gain()
        out: dict[str, Any] = {
            "replicate": self.replicate,
            "seed": self.seed,
            "mean_gain": float(gain[m.applicable].mean()),
            "mean_gain_selected": _mean_or_nan(gain[m.selected]),
            "total_cost": self.total_cost,
            "ties": len(m.ties),
        }
        out.update(self.programme_outcomes())
        effect = selected_vs_not_arrays(gain, m.selected, m.applicable)
        for t, topic in enumerate(m.topic_names):
            app, chose = m.applicable[:, t], m.selected[:, t]
            out[f"change.{topic}"] = _mean_or_nan(gain[app, t])
            out[f"change_selected.{topic}"] = _mean_or_nan(gain[app & chose, t])
            out[f"change_not_selected.{topic}"] = _mean_or_nan(gain[app & ~chose, t])
            out[f"selected_vs_not.{topic}"] = float(effect["estimate"][t])
            out[f"n_selected.{topic}"] = int(effect["n_selected"][t])
            out[f"n_not_selected.{topic}"] = int(effect["n_not_selected"][t])
        out.update(self.people_reached(gain))
        return out

    def people_reached(self, gain: np.ndarray | None = None) -> dict[str, float]:
        """People newly covered by the change of each coverage indicator, endline minus baseline.

        For a topic with ``coverage_share > 0``: the sum over the institutions it applies to of
        ``indicator change / 100 x population_served x coverage_share`` (``people_reached.TOPIC``), and their
        total over coverage topics (``people_reached``). Only topics and kinds the scenario gives a population
        for count; with none, ``people_reached`` is 0.
        """
        m = self.model
        gain = self._gain() if gain is None else gain
        served = np.array([k.population_served for k in self.scenario.population.kinds.values()])[m.kind]
        out: dict[str, float] = {}
        for t, (topic, spec) in enumerate(self.scenario.topics.items()):
            if spec.coverage_share > 0:
                app = m.applicable[:, t]
                out[f"people_reached.{topic}"] = float(np.sum(gain[app, t] / 100 * served[app]) * spec.coverage_share)
        out["people_reached"] = float(sum(out.values()))
        return out


def _spread(indicator: np.ndarray, applicable: np.ndarray) -> np.ndarray:
    """Between-institution SD of each topic's indicator over the institutions it applies to."""
    values = np.where(applicable, indicator, np.nan)
    usable = applicable.sum(axis=0) > 1
    return np.nanstd(values[:, usable], axis=0, ddof=1)


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
    return simulate_many(scenario, seed, 1, first=replicate, programme_learning=programme_learning)[0]


def simulate_many(
    scenario: Scenario,
    seed: int | None = None,
    replicates: int = 1,
    *,
    first: int = 0,
    seeds: Sequence[np.random.SeedSequence] | None = None,
    programme_learning: bool = True,
) -> list[RunResult]:
    """Run replicates ``first .. first + replicates - 1`` of ``scenario`` as one model (blocks of rows).

    Replicate ``r``'s result is the same whatever the number of replicates run beside it. With ``seeds``, each
    block runs with its own seed sequence (the replicate numbers are read from their spawn keys).
    """
    seed = scenario.simulation.seed if seed is None else int(seed)
    if seeds is None:
        seeds = [run_seed_sequence(seed, r) for r in range(first, first + replicates)]
    model = TwinningModel(scenario, seeds=seeds, programme_learning=programme_learning)
    model.run()
    return [
        RunResult.from_model(model, int(seq.entropy), (seq.spawn_key or (0,))[-1], block)
        for block, seq in enumerate(seeds)
    ]
