"""The population: its fixed structure (kinds, regions, applicable topics, names) and each replicate's draws.

The structure is the same in every replicate and built once; every replicate draws its resources, leadership,
baseline capacity and interest from its own keyed numbers, one quantity per name and topic (changing one
distribution, or adding a topic, leaves every other draw as it was: common random numbers in sweeps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twinsim.kernel.streams import ReplicateStreams
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


def leadership_beta(structure: Structure) -> tuple[np.ndarray, np.ndarray]:
    """Beta parameters ``(a, b)`` of a fresh leadership draw, per institution (by kind)."""
    mean, conc = structure.leadership_mean, structure.leadership_concentration
    return mean * conc, (1 - mean) * conc


def draw_leadership(streams: ReplicateStreams, name: str, what: str, structure: Structure) -> np.ndarray:
    """Fresh leadership commitments (beta by kind) of every replicate's institutions, stacked block by block."""
    a, b = leadership_beta(structure)
    return streams.beta(name, what, a, b, (structure.n,)).reshape(len(streams) * structure.n)


def draw_population(scenario: Scenario, structure: Structure, streams: ReplicateStreams) -> dict[str, np.ndarray]:
    """Each replicate's budget, resource factor, leadership, capacity and interest, stacked block by block.

    Every quantity (and every topic's baseline and interest) has numbers of its own, all replicates drawn at once.
    """
    n, reps, topics = structure.n, len(streams), list(scenario.topics.values())
    names = list(scenario.topics)
    tile = lambda a: np.tile(a, reps)  # noqa: E731
    median, sigma = tile(structure.budget_median), tile(structure.budget_sigma)
    budget = median * np.exp(sigma * streams.normal("population", "budget", (n,)).reshape(reps * n))
    resource_factor = np.minimum(budget / median, 1.0) ** scenario.learning.resource_elasticity
    leadership = draw_leadership(streams, "population", "leadership", structure)
    applicable = np.tile(structure.applicable, (reps, 1))

    def per_topic(prefix: str, mean: np.ndarray, conc: np.ndarray) -> np.ndarray:
        a, b = (mean * conc)[:, None], ((1.0 - mean) * conc)[:, None]
        where = structure.applicable.T  # topics x institutions: draw only where the topic applies
        draws = streams.beta("population", [f"{prefix}:{t}" for t in names], a, b, (n,), where=where)
        return draws.transpose(0, 2, 1).reshape(reps * n, len(names))

    base_mean = np.array([t.baseline_mean for t in topics])
    base_conc = np.array([t.baseline_concentration for t in topics])
    want_mean = np.array([t.interest_mean for t in topics])
    want_conc = np.array([t.interest_concentration for t in topics])
    capacity = per_topic("baseline", base_mean, base_conc) * applicable
    interest = per_topic("interest", want_mean, want_conc) * applicable
    return {
        "budget": budget,
        "resource_factor": resource_factor,
        "leadership": leadership,
        "capacity": capacity,
        "interest": interest,
        "applicable": applicable,
    }
