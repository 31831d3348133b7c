"""The month's own dynamics, besides the activities' gains: the verbs of :meth:`TwinningSimulation.step`.

Staff time for the month's activities, each activity's firing and its costing, empowerment, own improvement and
forgetting, leadership turnover and persistence (docs/ODD.md section 7), each a function of the simulation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from twinsim.kernel import learning
from twinsim.model.population import leadership_beta
from twinsim.programme.costs import price_firings
from twinsim.programme.registry import ACTIVITIES

if TYPE_CHECKING:
    from twinsim.model.twinning import TwinningSimulation

__all__ = ["empowerment", "fire", "own_improvement_and_forgetting", "persist", "staff_time", "turnover"]

#: Months of turnover drawn at once (the draws are addressed by month: the same numbers as month by month).
TURNOVER_MONTHS = 12


def own_improvement_and_forgetting(model: TwinningSimulation) -> None:
    """Own improvement towards the gap ceiling, then forgetting of what was gained above the baseline (ODD 7.7)."""
    motivation = model.column(model.learning_value("motivation_rate"))
    trend = model.column(model.learning_value("background_trend"))
    own = learning.own_improvement(model.capacity, model.interest, model.leadership, trend, motivation)
    model.apply_gain("own", np.multiply(own, model.applicable, out=own))
    forgetting = model.column(model.learning_value("forgetting"))
    if not model.params.mechanisms.ownership:
        model.apply_gain("forgetting", learning.forgetting(model.capacity, model.baseline, forgetting))
        return
    owned = learning.ownership(model.leadership, model.interest, model.column(model.learning_value("interest_weight")))
    retention = model.column(model.learning_value("ownership_retention"))
    weight = model.column(model.learning_value("practice_weight"))
    rate = learning.decay_rate(forgetting, retention, owned, model.practice(), weight)
    model.apply_gain("forgetting", -rate * np.maximum(model.capacity - model.baseline, 0.0))


def empowerment(model: TwinningSimulation) -> None:
    """Taking part raises own improvement on the topics worked on, gated by leadership (ODD 7.17)."""
    rate = model.column(model.learning_value("empowerment_rate"))
    gain = learning.empowerment(model.capacity, model.leadership, model.engagement(), model.worked_cells(), rate)
    model.apply_gain("empowerment", gain * model.applicable)


def staff_time(model: TwinningSimulation, fired: list[str]) -> None:
    """Set the month's time factor: staff days available over those the month's activities take (ODD 7.20)."""
    demand = np.zeros(model.n)
    volume = model.params.programme.volume
    for name in fired:
        activity = ACTIVITIES[name]
        cost = model.unit_cost(name)
        days = cost.participants * cost.days * (1.0 if activity.fixed else volume)
        demand += days * activity.staff_reach(model)
    model.time_factor[:] = learning.time_factor(model.staff_days, demand)


def persist(model: TwinningSimulation) -> None:
    """After a month of activities: persistence follows what the effort yielded; drop-out below the threshold."""
    lp = model.params.learning
    model.persistence[:] = learning.persistence(
        model.persistence,
        model.month_gain,
        model.per_row(model.precise_parameter("learning.yield_reference")),
        model.per_row(model.precise_parameter("learning.persistence_rate")),
    )
    if lp.dropout_threshold > 0:
        model.dropped |= model.persistence < lp.dropout_threshold


def fire(model: TwinningSimulation, name: str) -> None:
    """Fire one scheduled activity in every replicate and book its costs (ledger and per institution)."""
    activity = ACTIVITIES[name]
    volume = 1.0 if activity.fixed else model.params.programme.volume
    firing = activity.fire(model, model.rate(name) * volume)
    part, allocation = price_firings(
        model.month,
        name,
        np.asarray(firing.events),
        firing.involved.reshape(model.replicates, -1),
        firing.travelled.reshape(model.replicates, -1),
        model.prices(),
        volume * np.asarray(firing.scale, dtype=float),
        model.unit_cost(name),
    )
    model.ledger_parts.append(part)
    model.cost_by_institution += allocation.ravel()


def turnover(model: TwinningSimulation) -> None:
    """Leadership turnover, drawn every month for everyone (common random numbers).

    Who turns over is number ``(month - 1) * n + i`` of each replicate's dynamics stream; a newcomer's
    commitment is the same number of its leadership stream, drawn only where a leader turned over
    (:func:`_turnover_draws`).
    """
    turned, fresh = _turnover_draws(model)
    if turned.size:
        n_topics = len(model.topic_names)
        cells = (turned[:, None] * n_topics + np.arange(n_topics)).ravel()
        share = model.at_rows(model.learning_value("turnover_knowledge_loss"), turned)
        share = share[:, None] if isinstance(share, np.ndarray) and share.ndim else share
        loss = learning.turnover_loss(model.capacity[turned], model.baseline[turned], share)
        model.apply_gain("turnover", loss.ravel(), cells=cells)
        model.leadership[turned] = fresh


def _turnover_draws(model: TwinningSimulation) -> tuple[np.ndarray, np.ndarray]:
    """The leavers (rows) of the current month and their successors' commitment.

    Drawn :data:`TURNOVER_MONTHS` months at a time (the numbers are addressed by month, so they are the same as
    month by month): one vectorised draw instead of one per month.
    """
    plan = model.caches.table("turnover_plan")
    if model.month not in plan:
        n, first = model.n_institutions, model.month
        months = min(TURNOVER_MONTHS, model.months_total - first + 1)
        uniform = model.streams.uniform("dynamics", "turnover", (months, n), offset=(first - 1) * n)
        threshold = model.precise_parameter("learning.leadership_turnover")
        threshold = threshold.reshape(-1, 1, 1) if isinstance(threshold, np.ndarray) else threshold
        block, month, local = np.nonzero(uniform < threshold)
        a, b = leadership_beta(model.structure)
        fresh = model.streams.beta_at(
            "leadership", "turnover", a[local], b[local], block, (first - 1 + month) * n + local
        )
        order = np.lexsort((block * n + local, month))  # by month, then row
        month, rows, fresh = month[order], (block * n + local)[order], fresh[order]
        bounds = np.searchsorted(month, np.arange(months + 1))
        for k in range(months):
            plan[first + k] = (rows[bounds[k] : bounds[k + 1]], fresh[bounds[k] : bounds[k + 1]])
    return plan.pop(model.month)
