"""Probabilistic sensitivity analysis: joint draws of every uncertain input of the scenarios compared.

A :class:`ParameterDraws` is a sample of parameter sets, one per *draw*: the calibrated parameters come from the
scenario's posterior (the same row the calibrated-only analysis draws), every other uncertain input from the prior
its schema field declares (:mod:`twinsim.core.priors`). Prior draws are stored as quantiles and mapped through
each scenario's own value (a triangular prior has its mode there), so every delivery model of a comparison meets the
same draw: common random numbers over parameters as well as over replicates.

Replicates ``2k`` and ``2k + 1`` run draw ``k`` (pairs, as with a posterior), so the spread of every outcome splits
into parameter uncertainty and replicate noise. Draw ``k``'s quantile of input ``key`` comes from its own stream
(``SeedSequence([seed, PRIOR_ENTROPY_TAG, crc32(key)])``): adding an input or a draw changes no other draw.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from twinsim.core.priors import UncertainInput, declared_priors, uncertain_inputs
from twinsim.errors import ScenarioError
from twinsim.experiments.posterior import REPLICATES_PER_DRAW, Posterior, _apply
from twinsim.programme.registry import ACTIVITIES, effective_rate
from twinsim.scenario import Scenario

__all__ = [
    "PRIOR_ENTROPY_TAG",
    "UNCERTAINTY_MODES",
    "ParameterDraws",
    "parameter_uncertainty",
    "scenario_inputs",
]

#: Mixed into the experiment seed so that prior draws never share a stream with posterior or model draws.
PRIOR_ENTROPY_TAG = 0x50524952  # "PRIR"

#: What a donor analysis draws: every uncertain input, the calibrated ones only, or nothing.
UNCERTAINTY_MODES = ("full", "calibrated", "none")


def scenario_inputs(scenario: Scenario) -> list[UncertainInput]:
    """The uncertain inputs of ``scenario``.

    Every field with a prior, and the transfer rate of every activity it schedules that runs at a rate of its own
    (not derived from another activity's rate, which carries the uncertainty). The experts' and the partners'
    parameters only where an activity of the programme needs experts or partners: elsewhere they change nothing.
    """
    needs = {ACTIVITIES[item.activity].needs for item in scenario.programme.schedule}
    rates: dict[str, float] = {}
    for item in scenario.programme.schedule:
        kind = ACTIVITIES[item.activity]
        derived_virtual = kind.in_person_counterpart is not None and scenario.mechanisms.delivery_modes
        derived = kind.rate_relative_to is not None and item.activity not in scenario.learning.rates
        if not (derived_virtual or derived):
            rates[item.activity] = effective_rate(scenario, item.activity)
    return [
        item
        for item in uncertain_inputs(scenario, rates)
        if item.prior.group not in {"experts", "partners"} or item.prior.group in needs
    ]


class ParameterDraws(Posterior):
    """Joint draws of the uncertain inputs: the calibrated ones from a posterior, the rest from their priors.

    Args:
        scenarios: the scenarios that will run these draws (their inputs are drawn; the first one gives the values
            shown in tables).
        draws: number of parameter sets.
        seed: the experiment seed.
        posterior: the calibration's posterior (its keys are not drawn from priors), or None.

    Attributes:
        keys: the calibrated keys, then the prior-drawn keys.
        quantiles: draws x prior keys: each draw's quantile of each prior-drawn input.
        calibrated: draws x calibrated keys: the posterior rows drawn.
        inputs: prior-drawn key -> its :class:`UncertainInput` in the first scenario that has it.

    """

    def __init__(self, scenarios: Sequence[Scenario], draws: int, seed: int, posterior: Posterior | None) -> None:
        if draws < 1:
            raise ScenarioError(f"parameter draws: need at least 1 (got {draws})")
        calibrated_keys = list(posterior.keys) if posterior is not None else []
        inputs: dict[str, UncertainInput] = {}
        for scenario in scenarios:
            for item in scenario_inputs(scenario):
                if item.key not in calibrated_keys:
                    inputs.setdefault(item.key, item)
        self.inputs = inputs
        self.seed = int(seed)
        self.posterior = posterior
        rows = (
            np.array([posterior.draw_index(seed, k * REPLICATES_PER_DRAW) for k in range(draws)], dtype=int)
            if posterior is not None
            else np.zeros(draws, dtype=int)
        )
        self.posterior_rows = rows
        self.calibrated = posterior.values[rows] if posterior is not None else np.empty((draws, 0))
        self.quantiles: np.ndarray = (
            np.column_stack([_quantiles(seed, key, draws) for key in inputs]) if inputs else np.empty((draws, 0))
        )
        samples = {k: self.calibrated[:, i] for i, k in enumerate(calibrated_keys)}
        samples |= {k: self.quantiles[:, j] for j, k in enumerate(inputs)}
        source = (posterior.source + " and priors") if posterior is not None else "priors"
        super().__init__(samples, np.full(draws, 1.0 / draws), source)
        self._scenario_inputs: dict[int, tuple[Scenario, list[tuple[int, UncertainInput]]]] = {}
        self.reference = scenarios[0]

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the per-scenario caches."""
        state = super().__getstate__()
        state["_scenario_inputs"] = {}
        return state

    @property
    def calibrated_keys(self) -> list[str]:
        """The keys drawn from the posterior."""
        return self.keys[: self.calibrated.shape[1]]

    @property
    def prior_keys(self) -> list[str]:
        """The keys drawn from their priors."""
        return list(self.inputs)

    def draw_index(self, seed: int, replicate: int, per_draw: int = REPLICATES_PER_DRAW) -> int:
        """Replicates ``k * per_draw .. (k + 1) * per_draw - 1`` run draw ``k`` (cycling past the last draw)."""
        return (replicate // per_draw) % len(self)

    def _inputs_of(self, scenario: Scenario) -> list[tuple[int, UncertainInput]]:
        cached = self._scenario_inputs.get(id(scenario))
        if cached is None or cached[0] is not scenario:
            column = {key: j for j, key in enumerate(self.inputs)}
            items = [(column[i.key], i) for i in scenario_inputs(scenario) if i.key in column]
            cached = self._scenario_inputs[id(scenario)] = (scenario, items)
        return cached[1]

    def overrides(self, scenario: Scenario, index: int) -> dict[str, float]:
        """Draw ``index`` of every uncertain input, as dotted-key overrides of ``scenario``."""
        out = dict(zip(self.calibrated_keys, self.calibrated[index].tolist(), strict=True))
        for j, item in self._inputs_of(scenario):
            out[item.key] = float(item.ppf(self.quantiles[index, j]))
        return out

    def keys_for(self, scenario: Scenario) -> list[str]:
        """The keys drawn in ``scenario``: the calibrated ones and the prior-drawn inputs it has."""
        return [*self.calibrated_keys, *(item.key for _, item in self._inputs_of(scenario))]

    def row(self, index: int) -> dict[str, float]:
        """Draw ``index`` as overrides of the first scenario (the values shown in tables)."""
        return self.overrides(self.reference, index)

    def check(self, scenario: Scenario) -> None:
        """Validate the smallest and the largest value of every input ``scenario`` would draw."""
        for name, u in (("smallest", 0.0), ("largest", 1.0)):
            values = {k: float(v) for k, v in zip(self.calibrated_keys, _extreme(self.calibrated, u), strict=True)}
            values |= {item.key: float(item.ppf(u)) for _, item in self._inputs_of(scenario)}
            _apply(scenario, values, f"parameter draws ({name} values)")

    def without(self, keys: set[str] | frozenset[str]) -> Posterior | None:
        """The draws without the inputs ``keys`` (a design varies them itself)."""
        copy = ParameterDraws.__new__(ParameterDraws)
        copy.__dict__.update(self.__getstate__())
        keep_cal = [i for i, k in enumerate(self.calibrated_keys) if k not in keys]
        keep_pri = [j for j, k in enumerate(self.inputs) if k not in keys]
        copy.calibrated = self.calibrated[:, keep_cal]
        copy.quantiles = self.quantiles[:, keep_pri]
        copy.inputs = {k: v for k, v in self.inputs.items() if k not in keys}
        copy.keys = [self.calibrated_keys[i] for i in keep_cal] + list(copy.inputs)
        copy.values = np.hstack([copy.calibrated, copy.quantiles])
        copy.values.flags.writeable = False
        copy._scenario_inputs = {}
        return copy if copy.keys else None

    def table(self, scenario: Scenario | None = None) -> Any:
        """Draws x inputs: the value of every uncertain input in each draw (for ``scenario``, default the first).

        A column per calibrated key and per prior-drawn key; the index is the draw (``parameter_set``).
        """
        import pandas as pd

        scenario = self.reference if scenario is None else scenario
        columns = {k: self.calibrated[:, i] for i, k in enumerate(self.calibrated_keys)}
        mapped = dict(self._inputs_of(scenario))
        for j, key in enumerate(self.inputs):
            item = mapped.get(j, self.inputs[key])
            columns[key] = item.ppf(self.quantiles[:, j])
        return pd.DataFrame(columns).rename_axis("parameter_set")

    def groups(self) -> dict[str, list[str]]:
        """Group name (``learning``, ``costs``, ``experts``, ``partners``) -> the keys drawn in it."""
        out: dict[str, list[str]] = {}
        for key in self.calibrated_keys:
            out.setdefault("learning", []).append(key)
        for key, item in self.inputs.items():
            out.setdefault(item.prior.group, []).append(key)
        return out

    def describe(self) -> str:
        """One line: how many inputs are uncertain, and from where."""
        groups = ", ".join(f"{g} {len(keys)}" for g, keys in self.groups().items())
        name = Path(self.posterior.source).parent.name if self.posterior else ""
        calibrated = f"{len(self.calibrated_keys)} from the posterior ({name}), " if self.posterior else ""
        return (
            f"{len(self.keys)} uncertain inputs ({calibrated}{len(self.inputs)} from their priors; {groups}), "
            f"{len(self)} draws"
        )


def _quantiles(seed: int, key: str, draws: int) -> np.ndarray:
    """Draws' quantiles of one input: a stream of its own per (seed, key), never exactly 0 or 1."""
    seq = np.random.SeedSequence([int(seed), PRIOR_ENTROPY_TAG, zlib.crc32(key.encode())])
    return np.random.default_rng(seq).uniform(1e-9, 1 - 1e-9, draws)


def _extreme(values: np.ndarray, u: float) -> np.ndarray:
    return values.min(axis=0) if u == 0.0 else values.max(axis=0)


def parameter_uncertainty(
    mode: str,
    scenarios: Sequence[Scenario],
    replicates: int,
    seed: int,
    posterior: Posterior | None,
) -> Posterior | None:
    """What a donor analysis draws from: ``full`` (every uncertain input), ``calibrated`` (the posterior) or ``none``.

    ``full`` gives :class:`ParameterDraws` with one draw per pair of replicates; ``calibrated`` the posterior itself
    (None when the scenario has none); ``none`` None.
    """
    if mode not in UNCERTAINTY_MODES:
        raise ScenarioError(f"--uncertainty: unknown {mode!r}; allowed: {', '.join(UNCERTAINTY_MODES)}")
    if mode == "none":
        return None
    if mode == "calibrated":
        return posterior
    draws = -(-replicates // REPLICATES_PER_DRAW)
    return ParameterDraws(scenarios, draws, seed, posterior)


def prior_table(scenario: Scenario | None = None) -> list[dict[str, Any]]:
    """Every declared prior of the schema (one row per dotted key), with the scenario's value where given."""
    rows = []
    values = {i.key: i.value for i in scenario_inputs(scenario)} if scenario is not None else {}
    for key, (prior, info) in declared_priors(Scenario).items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        name = key if key != "learning.rates" else "learning.rates.<activity>"
        rows.append(
            {
                "key": name,
                "group": prior.group,
                "unit": extra.get("unit", ""),
                "prior": prior.describe(values.get(key)),
                "value": values.get(key),
                "source": prior.source,
            }
        )
    return rows
