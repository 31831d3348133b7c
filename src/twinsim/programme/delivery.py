"""What a delivery model is, and the peer models: the TPN network, one-to-one pairs, no programme.

A delivery model decides who twins with whom at the kickoff (``form_ties``, over every replicate's rows at once),
may bring its own agents and state (``setup``, kept by the model as ``model.delivery_state``), acts every month
(``monthly``: contact with outside partners), and provides what some activities need (``provides``). Delivery
models are listed explicitly in :mod:`twinsim.programme.registry`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np

from twinsim.core.parameters import Section
from twinsim.errors import TwinsimError
from twinsim.kernel.state import Param
from twinsim.kernel.surface import Simulation
from twinsim.programme.matching import MATCHING_RULES, MatchRequest, Ties

__all__ = [
    "DeliveryModel",
    "NoProgramme",
    "PairTwinning",
    "TPNNetwork",
    "delivery_ties",
    "fixed_pairs",
    "plugin_settings",
    "plugin_state",
]

S = TypeVar("S")


def plugin_settings(plugin: Any, model: Simulation) -> Any:
    """A plug-in's ``Settings`` block with the values of ``programme.settings.<plugin.name>``."""
    if plugin.Settings is None:
        raise TwinsimError(f"{plugin.name}: the plug-in declares no Settings block")
    return plugin.Settings(**model.params.programme.settings.get(plugin.name, {}))


def plugin_state(model: Simulation, kind: type[S]) -> S:
    """The delivery model's own state (``model.delivery_state``, made by its ``setup``), checked to be a ``kind``."""
    state = model.delivery_state
    if not isinstance(state, kind):
        raise TwinsimError(
            f"programme.delivery_model: {model.params.programme.delivery_model!r} keeps no {kind.__name__} "
            f"(its state is {type(state).__name__})"
        )
    return state


@runtime_checkable
class _TiedState(Protocol):
    ties: Ties


def delivery_ties(model: Simulation) -> Ties:
    """The ties the delivery model keeps in its own state (to outside partners), for activities that need them."""
    state = model.delivery_state
    if not isinstance(state, _TiedState):
        raise TwinsimError(
            f"programme.delivery_model: {model.params.programme.delivery_model!r} keeps no ties of its own "
            "(an activity that needs partners runs only with a delivery model that provides them)"
        )
    return state.ties


class DeliveryModel:
    """How a programme forms partnership ties and what else it brings (see the module docstring)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    runs_activities: ClassVar[bool] = True
    forms_peer_ties: ClassVar[bool] = False
    #: Ties come from the scenario's matching rule within programme.mentor_load_cap (ODD 7.11, 7.18).
    matches_within_cap: ClassVar[bool] = False
    provides: ClassVar[frozenset[str]] = frozenset()
    #: A user's plug-in's own parameter block (a :class:`twinsim.core.parameters.Section`), set in a scenario as
    #: ``programme.settings.<name>``; read with :meth:`settings`.
    Settings: ClassVar[type[Section] | None] = None
    #: Gain sources beyond ``peer`` and ``event`` that the model books gains to (see :class:`Activity`).
    gain_sources: ClassVar[tuple[str, ...]] = ()
    #: The model needs a tie-forming activity (the kickoff workshop) in its schedule.
    needs_kickoff: ClassVar[bool] = True

    def warnings(self, scenario: Any) -> list[str]:
        """Reasons, particular to this delivery model, why a scenario's results cannot mean anything (default: none)."""
        return []

    def settings(self, model: Simulation) -> Any:
        """The delivery model's settings in ``model``'s scenario (its ``Settings`` block, defaults where unset)."""
        return plugin_settings(self, model)

    def form_ties(self, model: Simulation) -> Ties:
        """Return the ties (learner, mentor, topic) formed at the kickoff workshop, in every replicate."""
        raise NotImplementedError

    def setup(self, model: Simulation) -> object | None:
        """Create the model's own agents and state when the model is built (default: none)."""
        return None

    def monthly(self, model: Simulation, contact_rate: Param) -> None:
        """Monthly learning beyond the peer ties, at the month's contact rate (default: none)."""

    def ties_formed(self, model: Simulation) -> np.ndarray:
        """Partnership ties formed per replicate: peer ties plus any ties to outside partners."""
        return model.per_replicate_count(model.ties.learner)

    def outcomes(self, model: Simulation) -> dict[str, np.ndarray]:
        """The delivery model's own outcomes per replicate, for the run summary (default: none)."""
        return {}

    def worked_topics(self, model: Simulation) -> np.ndarray:
        """Rows x topics the programme works on (empowerment and practice, ODD 7.16-7.17): the chosen topics."""
        return model.selected & model.applicable

    def tie_cells(self, model: Simulation) -> np.ndarray:
        """Rows x topics on which a row has a peer tie, as learner or as mentor."""
        cells = np.zeros(model.capacity.shape, dtype=bool)
        cells[model.ties.learner, model.ties.topic] = True
        cells[model.ties.mentor, model.ties.topic] = True
        return cells

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class TPNNetwork(DeliveryModel):
    """Twinning Partnership Network: a high-performing peer of the same kind for every chosen topic."""

    name = "tpn_network"
    description = "Rwanda TPN: topic-specific peers from a network, network-wide and provincial learning events."
    forms_peer_ties = True
    matches_within_cap = True

    def form_ties(self, model: Simulation) -> Ties:
        """Match each chosen topic with the scenario's matching rule, within kind and replicate and the mentor load cap.

        With ``mechanisms.keep_promise`` the learners with the fewest leading peers pick first (ODD 7.18).
        """
        prog = model.params.programme
        request = MatchRequest(
            capacity=model.capacity,
            selected=model.selected,
            applicable=model.applicable,
            group=model.kind_group(),
            similarity=model.similarity_between,
            twins_per_topic=prog.twins_per_topic,
            mentor_load_cap=prog.mentor_load_cap,
            min_gap=prog.min_gap,
            rng=model.matching_rng,
            replicate=model.block,
            fewest_leaders_first=model.params.mechanisms.keep_promise,  # ODD 7.18
        )
        return MATCHING_RULES[prog.matching](request)


class NoProgramme(DeliveryModel):
    """The counterfactual: no ties, no activities; background trend, motivation and turnover go on."""

    name = "none"
    description = "No programme: the counterfactual."
    runs_activities = False

    def form_ties(self, model: Simulation) -> Ties:
        """No ties."""
        return Ties.empty()

    def worked_topics(self, model: Simulation) -> np.ndarray:
        """Nothing: there is no programme."""
        return np.zeros(model.capacity.shape, dtype=bool)


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
    forms_peer_ties = True

    def form_ties(self, model: Simulation) -> Ties:
        """Pair within kind and replicate; tie each chosen topic on which the partner leads."""
        pairs = fixed_pairs(model.capacity, model.applicable, model.kind_group())
        if pairs.size == 0:
            return Ties.empty()
        a, b = np.concatenate([pairs[:, 0], pairs[:, 1]]), np.concatenate([pairs[:, 1], pairs[:, 0]])
        cap, gap = model.capacity, model.params.programme.min_gap
        wants = model.selected[a] & model.applicable[b] & (cap[b] >= cap[a] + gap)
        row, topic = np.nonzero(wants)
        ties = Ties(a[row].astype(np.int64), b[row].astype(np.int64), topic.astype(np.int64))
        return ties.by_replicate(model.n_institutions)


def fixed_pairs(capacity: np.ndarray, applicable: np.ndarray, group: np.ndarray) -> np.ndarray:
    """One-to-one pairs (lower, higher) within each group, by rank of mean capacity: rank k with rank k + n//2."""
    mean = np.where(applicable, capacity, 0.0).sum(axis=1) / np.maximum(applicable.sum(axis=1), 1)
    order = np.lexsort((mean, group))  # by group, then mean capacity (stable: ties keep row order)
    g = group[order]
    count = np.bincount(g)
    start = np.cumsum(count) - count
    rank = np.arange(order.size) - start[g]
    half = count[g] // 2
    lower = rank < half
    partner = order[(start[g] + rank + (count[g] - half))[lower]]
    low = order[lower]
    by_group = np.argsort(g[lower], kind="stable")
    return np.stack([low[by_group], partner[by_group]], axis=1).astype(np.int64)
