"""TwinningSimulation: a peer-learning network stepped month by month, for one or many replicates.

:class:`~twinsim.model.TwinningModel` is the same simulation as a Mesa model (agents as views on these arrays, a
data collector, ``mesa.batch_run``); the experiment engine runs this class, which does not import Mesa.

State of record is held in NumPy arrays declared in :mod:`twinsim.kernel.state`. Rows are (replicate, institution)
blocks: a single run is one block, R replicates are R blocks of one model, and every activity, matching rule,
learning event and turnover is written once, over all rows. Each replicate draws from its own random streams
(:mod:`twinsim.kernel.streams`), so replicate ``r`` gives the same numbers whatever else runs beside it.

Every change of capacity passes through :meth:`TwinningSimulation.apply_gain`, which clips to [0, 1], records the flow
by source (peer, event, partner, expert, own improvement, forgetting, turnover) and, in the counterfactual
(``programme_learning=False``), drops the programme's sources.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from twinsim.errors import TwinsimError
from twinsim.kernel import learning
from twinsim.kernel.caches import Caches
from twinsim.kernel.layout import BlockLayout
from twinsim.kernel.recording import Recorder
from twinsim.kernel.state import SHARE, DeclaredState, Param, allocate
from twinsim.kernel.streams import STREAMS, ReplicateStreams, run_seed_sequence
from twinsim.model import dynamics
from twinsim.model.population import Structure, draw_population
from twinsim.model.replicate import Replicate
from twinsim.programme.activity import learn_along_ties
from twinsim.programme.costs import PRICE_FIELDS, LedgerPart, LedgerRow, Prices, ledger_rows
from twinsim.programme.matching import TOPIC_CHOICE_RULES, Ties, gap_to_best
from twinsim.programme.registry import ACTIVITIES, DELIVERY_MODELS, effective_rate, plugin_gain_sources
from twinsim.scenario import ActivityCost, Scenario, as_scenario

if TYPE_CHECKING:
    import networkx as nx


__all__ = [
    "BLOCK_PARAMETERS",
    "STREAMS",
    "TwinningSimulation",
    "gain_sources",
    "model_signature",
    "per_replicate_parameter",
    "programme_sources",
    "run_seed_sequence",
]

#: Where a change of capacity comes from, besides the sources the plug-ins declare (``gain_sources`` of the
#: registered activities and delivery models, e.g. ``partner``, ``expert``): the flow is recorded per source,
#: replicate and topic.
PEER_SOURCES, MODEL_SOURCES = ("peer", "event"), ("own", "forgetting", "turnover", "empowerment")


def gain_sources() -> tuple[str, ...]:
    """Every gain source: the peers', the registered plug-ins' (in registration order), then the model's own."""
    return (*PEER_SOURCES, *plugin_gain_sources(), *MODEL_SOURCES)


def programme_sources() -> frozenset[str]:
    """The sources the programme brings (switched off in the counterfactual): all but own, forgetting, turnover."""
    return frozenset(gain_sources()) - {"own", "forgetting", "turnover"}


#: Parameters that may differ between the replicates of one model (posterior draws): every transfer rate, and
#: these learning parameters, which the model reads per replicate (:meth:`TwinningSimulation.block_value`).
BLOCK_PARAMETERS = (
    "learning.peer_contact_rate",
    "learning.followup_tie_intensity",
    "learning.similarity_weight",
    "learning.gap_ceiling",
    "learning.mentor_gain",
    "learning.leadership_weight",
    "learning.interest_weight",
    "learning.mentor_load_penalty",
    "learning.motivation_rate",
    "learning.forgetting",
    "learning.background_trend",
    "learning.ownership_retention",
    "learning.practice_weight",
    "learning.empowerment_rate",
    "learning.virtual_ratio",
    "learning.programme_time_share",
    "learning.yield_reference",
    "learning.persistence_rate",
    "learning.disillusion_weight",
    "learning.leadership_turnover",
    "learning.turnover_knowledge_loss",
    "costs.staff_day",
    "costs.expert_day_rate",
    "costs.volunteer_day",
    "costs.travel_price_index",
    "costs.event_price_index",
    "programme.experts.know_how",
    "programme.experts.context_distance",
    "programme.experts.ministry_leadership_mean",
    "programme.experts.traction_threshold",
    "programme.experts.tracking_rate",
    "programme.partners.capacity_mean",
    "programme.partners.context_distance",
)


def _dotted(scenario: Scenario, key: str) -> Any:
    node: Any = scenario
    for part in key.split("."):
        # interned: a fresh string per lookup would be kept by CPython's attribute cache (memory grew per run)
        node = getattr(node, sys.intern(part))
    return node


#: Sections that hold per-replicate parameters (compared field by field by :func:`_same_model`).
_BLOCK_SECTIONS = frozenset(".".join(k.split(".")[:i]) for k in BLOCK_PARAMETERS for i in range(1, k.count(".") + 1))


def per_replicate_parameter(key: str) -> bool:
    """Whether scenario key ``key`` may differ between the replicates of one model (rates, :data:`BLOCK_PARAMETERS`)."""
    return key.startswith("learning.rates.") or key in BLOCK_PARAMETERS


def check_block_scenarios(
    scenario: Scenario, block_scenarios: Sequence[Scenario] | None, replicates: int
) -> list[Scenario] | None:
    """Each replicate's scenario, or None when all run ``scenario``.

    Refuses differences outside the parameters a model varies per replicate (:data:`BLOCK_PARAMETERS` and
    ``learning.rates``).
    """
    if block_scenarios is None or all(sc is scenario for sc in block_scenarios):
        return None
    if len(block_scenarios) != replicates:
        raise TwinsimError(
            f"block_scenarios: give one scenario per replicate ({replicates}), not {len(block_scenarios)}"
        )
    for sc in {id(sc): sc for sc in block_scenarios}.values():
        if sc is not scenario and not _same_model(sc, scenario):
            raise TwinsimError(
                "block_scenarios: replicates of one model may differ only in learning.rates and "
                + ", ".join(BLOCK_PARAMETERS)
            )
    return list(block_scenarios)


def _same_model(a: Scenario, b: Scenario) -> bool:
    """Whether ``a`` and ``b`` differ at most in per-replicate parameters (as :func:`model_signature`, faster).

    Sections a posterior draw or a design point did not touch are the same objects (:meth:`Scenario.assigned`
    copies only the path to what it sets), so most comparisons are identity checks.
    """
    return _equal_except(a, b, "")


def _equal_except(a: Any, b: Any, prefix: str) -> bool:
    """Whether two schema sections are equal but for :data:`BLOCK_PARAMETERS` and ``learning.rates``."""
    if a is b:
        return True
    for name in type(a).model_fields:
        key = f"{prefix}{name}"
        if key in BLOCK_PARAMETERS or key == "learning.rates":
            continue
        x, y = getattr(a, name), getattr(b, name)
        if x is y:
            continue
        if key in _BLOCK_SECTIONS:
            if not _equal_except(x, y, key + "."):
                return False
        elif x != y:
            return False
    return True


def model_signature(scenario: Scenario) -> str:
    """What the replicates of one model must share: the scenario without its per-replicate parameters (as JSON).

    Runs whose scenarios have equal signatures can run as one model (:data:`BLOCK_PARAMETERS` and
    ``learning.rates`` may differ between them).
    """
    data = scenario.model_dump(mode="json")
    for key in (*BLOCK_PARAMETERS, "learning.rates"):
        *path, last = key.split(".")
        node = data
        for part in path:
            node = node[part]
        node.pop(last, None)
    return json.dumps(data, sort_keys=True)


class TwinningSimulation(DeclaredState, BlockLayout):
    """A twinning network of health institutions, for one replicate or many: the state of record and the monthly step.

    :class:`~twinsim.model.TwinningModel` adds the Mesa face (agents, ``datacollector``); results are identical.

    Args:
        scenario: a validated :class:`~twinsim.scenario.Scenario`, the name of a bundled scenario or a TOML path.
        seed: the experiment seed (default ``simulation.seed``), or one replicate's ``SeedSequence``.
        replicates: replicates held as blocks of rows (replicate ``first_replicate + r`` in block ``r``).
        first_replicate: the replicate number of block 0.
        seeds: each block's seed sequence (overrides ``seed``, ``replicates`` and ``first_replicate``).
        programme_learning: False switches off every transfer of know-how by the programme (peer ties, events,
            partners, experts, and the experts' raising of leadership and interest) while ties still form,
            activities still fire and are costed, and every random draw stays the same: the counterfactual of the
            decomposition (:mod:`twinsim.analysis.decomposition`).
        aggregates: record the monthly aggregates (False when only the summary is wanted: the engine's runs).
        panel_names: with ``recording.panel_dir``, each block's panel file name (the engine names them by design
            point and replicate); default ``panel_seed<SEED>_rep<R>.parquet``.
        **overrides: dotted scenario keys and values, e.g. ``**{"programme.twins_per_topic": 2}`` (``__`` may
            stand for a dot: ``programme__twins_per_topic=2``).

    Attributes:
        capacity: rows x topics array in [0, 1] (0 where a topic does not apply); see :mod:`twinsim.kernel.state`.
        ties: the partnership ties as index arrays into the rows; :attr:`network` as a networkx graph.
        month: months stepped so far; ``running`` turns False at the horizon (programme plus follow-up).
        ledger_parts: the priced activity firings (one part per firing, columns over replicates); :attr:`ledgers`.
        flows: per source (:func:`gain_sources`), replicates x topics capacity gained so far.

    """

    def __init__(
        self,
        scenario: Scenario | str | Path = "rwanda_tpn",
        seed: int | np.random.SeedSequence | None = None,
        *,
        replicates: int = 1,
        first_replicate: int = 0,
        seeds: Sequence[np.random.SeedSequence] | None = None,
        block_scenarios: Sequence[Scenario] | None = None,
        programme_learning: bool = True,
        aggregates: bool = True,
        panel_names: Sequence[str] | None = None,
        **overrides: Any,
    ) -> None:
        scenario = _scenario(scenario, overrides)
        seeds = _seeds(scenario, seed, replicates, first_replicate, seeds)
        self.running = True
        self.params = scenario
        self.block_scenarios = check_block_scenarios(scenario, block_scenarios, len(seeds))
        self._block_values: dict[Any, Param] = {}  # block_value's, at the state's precision
        self._precise_values: dict[str, float | np.ndarray] = {}  # precise_parameter's, in double precision
        self.programme_learning = programme_learning
        self.seeds = list(seeds)
        self.streams = ReplicateStreams(seeds)
        self.replicates = len(seeds)
        self.topic_names = list(scenario.topics)
        self.kind_names = list(scenario.population.kinds)
        self.region_names = scenario.regions
        self.structure = Structure.of(scenario)
        self.lay_out(self.replicates, self.structure.n)
        self.months_total = scenario.simulation.months + scenario.simulation.followup_months
        self.month = 0
        self.caches = Caches()
        self.delivery_model = DELIVERY_MODELS[scenario.programme.delivery_model]
        self._build_state()
        self._schedule = _schedule(scenario)
        self.delivery_state: object | None = self.delivery_model.setup(
            self
        )  # the delivery model's own agents (partners, experts)
        self.recorder = Recorder(self, aggregates, panel_names)
        self.datacollector: Any = None  # a Mesa DataCollector on a TwinningModel (unless datacollector=False)

    # ---------------------------------------------------------------------------------------------
    # Set-up

    def _build_state(self) -> None:
        """Allocate the declared state, draw every replicate's population and its topic choice."""
        allocate(self, self.n, len(self.topic_names))
        s, reps = self.structure, self.replicates
        self.block = self.blocks()
        self.kind, self.region = np.tile(s.kind, reps), np.tile(s.region, reps)
        for name, values in draw_population(self.params, s, self.streams).items():
            setattr(self, name, values.astype(getattr(self, name).dtype, copy=False))
        self.baseline = self.capacity.copy()
        self.endline = self.capacity.copy()
        nan = np.full(reps, np.nan)
        self._matching = (nan, nan.copy())  # unmatched and unmatched-led shares: set when ties form (ODD 7.18)
        day = self.precise_parameter("costs.staff_day")
        day = np.maximum(day, 1e-9) if isinstance(day, np.ndarray) else max(day, 1e-9)
        self.staff_days = (
            self.per_row(self.precise_parameter("learning.programme_time_share")) * self.budget / (self.per_row(day))
        )
        self.time_factor[:] = 1.0
        self.persistence[:] = 1.0
        self.institution_names = s.names
        self.ties = Ties.empty()
        self.ledger_parts: list[LedgerPart] = []
        self.programme_sources = programme_sources()
        self.flows = {source: np.zeros((reps, len(self.topic_names))) for source in gain_sources()}
        self._choose_topics()

    def _choose_topics(self) -> None:
        """Senior management's choice of topics at the gap assessment (also made when no programme runs)."""
        prog = self.params.programme
        seen = self.capacity
        if self.params.evaluation.choice_on_measured_baseline:  # the month-0 routine data, errors and all
            lo, hi = self._indicator_range()
            seen = np.where(self.applicable, self.capacity + self.measurement_error([0])[0] / (hi - lo), 0.0)
        self.selected = TOPIC_CHOICE_RULES[prog.topic_choice](
            seen,
            self.interest,
            self.applicable,
            self.kind_group(),
            prog.topics_per_institution,
            prog.choice_interest_weight,
            prog.choice_noise,
            _StackedDraws(self.streams, "choice", (self.n_institutions, len(self.topic_names))),
        )

    def form_ties(self) -> None:
        """Form the delivery model's partnership ties in every replicate (called by the kickoff workshop)."""
        self.ties = self.delivery_model.form_ties(self).by_replicate(self.n_institutions)
        self.tie_similarity = self.similarity_between(self.ties.learner, self.ties.mentor)
        self.tie_flow = np.zeros(len(self.ties))
        self.tie_events = np.zeros(len(self.ties), dtype=np.int64)
        self._matching = self._matching_outcome()

    def _matching_outcome(self) -> tuple[np.ndarray, np.ndarray]:
        """Per replicate, the share of chosen topics left without a twin, and of those for which a peer led.

        NaN for delivery models that form no peer ties (ODD 7.18).
        """
        if not self.delivery_model.forms_peer_ties:
            return np.full(self.replicates, np.nan), np.full(self.replicates, np.nan)
        requests = self.selected & self.applicable
        has = np.zeros_like(requests)
        has[self.ties.learner, self.ties.topic] = True
        unmatched = requests & ~has
        gap = gap_to_best(self.capacity, self.applicable, self.kind_group())
        led = unmatched & (gap > 0) & (gap >= self.params.programme.min_gap)
        asked = self.per_replicate_sum(requests.sum(axis=1))
        with np.errstate(divide="ignore", invalid="ignore"):
            return (
                self.per_replicate_sum(unmatched.sum(axis=1)) / asked,
                self.per_replicate_sum(led.sum(axis=1)) / asked,
            )

    def mechanism_outcomes(self) -> dict[str, np.ndarray]:
        """Per replicate: ``unmatched_share`` and ``unmatched_led_share`` of chosen topics (7.18), ``partner_gain``.

        ``partner_gain`` is the outside partners' mean indicator gain on their partnership topics so far (7.19;
        NaN without outside partners), ``dropped_share`` the share of members who dropped out (7.20).
        """
        nan = np.full(self.replicates, np.nan)
        unmatched, led = self._matching
        partner_gain = nan
        state = self.delivery_state
        if isinstance(state, _OutsidePartners) and len(state.ties):
            ties = state.ties
            change = self.indicator(state.capacity) - self.indicator(state.baseline)
            block = ties.learner // max(self.n_institutions, 1)
            total = np.bincount(block, change[ties.mentor, ties.topic], self.replicates)
            with np.errstate(divide="ignore", invalid="ignore"):
                partner_gain = total / np.bincount(block, minlength=self.replicates)
        dropped = self.per_replicate_sum(self.dropped.astype(float)) / max(self.n_institutions, 1)
        return {
            "unmatched_share": unmatched,
            "unmatched_led_share": led,
            "partner_gain": partner_gain,
            "dropped_share": dropped,
            "priorities_with_traction": nan,
            **self.delivery_model.outcomes(self),
        }

    def matching_rng(self, row: int) -> np.random.Generator:
        """The matching stream of the replicate that ``row`` belongs to."""
        return self.streams[int(row) // self.n_institutions]["matching"]

    # ---------------------------------------------------------------------------------------------
    # Derived state

    def kind_group(self) -> np.ndarray:
        """Per row, its kind within its replicate (``block * kinds + kind``): who may twin with whom."""
        return self.block * len(self.kind_names) + self.kind

    def similarity_between(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Peer similarity of rows ``a[k]`` and ``b[k]`` (resources and region)."""
        weight = self.at_rows(self.learning_value("similarity_weight"), np.asarray(a))
        log_budget = np.log(self.budget)
        return learning.similarity(
            log_budget[a], log_budget[b], self.region[a], self.region[b], weight, self.params.learning.region_distance
        )

    def mentees(self) -> np.ndarray:
        """Number of mentees each row has (cached for the tie set)."""
        return self.per_tie_set("mentees", lambda: np.bincount(self.ties.mentor, minlength=self.n))

    def engagement(self) -> np.ndarray:
        """Engagement per row this month (see :func:`twinsim.kernel.learning.engagement`).

        With ``mechanisms.resources`` (ODD 7.20) it is also scaled by the month's time factor and by persistence,
        and is 0 for members who dropped out.
        """
        base = learning.engagement(
            self.leadership,
            self.resource_factor,
            self.mentees(),
            self.per_row(self.learning_value("leadership_weight")),
            self.per_row(self.learning_value("mentor_load_penalty")),
        ).astype(self.leadership.dtype, copy=False)
        if not self.params.mechanisms.resources:
            return base
        disillusion = self.per_row(self.learning_value("disillusion_weight"))
        return base * self.time_factor * (1.0 - disillusion * (1.0 - self.persistence)) * ~self.dropped

    def mentor_availability(self) -> np.ndarray:
        """Per row, the share of its mentees' demand its staff time covers this month (1 without 7.20)."""
        if not self.params.mechanisms.resources:
            return np.ones(self.n)
        return self.time_factor

    @property
    def mentor_gain(self) -> Param:
        """Two-way benefit (ODD 7.19): a mentor's gain per unit of its learner's (0 without ``mechanisms.two_way``).

        A number, or one per replicate (:meth:`block_value`).
        """
        return self.learning_value("mentor_gain") if self.params.mechanisms.two_way else SHARE(0.0)

    def worked_cells(self) -> np.ndarray:
        """Rows x topics the programme works on (its delivery model's :meth:`worked_topics`), cached."""
        return self.per_tie_set("worked_cells", lambda: self.delivery_model.worked_topics(self))

    def tie_cells(self) -> np.ndarray:
        """Rows x topics on which a row has a partnership tie (as learner or mentor, peers or partners), cached."""
        return self.per_tie_set("tie_cells", lambda: self.delivery_model.tie_cells(self))

    def per_tie_set(self, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, cached under ``name`` for as long as the tie set is the same object (ties form at kickoff)."""
        cache = self.caches.table("per_tie_set")
        hit = cache.get(name)
        if hit is None or hit[0] is not self.ties:
            hit = cache[name] = (self.ties, compute())
        return hit[1]

    def practice(self) -> np.ndarray:
        """Practice per row and topic (ODD 7.16): worked-on or tied cells in the programme; tied cells after it.

        None in the counterfactual (``programme_learning=False``): practice is a programme effect.

        After the programme, practice on a tie is ``learning.followup_tie_intensity`` (the contact that goes on).
        """
        if not self.programme_learning:  # practice is the programme's: none in the counterfactual
            return np.zeros(self.capacity.shape, dtype=self.capacity.dtype)
        if self.in_programme:
            return (self.worked_cells() | self.tie_cells()).astype(self.capacity.dtype)
        followup = self.column(self.learning_value("followup_tie_intensity"))
        return self.tie_cells().astype(self.capacity.dtype) * followup

    def effort(self) -> np.ndarray:
        """Effort per row and topic: engagement gated by interest."""
        return learning.effort(self.engagement(), self.interest, self.column(self.learning_value("interest_weight")))

    def indicator(self, capacity: np.ndarray | None = None) -> np.ndarray:
        """Indicator values (e.g. % accredited) for a capacity array (default: the current one)."""
        lo, hi = self._indicator_range()
        return lo + (hi - lo) * (self.capacity if capacity is None else capacity)

    def _indicator_range(self) -> tuple[np.ndarray, np.ndarray]:
        topics = self.params.topics.values()
        return self.caches.get(
            "indicator_bounds",
            None,
            lambda: (np.array([t.indicator_min for t in topics]), np.array([t.indicator_max for t in topics])),
        )

    def measurement_error(self, months: list[int]) -> np.ndarray:
        """Errors of the measured indicators at ``months``: months x rows x topics, in indicator points.

        Normal with SD ``evaluation.measurement_sd``; the error of institution ``i``'s topic at month ``m`` is
        number ``m * n + i`` of the topic's measurement quantity, so the evaluator's baseline survey at month 0
        and the institutions' own month-0 data (their topic choice) carry the same error. Drawn only where a topic
        applies (0 elsewhere).
        """
        n, names = self.n_institutions, self.topic_names
        out = np.empty((len(months), self.n, len(names)))
        where = self.structure.applicable.T  # topics x institutions
        for k, month in enumerate(months):
            z = self.streams.normal("measurement", names, (n,), offset=month * n, where=where)  # reps x topics x n
            out[k] = z.transpose(0, 2, 1).reshape(self.n, len(names))
        return self.params.evaluation.measurement_sd * out

    def unit_cost(self, activity: str) -> ActivityCost:
        """The unit costs of ``activity``: the scenario's ``costs.activities``, else the activity's defaults."""
        return self.params.costs.activities.get(activity, ACTIVITIES[activity].default_cost)

    def rate(self, activity: str) -> Param:
        """The transfer rate of ``activity``: the scenario's ``learning.rates``, else the activity's default.

        With ``mechanisms.delivery_modes`` (ODD 7.21) a virtual activity with an in-person counterpart transfers
        ``learning.virtual_ratio`` times its counterpart's rate (the scenario's own rate for it is not used).
        Per replicate (an array) when the replicates run different parameter sets (:meth:`block_value`).
        """
        return self.block_value(("rate", activity), lambda sc: effective_rate(sc, activity))

    def learning_value(self, name: str) -> Param:
        """``learning.<name>``: a number, or one per replicate when the replicates' parameter sets differ."""
        return self.block_value(name, lambda sc: getattr(sc.learning, name))

    def parameter(self, key: str) -> Param:
        """Per-replicate parameter ``key`` (dotted) at the state's precision (see :meth:`block_value`)."""
        return self.block_value(key, lambda sc: _dotted(sc, key))

    def precise_parameter(self, key: str) -> float | np.ndarray:
        """Per-replicate parameter ``key`` (dotted) in double precision, for arithmetic with float64 arrays.

        A Python float when every replicate has the same value (as the scenario gives it), else one float64 per
        replicate; element by element the same numbers either way.
        """
        cached = self._precise_values.get(key)
        if cached is None:
            scenarios = self.block_scenarios or [self.params]
            values = np.array([float(_dotted(sc, key)) for sc in scenarios])
            cached = float(values[0]) if (values == values[0]).all() else values
            self._precise_values[key] = cached
        return cached

    def prices(self) -> Prices:
        """The unit prices of the costing, per replicate where the replicates' parameter sets differ."""
        costs = self.params.costs
        return Prices(
            **{name: self.precise_parameter(f"costs.{name}") for name in PRICE_FIELDS},
            value_staff_time=costs.value_staff_time,
            value_volunteer_time=costs.value_volunteer_time,
        )

    def block_value(self, key: Any, read: Callable[[Scenario], float]) -> Param:
        """A parameter read from each replicate's scenario: a number when they agree, else an array (replicates,).

        Replicates that drew different parameter sets from a posterior run as one model; only the parameters in
        :data:`BLOCK_PARAMETERS` may differ, and every use broadcasts them with :meth:`at_rows` or :meth:`column`.
        Both are of the state's precision (:data:`~twinsim.kernel.state.SHARE`), so a replicate computes the same
        numbers whether it runs alone or beside replicates that drew other values.
        """
        value = self._block_values.get(key)
        if value is None:
            if self.block_scenarios is None:
                value = SHARE(read(self.params))
            else:
                values = np.array([read(sc) for sc in self.block_scenarios], dtype=SHARE)
                value = values[0] if (values == values[0]).all() else values
            self._block_values[key] = value
        return value

    def per_row(self, value: Param) -> Param:
        """A parameter (float, or per replicate) at every row.

        Rows of the per-replicate parameters themselves (the arrays :meth:`block_value` keeps) are cached.
        """
        return self._rows_of(value) if isinstance(value, np.ndarray) and value.ndim else value

    def _rows_of(self, value: np.ndarray) -> np.ndarray:
        """A per-replicate array at every row (cached for the arrays :meth:`block_value` keeps)."""
        cache: dict[int, tuple[np.ndarray, np.ndarray]] = self.caches.table("rows_of")
        hit = cache.get(id(value))
        if hit is None or hit[0] is not value:
            hit = (value, value[self.block])
            kept = (*self._block_values.values(), *self._precise_values.values())
            if any(value is k for k in kept):
                cache[id(value)] = hit
        return hit[1]

    def column(self, value: Param) -> Param:
        """A parameter (float, or per replicate) as a column over all rows, to broadcast against rows x topics."""
        return self._rows_of(value)[:, None] if isinstance(value, np.ndarray) and value.ndim else value

    @property
    def in_programme(self) -> bool:
        """True while the programme runs (months 1 .. simulation.months)."""
        return self.month <= self.params.simulation.months

    @property
    def history(self) -> np.ndarray | None:
        """(months + 1) x rows x topics capacity with the in-memory panel (``recording.mode = "panel"``), else None."""
        return self.recorder.history

    @property
    def ledger(self) -> list[LedgerRow]:
        """The priced activity firings of a single-replicate model (see :attr:`ledgers` for many)."""
        return self._single("ledger", ledger_rows(self.ledger_parts, 0))

    @property
    def ledgers(self) -> list[list[LedgerRow]]:
        """Each replicate's priced activity firings (rows built from :attr:`ledger_parts`, the state of record)."""
        return [ledger_rows(self.ledger_parts, block) for block in range(self.replicates)]

    def total_cost(self) -> np.ndarray:
        """Per replicate, the total cost of every firing so far."""
        total = np.zeros(self.replicates)
        for part in self.ledger_parts:
            total = total + part.total_cost()
        return total

    @property
    def network(self) -> nx.MultiDiGraph:
        """The partnership network of a single-replicate model (see :meth:`replicate` for many).

        Node ids are the rows (0-based, the ``institution`` ids of every table); edges run learner -> mentor,
        keyed by topic, with similarity, activity counts and knowledge flow.
        """
        return self._single("network", self.replicate(0).network)

    def _single(self, what: str, value: Any) -> Any:
        if self.replicates != 1:
            raise TwinsimError(f"{what}: this model holds {self.replicates} replicates; use model.replicate(r)")
        return value

    def replicate(self, block: int) -> Replicate:
        """Replicate ``block``'s state, ties, ledger and recording as a :class:`~twinsim.model.replicate.Replicate`."""
        return Replicate(self, block)

    # ---------------------------------------------------------------------------------------------
    # The one gain path

    def apply_gain(self, source: str, gain: np.ndarray, cells: np.ndarray | None = None) -> None:
        """Add ``gain`` to capacity, clip to [0, 1] and record the flow by source, replicate and topic.

        Args:
            source: one of :func:`gain_sources` (a plug-in declares its own in ``gain_sources``); the programme's
                sources are dropped when ``programme_learning`` is off (the counterfactual).
            gain: rows x topics, or one value per cell of ``cells``.
            cells: flat (row * topics + topic) indices of distinct cells, or None for a dense gain.

        """
        if source not in self.flows:
            raise TwinsimError(
                f"apply_gain: source {source!r} is not declared; sources: {', '.join(self.flows)} (a plug-in declares"
                " its own in gain_sources)"
            )
        programme = source in self.programme_sources
        if programme and not self.programme_learning:
            return
        n_topics = len(self.topic_names)
        if cells is None:
            new = np.add(self.capacity, gain, dtype=self.capacity.dtype)
            np.clip(new, 0.0, 1.0, out=new)
            delta = new - self.capacity
            if programme:  # einsum: the same sums as .sum(axis=...), a quarter of the time for short rows
                self.month_gain += np.einsum("ij->i", delta)
            self.flows[source] += np.einsum("rnt->rt", delta.reshape(self.replicates, self.n_institutions, n_topics))
            self.capacity = new
            return
        flat = self.capacity.ravel()
        old = flat[cells]
        new = learning.clip01(np.add(old, gain, dtype=old.dtype))
        flat[cells] = new
        change = (new - old).astype(float)
        rows, where = self._cell_indices(cells)
        if programme:
            self.month_gain += np.bincount(rows, change, self.n)
        self.flows[source] += np.bincount(where, change, self.replicates * n_topics).reshape(self.replicates, -1)

    def _cell_indices(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Of flat cell indices: their rows, and their (replicate, topic) index.

        The ties' cells are one array for the whole run (fixed after the kickoff): the last two ``cells`` arrays are
        kept, so a month's other sparse gains (turnover) do not push the ties' out.
        """
        cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = self.caches.table("cell_index")
        hit = cache.pop(id(cells), None)
        if hit is None or hit[0] is not cells:
            n_topics = len(self.topic_names)
            where = (cells // (self.n_institutions * n_topics)) * n_topics + cells % n_topics
            hit = (cells, cells // n_topics, where)
            while len(cache) >= 2:
                cache.pop(next(iter(cache)))
        cache[id(cells)] = hit  # most recent last
        return hit[1], hit[2]

    def raise_towards_one(self, name: str, step: Param, where: np.ndarray | bool = True) -> None:
        """Raise state ``name`` (leadership, interest) by ``step`` of its headroom to 1 where ``where`` holds.

        A programme effect: nothing changes in the counterfactual.
        """
        if not self.programme_learning:
            return
        values = getattr(self, name)
        setattr(self, name, np.where(where, values + step * (1.0 - values), values).astype(values.dtype, copy=False))

    # ---------------------------------------------------------------------------------------------
    # Dynamics

    def step(self) -> None:
        """Advance one month: scheduled activities, peer contact, own improvement, forgetting, turnover.

        Raises:
            TwinsimError: the model is already at its horizon (programme plus follow-up).

        """
        if self.month >= self.months_total:
            raise TwinsimError(
                f"the model is at its horizon (month {self.months_total}: {self.params.simulation.months} programme "
                f"months + {self.params.simulation.followup_months} follow-up); build a new model to run again"
            )
        self.month += 1
        self.month_gain[:] = 0.0
        active = self.in_programme and self.delivery_model.runs_activities
        fired = self._schedule.get(self.month, []) if active else []
        if self.params.mechanisms.resources:
            dynamics.staff_time(self, fired)
        for name in fired:
            dynamics.fire(self, name)
        followup = self.learning_value("followup_tie_intensity")
        contact = self.learning_value("peer_contact_rate") * (1.0 if self.in_programme else followup)
        learn_along_ties(self, contact)
        self.delivery_model.monthly(self, contact)
        if active and self.params.mechanisms.empowerment:
            dynamics.empowerment(self)
        dynamics.own_improvement_and_forgetting(self)
        dynamics.turnover(self)
        if fired and self.params.mechanisms.resources:
            dynamics.persist(self)
        self.recorder.record(self)
        if self.month == self.params.simulation.months:
            self.endline = self.capacity.copy()
        self.running = self.month < self.months_total
        if self.datacollector is not None:
            self.datacollector.collect(self)

    def run(self) -> None:
        """Run every remaining month of the programme and its follow-up, then finish the recording."""
        while self.month < self.months_total:
            self.step()
        self.finish()

    def finish(self) -> None:
        """Close streamed panels."""
        self.recorder.close()


@runtime_checkable
class _OutsidePartners(Protocol):
    """Plug-in state of outside partners (:class:`~twinsim.programme.partners.PartnerSet`): their ties and know-how."""

    ties: Ties
    capacity: np.ndarray
    baseline: np.ndarray


class _StackedDraws:
    """A generator-like object whose draws of shape ``(rows, ...)`` hold every replicate's block of stream ``name``."""

    def __init__(self, streams: ReplicateStreams, name: str, shape: tuple[int, ...]) -> None:
        self.streams, self.name, self.shape = streams, name, shape

    def _stacked(self, draws: np.ndarray) -> np.ndarray:
        return draws.reshape(len(self.streams) * self.shape[0], *self.shape[1:])

    def gumbel(self, size: tuple[int, ...] | None = None) -> np.ndarray:
        """Standard Gumbel draws."""
        return self._stacked(self.streams.gumbel(self.name, "gumbel", self.shape))

    def random(self, size: tuple[int, ...] | None = None) -> np.ndarray:
        """Uniform draws on (0, 1)."""
        return self._stacked(self.streams.uniform(self.name, "uniform", self.shape))


def _scenario(scenario: Scenario | str | Path, overrides: dict[str, Any]) -> Scenario:
    dotted = {key.replace("__", "."): value for key, value in overrides.items()}
    scenario = as_scenario(scenario)
    return scenario.with_overrides(dotted, source="TwinningSimulation(...)") if dotted else scenario


def _seeds(
    scenario: Scenario,
    seed: int | np.random.SeedSequence | None,
    replicates: int,
    first: int,
    seeds: Sequence[np.random.SeedSequence] | None,
) -> list[np.random.SeedSequence]:
    if seeds is not None:
        if not seeds:
            raise TwinsimError("seeds: give at least one seed sequence")
        return list(seeds)
    if isinstance(seed, np.random.SeedSequence):
        if replicates != 1:
            raise TwinsimError("seed: a SeedSequence seeds one replicate; pass seeds=[...] for several")
        return [seed]
    if replicates < 1:
        raise TwinsimError(f"replicates: must be at least 1 (got {replicates})")
    base = scenario.simulation.seed if seed is None else int(seed)
    return [run_seed_sequence(base, first + r) for r in range(replicates)]


def _schedule(scenario: Scenario) -> dict[int, list[str]]:
    schedule: dict[int, list[str]] = {}
    for line in scenario.programme.schedule:
        for m in line.firing_months(scenario.simulation.months):
            schedule.setdefault(m, []).append(line.activity)
    return schedule
