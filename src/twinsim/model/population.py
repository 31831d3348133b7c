"""The population: its fixed structure (kinds, regions, applicable topics, names) and each replicate's draws.

The structure is the same in every replicate and built once; every replicate draws its resources, leadership,
baseline capacity and interest from its own child streams, one per quantity and topic (changing one
distribution, or adding a topic, leaves every other draw as it was: common random numbers in sweeps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twinsim.model.streams import ReplicateStreams
from twinsim.scenario import Scenario

__all__ = ["Structure", "draw_population", "leadership_beta"]


@dataclass(frozen=True)
class Structure:
    """One replicate's fixed population structure (arrays over its ``n`` institutions)."""

    kind: np.ndarray
    region: np.ndarray
    applicable: np.ndarray
    names: list[str]
    budget_median: np.ndarray
    budget_sigma: np.ndarray
    leadership_mean: np.ndarray
    leadership_concentration: np.ndarray

    @property
    def n(self) -> int:
        """Institutions per replicate."""
        return len(self.kind)

    @classmethod
    def of(cls, scenario: Scenario) -> Structure:
        """The structure the scenario's ``[population]`` and ``[topics]`` describe."""
        pop, regions = scenario.population, scenario.regions
        kind_names, specs = list(pop.kinds), list(pop.kinds.values())
        kind, region = [], []
        for k, spec in enumerate(specs):
            for r_name, count in spec.counts.items():
                kind += [k] * count
                region += [regions.index(r_name)] * count
        kind_a, region_a = np.asarray(kind, dtype=np.int64), np.asarray(region, dtype=np.int64)
        per_kind = lambda attr: np.array([getattr(s, attr) for s in specs], dtype=float)[kind_a]  # noqa: E731
        kind_has_topic = np.array([[k in topic.kinds for topic in scenario.topics.values()] for k in kind_names])
        applicable = kind_has_topic[kind_a].reshape(len(kind_a), len(scenario.topics))
        labels = np.array([s.label or name for name, s in zip(kind_names, specs, strict=True)], dtype=object)
        names = list(
            labels[kind_a]
            + " "
            + np.array(regions, dtype=object)[region_a]
            + " "
            + np.arange(1, len(kind_a) + 1).astype(str).astype(object)
        )
        return cls(
            kind_a,
            region_a,
            applicable,
            names,
            per_kind("budget_median"),
            per_kind("budget_sigma"),
            per_kind("leadership_mean"),
            per_kind("leadership_concentration"),
        )


def leadership_beta(structure: Structure) -> tuple[np.ndarray | float, np.ndarray | float, int | None]:
    """Beta parameters ``(a, b, size)`` of a fresh leadership draw: scalars when every kind shares them."""
    mean, conc = structure.leadership_mean, structure.leadership_concentration
    if structure.n and (mean == mean[0]).all() and (conc == conc[0]).all():  # scalar parameters: faster draws
        return mean[0] * conc[0], (1 - mean[0]) * conc[0], structure.n
    return mean * conc, (1 - mean) * conc, None


def draw_leadership(rng: np.random.Generator, structure: Structure, months: int | None = None) -> np.ndarray:
    """Fresh leadership commitments for every institution (beta by kind), for ``months`` months if given."""
    a, b, size = leadership_beta(structure)
    if months is None:
        return rng.beta(a, b, size=size)
    return rng.beta(a, b, size=(months, structure.n))


def draw_population(scenario: Scenario, structure: Structure, streams: ReplicateStreams) -> dict[str, np.ndarray]:
    """Each replicate's budget, resource factor, leadership, capacity and interest, stacked block by block."""
    n, n_topics = structure.n, len(scenario.topics)
    reps = len(streams)
    tile = lambda a: np.tile(a, reps)  # noqa: E731
    median, sigma = tile(structure.budget_median), tile(structure.budget_sigma)
    budget = median * np.exp(sigma * streams.stack_child("population", "budget", lambda g: g.standard_normal(n)))
    resource_factor = np.minimum(budget / median, 1.0) ** scenario.learning.resource_elasticity
    leadership = streams.stack_child("population", "leadership", lambda g: draw_leadership(g, structure))
    capacity = np.zeros((reps * n, n_topics))
    interest = np.zeros((reps * n, n_topics))
    applicable = np.tile(structure.applicable, (reps, 1))
    for t, (name, topic) in enumerate(scenario.topics.items()):
        base = _beta_draw(topic.baseline_mean, topic.baseline_concentration, n)
        want = _beta_draw(topic.interest_mean, topic.interest_concentration, n)
        capacity[:, t] = streams.stack_child("population", f"baseline:{name}", base) * applicable[:, t]
        interest[:, t] = streams.stack_child("population", f"interest:{name}", want) * applicable[:, t]
    return {
        "budget": budget,
        "resource_factor": resource_factor,
        "leadership": leadership,
        "capacity": capacity,
        "interest": interest,
        "applicable": applicable,
    }


def _beta_draw(mean: float, concentration: float, n: int):
    return lambda g: g.beta(mean * concentration, (1.0 - mean) * concentration, size=n)
