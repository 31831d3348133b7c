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
from typing import TYPE_CHECKING, Any

import numpy as np

from twinsim.core.evaluation import (
    evaluate_observed,
    selected_vs_not,
    survey_months,
)
from twinsim.kernel.recording import panel_frame
from twinsim.kernel.streams import seed_entropy
from twinsim.model import run_seed_sequence
from twinsim.model.replicate import Replicate
from twinsim.model.summary import replicate_trajectories, summary_rows
from twinsim.model.twinning import TwinningSimulation
from twinsim.scenario import Scenario, as_scenario

if TYPE_CHECKING:
    import pandas as pd


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

    def __repr__(self) -> str:
        sim = self.scenario.simulation
        kept = "panel kept" if self.history is not None or self.panel_path is not None else "aggregates only"
        return (
            f"RunResult({self.scenario.name!r}: replicate {self.replicate}, seed {self.seed}, "
            f"{self.scenario.n_institutions} institutions, {sim.months} + {sim.followup_months} months, {kept})"
        )

    @classmethod
    def from_model(cls, model: TwinningSimulation, seed: int, replicate: int, block: int = 0) -> RunResult:
        """Collect the results of replicate ``block`` of a finished model."""
        view = model.replicate(block)
        scenario = model.params if model.block_scenarios is None else model.block_scenarios[block]
        return cls(scenario, seed, replicate, view.history, view)

    @property
    def panel_path(self) -> Path | None:
        """The Parquet file the panel was streamed to, if ``recording.panel_dir`` was set."""
        return self.model.panel_path

    @property
    def flows(self) -> pd.DataFrame:
        """Capacity gained over the run by source (peer, event, partner, expert, own, forgetting, turnover), topic."""
        import pandas as pd

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
        import pandas as pd

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
        import pandas as pd

        rows = [{**vars(r), "total_cost": r.total_cost} for r in self.model.ledger]
        return self._tag(pd.DataFrame(rows, columns=LEDGER_COLUMNS))

    @cached_property
    def institutions(self) -> pd.DataFrame:
        """One row per institution: attributes, chosen topics, twins and allocated cost."""
        import pandas as pd

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
        import pandas as pd

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
        return replicate_trajectories(m.model)[:, m.block]

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

    @cached_property
    def observed(self) -> np.ndarray:
        """Measured indicators at the survey months: surveys x institutions x topics (NaN where not applicable).

        True indicator plus normal error of ``evaluation.measurement_sd`` (``TwinningModel.measurement_error``: a
        month-0 baseline carries the error the institutions saw when they chose their topics); surveys are
        baseline, (midline,) endline, see :func:`survey_months`.
        """
        m = self.model
        months = survey_months(self.scenario)
        true = np.where(m.applicable, m.indicator(np.stack([self.capacity_at(t) for t in months])), np.nan)
        # every replicate's errors at once, kept for the model's other replicates
        errors = m.model.caches.get("survey_errors", tuple(months), lambda: m.model.measurement_error(months))
        return true + errors[:, m.rows]

    def evaluation(self) -> pd.DataFrame:
        """The evaluator's analyses per topic on the measured indicators (see :func:`evaluate_observed`)."""
        m = self.model
        return evaluate_observed(self.observed, m.selected, m.applicable, m.topic_names)

    def summary(self) -> dict[str, Any]:
        """Scalar outcomes of the run (tidy: one flat dict).

        Keys: ``mean_gain`` and ``mean_gain_selected`` (indicator points, endline minus baseline, over applicable
        and chosen cells), ``total_cost``, ``ties`` (peer ties); the delivery-model outcomes ``sustained_gain``
        (mean gain at the end of the follow-up), ``cost_per_point`` (total cost per point of the endline mean
        gain, NaN unless positive; a gross figure: :mod:`twinsim.analysis.compare` gives cost per point of
        programme effect), ``equity_change`` (change in the between-institution SD of the indicator, averaged over
        topics; negative: closer together), ``ties_formed`` (peer ties plus ties to outside partners) and the
        mechanism outcomes that apply (``unmatched_share``, ``unmatched_led_share``, ``partner_gain``,
        ``dropped_share``: docs/ODD.md 7.18-7.20); per topic the selected-vs-not estimate and group sizes, and the
        before-after change among all institutions the topic applies to (``change.TOPIC``), those that chose it
        (``change_selected.TOPIC``) and those that did not (``change_not_selected.TOPIC``); for coverage topics the
        people newly covered (``people_reached.TOPIC``: indicator change / 100 x population served x coverage
        share, summed over the institutions it applies to) and their total ``people_reached``.

        Computed for every replicate of the model at once (:func:`~twinsim.model.summary.summary_rows`).
        """
        return {"replicate": self.replicate, "seed": self.seed, **summary_rows(self.model.model)[self.model.block]}


def simulate(
    scenario: Scenario | str | Path,
    seed: int | None = None,
    replicate: int = 0,
    *,
    programme_learning: bool = True,
    agents: bool = True,
) -> RunResult:
    """Run one replicate of a scenario.

    Args:
        scenario: a :class:`~twinsim.Scenario`, the name of a bundled scenario (``"rwanda_tpn"``) or a TOML path.
        seed: experiment seed (default: ``scenario.simulation.seed``).
        replicate: replicate number; the run uses ``SeedSequence(seed, spawn_key=(replicate,))``.
        programme_learning: False runs the counterfactual with the programme's learning switched off
            (same institutions, topic choices and random draws; see :class:`~twinsim.model.TwinningModel`).
        agents: run a :class:`~twinsim.model.TwinningModel` (Mesa: ``result.model.agents``); False runs the same
            simulation without Mesa (:class:`~twinsim.model.TwinningSimulation`, the same numbers).

    """
    return simulate_many(scenario, seed, 1, first=replicate, programme_learning=programme_learning, agents=agents)[0]


def simulate_many(
    scenario: Scenario | str | Path,
    seed: int | None = None,
    replicates: int = 1,
    *,
    first: int = 0,
    seeds: Sequence[np.random.SeedSequence] | None = None,
    scenarios: Sequence[Scenario] | None = None,
    programme_learning: bool = True,
    agents: bool = True,
    aggregates: bool = True,
    panel_names: Sequence[str] | None = None,
) -> list[RunResult]:
    """Run replicates ``first .. first + replicates - 1`` of ``scenario`` as one model (blocks of rows).

    Replicate ``r``'s result is the same whatever the number of replicates run beside it. With ``seeds``, each
    block runs with its own seed sequence (the replicate numbers are read from their spawn keys). With
    ``scenarios`` (one per block), each block runs its own parameter set (e.g. a posterior draw; they may differ
    only in ``TwinningModel``'s per-replicate parameters, see ``BLOCK_PARAMETERS``). With ``agents=False`` the
    replicates run as a :class:`~twinsim.model.TwinningSimulation` (no Mesa: the experiment engine's runs); with
    ``aggregates=False`` they record no monthly aggregates (when only summaries are wanted). ``panel_names``
    names each block's streamed panel file in ``recording.panel_dir`` (default: by seed and replicate).
    """
    scenario = as_scenario(scenario)
    seed = scenario.simulation.seed if seed is None else int(seed)
    if seeds is None:
        seeds = [run_seed_sequence(seed, r) for r in range(first, first + replicates)]
    options: dict[str, Any] = {}
    model_class: type[TwinningSimulation] = TwinningSimulation
    if agents:
        from twinsim.model.mesa_model import TwinningModel  # imports Mesa on first use

        model_class = TwinningModel
        options["datacollector"] = False  # the run's tables are the recorder's
    model = model_class(
        scenario,
        seeds=seeds,
        block_scenarios=scenarios,
        programme_learning=programme_learning,
        aggregates=aggregates,
        panel_names=panel_names,
        **options,
    )
    model.run()
    return [
        RunResult.from_model(model, seed_entropy(seq), (seq.spawn_key or (0,))[-1], block)
        for block, seq in enumerate(seeds)
    ]
