"""What a run reports to an experiment: named families of scalar outputs, one flat dict per run.

Every analysis asks the engine for the families it needs (``Experiment.outputs``); each is a function of a
:class:`~twinsim.model.results.RunResult`. Column names are ``output`` or ``output.topic`` (or ``output.month``,
``output.activity.category``): :func:`long_layout` turns the wide runs table into (run, output, topic, value).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from twinsim.core.evaluation import evaluate_observed_columns, selected_vs_not_arrays
from twinsim.model.results import RunResult
from twinsim.model.summary import MECHANISM_KEYS, replicate_costs
from twinsim.programme.costs import COST_CATEGORIES
from twinsim.programme.registry import ACTIVITIES

if TYPE_CHECKING:
    import pandas as pd

    from twinsim.scenario import Scenario

__all__ = ["COLUMNS", "OUTPUTS", "declared_columns", "long_layout", "run_outputs"]


def _summary(result: RunResult) -> dict[str, Any]:
    summary = result.summary()
    summary.pop("replicate", None)
    summary.pop("seed", None)
    return summary


def _trajectory(result: RunResult) -> dict[str, Any]:
    return {f"trajectory.{m}": float(v) for m, v in enumerate(result.mean_indicator_by_month())}


def _costs(result: RunResult) -> dict[str, Any]:
    block = result.model.block
    return {key: float(values[block]) for key, values in replicate_costs(result.model.model).items()}


def _institution_cost(result: RunResult) -> dict[str, Any]:
    return {f"institution_cost.{i}": float(v) for i, v in enumerate(result.model.cost_by_institution)}


def _evaluation(result: RunResult) -> dict[str, Any]:
    m = result.model
    columns = evaluate_observed_columns(result.observed, m.selected, m.applicable)
    renamed = {"selected_vs_not": "measured_selected_vs_not"}  # the summary's is on true values
    return {
        f"{renamed.get(col, col)}.{topic}": float(values[t])
        for t, topic in enumerate(m.topic_names)
        for col, values in columns.items()
    }


def _measured(result: RunResult) -> dict[str, Any]:
    """The paper's comparison on the evaluator's measured indicators (baseline and endline surveys), per topic."""
    m = result.model
    observed = result.observed
    change = np.where(m.applicable, observed[-1] - observed[0], 0.0)
    estimate = selected_vs_not_arrays(change, m.selected, m.applicable)["estimate"]
    return {f"measured_selected_vs_not.{topic}": float(v) for topic, v in zip(m.topic_names, estimate, strict=True)}


#: The output families a run can report.
OUTPUTS: dict[str, Callable[[RunResult], dict[str, Any]]] = {
    "summary": _summary,
    "trajectory": _trajectory,
    "costs": _costs,
    "institution_cost": _institution_cost,
    "evaluation": _evaluation,
    "measured": _measured,
}


def _summary_columns(scenario: Scenario) -> list[str]:

    head = ["mean_gain", "mean_gain_selected", "total_cost", "ties", "sustained_gain", "cost_per_point"]
    per_topic = ("change", "change_selected", "change_not_selected", "selected_vs_not", "n_selected", "n_not_selected")
    topics = list(scenario.topics)
    return [
        *head,
        "equity_change",
        "ties_formed",
        *MECHANISM_KEYS,
        *(f"{key}.{topic}" for topic in topics for key in per_topic),
        *(f"people_reached.{t}" for t, spec in scenario.topics.items() if spec.coverage_share > 0),
        "people_reached",
    ]


def _trajectory_columns(scenario: Scenario) -> list[str]:
    months = scenario.simulation.months + scenario.simulation.followup_months
    return [f"trajectory.{m}" for m in range(months + 1)]


def _costs_columns(scenario: Scenario) -> list[str]:

    return [f"cost.{a}.{c}" for a in sorted(ACTIVITIES) for c in (*COST_CATEGORIES, "total_cost")]


def _institution_cost_columns(scenario: Scenario) -> list[str]:
    return [f"institution_cost.{i}" for i in range(scenario.n_institutions)]


def _evaluation_columns(scenario: Scenario) -> list[str]:
    keys = ("measured_selected_vs_not", "n_selected", "n_not_selected")
    did = ("estimate", "se", "ci95_low", "ci95_high", "p_value")
    return [f"{key}.{topic}" for topic in scenario.topics for key in (*keys, *(f"did_{k}" for k in did))]


def _measured_columns(scenario: Scenario) -> list[str]:
    return [f"measured_selected_vs_not.{topic}" for topic in scenario.topics]


#: The columns each output family may report for a scenario (a run reports those that apply to it; every activity
#: the registry knows is declared, whether it fires or not). A result store declares them before anything runs.
COLUMNS: dict[str, Callable[[Scenario], list[str]]] = {
    "summary": _summary_columns,
    "trajectory": _trajectory_columns,
    "costs": _costs_columns,
    "institution_cost": _institution_cost_columns,
    "evaluation": _evaluation_columns,
    "measured": _measured_columns,
}


def declared_columns(scenarios: list[Scenario], families: tuple[str, ...]) -> list[str]:
    """Every output column the runs of ``scenarios`` may report for ``families``, in the order of a run's row."""
    return list(dict.fromkeys(c for family in families for sc in scenarios for c in COLUMNS[family](sc)))


#: The output families that read a run's monthly aggregates (the others need only its summary state).
NEEDS_AGGREGATES = frozenset({"trajectory"})


def run_outputs(result: RunResult, families: tuple[str, ...]) -> dict[str, Any]:
    """The outputs of ``families`` for one run, as one flat dict."""
    out: dict[str, Any] = {}
    for family in families:
        out.update(OUTPUTS[family](result))
    return out


def long_layout(runs: pd.DataFrame, keys: tuple[str, ...] = ("point", "replicate")) -> pd.DataFrame:
    """The runs table in long form: one row per run and numeric output, with ``output``, ``topic`` and ``value``.

    ``topic`` is the part of a column name after its first dot (a topic, a month or ``activity.category``), or
    empty for run-level outputs such as ``mean_gain``.
    """
    import pandas as pd

    key_cols = [k for k in keys if k in runs.columns]
    numeric = [c for c in runs.columns if c not in key_cols and pd.api.types.is_numeric_dtype(runs[c])]
    skip = {"seed", "entropy"}
    values = runs[key_cols + [c for c in numeric if c not in skip]]
    frame = values.melt(id_vars=key_cols, var_name="column", value_name="value")
    parts = frame["column"].str.split(".", n=1, expand=True)
    frame["output"] = parts[0]
    frame["topic"] = parts[1].fillna("") if parts.shape[1] > 1 else ""
    return frame.drop(columns="column")[[*key_cols, "output", "topic", "value"]].astype({"value": np.float64})
