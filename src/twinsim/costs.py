"""Costing of activity firings: events, travel and per diem, expert fees, staff time, volunteer time.

Every cost the model incurs passes through :func:`price_firing`, which returns one ledger row and
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

from twinsim.programs import ActivityFiring
from twinsim.scenario import ActivityCost, CostParams

__all__ = ["COST_CATEGORIES", "LedgerRow", "price_firing"]

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


def price_firing(
    month: int, activity: str, firing: ActivityFiring, costs: CostParams, volume: float = 1.0
) -> tuple[LedgerRow, np.ndarray]:
    """Price one activity firing.

    Direct cost is ``per_event * events + per_participant * participants * travels``; staff time is
    ``participants * days`` per involvement, valued at ``staff_day`` when ``value_staff_time`` is on; expert
    and volunteer days are ``expert_days`` and ``volunteer_days`` per event. Every quantity is multiplied by
    ``volume`` (the programme's activity volume) and by the firing's ``scale``. Event, expert and volunteer
    costs are shared equally among involved institutions; travel and staff time go to their own.

    Returns:
        The ledger row and the cost allocated to each institution (summing to the row's total).

    """
    unit = costs.activities.get(activity, ActivityCost())
    scale = volume * firing.scale
    involved = firing.involved.astype(float)
    staff_days = unit.participants * unit.days * involved * scale
    travel = unit.per_participant * unit.participants * firing.travelled * scale
    n_involved = involved.sum()
    event_cost = unit.per_event * firing.events * scale
    expert_days = unit.expert_days * firing.events * scale
    volunteer_days = unit.volunteer_days * firing.events * scale
    shared_cost = (
        event_cost
        + costs.expert_day_rate * expert_days
        + (costs.volunteer_day * volunteer_days if costs.value_volunteer_time else 0.0)
    )
    share = involved / n_involved if n_involved > 0 else np.zeros_like(involved)
    event_share = event_cost * involved / n_involved if n_involved > 0 else np.zeros_like(involved)
    staff_cost = costs.staff_day * staff_days if costs.value_staff_time else np.zeros_like(staff_days)
    per_institution = event_share + travel + staff_cost
    if shared_cost > event_cost:
        per_institution = per_institution + (shared_cost - event_cost) * share
    reached = n_involved > 0
    expert_cost = costs.expert_day_rate * expert_days if reached else 0.0
    volunteer_cost = costs.volunteer_day * volunteer_days if reached and costs.value_volunteer_time else 0.0
    row = LedgerRow(
        month=month,
        activity=activity,
        events=int(firing.events),
        institutions=int((involved > 0).sum()),
        staff_days=float(staff_days.sum()),
        direct_cost=float(event_share.sum() + travel.sum()) if reached else float(travel.sum()),
        staff_cost=float(staff_cost.sum()),
        volume=float(scale),
        event_cost=float(event_share.sum()) if reached else 0.0,
        travel_cost=float(travel.sum()),
        expert_days=float(expert_days),
        expert_cost=float(expert_cost),
        volunteer_days=float(volunteer_days),
        volunteer_cost=float(volunteer_cost),
    )
    return row, per_institution
