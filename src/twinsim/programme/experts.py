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
from twinsim.programme.delivery import DeliveryModel, TPNNetwork, plugin_state
from twinsim.programme.matching import Ties

if TYPE_CHECKING:
    from twinsim.kernel.agents import ExternalExpert, MinistryLeader

__all__ = [
    "DeliverySupport",
    "ExpertParams",
    "ExpertTeam",
    "ExternalExperts",
    "Hybrid",
    "KnowledgeSharingSession",
    "LeaderCoaching",
    "LeadershipRetreat",
    "priority_topics",
]


class ExpertParams(Section):
    """The consulting team of the ``external_experts`` and ``hybrid`` delivery models."""

    team_size: int = param(
        3,
        ge=1,
        le=100,
        description="External experts in the team (ExternalExpert agents).",
        source="assumption: a small consulting team (case study: the team size is not published)",
    )
    days_available: float = param(
        500.0,
        unit="days",
        ge=0,
        le=100_000,
        description="Expert days contracted for the programme (times programme.volume); activities beyond them"
        " fire only in part.",
        source=(
            "assumption: enough for a schedule like the case study's (3 retreats, 7 coaching rounds, 2"
            " knowledge-sharing sessions, delivery support); limited days are what distinguishes experts"
        ),
    )
    know_how: float = param(
        0.9,
        unit="capacity",
        gt=0,
        le=1,
        plausible=(0.7, 1.0),
        prior=assumed("experts", 0.7, 1.0, "outside experts know the priority topics well, not perfectly"),
        description="Experts' capacity on the priority topics: the level they teach towards.",
        source="assumption: experts know their priority topics well (MODEL.md: high know-how)",
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
            "experts",
            "assumption: from a national peer's distance (about 0.5) to twice the default; " + NDENGA_2016,
        ),
        description="Resource and context distance between an expert and any institution:"
        " similarity = exp(-similarity_weight * distance).",
        source=(
            "assumption: outsiders to every institution (MODEL.md: low context similarity); exp(-1.5) = 0.22 against"
            " about 0.58 for the Rwanda TPN's peer ties; direction from Ndenga et al. 2016"
        ),
    )
    priority_topics: int = param(
        5,
        ge=1,
        le=50,
        description="Topics chosen as sector priorities for delivery support (largest interest-weighted gap).",
        source="case study (shared/seeds/): delivery support on 5 priorities",
    )
    senior_leaders: int = param(
        42,
        ge=1,
        le=10_000,
        description="Ministry-level senior leaders coached by the experts (MinistryLeader agents; the first"
        " priority_topics of them sponsor one priority each; mechanisms.expert_programme).",
        source="case study: 7 coaching rounds for 42 senior leaders",
    )
    ministry_leadership_mean: float = param(
        0.6,
        ge=0.01,
        le=0.99,
        plausible=(0.3, 0.9),
        prior=assumed("experts", 0.3, 0.9, "the case study gives no measure of the senior leaders' commitment"),
        description="Mean commitment of the Ministry's senior leaders (beta distribution, concentration 8).",
        source="assumption (ODD 7.22): as the institutions' leadership_mean",
    )
    traction_threshold: float = param(
        0.88,
        ge=0,
        le=1,
        plausible=(0.75, 0.95),
        prior=assumed(
            "experts",
            0.75,
            0.95,
            "set so that about 2 of 5 priorities gain traction, as the case study reports (a check, docs/ODD.md)",
        ),
        description="A priority gains traction (delivery support and knowledge sharing act on it) only while its"
        " sponsoring senior leader's commitment is at least this.",
        source=(
            "assumption (ODD 7.22), set so that about 2 of the 5 priorities have traction at the end of the Rwanda"
            " expert programme (case study: two priorities 'gained significant traction, driven by strong ministerial"
            " leadership'; 100 replicates: 2.45)"
        ),
    )
    tracking_rate: float = param(
        0.05,
        unit="per month",
        ge=0,
        le=1,
        plausible=(0.0, 0.15),
        prior=assumed("experts", 0.0, 0.15, "the priority-tracking team's reach is not measured"),
        description="Monthly step, towards 1, of every institution's interest in the priorities with traction, by"
        " the ministerial priority-tracking routine (from the first retreat on, also after the programme).",
        source=(
            "assumption (ODD 7.22): the tracking team closes 5% of the headroom in interest a month (case study: a"
            " ministerial priority-tracking team)"
        ),
    )


@dataclass
class ExpertTeam:
    """The consulting team of every replicate.

    Attributes:
        priorities: replicates x topics, the sector priorities each replicate's team supports.
        know_how: capacity the experts teach towards on the priority topics.
        similarity: similarity of an expert to any member (low: an outsider).
        days_left: per replicate, contracted days not yet worked (the team's days are pooled).
        size: experts per team.
        senior_leaders: replicates x leaders, the commitment of the Ministry's senior leaders (ODD 7.22).
        active: per replicate, whether a retreat has set the priorities yet (always with the mechanism off).
        programme: ``mechanisms.expert_programme``: Ministry leaders, traction and tracking act.
        ministry_level: the coaching and the delivery support work with the Ministry (its senior leaders, its teams
            on the priorities) as in the case study, and reach facilities only through traction and tracking; off
            (the hybrid, or the mechanism off), they work with each member.

    """

    model: Simulation = field(repr=False)
    priorities: np.ndarray
    know_how: Param  # a number, or a column over rows when the replicates' values differ
    similarity: Param  # a number, or a column over rows when the replicates' weights differ
    days_left: np.ndarray
    size: int
    senior_leaders: np.ndarray
    active: np.ndarray
    programme: bool
    ministry_level: bool = False
    _experts: list[ExternalExpert] | None = field(default=None, repr=False)
    _leaders: list[MinistryLeader] | None = field(default=None, repr=False)

    @property
    def agents(self) -> list[ExternalExpert | MinistryLeader]:
        """The ExternalExpert agents of every replicate's team, and its Ministry's senior leaders (on first access)."""
        from twinsim.kernel.agents import ExternalExpert, MinistryLeader, mesa_model

        if self._experts is None:
            model = mesa_model(self.model, "external experts")
            reps = model.replicates
            self._experts = [ExternalExpert(model, b) for b in range(reps) for _ in range(self.size)]
            if self.programme:
                leaders = self.senior_leaders.shape[1]
                self._leaders = [MinistryLeader(model, b, k) for b in range(reps) for k in range(leaders)]
        return [*self._experts, *(self._leaders or [])]

    def sponsor_commitment(self) -> np.ndarray:
        """Replicates x topics: the commitment of the senior leader sponsoring each priority (0 elsewhere)."""
        rank = np.minimum(np.cumsum(self.priorities, axis=1) - 1, self.senior_leaders.shape[1] - 1)
        sponsor = np.take_along_axis(self.senior_leaders, np.maximum(rank, 0), axis=1)
        return np.where(self.priorities, sponsor, 0.0)

    def traction(self) -> np.ndarray:
        """Replicates x topics: the priorities the experts' work acts on.

        Every priority with the mechanism off; with it on, the priorities set by a retreat whose sponsor's commitment
        is at least ``traction_threshold``.
        """
        if not self.programme:
            return self.priorities
        threshold = self.model.precise_parameter("programme.experts.traction_threshold")
        threshold = threshold[:, None] if isinstance(threshold, np.ndarray) else threshold
        return self.priorities & self.active[:, None] & (self.sponsor_commitment() >= threshold)

    def raise_senior_leaders(self, step: np.ndarray) -> None:
        """Raise every senior leader's commitment by ``step`` (per replicate) of its headroom (a programme effect)."""
        if self.programme and self.model.programme_learning:
            self.senior_leaders = self.senior_leaders + step[:, None] * (1.0 - self.senior_leaders)

    def track(self) -> None:
        """The ministerial tracking routine: every institution's interest in the priorities with traction rises."""
        if not self.programme or not self.active.any():
            return
        model = self.model
        rate = model.column(model.parameter("programme.experts.tracking_rate"))
        model.raise_towards_one("interest", rate, self.traction()[model.block] & model.applicable)

    def book(self, days: np.ndarray) -> np.ndarray:
        """Book ``days`` of work per replicate; returns the share that could be delivered (1 while days remain)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(days > 0, np.minimum(1.0, self.days_left / days), 1.0)
        self.days_left = self.days_left - days * share
        return share


def priority_topics(
    capacity: np.ndarray, interest: np.ndarray, applicable: np.ndarray, know_how: Param, count: int
) -> np.ndarray:
    """The ``count`` topics with the largest mean interest-weighted gap to the experts' know-how.

    Arrays are replicates x institutions x topics (or institutions x topics for one replicate); returns a bool
    mask of replicates x topics (or of topics).
    """
    gap = np.where(applicable, interest * np.maximum(know_how - capacity, 0.0), 0.0)
    score = gap.sum(axis=-2) / np.maximum(applicable.sum(axis=-2), 1)
    chosen = np.zeros(score.shape, dtype=bool)
    order = np.argsort(-score, axis=-1, kind="stable")[..., : min(count, score.shape[-1])]
    np.put_along_axis(chosen, order, True, axis=-1)
    return chosen


def _book(model: Simulation, activity: str, events: np.ndarray) -> np.ndarray:
    team = plugin_state(model, ExpertTeam)
    return team.book(model.unit_cost(activity).expert_days * events * model.params.programme.volume)


def _learn_from_experts(model: Simulation, rate: np.ndarray, members: np.ndarray) -> None:
    """Members learn the priority topics towards the experts' know-how, at the experts' similarity.

    ``rate`` is per replicate (the delivered share of the activity times its rate).
    """
    team = plugin_state(model, ExpertTeam)
    cells = members[:, None] & team.traction()[model.block] & model.applicable
    intensity = rate[model.block][:, None] * model.effort() * team.similarity
    gain = learning.transfer(
        model.capacity, team.know_how, intensity, model.column(model.learning_value("gap_ceiling"))
    )
    model.apply_gain("expert", gain * cells)


class _ExpertActivity(Activity):
    needs = "experts"
    gain_sources = ("expert",)


class LeadershipRetreat(_ExpertActivity):
    """Senior leaders of all members meet the experts to set and review the priorities."""

    name = "leadership_retreat"
    scope = "network"
    mode = "in_person"
    description = "Senior leaders of all members meet the experts to set and review the priorities."
    default_rate = 0.15
    default_cost = ActivityCost(per_event=12000.0, per_participant=100.0, participants=2, days=2.0, expert_days=9.0)
    source = "external-expert case study (3 retreats); rate and costs: assumption"

    def fire(self, model: Simulation, rate: Param) -> Firing:
        """Raises leadership commitment, and interest in the priority topics, by ``1 - exp(-rate)`` of the headroom."""
        share = _book(model, self.name, np.ones(model.replicates))
        team = plugin_state(model, ExpertTeam)
        team.active |= share > 0  # the retreats set (and then review) the sector priorities
        team.raise_senior_leaders(-np.expm1(-rate * share))
        step = -np.expm1(-rate * share)[model.block]
        model.raise_towards_one("leadership", step)
        model.raise_towards_one("interest", step[:, None], team.priorities[model.block] & model.applicable)
        everyone = np.ones(model.n, dtype=np.int64)
        return Firing(np.ones(model.replicates, dtype=np.int64), everyone, everyone, share)


class LeaderCoaching(_ExpertActivity):
    """A coaching round: an expert coaches each member's senior leader on delivery challenges."""

    name = "leader_coaching"
    scope = "member"
    mode = "in_person"
    description = "A coaching round: an expert coaches each member's senior leader on delivery challenges."
    default_rate = 0.10
    default_cost = ActivityCost(per_event=40.0, participants=1, days=0.5, expert_days=0.5)
    source = "external-expert case study (7 coaching rounds for 42 senior leaders); rate and costs: assumption"

    def fire(self, model: Simulation, rate: Param) -> Firing:
        """Raises each coached leader's commitment by ``1 - exp(-rate)`` of the headroom.

        At the Ministry (``ExpertTeam.ministry_level``) the Ministry's senior leaders are coached, one session each,
        and no member's staff take part; otherwise each member's senior leader.
        """
        team = plugin_state(model, ExpertTeam)
        if team.ministry_level:
            events = np.full(model.replicates, team.senior_leaders.shape[1], dtype=np.int64)
            share = _book(model, self.name, events)
            team.raise_senior_leaders(-np.expm1(-rate * share))
            nobody = np.zeros(model.n, dtype=np.int64)
            return Firing(events, nobody, nobody, share)
        events = np.full(model.replicates, model.n_institutions, dtype=np.int64)
        share = _book(model, self.name, events)
        team.raise_senior_leaders(-np.expm1(-rate * share))
        model.raise_towards_one("leadership", -np.expm1(-rate * share)[model.block])
        return Firing(events, np.ones(model.n, dtype=np.int64), np.zeros(model.n, dtype=np.int64), share)


class KnowledgeSharingSession(_ExpertActivity):
    """Mid-level leaders of all members learn the experts' tools for the priority topics."""

    name = "knowledge_sharing_session"
    scope = "network"
    mode = "in_person"
    description = "Mid-level leaders of all members learn the experts' tools for the priority topics."
    default_rate = 0.10
    rate_relative_to = ("provincial_learning_event", 1.25)  # a day of workshops by experts: assumption
    default_cost = ActivityCost(per_event=3000.0, per_participant=60.0, participants=2, days=1.0, expert_days=6.0)
    source = "external-expert case study (2 knowledge-sharing sessions); rate and costs: assumption"

    def fire(self, model: Simulation, rate: Param) -> Firing:
        """Every member learns the priority topics from the experts (low similarity, effort-gated)."""
        share = _book(model, self.name, np.ones(model.replicates))
        _learn_from_experts(model, rate * share, np.ones(model.n, dtype=bool))
        everyone = np.ones(model.n, dtype=np.int64)
        return Firing(np.ones(model.replicates, dtype=np.int64), everyone, everyone, share)


class DeliverySupport(_ExpertActivity):
    """Hands-on support on the priority topics: root causes, delivery plans, routines."""

    name = "delivery_support"
    scope = "member"
    mode = "in_person"
    description = "Hands-on support on the priority topics: root causes, delivery plans, routines."
    default_rate = 0.30
    rate_relative_to = ("exchange_visit", 1.0)  # hands-on support on site, as an exchange visit: assumption
    default_cost = ActivityCost(per_event=50.0, participants=3, days=1.0, expert_days=1.0)
    source = "external-expert case study (delivery support on 5 priorities); rate and costs: assumption"

    def fire(self, model: Simulation, rate: Param) -> Firing:
        """Each member with a priority topic gets one support visit; traction follows its effort (leadership).

        At the Ministry (``ExpertTeam.ministry_level``) a round supports the Ministry's team on each priority (one
        event per priority: root causes, delivery plans, routines) and no member is visited; members learn on the
        priorities with traction, through the routines, gated by their own effort.
        """
        team = plugin_state(model, ExpertTeam)
        members = (model.applicable & team.priorities[model.block]).any(axis=1)
        if team.ministry_level:
            events = team.priorities.sum(axis=1).astype(np.int64)
            share = _book(model, self.name, events)
            _learn_from_experts(model, rate * share, members)
            nobody = np.zeros(model.n, dtype=np.int64)
            return Firing(events, nobody, nobody, share)
        events = model.per_replicate_sum(members)
        share = _book(model, self.name, events)
        _learn_from_experts(model, rate * share, members)
        return Firing(events, members.astype(np.int64), np.zeros(model.n, dtype=np.int64), share)


def _team(model: Simulation, ministry_level: bool = False) -> ExpertTeam:
    spec = model.params.programme.experts
    shape = (model.replicates, model.n_institutions, len(model.topic_names))
    know_how = model.parameter("programme.experts.know_how")  # per replicate in a probabilistic sensitivity analysis
    priorities = priority_topics(
        model.capacity.reshape(shape),
        model.interest.reshape(shape),
        model.applicable.reshape(shape),
        know_how.reshape(-1, 1, 1) if isinstance(know_how, np.ndarray) and know_how.ndim else know_how,
        spec.priority_topics,
    )
    days = np.full(model.replicates, spec.days_available * model.params.programme.volume)
    distance = model.column(model.parameter("programme.experts.context_distance"))
    similarity = np.exp(-model.column(model.learning_value("similarity_weight")) * distance)
    programme = model.params.mechanisms.expert_programme
    leaders, active = np.zeros((model.replicates, 0)), np.ones(model.replicates, dtype=bool)
    if programme:  # the Ministry's senior leaders, from each replicate's own experts stream
        a, conc = model.precise_parameter("programme.experts.ministry_leadership_mean") * 8.0, 8.0
        a = a[:, None] if isinstance(a, np.ndarray) else a
        leaders = model.streams.beta("experts", "senior_leaders", a, conc - a, (spec.senior_leaders,))
        active = np.zeros(model.replicates, dtype=bool)
    know_how = model.column(know_how)
    return ExpertTeam(
        model, priorities, know_how, similarity, days, spec.team_size, leaders, active, programme,
        ministry_level and programme,
    )  # fmt: skip


class ExternalExperts(DeliveryModel):
    """A consulting team (ExternalExpert agents): leadership retreats and coaching, knowledge sharing, delivery support.

    No peer ties form; the team's priorities are set when the model is built, from baseline capacity and interest.
    """

    name = "external_experts"
    gain_sources = ("expert",)
    needs_kickoff = False  # the experts set the priorities themselves at the start
    description = "External experts: leadership retreats and coaching, delivery support on a few priority topics."
    provides = frozenset({"experts"})

    def form_ties(self, model: Simulation) -> Ties:
        """No peer ties: the experts work with every member directly."""
        return Ties.empty()

    def setup(self, model: Simulation) -> ExpertTeam:
        """Contract the team and set the priorities; it works with the Ministry, as in the case study."""
        return _team(model, ministry_level=True)

    def monthly(self, model: Simulation, contact_rate: Param) -> None:
        """The ministerial priority-tracking routine (ODD 7.22), also after the experts leave."""
        plugin_state(model, ExpertTeam).track()

    def worked_topics(self, model: Simulation) -> np.ndarray:
        """The sector priorities set with the experts (not each member's own choice)."""
        return plugin_state(model, ExpertTeam).priorities[model.block] & model.applicable

    def outcomes(self, model: Simulation) -> dict[str, np.ndarray]:
        """``priorities_with_traction``: how many priorities had traction at the end of the run.

        A check, not a fitted input: the case study reports 2 of 5.
        """
        return {"priorities_with_traction": plugin_state(model, ExpertTeam).traction().sum(axis=1).astype(float)}


class Hybrid(TPNNetwork):
    """The twinning network (same ties as ``tpn_network``) plus expert coaching of senior leaders."""

    name = "hybrid"
    description = "Hybrid: the twinning network plus expert coaching of senior leaders."
    provides = frozenset({"experts"})

    def setup(self, model: Simulation) -> ExpertTeam:
        """Contract the coaching team (the ties form at the kickoff, as in the TPN)."""
        return _team(model)

    def monthly(self, model: Simulation, contact_rate: Param) -> None:
        """The ministerial priority-tracking routine (ODD 7.22), once a retreat has set the priorities."""
        plugin_state(model, ExpertTeam).track()

    def worked_topics(self, model: Simulation) -> np.ndarray:
        """The members' chosen topics and the sector priorities of the expert coaching."""
        return (model.selected | plugin_state(model, ExpertTeam).priorities[model.block]) & model.applicable
