"""Priors of the uncertain inputs: what is not a design choice, declared where the parameter is declared.

A parameter of the scenario schema that the user does not choose (a learning rate, a context distance, a threshold,
a unit cost) carries a :class:`Prior` in its field declaration (``_param(..., prior=Prior(...))``): a family, a
range, the group it belongs to (``learning``, ``costs``, ``experts``, ``partners``) and its source or stated
assumption. The donor's analysis (probabilistic sensitivity analysis, value of information, scenario discovery)
draws every such input from its prior, except those a calibration's posterior gives.

A draw is a quantile ``u`` in (0, 1), mapped through the prior with the scenario's own value of the parameter:

- ``uniform`` and ``loguniform``: over ``[low, high]``; the scenario's value does not enter;
- ``triangular``: over ``[low, high]`` with its mode at the scenario's value (the modeller's best guess);
- ``relative=True``: ``low`` and ``high`` are multiples of the scenario's value (a rate known only up to a factor).

A range that does not hold the scenario's value is widened to hold it, so no scenario is told its own value is
impossible. Common random numbers across delivery models: every model maps the same quantiles.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["PRIOR_FAMILIES", "PRIOR_GROUPS", "Prior", "UncertainInput", "uncertain_inputs"]

#: Distribution families a prior may take.
PRIOR_FAMILIES = ("uniform", "loguniform", "triangular")

#: Groups of uncertain inputs (value of information is reported per group too).
PRIOR_GROUPS = ("learning", "costs", "experts", "partners")


@dataclass(frozen=True)
class Prior:
    """The distribution of one uncertain input.

    Attributes:
        family: ``uniform``, ``loguniform`` or ``triangular`` (mode at the scenario's value).
        low: lower end of the range (a multiple of the scenario's value when ``relative``).
        high: upper end of the range (likewise).
        group: ``learning``, ``costs``, ``experts`` or ``partners``.
        source: where the range comes from, or the stated assumption behind it.
        relative: the range is relative to the scenario's value.

    """

    family: Literal["uniform", "loguniform", "triangular"]
    low: float
    high: float
    group: str
    source: str
    relative: bool = False

    def __post_init__(self) -> None:
        if self.family not in PRIOR_FAMILIES:
            raise ValueError(f"prior family {self.family!r}; allowed: {', '.join(PRIOR_FAMILIES)}")
        if self.group not in PRIOR_GROUPS:
            raise ValueError(f"prior group {self.group!r}; allowed: {', '.join(PRIOR_GROUPS)}")
        if not self.low < self.high or (self.family == "loguniform" and self.low <= 0):
            raise ValueError(f"prior range [{self.low}, {self.high}] is empty (or not positive for loguniform)")
        if not self.source:
            raise ValueError("a prior needs its source or stated assumption")

    def bounds(self, value: float) -> tuple[float, float]:
        """The range for a scenario whose own value is ``value`` (widened to hold it)."""
        low, high = (self.low * value, self.high * value) if self.relative else (self.low, self.high)
        return min(low, value), max(high, value)

    def ppf(self, u: np.ndarray | float, value: float) -> np.ndarray:
        """The values at quantiles ``u`` for a scenario whose own value is ``value``."""
        u = np.asarray(u, dtype=float)
        low, high = self.bounds(value)
        if high <= low:  # the scenario's value is 0 and the range relative: nothing is uncertain
            return np.full_like(u, value)
        if self.family == "uniform":
            return low + u * (high - low)
        if self.family == "loguniform":
            low = max(low, high * 1e-6)
            return np.exp(math.log(low) + u * (math.log(high) - math.log(low)))
        mode = min(max(value, low), high)
        c = (mode - low) / (high - low)
        left = low + np.sqrt(u * (high - low) * (mode - low))
        right = high - np.sqrt((1 - u) * (high - low) * (high - mode))
        return np.where(u < c, left, right)

    def describe(self, value: float | None = None) -> str:
        """A short description: ``triangular(0.7, mode 0.88, 0.95)``, ``loguniform(x0.5 .. x2)``."""
        if self.relative:
            base = f"x{self.low:g} .. x{self.high:g} of the scenario's value"
            return f"{self.family}({base})"
        if self.family == "triangular":
            mode = "the scenario's value" if value is None else f"{value:g}"
            return f"triangular({self.low:g}, mode {mode}, {self.high:g})"
        return f"{self.family}({self.low:g}, {self.high:g})"


@dataclass(frozen=True)
class UncertainInput:
    """One uncertain input of a scenario: its dotted key, prior and the scenario's own value."""

    key: str
    prior: Prior
    value: float

    def ppf(self, u: np.ndarray | float) -> np.ndarray:
        """The values at quantiles ``u``."""
        return self.prior.ppf(u, self.value)


def declared_priors(model: type[Any], prefix: str = "") -> dict[str, tuple[Prior, Any]]:
    """Every field of a pydantic model (recursively) that declares a prior: dotted key -> (prior, field info).

    Dictionary fields (``learning.rates``) declare one prior for every entry; they are listed with the key of the
    field itself and expanded by :func:`uncertain_inputs`.
    """
    out: dict[str, tuple[Prior, Any]] = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        prior = extra.get("prior")
        key = f"{prefix}{name}"
        if isinstance(prior, Prior):
            out[key] = (prior, info)
        section = _section_type(info.annotation)
        if section is not None:
            out.update(declared_priors(section, key + "."))
    return out


def _section_type(annotation: Any) -> type[Any] | None:
    """The pydantic model a field holds directly (not in a container), if any."""
    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        return annotation
    return None


def uncertain_inputs(scenario: Any, rates: Mapping[str, float] | None = None) -> list[UncertainInput]:
    """The scenario's uncertain inputs, in declaration order, each with the scenario's own value.

    ``rates``: the activities whose transfer rates are uncertain (``learning.rates.<activity>``), each with the rate
    it runs at (the programme's registry knows defaults and derived rates, so the caller gives them).
    """
    out = []
    declared = declared_priors(type(scenario))
    for key, (prior, _) in declared.items():
        value = _get(scenario, key)
        if isinstance(value, dict):
            continue  # a dictionary field: its entries are given by the caller (rates)
        out.append(UncertainInput(key, prior, float(value)))
    if "learning.rates" in declared:
        prior = declared["learning.rates"][0]
        for activity, rate in (rates or {}).items():
            out.append(UncertainInput(f"learning.rates.{activity}", prior, float(rate)))
    return out


def _get(scenario: Any, key: str) -> Any:
    node = scenario
    for part in key.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node
