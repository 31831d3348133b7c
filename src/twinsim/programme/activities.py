"""Delivery models and their activities, each registered by name.

An *activity* (kickoff workshop, exchange visit, coaching, learning event) is a few array operations
on the model's state over index arrays; it returns an :class:`ActivityFiring` that says who took part,
which :mod:`twinsim.programme.costs` prices. A *delivery model* decides who twins with whom at the kickoff.
Adding either is adding one registered function or class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from twinsim.model import learning
from twinsim.programme.matching import MATCHING_RULES, MatchRequest, Ties

if TYPE_CHECKING:
    from twinsim.model import TwinningModel

__all__ = [
    "ACTIVITIES",
    "DELIVERY_MODELS",
    "Activity",
    "ActivityFiring",
    "DeliveryModel",
    "extra_stream",
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
        scale: share of the planned firing that took place (below 1 when the experts' days ran out); every
            cost of the firing is multiplied by it.

    """

    events: int
    involved: np.ndarray
    travelled: np.ndarray
    scale: float = 1.0


@dataclass(frozen=True)
class Activity:
    """A registered activity type: its scope, its mode and what it does to the model's state.

    Attributes:
        fixed: fires once whatever ``programme.volume`` (the launch); other activities scale with it.
        needs: what the delivery model must provide (``"partners"``, ``"experts"``), or None.

    """

    name: str
    scope: Scope
    mode: Mode
    apply: Callable[[TwinningModel, float], ActivityFiring]
    description: str
    fixed: bool = False
    needs: str | None = None


ACTIVITIES: dict[str, Activity] = {}
ActivityEffect = Callable[["TwinningModel", float], ActivityFiring]


def register_activity(
    name: str, scope: Scope, mode: Mode, description: str, *, fixed: bool = False, needs: str | None = None
) -> Callable[[ActivityEffect], ActivityEffect]:
    """Decorator: register an activity's effect function under ``name``."""

    def deco(func: ActivityEffect) -> ActivityEffect:
        ACTIVITIES[name] = Activity(name, scope, mode, func, description, fixed, needs)
        return func

    return deco


_activity = register_activity


EXTRA_STREAMS = ("partners", "experts")


def extra_stream(model: TwinningModel, label: str) -> np.random.Generator:
    """A random stream of the run for a delivery model's own draws (one of :data:`EXTRA_STREAMS`).

    Derived from the run's seed sequence with a key apart from the model's named streams (1000 + its index), so
    drawing from it leaves every draw of the population, choice, matching and dynamics streams unchanged
    (common random numbers).
    """
    seq = model.seed_sequence
    key = 1000 + EXTRA_STREAMS.index(label)
    return np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, key)))


# --------------------------------------------------------------------------------------------------
# Shared mechanics


def learn_along_ties(model: TwinningModel, rate: float, ties: np.ndarray | None = None) -> np.ndarray:
    """Transfer along the active ties (or the subset ``ties``) at ``rate``; returns the gain per tie.

    Each learner gains ``transfer(c_learner, c_mentor, rate * effort * similarity)`` on the tie's
    topic; its mentor gains ``mentor_gain`` times that (two-way learning).
    """
    n_ties = len(model.ties) if ties is None else ties.size
    if n_ties == 0 or rate == 0 or not model.programme_learning:
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
    if not model.programme_learning:
        return
    _, cell = np.unique(groups * (model.kind.max() + 1) + model.kind, return_inverse=True)
    present = np.bincount(cell)[cell] >= 2
    learn_from_source(model, rate, group_quantile(model.capacity, model.applicable, cell, 0.9)[cell], present)


def learn_from_source(model: TwinningModel, rate: float, source: np.ndarray, present: np.ndarray) -> None:
    """The learning step of :func:`learn_from_best`: chosen topics move towards ``source`` where ``present``.

    Args:
        model: the model.
        rate: the event's rate.
        source: institutions x topics, the capacity each institution learns from.
        present: per institution, whether its group at the event has at least two members of its kind.

    """
    cap = model.capacity
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


@_activity(
    "kickoff_workshop", "network", "in_person", "Launch: assess gaps, choose topics, match twins, plan.", fixed=True
)
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
    """How a programme forms partnership ties; subclasses register themselves by name.

    A delivery model may also bring its own agents and state (``setup``, kept by the model as
    ``model.delivery_state``), act every month (``monthly``: contact with outside partners), and provide what
    some activities need (``provides``: ``"partners"``, ``"experts"``).
    """

    name: str = ""
    description: str = ""
    runs_activities: bool = True
    provides: frozenset[str] = frozenset()

    def form_ties(self, model: TwinningModel) -> Ties:
        """Return the ties (learner, mentor, topic) formed at the kickoff workshop."""
        raise NotImplementedError

    def setup(self, model: TwinningModel) -> object | None:
        """Create the model's own agents and state when the model is built (default: none)."""
        return None

    def monthly(self, model: TwinningModel, contact_rate: float) -> None:
        """Monthly learning beyond the peer ties, at the month's contact rate (default: none)."""

    def ties_formed(self, model: TwinningModel) -> int:
        """Partnership ties formed: peer ties plus any ties to outside partners."""
        return len(model.ties)


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


@register_delivery_model
class PairTwinning(DeliveryModel):
    """WHO Twinning Partnerships for Improvement: fixed one-to-one pairs of a higher and a lower performer.

    Within each kind, institutions are ranked by mean baseline capacity over their topics; the k-th of the
    lower half is paired with the k-th of the upper half (with an odd count the median institution is left
    without a partner). The same partner serves for every topic: on each topic an institution chose at the
    gap assessment, it learns from its partner if the partner leads it there by ``programme.min_gap``
    (so learning may run both ways). ``programme.matching`` and ``twins_per_topic`` do not apply.
    """

    name = "pair_twinning"
    description = "WHO TPI: fixed one-to-one pairs of a higher and a lower performer, the same partner for all topics."

    def form_ties(self, model: TwinningModel) -> Ties:
        pairs = fixed_pairs(model.capacity, model.applicable, model.kind)
        if pairs.size == 0:
            return Ties.empty()
        a, b = np.concatenate([pairs[:, 0], pairs[:, 1]]), np.concatenate([pairs[:, 1], pairs[:, 0]])
        cap, gap = model.capacity, model.params.programme.min_gap
        wants = model.selected[a] & model.applicable[b] & (cap[b] >= cap[a] + gap)
        row, topic = np.nonzero(wants)
        return Ties(a[row].astype(np.int64), b[row].astype(np.int64), topic.astype(np.int64))


def fixed_pairs(capacity: np.ndarray, applicable: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """One-to-one pairs (lower, higher) within each kind, by rank of mean capacity: rank k with rank k + n//2."""
    mean = np.where(applicable, capacity, 0.0).sum(axis=1) / np.maximum(applicable.sum(axis=1), 1)
    pairs = []
    for k in np.unique(kind):
        rows = np.flatnonzero(kind == k)
        rows = rows[np.argsort(mean[rows], kind="stable")]
        half = rows.size // 2
        pairs.append(np.stack([rows[:half], rows[rows.size - half :]], axis=1))
    return np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)


# Delivery models with their own agents and activities register themselves on import.
from twinsim.programme import experts, partners  # noqa: E402, F401
