"""Every activity and delivery model, listed explicitly by name (no registration by import side effect).

Adding an activity or a delivery model is writing its module and naming its class here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twinsim.programme.activity import Activity
from twinsim.programme.delivery import DeliveryModel, NoProgramme, PairTwinning, TPNNetwork
from twinsim.programme.experts import (
    DeliverySupport,
    ExternalExperts,
    Hybrid,
    KnowledgeSharingSession,
    LeaderCoaching,
    LeadershipRetreat,
)
from twinsim.programme.partners import NorthSouth, PartnerStudyVisit, RemoteMentoring, VolunteerVisit
from twinsim.programme.peer_activities import (
    CoachingInPerson,
    CoachingVirtual,
    ExchangeVisit,
    KickoffWorkshop,
    LearningWorkshopVirtual,
    ProvincialLearningEvent,
)
from twinsim.programme.peer_group import VirtualPeerGroup

if TYPE_CHECKING:
    from twinsim.scenario import Scenario

__all__ = ["ACTIVITIES", "DELIVERY_MODELS", "effective_rate"]

ACTIVITIES: dict[str, Activity] = {
    cls.name: cls()
    for cls in (
        KickoffWorkshop,
        ExchangeVisit,
        CoachingInPerson,
        CoachingVirtual,
        LearningWorkshopVirtual,
        ProvincialLearningEvent,
        VirtualPeerGroup,
        VolunteerVisit,
        PartnerStudyVisit,
        RemoteMentoring,
        LeadershipRetreat,
        LeaderCoaching,
        KnowledgeSharingSession,
        DeliverySupport,
    )
}

DELIVERY_MODELS: dict[str, DeliveryModel] = {
    cls.name: cls() for cls in (TPNNetwork, PairTwinning, NorthSouth, ExternalExperts, Hybrid, NoProgramme)
}


def effective_rate(scenario: Scenario, activity: str) -> float:
    """The transfer rate ``activity`` fires at: the scenario's ``learning.rates``, else the activity's default.

    With ``mechanisms.delivery_modes`` (docs/ODD.md 7.21) a virtual activity with an in-person counterpart transfers
    ``learning.virtual_ratio`` times its counterpart's rate (its own entry in ``learning.rates`` is not used).
    Without its own entry, an activity with ``rate_relative_to = (reference, multiple)`` transfers ``multiple``
    times the reference's rate (docs/ODD.md 7.23), so its rate follows the calibration of the peer activities.
    """
    kind = ACTIVITIES[activity]
    counterpart = kind.in_person_counterpart
    if counterpart is not None and scenario.mechanisms.delivery_modes:
        return scenario.learning.virtual_ratio * effective_rate(scenario, counterpart)
    if activity in scenario.learning.rates:
        return scenario.learning.rates[activity]
    if kind.rate_relative_to is not None:
        reference, multiple = kind.rate_relative_to
        return multiple * effective_rate(scenario, reference)
    return kind.default_rate
