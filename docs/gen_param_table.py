"""Generate the parameter tables of docs/ODD.md from the scenario schema and the Rwanda scenario.

The schema (:mod:`twinsim.scenario`, composed of the plug-ins' blocks) is the single source of every default,
unit, bound, plausible range, prior, help text and source note (``param(..., source=...)``); this script only
adds, per value of the Rwanda scenario, whether it comes from the paper or is an assumption (``RWANDA``). The
tests (tests/test_docs.py) fail when a parameter has no note or when docs/ODD.md is out of date.

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


def source_note(info: Any) -> str:
    """Where a parameter's default comes from: its declaration's ``source`` (``param(..., source=...)``)."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return str(extra.get("source", ""))


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
            source_note(info) or MISSING_NOTE,
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
    missing = [k for k, info in schema_fields() if not source_note(info)]
    missing += [k for k in rwanda_scalar_keys() if k not in RWANDA]
    if missing:
        print(
            f"warning: no source note for {', '.join(missing)} (declare param(..., source=...) or add to RWANDA)",
            file=sys.stderr,
        )
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
