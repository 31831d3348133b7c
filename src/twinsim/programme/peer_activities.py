"""The activities of the Rwanda Twinning Partnership Network (Gasana et al. 2024) and of one-to-one twinning.

Default rates are the uncalibrated starting values of the ODD (section 7); the bundled Rwanda scenario sets its own
(calibrated) rates. Default unit costs are the Rwanda scenario's (ODD 7.14).
"""

from __future__ import annotations

import numpy as np

from twinsim.kernel.state import Param
from twinsim.kernel.surface import Simulation
from twinsim.programme.activity import Activity, Firing, everyone, learn_along_ties, learn_from_best, tie_pairs
from twinsim.programme.costs import ActivityCost

__all__ = [
    "CoachingInPerson",
    "CoachingVirtual",
    "ExchangeVisit",
    "KickoffWorkshop",
    "LearningWorkshopVirtual",
    "ProvincialLearningEvent",
]


class KickoffWorkshop(Activity):
    """Launch: assess gaps, choose topics, match twins, plan; a little learning from the network's best."""

    name = "kickoff_workshop"
    scope = "network"
    mode = "in_person"
    description = "Launch: assess gaps, choose topics, match twins, plan."
    fixed = True
    forms_ties = True
    default_rate = 0.02
    default_cost = ActivityCost(per_event=8000.0, per_participant=80.0, participants=3, days=2.0)
    source = "TPN paper: one launch workshop (4 sessions); rate and costs: assumption (ODD 7.7, 7.14)"

    def fire(self, model: Simulation, rate: Param) -> Firing:
        """Form the delivery model's partnership ties; members learn a little from the network's best."""
        model.form_ties()
        if np.any(rate):
            learn_from_best(model, rate, np.zeros(model.n_institutions, dtype=np.int64))
        return everyone(model, "in_person")


class ExchangeVisit(Activity):
    """Learner staff visit their twin on site, for all the topics they share."""

    name = "exchange_visit"
    scope = "pair"
    mode = "in_person"
    description = "Learner staff visit their twin on site, for all shared topics."
    default_rate = 0.30
    default_cost = ActivityCost(per_participant=120.0, participants=3, days=2.0)
    source = "TPN paper (exchange visits; number not published); rate: assumption before calibration (ODD 7.7)"

    def fire(self, model: Simulation, rate: Param) -> Firing:
        """Each learner-twin pair has one visit; learners travel, twins host."""
        learn_along_ties(model, rate)
        model.tie_events += 1
        n = model.n
        learner, mentor = tie_pairs(model)  # one visit per pair, for all the topics it shares
        involved = np.bincount(learner, minlength=n) + np.bincount(mentor, minlength=n)
        events = np.bincount(learner // model.n_institutions, minlength=model.replicates)
        return Firing(events, involved, np.bincount(learner, minlength=n))


def _coaching(model: Simulation, rate: Param) -> Firing:
    learn_along_ties(model, rate)
    model.tie_events += 1
    coached = np.ones(model.n, dtype=np.int64)  # every member is coached; those with twins apply what they saw
    events = np.full(model.replicates, model.n_institutions, dtype=np.int64)
    return Firing(events, coached, np.zeros(model.n, dtype=np.int64))


class CoachingInPerson(Activity):
    """A facilitator visits a member to review its twinning plan."""

    name = "coaching_in_person"
    scope = "member"
    mode = "in_person"
    description = "A facilitator visits a member to review its twinning plan."
    default_rate = 0.15
    default_cost = ActivityCost(per_event=250.0, participants=4, days=1.0)
    source = "TPN paper: 2 in-person coaching visits per member; rate: assumption (Rowe et al. 2018, ODD 7.7)"

    def fire(self, model: Simulation, rate: Param) -> Firing:
        """In-person coaching of every member; members with twins apply what their twins showed them."""
        return _coaching(model, rate)


class CoachingVirtual(Activity):
    """A facilitator coaches a member by video call."""

    name = "coaching_virtual"
    scope = "member"
    mode = "virtual"
    description = "A facilitator coaches a member by video call."
    default_rate = 0.08
    default_cost = ActivityCost(per_event=60.0, participants=4, days=0.5)
    source = "TPN paper: 1 virtual coaching session per member; rate: assumption (ODD 7.7)"
    in_person_counterpart = "coaching_in_person"

    def fire(self, model: Simulation, rate: Param) -> Firing:
        """Virtual coaching of every member."""
        return _coaching(model, rate)


class LearningWorkshopVirtual(Activity):
    """Network-wide virtual learning and experience sharing."""

    name = "learning_workshop_virtual"
    scope = "network"
    mode = "virtual"
    description = "Network-wide virtual learning and experience sharing."
    default_rate = 0.03
    default_cost = ActivityCost(per_event=500.0, participants=2, days=0.5)
    source = "TPN paper: 4 network-wide virtual workshops; rate: assumption (ODD 7.7)"
    in_person_counterpart = "provincial_learning_event"

    def fire(self, model: Simulation, rate: Param) -> Firing:
        """Every member learns its chosen topics from the best of its kind across the network."""
        learn_from_best(model, rate, np.zeros(model.n_institutions, dtype=np.int64))
        return everyone(model, "virtual")


class ProvincialLearningEvent(Activity):
    """Members of one region meet, learn and share."""

    name = "provincial_learning_event"
    scope = "region"
    mode = "in_person"
    description = "Members of one region meet, learn and share."
    default_rate = 0.08
    default_cost = ActivityCost(per_event=2500.0, per_participant=60.0, participants=3, days=1.0)
    source = "TPN paper: 4 provincial learning events (1 per province); rate and costs: assumption (ODD 7.7)"

    def fire(self, model: Simulation, rate: Param) -> Firing:
        """One in-person event per region; members learn from the best of their kind in the region."""
        learn_from_best(model, rate, model.structure.region)
        return everyone(model, "in_person", events=len(np.unique(model.structure.region)))
