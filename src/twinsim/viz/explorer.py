"""The browser explorer: a Solara page (Mesa's visualisation stack) to change a design and watch the network form.

The page (:func:`Page`, or :func:`Explorer` with a scenario in JupyterLab) has sliders and selectors for the
design choices and the key learning parameters, play / step / reset, the partnership network as it forms,
trajectories of selected vs not selected institutions, the running cost, and a donor panel that runs a quick
replicated comparison (:func:`twinsim.analysis.compare.compare`) and shows the cost-effectiveness plane.

Why Solara directly and not Mesa's ``SolaraViz``: Mesa's ``ModelCreator`` refuses dotted scenario keys as
model parameters, its ``ModelController`` rebuilds the model with ``model.__class__(**params)`` (no scenario
edits such as a rescaled schedule or the coaching mode), and its default space components need
``model.space``. The page keeps Mesa's controls (play / step / reset) and model idioms (``step``,
``running``, ``datacollector``), and every model-facing piece is a small function or class here that the
tests call without a browser: :func:`controls_for`, :func:`scenario_for`, :class:`Session`,
:func:`snapshot`, :func:`network_layout`, :func:`plot_network`, :func:`plot_trajectories`,
:func:`donor_scenarios`, :func:`donor_comparison`.

Solara is an optional dependency (the ``viz`` extra): without it this module imports, the functions work,
and :func:`Page` / :func:`Explorer` raise a :class:`~twinsim.errors.TwinsimError` naming the extra.
"""

from __future__ import annotations

import importlib
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from twinsim.errors import TwinsimError
from twinsim.figures.comparison import plot_ce_plane
from twinsim.programme.delivery import delivery_ties
from twinsim.programme.matching import MATCHING_RULES
from twinsim.programme.registry import DELIVERY_MODELS, effective_rate
from twinsim.scenario import (
    Scenario,
    bundled_scenarios,
    load_scenario,
    plausible_range,
    resolve_scenario_path,
    scenario_warnings,
)


def _optional_module(name: str) -> Any:
    """The module ``name``, or None when it is not installed (an optional extra)."""
    try:
        return importlib.import_module(name)
    except ImportError:  # pragma: no cover - exercised by a test that hides solara
        return None


solara = _optional_module("solara")  # the viz extra

__all__ = [
    "COACHING_MODES",
    "SCENARIO_ENV",
    "Control",
    "Explorer",
    "Page",
    "Session",
    "Settings",
    "controls_for",
    "delivery_options",
    "donor_comparison",
    "donor_scenarios",
    "network_layout",
    "plot_network",
    "plot_trajectories",
    "require_viz",
    "scenario_for",
    "serve",
    "snapshot",
]

VIZ_MISSING = "the explorer needs the viz extra: pip install 'twinsim[viz]'"
SCENARIO_ENV = "TWINSIM_EXPLORE_SCENARIO"
COACHING_MODES = ("as scheduled", "all in person", "all virtual", "none")
_COACHING = ("coaching_in_person", "coaching_virtual")


def require_viz() -> None:
    """Raise a one-line :class:`TwinsimError` naming the ``viz`` extra when Solara is not installed."""
    if solara is None:
        raise TwinsimError(VIZ_MISSING)


# --------------------------------------------------------------------------------------------------
# Controls and settings


@dataclass(frozen=True)
class Control:
    """One slider or selector of the page: a dotted scenario key (or a page-level choice) and its range."""

    key: str
    label: str
    kind: str  # "int", "float" or "select"
    group: str  # "design" or "learning"
    low: float = 0.0
    high: float = 1.0
    step: float = 1.0
    values: tuple[str, ...] = ()

    def admit(self, value: Any) -> Any:
        """``value`` as the server accepts it: a number clamped to the control's range, a choice among its values.

        Limits hold on the server whatever a client sends (a websocket message is not bound by the slider).

        Raises:
            TwinsimError: a choice that is not one of the control's values, or a value that is not a number.

        """
        if self.kind == "select":
            if value not in self.values:
                raise TwinsimError(f"{self.label}: {value!r} is not one of {', '.join(self.values)}")
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise TwinsimError(f"{self.label}: {value!r} is not a number") from None
        if number != number:  # noqa: PLR0124 (NaN)
            raise TwinsimError(f"{self.label}: not a number")
        number = min(max(number, self.low), self.high)
        return round(number) if self.kind == "int" else number


def admit(controls: list[Control], key: str, value: Any) -> Any:
    """A page change as the server accepts it: the control's :meth:`Control.admit`, a seed clamped to its range."""
    for control in controls:
        if control.key == key:
            return control.admit(value)
    if key == "seed":
        try:
            return min(max(int(value), 0), MAX_SEED)
        except (TypeError, ValueError):
            raise TwinsimError(f"Seed: {value!r} is not a whole number") from None
    raise TwinsimError(f"{key}: no such control")


#: Most replicates the donor panel runs per delivery model (the slider's maximum, enforced on the server).
MAX_DONOR_REPLICATES = 50
#: Largest seed the page accepts.
MAX_SEED = 2**63 - 1


def _range(key: str, low: float, high: float) -> tuple[float, float]:
    found = plausible_range(key)
    return (low, high) if found is None else (float(found[0]), float(found[1]))


def delivery_options(scenario: Scenario, ref: str) -> dict[str, str]:
    """Delivery model name -> scenario (path or bundled name) sharing ``scenario``'s population and topics.

    The given scenario comes first; then each bundled scenario on the same institutions and topics, one per
    delivery model (the bundled Rwanda files: network, pairs, north-south, external experts, hybrid, none).
    """
    options = {scenario.programme.delivery_model: ref}
    for name, path in sorted(bundled_scenarios().items()):
        other = load_scenario(path)
        if other.sensitivity is not None and other.sensitivity.params:  # an analysis, not a delivery design
            continue
        same = other.population == scenario.population and other.topics == scenario.topics
        if same and other.programme.delivery_model not in options:
            options[other.programme.delivery_model] = name
    return options


def controls_for(scenario: Scenario, ref: str) -> list[Control]:
    """The page's sliders and selectors for a scenario (design choices first, then learning parameters)."""
    n_topics = max(len([t for t in scenario.topics.values() if kind in t.kinds]) for kind in scenario.population.kinds)
    design = [
        Control("delivery_model", "Delivery model", "select", "design", values=tuple(delivery_options(scenario, ref))),
        Control("programme.twins_per_topic", "Twins per topic", "int", "design", 1, 5),
        Control("programme.topics_per_institution", "Topics per institution", "int", "design", 1, max(n_topics, 1)),
        Control("programme.matching", "Matching rule", "select", "design", values=tuple(MATCHING_RULES)),
        Control("programme.mentor_load_cap", "Mentor load cap", "int", "design", 1, 8),
        Control("coaching", "Coaching", "select", "design", values=COACHING_MODES),
        Control("simulation.months", "Programme length (months)", "int", "design", 6, 36),
        Control("programme.volume", "Activity volume", "float", "design", 0.25, 3.0, 0.25),
    ]
    learning = []
    for key, label in (
        ("learning.rates.exchange_visit", "Rate: exchange visit"),
        ("learning.rates.coaching_in_person", "Rate: in-person coaching"),
        ("learning.peer_contact_rate", "Peer contact rate / month"),
        ("learning.similarity_weight", "Similarity weight"),
        ("learning.gap_ceiling", "Gap ceiling"),
        ("learning.forgetting", "Forgetting / month"),
        ("learning.leadership_turnover", "Leadership turnover / month"),
    ):
        low, high = _range(key, 0.0, 1.0)
        learning.append(Control(key, label, "float", "learning", low, high, (high - low) / 50))
    return design + learning


#: Controls that act under every delivery model, the counterfactual included (the run's length, what decays).
ACTS_WITHOUT_PROGRAMME = frozenset(
    {"delivery_model", "simulation.months", "learning.forgetting", "learning.leadership_turnover"}
)
#: Controls of the matching of peers within the mentor load cap (ODD 7.11, 7.18).
MATCHING_KEYS = frozenset({"programme.twins_per_topic", "programme.matching", "programme.mentor_load_cap"})
#: Controls that act only where ties form on the members' chosen topics (peer ties or ties to outside partners).
TIE_KEYS = frozenset({"programme.topics_per_institution", "learning.peer_contact_rate"})


def _ties_on_chosen_topics(delivery: Any) -> bool:
    """Whether the delivery model ties members on the topics they choose (to peers or to outside partners)."""
    return bool(delivery.forms_peer_ties or "partners" in delivery.provides)


def _why_no_matching(delivery: Any) -> str:
    if delivery.forms_peer_ties:
        return "one fixed partner for every topic (one-to-one pairs), no matching of peers"
    if "partners" in delivery.provides:
        return "each member has one outside partner, no matching of peers"
    return "no peer ties form"


def _rate_matters(scenario: Scenario, key: str) -> bool:
    """Whether a scheduled activity fires at a rate that moves with ``learning.rates.<activity>`` (ODD 7.21, 7.23)."""
    activity = key.removeprefix("learning.rates.")
    rates = dict(scenario.learning.rates)
    rates[activity] = 0.5 * rates.get(activity, 0.1) + 0.01
    nudged = scenario.model_copy(update={"learning": scenario.learning.model_copy(update={"rates": rates})})
    return any(
        effective_rate(scenario, line.activity) != effective_rate(nudged, line.activity)
        for line in scenario.programme.schedule
    )


def why_inert(control: Control, scenario: Scenario) -> str | None:
    """Why ``control`` changes nothing in ``scenario``'s run (shown beside the disabled control), or None.

    Read from the delivery model's declaration in the registry (``runs_activities``, ``matches_within_cap``,
    ``forms_peer_ties``, what it ``provides``) and the scenario's schedule; a test checks every answer against
    the model's result for every control and delivery model.
    """
    name = scenario.programme.delivery_model
    delivery = DELIVERY_MODELS[name]
    key = control.key
    if key in ACTS_WITHOUT_PROGRAMME:
        return None
    schedule = [line.model_dump() for line in scenario.programme.schedule]
    checks = (
        (not delivery.runs_activities, "no programme is delivered"),
        (key in MATCHING_KEYS and not delivery.matches_within_cap, _why_no_matching(delivery)),
        (
            key in TIE_KEYS and not _ties_on_chosen_topics(delivery),
            "no ties form; the programme works on the priorities it sets",
        ),
        (key == "coaching" and not coaching_edits(schedule, "none"), "its schedule has no peer coaching"),
        (
            key.startswith("learning.rates.") and not _rate_matters(scenario, key),
            "no scheduled activity learns at this rate",
        ),
    )
    return next((f"not used by {name}: {reason}" for inert, reason in checks if inert), None)


def _lookup(scenario: Scenario, key: str) -> Any:
    value: Any = scenario
    for part in key.split("."):
        value = value.get(part, 0.0) if isinstance(value, dict) else getattr(value, part)
    return value


@dataclass(frozen=True)
class Settings:
    """What the user set on the page: a delivery model, values by control key, the coaching mode and a seed."""

    delivery_model: str
    values: dict[str, Any]
    coaching: str = COACHING_MODES[0]
    seed: int = 0

    def with_value(self, key: str, value: Any) -> Settings:
        """These settings with one control changed (``delivery_model`` and ``coaching`` included)."""
        if key == "delivery_model":
            return replace(self, delivery_model=str(value))
        if key == "coaching":
            return replace(self, coaching=str(value))
        if key == "seed":
            return replace(self, seed=int(value))
        return replace(self, values={**self.values, key: value})

    def value(self, key: str) -> Any:
        """The current value of control ``key``."""
        if key == "delivery_model":
            return self.delivery_model
        if key == "coaching":
            return self.coaching
        return self.values[key]


def default_settings(scenario: Scenario, controls: list[Control]) -> Settings:
    """The scenario's own values for every control."""
    values = {c.key: _lookup(scenario, c.key) for c in controls if c.key not in ("delivery_model", "coaching")}
    return Settings(scenario.programme.delivery_model, values, COACHING_MODES[0], scenario.simulation.seed)


def coaching_edits(schedule: list[dict[str, Any]], mode: str) -> dict[str, list[int]]:
    """Schedule edits for a coaching mode: every coaching month in person, virtual, or none."""
    if mode not in COACHING_MODES:
        raise TwinsimError(f"coaching: unknown mode {mode!r}; allowed: {', '.join(COACHING_MODES)}")
    months = sorted({m for line in schedule if line["activity"] in _COACHING for m in line["months"]})
    if mode == COACHING_MODES[0] or not months:
        return {}
    if mode == "all in person":
        return {"coaching_in_person": months, "coaching_virtual": []}
    if mode == "all virtual":
        return {"coaching_in_person": [], "coaching_virtual": months}
    return {"coaching_in_person": [], "coaching_virtual": []}


def scenario_for(base_ref: str, settings: Settings, *, design: bool = True) -> Scenario:
    """The scenario the settings describe: the delivery model's scenario with every control applied.

    With ``design=False`` only the learning parameters are applied (the donor panel's other delivery models
    keep their own design). Changing the programme length rescales the schedule (see
    :func:`twinsim.analysis.sensitivity.edit_schedule`); the coaching mode moves the coaching months.
    """
    from twinsim.analysis.sensitivity import edit_schedule

    base = load_scenario(base_ref)
    options = delivery_options(base, base_ref)
    if settings.delivery_model not in options:
        raise TwinsimError(f"delivery model: {settings.delivery_model!r}; allowed: {', '.join(options)}")
    scenario = load_scenario(options[settings.delivery_model])
    overrides = {k: v for k, v in settings.values.items() if design or k.startswith("learning.")}
    months = scenario.simulation.months
    new_months = int(overrides.get("simulation.months", months))
    schedule = [line.model_dump() for line in scenario.programme.schedule]
    edits = coaching_edits(schedule, settings.coaching) if design else {}
    if edits or new_months != months:
        overrides["programme.schedule"] = edit_schedule(schedule, edits, months, new_months)
    if "learning.rates.exchange_visit" in overrides or "learning.rates.coaching_in_person" in overrides:
        rates = dict(scenario.learning.rates)
        for key in [k for k in overrides if k.startswith("learning.rates.")]:
            rates[key.removeprefix("learning.rates.")] = float(overrides.pop(key))
        overrides["learning.rates"] = rates
    return scenario.with_overrides(overrides, source="explorer")


# --------------------------------------------------------------------------------------------------
# The model on the page


def applicable(model: Any) -> np.ndarray:
    """Institutions x topics: True where the topic applies to the institution's kind."""
    kinds = np.array(model.kind_names, dtype=object)[np.asarray(model.kind)]
    return np.array([[k in topic.kinds for topic in model.params.topics.values()] for k in kinds], dtype=bool)


def ties_formed(model: Any) -> int:
    """Every tie the delivery model formed, to peers and to outside partners (the run summary's ``ties_formed``)."""
    return int(np.sum(model.delivery_model.ties_formed(model)))


def total_cost(model: Any) -> float:
    """The programme's cost so far (the sum of the costs allocated to institutions)."""
    return float(np.sum(model.cost_by_institution))


def snapshot(model: Any) -> dict[str, Any]:
    """One month of the page's trajectories: mean indicator of selected and not selected per topic, cost, ties.

    Keys: ``month``, ``cost``, ``ties``, and per topic ``selected:<topic>`` and ``not_selected:<topic>`` (NaN
    when the group is empty); ``selected:all`` and ``not_selected:all`` over every applicable cell.
    """
    ind, sel, app = model.indicator(), np.asarray(model.selected, dtype=bool), applicable(model)
    row: dict[str, Any] = {"month": int(model.month), "cost": total_cost(model), "ties": ties_formed(model)}
    for t, name in enumerate([*model.topic_names, "all"]):
        cols = slice(None) if name == "all" else slice(t, t + 1)
        for label, mask in (("selected", sel & app), ("not_selected", ~sel & app)):
            cells = mask[:, cols]
            row[f"{label}:{name}"] = float(ind[:, cols][cells].mean()) if cells.any() else math.nan
    return row


def build_model(scenario: Scenario, seed: int) -> Any:
    """A fresh model of ``scenario`` (a single replicate) seeded with ``seed``."""
    from twinsim.model.mesa_model import TwinningModel

    return TwinningModel(scenario, seed=seed)


def at_horizon(model: Any) -> bool:
    """True when the model has run its programme and follow-up months (Mesa's ``running`` turned False)."""
    return model.month >= model.months_total or not getattr(model, "running", True)


@dataclass
class Session:
    """The page's model and its recorded trajectories; one per browser tab.

    A change of settings rebuilds the model and replays it to the month shown (the answer to "what if" appears
    at once); :meth:`reset` rebuilds it at month 0; :meth:`step` never steps past the horizon. ``lock`` guards
    the model and its history: the play thread steps while the page draws.
    """

    base_ref: str
    settings: Settings
    model: Any = None
    scenario: Scenario | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.model is None:
            self.rebuild(self.settings, month=0)

    def rebuild(self, settings: Settings, month: int | None = None) -> None:
        """Build the model for ``settings`` and run it to ``month`` (default: the month shown now)."""
        target = self.month if month is None else month
        scenario = scenario_for(self.base_ref, settings)
        model = build_model(scenario, settings.seed)
        history = [snapshot(model)]
        while model.month < min(target, model.months_total):
            model.step()
            history.append(snapshot(model))
        with self.lock:
            self.settings, self.scenario, self.model, self.history = settings, scenario, model, history

    def reset(self) -> None:
        """Rebuild the model with the current settings at month 0."""
        self.rebuild(self.settings, month=0)

    def step(self) -> bool:
        """Advance one month; False (and nothing done) at the horizon."""
        with self.lock:
            if at_horizon(self.model):
                return False
            self.model.step()
            self.history.append(snapshot(self.model))
            return True

    @property
    def month(self) -> int:
        """The month shown."""
        return int(self.model.month) if self.model is not None else 0

    @property
    def done(self) -> bool:
        """True at the horizon (programme and follow-up)."""
        return at_horizon(self.model)

    def frame(self) -> pd.DataFrame:
        """The trajectories so far, one row per month."""
        with self.lock:
            rows = list(self.history)
        return pd.DataFrame(rows)

    def warnings(self) -> list[str]:
        """Why the run on the page cannot answer some question (:func:`twinsim.scenario.scenario_warnings`)."""
        return scenario_warnings(self.scenario) if self.scenario is not None else []


def play_months(
    step: Callable[[], bool],
    show: Callable[[], None],
    shown: threading.Event,
    stop: threading.Event,
    interval: float,
    patience: float = 30.0,
) -> int:
    """Play: advance month by month until ``stop`` is set or ``step`` reaches the horizon; return the months played.

    Each month is shown before the next is computed: ``show`` asks the page to redraw and the page sets
    ``shown`` when the month is drawn (at most ``patience`` seconds is waited). Without this wait the page's
    renders pile up behind the steps and the browser sees only the last month; with it, the month label and the
    figures advance one month at a time, and a pause (``stop``) takes effect within one ``interval``.
    """
    months = 0
    while not stop.wait(interval):
        shown.clear()
        if not step():
            break
        months += 1
        show()
        shown.wait(patience)
    return months


# --------------------------------------------------------------------------------------------------
# Figures


def network_layout(region: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Positions (institutions x 2): provinces as groups around a circle, each group a ring of its members.

    Deterministic (no random layout): the same institutions always sit in the same place, so the network can
    be watched as it forms. Within a province, the first kind (hospitals) sits on an inner ring.
    """
    region, kind = np.asarray(region), np.asarray(kind)
    pos = np.zeros((len(region), 2))
    regions = np.unique(region)
    for g, r in enumerate(regions):
        angle = 2 * np.pi * g / max(len(regions), 1) + np.pi / 4
        centre = np.array([np.cos(angle), np.sin(angle)]) if len(regions) > 1 else np.zeros(2)
        for k in np.unique(kind[region == r]):
            members = np.flatnonzero((region == r) & (kind == k))
            radius = 0.13 + 0.17 * int(k)
            phase = np.linspace(0, 2 * np.pi, len(members), endpoint=False) + 0.3 * int(k)
            pos[members] = centre + radius * np.column_stack([np.cos(phase), np.sin(phase)])
    return pos


def partner_ties(model: Any) -> Any:
    """The ties to outside partners (north-south: ``mentor[k]`` is the partner of member ``mentor[k]``), or None.

    None when the delivery model brings no outside partners.
    """
    if "partners" not in model.delivery_model.provides:
        return None
    return delivery_ties(model)


def partner_layout(pos: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Positions of the outside partners of ``members``: an outer ring, in the order of their members' angles.

    Each partner sits on the ring near its member's side of the network, evenly spaced so none overlap.
    """
    if members.size == 0:
        return np.zeros((0, 2))
    angle = np.arctan2(pos[members, 1], pos[members, 0])
    order = np.argsort(angle, kind="stable")
    spread = np.empty(members.size)
    spread[order] = angle[order[0]] + 2 * np.pi * np.arange(members.size) / members.size
    radius = np.linalg.norm(pos, axis=1).max() + 0.75
    return radius * np.column_stack([np.cos(spread), np.sin(spread)])


def _draw_provinces(ax: Any, model: Any, pos: np.ndarray) -> None:
    region = np.asarray(model.region)
    for r in np.unique(region):
        centre = pos[region == r].mean(axis=0)
        ax.add_patch(Circle(centre, 0.43, color="#4c72b0", alpha=0.08, lw=0))
        x, y = centre + np.array([0, 0.46])
        ax.text(x, y, model.region_names[r], ha="center", fontsize=9, color="#333")


def _draw_ties(ax: Any, mine: list[tuple[np.ndarray, np.ndarray]], other: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Faint lines for the ties on other topics, arrows (learner to mentor or partner) for the topic shown."""
    if other:
        ax.add_collection(LineCollection(other, colors="#999999", alpha=0.35, linewidths=0.6, zorder=1))
    for a, b in mine:
        ax.annotate(
            "",
            xy=tuple(b),
            xytext=tuple(a),
            zorder=2,
            arrowprops={"arrowstyle": "-|>", "color": "#c44e52", "lw": 1.4, "shrinkA": 5, "shrinkB": 8},
        )


def _draw_institutions(ax: Any, model: Any, pos: np.ndarray, t: int) -> Any:
    """Members coloured by capacity on topic ``t`` and sized by mentees; returns the colour-mapped points."""
    app = applicable(model)[:, t]
    capacity = np.asarray(model.capacity)[:, t]
    sizes = 40 + 70 * np.asarray(model.mentees())
    markers = ["o", "s", "^", "D", "v"]
    kind = np.asarray(model.kind)
    points = None
    for k in np.unique(kind):
        on, off, label = (kind == k) & app, (kind == k) & ~app, model.kind_names[k]
        if on.any():
            points = ax.scatter(
                pos[on, 0], pos[on, 1], c=capacity[on], cmap="viridis", vmin=0, vmax=1, s=sizes[on],
                marker=markers[k % len(markers)], edgecolors="black", linewidths=0.6, zorder=3, label=label,
            )  # fmt: skip
        if off.any():
            ax.scatter(
                pos[off, 0], pos[off, 1], s=0.5 * sizes[off], marker=markers[k % len(markers)], facecolors="#eeeeee",
                edgecolors="#aaaaaa", linewidths=0.6, zorder=3, label=f"{label} (topic n/a)",
            )  # fmt: skip
    return points


def _partner_segments(model: Any, pos: np.ndarray, topic: int) -> tuple[np.ndarray, list[Any], list[Any]]:
    """Positions of the tied outside partners, and their ties on ``topic`` and on the other topics as segments."""
    ties = partner_ties(model)
    if ties is None or len(ties) == 0:
        return np.zeros((0, 2)), [], []
    members = np.unique(ties.mentor)
    where = dict(zip(members.tolist(), partner_layout(pos, members), strict=True))
    segments = [
        (k == topic, (pos[a], where[int(p)])) for a, p, k in zip(ties.learner, ties.mentor, ties.topic, strict=True)
    ]
    mine = [seg for on_topic, seg in segments if on_topic]
    other = [seg for on_topic, seg in segments if not on_topic]
    return np.array([where[int(p)] for p in members]), mine, other


def plot_network(model: Any, topic: str, pos: np.ndarray | None = None) -> Figure:
    """The partnership network: institutions coloured by capacity on ``topic``, mentors sized by load.

    Provinces are drawn as shaded groups; arrows run from learner to mentor (bold for ``topic``, faint for the
    other topics); grey hollow markers are institutions to which the topic does not apply. Outside partners
    (north-south) are stars on an outer ring, each tied to its member. The title counts every tie the delivery
    model formed (peer ties and ties to outside partners), as the command line's ``ties_formed`` does.
    """
    if pos is None:
        pos = network_layout(model.region, model.kind)
    t = model.topic_names.index(topic)
    fig = Figure(figsize=(6.4, 5.6), layout="constrained")
    ax = fig.subplots()
    _draw_provinces(ax, model, pos)
    graph = model.network
    row = {node: i for i, node in enumerate(graph.nodes)}  # nodes are added in row order
    mine = [(pos[row[u]], pos[row[v]]) for u, v, key in graph.edges(keys=True) if key == topic]
    other = [(pos[row[u]], pos[row[v]]) for u, v, key in graph.edges(keys=True) if key != topic]
    partners, partner_mine, partner_other = _partner_segments(model, pos, t)
    _draw_ties(ax, mine + partner_mine, other + partner_other)
    points = _draw_institutions(ax, model, pos, t)
    if len(partners):
        ax.scatter(
            partners[:, 0], partners[:, 1], marker="*", s=120, color="#dd8452", edgecolors="black", linewidths=0.5,
            zorder=3, label="outside partner (north)",
        )  # fmt: skip
        top = partners[np.argmax(partners[:, 1])]
        ax.text(0, top[1] + 0.25, "outside partners (north-south)", ha="center", fontsize=8, color="#8c4a1c")
    if points is not None:
        fig.colorbar(points, ax=ax, shrink=0.7, label=f"capacity: {topic}")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, -0.12), ncol=4, fontsize=7, frameon=False)
    ax.set_aspect("equal")
    every = np.vstack([pos, partners]) if len(partners) else pos
    ax.set_xlim(every[:, 0].min() - 0.5, every[:, 0].max() + 0.5)
    ax.set_ylim(every[:, 1].min() - 0.5, every[:, 1].max() + 0.6)
    ax.axis("off")
    n_topic = len(mine) + len(partner_mine)
    ax.set_title(f"Month {model.month}: {ties_formed(model)} ties ({n_topic} on {topic}); size = mentees", fontsize=10)
    return fig


def plot_trajectories(frame: pd.DataFrame, topic: str, programme_months: int, months_total: int) -> Figure:
    """Mean indicator of selected vs not selected institutions on ``topic`` and on all topics, and the cost."""
    fig = Figure(figsize=(6.4, 5.6), layout="constrained")
    ax, ax_all, ax_cost = fig.subplots(3, 1, sharex=True, height_ratios=[2, 1.3, 1])
    for axis, name in ((ax, topic), (ax_all, "all")):
        for group, style in (("selected", "-"), ("not_selected", "--")):
            axis.plot(frame["month"], frame[f"{group}:{name}"], style, label=group.replace("_", " "), lw=1.6)
        axis.axvline(programme_months, color="grey", ls=":", lw=1)
        axis.set_ylabel("indicator" if name == topic else "all topics", fontsize=8)
        axis.tick_params(labelsize=7)
    ax.set_title(f"{topic}: selected vs not selected (dotted: end of programme)", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    ax_cost.plot(frame["month"], frame["cost"] / 1000, color="#dd8452", lw=1.6)
    ax_cost.set_ylabel("cost (thousands)", fontsize=8)
    ax_cost.set_xlabel("month", fontsize=8)
    ax_cost.tick_params(labelsize=7)
    ax_cost.set_xlim(0, months_total)
    return fig


# --------------------------------------------------------------------------------------------------
# The donor panel


def donor_scenarios(base_ref: str, settings: Settings) -> tuple[list[Scenario], list[str]]:
    """No programme, the design on the page, and the other delivery models (with the page's learning values).

    Returns the scenarios and their labels; the page's design is labelled ``this design (<model>)``.
    """
    base = load_scenario(base_ref)
    scenarios, labels = [], []
    for model in delivery_options(base, base_ref):
        if model == settings.delivery_model:
            continue
        scenarios.append(scenario_for(base_ref, replace(settings, delivery_model=model), design=False))
        labels.append(model)
    if "none" not in labels:  # a scenario family without a bundled no-programme file
        none = scenario_for(base_ref, settings, design=False).with_overrides(
            {"programme.delivery_model": "none", "programme.schedule": []}, source="explorer"
        )
        scenarios.insert(0, none)
        labels.insert(0, "none")
    else:
        k = labels.index("none")
        scenarios.insert(0, scenarios.pop(k))
        labels.insert(0, labels.pop(k))
    scenarios.insert(1, scenario_for(base_ref, settings))
    labels.insert(1, f"this design ({settings.delivery_model})")
    return scenarios, labels


def donor_comparison(
    base_ref: str, settings: Settings, replicates: int = 10, progress: Callable[[int], None] | None = None
) -> Any:
    """A quick replicated comparison of the page's design against no programme and the other delivery models.

    ``replicates`` is clamped to 2 .. :data:`MAX_DONOR_REPLICATES` (the server's limit, whatever a client sends).
    """
    from twinsim.analysis.compare import compare

    replicates = min(max(int(replicates), 2), MAX_DONOR_REPLICATES)
    scenarios, labels = donor_scenarios(base_ref, settings)
    # names: the table's model names are the figures' legend entries ("this design (...)" included)
    return compare(scenarios, replicates=replicates, seed=settings.seed, refs=labels, names=labels, progress=progress)


def donor_table(comparison: Any) -> pd.DataFrame:
    """The donor panel's table: effect, cost, cost per point, ICER and dominance per model."""
    table = comparison.table()
    money = lambda x: "-" if x != x else f"{x:,.0f}"  # noqa: E731, PLR0124
    out = pd.DataFrame(
        {
            "effect (points)": table["effect"].map(lambda x: f"{x:.2f}"),
            "cost": table["cost"].map(money),
            "cost per point": table["cost_per_point"].map(money),
            "ICER vs none": table["icer"].map(money),
            "dominance": table["dominance"],
        }
    )
    return out.reset_index(names="model")


# --------------------------------------------------------------------------------------------------
# The page (Solara components)


def _default_scenario() -> str:
    return os.environ.get(SCENARIO_ENV, "rwanda_tpn")


#: Seconds a closed or lost page's session is kept for a reconnect before it is freed (Solara's kernel cull).
SESSION_GRACE = "30s"
#: Most pages served at once (Solara's kernel limiter); a further page waits until one closes.
MAX_SESSIONS = 20
#: Solara's warning on every page load over plain http on an address other than ``localhost``: it falls back
#: to a same-site=lax session cookie, which is right for a page that is not embedded in another site's frame.
_LAX_COOKIE_WARNING = "Cookies with samesite=none require https"


def same_origin(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a request comes from the page's own origin: its ``Origin`` names the host it was sent to.

    A request without an ``Origin`` (not from a browser page) passes: the check stops other sites' pages from
    driving the explorer through a visitor's browser (cross-site websocket hijacking), as Jupyter's server does.
    """
    from urllib.parse import urlsplit

    found = {name.lower(): value.decode("latin-1") for name, value in headers}
    origin, host = found.get(b"origin"), found.get(b"host")
    if origin is None:
        return True
    return host is not None and urlsplit(origin).netloc.lower() == host.lower()


class SameOriginWebsockets:
    """ASGI middleware: refuses (HTTP 403) a websocket opened from another site's page; passes everything else."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Refuse a foreign websocket before it is accepted; hand every other request to the app."""
        if scope["type"] == "websocket" and not same_origin(scope.get("headers", [])):
            await receive()  # the websocket.connect message
            await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)


def configure_server() -> Any:
    """Solara's server settings for the explorer, and its app behind :class:`SameOriginWebsockets`.

    Production mode, no telemetry, sessions freed :data:`SESSION_GRACE` after their page is gone (Solara keeps
    them 24 h by default), at most :data:`MAX_SESSIONS` pages at once (``SOLARA_KERNEL_CULL_TIMEOUT`` and
    ``SOLARA_KERNEL_MAX_COUNT`` in the environment take precedence), and no cookie warning per page load.
    """
    import warnings

    from solara.server import settings

    settings.main.mode = "production"
    settings.telemetry.mixpanel_enable = False
    if "SOLARA_KERNEL_CULL_TIMEOUT" not in os.environ:
        settings.kernel.cull_timeout = SESSION_GRACE
    if "SOLARA_KERNEL_MAX_COUNT" not in os.environ:
        settings.kernel.max_count = MAX_SESSIONS
    warnings.filterwarnings("ignore", message=_LAX_COOKIE_WARNING, module="solara.server.starlette")
    from solara.server.starlette import app

    return SameOriginWebsockets(app)


def serve(scenario: str = "rwanda_tpn", host: str = "127.0.0.1", port: int = 8765, log_level: str = "warning") -> None:
    """Serve the page with Solara's server (uvicorn) until interrupted; ``twinsim explore`` calls this.

    The scenario is checked first (a broken one raises :class:`TwinsimError` before anything listens). Solara's
    assets are served from the ``solara-assets`` package (no CDN); see :func:`configure_server` for the rest.
    """
    require_viz()
    path = resolve_scenario_path(scenario)
    load_scenario(scenario)
    ref = scenario if str(scenario) in bundled_scenarios() else str(path.resolve())
    os.environ[SCENARIO_ENV] = ref
    os.environ["SOLARA_APP"] = "twinsim.viz.explorer:Page"
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    os.environ["SERVER_NAME"], os.environ["SERVER_PORT"] = host, str(port)
    import uvicorn

    uvicorn.run(configure_server(), host=host, port=port, log_level=log_level)


if solara is not None:

    @solara.component
    def ControlWidget(control: Control, value: Any, on_value: Callable[[Any], None], why: str | None = None) -> None:  # noqa: N802
        """One slider or selector; disabled, with the reason below it, when it changes nothing in this run."""
        disabled = why is not None
        if control.kind == "select":
            solara.Select(control.label, value=value, values=list(control.values), on_value=on_value, disabled=disabled)
        elif control.kind == "int":
            solara.SliderInt(
                f"{control.label}: {int(value)}",
                value=int(value),
                min=int(control.low),
                max=int(control.high),
                on_value=on_value,
                disabled=disabled,
            )
        else:

            def moved(new: float) -> None:
                # Vuetify snaps a value that is off the step grid (a calibrated 0.219 on a 0.016 grid) and reports
                # the snapped value at once: that is not a change by the user, and must not move the parameter.
                if abs(float(new) - float(value)) >= control.step / 2:
                    on_value(new)

            solara.SliderFloat(
                f"{control.label}: {float(value):.3g}",
                value=float(value),
                min=control.low,
                max=control.high,
                step=control.step,
                on_value=moved,
                disabled=disabled,
            )
        if why:
            style = {"font-size": "0.8em", "color": "#777", "line-height": "1.25", "margin": "-6px 0 10px 0"}
            solara.Text(why, classes=["twinsim-why"], style=style)

    @solara.component
    def DonorPanel(base_ref: str, settings: Settings) -> None:  # noqa: N802
        """Runs a quick replicated comparison on demand (in a thread) and shows its table and CE plane."""
        replicates, set_replicates = solara.use_state(10)
        run_id, set_run_id = solara.use_state(0)

        def compute() -> Any:
            return donor_comparison(base_ref, settings, replicates) if run_id else None

        result = solara.use_thread(compute, dependencies=[run_id], intrusive_cancel=False)
        busy = result.state in (solara.ResultState.STARTING, solara.ResultState.WAITING, solara.ResultState.RUNNING)
        with solara.Card("Donor panel: this design vs no programme and the other delivery models"):
            with solara.Row():
                with solara.Column(classes=["twinsim-replicates"], style={"min-width": "20em"}):
                    solara.SliderInt(
                        f"Replicates: {replicates}",
                        value=replicates,
                        min=2,
                        max=MAX_DONOR_REPLICATES,
                        on_value=lambda v: set_replicates(min(max(int(v), 2), MAX_DONOR_REPLICATES)),
                    )
                solara.Button(
                    "Compare",
                    color="primary",
                    on_click=lambda: set_run_id(run_id + 1),
                    disabled=busy,
                    classes=["twinsim-compare"],
                )
            if busy and run_id:
                solara.ProgressLinear(True)
                solara.Text(f"Running {replicates} replicates of every delivery model...")
            if result.error is not None:
                solara.Error(str(result.error))
            DonorResult(result.value if not busy else None)

    @solara.component
    def DonorResult(comparison: Any) -> None:  # noqa: N802
        """The comparison's table and its cost-effectiveness plane (drawn once per comparison)."""

        def draw() -> Figure | None:
            if comparison is None:
                return None
            import matplotlib.pyplot as plt

            fig = plot_ce_plane(comparison)
            plt.close(fig)  # kept by the page, not by pyplot
            return fig

        fig = solara.use_memo(draw, [id(comparison)])
        if comparison is None or fig is None:
            return
        with solara.Column(classes=["twinsim-donor-table"]):
            solara.DataFrame(donor_table(comparison), items_per_page=10)
        with solara.Column(classes=["twinsim-ce-plane"]):
            solara.FigureMatplotlib(fig, format="png", dependencies=[id(comparison)])

    @solara.component
    def ModelView(session: Session, version: int) -> None:  # noqa: N802
        """The status line, the scenario's warnings, the network and the trajectories (redrawn on ``version``)."""
        model = session.model
        topics = list(model.topic_names)
        topic, set_topic = solara.use_state(topics[0])
        topic = topic if topic in topics else topics[0]  # a client may send any string
        key = [version, topic, id(model)]
        with session.lock:  # the play thread steps the model: draw one month, whole
            last = session.history[-1]
            network = solara.use_memo(lambda: plot_network(model, topic), key)
            frame = pd.DataFrame(session.history)
        months = model.params.simulation.months
        trajectories = solara.use_memo(lambda: plot_trajectories(frame, topic, months, model.months_total), key)
        warnings = solara.use_memo(session.warnings, [id(model)])
        solara.Text(
            f"Month {last['month']} of {model.months_total} · {last['ties']} ties · cost so far "
            f"{last['cost']:,.0f} {model.params.costs.currency} ({model.params.costs.price_year} prices)",
            classes=["twinsim-status"],
            style={"font-weight": "bold", "font-size": "1.1em"},
        )
        for text in warnings:
            solara.Warning(text, classes=["twinsim-warning"])
        solara.Select("Topic shown", value=topic, values=topics, on_value=set_topic)
        with solara.Columns([1, 1]):
            with solara.Column(classes=["twinsim-network"]):
                solara.FigureMatplotlib(network, format="png", dependencies=key)
            with solara.Column(classes=["twinsim-trajectories"]):
                solara.FigureMatplotlib(trajectories, format="png", dependencies=key)

    @solara.component
    def Sidebar(  # noqa: N802
        session: Session,
        version: int,
        controls: list[Control],
        inert: dict[str, str | None],
        playing: Any,
        on_change: Callable[[str, Any], None],
        on_step: Callable[[], None],
        on_reset: Callable[[], None],
    ) -> None:
        """Play / step / reset, the month, the seed, and the design and learning controls (redrawn on ``version``).

        ``session`` is the same object from month to month: ``version`` is what tells the page it changed.
        """
        model = session.model
        with solara.Sidebar():
            with solara.Card("Controls"):
                with solara.Row():
                    solara.Button("Reset", color="primary", on_click=on_reset, classes=["twinsim-reset"])
                    solara.Button(
                        "Pause" if playing.value else "Play",
                        color="primary",
                        on_click=lambda: playing.set(not playing.value),
                        disabled=session.done and not playing.value,
                        classes=["twinsim-play"],
                    )
                    solara.Button(
                        "Step",
                        color="primary",
                        on_click=on_step,
                        disabled=playing.value or session.done,
                        classes=["twinsim-step"],
                    )
                solara.Text(
                    f"Month {model.month} of {model.months_total} "
                    f"(programme {model.params.simulation.months}, then follow-up)",
                    classes=["twinsim-month"],
                )
                solara.InputInt("Seed", value=session.settings.seed, on_value=lambda v: on_change("seed", v))
            for group, title in (("design", "Design"), ("learning", "Learning")):
                with solara.Card(title):
                    for control in controls:
                        if control.group == group:
                            ControlWidget(
                                control,
                                session.settings.value(control.key),
                                lambda v, key=control.key: on_change(key, v),
                                inert.get(control.key),
                            )

    @solara.component
    def Explorer(scenario: str | None = None, play_interval: float = 0.3) -> None:  # noqa: N802
        """The explorer for a scenario (a bundled name or a path); in JupyterLab: ``Explorer("rwanda_tpn")``.

        Play runs :func:`play_months` in a thread (as Mesa's SolaraViz plays in a task): one month per redraw.
        """
        ref = scenario or _default_scenario()
        base = solara.use_memo(lambda: load_scenario(ref), [ref])
        controls = solara.use_memo(lambda: controls_for(base, ref), [ref])
        session = solara.use_memo(lambda: Session(ref, default_settings(base, controls)), [ref])
        designs = solara.use_memo(lambda: {m: load_scenario(r) for m, r in delivery_options(base, ref).items()}, [ref])
        version, set_version = solara.use_state(0)
        playing = solara.use_reactive(False)
        shown = solara.use_memo(threading.Event, [])
        error, set_error = solara.use_state("")
        bump = lambda: set_version(lambda v: v + 1)  # noqa: E731
        solara.use_effect(shown.set, [version])  # this month is on the page: play may step again

        def change(key: str, value: Any) -> None:
            try:
                session.rebuild(session.settings.with_value(key, admit(controls, key, value)))
                set_error("")
            except TwinsimError as exc:
                set_error(str(exc))
            bump()

        def step() -> None:
            session.step()
            bump()

        def reset() -> None:
            playing.set(False)
            session.reset()
            bump()

        def play(cancel: threading.Event) -> None:
            if playing.value:
                play_months(session.step, bump, shown, cancel, play_interval)
                if not cancel.is_set():
                    playing.set(False)  # the horizon

        solara.use_thread(play, dependencies=[playing.value], intrusive_cancel=False)
        design = designs[session.settings.delivery_model]
        inert = solara.use_memo(lambda: {c.key: why_inert(c, design) for c in controls}, [id(design)])
        with solara.AppBar():
            solara.AppBarTitle(f"twinsim explorer: {base.name}")
        Sidebar(session, version, controls, inert, playing, change, step, reset)
        if error:
            solara.Error(error, classes=["twinsim-error"])
        ModelView(session, version)
        DonorPanel(ref, session.settings)

    @solara.component
    def Page() -> None:  # noqa: N802
        """The page served by ``twinsim explore`` (scenario from the ``TWINSIM_EXPLORE_SCENARIO`` variable)."""
        Explorer(_default_scenario())

else:  # pragma: no cover - without the viz extra

    def Explorer(scenario: str | None = None, play_interval: float = 0.3) -> None:  # noqa: D103, N802
        require_viz()

    def Page() -> None:  # noqa: D103, N802
        require_viz()
