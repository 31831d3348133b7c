"""Calibration targets: the published effects a scenario is fitted to, and the settings of the fit.

A targets file is TOML: a ``[calibration]`` table (the parameters to fit and the ABC settings) and one
``[[targets]]`` entry per published effect (a run summary key, its value and its standard error). The
bundled files are in ``twinsim/scenarios/targets/``; :mod:`twinsim.analysis.calibration` fits them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from twinsim.errors import ScenarioError
from twinsim.scenario import plausible_range, resolve_targets
from twinsim.scenario.schema import check_text, read_toml_file

__all__ = ["CalibrationSpec", "SMCSettings", "Target", "load_targets"]


class Target(BaseModel):
    """One published effect: a run summary key, its value and its stated uncertainty (standard error)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    key: str = Field(
        ...,
        description="Run summary key, e.g. 'selected_vs_not.accreditation' (true indicators) or "
        "'measured_selected_vs_not.accreditation' (the evaluator's measured indicators, as a published evaluation).",
    )
    value: float = Field(..., description="The published value.")
    sd: float = Field(..., gt=0, allow_inf_nan=False, description="Standard error of the published value.")
    significant: bool = Field(
        False,
        description="The value was published because its test was significant: the fit corrects for that filter "
        "(a value reported only when |value / sd| > critical is inflated; see significance_penalty).",
    )
    critical: float = Field(
        1.96, gt=0, allow_inf_nan=False, description="Critical value of the published test (t or z), two-sided."
    )
    source: str = Field("", description="Where the value and its uncertainty come from.")


class SMCSettings(BaseModel):
    """The ``[calibration.smc]`` table: settings of ABC-SMC (see :mod:`twinsim.analysis.abc_smc`)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    particles: int = Field(1000, ge=10, le=1_000_000, description="Proposals (one model run each) per generation.")
    final_tolerance: float = Field(
        0.5,
        gt=0,
        le=10,
        description="Kernel width at which the run stops, in target standard errors: the error the simulated "
        "statistics leave out (measurement of the published comparison; see docs/evaluation.md).",
    )
    ess_fraction: float = Field(
        0.5, gt=0, lt=1, description="Each generation keeps this share of the effective sample size (Del Moral)."
    )
    min_ess: float = Field(100, ge=1, description="Effective sample size a generation never goes below.")
    kernel_scale: float = Field(
        1.0,
        gt=0,
        le=10,
        description="Perturbation covariance: this times the population's, on the logit scale (Beaumont et al.: 2 "
        "on the parameters' own scale; see docs/evaluation.md).",
    )
    max_generations: int = Field(20, ge=1, le=1000, description="At most this many generations.")
    point_candidates: int = Field(
        10, ge=1, le=1000, description="Point estimate: particles nearest the targets in expectation, checked by runs."
    )
    point_replicates: int = Field(
        40, ge=1, le=100_000, description="Point estimate: fresh runs of each candidate; the nearest mean wins."
    )
    defensive: float = Field(
        0.1, ge=0, lt=1, description="Share of proposals drawn from the prior (defensive importance sampling)."
    )

    @field_validator("min_ess")
    @classmethod
    def _check_min_ess(cls, value: float, info: Any) -> float:
        particles = info.data.get("particles")
        if particles is not None and value > particles:
            raise ValueError(f"{value:g} is more than the {particles} particles of a generation")
        return value


class CalibrationSpec(BaseModel):
    """A targets file: what to fit, to which published effects, and the ABC settings."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    parameters: list[str] = Field(..., min_length=1, description="Dotted scenario keys to fit.")
    targets: list[Target] = Field(..., min_length=1)
    replicates_per_point: int = Field(4, ge=1, le=1000, description="Replicates averaged per design point.")
    accept: float = Field(0.05, gt=0, le=1, description="Share of design points accepted.")
    method: Literal["smc", "rejection", "loclinear"] = Field(
        "smc",
        description="smc: ABC-SMC on single replicates (the model's own noise in the likelihood); rejection: "
        "Latin hypercube of k-replicate means, accepted points, kernel-weighted refinement; loclinear: rejection "
        "plus regression adjustment.",
    )
    smc: SMCSettings = Field(default_factory=SMCSettings, description="ABC-SMC settings (method = 'smc').")
    prior: Literal["uniform", "loguniform"] = Field(
        "uniform",
        description="Prior family on each parameter's plausible range: uniform, or log-uniform (a range from 0 starts"
        " at a thousandth of its upper end); ABC-SMC only. `twinsim calibrate` also fits under the other family and"
        " reports what changes (the prior-sensitivity check).",
    )
    seed: int = Field(20240901, ge=0, description="Seed of the design and of the replicates.")
    refine_replicates: int = Field(
        16, ge=0, le=10_000, description="Fresh replicates per accepted set for the kernel weights (0: none)."
    )
    predictive_draws: int = Field(100, ge=0, le=100_000, description="Posterior predictive draws.")
    check_replicates: int = Field(200, ge=0, le=100_000, description="Replicates run at the point estimate.")

    @field_validator("parameters")
    @classmethod
    def _check_parameters(cls, value: list[str]) -> list[str]:
        for key in value:
            if plausible_range(key) is None:
                raise ValueError(f"{key!r} has no plausible range in the schema; only such parameters can be fitted")
        if len(set(value)) != len(value):
            raise ValueError("a parameter is listed twice")
        return value

    @model_validator(mode="after")
    def _check_method(self) -> CalibrationSpec:
        if self.method == "smc" and any(t.significant for t in self.targets):
            key = next(t.key for t in self.targets if t.significant)
            raise ValueError(
                f"targets: {key!r} has significant = true, which method 'smc' does not support (the correction "
                "needs each point's expected effect); use method = 'rejection'"
            )
        return self


def load_targets(path: str | Path) -> CalibrationSpec:
    """Read and validate a targets file (TOML: a ``[calibration]`` table and ``[[targets]]`` entries).

    ``path`` is a file or the name of bundled targets (``"rwanda_tpn"``; see :func:`twinsim.scenario.resolve_targets`).
    """
    path = resolve_targets(path)

    data = read_toml_file(path, f"--targets {path}")
    check_text(data, f"--targets {path}")
    settings = data.pop("calibration", {})
    unknown = sorted(set(data) - {"targets"})
    if unknown:
        raise ScenarioError(f"--targets {path}: unknown table {unknown[0]!r}; allowed: calibration, targets")
    try:
        return CalibrationSpec.model_validate({**settings, "targets": data.get("targets", [])})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ScenarioError(f"--targets {path}: {loc}: {err['msg'].removeprefix('Value error, ')}") from None
