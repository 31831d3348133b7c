"""What an activity or a delivery model may read and call on the simulation: the plug-ins' whole surface.

Plug-ins (:mod:`twinsim.programme`, and a user's own, docs/extending.md) are written against :class:`Simulation`,
not against the class that implements it (:class:`twinsim.model.twinning.TwinningSimulation`): the state, the one
gain path, the per-replicate parameters, the learning quantities of the tie set and the random streams.
``tests/test_layers.py`` fails when a plug-in reaches for a name that is not here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from twinsim.kernel.state import Param

__all__ = ["Simulation"]


class Simulation(Protocol):
    """The simulation as the plug-ins see it (rows: replicate after replicate, see :mod:`twinsim.kernel.layout`)."""

    # -- the layout and the calendar
    n: int
    replicates: int
    n_institutions: int
    block: np.ndarray
    topic_names: list[str]
    params: Any  # the twinsim.scenario.Scenario (a layer above)
    month: int
    structure: Any  # the population's fixed structure (kinds, regions, names)

    @property
    def in_programme(self) -> bool:
        """True while the programme runs (months 1 .. simulation.months)."""
        ...

    def per_replicate_sum(self, values: np.ndarray) -> np.ndarray:
        """Per replicate, the sum of a per-row quantity."""
        ...

    def per_replicate_count(self, rows: np.ndarray) -> np.ndarray:
        """Per replicate, how many of ``rows`` fall in it."""
        ...

    def kind_group(self) -> np.ndarray:
        """Per row, its kind within its replicate: who may twin with whom."""
        ...

    # -- the declared state (twinsim.kernel.state) and the plug-in's own
    capacity: np.ndarray
    baseline: np.ndarray
    leadership: np.ndarray
    interest: np.ndarray
    selected: np.ndarray
    applicable: np.ndarray
    ties: Any  # twinsim.programme.matching.Ties: learner, mentor, topic row indices
    tie_similarity: np.ndarray
    tie_flow: np.ndarray
    tie_events: np.ndarray
    delivery_state: object | None
    programme_learning: bool

    # -- the one gain path
    def apply_gain(self, source: str, gain: np.ndarray, cells: np.ndarray | None = None) -> None:
        """Add a gain to capacity, clip, record the flow by source; off in the counterfactual."""
        ...

    def raise_towards_one(self, name: str, step: Param, where: np.ndarray | bool = True) -> None:
        """Move a declared share (leadership, interest) towards 1 by ``step``."""
        ...

    def form_ties(self) -> None:
        """Form (or form again) the delivery model's ties in every replicate."""
        ...

    # -- per-replicate parameters
    def parameter(self, key: str) -> Param:
        """A scenario value by dotted key: one number, or one per replicate."""
        ...

    def precise_parameter(self, key: str) -> float | np.ndarray:
        """The same, at full precision."""
        ...

    def learning_value(self, name: str) -> Param:
        """``learning.<name>``: one number, or one per replicate."""
        ...

    def unit_cost(self, activity: str) -> Any:
        """The activity's unit costs (``costs.activities.<activity>`` or its defaults)."""
        ...

    def at_rows(self, value: Param, rows: np.ndarray) -> Param:
        """A parameter at ``rows``."""
        ...

    def per_row(self, value: Param) -> Param:
        """A parameter at every row."""
        ...

    def column(self, value: Param) -> Param:
        """A parameter as a column over all rows (to broadcast against rows x topics)."""
        ...

    # -- learning quantities of the tie set
    def mentees(self) -> np.ndarray:
        """Per row, the mentees it mentors across topics."""
        ...

    def mentor_availability(self) -> np.ndarray:
        """Per row, the share of a mentor's time each mentee gets."""
        ...

    @property
    def mentor_gain(self) -> Param:
        """What a mentor learns from mentoring (two-way learning), or 0."""
        ...

    def engagement(self) -> np.ndarray:
        """Per row, how much its staff take part (leadership, time, persistence)."""
        ...

    def effort(self) -> np.ndarray:
        """Per row and topic, the effort put into learning."""
        ...

    def similarity_between(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Peer similarity of rows ``a[k]`` and ``b[k]``."""
        ...

    def per_tie_set(self, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, cached for as long as the tie set stays the same."""
        ...

    # -- the random streams
    streams: Any  # twinsim.kernel.streams.ReplicateStreams: numbers keyed by (seed, replicate, quantity)

    def matching_rng(self, row: int) -> np.random.Generator:
        """The matching stream of ``row``'s replicate."""
        ...
