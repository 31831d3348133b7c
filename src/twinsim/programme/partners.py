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

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from twinsim.core.parameters import NDENGA_2016, Section, assumed, param
from twinsim.core.priors import Prior
from twinsim.kernel import learning
from twinsim.kernel.state import Param
from twinsim.kernel.surface import Simulation
from twinsim.programme.activity import Activity, Firing
from twinsim.programme.costs import ActivityCost
from twinsim.programme.delivery import DeliveryModel, plugin_state
from twinsim.programme.matching import Ties

if TYPE_CHECKING:
    from twinsim.kernel.agents import OutsidePartner

__all__ = [
    "NorthSouth",
    "PartnerParams",
    "PartnerSet",
    "PartnerStudyVisit",
    "RemoteMentoring",
    "VolunteerVisit",
    "learn_from_partners",
]


class PartnerParams(Section):
    """The outside partner institutions of the ``north_south`` delivery model (not evaluated)."""

    capacity_mean: float = param(
        0.85,
        unit="capacity",
        gt=0,
        lt=1,
        plausible=(0.7, 0.95),
        prior=assumed(
            "partners", 0.7, 0.95, "partners are high-income institutions, strong but not perfect on every topic"
        ),
        description="Mean capacity of an outside partner on every topic (beta distribution).",
        source="assumption: a well-resourced partner from a high-income health system is near the top of every"
        " indicator",
    )
    capacity_concentration: float = param(
        20.0,
        gt=0,
        le=1000,
        description="Concentration (alpha + beta) of the partners' capacity distribution.",
        source="assumption: sd 0.08 at mean 0.85",
    )
    context_distance: float = param(
        1.5,
        ge=0,
        le=20,
        plausible=(0.5, 3.0),
        prior=Prior(
            "triangular",
            0.5,
            3.0,
            "partners",
            "assumption: outside partners share less context than national peers; " + NDENGA_2016,
        ),
        description="Resource and context distance between an outside partner and its institution:"
        " similarity = exp(-similarity_weight * distance).",
        source=(
            "assumption: low similarity of resources and context (Ndenga et al. 2016: 52% of Rwandan, 10% of US"
            " faculty reported effective skill transfer); exp(-1.5) = 0.22"
        ),
    )


@dataclass
class PartnerSet:
    """Outside partners and the ties to them: ``learner[k]`` learns ``topic[k]`` from partner ``partner[k]``.

    Partner ``p`` serves the member in row ``p`` (one partner per member, in every replicate).

    Attributes:
        capacity: rows x topics capacity of the partners.
        baseline: their capacity when the model was built (their gain is ``capacity - baseline``, ODD 7.19).
        similarity: similarity of every partner to its member (one number per row).
        ties: learner, partner (as ``mentor``) and topic index arrays, formed at the kickoff.
        flow: knowledge gained along each tie so far.

    """

    model: Simulation = field(repr=False)
    capacity: np.ndarray
    baseline: np.ndarray
    similarity: np.ndarray
    ties: Ties
    flow: np.ndarray
    _agents: list[OutsidePartner] | None = field(default=None, repr=False)

    @property
    def agents(self) -> list[OutsidePartner]:
        """The OutsidePartner agents, one per member row (created on first access)."""
        from twinsim.kernel.agents import OutsidePartner, mesa_model

        if self._agents is None:
            model = mesa_model(self.model, "outside partners")
            self._agents = [OutsidePartner(model, p) for p in range(model.n)]
        return self._agents


def learn_from_partners(model: Simulation, rate: Param) -> np.ndarray:
    """Members learn their partnership topics from their outside partners at ``rate``; returns gain per tie.

    As along peer ties (ODD 7.4): ``transfer(c_member, c_partner, rate * effort * similarity)``; gains go through
    the model's gain path (source ``partner``). Two-way benefit (ODD 7.19): the partner gains ``model.mentor_gain``
    times its member's gain on the tie's topic (its own state, reported as ``partner_gain`` in the run summary).
    """
    state = plugin_state(model, PartnerSet)
    ties = state.ties
    if len(ties) == 0 or not np.any(rate) or not model.programme_learning:
        return np.zeros(len(ties))
    lrn, prt, top = ties.learner, ties.mentor, ties.topic
    intensity = model.at_rows(rate, lrn) * model.effort()[lrn, top] * state.similarity[prt]
    ceiling = model.at_rows(model.learning_value("gap_ceiling"), lrn)
    gain = learning.transfer(model.capacity[lrn, top], state.capacity[prt, top], intensity, ceiling)
    cells = lrn * model.capacity.shape[1] + top  # one tie per (member, topic)
    before = model.capacity.ravel()[cells]
    model.apply_gain("partner", gain, cells=cells)
    received = model.capacity.ravel()[cells] - before
    state.flow += received
    if np.any(model.mentor_gain):
        np.add.at(state.capacity, (prt, top), model.at_rows(model.mentor_gain, lrn) * received)
        np.minimum(state.capacity, 1.0, out=state.capacity)
    return gain


def _partnered(model: Simulation) -> np.ndarray:
    """Members with at least one partnership tie (those the partnership activities reach), as 0/1 per row."""
    state = plugin_state(model, PartnerSet)
    return (np.bincount(state.ties.learner, minlength=model.n) > 0).astype(np.int64)


class _PartnerActivity(Activity):
    """An activity with each member's outside partner: one event per partnership."""

    scope = "pair"
    needs = "partners"
    gain_sources = ("partner",)
    members_travel = False

    def fire(self, model: Simulation, rate: Param) -> Firing:
        """Members learn from their partners; one event per partnership (members travel for a study visit)."""
        learn_from_partners(model, rate)
        reached = _partnered(model)
        travelled = reached if self.members_travel else np.zeros(model.n, dtype=np.int64)
        return Firing(model.per_replicate_sum(reached), reached, travelled)


class VolunteerVisit(_PartnerActivity):
    """Volunteer staff of the outside partner visit the member and train on site."""

    name = "volunteer_visit"
    mode = "in_person"
    description = "Volunteer staff of the outside partner visit the member and train on site."
    default_rate = 0.45
    rate_relative_to = ("exchange_visit", 1.5)  # a week of on-site training against a 2-day visit: assumption
    default_cost = ActivityCost(per_event=3000.0, participants=4, days=3.0, volunteer_days=14.0)
    source = "UK Health Partnership Scheme (editorial in seeds): volunteer visits; rate and costs: assumption"


class PartnerStudyVisit(_PartnerActivity):
    """Member staff visit the outside partner abroad."""

    name = "partner_study_visit"
    mode = "in_person"
    description = "Member staff visit the outside partner abroad."
    members_travel = True
    default_rate = 0.30
    rate_relative_to = ("exchange_visit", 1.0)  # a visit to a twin, in a very different setting: assumption
    default_cost = ActivityCost(per_participant=4000.0, participants=2, days=10.0, volunteer_days=4.0)
    source = "assumption: as an exchange visit, in a very different setting"


class RemoteMentoring(_PartnerActivity):
    """Volunteer staff of the outside partner mentor the member by video call."""

    name = "remote_mentoring"
    mode = "virtual"
    description = "Volunteer staff of the outside partner mentor the member by video call."
    default_rate = 0.05
    default_cost = ActivityCost(per_event=15.0, participants=3, days=0.5, volunteer_days=0.5)
    source = "assumption: between a virtual workshop and virtual coaching"
    in_person_counterpart = "volunteer_visit"


class NorthSouth(DeliveryModel):
    """North-south partnership: each member twins with one outside institution of high capacity.

    Partners are drawn when the model is built (from each replicate's own partner stream); at the kickoff each
    member forms a tie to its partner on every topic it chose where the partner leads it by ``programme.min_gap``.
    Informal contact with the partner goes on every month at ``learning.peer_contact_rate`` (times
    ``followup_tie_intensity`` after the programme), like contact between peers. No peer ties form.
    """

    name = "north_south"
    description = "North-south partnership: an outside partner of high capacity but low similarity; volunteer time."
    provides = frozenset({"partners"})
    gain_sources = ("partner",)

    def form_ties(self, model: Simulation) -> Ties:
        """Tie each member to its partner on its chosen topics where the partner leads; no peer ties."""
        state = plugin_state(model, PartnerSet)
        leads = state.capacity >= model.capacity + model.params.programme.min_gap
        row, topic = np.nonzero(model.selected & model.applicable & leads)
        state.ties = Ties(row.astype(np.int64), row.astype(np.int64), topic.astype(np.int64))
        state.flow = np.zeros(len(state.ties))
        return Ties.empty()

    def setup(self, model: Simulation) -> PartnerSet:
        """Draw one outside partner per member from each replicate's own partner stream."""
        spec = model.params.programme.partners
        mean = model.precise_parameter("programme.partners.capacity_mean")  # per replicate in a PSA
        a = mean * spec.capacity_concentration
        b = (1.0 - mean) * spec.capacity_concentration
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):  # per replicate
            a, b = a[:, None, None], b[:, None, None]
        shape = (model.n_institutions, len(model.topic_names))
        capacity = model.streams.beta("partners", "capacity", a, b, shape).reshape(model.n, shape[1])
        weight = np.broadcast_to(model.per_row(model.learning_value("similarity_weight")), (model.n,))
        similarity = np.exp(-weight * model.per_row(model.parameter("programme.partners.context_distance")))
        return PartnerSet(model, capacity, capacity.copy(), similarity, Ties.empty(), np.zeros(0))

    def monthly(self, model: Simulation, contact_rate: Param) -> None:
        """Informal contact with the partner, as between peers."""
        learn_from_partners(model, contact_rate)

    def tie_cells(self, model: Simulation) -> np.ndarray:
        """Rows x topics on which a member has a tie to its outside partner."""
        cells = np.zeros(model.capacity.shape, dtype=bool)
        ties = plugin_state(model, PartnerSet).ties
        cells[ties.learner, ties.topic] = True
        return cells

    def ties_formed(self, model: Simulation) -> np.ndarray:
        """Ties to outside partners per replicate (no peer ties form)."""
        return model.per_replicate_count(model.ties.learner) + model.per_replicate_count(
            plugin_state(model, PartnerSet).ties.learner
        )
