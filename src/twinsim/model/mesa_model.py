"""TwinningModel: the simulation as a Mesa model.

:class:`~twinsim.model.twinning.TwinningSimulation` holds the state of record and the monthly step and imports no
Mesa; this class adds what Mesa's tools expect: ``mesa.Model``'s random generators, step counter and agent
registry, the agents as views on the arrays (:mod:`twinsim.kernel.agents`, created on first access), a
``datacollector`` fed every month (as Mesa's own examples keep one), Mesa 3's ``rng`` keyword, and a keyword
constructor that ``mesa.batch_run`` can call with Mesa's documented arguments only. Every number is the same as the
simulation's: the step is the simulation's own, and the collector only reads the state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import mesa
import numpy as np

from twinsim.errors import TwinsimError
from twinsim.kernel.agents import Institution
from twinsim.model.twinning import TwinningSimulation
from twinsim.scenario import Scenario

__all__ = ["TwinningModel"]


@runtime_checkable
class _WithAgents(Protocol):
    """A delivery model's state that brings Mesa agents (outside partners, the expert team)."""

    @property
    def agents(self) -> Sequence[mesa.Agent]: ...


class TwinningModel(TwinningSimulation, mesa.Model):
    """A twinning network of health institutions as a Mesa model, for one replicate or many.

    Takes the arguments of :class:`~twinsim.model.twinning.TwinningSimulation`, and:

    Args:
        scenario: a validated :class:`~twinsim.scenario.Scenario`, the name of a bundled scenario or a TOML path.
        seed: the experiment seed (default ``simulation.seed``), or one replicate's ``SeedSequence``.
        rng: Mesa 3's name for the seed: an int or a ``SeedSequence`` is the experiment seed (``rng=1`` runs as
            ``seed=1``); a NumPy ``Generator`` or bit generator gives one draw that becomes it. Not with ``seed``.
        datacollector: keep a :class:`mesa.DataCollector` of monthly model-level outcomes (``mean_indicator``,
            ``mean_indicator_selected``, ``mean_indicator_not_selected``, ``cost``, ``ties``; means over replicates),
            collected at month 0 and after every step, so ``mesa.batch_run`` reads it (default: on; False skips it).
        **kwargs: ``replicates``, ``first_replicate``, ``seeds``, ``block_scenarios``, ``programme_learning`` and
            dotted scenario overrides (``programme__twins_per_topic=2``), as for the simulation.

    """

    def __init__(
        self,
        scenario: Scenario | str | Path = "rwanda_tpn",
        seed: int | np.random.SeedSequence | None = None,
        *,
        rng: int | np.random.SeedSequence | np.random.Generator | np.random.BitGenerator | None = None,
        datacollector: bool = True,
        **kwargs: Any,
    ) -> None:
        TwinningSimulation.__init__(self, scenario, _seed_or_rng(seed, rng), **kwargs)
        mesa.Model.__init__(self, rng=np.random.default_rng(self.seeds[0]))
        self._institutions: list[Institution] | None = None
        if datacollector:
            self.datacollector = _datacollector(self)

    @property
    def institutions(self) -> list[Institution]:
        """The institutions as Mesa agents, in row order (created, and registered, on first access)."""
        if self._institutions is None:
            self._institutions = [Institution(self, i) for i in range(self.n)]
        return self._institutions

    @property
    def grid(self) -> mesa.space.NetworkGrid:
        """The partnership network as a Mesa space, for Mesa's tools (``make_space_component`` in SolaraViz).

        A ``NetworkGrid`` with one node per institution (its agent placed on it) and an edge per pair of twins, as
        the network stands this month (ties form at the kickoff workshop). A single-replicate model's only.
        """
        self._single("grid", None)
        return self.caches.get("grid", (self.month, len(self.ties)), self._network_grid)

    def _network_grid(self) -> mesa.space.NetworkGrid:
        import networkx as nx

        grid = mesa.space.NetworkGrid(nx.Graph(self.network))
        for row, agent in enumerate(self.institutions):
            grid.place_agent(agent, row)
        return grid

    def _create_agents(self) -> None:
        """Create the institutions and the delivery model's own agents (partners, experts) if not yet there."""
        _ = self.institutions
        if isinstance(self.delivery_state, _WithAgents):
            _ = self.delivery_state.agents

    @property
    def agents(self) -> mesa.agent.AgentSet:
        """Mesa's set of all agents (institutions, outside partners, experts; created on first access)."""
        self._create_agents()
        return super().agents

    @property
    def agents_by_type(self) -> dict[type[mesa.Agent], mesa.agent.AgentSet]:
        """Mesa's agent sets by type (created on first access)."""
        self._create_agents()
        return super().agents_by_type

    @property
    def agent_types(self) -> list[type]:
        """Mesa's agent types (created on first access)."""
        self._create_agents()
        return super().agent_types

    def finish(self) -> None:
        """Close streamed panels and release Mesa's per-model id counter (see :mod:`twinsim.kernel.agents`)."""
        super().finish()
        mesa.Agent._ids.pop(self, None)


def _seed_or_rng(
    seed: int | np.random.SeedSequence | None,
    rng: int | np.random.SeedSequence | np.random.Generator | np.random.BitGenerator | None,
) -> int | np.random.SeedSequence | None:
    """The experiment seed from ``seed`` or Mesa 3's ``rng`` keyword (one of them)."""
    if rng is None:
        return seed
    if seed is not None:
        raise TwinsimError("TwinningModel: give seed or rng (Mesa 3's name for it), not both")
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool) and rng >= 0:
        return int(rng)
    if isinstance(rng, np.random.Generator | np.random.BitGenerator):
        return int(np.random.default_rng(rng).integers(2**63))
    raise TwinsimError(
        f"TwinningModel: rng={rng!r}; give a non-negative int, a numpy SeedSequence, Generator or bit generator"
    )


def _datacollector(model: TwinningModel) -> mesa.DataCollector:
    """Monthly model-level outcomes (means over replicates), collected at month 0 and after every step."""

    def mean_where(mask: np.ndarray) -> float:
        return float(model.indicator()[mask].mean()) if mask.any() else float("nan")

    collector = mesa.DataCollector(
        model_reporters={
            "month": lambda m: m.month,
            "mean_indicator": lambda m: mean_where(m.applicable),
            "mean_indicator_selected": lambda m: mean_where(m.selected),
            "mean_indicator_not_selected": lambda m: mean_where(m.applicable & ~m.selected),
            "cost": lambda m: float(m.cost_by_institution.sum()) / m.replicates,
            "ties": lambda m: len(m.ties) / m.replicates,
        }
    )
    collector.collect(model)
    return collector
