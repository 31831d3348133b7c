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

from twinsim.core.parameters import Section, param
from twinsim.core.priors import Prior

__all__ = [
    "COST_CATEGORIES",
    "PRICE_FIELDS",
    "ActivityCost",
    "CostParams",
    "LedgerPart",
    "LedgerRow",
    "Prices",
    "ledger_rows",
    "price_firings",
]

COST_CATEGORIES = ("event_cost", "travel_cost", "expert_cost", "staff_cost", "volunteer_cost")

#: Sources of the unit costs' priors (docs/costs.md lists them with price year and ranges).
_STAFF_DAY_SOURCE = (
    "assumption from Rwanda's public-sector pay: health managers and clinicians earn about 400-1,500 USD a month"
    " (21 working days); WHO-CHOICE prices personnel by country (Serje et al. 2018, Cost Eff Resour Alloc 16:5)"
)
_EXPERT_DAY_SOURCE = (
    "assumption: international consulting day rates; individual consultants of UN agencies and the World Bank"
    " are paid about 400-1,000 USD a day, firms bill senior advisers 1,000-2,500"
)
_VOLUNTEER_DAY_SOURCE = (
    "assumption: a day of an NHS professional's time at salary plus on-costs (Agenda for Change bands 6-8 to"
    " consultants, 2022), the valuation health partnership schemes use for volunteer time"
)
_TRAVEL_SOURCE = (
    "assumption: per diem and transport follow MINECOFIN's Ministerial Instructions N° 001/15/10/TC of 20/07/2015"
    " (mission allowances inside the country; they differ by grade) and fuel prices, which rose in 2022"
)
_EVENT_SOURCE = (
    "assumption: venue, facilitation and platform prices vary by place and supplier; WHO-CHOICE lists rental,"
    " per diem and travel allowances as country-priced non-traded goods (Serje et al. 2018)"
)


class ActivityCost(Section):
    """Unit costs of one activity type."""

    per_event: float = param(
        0.0,
        unit="currency",
        ge=0,
        le=1e9,
        description="Venue, facilitation or platform cost per event.",
        source="scenario-specific; default none",
    )
    per_participant: float = param(
        0.0,
        unit="currency",
        ge=0,
        le=1e9,
        description="Travel and per diem per participating staff member.",
        source="scenario-specific; default none",
    )
    participants: int = param(
        2,
        ge=0,
        le=1000,
        description="Staff per participating institution.",
        source="assumption: two staff per institution",
    )
    days: float = param(
        1.0,
        unit="days",
        ge=0,
        le=365,
        description="Days each participant spends on the activity.",
        source="assumption: one day",
    )
    expert_days: float = param(
        0.0,
        unit="days",
        ge=0,
        le=365,
        description="Days of external-expert time per event, paid at the day rate.",
        source="scenario-specific; default none",
    )
    volunteer_days: float = param(
        0.0,
        unit="days",
        ge=0,
        le=365,
        description="Days of volunteer time (outside partners' staff) per event.",
        source="scenario-specific; default none",
    )


class CostParams(Section):
    """Costing: unit costs per activity and per staff day."""

    currency: str = param("USD", description="Currency of every cost.", source="convention")
    price_year: int = param(
        2022,
        ge=1950,
        le=2100,
        description="Price year of the unit costs.",
        source="convention: the programme's middle year",
    )
    staff_day: float = param(
        40.0,
        unit="currency/day",
        ge=0,
        le=1e7,
        prior=Prior("triangular", 20.0, 80.0, "costs", _STAFF_DAY_SOURCE),
        description="Value of one staff day.",
        source="assumption: value of a health manager's day in Rwanda, USD 2022",
    )
    value_staff_time: bool = param(
        True,
        description="Count the staff time of learners and mentors as a cost.",
        source="convention: count staff time (MODEL.md: the user's choice)",
    )
    expert_day_rate: float = param(
        1200.0,
        unit="currency/day",
        ge=0,
        le=1e7,
        prior=Prior("triangular", 600.0, 2500.0, "costs", _EXPERT_DAY_SOURCE),
        description="Fee of one external-expert day (consulting day rate).",
        source="assumption: an international consultant's day rate, USD 2022",
    )
    volunteer_day: float = param(
        350.0,
        unit="currency/day",
        ge=0,
        le=1e7,
        prior=Prior("triangular", 150.0, 700.0, "costs", _VOLUNTEER_DAY_SOURCE),
        description="Value of one day of an outside partner's volunteer staff.",
        source=(
            "assumption: value of an NHS clinician's day, USD 2022 (HPS: 87,000 volunteer days from 2,000 NHS staff"
            " over 4 years)"
        ),
    )
    travel_price_index: float = param(
        1.0,
        ge=0.1,
        le=10,
        prior=Prior("triangular", 0.7, 1.5, "costs", _TRAVEL_SOURCE),
        description="Multiplier of every activity's per_participant cost (transport and per diem): the price level of"
        " travel against the unit costs written in the scenario.",
        source="assumption: 1 = per-participant costs as written; its prior is the donor range",
    )
    event_price_index: float = param(
        1.0,
        ge=0.1,
        le=10,
        prior=Prior("triangular", 0.6, 1.6, "costs", _EVENT_SOURCE),
        description="Multiplier of every activity's per_event cost (venue, facilitation, platform): the price level"
        " of events against the unit costs written in the scenario.",
        source="assumption: 1 = per-event costs as written; its prior is the donor range",
    )
    value_volunteer_time: bool = param(
        True,
        description="Count volunteer time as a cost (off: the donor's financial perspective).",
        source=(
            "convention: societal perspective, like staff time; off for the donor's financial outlay (MODEL.md:"
            " volunteer time valued or not, as the user chooses)"
        ),
    )
    activities: dict[str, ActivityCost] = param({}, description="Unit costs by activity type.")


#: The unit prices that may differ between the replicates of one model (a probabilistic sensitivity analysis).
PRICE_FIELDS = ("staff_day", "expert_day_rate", "volunteer_day", "travel_price_index", "event_price_index")


@dataclass(frozen=True)
class Prices:
    """The unit prices of a costing: each a number, or one per replicate (an array) when they differ."""

    staff_day: float | np.ndarray
    expert_day_rate: float | np.ndarray
    volunteer_day: float | np.ndarray
    travel_price_index: float | np.ndarray
    event_price_index: float | np.ndarray
    value_staff_time: bool = True
    value_volunteer_time: bool = True

    @classmethod
    def of(cls, costs: CostParams) -> Prices:
        """A scenario's prices (the same for every replicate)."""
        return cls(
            **{name: getattr(costs, name) for name in PRICE_FIELDS},
            value_staff_time=costs.value_staff_time,
            value_volunteer_time=costs.value_volunteer_time,
        )


def _column(value: float | np.ndarray) -> float | np.ndarray:
    """A per-replicate price as a column, to broadcast against replicates x institutions."""
    return value if np.ndim(value) == 0 else np.asarray(value)[:, None]


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
    costs: CostParams | Prices,
    scale: np.ndarray | float,
    unit: ActivityCost | None = None,
) -> tuple[LedgerPart, np.ndarray]:
    """Price one activity's firing in every replicate of a model at once.

    Direct cost is ``per_event * events + per_participant * participants * travels`` (each times its price index,
    ``costs.event_price_index`` and ``costs.travel_price_index``); staff time is
    ``participants * days`` per involvement, valued at ``staff_day`` when ``value_staff_time`` is on; expert
    and volunteer days are ``expert_days`` and ``volunteer_days`` per event. Every quantity is multiplied by
    ``scale`` (the programme's activity volume times the share of the firing that took place). Event, expert and
    volunteer costs are shared equally among involved institutions (among all, for work that involves no member's
    staff, such as the experts' work with the Ministry); travel and staff time go to their own.

    Args:
        month: the month of the firings.
        activity: the activity's name.
        events: events per replicate.
        involved: replicates x institutions: how many times each institution's staff took part.
        travelled: replicates x institutions: how many times each institution's staff travelled.
        costs: the scenario's cost parameters, or its :class:`Prices` per replicate.
        scale: volume times the firing's scale, per replicate or one number.
        unit: the activity's unit costs (default: ``costs.activities[activity]``, else zero costs).

    Returns:
        The firing's ledger columns over replicates (:class:`LedgerPart`), and the replicates x institutions cost
        allocation (summing to them).

    """
    if unit is None:
        unit = costs.activities.get(activity, ActivityCost()) if isinstance(costs, CostParams) else ActivityCost()
    prices = costs if isinstance(costs, Prices) else Prices.of(costs)
    scale = np.broadcast_to(np.asarray(scale, dtype=float), np.shape(events))
    row_scale = scale[:, None]
    involved = involved.astype(float)
    staff_days = unit.participants * unit.days * involved * row_scale
    travel = unit.per_participant * _column(prices.travel_price_index) * unit.participants * travelled * row_scale
    # Work that involves no member's staff (the experts with the Ministry) is still paid, and shared by every member
    bearer = np.where(((involved.sum(axis=-1) == 0) & (np.asarray(events) > 0))[:, None], 1.0, involved)
    n_involved = bearer.sum(axis=-1)
    reached = n_involved > 0
    event_cost = unit.per_event * prices.event_price_index * events * scale
    expert_days = unit.expert_days * events * scale
    volunteer_days = unit.volunteer_days * events * scale
    shared_cost = (
        event_cost
        + prices.expert_day_rate * expert_days
        + (prices.volunteer_day * volunteer_days if prices.value_volunteer_time else 0.0)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(reached[:, None], bearer / n_involved[:, None], 0.0)
        event_share = np.where(reached[:, None], event_cost[:, None] * bearer / n_involved[:, None], 0.0)
    staff_cost = _column(prices.staff_day) * staff_days if prices.value_staff_time else np.zeros_like(staff_days)
    per_institution = event_share + travel + staff_cost
    extra = shared_cost > event_cost
    per_institution = np.where(
        extra[:, None], per_institution + (shared_cost - event_cost)[:, None] * share, per_institution
    )
    expert_cost = np.where(reached, prices.expert_day_rate * expert_days, 0.0)
    volunteer_cost = np.where(reached & prices.value_volunteer_time, prices.volunteer_day * volunteer_days, 0.0)
    travel_sum, event_sum = travel.sum(axis=-1), event_share.sum(axis=-1)
    columns = {
        "events": events.astype(np.int64),
        "institutions": (involved > 0).sum(axis=-1),
        "staff_days": staff_days.sum(axis=-1),
        "direct_cost": np.where(reached, event_sum + travel_sum, travel_sum),
        "staff_cost": staff_cost.sum(axis=-1),
        "volume": scale.astype(float),
        "event_cost": np.where(reached, event_sum, 0.0),
        "travel_cost": travel_sum,
        "expert_days": np.broadcast_to(expert_days, events.shape).astype(float),
        "expert_cost": expert_cost,
        "volunteer_days": np.broadcast_to(volunteer_days, events.shape).astype(float),
        "volunteer_cost": volunteer_cost,
    }
    return LedgerPart(month, activity, columns), per_institution


@dataclass(frozen=True)
class LedgerPart:
    """One activity's firing in every replicate of a model: each ledger column as an array over replicates."""

    month: int
    activity: str
    columns: dict[str, np.ndarray]

    def total_cost(self) -> np.ndarray:
        """Per replicate: direct, staff-time, expert and volunteer-time cost (as :attr:`LedgerRow.total_cost`)."""
        c = self.columns
        return c["direct_cost"] + c["staff_cost"] + c["expert_cost"] + c["volunteer_cost"]

    def row(self, block: int) -> LedgerRow:
        """Replicate ``block``'s ledger row."""
        values = {name: column[block].item() for name, column in self.columns.items()}
        return LedgerRow(month=self.month, activity=self.activity, **values)


def ledger_rows(parts: list[LedgerPart], block: int) -> list[LedgerRow]:
    """Replicate ``block``'s priced firings, in firing order."""
    return [part.row(block) for part in parts]
