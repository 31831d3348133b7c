"""Every activity and delivery model, listed explicitly by name (no registration by import side effect).

Adding an activity or a delivery model is writing its module and naming its class here.
"""

from __future__ import annotations

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

__all__ = ["ACTIVITIES", "DELIVERY_MODELS"]

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
