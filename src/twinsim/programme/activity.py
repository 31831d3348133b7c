"""What an activity is, and the learning mechanics activities share.

An activity (kickoff workshop, exchange visit, coaching, learning event ...) is one class: its name, scope and mode,
the defaults it brings (a transfer rate and unit costs, each with its source or stated assumption, used where a
scenario gives none), and ``fire(model, rate)``: a few array operations over every replicate's rows that hand their
capacity gains to the model's one gain path (:meth:`TwinningModel.apply_gain
<twinsim.model.TwinningModel.apply_gain>`) and return a :class:`Firing` saying who took part, which
:mod:`twinsim.programme.costs` prices. Activities are listed explicitly in :mod:`twinsim.programme.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from twinsim.core.parameters import Section
from twinsim.kernel import learning
from twinsim.kernel.state import Param
from twinsim.kernel.surface import Simulation
from twinsim.programme.costs import ActivityCost
from twinsim.programme.delivery import delivery_ties, plugin_settings

__all__ = [
    "Activity",
    "Firing",
    "Mode",
    "Scope",
    "everyone",
    "learn_along_ties",
    "learn_from_best",
    "learn_from_source",
]

Scope = Literal["network", "region", "pair", "member"]
Mode = Literal["in_person", "virtual"]


@dataclass(frozen=True)
class Firing:
    """Who took part in one firing of an activity, in every replicate of the model.

    Attributes:
        events: per replicate, the number of separate events (workshops, visits, coaching sessions).
        involved: per row (institution of a replicate), how many times its staff took part.
        travelled: per row, how many times its staff travelled for it.
        scale: per replicate (or one number), the share of the planned firing that took place (below 1 when the
            experts' days ran out); every cost of the firing is multiplied by it.

    """

    events: np.ndarray
    involved: np.ndarray
    travelled: np.ndarray
    scale: np.ndarray | float = 1.0


class Activity:
    """An activity type. Subclasses set the class attributes and implement :meth:`fire`.

    Attributes:
        name: the name scenarios schedule it by.
        scope: who meets (the whole network, a region, a pair of twins, each member with a facilitator).
        mode: in person or virtual.
        description: one line for tables and help.
        fixed: fires once whatever ``programme.volume`` (the launch); other activities scale with it.
        needs: what the delivery model must provide (``"partners"``, ``"experts"``), or None.
        default_rate: transfer rate used when ``learning.rates`` does not name the activity.
        default_cost: unit costs used when ``costs.activities`` does not name the activity.
        source: where the defaults come from (a reference or a stated assumption).
        in_person_counterpart: for a virtual activity, the in-person activity whose rate it takes
            ``learning.virtual_ratio`` of (``mechanisms.delivery_modes``, ODD 7.21), or None.
        rate_relative_to: ``(activity, multiple)``: when the scenario sets no rate for this activity, it transfers
            ``multiple`` times that (calibrated) activity's rate, so a recalibration carries over (ODD 7.23).

    """

    name: ClassVar[str] = ""
    scope: ClassVar[Scope] = "network"
    mode: ClassVar[Mode] = "in_person"
    description: ClassVar[str] = ""
    fixed: ClassVar[bool] = False
    needs: ClassVar[str | None] = None
    default_rate: ClassVar[float] = 0.0
    default_cost: ClassVar[ActivityCost] = ActivityCost()
    source: ClassVar[str] = "assumption"
    in_person_counterpart: ClassVar[str | None] = None
    rate_relative_to: ClassVar[tuple[str, float] | None] = None
    #: A user's plug-in's own parameter block, set as ``programme.settings.<name>`` (see :meth:`settings`).
    Settings: ClassVar[type[Section] | None] = None
    #: Gain sources beyond ``peer`` and ``event`` that the activity books gains to (``model.apply_gain``): each is
    #: recorded as its own flow and switched off in the counterfactual.
    gain_sources: ClassVar[tuple[str, ...]] = ()
    #: The activity forms the partnership (topic choice and matching): a programme without one forms no ties.
    forms_ties: ClassVar[bool] = False

    def settings(self, model: Simulation) -> Any:
        """The activity's settings in ``model``'s scenario (its ``Settings`` block, defaults where unset)."""
        return plugin_settings(self, model)

    def staff_reach(self, model: Simulation) -> np.ndarray:
        """Per row, how many times its staff take part in one firing (the staff time it takes, ODD 7.20).

        Everyone once, by default; a pair activity between peers takes a learner's staff once per tie it learns
        along and a mentor's once per mentee it hosts; a pair activity with outside partners takes the partnered
        members' staff once.
        """
        if self.scope != "pair":
            return np.ones(model.n)
        if self.needs == "partners":
            return (np.bincount(delivery_ties(model).learner, minlength=model.n) > 0).astype(float)
        return (np.bincount(model.ties.learner, minlength=model.n) + model.mentees()).astype(float)

    def fire(self, model: Simulation, rate: Param) -> Firing:
        """Apply one firing at ``rate`` to every replicate of ``model``; return who took part."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, scope={self.scope!r}, mode={self.mode!r})"


def everyone(model: Simulation, mode: Mode, events: int = 1) -> Firing:
    """Every member takes part (``events`` per replicate); members travel when the activity is in person."""
    ones = np.ones(model.n, dtype=np.int64)
    travelled = ones if mode == "in_person" else np.zeros(model.n, dtype=np.int64)
    return Firing(np.full(model.replicates, events, dtype=np.int64), ones, travelled)


# --------------------------------------------------------------------------------------------------
# Shared mechanics


def learn_along_ties(model: Simulation, rate: Param, ties: np.ndarray | None = None) -> np.ndarray:
    """Transfer along the active ties (or the subset ``ties``) at ``rate``; returns the gain per tie.

    Each learner gains ``transfer(c_learner, c_mentor, rate * effort * similarity * availability)`` on the tie's
    topic, where ``availability`` is the mentor's share of its mentees' demand its staff time covers (ODD 7.20;
    1 without ``mechanisms.resources``); its mentor gains ``model.mentor_gain`` times that (two-way learning, ODD
    7.19). Gains go through the model's gain path (source ``peer``), so the counterfactual switches them off.
    """
    n_ties = len(model.ties) if ties is None else ties.size
    if n_ties == 0 or not np.any(rate) or not model.programme_learning:
        return np.zeros(n_ties)
    pick = (lambda a: a) if ties is None else (lambda a: a[ties])  # all ties: no index copies
    lrn, mnt, top = pick(model.ties.learner), pick(model.ties.mentor), pick(model.ties.topic)
    cap = model.capacity
    n_topics = cap.shape[1]
    learner_cell, mentor_cell = lrn * n_topics + top, mnt * n_topics + top
    interest_weight = model.at_rows(model.learning_value("interest_weight"), lrn)
    effort = learning.effort_at(model.engagement()[lrn], model.interest.ravel()[learner_cell], interest_weight)
    intensity = model.at_rows(rate, lrn) * effort * pick(model.tie_similarity) * model.mentor_availability()[mnt]
    flat = cap.ravel()
    ceiling = model.at_rows(model.learning_value("gap_ceiling"), lrn)
    gain = learning.transfer(flat[learner_cell], flat[mentor_cell], intensity, ceiling)
    touched, where = _touched_cells(model, ties, learner_cell, mentor_cell)
    delta = np.bincount(where, np.concatenate([gain, model.at_rows(model.mentor_gain, lrn) * gain]), touched.size)
    model.apply_gain("peer", delta, cells=touched)
    if ties is None:
        model.tie_flow += gain
    else:
        model.tie_flow[ties] += gain
    return gain


def _touched_cells(
    model: Simulation, ties: np.ndarray | None, learner_cell: np.ndarray, mentor_cell: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (row, topic) cells the ties touch, and where each learner/mentor end falls among them.

    Cached for the whole tie set (fixed after the kickoff), so a month does not sort the ties again.
    """
    cells = lambda: np.unique(np.concatenate([learner_cell, mentor_cell]), return_inverse=True)  # noqa: E731
    return cells() if ties is not None else model.per_tie_set("touched_cells", cells)


def tie_pairs(model: Simulation) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (learner, mentor) pairs among the ties (a pair shares several topics), as two row arrays."""

    def pairs() -> tuple[np.ndarray, np.ndarray]:
        pair = np.unique(model.ties.learner * model.n + model.ties.mentor)
        return pair // model.n, pair % model.n

    return model.per_tie_set("pairs", pairs)


def learn_from_best(model: Simulation, rate: Param, local: np.ndarray, q: float = 0.9) -> None:
    """Event learning: members learn their chosen topics from the best performers of their kind present.

    ``local`` labels, within a replicate, who meets whom (one label for a network-wide event, the region for a
    provincial one). The source is the ``q`` quantile (linear interpolation, as ``np.quantile``) of capacity among
    members of the learner's kind in its group and replicate; everyone at the event is a peer from the same health
    system (similarity 1). Groups of fewer than two members of a kind learn nothing.

    Every replicate has the same kinds, regions and applicable topics row by row, and a topic applies to every
    member of a kind or to none, so a (group, kind) cell takes the same rows and topics in every replicate: its
    quantiles are one sort along the rows of a (replicates, members, topics) array.
    """
    if not model.programme_learning:
        return
    n, n_topics, reps = model.n_institutions, len(model.topic_names), model.replicates
    kind, applicable = model.structure.kind, model.structure.applicable
    _, cell = np.unique(local * (int(kind.max()) + 1) + kind, return_inverse=True)
    cap = model.capacity.reshape(reps, n, n_topics)
    source = np.zeros_like(cap)
    for g in range(int(cell.max()) + 1):
        members = np.flatnonzero(cell == g)
        cols = np.flatnonzero(applicable[members[0]])
        if cols.size:
            source[:, members[:, None], cols] = _quantile_along_rows(cap[:, members][:, :, cols], q)[:, None, :]
    present = np.tile(np.bincount(cell)[cell] >= 2, reps)
    learn_from_source(model, rate, source.reshape(model.n, n_topics), present)


def _quantile_along_rows(values: np.ndarray, q: float) -> np.ndarray:
    """``np.quantile(values, q, axis=1)`` (linear interpolation, operation for operation) for a 3-D array."""
    values = np.sort(values, axis=1)
    count = values.shape[1]
    virtual = (count - 1) * q
    below = np.floor(virtual)
    gamma = virtual - below
    prev, nxt = (count - 1, count - 1) if virtual >= count - 1 else (int(below), int(below) + 1)
    a, b = values[:, prev], values[:, nxt]
    diff = b - a  # numpy's _lerp
    return b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma


def learn_from_source(model: Simulation, rate: Param, source: np.ndarray, present: np.ndarray) -> None:
    """The learning step of :func:`learn_from_best`: chosen topics move towards ``source`` where ``present``.

    Args:
        model: the model.
        rate: the event's rate (a number, or one per replicate).
        source: rows x topics, the capacity each institution learns from.
        present: per row, whether its group at the event has at least two members of its kind.

    """
    cap = model.capacity
    ceiling = model.column(model.learning_value("gap_ceiling"))
    gain = learning.transfer(cap, source, model.column(rate) * model.effort(), ceiling)
    model.apply_gain("event", gain * (model.selected & present[:, None]))
