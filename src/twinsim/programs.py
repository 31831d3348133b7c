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

__all__ = [
    "ACTIVITIES",
    "DELIVERY_MODELS",
    "Activity",
    "ActivityFiring",
    "DeliveryModel",
    "group_quantile",
    "register_delivery_model",
]

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
    n_ties = len(model.ties) if ties is None else ties.size
    if n_ties == 0 or rate == 0:
        return np.zeros(n_ties)
    pick = (lambda a: a) if ties is None else (lambda a: a[ties])  # all ties: no index copies
    lrn, mnt, top = pick(model.ties.learner), pick(model.ties.mentor), pick(model.ties.topic)
    cap, lp = model.capacity, model.params.learning
    n_topics = cap.shape[1]
    learner_cell, mentor_cell = lrn * n_topics + top, mnt * n_topics + top
    effort = learning.effort_at(model.engagement()[lrn], model.interest.ravel()[learner_cell], lp.interest_weight)
    intensity = rate * effort * pick(model.tie_similarity)
    flat = cap.ravel()
    gain = learning.transfer(flat[learner_cell], flat[mentor_cell], intensity, lp.gap_ceiling)
    touched, where = _touched_cells(model, ties, learner_cell, mentor_cell)
    delta = np.bincount(where, np.concatenate([gain, lp.mentor_gain * gain]), touched.size)
    new = cap.copy()  # only the tie cells change (capacity is in [0, 1] everywhere else)
    new.ravel()[touched] = learning.clip01(flat[touched] + delta)
    model.capacity = new
    if ties is None:
        model.tie_flow += gain
    else:
        model.tie_flow[ties] += gain
    return gain


def _touched_cells(
    model: TwinningModel, ties: np.ndarray | None, learner_cell: np.ndarray, mentor_cell: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (institution, topic) cells the ties touch, and where each learner/mentor end falls among them.

    Cached for the whole tie set (fixed after the kickoff), so a month does not sort the ties again.
    """
    cache = getattr(model, "_touched_cache", None)
    if ties is None and cache is not None and cache[0] is model.ties:
        return cache[1], cache[2]
    touched, where = np.unique(np.concatenate([learner_cell, mentor_cell]), return_inverse=True)
    if ties is None:
        model._touched_cache = (model.ties, touched, where)
    return touched, where


def learn_from_best(model: TwinningModel, rate: float, groups: np.ndarray) -> None:
    """Event learning: members learn their chosen topics from the best performers of their kind present.

    ``groups`` labels who meets whom (one label for a network-wide event, the region for a provincial
    one). The source is the 90th percentile of capacity among members of the learner's kind in the
    group; everyone at the event is a peer from the same health system (similarity 1). Groups of fewer
    than two members of a kind learn nothing.
    """
    cap = model.capacity
    _, cell = np.unique(groups * (model.kind.max() + 1) + model.kind, return_inverse=True)
    present = np.bincount(cell)[cell] >= 2
    source = group_quantile(cap, model.applicable, cell, 0.9)[cell]
    gain = learning.transfer(cap, source, rate * model.effort(), model.params.learning.gap_ceiling)
    model.capacity = learning.clip01(cap + gain * (model.selected & present[:, None]))


def group_quantile(values: np.ndarray, mask: np.ndarray, group: np.ndarray, q: float) -> np.ndarray:
    """Per group and column, the ``q`` quantile of ``values`` over rows where ``mask`` is set.

    The same number as ``np.nanquantile`` (linear interpolation, to the last bit) computed for every
    group and column at once with one sort. Columns with no masked value in a group get 0.

    Args:
        values: rows x columns.
        mask: rows x columns, True where a value takes part.
        group: group index (0 .. g-1) of each row.
        q: the quantile in [0, 1].

    Returns:
        groups x columns array.

    """
    n_groups, n_cols = int(group.max()) + 1 if group.size else 0, values.shape[1]
    rows, cols = np.nonzero(mask)
    key = group[rows] * n_cols + cols
    order = np.lexsort((values[rows, cols], key))
    key, sorted_values = key[order], values[rows, cols][order]
    counts = np.bincount(key, minlength=n_groups * n_cols)
    starts = np.cumsum(counts) - counts
    has = counts > 0
    virtual = (counts[has] - 1) * q
    below = np.floor(virtual)
    gamma = virtual - below
    prev = np.where(virtual >= counts[has] - 1, counts[has] - 1, below).astype(np.intp)
    nxt = np.where(virtual >= counts[has] - 1, counts[has] - 1, below + 1).astype(np.intp)
    a, b = sorted_values[starts[has] + prev], sorted_values[starts[has] + nxt]
    diff = b - a  # numpy's _lerp, operation for operation
    out = np.zeros(n_groups * n_cols)
    out[has] = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)
    return out.reshape(n_groups, n_cols)


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
    pair = np.unique(model.ties.learner * model.n + model.ties.mentor)  # one visit per pair, all its topics
    learner, mentor = pair // model.n, pair % model.n
    involved = np.bincount(learner, minlength=model.n) + np.bincount(mentor, minlength=model.n)
    travelled = np.bincount(learner, minlength=model.n)
    return ActivityFiring(pair.size, involved, travelled)


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
