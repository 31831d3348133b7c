"""One replicate of a model: its block of every declared state array, its ties, ledger, recording and network.

A :class:`Replicate` reads the model's arrays when asked (it copies nothing), so it can be taken at any month.
:class:`~twinsim.model.results.RunResult` builds a run's tables from it.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from twinsim.errors import TwinsimError
from twinsim.kernel.state import STATE, TIE_STATE
from twinsim.programme.costs import ledger_rows
from twinsim.programme.matching import Ties

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

    from twinsim.model.twinning import TwinningSimulation
    from twinsim.programme.costs import LedgerRow

__all__ = ["Replicate"]

_ROW_STATE = frozenset(v.name for v in STATE)
_TIE_STATE = frozenset(v.name for v in TIE_STATE)
_SHARED = frozenset(
    {
        "params",
        "topic_names",
        "kind_names",
        "region_names",
        "institution_names",
        "months_total",
        "month",
        "structure",
        "delivery_state",
        "agents",
        "programme_learning",
    }
)


class Replicate:
    """Replicate ``block`` of ``model`` (rows ``block * n .. (block + 1) * n - 1``), with 0-based local rows.

    Declared state (:mod:`twinsim.kernel.state`) is sliced to the block; ties are local row indices.
    """

    def __init__(self, model: TwinningSimulation, block: int) -> None:
        self.model = model
        self.block = block
        self.n = model.n_institutions
        self.rows = slice(block * self.n, (block + 1) * self.n)

    def __getattr__(self, name: str) -> Any:
        model = self.__dict__["model"]
        if name in _ROW_STATE:
            return getattr(model, name)[self.rows]
        if name in _TIE_STATE:
            return getattr(model, name)[self._tie_slice]
        if name in _SHARED:
            return getattr(model, name)
        raise AttributeError(name)

    @property
    def _tie_slice(self) -> slice:
        owner = self.model.ties.learner // max(self.n, 1)
        return slice(*np.searchsorted(owner, [self.block, self.block + 1]))

    @property
    def ties(self) -> Ties:
        """The replicate's ties (local rows)."""
        ties, k, shift = self.model.ties, self._tie_slice, self.block * self.n
        return Ties(ties.learner[k] - shift, ties.mentor[k] - shift, ties.topic[k])

    @property
    def seed_sequence(self) -> np.random.SeedSequence:
        """The replicate's seed sequence."""
        return self.model.seeds[self.block]

    @property
    def streams(self) -> Any:
        """The replicate's named random streams."""
        return self.model.streams[self.block]

    @property
    def ledger(self) -> list[LedgerRow]:
        """The replicate's priced activity firings."""
        return ledger_rows(self.model.ledger_parts, self.block)

    @property
    def history(self) -> np.ndarray | None:
        """(months + 1) x institutions x topics capacity, or None without an in-memory panel."""
        history = self.model.recorder.history
        return None if history is None else history[:, self.rows]

    @property
    def panel_path(self) -> Any:
        """The Parquet file of the streamed panel, or None."""
        writers = self.model.recorder.writers
        return writers[self.block].path if writers else None

    @cached_property
    def aggregates(self) -> pd.DataFrame:
        """Mean capacity and indicator per month, kind, region, topic and choice."""
        recorded = self.model.recorder.aggregates
        if recorded is None:
            raise TwinsimError("this run recorded no aggregates (the model was built with aggregates=False)")
        return recorded.frame(self.block)

    @property
    def flows(self) -> dict[str, np.ndarray]:
        """Capacity gained so far per source and topic."""
        return {source: flow[self.block] for source, flow in self.model.flows.items()}

    @property
    def ties_formed(self) -> int:
        """Partnership ties formed: peer ties plus ties to outside partners."""
        return int(self.model.delivery_model.ties_formed(self.model)[self.block])

    def mechanism_outcomes(self) -> dict[str, float]:
        """The replicate's matching, partner and drop-out outcomes (see ``TwinningModel.mechanism_outcomes``).

        Outcomes that do not apply to the delivery model (NaN: no peer ties, no outside partners) are left out.
        """
        values = {key: float(v[self.block]) for key, v in self.model.mechanism_outcomes().items()}
        return {key: value for key, value in values.items() if not np.isnan(value)}

    def indicator(self, capacity: np.ndarray | None = None) -> np.ndarray:
        """Indicator values for a capacity array (default: the replicate's current one)."""
        return self.model.indicator(self.capacity if capacity is None else capacity)

    def mentees(self) -> np.ndarray:
        """Number of mentees of each institution."""
        return self.model.mentees()[self.rows]

    def engagement(self) -> np.ndarray:
        """Engagement of each institution this month."""
        return self.model.engagement()[self.rows]

    @property
    def network(self) -> nx.MultiDiGraph:
        """The partnership network: node ids are local rows (the tables' ``institution``), learner -> mentor edges."""
        import networkx as nx  # on first use: runs that never draw a network do not import it

        graph = nx.MultiDiGraph()
        kinds, regions, names = self.model.kind_names, self.model.region_names, self.model.institution_names
        for i, (k, r) in enumerate(zip(self.kind, self.region, strict=True)):
            graph.add_node(i, name=names[i], kind=kinds[k], region=regions[r])
        ties, topics = self.ties, self.model.topic_names
        for k, (lrn, mnt, top) in enumerate(zip(ties.learner, ties.mentor, ties.topic, strict=True)):
            graph.add_edge(
                int(lrn),
                int(mnt),
                key=topics[top],
                topic=topics[top],
                similarity=float(self.tie_similarity[k]),
                activities=int(self.tie_events[k]),
                knowledge_flow=float(self.tie_flow[k]),
            )
        return graph

    def __repr__(self) -> str:
        return f"Replicate({self.block} of {self.model.params.name!r}, month {self.model.month})"
