"""Costing of activity firings: direct costs (events, travel, per diem) and staff time.

Every cost the model incurs passes through :func:`price_firing`, which returns one ledger row and
the per-institution allocation, so that the ledger total and the per-institution totals always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twinsim.programs import ActivityFiring
from twinsim.scenario import ActivityCost, CostParams

__all__ = ["LedgerRow", "price_firing"]


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

    @property
    def total_cost(self) -> float:
        """Direct plus staff-time cost."""
        return self.direct_cost + self.staff_cost


def price_firing(month: int, activity: str, firing: ActivityFiring, costs: CostParams) -> tuple[LedgerRow, np.ndarray]:
    """Price one activity firing.

    Direct cost is ``per_event * events + per_participant * participants * travels``; staff time is
    ``participants * days`` per involvement, valued at ``staff_day`` when ``value_staff_time`` is on.
    Event costs are shared equally among involved institutions; travel and staff time go to their own.

    Returns:
        The ledger row and the cost allocated to each institution (summing to the row's total).

    """
    unit = costs.activities.get(activity, ActivityCost())
    involved = firing.involved.astype(float)
    staff_days = unit.participants * unit.days * involved
    travel = unit.per_participant * unit.participants * firing.travelled
    n_involved = involved.sum()
    event_cost = unit.per_event * firing.events
    event_share = event_cost * involved / n_involved if n_involved > 0 else np.zeros_like(involved)
    staff_cost = costs.staff_day * staff_days if costs.value_staff_time else np.zeros_like(staff_days)
    per_institution = event_share + travel + staff_cost
    row = LedgerRow(
        month=month,
        activity=activity,
        events=int(firing.events),
        institutions=int((involved > 0).sum()),
        staff_days=float(staff_days.sum()),
        direct_cost=float(event_share.sum() + travel.sum()) if n_involved > 0 else float(travel.sum()),
        staff_cost=float(staff_cost.sum()),
    )
    return row, per_institution
