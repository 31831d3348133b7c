"""North-south institutional partnerships: outside partners, their agents, activities and delivery model.

Each member institution partners with one institution from outside the network (a hospital or university
of a high-income health system, as in the UK Health Partnership Scheme). Outside partners are Mesa agents
with their own small state arrays, *not* rows of the model's arrays: they are never evaluated, they do not
change the population's random draws, and the model's panel and summaries hold members only.

Partners are highly capable on every topic (``programme.partners.capacity_mean``) but far in resources and
context (``programme.partners.context_distance``), so the similarity that scales every transfer is low. Their
staff give volunteer time (``costs.activities.<activity>.volunteer_days``); travel between the two countries
is costly (``per_event`` for the partners' flights, ``per_participant`` for members' study visits).
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
    extra_stream,
    register_activity,
    register_delivery_model,
)
from twinsim.programme.matching import Ties

if TYPE_CHECKING:
    from twinsim.model import TwinningModel

__all__ = ["NorthSouth", "OutsidePartner", "PartnerSet", "learn_from_partners"]


class OutsidePartner(mesa.Agent):
    """An institution from outside the network (e.g. a UK hospital) twinned with one member. Not evaluated.

    Args:
        model: the model it belongs to.
        row: its row in the partner arrays.
        member: the row of the member institution it partners with.

    """

    def __init__(self, model: TwinningModel, row: int, member: int) -> None:
        super().__init__(model)
        self.row = row
        self.member = member

    @property
    def capacity(self) -> np.ndarray:
        """Capacity per topic (the partner's know-how)."""
        return self.model.delivery_state.capacity[self.row]

    def __repr__(self) -> str:
        return f"OutsidePartner(of {self.model.institutions[self.member].name!r})"


@dataclass
class PartnerSet:
    """Outside partners and the ties to them: ``learner[k]`` learns ``topic[k]`` from partner ``partner[k]``.

    Attributes:
        agents: the OutsidePartner agents, one per member (partner ``p`` serves member ``p``).
        capacity: partners x topics capacity.
        similarity: similarity of every partner to its member (one number per partner).
        ties: learner, partner (as ``mentor``) and topic index arrays, formed at the kickoff.
        flow: knowledge gained along each tie so far.

    """

    agents: list[OutsidePartner]
    capacity: np.ndarray
    similarity: np.ndarray
    ties: Ties
    flow: np.ndarray


def learn_from_partners(model: TwinningModel, rate: float) -> np.ndarray:
    """Members learn their partnership topics from their outside partners at ``rate``; returns gain per tie.

    As along peer ties (ODD 7.4): ``transfer(c_member, c_partner, rate * effort * similarity)``. Partners'
    own gains are not tracked (they are not evaluated).
    """
    state: PartnerSet = model.delivery_state
    ties = state.ties
    if len(ties) == 0 or rate == 0:
        return np.zeros(len(ties))
    lrn, prt, top = ties.learner, ties.mentor, ties.topic
    intensity = rate * model.effort()[lrn, top] * state.similarity[prt]
    gain = learning.transfer(
        model.capacity[lrn, top], state.capacity[prt, top], intensity, model.params.learning.gap_ceiling
    )
    delta = np.zeros_like(model.capacity)
    np.add.at(delta, (lrn, top), gain)
    model.capacity = np.clip(model.capacity + delta, 0.0, 1.0)
    state.flow += gain
    return gain


def _partnered(model: TwinningModel) -> np.ndarray:
    """Members with at least one partnership tie (those the partnership activities reach)."""
    state: PartnerSet = model.delivery_state
    return np.bincount(state.ties.learner, minlength=model.n) > 0


@register_activity(
    "volunteer_visit",
    "pair",
    "in_person",
    "Volunteer staff of the outside partner visit the member and train on site.",
    needs="partners",
)
def volunteer_visit(model: TwinningModel, rate: float) -> ActivityFiring:
    """One visit per partnership; the partners' volunteers travel (``per_event``), members host."""
    learn_from_partners(model, rate)
    reached = _partnered(model).astype(np.int64)
    return ActivityFiring(int(reached.sum()), reached, np.zeros(model.n, dtype=np.int64))


@register_activity(
    "partner_study_visit",
    "pair",
    "in_person",
    "Member staff visit the outside partner abroad.",
    needs="partners",
)
def partner_study_visit(model: TwinningModel, rate: float) -> ActivityFiring:
    """One study visit per partnership; the members' staff travel abroad (``per_participant``)."""
    learn_from_partners(model, rate)
    reached = _partnered(model).astype(np.int64)
    return ActivityFiring(int(reached.sum()), reached, reached)


@register_activity(
    "remote_mentoring",
    "pair",
    "virtual",
    "Volunteer staff of the outside partner mentor the member by video call.",
    needs="partners",
)
def remote_mentoring(model: TwinningModel, rate: float) -> ActivityFiring:
    """One video-call mentoring session per partnership."""
    learn_from_partners(model, rate)
    reached = _partnered(model).astype(np.int64)
    return ActivityFiring(int(reached.sum()), reached, np.zeros(model.n, dtype=np.int64))


@register_delivery_model
class NorthSouth(DeliveryModel):
    """North-south partnership: each member twins with one outside institution of high capacity.

    Partners are drawn when the model is built (from their own random stream); at the kickoff each member
    forms a tie to its partner on every topic it chose where the partner leads it by ``programme.min_gap``.
    Informal contact with the partner goes on every month at ``learning.peer_contact_rate`` (times
    ``followup_tie_intensity`` after the programme), like contact between peers. No peer ties form.
    """

    name = "north_south"
    description = "North-south partnership: an outside partner of high capacity but low similarity; volunteer time."
    provides = frozenset({"partners"})

    def form_ties(self, model: TwinningModel) -> Ties:
        """Tie each member to its partner on its chosen topics where the partner leads; no peer ties."""
        state: PartnerSet = model.delivery_state
        member = np.arange(model.n)
        leads = state.capacity[member] >= model.capacity + model.params.programme.min_gap
        row, topic = np.nonzero(model.selected & model.applicable & leads)
        state.ties = Ties(row.astype(np.int64), row.astype(np.int64), topic.astype(np.int64))
        state.flow = np.zeros(len(state.ties))
        return Ties.empty()

    def setup(self, model: TwinningModel) -> PartnerSet:
        """Draw one outside partner per member from the run's own partner stream."""
        spec = model.params.programme.partners
        rng = extra_stream(model, "partners")
        a = spec.capacity_mean * spec.capacity_concentration
        b = (1.0 - spec.capacity_mean) * spec.capacity_concentration
        capacity = rng.beta(a, b, size=(model.n, len(model.topic_names)))
        lp = model.params.learning
        similarity = np.full(model.n, float(np.exp(-lp.similarity_weight * spec.context_distance)))
        agents = [OutsidePartner(model, p, p) for p in range(model.n)]
        return PartnerSet(agents, capacity, similarity, Ties.empty(), np.zeros(0))

    def monthly(self, model: TwinningModel, contact_rate: float) -> None:
        """Informal contact with the partner, as between peers."""
        learn_from_partners(model, contact_rate)

    def ties_formed(self, model: TwinningModel) -> int:
        """Ties to outside partners (no peer ties form)."""
        return len(model.ties) + len(model.delivery_state.ties)
