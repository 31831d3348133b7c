"""Delivery models and their activities, each registered by name.

An *activity* (kickoff workshop, exchange visit, coaching, learning event) is a few array operations
on the model's state over index arrays; it returns an :class:`ActivityFiring` that says who took part,
which :mod:`twinsim.costs` prices. A *delivery model* decides who twins with whom at the kickoff.
Adding either is adding one registered function or class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from twinsim import learning
from twinsim.matching import MATCHING_RULES, MatchRequest, Ties

if TYPE_CHECKING:
    from twinsim.model import TwinningModel

__all__ = ["ACTIVITIES", "DELIVERY_MODELS", "Activity", "ActivityFiring", "DeliveryModel", "register_delivery_model"]

Scope = Literal["network", "region", "pair", "member"]
Mode = Literal["in_person", "virtual"]


@dataclass(frozen=True)
class ActivityFiring:
    """Who took part in one firing of an activity.

    Attributes:
        events: number of separate events (workshops, visits, coaching sessions).
        involved: per institution, how many times its staff took part (attending, visiting or hosting).
        travelled: per institution, how many times its staff travelled for it.

    """

    events: int
    involved: np.ndarray
    travelled: np.ndarray


@dataclass(frozen=True)
class Activity:
    """A registered activity type: its scope, its mode and what it does to the model's state."""

    name: str
    scope: Scope
    mode: Mode
    apply: Callable[[TwinningModel, float], ActivityFiring]
    description: str


ACTIVITIES: dict[str, Activity] = {}
ActivityEffect = Callable[["TwinningModel", float], ActivityFiring]


def _activity(name: str, scope: Scope, mode: Mode, description: str):
    def deco(
        func: Callable[[TwinningModel, float], ActivityFiring],
    ) -> Callable[[TwinningModel, float], ActivityFiring]:
        ACTIVITIES[name] = Activity(name, scope, mode, func, description)
        return func

    return deco


# --------------------------------------------------------------------------------------------------
# Shared mechanics


def learn_along_ties(model: TwinningModel, rate: float, ties: np.ndarray | None = None) -> np.ndarray:
    """Transfer along the active ties (or the subset ``ties``) at ``rate``; returns the gain per tie.

    Each learner gains ``transfer(c_learner, c_mentor, rate * effort * similarity)`` on the tie's
    topic; its mentor gains ``mentor_gain`` times that (two-way learning).
    """
    idx = np.arange(len(model.ties)) if ties is None else ties
    if idx.size == 0 or rate == 0 or not model.programme_learning:
        return np.zeros(idx.size)
    lrn, mnt, top = model.ties.learner[idx], model.ties.mentor[idx], model.ties.topic[idx]
    cap = model.capacity
    intensity = rate * model.effort()[lrn, top] * model.tie_similarity[idx]
    gain = learning.transfer(cap[lrn, top], cap[mnt, top], intensity, model.params.learning.gap_ceiling)
    delta = np.zeros_like(cap)
    np.add.at(delta, (lrn, top), gain)
    np.add.at(delta, (mnt, top), model.params.learning.mentor_gain * gain)
    model.capacity = np.clip(cap + delta, 0.0, 1.0)
    model.tie_flow[idx] += gain
    return gain


def learn_from_best(model: TwinningModel, rate: float, groups: np.ndarray) -> None:
    """Event learning: members learn their chosen topics from the best performers of their kind present.

    ``groups`` labels who meets whom (one label for a network-wide event, the region for a provincial
    one). The source is the 90th percentile of capacity among members of the learner's kind in the
    group; everyone at the event is a peer from the same health system (similarity 1).
    """
    if not model.programme_learning:
        return
    cap = model.capacity
    eff = model.effort()
    new = cap.copy()
    for label in np.unique(groups):
        for k in np.unique(model.kind):
            rows = np.flatnonzero((groups == label) & (model.kind == k))
            if rows.size < 2:
                continue
            present = np.where(model.applicable[rows], cap[rows], np.nan)
            usable = ~np.all(np.isnan(present), axis=0)
            source = np.zeros(cap.shape[1])
            source[usable] = np.nanquantile(present[:, usable], 0.9, axis=0)
            gain = learning.transfer(cap[rows], source[None, :], rate * eff[rows], model.params.learning.gap_ceiling)
            new[rows] += gain * model.selected[rows]
    model.capacity = np.clip(new, 0.0, 1.0)


def _everyone(model: TwinningModel, mode: Mode) -> tuple[np.ndarray, np.ndarray]:
    ones = np.ones(model.n, dtype=np.int64)
    return ones, ones if mode == "in_person" else np.zeros(model.n, dtype=np.int64)


# --------------------------------------------------------------------------------------------------
# Activities


@_activity("kickoff_workshop", "network", "in_person", "Launch: assess gaps, choose topics, match twins, plan.")
def kickoff_workshop(model: TwinningModel, rate: float) -> ActivityFiring:
    """Form the partnership ties of the delivery model; a little learning from the network's best."""
    model.form_ties()
    if rate:
        learn_from_best(model, rate, np.zeros(model.n, dtype=np.int64))
    involved, travelled = _everyone(model, "in_person")
    return ActivityFiring(1, involved, travelled)


@_activity("exchange_visit", "pair", "in_person", "Learner staff visit their twin on site, for all shared topics.")
def exchange_visit(model: TwinningModel, rate: float) -> ActivityFiring:
    """Each learner-twin pair has one visit; learners travel, twins host."""
    learn_along_ties(model, rate)
    model.tie_events += 1
    pairs = np.unique(np.stack([model.ties.learner, model.ties.mentor]), axis=1)
    involved = np.bincount(pairs.ravel(), minlength=model.n) if pairs.size else np.zeros(model.n, np.int64)
    travelled = np.bincount(pairs[0], minlength=model.n) if pairs.size else np.zeros(model.n, np.int64)
    return ActivityFiring(pairs.shape[1], involved, travelled)


def _coaching(model: TwinningModel, rate: float) -> ActivityFiring:
    learn_along_ties(model, rate)
    model.tie_events += 1
    coached = np.ones(model.n, dtype=np.int64)  # every member is coached; those with twins apply what they saw
    return ActivityFiring(model.n, coached, np.zeros(model.n, dtype=np.int64))


@_activity("coaching_in_person", "member", "in_person", "A facilitator visits a member to review its twinning plan.")
def coaching_in_person(model: TwinningModel, rate: float) -> ActivityFiring:
    """In-person coaching of every member; members with twins apply what their twins showed them."""
    return _coaching(model, rate)


@_activity("coaching_virtual", "member", "virtual", "A facilitator coaches a member by video call.")
def coaching_virtual(model: TwinningModel, rate: float) -> ActivityFiring:
    """Virtual coaching of every member."""
    return _coaching(model, rate)


@_activity("learning_workshop_virtual", "network", "virtual", "Network-wide virtual learning and experience sharing.")
def learning_workshop_virtual(model: TwinningModel, rate: float) -> ActivityFiring:
    """Every member learns its chosen topics from the best of its kind across the network."""
    learn_from_best(model, rate, np.zeros(model.n, dtype=np.int64))
    involved, travelled = _everyone(model, "virtual")
    return ActivityFiring(1, involved, travelled)


@_activity("provincial_learning_event", "region", "in_person", "Members of one region meet, learn and share.")
def provincial_learning_event(model: TwinningModel, rate: float) -> ActivityFiring:
    """One in-person event per region; members learn from the best of their kind in the region."""
    learn_from_best(model, rate, model.region)
    involved, travelled = _everyone(model, "in_person")
    return ActivityFiring(len(np.unique(model.region)), involved, travelled)


# --------------------------------------------------------------------------------------------------
# Delivery models


class DeliveryModel:
    """How a programme forms partnership ties; subclasses register themselves by name."""

    name: str = ""
    description: str = ""
    runs_activities: bool = True

    def form_ties(self, model: TwinningModel) -> Ties:
        """Return the ties (learner, mentor, topic) formed at the kickoff workshop."""
        raise NotImplementedError


DELIVERY_MODELS: dict[str, DeliveryModel] = {}


def register_delivery_model(cls: type[DeliveryModel]) -> type[DeliveryModel]:
    """Class decorator: register a delivery model under its ``name``."""
    DELIVERY_MODELS[cls.name] = cls()
    return cls


@register_delivery_model
class TPNNetwork(DeliveryModel):
    """Twinning Partnership Network: a high-performing peer of the same kind for every chosen topic."""

    name = "tpn_network"
    description = "Rwanda TPN: topic-specific peers from a network, network-wide and provincial learning events."

    def form_ties(self, model: TwinningModel) -> Ties:
        prog = model.params.programme
        request = MatchRequest(
            capacity=model.capacity,
            selected=model.selected,
            applicable=model.applicable,
            kind=model.kind,
            similarity=model.similarity_between,
            twins_per_topic=prog.twins_per_topic,
            mentor_load_cap=prog.mentor_load_cap,
            min_gap=prog.min_gap,
            rng=model.streams["matching"],
        )
        return MATCHING_RULES[prog.matching](request)


@register_delivery_model
class NoProgramme(DeliveryModel):
    """The counterfactual: no ties, no activities; background trend, motivation and turnover go on."""

    name = "none"
    description = "No programme: the counterfactual."
    runs_activities = False

    def form_ties(self, model: TwinningModel) -> Ties:
        return Ties.empty()
