"""What to run: an experiment is arms (scenarios or design points, factual or counterfactual) x replicates.

Every analysis describes its runs as an :class:`Experiment` and hands it to :func:`twinsim.experiments.engine.run`,
which returns the tidy runs table (one row per arm and replicate): compare (one arm per delivery model and one per
counterfactual), decompose (a factual and a counterfactual arm), power (one arm per trial size), calibrate, sweep
and sensitivity (one arm per design point). The engine gives each the same executors, result store, resume,
batching and posterior draws.

Seeds: replicate ``r`` of every arm uses ``SeedSequence(seed, spawn_key=(r,))`` (``streams="common"``: arms share
their random draws, common random numbers) or ``SeedSequence(seed, spawn_key=(arm, r))`` (``"independent"``). With
a posterior, replicate ``r`` of every arm runs the posterior's parameter set drawn for ``(seed, r)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twinsim.errors import TwinsimError
from twinsim.experiments.outputs import OUTPUTS
from twinsim.experiments.posterior import Posterior, check_posterior_ranges, check_ranges, scenario_for_replicate
from twinsim.kernel.streams import run_seed_sequence
from twinsim.model.twinning import per_replicate_parameter
from twinsim.programme.registry import user_plugins
from twinsim.scenario import Scenario

__all__ = ["STREAMS", "Arm", "Experiment", "run_seed"]

#: Seeding schemes (see :func:`run_seed`).
STREAMS = ("common", "independent")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def run_seed(seed: int, point: int, replicate: int, streams: str = "common") -> np.random.SeedSequence:
    """The ``SeedSequence`` of replicate ``replicate`` of arm (design point) ``point``.

    ``common`` (the default): ``SeedSequence(seed, spawn_key=(replicate,))`` for every point, so design
    points share their random draws (common random numbers) and differences between points are not
    noise. ``independent``: ``SeedSequence(seed, spawn_key=(point, replicate))``, a stream per point.
    """
    if streams == "common":
        return run_seed_sequence(seed, replicate)
    if streams == "independent":
        return np.random.SeedSequence(seed, spawn_key=(point, replicate))
    raise TwinsimError(f"--streams: unknown seeding {streams!r}; allowed: {', '.join(STREAMS)}")


@dataclass(frozen=True)
class Arm:
    """One thing to run replicates of.

    Attributes:
        scenario: the scenario (before the arm's overrides).
        overrides: dotted-key overrides of a design point (they become columns of the runs table).
        programme_learning: False for the counterfactual arm of a decomposition.
        label: a name for the arm (a column ``arm`` of the runs table when any arm has one).

    """

    scenario: Scenario
    overrides: dict[str, Any] = field(default_factory=dict)
    programme_learning: bool = True
    label: str = ""

    def resolved(self) -> Scenario:
        """The scenario this arm runs (overrides applied and validated)."""
        if not self.overrides:
            return self.scenario
        return self.scenario.with_overrides(self.overrides, source="design point " + json.dumps(self.overrides))


@dataclass(frozen=True)
class Experiment:
    """Arms x replicates, seeded, optionally with posterior draws; the outputs each run reports.

    Attributes:
        arms: what runs (see :class:`Arm`).
        replicates: replicates per arm.
        seed: the experiment seed.
        streams: ``"common"`` or ``"independent"`` (see :func:`run_seed`).
        posterior: carry parameter uncertainty: replicate ``r`` runs the posterior draw for ``(seed, r)``.
        outputs: the output families each run reports (:data:`twinsim.experiments.outputs.OUTPUTS`).
        name: what the experiment is (``compare``, ``decompose``, ``sweep`` ...), for its store's manifest.
        plugins: the user's registered activities and delivery models (pickled by value), which every worker
            registers before its first run (see :func:`twinsim.programme.registry.register`).

    """

    arms: tuple[Arm, ...]
    replicates: int
    seed: int
    streams: str = "common"
    posterior: Posterior | None = None
    outputs: tuple[str, ...] = ("summary",)
    name: str = "experiment"
    plugins: bytes | None = field(default_factory=user_plugins, repr=False, compare=False)
    cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its cache (a worker rebuilds what it needs; thousands of arms' scenarios stay home)."""
        return {**self.__dict__, "cache": {}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __post_init__(self) -> None:
        if not self.arms:
            raise TwinsimError(f"{self.name}: nothing to run (no scenarios or design points)")
        if self.replicates < 1:
            raise TwinsimError(f"--replicates: must be at least 1 (got {self.replicates})")
        unknown = sorted(set(self.outputs) - set(OUTPUTS))
        if unknown:
            raise TwinsimError(f"outputs: unknown {unknown[0]!r}; allowed: {', '.join(OUTPUTS)}")
        run_seed(self.seed, 0, 0, self.streams)  # checks the seeding scheme

    @classmethod
    def from_points(
        cls,
        scenario: Scenario,
        points: list[dict[str, Any]],
        replicates: int,
        seed: int,
        *,
        streams: str = "common",
        posterior: Posterior | None = None,
        outputs: tuple[str, ...] = ("summary",),
        name: str = "sweep",
    ) -> Experiment:
        """Design points (dotted-key overrides of ``scenario``), each validated before anything runs."""
        experiment = cls(tuple(Arm(scenario, dict(point)) for point in points), replicates, seed, streams, posterior,
                         outputs, name)  # fmt: skip
        for arm in range(len(experiment.arms)):
            experiment.arm_scenario(arm)
        return experiment

    @property
    def params(self) -> list[str]:
        """The dotted keys the arms override (columns of the runs table)."""
        return list(dict.fromkeys(k for arm in self.arms for k in arm.overrides))

    @property
    def labelled(self) -> bool:
        """Whether the runs table has an ``arm`` column."""
        if "labelled" not in self.cache:
            self.cache["labelled"] = any(arm.label for arm in self.arms)
        return self.cache["labelled"]

    def scenario_for(self, arm: int, replicate: int) -> Scenario:
        """The scenario replicate ``replicate`` of arm ``arm`` runs (design point and posterior draw applied).

        Validated once per arm and posterior row (runs that drew the same row share the scenario object).
        """
        key = ("scenario", arm, self.draw_row(replicate))
        if key not in self.cache:
            base = self.arm_scenario(arm)
            self.cache[key] = scenario_for_replicate(base, self.posterior, self.seed, replicate, checked=True)
        return self.cache[key]

    def arm_scenario(self, arm: int) -> Scenario:
        """Arm ``arm``'s scenario before any posterior draw (validated once; the posterior's ranges checked on it)."""
        base = self.cache.get(("arm", arm))
        if base is None:
            spec = self.arms[arm]
            base = spec.scenario.assigned(spec.overrides) if self.assignable_arms() else spec.resolved()
            self.cache[("arm", arm)] = base
            if self.posterior is not None:
                check_posterior_ranges(base, self.posterior)
        return base

    def assignable_arms(self) -> bool:
        """Whether every arm sets the same per-replicate parameters of one scenario (a calibration's particles).

        Then the smallest and the largest value of each are validated once (the schema bounds them by intervals)
        and each arm's values are set without validating the whole scenario again: thousands of particles cost
        two validations, not thousands.
        """
        if "assignable" not in self.cache:
            first = self.arms[0]
            keys = set(first.overrides)
            assignable = (
                bool(keys)
                and all(per_replicate_parameter(k) for k in keys)
                and all(a.scenario is first.scenario and set(a.overrides) == keys for a in self.arms)
                and all(_number(v) for a in self.arms for v in a.overrides.values())
            )
            if assignable:
                self._check_extremes()
            self.cache["assignable"] = assignable
        return self.cache["assignable"]

    def _check_extremes(self) -> None:
        """Validate each per-replicate parameter at its extremes over the arms; an error names the design point."""
        first = self.arms[0]
        values = {k: [a.overrides[k] for a in self.arms] for k in first.overrides}
        check_ranges(first.scenario, values, "design points", lambda i: f"design point {i}")

    def draw_row(self, replicate: int) -> int:
        """The posterior row replicate ``replicate`` runs (0 without a posterior): equal rows, equal parameters."""
        if self.posterior is None:
            return 0
        key = ("row", replicate)
        if key not in self.cache:
            self.cache[key] = self.posterior.draw_index(self.seed, replicate)
        return self.cache[key]

    def seed_for(self, arm: int, replicate: int) -> np.random.SeedSequence:
        """The seed sequence of replicate ``replicate`` of arm ``arm``."""
        return run_seed(self.seed, arm, replicate, self.streams)

    def manifest(self) -> dict[str, Any]:
        """What identifies the experiment in a result store (a store refuses to resume another experiment)."""
        base = self.arms[0].scenario
        arms = [
            {
                "label": arm.label,
                "programme_learning": arm.programme_learning,
                **({"scenario": arm.scenario.model_dump(mode="json")} if arm.scenario is not base else {}),
            }
            for arm in self.arms
        ]
        return {
            "experiment": self.name,
            "scenario_name": base.name,
            "scenario": base.model_dump(mode="json"),
            "seed": self.seed,
            "streams": self.streams,
            "spawn_key": "(replicate,)" if self.streams == "common" else "(point, replicate)",
            "replicates": self.replicates,
            "outputs": list(self.outputs),
            "posterior": None if self.posterior is None else _posterior_identity(self.posterior),
            "params": self.params,
            "points": [arm.overrides for arm in self.arms],
            "arms": arms,
        }


def _posterior_identity(posterior: Posterior) -> dict[str, Any]:
    return {
        "source": posterior.source,
        "rows": len(posterior),
        "keys": posterior.keys,
        "checksum": float(np.round(posterior.values.sum() + posterior.weights @ np.arange(len(posterior)), 9)),
    }
