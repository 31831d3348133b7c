"""Scenario schema, loading, ``extends`` and ``--set`` overrides.

The :class:`Scenario` model is the single source of every parameter's default, bounds, unit and help
text. Scenario files (TOML), command-line overrides, sensitivity bounds and the docs all read it.

A parameter's *plausible range* (used as default bounds for sensitivity analysis and calibration
priors) is stored in ``json_schema_extra["plausible"]``; its unit in ``json_schema_extra["unit"]``.
"""

from __future__ import annotations

import copy
import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from twinsim.core.parameters import Section, assumed, param
from twinsim.core.priors import Prior
from twinsim.errors import ScenarioError
from twinsim.programme.costs import ActivityCost, CostParams
from twinsim.programme.experts import ExpertParams
from twinsim.programme.matching import MATCHING_RULES, TOPIC_CHOICE_RULES
from twinsim.programme.partners import PartnerParams
from twinsim.programme.registry import ACTIVITIES, DELIVERY_MODELS
from twinsim.scenario.bundled import did_you_mean

__all__ = [
    "ActivityCost",
    "ChoiceLevel",
    "CostParams",
    "EvaluationParams",
    "ExpertParams",
    "KindSpec",
    "LearningParams",
    "MechanismParams",
    "PartnerParams",
    "PopulationParams",
    "ProgrammeParams",
    "RecordingParams",
    "Scenario",
    "ScheduledActivity",
    "SensitivityChoice",
    "SensitivityFactor",
    "SensitivitySpec",
    "SimulationParams",
    "TopicSpec",
    "as_scenario",
    "bundled_scenarios",
    "load_scenario",
    "parse_override",
    "plausible_range",
    "resolve_scenario_path",
]


#: Source of the transfer rates' prior.
_RATE_SOURCE = (
    "assumption: each activity's transfer rate is known to a factor of 2 either way; Rowe et al. 2018 (Lancet Global"
    " Health) give relative, not absolute, sizes; calibrated rates come from the posterior"
)

#: Most institutions a scenario may hold (the state is institutions x topics per replicate, the panel x months).
MAX_INSTITUTIONS = 1_000_000
#: Calendar years a scenario may start in.
MIN_YEAR, MAX_YEAR = 1900, 2200
#: Most files in an ``extends`` chain, deepest nesting of tables and lists, largest scenario file.
MAX_EXTENDS = 32
MAX_NESTING = 16
MAX_FILE_BYTES = 10_000_000


class SimulationParams(Section):
    """How long the simulation runs and how it is seeded."""

    months: int = param(
        19,
        unit="months",
        ge=1,
        le=600,
        description="Length of the programme period.",
        source="paper: Aug 2021 - Feb 2023 inclusive is 19 months (Gasana et al. 2024)",
    )
    followup_months: int = param(
        12,
        unit="months",
        ge=0,
        le=600,
        description="Months simulated after the programme ends (peer ties may go on, experts leave).",
        source="assumption: one year after funding stops, the horizon donors ask about (MODEL.md)",
    )
    start: str = param(
        "2021-08", description="Calendar month of month 1, as YYYY-MM.", source="paper: the TPN started in August 2021"
    )
    seed: int = param(
        20210801,
        ge=0,
        le=2**63 - 1,
        description="Seed of the experiment; replicate r uses SeedSequence(seed, spawn_key=(r,)).",
        source="convention (the launch date); no empirical meaning",
    )
    posterior: str | None = param(
        None,
        description="Posterior the commands draw each replicate's parameter set from by default (a bundled name "
        "such as rwanda_tpn, or a CSV file); --no-posterior runs the scenario's own values.",
        source="the scenario's own calibration (twinsim calibrate); none by default",
    )

    @field_validator("start")
    @classmethod
    def _check_start(cls, value: str) -> str:
        parts = value.split("-")
        if len(parts) != 2 or not all(p.isdigit() and p.isascii() for p in parts) or not 1 <= int(parts[1]) <= 12:
            raise ValueError("must be a calendar month written YYYY-MM, e.g. 2021-08")
        if len(parts[0]) != 4 or not MIN_YEAR <= int(parts[0]) <= MAX_YEAR:
            raise ValueError(f"the year must be {MIN_YEAR} to {MAX_YEAR} (calendar months of the figures and tables)")
        return value


class KindSpec(Section):
    """One kind of institution (hospital, district health team, ...) and how its members are drawn."""

    label: str = param("", description="Readable name of the kind.", source="label")
    counts: dict[str, int] = param(
        ...,
        description="Number of institutions of this kind in each region, e.g. {North = 2, South = 3}.",
        source="scenario-specific (Rwanda: paper, 10 hospitals and 30 districts)",
    )
    budget_median: float = param(
        20_000.0,
        unit="currency/month",
        gt=0,
        le=1e12,
        description="Median monthly operating budget (lognormal).",
        source=(
            "assumption: placeholder level; only budget ratios within a kind enter the core model (similarity,"
            " resource factor), so the level matters only across kinds"
        ),
    )
    budget_sigma: float = param(
        0.4,
        unit="log units",
        ge=0,
        le=3,
        description="Log-scale spread of the monthly budget (lognormal sigma).",
        source="assumption: 90% of budgets within x0.52 - x1.93 of the median",
    )
    leadership_mean: float = param(
        0.6,
        ge=0.01,
        le=0.99,
        plausible=(0.3, 0.9),
        description="Mean leadership commitment (beta distribution).",
        source="assumption: most senior teams moderately committed; TPN key findings stress leadership but give no"
        " measure",
    )
    leadership_concentration: float = param(
        8.0,
        gt=0,
        le=1000,
        description="Concentration (alpha + beta) of the leadership commitment beta distribution.",
        source="assumption: sd 0.16 at mean 0.6",
    )
    population_served: float = param(
        0.0,
        unit="people",
        ge=0,
        le=1e9,
        description="People an institution of this kind serves (catchment population): with a topic's "
        "coverage_share, the people a change of a coverage indicator reaches (0: not counted).",
        source="scenario-specific (Rwanda districts: census 2022, NISR)",
    )

    @field_validator("counts")
    @classmethod
    def _check_counts(cls, value: dict[str, int]) -> dict[str, int]:
        if not value:
            raise ValueError("needs at least one region with a count")
        for region, count in value.items():
            if count < 0:
                raise ValueError(f"count for region {region!r} must be >= 0 (got {count})")
            if count > MAX_INSTITUTIONS:
                raise ValueError(
                    f"count for region {region!r} must be at most {MAX_INSTITUTIONS:,} (got {count:,}): "
                    "the model keeps every institution's topics and months in memory"
                )
        if sum(value.values()) == 0:
            raise ValueError("must hold at least one institution")
        return value


class TopicSpec(Section):
    """An improvement topic and the indicator that measures it."""

    indicator: str = param(
        ...,
        description="Name of the indicator that measures capacity on this topic.",
        source="scenario-specific (Rwanda: paper for accreditation and CBHI coverage)",
    )
    unit: str = param("%", description="Unit of the indicator.", source="convention: indicators in percent")
    indicator_min: float = param(
        0.0,
        ge=-1e9,
        le=1e9,
        description="Indicator value at capacity 0 (|value| at most 1e9, so sums stay finite).",
        source="assumption: capacity 0 maps to the bottom of a 0-100 scale",
    )
    indicator_max: float = param(
        100.0,
        ge=-1e9,
        le=1e9,
        description="Indicator value at capacity 1 (|value| at most 1e9, so sums stay finite).",
        source="assumption: capacity 1 maps to the top of a 0-100 scale",
    )
    kinds: list[str] = param(
        ...,
        description="Kinds of institution this topic applies to.",
        source="scenario-specific (Rwanda: paper, accreditation for hospitals, CBHI for districts)",
    )
    baseline_mean: float = param(
        0.5,
        gt=0,
        lt=1,
        description="Mean baseline capacity (beta distribution).",
        source="assumption: neutral mid-range; scenarios set their own",
    )
    baseline_concentration: float = param(
        10.0,
        gt=0,
        le=1000,
        description="Concentration (alpha + beta) of baseline capacity.",
        source="assumption: sd 0.15 at mean 0.5",
    )
    interest_mean: float = param(
        0.5,
        gt=0,
        lt=1,
        description="Mean senior-management interest in the topic (beta distribution).",
        source="assumption: neutral",
    )
    interest_concentration: float = param(
        4.0,
        gt=0,
        le=1000,
        description="Concentration of topic interest.",
        source="assumption: wide spread of priorities (sd 0.22 at mean 0.5)",
    )
    coverage_share: float = param(
        0.0,
        ge=0,
        le=1,
        description="For a coverage indicator (% of people covered): the share of an institution's population "
        "served that the indicator counts (1 for everyone, the share of women 15-49 for family planning ...); "
        "0: not a coverage indicator. People reached = indicator change / 100 x population_served x this share.",
        source="scenario-specific: the indicator's denominator as a share of the population",
    )
    source: str = param(
        "", description="Where the indicator and its baseline come from.", source="free text documenting the topic"
    )

    @model_validator(mode="after")
    def _check_scale(self) -> TopicSpec:
        if not self.indicator_max > self.indicator_min:
            raise ValueError("indicator_max must be greater than indicator_min")
        if not self.kinds:
            raise ValueError("kinds must name at least one kind of institution")
        return self


class PopulationParams(Section):
    """The institutions of the network."""

    kinds: dict[str, KindSpec] = param(..., description="Kinds of institution by name.")


class ScheduledActivity(Section):
    """One line of the delivery model's schedule: an activity fired in the listed months, or every few months.

    ``months = [3, 10]`` lists the months; ``every = 1`` (with optional ``from`` and ``to``, default the first and
    the last programme month) fires it on a recurrence; both may be given (the union fires).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False, populate_by_name=True)

    activity: str = param(
        ...,
        description="Registered activity type (see `twinsim.programme.registry.ACTIVITIES`).",
        source="scenario-specific (Rwanda: paper, Table of key events)",
    )
    months: list[int] = param(
        [],
        description="Programme months (1-based) in which the activity fires.",
        source="scenario-specific (Rwanda: months are assumptions, counts from the paper)",
    )
    every: int | None = param(
        None,
        ge=1,
        le=120,
        description="Fire every this many months (a recurrence).",
        source="scenario-specific (e.g. a monthly virtual peer group: every = 1)",
    )
    from_: int = param(
        1,
        ge=1,
        le=1200,
        alias="from",
        description="First month of the recurrence.",
        source="scenario-specific (default: the first programme month)",
    )
    to: int | None = param(
        None,
        ge=1,
        le=1200,
        description="Last month of the recurrence (default: the programme's last).",
        source="scenario-specific (default: the last programme month)",
    )

    @field_validator("activity")
    @classmethod
    def _check_activity(cls, value: str) -> str:
        if value not in ACTIVITIES:
            raise ValueError(f"unknown activity {value!r}; allowed: {', '.join(sorted(ACTIVITIES))}")
        return value

    @field_validator("months")
    @classmethod
    def _check_months(cls, value: list[int]) -> list[int]:
        if any(m < 1 for m in value):
            raise ValueError("months are 1-based: every month must be >= 1")
        return sorted(value)

    @model_validator(mode="after")
    def _check_when(self) -> ScheduledActivity:
        if not self.months and self.every is None:
            raise ValueError(f"activity {self.activity!r}: give months = [...] or every = N (with from, to)")
        if self.to is not None and self.to < self.from_:
            raise ValueError(f"activity {self.activity!r}: to ({self.to}) is before from ({self.from_})")
        return self

    def firing_months(self, programme_months: int) -> list[int]:
        """The months in which the activity fires, in a programme of ``programme_months`` months."""
        recurring: set[int] = set()
        if self.every is not None:
            last = programme_months if self.to is None else self.to
            recurring = set(range(self.from_, last + 1, self.every))
        return sorted(set(self.months) | recurring)


class ProgrammeParams(Section):
    """The delivery model: who twins with whom, on what, through which activities."""

    delivery_model: str = param(
        "tpn_network",
        description="Registered delivery model (see `twinsim.programme.registry`).",
        source="paper: the TPN is the published programme",
    )
    topic_choice: str = param(
        "gap_and_interest",
        description="Registered rule by which institutions choose topics (see `twinsim.programme.matching`).",
        source="paper: members assessed their gaps and set their own goals at the kickoff",
    )
    matching: str = param(
        "best_performer",
        description="Registered rule picking a twin per chosen topic (see `twinsim.programme.matching`).",
        source="paper: a high-performing peer per topic",
    )
    topics_per_institution: int = param(
        2,
        ge=1,
        le=20,
        plausible=(1, 4),
        description="Topics each institution chooses at the kickoff workshop.",
        source="assumption: not published",
    )
    twins_per_topic: int = param(
        1,
        ge=1,
        le=10,
        plausible=(1, 3),
        description="Twins (peers) per chosen topic.",
        source="paper: a high-performing peer per topic",
    )
    mentor_load_cap: int = param(
        3,
        ge=1,
        le=100,
        plausible=(1, 6),
        description="Most mentees one institution mentors across all topics.",
        source="assumption: not published; bounds the load on the best performers",
    )
    min_gap: float = param(
        0.05,
        unit="capacity",
        ge=0,
        le=1,
        description="A twin must lead the learner by at least this much capacity.",
        source="assumption: a twin leads by at least 5 indicator points, about the published effects",
    )
    choice_interest_weight: float = param(
        2.0,
        ge=0,
        le=20,
        plausible=(0.0, 4.0),
        description="Weight of senior management's interest, against the gap, when topics are chosen.",
        source=(
            "assumption: interest outweighs the gap (paper: senior management's interest drove the choice);"
            " calibration target"
        ),
    )
    choice_noise: float = param(
        0.3,
        ge=0,
        le=10,
        description="Scale of the Gumbel noise in topic choice (0: deterministic).",
        source="assumption: unobserved reasons for a choice",
    )
    schedule: list[ScheduledActivity] = param([], description="Activities of the programme and their months.")
    settings: dict[str, dict[str, int | float | bool | str]] = param(
        {},
        description="Settings of a user's plug-ins, by plug-in name: each table is checked by that plug-in's"
        " Settings block (docs/extending.md).",
        source="the user's plug-ins' own parameter blocks (docs/extending.md); none by default",
    )
    volume: float = param(
        1.0,
        gt=0,
        le=100,
        plausible=(0.5, 2.0),
        description="Activity volume: every scheduled firing but the kickoff counts as `volume` firings, in effect"
        " and in cost (`twinsim compare --budget` solves for it).",
        source=(
            "convention: 1 runs the schedule as written; `twinsim compare --budget` solves for it"
            " (docs/delivery_models.md)"
        ),
    )
    experts: ExpertParams = Field(default_factory=ExpertParams)
    partners: PartnerParams = Field(default_factory=PartnerParams)


class LearningParams(Section):
    """The learning kernel: transfer, similarity, forgetting, turnover, trends."""

    rates: dict[str, float] = param(
        {},
        unit="per event",
        plausible=(0.0, 2.0),
        prior=Prior(
            "loguniform",
            0.5,
            2.0,
            "learning",
            _RATE_SOURCE,
            relative=True,
        ),
        description="Transfer intensity per activity type: an event closes 1 - exp(-rate * effort * similarity)"
        " of the absorbable gap.",
        source=(
            "scenario-specific; relative sizes from Rowe et al. 2018, absolute sizes calibrated for Rwanda"
            " (docs/evaluation.md). Plausible range: an event at full effort closes at most 86% of the absorbable gap"
        ),
    )
    peer_contact_rate: float = param(
        0.01,
        unit="per month",
        ge=0,
        le=5,
        plausible=(0.0, 0.05),
        prior=assumed("learning", 0.0, 0.05, "calibrated where a posterior is given", family="uniform"),
        description="Monthly transfer intensity of informal contact between twins while ties are active.",
        source="assumption: informal contact between events, a month about 1/30 of the Rwanda exchange-visit rate",
    )
    followup_tie_intensity: float = param(
        0.5,
        ge=0,
        le=1,
        plausible=(0.0, 1.0),
        prior=assumed("learning", 0.0, 1.0, "how much contact outlasts the programme is not measured"),
        description="Share of peer contact that goes on after the programme ends.",
        source="assumption: half the contact goes on after funding (MODEL.md: peer ties may outlast the programme)",
    )
    similarity_weight: float = param(
        1.0,
        ge=0,
        le=20,
        plausible=(0.0, 3.0),
        prior=assumed("learning", 0.0, 3.0, "Ndenga et al. 2016: transfer much weaker across contexts"),
        description="How fast transfer falls with resource and context distance: similarity = exp(-w * distance).",
        source=(
            "assumption: direction from Ndenga et al. 2016 (similar peers transfer more); magnitude unknown. w = 1"
            " halves the transfer intensity across a twofold budget difference"
        ),
    )
    region_distance: float = param(
        0.25,
        ge=0,
        le=10,
        description="Context distance added between institutions of different regions.",
        source="assumption: a peer in another province is like a 28% budget difference",
    )
    gap_ceiling: float = param(
        0.5,
        unit="capacity",
        gt=0,
        le=10,
        plausible=(0.2, 1.0),
        prior=assumed("learning", 0.2, 1.0, "calibrated where a posterior is given", family="uniform"),
        description="Gap at which absorbable know-how peaks: absorbable = gap * exp(-gap^2 / (2 ceiling^2)).",
        source=(
            "assumption: absorbable know-how peaks at a gap of 50 capacity points (MODEL.md: not from a gap too large"
            " to absorb)"
        ),
    )
    mentor_gain: float = param(
        0.2,
        ge=0,
        le=1,
        plausible=(0.0, 1.0),
        prior=assumed("learning", 0.0, 1.0, "health partnerships are 'a two-way exchange' (seeds), size unmeasured"),
        description="Two-way benefit: a mentor's (or outside partner's) gain as a share of what its learner gains"
        " on the tie's topic (mechanisms.two_way).",
        source=(
            "assumption (ODD 7.19): 0.2, about the 10% : 52% ratio of US to Rwandan faculty reporting effective skill"
            " transfer (Ndenga et al. 2016); range up to 1, the editorial's 'we gain as much as we give'"
        ),
    )
    leadership_weight: float = param(
        0.7,
        ge=0,
        le=1,
        plausible=(0.3, 1.0),
        prior=assumed("learning", 0.3, 1.0, "TPN key findings: effort follows senior management's interest"),
        description="How strongly leadership commitment gates effort: effort factor = 1 - w + w * leadership.",
        source="assumption: strong gating (TPN key findings; external-expert case: traction only under strong"
        " leadership)",
    )
    interest_weight: float = param(
        0.5,
        ge=0,
        le=1,
        plausible=(0.0, 1.0),
        prior=assumed("learning", 0.0, 1.0),
        description="How strongly topic interest gates effort on a topic: factor = 1 - w + w * interest.",
        source="assumption: moderate gating by the topic's priority (TPN: senior management's interest)",
    )
    resource_elasticity: float = param(
        0.5,
        ge=0,
        le=3,
        description="Engagement falls as (budget / kind median) ** elasticity below the median.",
        source="assumption: TPN key implications (members need time and resources)",
    )
    mentor_load_penalty: float = param(
        0.1,
        ge=0,
        le=1,
        prior=assumed("learning", 0.0, 0.3),
        plausible=(0.0, 0.3),
        description="Engagement lost per mentee mentored.",
        source="assumption: each mentee costs a mentor 10% of its engagement",
    )
    motivation_rate: float = param(
        0.004,
        unit="per month",
        ge=0,
        le=1,
        plausible=(0.0, 0.01),
        prior=assumed("learning", 0.0, 0.01, "calibrated where a posterior is given", family="uniform"),
        description="Own improvement driven by interest and leadership, with or without a programme.",
        source="assumption: own improvement on priority topics (self-selection; TPN hypothesis)",
    )
    background_trend: float = param(
        0.002,
        unit="per month",
        ge=0,
        le=1,
        plausible=(0.0, 0.005),
        prior=assumed(
            "learning", 0.0, 0.005, "secular improvement of Rwandan indicators, a few tenths of a point a month"
        ),
        description="Secular improvement of every institution: a share of the remaining gap to full capacity.",
        source="assumption: 2.4% of the remaining gap a year, secular improvement",
    )
    forgetting: float = param(
        0.027,
        unit="per month",
        ge=0,
        le=1,
        plausible=(0.01, 0.05),
        prior=assumed("learning", 0.01, 0.05, "half-lives of 1 to 6 years for unpractised know-how"),
        description="Monthly decay of capacity gained above the baseline where nobody owns or practises it"
        " (mechanisms.ownership off: everywhere).",
        source=(
            "Arsenault et al. 2022 (ODD 7.16): training plus supervision lost 0.40 points a month (95% CI 0.12-0.68)"
            " of an effect of about 15 (Rowe et al. 2018): 0.027 a month, range 0.01-0.05"
        ),
    )
    ownership_retention: float = param(
        1.0,
        ge=0,
        le=1,
        plausible=(0.5, 1.0),
        prior=assumed("learning", 0.5, 1.0),
        description="Share of the decay that full ownership (leadership times the topic's interest gate) and"
        " full practice remove: decay = forgetting * (1 - ownership_retention * ownership * practice gate).",
        source=(
            "assumption (ODD 7.16): full ownership with practice keeps every gain, as group problem-solving's effect"
            " did not decay (Arsenault et al. 2022); range 0.5-1"
        ),
    )
    practice_weight: float = param(
        0.5,
        ge=0,
        le=1,
        plausible=(0.0, 1.0),
        prior=assumed("learning", 0.0, 1.0),
        description="How much of ownership's protection needs practice (working on the topic, ties still"
        " active): practice gate = 1 - w + w * practice.",
        source="assumption (ODD 7.16): half of ownership's protection needs practice; range 0-1",
    )
    empowerment_rate: float = param(
        0.004,
        unit="per month",
        ge=0,
        le=1,
        plausible=(0.0, 0.01),
        prior=assumed("learning", 0.0, 0.01),
        description="Own improvement added by taking part, on the topics worked on in the programme, times"
        " leadership and engagement (mechanisms.empowerment).",
        source=(
            "assumption (ODD 7.17): TPN key finding 'positive empowerment and motivational effects', magnitude not"
            " published; taking part doubles the top of motivation_rate's range"
        ),
    )
    virtual_ratio: float = param(
        0.2,
        ge=0,
        le=1,
        plausible=(0.1, 0.5),
        prior=assumed(
            "learning", 0.1, 0.5, "Rowe et al. 2018: remote and printed support moved practice far less than in-person"
        ),
        description="Transfer rate of a virtual activity as a share of its in-person counterpart's"
        " (mechanisms.delivery_modes): coaching_virtual from coaching_in_person, etc.",
        source=(
            "Rowe et al. 2018 bound (ODD 7.21): technology-only strategies moved practice by about 1.0 point, printed"
            " materials 1.4, training or supervision 10.3-15.9 (ratio 0.06-0.14); virtual coaching is live contact, so"
            " 0.2 is an assumption in 0.1-0.5"
        ),
    )
    programme_time_share: float = param(
        0.01,
        ge=0,
        le=1,
        plausible=(0.002, 0.05),
        prior=assumed("learning", 0.002, 0.05),
        description="Share of the monthly budget, in staff days at costs.staff_day, an institution can give the"
        " programme (mechanisms.resources): staff days = share * budget / staff_day.",
        source=(
            "assumption (ODD 7.20): 1% of the budget in staff days (TPN key implications: members must 'dedicate"
            " adequate time and resources'); range 0.2-5%"
        ),
    )
    yield_reference: float = param(
        0.005,
        unit="capacity per month",
        gt=0,
        le=1,
        plausible=(0.002, 0.02),
        prior=assumed("learning", 0.002, 0.02),
        description="Programme gain in a month of activities (summed over topics) that fully satisfies a member;"
        " less lowers its persistence (mechanisms.resources).",
        source="assumption (ODD 7.20): half an indicator point a month of activities satisfies a member",
    )
    persistence_rate: float = param(
        0.3,
        ge=0,
        le=1,
        plausible=(0.0, 0.6),
        prior=assumed("learning", 0.0, 0.6),
        description="How fast persistence follows the satisfaction of a month of activities (exponential"
        " smoothing weight).",
        source="assumption (ODD 7.20): persistence follows a month's yield with weight 0.3",
    )
    disillusion_weight: float = param(
        0.5,
        ge=0,
        le=1,
        plausible=(0.0, 1.0),
        prior=assumed("learning", 0.0, 1.0),
        description="How much low persistence lowers engagement: factor = 1 - w * (1 - persistence).",
        source="assumption (ODD 7.20): persistence 0 halves engagement",
    )
    dropout_threshold: float = param(
        0.0,
        ge=0,
        le=1,
        plausible=(0.0, 0.5),
        description="A member whose persistence falls below this drops out for the rest of the programme"
        " (engagement 0; 0: nobody drops out).",
        source="assumption (ODD 7.20): no drop-out by default (the TPN reports none)",
    )
    leadership_turnover: float = param(
        0.02,
        unit="per month",
        ge=0,
        le=1,
        plausible=(0.0, 0.05),
        prior=assumed("learning", 0.0, 0.05, "senior managers stay 2 to 8 years or more"),
        description="Monthly probability that an institution's senior leadership changes.",
        source="assumption: 21% a year, a mean tenure of about 4 years",
    )
    turnover_knowledge_loss: float = param(
        0.2,
        ge=0,
        le=1,
        plausible=(0.0, 0.5),
        prior=assumed("learning", 0.0, 0.5),
        description="Share of the capacity gained above the baseline lost when leadership changes.",
        source="assumption: a leadership change loses a fifth of the gain above baseline",
    )

    @field_validator("rates")
    @classmethod
    def _check_rates(cls, value: dict[str, float]) -> dict[str, float]:
        for name, rate in value.items():
            if name not in ACTIVITIES:
                raise ValueError(f"unknown activity {name!r}; allowed: {', '.join(sorted(ACTIVITIES))}")
            if not 0 <= rate <= 10:
                raise ValueError(f"rate for {name!r} must be in [0, 10] (got {rate})")
        return value


class MechanismParams(Section):
    """Switches of the mechanisms of issue 12 (docs/ODD.md 7.16-7.21); each off gives the model without it."""

    ownership: bool = param(
        True,
        description="Leadership- and practice-dependent decay of gains (off: every gain decays at"
        " learning.forgetting).",
        source="issue 12; Arsenault et al. 2022 (decay differs by strategy); TPN key findings (leadership); on by"
        " default",
    )
    empowerment: bool = param(
        True,
        description="Taking part raises own improvement on the topics worked on (learning.empowerment_rate).",
        source="issue 12; TPN key finding (empowerment and motivation); on by default",
    )
    keep_promise: bool = param(
        True,
        description="TPN matching serves the learners with the fewest leading peers first, so a chosen topic gets"
        " another leading peer of the kind when its best performer is full, each within programme.mentor_load_cap;"
        " requests no peer with room leads stay unmatched (off: largest gaps first).",
        source=(
            "issue 12; TPN paper: the network 'ensures that an institution always has a high-performing peer'; on by"
            " default"
        ),
    )
    two_way: bool = param(
        True,
        description="Mentors and outside partners learn from the exchange (learning.mentor_gain; off: they gain"
        " nothing).",
        source="issue 12; health-partnerships editorial (two-way exchange); on by default",
    )
    resources: bool = param(
        True,
        description="Staff time binds: activities take staff days, mentors' time limits what mentees receive,"
        " engagement falls when effort yields little (off: time is unlimited).",
        source="issue 12; TPN key implications (time and resources); on by default",
    )
    expert_programme: bool = param(
        True,
        description="The expert programme as it was: Ministry senior leaders, priorities set at the first retreat,"
        " traction only above a leadership threshold, a tracking routine (off: member-level experts only).",
        source="issue 12; external-expert case study (seeds): Ministry-level programme; on by default",
    )
    delivery_modes: bool = param(
        True,
        description="Virtual activities transfer learning.virtual_ratio of their in-person counterpart (off: each"
        " activity's own rate).",
        source="issue 12; Rowe et al. 2018 (dose by activity type); on by default",
    )


RECORDING_MODES = ("panel", "aggregate")


class RecordingParams(Section):
    """What a run keeps of its monthly state (see `twinsim.kernel.recording`)."""

    mode: str = param(
        "panel",
        description="panel: the full institution x topic x month panel; aggregate: only monthly means by kind,"
        " region, topic and choice (for large networks). Aggregates are recorded in both modes.",
        source=(
            "convention: the full panel, small networks' natural output; aggregate mode for networks of 10,000+"
            " institutions (docs/performance.md: 100,000 x 120 months of panel is 0.9 GB in memory)"
        ),
    )
    panel_dir: str = param(
        "",
        description="In panel mode, a folder to which each run streams its panel as Parquet, month by month,"
        " instead of holding it in memory (empty: keep it in memory).",
        source="convention: in memory unless a folder is given (docs/performance.md)",
    )

    @field_validator("mode")
    @classmethod
    def _check_mode(cls, value: str) -> str:
        if value not in RECORDING_MODES:
            raise ValueError(f"unknown recording mode {value!r}; allowed: {', '.join(RECORDING_MODES)}")
        return value

    @model_validator(mode="after")
    def _check_dir(self) -> RecordingParams:
        if self.panel_dir and self.mode != "panel":
            raise ValueError("panel_dir needs mode = 'panel' (aggregate mode keeps no panel)")
        return self


class SensitivityFactor(Section):
    """One parameter of a sensitivity analysis, named by its dotted scenario key.

    A number is sampled uniformly on ``[low, high]`` (an integer key as ``floor`` of a uniform on
    ``[low, high + 1)``); a key given ``levels`` takes one of them with equal probability.
    """

    low: float | None = param(
        None,
        description="Lower bound (default: the key's plausible range).",
        source="analysis setting; default the key's plausible range (its own source note)",
    )
    high: float | None = param(
        None,
        description="Upper bound (default: the key's plausible range).",
        source="analysis setting; default the key's plausible range (its own source note)",
    )
    levels: list[str | int | float | bool] = param(
        [],
        description="Values of a categorical key (e.g. matching rules), each drawn with equal probability.",
        source="analysis setting: the alternatives compared",
    )

    @model_validator(mode="after")
    def _check_factor(self) -> SensitivityFactor:
        if self.levels and (self.low is not None or self.high is not None):
            raise ValueError("give either levels or low/high, not both")
        if len(self.levels) == 1:
            raise ValueError("levels needs at least two values")
        if (self.low is None) != (self.high is None):
            raise ValueError("give both low and high, or neither (the plausible range)")
        if self.low is not None and self.high is not None and not self.high > self.low:
            raise ValueError(f"high must be greater than low (got low = {self.low}, high = {self.high})")
        return self


class ChoiceLevel(Section):
    """One alternative of a design choice: scenario overrides and schedule changes."""

    overrides: dict[str, Any] = param(
        {},
        description="Dotted-key overrides, as with --set.",
        source="analysis setting: the alternative's scenario values",
    )
    schedule: dict[str, list[int]] = param(
        {},
        unit="months",
        description="Months of named activities in this alternative; [] removes the activity from the schedule.",
        source="analysis setting: the alternative's activity months",
    )


class SensitivityChoice(Section):
    """A design choice with named alternatives, e.g. coaching in person, virtual or none."""

    description: str = param("", description="What the choice is about.", source="label")
    levels: dict[str, ChoiceLevel] = param(..., description="The alternatives by name, drawn with equal probability.")

    @field_validator("levels")
    @classmethod
    def _check_levels(cls, value: dict[str, ChoiceLevel]) -> dict[str, ChoiceLevel]:
        if len(value) < 2:
            raise ValueError("a choice needs at least two levels")
        return value


class SensitivitySpec(Section):
    """A global sensitivity analysis of the scenario (read by `twinsim sensitivity`), not a model input."""

    method: str = param(
        "sobol",
        description="Method: sobol (Saltelli sampling), morris or fast (eFAST).",
        source=(
            "analysis setting (not a model input): Sobol is the reference method (Saltelli et al. 2010); Morris"
            " screens many factors cheaply"
        ),
    )
    samples: int = param(
        64,
        ge=1,
        le=1_000_000,
        description="Base samples N (sobol: a power of 2; morris: trajectories; fast: > 64).",
        source="analysis setting: 64 base samples give rough Sobol indices; check the convergence figure",
    )
    replicates: int = param(
        1,
        ge=1,
        le=1000,
        description="Runs per design point; outputs are their mean.",
        source="analysis setting: one run per point; raise it when the noise share is large",
    )
    second_order: bool = param(
        False,
        description="Sobol: also estimate second-order indices S2.",
        source="analysis setting: off, S2 needs 2D + 2 runs per base sample instead of D + 2",
    )
    num_levels: int = param(
        4,
        ge=2,
        le=100,
        description="Morris: grid levels per factor.",
        source="analysis setting: 4 levels, SALib's default (Morris 1991; Campolongo et al. 2007)",
    )
    outputs: list[str] = param(
        ["mean_gain", "total_cost"],
        description="Outputs analysed: numeric keys of the run summary.",
        source="analysis setting: the programme's mean gain and its cost",
    )
    params: dict[str, SensitivityFactor] = param({}, description="Uncertain parameters by dotted scenario key.")
    choices: dict[str, SensitivityChoice] = param({}, description="Design choices with named alternatives.")

    @field_validator("method")
    @classmethod
    def _check_method(cls, value: str) -> str:
        methods = ("fast", "morris", "sobol")
        if value not in methods:
            raise ValueError(f"unknown method {value!r}; allowed: {', '.join(methods)}")
        return value

    @field_validator("outputs")
    @classmethod
    def _check_outputs(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one output")
        return value


class EvaluationParams(Section):
    """How an evaluator observes the indicators: survey months and measurement error."""

    measurement_sd: float = param(
        2.0,
        unit="indicator points",
        ge=0,
        le=50,
        plausible=(0.0, 5.0),
        description="Standard deviation of the error of one measured indicator value (independent draws).",
        source=(
            "assumption: a scored assessment (accreditation) or a routine coverage figure is off by about 2 points;"
            " plausible 0 (registry) to 5 (small-sample survey)"
        ),
    )
    baseline_month: int = param(
        0,
        unit="month",
        ge=0,
        le=600,
        description="Month of the baseline survey.",
        source="paper: baseline at the start of the programme (Aug 2021)",
    )
    choice_on_measured_baseline: bool = param(
        True,
        description=(
            "Institutions choose their topics on the measured month-0 indicators (true value plus the same "
            "measurement error the evaluator's month-0 baseline carries), so selectors' measured change regresses "
            "to the mean; false: they choose on true capacity (ODD 7.24)."
        ),
        source="assumption: topics were chosen on the routine data the evaluation's baseline also used (ODD 7.24)",
    )
    midline_month: int | None = param(
        None,
        unit="month",
        ge=1,
        le=1200,
        description="Month of an optional midline survey (none if unset).",
        source="convention: no midline (the paper reports baseline and endline only)",
    )
    endline_month: int | None = param(
        None,
        unit="month",
        ge=1,
        le=1200,
        description="Month of the endline survey (default: the end of the programme, simulation.months).",
        source="paper: endline at the end of the programme (Feb 2023)",
    )


class Scenario(Section):
    """A complete, validated scenario: the input of one model run."""

    name: str = param("scenario", description="Short name of the scenario.", source="label")
    description: str = param("", description="What the scenario represents.", source="label")
    simulation: SimulationParams = Field(default_factory=SimulationParams)
    population: PopulationParams
    topics: dict[str, TopicSpec]
    programme: ProgrammeParams = Field(default_factory=ProgrammeParams)
    learning: LearningParams = Field(default_factory=LearningParams)
    mechanisms: MechanismParams = Field(default_factory=MechanismParams)
    costs: CostParams = Field(default_factory=CostParams)
    recording: RecordingParams = Field(default_factory=RecordingParams)
    sensitivity: SensitivitySpec = Field(default_factory=SensitivitySpec)
    evaluation: EvaluationParams = Field(default_factory=EvaluationParams)

    @model_validator(mode="after")
    def _check_references(self) -> Scenario:
        kinds = set(self.population.kinds)
        for name, topic in self.topics.items():
            unknown = sorted(set(topic.kinds) - kinds)
            if unknown:
                raise ValueError(
                    f"topics.{name}.kinds names unknown kind {unknown[0]!r}; defined kinds: {', '.join(sorted(kinds))}"
                )
        for kind in kinds:
            if not any(kind in t.kinds for t in self.topics.values()):
                raise ValueError(f"population.kinds.{kind} has no topic; list it in some topic's kinds")
        if self.n_institutions > MAX_INSTITUTIONS:
            raise ValueError(
                f"population.kinds: {self.n_institutions:,} institutions in all; at most {MAX_INSTITUTIONS:,} "
                "(the model keeps every institution's topics and months in memory)"
            )
        self._check_registries()
        self._check_surveys()
        late = [
            s
            for s in self.programme.schedule
            if max(s.firing_months(self.simulation.months), default=0) > self.simulation.months
        ]
        if late:
            raise ValueError(
                f"programme.schedule: activity {late[0].activity!r} fires in month "
                f"{max(late[0].firing_months(self.simulation.months))}, "
                f"after the programme ends (simulation.months = {self.simulation.months})"
            )
        return self

    def _check_surveys(self) -> None:
        ev, last = self.evaluation, self.simulation.months + self.simulation.followup_months
        months = [("baseline_month", ev.baseline_month), ("midline_month", ev.midline_month)]
        months.append(("endline_month", self.endline_month))
        for key, month in months:
            if month is not None and month > last:
                raise ValueError(f"evaluation.{key}: month {month} is after the last simulated month ({last})")
        order = [m for _, m in months if m is not None]
        if order != sorted(set(order)):
            raise ValueError("evaluation: survey months must increase: baseline < midline < endline")

    @property
    def endline_month(self) -> int:
        """Month of the endline survey: ``evaluation.endline_month`` or the end of the programme."""
        ev = self.evaluation.endline_month
        return self.simulation.months if ev is None else ev

    def _check_registries(self) -> None:
        for key, value, registry in (
            ("programme.delivery_model", self.programme.delivery_model, DELIVERY_MODELS),
            ("programme.matching", self.programme.matching, MATCHING_RULES),
            ("programme.topic_choice", self.programme.topic_choice, TOPIC_CHOICE_RULES),
        ):
            if value not in registry:
                raise ValueError(
                    f"{key}: unknown name {value!r}; allowed: {', '.join(sorted(registry))} (a plug-in of your own:"
                    " load its file with twinsim --plugin FILE.py, or register() it in Python)"
                )
        self._check_plugin_settings()
        unknown = sorted(set(self.costs.activities) - set(ACTIVITIES))
        if unknown:
            raise ValueError(
                f"costs.activities: unknown activity {unknown[0]!r}; allowed: {', '.join(sorted(ACTIVITIES))}"
            )
        self._check_activities_fit_the_delivery_model()

    def _check_plugin_settings(self) -> None:
        for name, values in self.programme.settings.items():
            plugin = ACTIVITIES.get(name) or DELIVERY_MODELS.get(name)
            block = getattr(plugin, "Settings", None)
            if block is None:
                takes = sorted(
                    [n for n, a in ACTIVITIES.items() if a.Settings is not None]
                    + [n for n, d in DELIVERY_MODELS.items() if d.Settings is not None]
                )
                raise ValueError(
                    f"programme.settings.{name}: no registered plug-in {name!r} takes settings"
                    f" (plug-ins with settings: {', '.join(takes) or 'none'})"
                )
            try:
                block(**values)
            except ValidationError as exc:
                error = exc.errors()[0]
                key = ".".join(str(part) for part in error["loc"])
                raise ValueError(f"programme.settings.{name}.{key}: {error['msg']}") from None

    def _check_activities_fit_the_delivery_model(self) -> None:
        model = DELIVERY_MODELS[self.programme.delivery_model]
        for line in self.programme.schedule:
            needs = ACTIVITIES[line.activity].needs
            if needs and needs not in model.provides:
                able = sorted(name for name, m in DELIVERY_MODELS.items() if needs in m.provides)
                raise ValueError(
                    f"programme.schedule: activity {line.activity!r} needs {needs} (delivery models: "
                    f"{', '.join(able)}); programme.delivery_model is {self.programme.delivery_model!r}"
                )

    @property
    def regions(self) -> list[str]:
        """Regions in order of first appearance across kinds."""
        seen: dict[str, None] = {}
        for kind in self.population.kinds.values():
            seen.update(dict.fromkeys(kind.counts))
        return list(seen)

    @property
    def n_institutions(self) -> int:
        """Number of institutions in the population."""
        return sum(sum(k.counts.values()) for k in self.population.kinds.values())

    def with_schedule(self, changes: dict[str, list[int]], source: str = "schedule") -> Scenario:
        """Return a new scenario whose named activities fire in the given months.

        ``changes`` maps an activity to its new months; ``[]`` removes it from the schedule, an activity not
        yet scheduled is added. E.g. ``scenario.with_schedule({"provincial_learning_event": []})``.
        """
        lines = []
        for line in self.programme.schedule:
            months = changes.get(line.activity, line.months)
            if months:
                lines.append({"activity": line.activity, "months": list(months)})
        present = {line.activity for line in self.programme.schedule}
        lines += [{"activity": a, "months": list(m)} for a, m in changes.items() if m and a not in present]
        return self.with_overrides({"programme.schedule": lines}, source)

    def with_overrides(self, overrides: dict[str, Any], source: str = "--set") -> Scenario:
        """Return a new scenario with dotted-key overrides applied and validated."""
        data = self.model_dump()
        for key, value in overrides.items():
            check_text({key: value}, source)  # the rest of the scenario was checked when it was validated
            _set_dotted(data, key, _plain(value), source)
        return _validate(data, source, text_checked=True)

    def assigned(self, values: dict[str, Any]) -> Scenario:
        """Return a new scenario with dotted-key ``values`` set, copying the sections on the way, not validated.

        For values already known to be valid: a posterior's rows once its smallest and largest values passed
        :meth:`with_overrides`, or a recording switch. Whole-number fields get whole numbers. Anything else goes
        through :meth:`with_overrides`.
        """
        scenario: Scenario = self
        for key, value in values.items():
            scenario = _assign_one(scenario, key.split("."), value)
        return scenario


def _assign_one(node: Any, parts: list[str], value: Any) -> Any:
    head = parts[0]
    if isinstance(node, dict):  # a new entry of a dictionary field is fine (a rate the scenario derives otherwise)
        current = node[head] if len(parts) > 1 else node.get(head)
    else:
        current = getattr(node, head)
    if len(parts) > 1:
        value = _assign_one(current, parts[1:], value)
    elif isinstance(current, int) and not isinstance(current, bool):
        value = round(value)
    if isinstance(node, dict):
        return {**node, head: value}
    return node.model_copy(update={head: value})


# --------------------------------------------------------------------------------------------------
# Loading


def bundled_scenarios() -> dict[str, Path]:
    """The scenario files shipped inside the package, by name (file stem)."""
    folder = resources.files("twinsim") / "scenarios"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".toml")}


def resolve_scenario_path(ref: str | os.PathLike[str]) -> Path:
    """Turn a path or the name of a bundled scenario into an existing file path.

    ``my_country`` finds ``my_country.toml`` in the current folder; an unknown name suggests the closest bundled one.
    """
    path = Path(ref)
    if path.is_file():
        return path
    if path.suffix != ".toml" and path.with_name(path.name + ".toml").is_file():  # a local file named without .toml
        return path.with_name(path.name + ".toml")
    bundled = bundled_scenarios()
    name = path.stem if path.suffix == ".toml" else os.fspath(ref)
    if path.suffix != ".toml" and name in bundled:
        return bundled[name]

    hint = did_you_mean(path.stem, sorted(bundled))
    raise ScenarioError(
        f"{ref}: no such scenario file or bundled scenario{hint} (bundled: {', '.join(sorted(bundled)) or 'none'})"
    )


def read_toml_file(path: Path, what: str) -> dict[str, Any]:
    """Parse a TOML file as data (never code): size, encoding, numbers and nesting checked; ``what`` names it."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError(f"{what}: {size:,} bytes; a scenario or targets file holds at most {MAX_FILE_BYTES:,}")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{what}: not a UTF-8 text file") from None
    except OSError as exc:
        raise ScenarioError(f"{what}: cannot read it ({exc.strerror or exc})") from None
    if bracket_depth(text) > 4 * MAX_NESTING:  # refused before the recursive parser runs near the stack's limit
        raise ScenarioError(f"{what}: tables or lists nested too deep (at most {MAX_NESTING} levels)")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{what}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ScenarioError(f"{what}: tables or lists nested too deep (at most {MAX_NESTING} levels)") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ScenarioError(f"{what}: a value cannot be read ({unreadable(exc)})") from None
    check_nesting(data, what)
    return data


def bracket_depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in TOML text, outside strings and comments (a cheap upper bound)."""
    depth = deepest = 0
    quote = ""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\" and quote in {'"', '"""'}:
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
        elif ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif ch in "\"'":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            i += len(quote)
            continue
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return deepest


def unreadable(exc: BaseException) -> str:
    """Why a number or value could not be read, in the user's terms (not Python's advice)."""
    if isinstance(exc, RecursionError):
        return f"nested deeper than {MAX_NESTING} levels"
    text = str(exc)
    return "an integer of more than 4300 digits" if "4300 digits" in text else text


def check_nesting(value: Any, what: str, depth: int = 0) -> None:
    """Refuse tables and lists nested deeper than ``MAX_NESTING`` levels."""
    if depth > MAX_NESTING:
        raise ScenarioError(f"{what}: tables or lists nested deeper than {MAX_NESTING} levels")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        check_nesting(child, what, depth + 1)


def check_text(value: Any, what: str, key: str = "") -> None:
    """Refuse control characters (escape sequences) in a scenario's keys and text: they would reach the terminal."""
    if isinstance(value, dict):
        for k, v in value.items():
            check_text(k, what, key)
            check_text(v, what, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list):
        for v in value:
            check_text(v, what, key)
    elif isinstance(value, str):
        bad = next((ch for ch in value if (ord(ch) < 32 and ch not in "\n\t") or 127 <= ord(ch) < 160), None)
        if bad is not None:
            raise ScenarioError(f"{what}: {key or 'key'}: control character {bad!r} is not allowed in text")


def _read_toml(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a TOML file and merge it over the file it ``extends`` (at most ``MAX_EXTENDS`` files)."""
    path = path.resolve()
    if path in chain:
        raise ScenarioError(f"{path}: extends: circular chain {' -> '.join(p.name for p in (*chain, path))}")
    if len(chain) >= MAX_EXTENDS:
        raise ScenarioError(f"{chain[0]}: extends: a chain of more than {MAX_EXTENDS} files")
    if not path.is_file():
        where = f"{chain[-1]}: extends" if chain else str(path)
        raise ScenarioError(f"{where}: no such file {path}")
    data = read_toml_file(path, str(path))
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: extends: must be a file name (string), got {type(parent).__name__}")
    base = _read_toml(_resolve_parent(path, parent), (*chain, path))
    return _deep_merge(base, data)


def _resolve_parent(child: Path, parent: str) -> Path:
    candidate = (child.parent / parent).resolve()
    if candidate.is_file():
        return candidate
    bundled = bundled_scenarios()
    stem = Path(parent).stem
    return bundled.get(stem, candidate)


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Merge ``over`` into a copy of ``base``; tables merge key by key, everything else is replaced."""
    merged = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``section.key=value``; the value is read as TOML (numbers, booleans, lists) or else a string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError(f"--set {text}: expected section.key=value")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    except (ValueError, RecursionError) as exc:  # an integer of more than 4300 digits, nesting too deep
        raise ScenarioError(f"--set {key}: the value cannot be read ({unreadable(exc)})") from None
    check_nesting(value, f"--set {key}", 1)
    return key, value


def _plain(value: Any) -> Any:
    """NumPy scalars (e.g. from ``np.arange``) as the Python numbers the strict schema takes."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _set_dotted(data: dict[str, Any], key: str, value: Any, source: str) -> None:
    parts = key.split(".")
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            path = ".".join(parts[: depth + 1])
            options = sorted(k for k, v in node.items() if isinstance(v, dict)) if isinstance(node, dict) else []
            raise ScenarioError(f"{source}: unknown key {path!r}; valid sections: {', '.join(options)}")
        node = child
    leaf = parts[-1]
    if leaf not in node and not _is_open_table(parts[:-1]):
        raise ScenarioError(f"{source}: unknown key {key!r}; valid keys here: {', '.join(sorted(node))}")
    if isinstance(node.get(leaf), dict) and isinstance(value, dict) and not _is_open_table(parts):
        # a section of the schema: its keys are merged in (a table would otherwise silently reset the others,
        # e.g. --set simulation={} dropped the posterior)
        if not value:
            raise ScenarioError(f"{source}: {key}={{}} changes nothing; set its keys, e.g. {key}.<key>=value")
        node[leaf] = _deep_merge(node[leaf], value)
        return
    node[leaf] = value


def _is_open_table(path: list[str]) -> bool:
    """Tables whose keys are user-defined names (activity rates, costs, topics, kinds, counts)."""
    open_tables = {
        ("learning", "rates"),
        ("costs", "activities"),
        ("topics",),
        ("population", "kinds"),
        ("programme", "settings"),
    }
    return tuple(path) in open_tables or (
        (len(path) == 4 and path[:2] == ["population", "kinds"] and path[3] == "counts")
        or (len(path) == 3 and path[:2] == ["programme", "settings"])
    )


def _validate(data: dict[str, Any], source: str, text_checked: bool = False) -> Scenario:
    if not text_checked:
        check_text(data, source)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{source}: {_describe(exc, data)}") from None


def _describe(exc: ValidationError, data: dict[str, Any]) -> str:
    """One line for the first validation error: the key path and what is allowed."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = err["loc"][:-1]
        valid = _valid_keys(parent)
        return f"unknown key {loc!r}; valid keys: {', '.join(valid)}"
    if kind == "missing":
        return f"{loc}: required key is missing"
    message = err["msg"].removeprefix("Value error, ")
    got = err.get("input")
    shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
    return f"{loc}: {message}{shown}" if loc else f"{message}"


def _valid_keys(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the schema section at ``loc`` (skipping dict keys and list indices)."""
    model: Any = Scenario
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            continue
        annotation = fields[part].annotation
        model = _section_of(annotation)
    fields = getattr(model, "model_fields", {})
    return sorted(fields)


def _section_of(annotation: Any) -> Any:
    args = getattr(annotation, "__args__", ())
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in reversed(args):
        found = _section_of(arg)
        if found is not None:
            return found
    return None


def load_scenario(
    ref: Scenario | str | os.PathLike[str], overrides: dict[str, Any] | list[str] | None = None
) -> Scenario:
    """Load, merge (``extends``), override and validate a scenario.

    Args:
        ref: a path to a TOML file, the name of a bundled scenario (e.g. ``"rwanda_tpn"``), or a :class:`Scenario`
            (taken as it is).
        overrides: ``{"section.key": value}`` or a list of ``"section.key=value"`` strings.

    Returns:
        The validated :class:`Scenario`.

    Raises:
        ScenarioError: naming the file (or ``--set``), the key path and what is allowed; or, for an argument that is
            none of the three, what is.

    """
    if isinstance(ref, Scenario):
        scenario = ref
    elif isinstance(ref, str | os.PathLike):
        path = resolve_scenario_path(ref)
        data = _read_toml(path)
        scenario = _validate(data, str(ref))
    else:
        names = ", ".join(sorted(bundled_scenarios())) or "none"
        raise ScenarioError(
            f"scenario: got a {type(ref).__name__}; give a Scenario, a path to a TOML file or a bundled name ({names})"
        )
    if overrides:
        pairs = dict(parse_override(o) for o in overrides) if isinstance(overrides, list) else dict(overrides)
        scenario = scenario.with_overrides(pairs)
    return scenario


def as_scenario(ref: Scenario | str | os.PathLike[str]) -> Scenario:
    """The one door for a scenario argument: a :class:`Scenario` as it is, a bundled name or a TOML path loaded.

    Every public function that takes a scenario passes it through here, so ``"rwanda_tpn"``,
    ``"my_country.toml"`` and ``load_scenario("rwanda_tpn")`` are accepted alike (:func:`load_scenario` without
    overrides).

    Raises:
        ScenarioError: an unknown name or missing file (with the bundled names), an invalid file, or an argument
            that is none of the three.

    """
    return load_scenario(ref)


def plausible_range(key: str) -> tuple[float, float] | None:
    """The documented plausible range of a dotted scenario key, if the schema gives one.

    Entries of open tables of numbers (e.g. ``learning.rates.exchange_visit``) share the table's range.
    """
    parts = key.split(".")
    field = _plugin_setting(parts) or _field_at(parts)
    if field is None and len(parts) >= 2:
        parent = _field_at(parts[:-1])
        field = parent if parent is not None and parent.annotation == dict[str, float] else None
    extra = (field.json_schema_extra or {}) if field is not None else {}
    rng = extra.get("plausible") if isinstance(extra, dict) else None
    return (float(rng[0]), float(rng[1])) if rng else None


def _plugin_setting(parts: list[str]) -> Any:
    """The field of ``programme.settings.<plug-in>.<key>`` in the registered plug-in's Settings block."""
    if len(parts) != 4 or parts[:2] != ["programme", "settings"]:
        return None
    plugin = ACTIVITIES.get(parts[2]) or DELIVERY_MODELS.get(parts[2])
    block = getattr(plugin, "Settings", None)
    return None if block is None else block.model_fields.get(parts[3])


def _field_at(parts: list[str]) -> Any:
    """The schema field at a dotted path; names of kinds, topics or activities keep the current section."""
    model: Any = Scenario
    for part in parts[:-1]:
        if part in model.model_fields:  # otherwise a user-defined name (kind, topic): stay on the section
            model = _section_of(model.model_fields[part].annotation)
        if model is None:
            return None
    return model.model_fields.get(parts[-1])
