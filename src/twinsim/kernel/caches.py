"""Values a model computes once and keeps until what they depend on changes (declared, not attached at run time).

A model holds one :class:`Caches`; each entry names what invalidates it: the month (summaries, trajectories), the
tie set (cells that have a tie), or nothing (survey errors, indicator bounds, fixed for the model's life).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["CACHED", "Caches"]

T = TypeVar("T")

#: Every cached value, with what it is and what invalidates it.
CACHED: dict[str, str] = {
    "replicate_summaries": "summary key -> values over replicates; until the model steps (model.summary)",
    "summary_rows": "each replicate's summary as Python numbers; until the model steps",
    "replicate_trajectories": "months x replicates of the mean indicator; until the model steps",
    "per_tie_set": "table: name -> a value of the tie set (worked, tied or touched cells, mentees, pairs; a plug-in's"
    " own); until the ties change",
    "survey_errors": "measurement errors of every replicate, by survey months; for the model's life",
    "indicator_bounds": "each topic's indicator range; for the model's life",
    "grid": "the Mesa NetworkGrid of a single-replicate model; until the month or the ties change",
    "rows_of": "table: a kept per-replicate parameter array -> its value at every row",
    "cell_index": "table: the last two flat-cell arrays of sparse gains -> their rows and (replicate, topic) index",
    "turnover_plan": "table: month -> that month's leavers and successors' commitment (drawn 12 months at a time)",
}


class Caches:
    """A model's cached values, each checked against the key it was computed for (see :data:`CACHED`)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Any, Any]] = {}
        self._tables: dict[str, dict[Any, Any]] = {}

    def get(self, name: str, key: Any, compute: Callable[[], T]) -> T:
        """The value cached under ``name`` for ``key`` (compared by identity and equality), else ``compute()``."""
        if name not in CACHED:
            raise KeyError(f"cache {name!r} is not declared in twinsim.kernel.caches.CACHED")
        hit = self._entries.get(name)
        if hit is None or not (hit[0] is key or (type(hit[0]) is type(key) and _same(hit[0], key))):
            hit = self._entries[name] = (key, compute())
        return hit[1]

    def table(self, name: str) -> dict[Any, Any]:
        """The dictionary kept under ``name``, for caches with many keys (created empty on first use)."""
        table = self._tables.get(name)
        if table is None:
            if name not in CACHED:
                raise KeyError(f"cache {name!r} is not declared in twinsim.kernel.caches.CACHED")
            table = self._tables[name] = {}
        return table


def _same(a: Any, b: Any) -> bool:
    return isinstance(a, int | str | tuple | type(None)) and a == b
