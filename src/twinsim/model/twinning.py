"""TwinningModel: a Mesa model of a peer-learning network, stepped month by month.

State of record is held in NumPy arrays (institutions x topics); :class:`~twinsim.model.agents.Institution`
agents are views on their rows. The monthly step is a handful of array operations, never a Python loop
over institutions.

Randomness: one ``SeedSequence`` per run, split into independent named streams (population, choice,
matching, dynamics, measurement), so that two delivery models run with the same seed share the same
population and the same turnover draws (common random numbers).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import mesa
import networkx as nx
import numpy as np

from twinsim.model import learning
from twinsim.model.agents import Institution
from twinsim.model.recording import AggregateRecorder, PanelWriter, panel_file_name
from twinsim.programme.activities import ACTIVITIES, DELIVERY_MODELS, learn_along_ties
from twinsim.programme.costs import LedgerRow, price_firing
from twinsim.programme.matching import TOPIC_CHOICE_RULES, Ties
from twinsim.scenario import Scenario

__all__ = ["STREAMS", "TwinningModel", "run_seed_sequence"]

STREAMS = ("population", "choice", "matching", "dynamics", "measurement", "leadership")


def run_seed_sequence(seed: int, replicate: int = 0) -> np.random.SeedSequence:
    """The seed sequence of replicate ``replicate`` of an experiment seeded with ``seed``."""
    return np.random.SeedSequence(seed, spawn_key=(replicate,))


class TwinningModel(mesa.Model):
    """A twinning network of health institutions.

    Args:
        scenario: the validated scenario.
        seed: a ``SeedSequence`` (preferred), or an int experiment seed (replicate 0). Defaults to
            ``scenario.simulation.seed``.
        programme_learning: False switches off every transfer of know-how by the programme (activities and
            peer contact) while ties still form, activities still fire and are costed, and every random draw
            stays the same: the counterfactual of the decomposition (:mod:`twinsim.analysis.decomposition`).
        like: a model of the same scenario whose fixed population structure (kinds, regions, names, which topics
            apply) this one reuses instead of building it again; every random draw is this model's own (a faster
            set-up for many replicates, see :mod:`twinsim.model.batch`).

    Attributes:
        capacity: institutions x topics array in [0, 1] (0 where a topic does not apply).
        selected: institutions x topics, True for topics chosen at the kickoff workshop.
        ties: the partnership network as index arrays; :attr:`network` as a networkx graph.
        history: (months + 1) x institutions x topics capacity, month 0 being the baseline; None unless
            ``recording.mode`` is ``panel`` without a ``panel_dir`` (see :mod:`twinsim.model.recording`).
        aggregates: monthly mean capacity per kind, region, topic and choice (every recording mode).
        endline: capacity at the end of the programme (month ``simulation.months``).
        ledger: priced activity firings; :attr:`cost_by_institution` their allocation.

    """

    def __init__(
        self,
        scenario: Scenario,
        seed: np.random.SeedSequence | int | None = None,
        *,
        programme_learning: bool = True,
        like: TwinningModel | None = None,
    ) -> None:
        if seed is None:
            seed = scenario.simulation.seed
        seq = seed if isinstance(seed, np.random.SeedSequence) else run_seed_sequence(int(seed))
        super().__init__(rng=np.random.default_rng(seq))
        self.params = scenario
        self.programme_learning = programme_learning
        self.seed_sequence = seq
        self.streams = _Streams(seq)
        self.topic_names = list(scenario.topics)
        self.kind_names = list(scenario.population.kinds)
        self.region_names = scenario.regions
        self.delivery_model = DELIVERY_MODELS[scenario.programme.delivery_model]
        self.months_total = scenario.simulation.months + scenario.simulation.followup_months
        self._build_population(like)
        self._choose_topics()
        self.ties = Ties.empty()
        self.tie_similarity = np.zeros(0)
        self.tie_flow = np.zeros(0)
        self.tie_events = np.zeros(0, dtype=np.int64)
        self.ledger: list[LedgerRow] = []
        self.cost_by_institution = np.zeros(self.n)
        self.month = 0
        self.endline = self.capacity.copy()
        self._schedule = self._build_schedule()
        self.delivery_state = self.delivery_model.setup(self)  # the delivery model's own agents (partners, experts)
        self._start_recording()

    # ---------------------------------------------------------------------------------------------
    # Set-up

    _STRUCTURE = ("kind", "region", "n", "_budget_median", "_budget_sigma", "_leadership_mean", "_leadership_conc")

    def _build_population(self, like: TwinningModel | None = None) -> None:
        """Draw every institution's resources, leadership, capacity and interest (population child streams)."""
        if like is None:
            self._build_structure()
        else:
            for attr in self._STRUCTURE:
                setattr(self, attr, getattr(like, attr))
            self.applicable = like.applicable.copy()
            self.institution_names = list(like.institution_names)
        # One child stream per quantity (and per topic): changing one distribution's parameters, or adding a
        # topic, leaves every other draw as it was (common random numbers in sweeps and sensitivity analyses).
        draw = lambda what: self.streams.child("population", what)  # noqa: E731
        median, sigma = self._budget_median, self._budget_sigma
        self.budget = median * np.exp(sigma * draw("budget").standard_normal(self.n))
        self.resource_factor = np.minimum(self.budget / median, 1.0) ** self.params.learning.resource_elasticity
        self.leadership = self._draw_leadership(draw("leadership"))
        n_topics = len(self.topic_names)
        self.capacity = np.zeros((self.n, n_topics))
        self.interest = np.zeros((self.n, n_topics))
        for t, (name, topic) in enumerate(self.params.topics.items()):
            rows = self.applicable[:, t]
            capacity = _beta(draw(f"baseline:{name}"), topic.baseline_mean, topic.baseline_concentration, self.n)
            interest = _beta(draw(f"interest:{name}"), topic.interest_mean, topic.interest_concentration, self.n)
            self.capacity[:, t] = capacity * rows
            self.interest[:, t] = interest * rows
        self.baseline = self.capacity.copy()
        self._institutions: list[Institution] | None = None

    def _build_structure(self) -> None:
        """The population's fixed structure: kinds, regions, per-kind parameters, applicable topics, names."""
        pop = self.params.population
        kind, region = [], []
        for k, spec in enumerate(pop.kinds.values()):
            for r_name, count in spec.counts.items():
                kind += [k] * count
                region += [self.region_names.index(r_name)] * count
        self.kind = np.asarray(kind, dtype=np.int64)
        self.region = np.asarray(region, dtype=np.int64)
        self.n = len(self.kind)
        specs = list(pop.kinds.values())
        per_kind = lambda attr: np.array([getattr(s, attr) for s in specs])[self.kind]  # noqa: E731
        self._budget_median, self._budget_sigma = per_kind("budget_median"), per_kind("budget_sigma")
        self._leadership_mean = per_kind("leadership_mean")
        self._leadership_conc = per_kind("leadership_concentration")
        kind_has_topic = np.array(
            [[k in topic.kinds for topic in self.params.topics.values()] for k in self.kind_names]
        )
        self.applicable = kind_has_topic[self.kind].reshape(self.n, len(self.topic_names))
        labels = np.array([s.label or name for name, s in zip(self.kind_names, specs, strict=True)], dtype=object)
        self.institution_names = list(
            labels[self.kind]
            + " "
            + np.array(self.region_names, dtype=object)[self.region]
            + " "
            + np.arange(1, self.n + 1).astype(str).astype(object)
        )

    def _draw_leadership(self, rng: np.random.Generator) -> np.ndarray:
        """A fresh leadership commitment for every institution (beta by kind)."""
        a, b, size = self.leadership_beta()
        return rng.beta(a, b, size=size)

    def leadership_beta(self) -> tuple[np.ndarray | float, np.ndarray | float, int | None]:
        """The beta parameters ``(a, b, size)`` of a fresh leadership draw: scalars when every kind shares them."""
        mean, conc = self._leadership_mean, self._leadership_conc
        if self.n and (mean == mean[0]).all() and (conc == conc[0]).all():  # same draws, scalar parameters: faster
            return mean[0] * conc[0], (1 - mean[0]) * conc[0], self.n
        return mean * conc, (1 - mean) * conc, None

    def _start_recording(self) -> None:
        """Set up what the run records each month (scenario section ``[recording]``)."""
        rec = self.params.recording
        self.aggregates = AggregateRecorder(self)
        self.aggregates.record(0, self.capacity)
        self.history: np.ndarray | None = None
        self.panel_writer: PanelWriter | None = None
        if rec.mode == "panel" and rec.panel_dir:
            seed, replicate = self.seed_sequence.entropy, (self.seed_sequence.spawn_key or (0,))[0]
            path = Path(rec.panel_dir) / panel_file_name(seed, replicate)
            self.panel_writer = PanelWriter(self, path, seed, replicate)
            self.panel_writer.record(0, self.capacity)
        elif rec.mode == "panel":
            self.history = np.empty((self.months_total + 1, self.n, len(self.topic_names)))
            self.history[0] = self.capacity

    def _record(self) -> None:
        self.aggregates.record(self.month, self.capacity)
        if self.history is not None:
            self.history[self.month] = self.capacity
        if self.panel_writer is not None:
            self.panel_writer.record(self.month, self.capacity)
        if self.month == self.params.simulation.months:
            self.endline = self.capacity.copy()

    def _choose_topics(self) -> None:
        """Senior management's choice of topics at the gap assessment (also made when no programme runs)."""
        prog = self.params.programme
        rule = TOPIC_CHOICE_RULES[prog.topic_choice]
        self.selected = rule(
            self.capacity,
            self.interest,
            self.applicable,
            self.kind,
            prog.topics_per_institution,
            prog.choice_interest_weight,
            prog.choice_noise,
            self.streams["choice"],
        )

    def _build_schedule(self) -> dict[int, list[str]]:
        schedule: dict[int, list[str]] = {}
        for line in self.params.programme.schedule:
            for m in line.months:
                schedule.setdefault(m, []).append(line.activity)
        return schedule

    def form_ties(self) -> None:
        """Form the delivery model's partnership ties (called by the kickoff workshop)."""
        self.ties = self.delivery_model.form_ties(self)
        self.tie_similarity = self.similarity_between(self.ties.learner, self.ties.mentor)
        self.tie_flow = np.zeros(len(self.ties))
        self.tie_events = np.zeros(len(self.ties), dtype=np.int64)

    # ---------------------------------------------------------------------------------------------
    # Agents: created on first use (they are views on array rows; a large run never needs them)

    @property
    def institutions(self) -> list[Institution]:
        """The institutions as Mesa agents, in row order (created, and registered, on first access)."""
        if self._institutions is None:
            self._institutions = [Institution(self, i) for i in range(self.n)]
        return self._institutions

    @property
    def agents(self) -> mesa.agent.AgentSet:
        """Mesa's set of all agents (the institutions, created on first access)."""
        _ = self.institutions
        return super().agents

    @property
    def agents_by_type(self) -> dict[type[mesa.Agent], mesa.agent.AgentSet]:
        """Mesa's agent sets by type (the institutions, created on first access)."""
        _ = self.institutions
        return super().agents_by_type

    @property
    def agent_types(self) -> list[type]:
        """Mesa's agent types (the institutions, created on first access)."""
        _ = self.institutions
        return super().agent_types

    # ---------------------------------------------------------------------------------------------
    # Derived state

    def similarity_between(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Peer similarity of institutions ``a[k]`` and ``b[k]`` (resources and region)."""
        lp = self.params.learning
        log_budget = np.log(self.budget)
        return learning.similarity(
            log_budget[a], log_budget[b], self.region[a], self.region[b], lp.similarity_weight, lp.region_distance
        )

    def mentees(self) -> np.ndarray:
        """Number of mentees each institution has."""
        return np.bincount(self.ties.mentor, minlength=self.n)

    def engagement(self) -> np.ndarray:
        """Engagement per institution this month (see :func:`twinsim.model.learning.engagement`)."""
        lp = self.params.learning
        return learning.engagement(
            self.leadership, self.resource_factor, self.mentees(), lp.leadership_weight, lp.mentor_load_penalty
        )

    def effort(self) -> np.ndarray:
        """Effort per institution and topic: engagement gated by interest."""
        return learning.effort(self.engagement(), self.interest, self.params.learning.interest_weight)

    def indicator(self, capacity: np.ndarray | None = None) -> np.ndarray:
        """Indicator values (e.g. % accredited) for a capacity array (default: the current one)."""
        cap = self.capacity if capacity is None else capacity
        bounds = self.__dict__.get("_indicator_bounds")
        if bounds is None:
            topics = self.params.topics.values()
            bounds = self._indicator_bounds = (
                np.array([t.indicator_min for t in topics]),
                np.array([t.indicator_max for t in topics]),
            )
        lo, hi = bounds
        return lo + (hi - lo) * cap

    @property
    def in_programme(self) -> bool:
        """True while the programme runs (months 1 .. simulation.months)."""
        return self.month <= self.params.simulation.months

    @property
    def network(self) -> nx.MultiDiGraph:
        """The partnership network: learner -> mentor edges keyed by topic, with activity counts and flow."""
        graph = nx.MultiDiGraph()
        for inst in self.institutions:
            graph.add_node(inst.unique_id, name=inst.name, kind=inst.kind, region=inst.region)
        ids = [inst.unique_id for inst in self.institutions]
        for k in range(len(self.ties)):
            graph.add_edge(
                ids[self.ties.learner[k]],
                ids[self.ties.mentor[k]],
                key=self.topic_names[self.ties.topic[k]],
                topic=self.topic_names[self.ties.topic[k]],
                similarity=float(self.tie_similarity[k]),
                activities=int(self.tie_events[k]),
                knowledge_flow=float(self.tie_flow[k]),
            )
        return graph

    # ---------------------------------------------------------------------------------------------
    # Dynamics

    def step(self) -> None:
        """Advance one month: scheduled activities, peer contact, own improvement, forgetting, turnover."""
        self.month += 1
        lp = self.params.learning
        if self.in_programme and self.delivery_model.runs_activities:
            for name in self._schedule.get(self.month, []):
                self._fire(name)
        contact = lp.peer_contact_rate * (1.0 if self.in_programme else lp.followup_tie_intensity)
        learn_along_ties(self, contact)
        self.delivery_model.monthly(self, contact)
        cap = learning.apply_own_improvement(
            self.capacity, self.interest, self.leadership, lp.background_trend, lp.motivation_rate
        )
        cap = learning.apply_forgetting(cap, self.baseline, lp.forgetting)
        self.capacity = learning.clip01(cap) * self.applicable
        self._turnover()
        self._record()

    def _fire(self, name: str) -> None:
        activity = ACTIVITIES[name]
        volume = 1.0 if activity.fixed else self.params.programme.volume
        rate = self.params.learning.rates.get(name, 0.0) * volume
        firing = activity.apply(self, rate)
        row, allocation = price_firing(self.month, name, firing, self.params.costs, volume)
        self.ledger.append(row)
        self.cost_by_institution += allocation

    def _turnover(self) -> None:
        """Leadership turnover, drawn every month for everyone (common random numbers).

        Who turns over comes from the dynamics stream, the newcomers' commitment from the leadership stream.
        """
        lp = self.params.learning
        turned_over = self.streams["dynamics"].random(self.n) < lp.leadership_turnover
        fresh = self._draw_leadership(self.streams["leadership"])
        self.capacity, self.leadership = learning.apply_turnover(
            self.capacity, self.baseline, self.leadership, turned_over, fresh, lp.turnover_knowledge_loss
        )

    def run(self) -> None:
        """Run every month of the programme and its follow-up, then finish the recording."""
        while self.month < self.months_total:
            self.step()
        self.finish()

    def finish(self) -> None:
        """Close a streamed panel and release Mesa's per-model id counter (see :mod:`twinsim.model.agents`)."""
        if self.panel_writer is not None:
            self.panel_writer.close()
        mesa.Agent._ids.pop(self, None)


class _Streams(dict):
    """The run's named random streams (:data:`STREAMS`), each created on first use from the run's seed sequence."""

    def __init__(self, seq: np.random.SeedSequence) -> None:
        super().__init__()
        self._seq = seq

    def __missing__(self, name: str) -> np.random.Generator:
        if name not in STREAMS:
            raise KeyError(name)
        seq, k = self._seq, STREAMS.index(name)
        rng = self[name] = np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, k)))
        return rng

    def child(self, name: str, what: str) -> np.random.Generator:
        """A child stream of stream ``name`` for one quantity ``what``, keyed by its name (not by draw order)."""
        seq, k = self._seq, STREAMS.index(name)
        key = (*seq.spawn_key, k, zlib.crc32(what.encode()))
        return np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=key))


def _beta(rng: np.random.Generator, mean: float, concentration: float, size: int) -> np.ndarray:
    return rng.beta(mean * concentration, (1.0 - mean) * concentration, size=size)
