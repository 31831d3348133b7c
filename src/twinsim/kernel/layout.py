"""The replicate-block layout: every per-institution array holds all replicates, replicate after replicate.

Row ``b * n_institutions + i`` is institution ``i`` of replicate ``b`` (a single run is one block). Everything that
maps between rows and replicates goes through :class:`BlockLayout`, which the simulation is built on.
"""

from __future__ import annotations

import numpy as np

from twinsim.kernel.state import Param

__all__ = ["BlockLayout"]


class BlockLayout:
    """Rows of ``replicates`` blocks of ``n_institutions`` each (set by the simulation before its state)."""

    replicates: int
    n_institutions: int
    #: Rows in all: ``replicates * n_institutions``.
    n: int
    #: Per row, its replicate (block).
    block: np.ndarray

    def lay_out(self, replicates: int, n_institutions: int) -> None:
        """Set the layout: ``replicates`` blocks of ``n_institutions`` rows (``block`` is set with the state)."""
        self.replicates, self.n_institutions = replicates, n_institutions
        self.n = replicates * n_institutions

    def blocks(self) -> np.ndarray:
        """Per row, its replicate: the declared state's ``block`` array."""
        return np.repeat(np.arange(self.replicates, dtype=np.int64), self.n_institutions)

    def replicate_of(self, rows: np.ndarray) -> np.ndarray:
        """The replicate (block) of each of ``rows``."""
        return rows // max(self.n_institutions, 1)

    def per_replicate_sum(self, values: np.ndarray) -> np.ndarray:
        """Per replicate, the sum of a per-row quantity."""
        return np.bincount(self.block, weights=values, minlength=self.replicates)

    def per_replicate_count(self, rows: np.ndarray) -> np.ndarray:
        """Per replicate, how many of ``rows`` (row indices, e.g. tie ends) fall in it."""
        return np.bincount(self.replicate_of(rows), minlength=self.replicates)

    def at_rows(self, value: Param, rows: np.ndarray) -> Param:
        """A parameter (float, or per replicate) at ``rows`` (row indices, e.g. the learners of ties)."""
        return value[self.replicate_of(rows)] if isinstance(value, np.ndarray) and value.ndim else value
