"""Every replicate's run summary at once: one array per summary key, over the model's replicates.

The keys (documented in :meth:`twinsim.model.results.RunResult.summary`) are computed on ``(replicates,
institutions, topics)`` views of the state, reducing within each replicate only, so replicate ``r``'s numbers do not
depend on the replicates beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from twinsim.core.evaluation import selected_vs_not_arrays, sum_over_institutions
from twinsim.errors import TwinsimError
from twinsim.programme.costs import COST_CATEGORIES

if TYPE_CHECKING:
    from twinsim.model.twinning import TwinningSimulation

__all__ = [
    "INTEGER_KEYS",
    "MECHANISM_KEYS",
    "replicate_costs",
    "replicate_summaries",
    "replicate_trajectories",
    "summary_rows",
]

#: Summary keys (or key prefixes) whose values are counts.
INTEGER_KEYS = ("ties", "ties_formed", "n_selected.", "n_not_selected.")

#: Mechanism outcomes: left out of a replicate's summary where they do not apply (NaN).
MECHANISM_KEYS = ("unmatched_share", "unmatched_led_share", "partner_gain", "dropped_share", "priorities_with_traction")


def replicate_summaries(model: TwinningSimulation) -> dict[str, np.ndarray]:
    """Summary key -> values over replicates (cached on the model until it steps again)."""
    return model.caches.get("replicate_summaries", model.month, lambda: _replicate_summaries(model))


def _replicate_summaries(model: TwinningSimulation) -> dict[str, np.ndarray]:
    shape = (model.replicates, model.n_institutions, len(model.topic_names))
    app, sel = model.applicable.reshape(shape), model.selected.reshape(shape)
    baseline = model.indicator(model.baseline)
    gain = (model.indicator(model.endline) - baseline).reshape(shape)
    out = {
        "mean_gain": _masked_mean(gain, app, 2),
        "mean_gain_selected": _masked_mean(gain, sel, 2),
        "total_cost": model.total_cost(),
        "ties": model.per_replicate_count(model.ties.learner),
        "sustained_gain": _masked_mean((model.indicator(model.capacity) - baseline).reshape(shape), app, 2),
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        out["cost_per_point"] = np.where(out["mean_gain"] > 0, out["total_cost"] / out["mean_gain"], np.nan)
    end_spread = _spread((model.indicator(model.endline)).reshape(shape), app)
    out["equity_change"] = (end_spread - _spread(baseline.reshape(shape), app)).mean(axis=1)
    out["ties_formed"] = np.asarray(model.delivery_model.ties_formed(model))
    out.update(model.mechanism_outcomes())
    effect = selected_vs_not_arrays(gain, sel, app)
    for t, topic in enumerate(model.topic_names):
        g, a, s = gain[..., t], app[..., t], sel[..., t]
        out[f"change.{topic}"] = _masked_mean(g, a, 1)
        out[f"change_selected.{topic}"] = _masked_mean(g, a & s, 1)
        out[f"change_not_selected.{topic}"] = _masked_mean(g, a & ~s, 1)
        for key in ("selected_vs_not", "n_selected", "n_not_selected"):
            column = "estimate" if key == "selected_vs_not" else key
            out[f"{key}.{topic}"] = effect[column][:, t]
    out.update(_people_reached(model, gain, app))
    return out


def summary_rows(model: TwinningSimulation) -> list[dict[str, int | float]]:
    """Each replicate's summary as a dict of Python numbers, cached on the model until it steps again.

    Counts are ints; mechanism outcomes that do not apply (NaN) are left out.
    """
    return model.caches.get("summary_rows", model.month, lambda: _summary_rows(model))


def _summary_rows(model: TwinningSimulation) -> list[dict[str, int | float]]:
    columns = {
        key: (values.astype(np.int64) if key.startswith(INTEGER_KEYS) else values.astype(float)).tolist()
        for key, values in replicate_summaries(model).items()
    }
    rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    for row in rows:
        for key in MECHANISM_KEYS:
            if key in row and row[key] != row[key]:  # NaN: the outcome does not apply to this delivery model
                del row[key]
    return rows


def replicate_trajectories(model: TwinningSimulation) -> np.ndarray:
    """Months x replicates: the mean indicator over applicable cells, from the monthly aggregates (cached per month).

    Raises:
        TwinsimError: the model recorded no aggregates.

    """
    recorded = model.recorder.aggregates
    if recorded is None:
        raise TwinsimError("this run recorded no aggregates (the model was built with aggregates=False)")
    return model.caches.get("replicate_trajectories", model.month, recorded.mean_indicator)


def replicate_costs(model: TwinningSimulation) -> dict[str, np.ndarray]:
    """Per activity and cost category (``cost.ACTIVITY.CATEGORY``, and ``total_cost``), the cost of each replicate.

    Activities in name order, categories in :data:`~twinsim.programme.costs.COST_CATEGORIES` order; empty without
    firings. Computed from the ledger's columns over replicates, every replicate at once.
    """
    totals: dict[str, dict[str, np.ndarray]] = {}
    for part in model.ledger_parts:
        sums = totals.setdefault(part.activity, {})
        for category in (*COST_CATEGORIES, "total_cost"):
            value = part.total_cost() if category == "total_cost" else part.columns[category]
            sums[category] = sums.get(category, 0.0) + value
    return {f"cost.{a}.{c}": v for a in sorted(totals) for c, v in totals[a].items()}


def _people_reached(model: TwinningSimulation, gain: np.ndarray, app: np.ndarray) -> dict[str, np.ndarray]:
    """People newly covered per coverage topic (``people_reached.TOPIC``) and their total (``people_reached``)."""
    served = np.array([k.population_served for k in model.params.population.kinds.values()])[model.structure.kind]
    out: dict[str, np.ndarray] = {}
    for t, (topic, spec) in enumerate(model.params.topics.items()):
        if spec.coverage_share > 0:
            people = np.ascontiguousarray(np.where(app[..., t], gain[..., t] / 100 * served, 0.0)).sum(axis=1)
            out[f"people_reached.{topic}"] = people * spec.coverage_share
    out["people_reached"] = sum(out.values(), np.zeros(model.replicates))
    return out


def _masked_mean(values: np.ndarray, mask: np.ndarray, axis: int) -> np.ndarray:
    """Mean of ``values`` where ``mask`` holds over the cells (``axis`` 2) or institutions (1) of each replicate.

    Reductions run along a contiguous last axis, so a replicate's mean does not depend on the others.
    """
    masked = np.where(mask, values, 0.0)
    total = masked.reshape(len(masked), -1).sum(axis=1) if axis == 2 else np.ascontiguousarray(masked).sum(axis=1)
    count = mask.reshape(len(mask), -1).sum(axis=1) if axis == 2 else mask.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _spread(indicator: np.ndarray, applicable: np.ndarray) -> np.ndarray:
    """Between-institution SD (ddof 1) of each topic's indicator, per replicate: (replicates, usable topics)."""
    usable = applicable[0].sum(axis=0) > 1
    x, a = indicator[..., usable], applicable[..., usable]
    count = a.sum(axis=1)
    mean = sum_over_institutions(np.where(a, x, 0.0)) / count
    squares = sum_over_institutions(np.where(a, (x - mean[:, None, :]) ** 2, 0.0))
    return np.sqrt(squares / (count - 1))
