"""External experts: the consulting team, its activities and the ``external_experts`` and ``hybrid`` models.

After the Rwanda case study of a consulting firm's leadership and delivery support to the Ministry of Health
(shared/seeds/external-expert-leadership-program-rwanda.txt): 3 leadership retreats that set and reviewed 5
sector priorities, 7 coaching rounds for 42 senior leaders, 2 knowledge-sharing sessions for mid-level
leaders, and hands-on delivery support on the 5 priorities (2 gained traction, both under strong leadership).

Mechanisms: retreats and coaching raise senior leaders' commitment (``leadership``), which gates every
member's effort and own improvement; retreats also raise interest in the priority topics; knowledge sharing
and delivery support transfer the experts' know-how on the priority topics, at the low similarity of an
outsider (``programme.experts.context_distance``) and gated by each member's effort, so traction comes where
leadership is strong. Experts have limited days (``programme.experts.days_available``, times the programme's
volume): an activity that needs more days than are left fires only in part. After the programme they leave:
nothing of theirs goes on but what members learnt and the leadership gained (until turnover replaces it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa
import numpy as np

from twinsim.model import learning
from twinsim.programme.activities import (
    ActivityFiring,
    DeliveryModel,
    TPNNetwork,
    register_activity,
    register_delivery_model,
)
from twinsim.programme.matching import Ties
from twinsim.scenario import ActivityCost

if TYPE_CHECKING:
    from twinsim.model import TwinningModel

__all__ = ["ExpertTeam", "ExternalExpert", "ExternalExperts", "Hybrid", "priority_topics"]


class ExternalExpert(mesa.Agent):
    """A consultant: high know-how on its specialty topics, low context similarity, limited days, a day rate.

    Args:
        model: the model it works in.
        days: days contracted for the programme.
        specialty: indices of the priority topics it leads on (descriptive: the team's days are pooled).

    """

    def __init__(self, model: TwinningModel, days: float, specialty: list[int]) -> None:
        super().__init__(model)
        self.days_contracted = days
        self.days_left = days
        self.specialty = specialty

    @property
    def day_rate(self) -> float:
        """Fee of one day (``costs.expert_day_rate``)."""
        return self.model.params.costs.expert_day_rate

    def work(self, days: float) -> float:
        """Spend up to ``days`` of the remaining contract; returns the days actually worked."""
        worked = min(days, self.days_left)
        self.days_left -= worked
        return worked

    def __repr__(self) -> str:
        return f"ExternalExpert(days_left={self.days_left:g} of {self.days_contracted:g})"


@dataclass
class ExpertTeam:
    """The consulting team of one run.

    Attributes:
        experts: the ExternalExpert agents.
        priorities: topics x bool, the sector priorities the team supports.
        know_how: capacity the experts teach towards on the priority topics.
        similarity: similarity of an expert to any member (low: an outsider).

    """

    experts: list[ExternalExpert]
    priorities: np.ndarray
    know_how: float
    similarity: float

    @property
    def days_left(self) -> float:
        """Contracted days not yet worked."""
        return float(sum(e.days_left for e in self.experts))

    def book(self, days: float) -> float:
        """Book ``days`` of work across the team; returns the share that could be delivered (1 when days remain)."""
        if days <= 0:
            return 1.0
        share = min(1.0, self.days_left / days)
        need = days * share
        for expert in self.experts:  # the team's days are pooled: each works what the others could not
            need -= expert.work(need)
        return share


def priority_topics(
    capacity: np.ndarray, interest: np.ndarray, applicable: np.ndarray, know_how: float, count: int
) -> np.ndarray:
    """The ``count`` topics with the largest mean interest-weighted gap to the experts' know-how (bool mask)."""
    gap = np.where(applicable, interest * np.maximum(know_how - capacity, 0.0), 0.0)
    score = gap.sum(axis=0) / np.maximum(applicable.sum(axis=0), 1)
    chosen = np.zeros(capacity.shape[1], dtype=bool)
    chosen[np.argsort(-score, kind="stable")[: min(count, score.size)]] = True
    return chosen


def _book(model: TwinningModel, activity: str, events: int) -> float:
    unit = model.params.costs.activities.get(activity, ActivityCost())
    team: ExpertTeam = model.delivery_state
    return team.book(unit.expert_days * events * model.params.programme.volume)


def _raise_towards_one(values: np.ndarray, step: float, where: np.ndarray | bool = True) -> np.ndarray:
    """``v + step * (1 - v)`` where ``where`` holds."""
    return np.where(where, values + step * (1.0 - values), values)


def _learn_from_experts(model: TwinningModel, rate: float, members: np.ndarray) -> None:
    """Members learn the priority topics towards the experts' know-how, at the experts' similarity."""
    team: ExpertTeam = model.delivery_state
    cells = members[:, None] & team.priorities[None, :] & model.applicable
    intensity = rate * model.effort() * team.similarity
    gain = learning.transfer(model.capacity, team.know_how, intensity, model.params.learning.gap_ceiling)
    model.capacity = np.clip(model.capacity + gain * cells, 0.0, 1.0)


@register_activity(
    "leadership_retreat",
    "network",
    "in_person",
    "Senior leaders of all members meet the experts to set and review the priorities.",
    needs="experts",
)
def leadership_retreat(model: TwinningModel, rate: float) -> ActivityFiring:
    """Raises leadership commitment, and interest in the priority topics, by ``1 - exp(-rate)`` of the headroom."""
    share = _book(model, "leadership_retreat", 1)
    step = -np.expm1(-rate * share)
    team: ExpertTeam = model.delivery_state
    model.leadership = _raise_towards_one(model.leadership, step)
    model.interest = _raise_towards_one(model.interest, step, team.priorities[None, :] & model.applicable)
    everyone = np.ones(model.n, dtype=np.int64)
    return ActivityFiring(1, everyone, everyone, share)


@register_activity(
    "leader_coaching",
    "member",
    "in_person",
    "A coaching round: an expert coaches each member's senior leader on delivery challenges.",
    needs="experts",
)
def leader_coaching(model: TwinningModel, rate: float) -> ActivityFiring:
    """Raises each coached leader's commitment by ``1 - exp(-rate)`` of the headroom."""
    share = _book(model, "leader_coaching", model.n)
    model.leadership = _raise_towards_one(model.leadership, -np.expm1(-rate * share))
    everyone = np.ones(model.n, dtype=np.int64)
    return ActivityFiring(model.n, everyone, np.zeros(model.n, dtype=np.int64), share)


@register_activity(
    "knowledge_sharing_session",
    "network",
    "in_person",
    "Mid-level leaders of all members learn the experts' tools for the priority topics.",
    needs="experts",
)
def knowledge_sharing_session(model: TwinningModel, rate: float) -> ActivityFiring:
    """Every member learns the priority topics from the experts (low similarity, effort-gated)."""
    share = _book(model, "knowledge_sharing_session", 1)
    _learn_from_experts(model, rate * share, np.ones(model.n, dtype=bool))
    everyone = np.ones(model.n, dtype=np.int64)
    return ActivityFiring(1, everyone, everyone, share)


@register_activity(
    "delivery_support",
    "member",
    "in_person",
    "Hands-on support on the priority topics: root causes, delivery plans, routines.",
    needs="experts",
)
def delivery_support(model: TwinningModel, rate: float) -> ActivityFiring:
    """Each member with a priority topic gets one support visit; traction follows its effort (leadership)."""
    team: ExpertTeam = model.delivery_state
    members = (model.applicable & team.priorities[None, :]).any(axis=1)
    events = int(members.sum())
    share = _book(model, "delivery_support", events)
    _learn_from_experts(model, rate * share, members)
    return ActivityFiring(events, members.astype(np.int64), np.zeros(model.n, dtype=np.int64), share)


def _team(model: TwinningModel) -> ExpertTeam:
    spec = model.params.programme.experts
    priorities = priority_topics(model.capacity, model.interest, model.applicable, spec.know_how, spec.priority_topics)
    chosen = np.flatnonzero(priorities).tolist()
    days = spec.days_available * model.params.programme.volume / spec.team_size
    experts = [ExternalExpert(model, days, chosen[e :: spec.team_size]) for e in range(spec.team_size)]
    similarity = float(np.exp(-model.params.learning.similarity_weight * spec.context_distance))
    return ExpertTeam(experts, priorities, spec.know_how, similarity)


@register_delivery_model
class ExternalExperts(DeliveryModel):
    """A consulting team (ExternalExpert agents): leadership retreats and coaching, knowledge sharing, delivery support.

    No peer ties form; the team's priorities are set when the model is built, from baseline capacity and interest.
    """

    name = "external_experts"
    description = "External experts: leadership retreats and coaching, delivery support on a few priority topics."
    provides = frozenset({"experts"})

    def form_ties(self, model: TwinningModel) -> Ties:
        """No peer ties: the experts work with every member directly."""
        return Ties.empty()

    def setup(self, model: TwinningModel) -> ExpertTeam:
        """Contract the team and set the priorities."""
        return _team(model)


@register_delivery_model
class Hybrid(TPNNetwork):
    """The twinning network (same ties as ``tpn_network``) plus expert coaching of senior leaders."""

    name = "hybrid"
    description = "Hybrid: the twinning network plus expert coaching of senior leaders."
    provides = frozenset({"experts"})

    def setup(self, model: TwinningModel) -> ExpertTeam:
        """Contract the coaching team (the ties form at the kickoff, as in the TPN)."""
        return _team(model)
