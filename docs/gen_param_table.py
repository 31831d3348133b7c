"""Generate the parameter tables of docs/ODD.md from the scenario schema and the Rwanda scenario.

The schema (:mod:`twinsim.scenario`) is the single source of every default, unit, bound, plausible range
and help text; this script only adds, per parameter, the note on where its default comes from
(``SOURCES``) and, per value of the Rwanda scenario, whether it comes from the paper or is an
assumption (``RWANDA``). The tests (tests/test_docs.py) fail when a parameter has no note or when
docs/ODD.md is out of date.

Usage, from the repository root::

    PYTHONPATH=src python docs/gen_param_table.py            # print the schema parameter table
    PYTHONPATH=src python docs/gen_param_table.py --rwanda   # print the Rwanda scenario tables
    PYTHONPATH=src python docs/gen_param_table.py --write    # refresh both blocks in docs/ODD.md
"""

from __future__ import annotations

import sys
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

import annotated_types as at
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from twinsim.programme.matching import MATCHING_RULES, TOPIC_CHOICE_RULES
from twinsim.programme.registry import ACTIVITIES, DELIVERY_MODELS
from twinsim.scenario import Scenario, bundled_scenarios, load_scenario

ODD_PATH = Path(__file__).with_name("ODD.md")
MARKERS = {
    "params": ("<!-- params:start -->", "<!-- params:end -->"),
    "rwanda": ("<!-- rwanda:start -->", "<!-- rwanda:end -->"),
}

MISSING_NOTE = "**no note yet: add one in docs/gen_param_table.py**"

# Placeholders for tables whose keys are user-chosen names.
PLACEHOLDERS = {
    "population.kinds": "<kind>",
    "topics": "<topic>",
    "costs.activities": "<activity>",
    "sensitivity.params": "<key>",
    "sensitivity.choices": "<choice>",
    "sensitivity.choices.<choice>.levels": "<level>",
}

# Constraints enforced by validators rather than by field bounds (tests/test_docs.py checks each one).
VALIDATED = {
    "simulation.start": "calendar month YYYY-MM, year 1900 to 2200",
    "population.kinds.<kind>.counts": "each count >= 0 and <= 1,000,000; total >= 1 and <= 1,000,000",
    "topics.<topic>.indicator_max": "> indicator_min",
    "topics.<topic>.kinds": "non-empty; defined kinds only; every kind needs a topic",
    "programme.schedule[].months": "each >= 1 and <= simulation.months",
    "learning.rates": "each rate in [0, 10]; keys: registered activities",
    "costs.activities": "keys: registered activities",
    "recording.mode": "panel or aggregate",
    "recording.panel_dir": "only with mode = panel",
}

# Names allowed by a registry, read from the registry itself.
REGISTRIES = {
    "programme.delivery_model": DELIVERY_MODELS,
    "programme.topic_choice": TOPIC_CHOICE_RULES,
    "programme.matching": MATCHING_RULES,
    "programme.schedule[].activity": ACTIVITIES,
}

A = "assumption"
SOURCES: dict[str, str] = {
    "name": "label",
    "description": "label",
    "simulation.months": "paper: Aug 2021 - Feb 2023 inclusive is 19 months (Gasana et al. 2024)",
    "simulation.followup_months": f"{A}: one year after funding stops, the horizon donors ask about (MODEL.md)",
    "simulation.start": "paper: the TPN started in August 2021",
    "simulation.seed": "convention (the launch date); no empirical meaning",
    "simulation.posterior": "the scenario's own calibration (twinsim calibrate); none by default",
    "population.kinds.<kind>.label": "label",
    "population.kinds.<kind>.counts": "scenario-specific (Rwanda: paper, 10 hospitals and 30 districts)",
    "population.kinds.<kind>.budget_median": f"{A}: placeholder level; only budget ratios within a kind enter the"
    " core model (similarity, resource factor), so the level matters only across kinds",
    "population.kinds.<kind>.budget_sigma": f"{A}: 90% of budgets within x0.52 - x1.93 of the median",
    "population.kinds.<kind>.leadership_mean": f"{A}: most senior teams moderately committed; TPN key findings"
    " stress leadership but give no measure",
    "population.kinds.<kind>.leadership_concentration": f"{A}: sd 0.16 at mean 0.6",
    "population.kinds.<kind>.population_served": "scenario-specific (Rwanda districts: census 2022, NISR)",
    "topics.<topic>.indicator": "scenario-specific (Rwanda: paper for accreditation and CBHI coverage)",
    "topics.<topic>.unit": "convention: indicators in percent",
    "topics.<topic>.indicator_min": f"{A}: capacity 0 maps to the bottom of a 0-100 scale",
    "topics.<topic>.indicator_max": f"{A}: capacity 1 maps to the top of a 0-100 scale",
    "topics.<topic>.kinds": "scenario-specific (Rwanda: paper, accreditation for hospitals, CBHI for districts)",
    "topics.<topic>.baseline_mean": f"{A}: neutral mid-range; scenarios set their own",
    "topics.<topic>.baseline_concentration": f"{A}: sd 0.15 at mean 0.5",
    "topics.<topic>.interest_mean": f"{A}: neutral",
    "topics.<topic>.interest_concentration": f"{A}: wide spread of priorities (sd 0.22 at mean 0.5)",
    "topics.<topic>.coverage_share": "scenario-specific: the indicator's denominator as a share of the population",
    "topics.<topic>.source": "free text documenting the topic",
    "programme.delivery_model": "paper: the TPN is the published programme",
    "programme.topic_choice": "paper: members assessed their gaps and set their own goals at the kickoff",
    "programme.matching": "paper: a high-performing peer per topic",
    "programme.topics_per_institution": f"{A}: not published",
    "programme.twins_per_topic": "paper: a high-performing peer per topic",
    "programme.mentor_load_cap": f"{A}: not published; bounds the load on the best performers",
    "programme.min_gap": f"{A}: a twin leads by at least 5 indicator points, about the published effects",
    "programme.choice_interest_weight": f"{A}: interest outweighs the gap (paper: senior management's interest"
    " drove the choice); calibration target",
    "programme.choice_noise": f"{A}: unobserved reasons for a choice",
    "programme.schedule[].activity": "scenario-specific (Rwanda: paper, Table of key events)",
    "programme.schedule[].months": "scenario-specific (Rwanda: months are assumptions, counts from the paper)",
    "programme.schedule[].every": "scenario-specific (e.g. a monthly virtual peer group: every = 1)",
    "programme.schedule[].from_": "scenario-specific (default: the first programme month)",
    "programme.schedule[].to": "scenario-specific (default: the last programme month)",
    "programme.settings": "the user's plug-ins' own parameter blocks (docs/extending.md); none by default",
    "programme.volume": "convention: 1 runs the schedule as written; `twinsim compare --budget` solves for it"
    " (docs/delivery_models.md)",
    "programme.experts.team_size": f"{A}: a small consulting team (case study: the team size is not published)",
    "programme.experts.days_available": f"{A}: enough for a schedule like the case study's (3 retreats, 7 coaching"
    " rounds, 2 knowledge-sharing sessions, delivery support); limited days are what distinguishes experts",
    "programme.experts.know_how": f"{A}: experts know their priority topics well (MODEL.md: high know-how)",
    "programme.experts.context_distance": f"{A}: outsiders to every institution (MODEL.md: low context"
    " similarity); exp(-1.5) = 0.22 against about 0.58 for the Rwanda TPN's peer ties; direction from"
    " Ndenga et al. 2016",
    "programme.experts.priority_topics": "case study (shared/seeds/): delivery support on 5 priorities",
    "programme.partners.capacity_mean": f"{A}: a well-resourced partner from a high-income health system is near"
    " the top of every indicator",
    "programme.partners.capacity_concentration": f"{A}: sd 0.08 at mean 0.85",
    "programme.partners.context_distance": f"{A}: low similarity of resources and context (Ndenga et al. 2016:"
    " 52% of Rwandan, 10% of US faculty reported effective skill transfer); exp(-1.5) = 0.22",
    "learning.rates": "scenario-specific; relative sizes from Rowe et al. 2018, absolute sizes calibrated for"
    " Rwanda (docs/evaluation.md). Plausible range: an event at full effort closes at most 86% of the absorbable"
    " gap",
    "learning.peer_contact_rate": f"{A}: informal contact between events, a month about 1/30 of the Rwanda"
    " exchange-visit rate",
    "learning.followup_tie_intensity": f"{A}: half the contact goes on after funding (MODEL.md: peer ties may"
    " outlast the programme)",
    "learning.similarity_weight": f"{A}: direction from Ndenga et al. 2016 (similar peers transfer more);"
    " magnitude unknown. w = 1 halves the transfer intensity across a twofold budget difference",
    "learning.region_distance": f"{A}: a peer in another province is like a 28% budget difference",
    "learning.gap_ceiling": f"{A}: absorbable know-how peaks at a gap of 50 capacity points (MODEL.md: not"
    " from a gap too large to absorb)",
    "learning.mentor_gain": f"{A} (ODD 7.19): 0.2, about the 10% : 52% ratio of US to Rwandan faculty reporting"
    " effective skill transfer (Ndenga et al. 2016); range up to 1, the editorial's 'we gain as much as we give'",
    "learning.ownership_retention": f"{A} (ODD 7.16): full ownership with practice keeps every gain, as group"
    " problem-solving's effect did not decay (Arsenault et al. 2022); range 0.5-1",
    "learning.practice_weight": f"{A} (ODD 7.16): half of ownership's protection needs practice; range 0-1",
    "learning.empowerment_rate": f"{A} (ODD 7.17): TPN key finding 'positive empowerment and motivational"
    " effects', magnitude not published; taking part doubles the top of motivation_rate's range",
    "learning.virtual_ratio": "Rowe et al. 2018 bound (ODD 7.21): technology-only strategies moved practice by"
    " about 1.0 point, printed materials 1.4, training or supervision 10.3-15.9 (ratio 0.06-0.14); virtual"
    " coaching is live contact, so 0.2 is an assumption in 0.1-0.5",
    "learning.programme_time_share": f"{A} (ODD 7.20): 1% of the budget in staff days (TPN key implications:"
    " members must 'dedicate adequate time and resources'); range 0.2-5%",
    "learning.yield_reference": f"{A} (ODD 7.20): half an indicator point a month of activities satisfies a member",
    "learning.persistence_rate": f"{A} (ODD 7.20): persistence follows a month's yield with weight 0.3",
    "learning.disillusion_weight": f"{A} (ODD 7.20): persistence 0 halves engagement",
    "learning.dropout_threshold": f"{A} (ODD 7.20): no drop-out by default (the TPN reports none)",
    "mechanisms.ownership": "issue 12; Arsenault et al. 2022 (decay differs by strategy); TPN key findings"
    " (leadership); on by default",
    "mechanisms.empowerment": "issue 12; TPN key finding (empowerment and motivation); on by default",
    "mechanisms.keep_promise": "issue 12; TPN paper: the network 'ensures that an institution always has a"
    " high-performing peer'; on by default",
    "mechanisms.two_way": "issue 12; health-partnerships editorial (two-way exchange); on by default",
    "mechanisms.resources": "issue 12; TPN key implications (time and resources); on by default",
    "mechanisms.expert_programme": "issue 12; external-expert case study (seeds): Ministry-level programme; on by"
    " default",
    "programme.experts.senior_leaders": "case study: 7 coaching rounds for 42 senior leaders",
    "programme.experts.ministry_leadership_mean": f"{A} (ODD 7.22): as the institutions' leadership_mean",
    "programme.experts.traction_threshold": f"{A} (ODD 7.22), set so that about 2 of the 5 priorities have traction"
    " at the end of the Rwanda expert programme (case study: two priorities 'gained significant traction, driven"
    " by strong ministerial leadership'; 100 replicates: 2.45)",
    "programme.experts.tracking_rate": f"{A} (ODD 7.22): the tracking team closes 5% of the headroom in interest a"
    " month (case study: a ministerial priority-tracking team)",
    "mechanisms.delivery_modes": "issue 12; Rowe et al. 2018 (dose by activity type); on by default",
    "learning.leadership_weight": f"{A}: strong gating (TPN key findings; external-expert case: traction only"
    " under strong leadership)",
    "learning.interest_weight": f"{A}: moderate gating by the topic's priority (TPN: senior management's interest)",
    "learning.resource_elasticity": f"{A}: TPN key implications (members need time and resources)",
    "learning.mentor_load_penalty": f"{A}: each mentee costs a mentor 10% of its engagement",
    "learning.motivation_rate": f"{A}: own improvement on priority topics (self-selection; TPN hypothesis)",
    "learning.background_trend": f"{A}: 2.4% of the remaining gap a year, secular improvement",
    "learning.forgetting": "Arsenault et al. 2022 (ODD 7.16): training plus supervision lost 0.40 points a month"
    " (95% CI 0.12-0.68) of an effect of about 15 (Rowe et al. 2018): 0.027 a month, range 0.01-0.05",
    "learning.leadership_turnover": f"{A}: 21% a year, a mean tenure of about 4 years",
    "learning.turnover_knowledge_loss": f"{A}: a leadership change loses a fifth of the gain above baseline",
    "costs.currency": "convention",
    "costs.price_year": "convention: the programme's middle year",
    "costs.staff_day": f"{A}: value of a health manager's day in Rwanda, USD 2022",
    "costs.value_staff_time": "convention: count staff time (MODEL.md: the user's choice)",
    "costs.expert_day_rate": f"{A}: an international consultant's day rate, USD 2022",
    "costs.travel_price_index": f"{A}: 1 = per-participant costs as written; its prior is the donor range",
    "costs.event_price_index": f"{A}: 1 = per-event costs as written; its prior is the donor range",
    "costs.volunteer_day": f"{A}: value of an NHS clinician's day, USD 2022 (HPS: 87,000 volunteer days from 2,000"
    " NHS staff over 4 years)",
    "costs.value_volunteer_time": "convention: societal perspective, like staff time; off for the donor's"
    " financial outlay (MODEL.md: volunteer time valued or not, as the user chooses)",
    "costs.activities.<activity>.per_event": "scenario-specific; default none",
    "costs.activities.<activity>.per_participant": "scenario-specific; default none",
    "costs.activities.<activity>.participants": f"{A}: two staff per institution",
    "costs.activities.<activity>.days": f"{A}: one day",
    "costs.activities.<activity>.expert_days": "scenario-specific; default none",
    "costs.activities.<activity>.volunteer_days": "scenario-specific; default none",
    "recording.mode": "convention: the full panel, small networks' natural output; aggregate mode for networks of"
    " 10,000+ institutions (docs/performance.md: 100,000 x 120 months of panel is 0.9 GB in memory)",
    "recording.panel_dir": "convention: in memory unless a folder is given (docs/performance.md)",
    "sensitivity.method": "analysis setting (not a model input): Sobol is the reference method (Saltelli et al."
    " 2010); Morris screens many factors cheaply",
    "sensitivity.samples": "analysis setting: 64 base samples give rough Sobol indices; check the convergence figure",
    "sensitivity.replicates": "analysis setting: one run per point; raise it when the noise share is large",
    "sensitivity.second_order": "analysis setting: off, S2 needs 2D + 2 runs per base sample instead of D + 2",
    "sensitivity.num_levels": "analysis setting: 4 levels, SALib's default (Morris 1991; Campolongo et al. 2007)",
    "sensitivity.outputs": "analysis setting: the programme's mean gain and its cost",
    "sensitivity.params.<key>.low": "analysis setting; default the key's plausible range (its own source note)",
    "sensitivity.params.<key>.high": "analysis setting; default the key's plausible range (its own source note)",
    "sensitivity.params.<key>.levels": "analysis setting: the alternatives compared",
    "sensitivity.choices.<choice>.description": "label",
    "sensitivity.choices.<choice>.levels.<level>.overrides": "analysis setting: the alternative's scenario values",
    "sensitivity.choices.<choice>.levels.<level>.schedule": "analysis setting: the alternative's activity months",
    "evaluation.measurement_sd": f"{A}: a scored assessment (accreditation) or a routine coverage figure is"
    " off by about 2 points; plausible 0 (registry) to 5 (small-sample survey)",
    "evaluation.baseline_month": "paper: baseline at the start of the programme (Aug 2021)",
    "evaluation.choice_on_measured_baseline": (
        "assumption: topics were chosen on the routine data the evaluation's baseline also used (ODD 7.24)"
    ),
    "evaluation.midline_month": "convention: no midline (the paper reports baseline and endline only)",
    "evaluation.endline_month": "paper: endline at the end of the programme (Feb 2023)",
}

# Where each value set in scenarios/rwanda_tpn.toml comes from (as annotated in that file).
P, AS = "paper", "assumption"
RWANDA: dict[str, tuple[str, str]] = {
    "name": ("label", ""),
    "description": ("label", ""),
    "simulation.months": (P, "Aug 2021 - Feb 2023 inclusive"),
    "simulation.followup_months": (AS, "one year after funding stops"),
    "simulation.start": (P, "August 2021"),
    "simulation.seed": ("convention", "the launch date"),
    "simulation.posterior": ("calibration", "posteriors/rwanda_tpn/, fitted to the paper's two effects"),
    "population.kinds.hospital.label": ("label", ""),
    "population.kinds.hospital.counts": (
        P + " (total) / " + AS + " (provinces)",
        "10 hospitals; provinces not published, spread 2-3 per province",
    ),
    "population.kinds.hospital.budget_median": (AS, "USD/month of a district hospital"),
    "population.kinds.hospital.budget_sigma": (AS, ""),
    "population.kinds.hospital.leadership_mean": (AS, ""),
    "population.kinds.hospital.leadership_concentration": (AS, ""),
    "population.kinds.district.label": ("label", ""),
    "population.kinds.district.counts": (
        P + " (total) / " + AS + " (Kigali)",
        "30 districts; Rwanda's map has"
        " North 5, South 8, East 7, West 7, Kigali City 3; Kigali's 3 counted with East (4 provincial events)",
    ),
    "population.kinds.district.budget_median": (AS, "USD/month available to a district health team"),
    "population.kinds.district.budget_sigma": (AS, ""),
    "population.kinds.district.leadership_mean": (AS, ""),
    "population.kinds.district.leadership_concentration": (AS, ""),
    "population.kinds.district.population_served": ("census 2022 (NISR)", "13,246,394 people / 30 districts"),
    "programme.delivery_model": (P, "the TPN"),
    "programme.topic_choice": (P, "members assessed gaps and chose their own topics"),
    "programme.matching": (P, "a high-performing peer per topic"),
    "programme.topics_per_institution": (AS, "not published"),
    "programme.twins_per_topic": (P, "a peer per topic"),
    "programme.mentor_load_cap": (AS, ""),
    "programme.min_gap": (AS, ""),
    "learning.peer_contact_rate": ("calibrated", "ABC point estimate, docs/evaluation.md"),
    "learning.motivation_rate": ("calibrated", "ABC point estimate, docs/evaluation.md"),
    "learning.gap_ceiling": ("calibrated", "ABC point estimate, docs/evaluation.md"),
    "costs.currency": ("convention", ""),
    "costs.price_year": ("convention", "middle of the programme"),
    "costs.staff_day": (AS, ""),
    "costs.value_staff_time": ("convention", "societal perspective"),
}

# The published schedule (Gasana et al. 2024, table of key events) next to the model's.
RWANDA_SCHEDULE: dict[str, str] = {
    "kickoff_workshop": "1 launch workshop (4 sessions of about 10 institutions)",
    "exchange_visit": "exchange visits (number not published)",
    "coaching_virtual": "3 coaching sessions per member: 1 virtual ...",
    "coaching_in_person": "... and 2 in person",
    "learning_workshop_virtual": "4 network-wide virtual workshops",
    "provincial_learning_event": "4 provincial workshops (1 per province)",
}
RWANDA_COST_NOTES: dict[str, str] = {
    "kickoff_workshop": "venue and facilitation for 4 sessions; transport and per diem",
    "exchange_visit": "transport and 2 days' per diem",
    "coaching_in_person": "facilitator day and transport",
    "coaching_virtual": "facilitator half-day, connectivity",
    "learning_workshop_virtual": "platform and facilitation",
    "provincial_learning_event": "venue and facilitation per province; transport and per diem",
}


# --------------------------------------------------------------------------------------------------
# Walking the schema


def _sub_model(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """('model' | 'dict' | 'list', section class) when a field holds a schema section."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("model", annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is dict and args and isinstance(args[-1], type) and issubclass(args[-1], BaseModel):
        return ("dict", args[-1])
    if origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return ("list", args[0])
    return None


def schema_fields(model: type[BaseModel] = Scenario, prefix: str = "") -> list[tuple[str, Any]]:
    """Every leaf parameter of the schema as (dotted key, pydantic FieldInfo), in schema order."""
    rows: list[tuple[str, Any]] = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        sub = _sub_model(info.annotation)
        if sub is None:
            rows.append((key, info))
        elif sub[0] == "model":
            rows += schema_fields(sub[1], f"{key}.")
        elif sub[0] == "dict":
            rows += schema_fields(sub[1], f"{key}.{PLACEHOLDERS.get(key, '<name>')}.")
        else:
            rows += schema_fields(sub[1], f"{key}[].")
    return rows


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _default(info: Any) -> str:
    if info.default is PydanticUndefined and info.default_factory is None:
        return "required"
    value = info.default_factory() if info.default is PydanticUndefined else info.default
    return _fmt(value)


def _bounds(key: str, info: Any) -> str:
    lo = hi = ""
    for m in info.metadata:
        if isinstance(m, at.Ge):
            lo = f"[{_fmt(m.ge)}"
        elif isinstance(m, at.Gt):
            lo = f"({_fmt(m.gt)}"
        elif isinstance(m, at.Le):
            hi = f"{_fmt(m.le)}]"
        elif isinstance(m, at.Lt):
            hi = f"{_fmt(m.lt)})"
    if lo and hi:
        text = f"{lo}, {hi}"
    elif lo:
        text = (">= " if lo[0] == "[" else "> ") + lo[1:]
    elif hi:
        text = ("<= " if hi[-1] == "]" else "< ") + hi[:-1]
    else:
        text = ""
    extra = VALIDATED.get(key) or (
        "one of " + ", ".join(f"`{n}`" for n in sorted(REGISTRIES[key])) if key in REGISTRIES else ""
    )
    return "; ".join(t for t in (text, extra) if t)


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    if isinstance(annotation, types.GenericAlias | types.UnionType):
        return str(annotation).replace("typing.", "")
    return str(annotation)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_params() -> str:
    """The schema parameter table, one Markdown table per top-level section."""
    rows = schema_fields()
    out: list[str] = []
    section = None
    header = (
        "| Parameter | Type | Default | Unit | Bounds | Plausible | Prior (donor analysis) | Meaning | Source or"
        " assumption |\n|---|---|---|---|---|---|---|---|---|"
    )
    for key, info in rows:
        top = key.split(".")[0] if "." in key else "(top level)"
        if top != section:
            section = top
            out += ["", f"**{section}**", "", header]
        extra = info.json_schema_extra or {}
        plausible = extra.get("plausible")
        cells = [
            f"`{key}`",
            _type_name(info.annotation),
            _default(info),
            extra.get("unit", ""),
            _bounds(key, info),
            f"[{_fmt(plausible[0])}, {_fmt(plausible[1])}]" if plausible else "",
            extra["prior"].describe() if "prior" in extra else "",
            info.description or "",
            SOURCES.get(key, MISSING_NOTE),
        ]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(out).strip() + "\n"


# --------------------------------------------------------------------------------------------------
# The Rwanda scenario


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and not dotted.endswith(".counts"):
            flat.update(_flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def rwanda_raw() -> dict[str, Any]:
    """The keys and values written in the bundled rwanda_tpn.toml (no defaults filled in)."""
    return tomllib.loads(bundled_scenarios()["rwanda_tpn"].read_text(encoding="utf-8"))


def rwanda_scalar_keys() -> list[str]:
    """Keys of rwanda_tpn.toml outside the topic, schedule, rate and activity-cost tables."""
    flat = _flatten({k: v for k, v in rwanda_raw().items() if k != "topics"})
    skip = ("programme.schedule", "learning.rates", "costs.activities")
    return [k for k in flat if not k.startswith(skip)]


def _schema_default(key: str) -> str:
    generic = {k: info for k, info in schema_fields()}
    parts = key.split(".")
    if key.startswith("population.kinds."):
        parts[2] = "<kind>"
    info = generic.get(".".join(parts))
    return _default(info) if info is not None else ""


def _events(scope: str, firings: int, regions: int) -> str:
    per_firing = {
        "network": (1, "network-wide"),
        "region": (regions, "one per region"),
        "pair": (None, "per twin pair"),
        "member": (None, "per member"),
    }[scope]
    if per_firing[0] is None:
        return f"{firings} {per_firing[1]}"
    return f"{firings * per_firing[0]} ({per_firing[1]})"


def render_rwanda() -> str:
    """The Rwanda scenario's values and their basis: scalars, topics, schedule, rates, costs."""
    sc = load_scenario("rwanda_tpn")
    data = sc.model_dump()
    raw = rwanda_raw()
    keys = rwanda_scalar_keys()
    out = ["**Settings**", "", "| Key | Rwanda value | Schema default | Basis | Note |", "|---|---|---|---|---|"]
    for key in keys:
        node: Any = data
        for part in key.split("."):
            node = node[part]
        basis, note = RWANDA.get(key, (MISSING_NOTE, ""))
        cells = [f"`{key}`", _fmt(node), _schema_default(key), basis, note]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")

    out += [
        "",
        "**Topics** (capacity in [0, 1] maps to the indicator on 0-100; beta distributions given as mean and"
        " concentration; *d* marks a schema default not set in the file)",
        "",
        "| Topic | Kind | Indicator | Baseline mean (conc.) | Interest mean (conc.) | Basis (the file's `source`) |",
        "|---|---|---|---|---|---|",
    ]
    for name, topic in sc.topics.items():
        set_here = raw["topics"][name]

        def mark(field: str, set_here: dict[str, Any] = set_here) -> str:
            return "" if field in set_here else " *d*"

        cells = [
            f"`{name}`",
            ", ".join(topic.kinds),
            f"{topic.indicator} ({topic.unit})",
            f"{_fmt(topic.baseline_mean)}{mark('baseline_mean')} ({_fmt(topic.baseline_concentration)}"
            f"{mark('baseline_concentration')})",
            f"{_fmt(topic.interest_mean)}{mark('interest_mean')} ({_fmt(topic.interest_concentration)}"
            f"{mark('interest_concentration')})",
            topic.source,
        ]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")

    out += [
        "",
        "**Schedule and transfer rates** (months count from August 2021 = 1; the months are assumptions, the"
        " counts are the paper's; rates: relative sizes after Rowe et al. 2018; exchange visits and in-person"
        " coaching calibrated (ABC point estimate, docs/evaluation.md), the others assumptions)",
        "",
        "| Activity | Scope, mode | Months | Events in the model | Rate | Published (Gasana et al. 2024) |",
        "|---|---|---|---|---|---|",
    ]
    for line in sc.programme.schedule:
        act = ACTIVITIES[line.activity]
        cells = [
            f"`{line.activity}`",
            f"{act.scope}, {act.mode.replace('_', ' ')}",
            ", ".join(str(m) for m in line.months),
            _events(act.scope, len(line.months), len(sc.regions)),
            _fmt(sc.learning.rates.get(line.activity, 0.0)),
            RWANDA_SCHEDULE.get(line.activity, "not in the paper"),
        ]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")

    out += [
        "",
        f"**Unit costs** ({sc.costs.currency}, {sc.costs.price_year} prices; every unit cost is an assumption;"
        f" staff day {_fmt(sc.costs.staff_day)})",
        "",
        "| Activity | Per event | Per participant | Participants per institution | Days | What it covers |",
        "|---|---|---|---|---|---|",
    ]
    for name, unit in sc.costs.activities.items():
        cells = [
            f"`{name}`",
            _fmt(unit.per_event),
            _fmt(unit.per_participant),
            str(unit.participants),
            _fmt(unit.days),
            RWANDA_COST_NOTES.get(name, ""),
        ]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------------
# docs/ODD.md


def block(text: str, name: str) -> str:
    """The text between the markers of block ``name`` (stripped)."""
    start, end = MARKERS[name]
    if start not in text or end not in text:
        raise SystemExit(f"{ODD_PATH}: markers {start} ... {end} not found")
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def replace_block(text: str, name: str, content: str) -> str:
    """``text`` with block ``name`` replaced by ``content``."""
    start, end = MARKERS[name]
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{content.strip()}\n{end}{tail}"


def main(argv: list[str]) -> None:
    """Print a table, or refresh docs/ODD.md with ``--write``."""
    missing = [k for k, _ in schema_fields() if k not in SOURCES]
    missing += [k for k in rwanda_scalar_keys() if k not in RWANDA]
    if missing:
        print(f"warning: no source note for {', '.join(missing)} (add them to SOURCES / RWANDA)", file=sys.stderr)
    if "--write" in argv:
        text = ODD_PATH.read_text(encoding="utf-8")
        text = replace_block(text, "params", render_params())
        text = replace_block(text, "rwanda", render_rwanda())
        ODD_PATH.write_text(text, encoding="utf-8")
        print(f"updated {ODD_PATH}")
    elif "--rwanda" in argv:
        sys.stdout.write(render_rwanda())
    else:
        sys.stdout.write(render_params())


if __name__ == "__main__":
    main(sys.argv[1:])
