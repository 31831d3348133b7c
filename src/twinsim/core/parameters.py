"""Declaring parameters: one declaration gives a parameter its default, bounds, unit, help text and prior.

The scenario schema (:mod:`twinsim.scenario.schema`) and every plug-in's parameter block (for example
:class:`twinsim.programme.experts.ExpertParams`) are built from :class:`Section` and :func:`param`; the docs tables,
the ``twinsim priors`` command and the donor's analysis read the same declarations.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from twinsim.core.priors import Prior

__all__ = ["NDENGA_2016", "Section", "assumed", "param"]


class Section(BaseModel):
    """A block of parameters: unknown keys are errors, values are checked on assignment, no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False, strict=True)


def param(
    default: Any,
    *,
    unit: str = "",
    plausible: tuple[float, float] | None = None,
    prior: Prior | None = None,
    source: str = "",
    **kw: Any,
) -> Any:
    """A schema field with its help text, unit, plausible range, prior (if uncertain) and source in one place.

    ``source`` says where the default comes from: a paper, a case study, a convention or a stated assumption
    (the ODD's parameter table prints it).
    """
    extra: dict[str, Any] = {"unit": unit}
    if source:
        extra["source"] = source
    if plausible is not None:
        extra["plausible"] = list(plausible)
    if prior is not None:
        extra["prior"] = prior
    return Field(default, json_schema_extra=extra, **kw)


#: Source of the context distances' priors.
NDENGA_2016 = (
    "Ndenga et al. 2016 (Globalization and Health): in Rwanda's north-south faculty twinning 52% of Rwandan but 10%"
    " of US faculty reported effective skill transfer; a common language predicted it"
)


def assumed(group: str, low: float, high: float, why: str = "", family: str = "triangular") -> Prior:
    """A prior that is a stated assumption: the plausible range, with its mode at the scenario's value."""
    text = "assumption: the plausible range" + (f"; {why}" if why else "") + " (docs/ODD.md)"
    return Prior(family, low, high, group, text)  # type: ignore[arg-type]
