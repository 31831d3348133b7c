"""Designs: the points of a sweep, built from ``KEY=VALUES`` specifications.

A specification names a dotted scenario key and its values:

- a list ``1,2,3`` (each item read as TOML, so ``standard,coaching`` gives strings);
- a range ``LO:HI:N``: ``N`` evenly spaced values from ``LO`` to ``HI`` (both included);
- for Latin hypercube and Sobol designs, only the bounds matter: ``LO:HI``, a list (its minimum and
  maximum) or the bare ``KEY``, which takes the schema's plausible range.

Keys whose current value is an integer get integer values (rounded). Every design point is checked
against the scenario schema before anything runs, so a bad key or value fails at once.
LHS and Sobol samples are drawn from ``SeedSequence(seed)`` (the experiment's root, which no run uses).
"""

from __future__ import annotations

import itertools
import math
import tomllib
from dataclasses import dataclass
from typing import Any

import numpy as np

from twinsim.errors import ScenarioError
from twinsim.scenario import Scenario, plausible_range
from twinsim.scenario.schema import unreadable

__all__ = ["DESIGNS", "ParamSpec", "build_design", "parse_param"]

DESIGNS = ("grid", "lhs", "sobol")


@dataclass(frozen=True)
class ParamSpec:
    """One swept parameter: its dotted key, listed values, or bounds (``None`` when neither was given)."""

    key: str
    values: tuple[Any, ...] = ()
    bounds: tuple[float, float] | None = None


#: Most design points of one sweep (each is validated against the schema before any run).
MAX_POINTS = 100_000


def parse_param(text: str) -> ParamSpec:
    """Parse ``KEY=1,2,3``, ``KEY=LO:HI:N``, ``KEY=LO:HI`` or a bare ``KEY``."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not key or (sep and not raw):
        raise ScenarioError(f"--param {text}: expected KEY=VALUES (1,2,3 or LO:HI:N)")
    if not sep:
        return ParamSpec(key)
    if ":" in raw:
        return _parse_range(text, key, raw)
    return ParamSpec(key, tuple(_toml_value(item.strip()) for item in raw.split(",")))


def _parse_range(text: str, key: str, raw: str) -> ParamSpec:
    parts = raw.split(":")
    try:
        numbers = [float(p) for p in parts[:2]]
        count = int(parts[2]) if len(parts) == 3 else None
    except ValueError:
        raise ScenarioError(f"--param {text}: a range is LO:HI:N with numbers LO, HI and a count N") from None
    if len(parts) not in (2, 3) or (count is not None and count < 1):
        raise ScenarioError(f"--param {text}: a range is LO:HI:N with numbers LO, HI and a count N >= 1")
    if not all(np.isfinite(numbers)):
        raise ScenarioError(f"--param {text}: LO and HI must be finite numbers")
    if count is not None and count > MAX_POINTS:
        raise ScenarioError(f"--param {text}: {count:,} values; a sweep takes at most {MAX_POINTS:,} design points")
    lo, hi = numbers
    if count is None:
        return ParamSpec(key, bounds=(lo, hi))
    return ParamSpec(key, tuple(_tidy(v) for v in np.linspace(lo, hi, count)), bounds=(lo, hi))


def _toml_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw
    except (ValueError, RecursionError) as exc:  # an integer of more than 4300 digits
        raise ScenarioError(f"--param: a value cannot be read ({unreadable(exc)})") from None


def _tidy(value: float) -> float:
    """Drop floating-point noise from a computed value (0.15000000000000002 -> 0.15)."""
    return float(f"{float(value):.12g}")


def build_design(
    scenario: Scenario,
    specs: list[ParamSpec] | list[str],
    design: str = "grid",
    samples: int | None = None,
    seed: int | None = None,
) -> list[dict[str, Any]]:
    """The design points (dicts of dotted-key overrides) of a sweep, each validated against the schema.

    Args:
        scenario: the base scenario the points override.
        specs: parameter specifications (:class:`ParamSpec` or ``"KEY=VALUES"`` strings).
        design: ``grid`` (every combination of the listed values), ``lhs`` (Latin hypercube) or
            ``sobol`` (scrambled Sobol sequence; ``samples`` a power of two).
        samples: number of points of an ``lhs`` or ``sobol`` design.
        seed: experiment seed (default: ``scenario.simulation.seed``); draws the LHS/Sobol sample.

    Raises:
        ScenarioError: a bad key, value, range, design name or sample count (one line).

    """
    parsed = [parse_param(s) if isinstance(s, str) else s for s in specs]
    if not parsed:
        raise ScenarioError("--param: give at least one KEY=VALUES to sweep")
    keys = [p.key for p in parsed]
    if len(set(keys)) < len(keys):
        raise ScenarioError(f"--param: each key once; repeated: {sorted({k for k in keys if keys.count(k) > 1})[0]}")
    if design not in DESIGNS:
        raise ScenarioError(f"--design: unknown design {design!r}; allowed: {', '.join(DESIGNS)}")
    for key in keys:
        scenario.with_overrides({key: _current(scenario, key)}, source=f"--param {key}")
    if design == "grid":
        if samples is not None:
            raise ScenarioError("--samples: only for lhs and sobol designs (a grid takes every combination)")
        points = _grid(scenario, parsed)
    else:
        seed = scenario.simulation.seed if seed is None else int(seed)
        points = _sample(scenario, parsed, design, samples, seed)
    for point in points:
        scenario.with_overrides(point, source="--param " + ",".join(f"{k}={v}" for k, v in point.items()))
    return points


def _grid(scenario: Scenario, specs: list[ParamSpec]) -> list[dict[str, Any]]:
    columns = []
    for spec in specs:
        if not spec.values:
            raise ScenarioError(f"--param {spec.key}: a grid needs values, e.g. {spec.key}=1,2,3 or LO:HI:N")
    size = math.prod(len(spec.values) for spec in specs)
    if size > MAX_POINTS:
        raise ScenarioError(
            f"--param: the grid has {size:,} design points ({' x '.join(str(len(s.values)) for s in specs)}); "
            f"at most {MAX_POINTS:,}"
        )
    for spec in specs:
        columns.append(_cast(scenario, spec.key, spec.values))
    keys = [s.key for s in specs]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*columns)]


def _sample(
    scenario: Scenario, specs: list[ParamSpec], design: str, samples: int | None, seed: int
) -> list[dict[str, Any]]:
    if samples is None or samples < 1:
        raise ScenarioError(f"--samples: a {design} design needs a number of points N >= 1")
    if samples > MAX_POINTS:
        raise ScenarioError(f"--samples: {samples:,} design points; a sweep takes at most {MAX_POINTS:,}")
    if design == "sobol" and samples & (samples - 1):
        lower = 1 << (samples.bit_length() - 1)
        raise ScenarioError(
            f"--samples: a Sobol design needs a power of two (got {samples}; use {lower} or {2 * lower})"
        )
    bounds = np.array([_bounds(s) for s in specs])
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    from scipy.stats import qmc  # on first use: half a second of import that grid designs do not need

    engine = qmc.LatinHypercube(len(specs), rng=rng) if design == "lhs" else qmc.Sobol(len(specs), rng=rng)
    unit = engine.random(samples)
    values = qmc.scale(unit, bounds[:, 0], bounds[:, 1]) if np.all(bounds[:, 0] < bounds[:, 1]) else None
    if values is None:
        bad = next(s for s, (lo, hi) in zip(specs, bounds, strict=True) if lo >= hi)
        raise ScenarioError(f"--param {bad.key}: bounds must satisfy LO < HI")
    columns = [_cast(scenario, s.key, [_tidy(v) for v in values[:, j]]) for j, s in enumerate(specs)]
    keys = [s.key for s in specs]
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]


def _bounds(spec: ParamSpec) -> tuple[float, float]:
    if spec.bounds is not None:
        return spec.bounds
    if spec.values:
        try:
            numbers = [float(v) for v in spec.values]
        except (TypeError, ValueError):
            raise ScenarioError(f"--param {spec.key}: LHS and Sobol designs need numeric values") from None
        return min(numbers), max(numbers)
    found = plausible_range(spec.key)
    if found is None:
        raise ScenarioError(f"--param {spec.key}: the schema gives no plausible range; give bounds {spec.key}=LO:HI")
    return found


def _current(scenario: Scenario, key: str) -> Any:
    """The scenario's current value at a dotted key (``None`` when the key does not exist yet)."""
    node: Any = scenario.model_dump()
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _cast(scenario: Scenario, key: str, values: Any) -> list[Any]:
    """Integer keys get rounded integers; other values pass unchanged."""
    current = _current(scenario, key)
    if isinstance(current, int) and not isinstance(current, bool):
        return [round(v) if isinstance(v, float) else v for v in values]
    return list(values)
