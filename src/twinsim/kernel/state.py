"""The model's state, declared in one place: name, axes, dtype and meaning of every array.

Rows are (replicate, institution) blocks: replicate ``r``'s institutions are rows ``r * n .. (r + 1) * n - 1``
of every ``row`` array (``n`` institutions per replicate), so a single run is one block and R replicates are R
blocks of one model. Ties are index arrays into the rows, laid out block after block.

:func:`allocate` creates the arrays on a model; :meth:`TwinningModel.replicate
<twinsim.model.TwinningModel.replicate>` slices every declared ``row`` array to one block. Plug-in state (outside
partners, the expert team) is declared by its delivery model the same way (``STATE`` of its module).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = ["STATE", "TIE_STATE", "DeclaredState", "Param", "StateVar", "allocate"]

Axes = Literal["row", "row_topic", "tie"]

#: The dtype of the shares the monthly step works on (capacity, interest, leadership...; all in [0, 1]).
SHARE = np.float32

#: A parameter as the step uses it: one number for every replicate, or an array (one value per replicate, per row,
#: or a column over rows) when the replicates of one model drew different parameter sets.
Param: TypeAlias = float | np.floating[Any] | npt.NDArray[Any]


@dataclass(frozen=True)
class StateVar:
    """One state array: its name (the model attribute), axes, dtype and meaning."""

    name: str
    axes: Axes
    dtype: type
    meaning: str


STATE: tuple[StateVar, ...] = (
    StateVar("block", "row", np.int64, "the replicate (block) a row belongs to"),
    StateVar("kind", "row", np.int64, "index of the institution's kind (population.kinds)"),
    StateVar("region", "row", np.int64, "index of the institution's region (province)"),
    StateVar("budget", "row", float, "monthly operating budget (costs.currency)"),
    StateVar("resource_factor", "row", SHARE, "min(budget / median of its kind, 1) ** resource_elasticity"),
    StateVar("leadership", "row", SHARE, "senior leadership's commitment in [0, 1]"),
    StateVar("cost_by_institution", "row", float, "programme cost allocated to the institution so far"),
    StateVar("staff_days", "row", float, "staff days a month the institution can give the programme (7.20)"),
    StateVar("time_factor", "row", SHARE, "share of this month's programme demand its staff time covers (7.20)"),
    StateVar("persistence", "row", SHARE, "persistence in [0, 1]: falls when effort yields little (7.20)"),
    StateVar("dropped", "row", bool, "dropped out of the programme (persistence below the threshold, 7.20)"),
    StateVar("month_gain", "row", float, "programme gain of the current month, summed over topics"),
    StateVar("applicable", "row_topic", bool, "the topic applies to the institution's kind"),
    StateVar("capacity", "row_topic", SHARE, "capacity per topic in [0, 1] (0 where the topic does not apply)"),
    StateVar("baseline", "row_topic", SHARE, "capacity at month 0"),
    StateVar("endline", "row_topic", SHARE, "capacity at the end of the programme (simulation.months)"),
    StateVar("interest", "row_topic", SHARE, "senior management's interest in the topic, in [0, 1]"),
    StateVar("selected", "row_topic", bool, "topic chosen at the kickoff workshop's gap assessment"),
)

#: Per-tie state (ties themselves are :class:`~twinsim.programme.matching.Ties` index arrays).
TIE_STATE: tuple[StateVar, ...] = (
    StateVar("tie_similarity", "tie", float, "peer similarity of learner and mentor (resources, region)"),
    StateVar("tie_flow", "tie", float, "capacity the learner has gained along the tie so far"),
    StateVar("tie_events", "tie", np.int64, "activities (visits, coaching rounds) held along the tie"),
)


class DeclaredState:
    """The declared arrays as attributes a type checker and a reader see (one line per :data:`STATE` entry).

    :class:`~twinsim.model.twinning.TwinningSimulation` inherits these annotations; :func:`allocate` creates the
    arrays. The names, order and dtypes are those of :data:`STATE` and :data:`TIE_STATE` (a test keeps them in
    step: ``tests/test_state_declaration.py``); the meaning of each is the ``meaning`` of its :class:`StateVar`.
    """

    # STATE: rows
    block: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int64]
    region: npt.NDArray[np.int64]
    budget: npt.NDArray[np.float64]
    resource_factor: npt.NDArray[np.float32]
    leadership: npt.NDArray[np.float32]
    cost_by_institution: npt.NDArray[np.float64]
    staff_days: npt.NDArray[np.float64]
    time_factor: npt.NDArray[np.float32]
    persistence: npt.NDArray[np.float32]
    dropped: npt.NDArray[np.bool_]
    month_gain: npt.NDArray[np.float64]
    # STATE: rows x topics
    applicable: npt.NDArray[np.bool_]
    capacity: npt.NDArray[np.float32]
    baseline: npt.NDArray[np.float32]
    endline: npt.NDArray[np.float32]
    interest: npt.NDArray[np.float32]
    selected: npt.NDArray[np.bool_]
    # TIE_STATE
    tie_similarity: npt.NDArray[np.float64]
    tie_flow: npt.NDArray[np.float64]
    tie_events: npt.NDArray[np.int64]


def allocate(target: DeclaredState, rows: int, topics: int, ties: int = 0) -> None:
    """Set every declared array on ``target`` to zeros of its shape."""
    shapes = {"row": (rows,), "row_topic": (rows, topics), "tie": (ties,)}
    for var in (*STATE, *TIE_STATE):
        setattr(target, var.name, np.zeros(shapes[var.axes], dtype=var.dtype))
