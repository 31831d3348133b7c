"""Costing of activity firings: events, travel and per diem, expert fees, staff time, volunteer time.

Every cost the model incurs passes through :func:`price_firings`, which returns one ledger row per replicate and
the per-institution allocation, so that the ledger total and the per-institution totals always agree.

Cost categories of a ledger row (all in ``costs.currency`` at ``costs.price_year`` prices):

- ``event_cost``: venue, facilitation or platform cost per event (``per_event``), incl. facilitators' days;
- ``travel_cost``: transport and per diem of travelling staff (``per_participant`` per traveller);
- ``expert_cost``: external-expert days (``expert_days`` per event) at ``expert_day_rate``;
- ``staff_cost``: staff time of learners and mentors (``participants * days`` per involvement) at
  ``staff_day``, when ``value_staff_time``;
- ``volunteer_cost``: outside partners' volunteer days (``volunteer_days`` per event) at ``volunteer_day``,
  when ``value_volunteer_time``.

``direct_cost`` is ``event_cost + travel_cost`` and ``total_cost`` the sum of all five categories.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twinsim.scenario import ActivityCost, CostParams

__all__ = ["COST_CATEGORIES", "LedgerRow", "price_firings"]

COST_CATEGORIES = ("event_cost", "travel_cost", "expert_cost", "staff_cost", "volunteer_cost")


@dataclass(frozen=True)
class LedgerRow:
    """One firing of one activity, priced."""

    month: int
    activity: str
    events: int
    institutions: int
    staff_days: float
    direct_cost: float
    staff_cost: float
    volume: float = 1.0
    event_cost: float = 0.0
    travel_cost: float = 0.0
    expert_days: float = 0.0
    expert_cost: float = 0.0
    volunteer_days: float = 0.0
    volunteer_cost: float = 0.0

    @property
    def total_cost(self) -> float:
        """Direct, expert, staff-time and volunteer-time cost."""
        return self.direct_cost + self.staff_cost + self.expert_cost + self.volunteer_cost


def price_firings(
    month: int,
    activity: str,
    events: np.ndarray,
    involved: np.ndarray,
    travelled: np.ndarray,
    costs: CostParams,
    scale: np.ndarray | float,
    unit: ActivityCost | None = None,
) -> tuple[list[LedgerRow], np.ndarray]:
    """Price one activity's firing in every replicate of a model at once.

    Direct cost is ``per_event * events + per_participant * participants * travels``; staff time is
    ``participants * days`` per involvement, valued at ``staff_day`` when ``value_staff_time`` is on; expert
    and volunteer days are ``expert_days`` and ``volunteer_days`` per event. Every quantity is multiplied by
    ``scale`` (the programme's activity volume times the share of the firing that took place). Event, expert and
    volunteer costs are shared equally among involved institutions; travel and staff time go to their own.

    Args:
        month: the month of the firings.
        activity: the activity's name.
        events: events per replicate.
        involved: replicates x institutions: how many times each institution's staff took part.
        travelled: replicates x institutions: how many times each institution's staff travelled.
        costs: the scenario's cost parameters.
        scale: volume times the firing's scale, per replicate or one number.
        unit: the activity's unit costs (default: ``costs.activities[activity]``, else zero costs).

    Returns:
        One ledger row per replicate, and the replicates x institutions cost allocation (summing to the rows).

    """
    unit = costs.activities.get(activity, ActivityCost()) if unit is None else unit
    scale = np.broadcast_to(np.asarray(scale, dtype=float), np.shape(events))
    row_scale = scale[:, None]
    involved = involved.astype(float)
    staff_days = unit.participants * unit.days * involved * row_scale
    travel = unit.per_participant * unit.participants * travelled * row_scale
    n_involved = involved.sum(axis=-1)
    reached = n_involved > 0
    event_cost = unit.per_event * events * scale
    expert_days = unit.expert_days * events * scale
    volunteer_days = unit.volunteer_days * events * scale
    shared_cost = (
        event_cost
        + costs.expert_day_rate * expert_days
        + (costs.volunteer_day * volunteer_days if costs.value_volunteer_time else 0.0)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(reached[:, None], involved / n_involved[:, None], 0.0)
        event_share = np.where(reached[:, None], event_cost[:, None] * involved / n_involved[:, None], 0.0)
    staff_cost = costs.staff_day * staff_days if costs.value_staff_time else np.zeros_like(staff_days)
    per_institution = event_share + travel + staff_cost
    extra = shared_cost > event_cost
    per_institution = np.where(
        extra[:, None], per_institution + (shared_cost - event_cost)[:, None] * share, per_institution
    )
    expert_cost = np.where(reached, costs.expert_day_rate * expert_days, 0.0)
    volunteer_cost = np.where(reached & costs.value_volunteer_time, costs.volunteer_day * volunteer_days, 0.0)
    travel_sum, event_sum = travel.sum(axis=-1), event_share.sum(axis=-1)
    columns = zip(
        events.tolist(),
        (involved > 0).sum(axis=-1).tolist(),
        staff_days.sum(axis=-1).tolist(),
        np.where(reached, event_sum + travel_sum, travel_sum).tolist(),
        staff_cost.sum(axis=-1).tolist(),
        np.where(reached, event_sum, 0.0).tolist(),
        travel_sum.tolist(),
        np.broadcast_to(expert_days, events.shape).tolist(),
        expert_cost.tolist(),
        np.broadcast_to(volunteer_days, events.shape).tolist(),
        volunteer_cost.tolist(),
        scale.tolist(),
        strict=True,
    )
    rows = [
        LedgerRow(
            month=month,
            activity=activity,
            events=int(n_events),
            institutions=int(n_inst),
            staff_days=float(s_days),
            direct_cost=float(direct),
            staff_cost=float(staff),
            volume=float(vol),
            event_cost=float(event),
            travel_cost=float(trav),
            expert_days=float(e_days),
            expert_cost=float(e_cost),
            volunteer_days=float(v_days),
            volunteer_cost=float(v_cost),
        )
        for n_events, n_inst, s_days, direct, staff, event, trav, e_days, e_cost, v_days, v_cost, vol in columns
    ]
    return rows, per_institution
