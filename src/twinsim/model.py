"""TwinningModel: a Mesa model of a peer-learning network, stepped month by month.

State of record is held in NumPy arrays (institutions x topics); :class:`~twinsim.agents.Institution`
agents are views on their rows. The monthly step is a handful of array operations, never a Python loop
over institutions.

Randomness: one ``SeedSequence`` per run, split into independent named streams (population, choice,
matching, dynamics, measurement), so that two delivery models run with the same seed share the same
population and the same turnover draws (common random numbers).
"""

from __future__ import annotations

import mesa
import networkx as nx
import numpy as np

from twinsim import learning
from twinsim.agents import Institution
from twinsim.costs import LedgerRow, price_firing
from twinsim.matching import TOPIC_CHOICE_RULES, Ties
from twinsim.programs import ACTIVITIES, DELIVERY_MODELS, learn_along_ties
from twinsim.scenario import Scenario

__all__ = ["STREAMS", "TwinningModel", "run_seed_sequence"]

STREAMS = ("population", "choice", "matching", "dynamics", "measurement")


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
            stays the same: the counterfactual of the decomposition (:mod:`twinsim.decomposition`).

    Attributes:
        capacity: institutions x topics array in [0, 1] (0 where a topic does not apply).
        selected: institutions x topics, True for topics chosen at the kickoff workshop.
        ties: the partnership network as index arrays; :attr:`network` as a networkx graph.
        history: (months + 1) x institutions x topics capacity, month 0 being the baseline.
        ledger: priced activity firings; :attr:`cost_by_institution` their allocation.

    """

    def __init__(
        self, scenario: Scenario, seed: np.random.SeedSequence | int | None = None, *, programme_learning: bool = True
    ) -> None:
        if seed is None:
            seed = scenario.simulation.seed
        seq = seed if isinstance(seed, np.random.SeedSequence) else run_seed_sequence(int(seed))
        super().__init__(rng=np.random.default_rng(seq))
        self.params = scenario
        self.programme_learning = programme_learning
        self.seed_sequence = seq
        self.streams = {
            name: np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, k)))
            for k, name in enumerate(STREAMS)
        }
        self.topic_names = list(scenario.topics)
        self.kind_names = list(scenario.population.kinds)
        self.region_names = scenario.regions
        self.delivery_model = DELIVERY_MODELS[scenario.programme.delivery_model]
        self.months_total = scenario.simulation.months + scenario.simulation.followup_months
        self._build_population()
        self._choose_topics()
        self.ties = Ties.empty()
        self.tie_similarity = np.zeros(0)
        self.tie_flow = np.zeros(0)
        self.tie_events = np.zeros(0, dtype=np.int64)
        self.ledger: list[LedgerRow] = []
        self.cost_by_institution = np.zeros(self.n)
        self.history = np.empty((self.months_total + 1, self.n, len(self.topic_names)))
        self.history[0] = self.capacity
        self.month = 0
        self._schedule = self._build_schedule()

    # ---------------------------------------------------------------------------------------------
    # Set-up

    def _build_population(self) -> None:
        """Draw every institution's resources, leadership, capacity and interest from the population stream."""
        rng = self.streams["population"]
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
        median = np.array([specs[k].budget_median for k in self.kind])
        sigma = np.array([specs[k].budget_sigma for k in self.kind])
        self.budget = median * np.exp(sigma * rng.standard_normal(self.n))
        self.resource_factor = np.minimum(self.budget / median, 1.0) ** self.params.learning.resource_elasticity
        self.leadership = self._draw_leadership(rng, np.ones(self.n, dtype=bool))
        n_topics = len(self.topic_names)
        self.applicable = np.zeros((self.n, n_topics), dtype=bool)
        self.capacity = np.zeros((self.n, n_topics))
        self.interest = np.zeros((self.n, n_topics))
        for t, topic in enumerate(self.params.topics.values()):
            rows = np.isin(self.kind, [self.kind_names.index(k) for k in topic.kinds])
            self.applicable[:, t] = rows
            self.capacity[:, t] = _beta(rng, topic.baseline_mean, topic.baseline_concentration, self.n) * rows
            self.interest[:, t] = _beta(rng, topic.interest_mean, topic.interest_concentration, self.n) * rows
        self.baseline = self.capacity.copy()
        self.institutions = [
            Institution(
                self,
                i,
                f"{specs[self.kind[i]].label or self.kind_names[self.kind[i]]} "
                f"{self.region_names[self.region[i]]} {i + 1}",
            )
            for i in range(self.n)
        ]

    def _draw_leadership(self, rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
        specs = list(self.params.population.kinds.values())
        mean = np.array([specs[k].leadership_mean for k in self.kind])
        conc = np.array([specs[k].leadership_concentration for k in self.kind])
        return np.where(rows, rng.beta(mean * conc, (1 - mean) * conc), 0.0)

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
        """Engagement per institution this month (see :func:`twinsim.learning.engagement`)."""
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
        lo = np.array([t.indicator_min for t in self.params.topics.values()])
        hi = np.array([t.indicator_max for t in self.params.topics.values()])
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
        cap = learning.apply_own_improvement(
            self.capacity, self.interest, self.leadership, lp.background_trend, lp.motivation_rate
        )
        cap = learning.apply_forgetting(cap, self.baseline, lp.forgetting)
        self.capacity = np.clip(cap, 0.0, 1.0) * self.applicable
        self._turnover()
        self.history[self.month] = self.capacity

    def _fire(self, name: str) -> None:
        activity = ACTIVITIES[name]
        rate = self.params.learning.rates.get(name, 0.0)
        firing = activity.apply(self, rate)
        row, allocation = price_firing(self.month, name, firing, self.params.costs)
        self.ledger.append(row)
        self.cost_by_institution += allocation

    def _turnover(self) -> None:
        """Leadership turnover from the dynamics stream (drawn every month for everyone: common random numbers)."""
        rng = self.streams["dynamics"]
        lp = self.params.learning
        turned_over = rng.random(self.n) < lp.leadership_turnover
        fresh = self._draw_leadership(rng, np.ones(self.n, dtype=bool))
        self.capacity, self.leadership = learning.apply_turnover(
            self.capacity, self.baseline, self.leadership, turned_over, fresh, lp.turnover_knowledge_loss
        )

    def run(self) -> None:
        """Run every month of the programme and its follow-up."""
        while self.month < self.months_total:
            self.step()


def _beta(rng: np.random.Generator, mean: float, concentration: float, size: int) -> np.ndarray:
    return rng.beta(mean * concentration, (1.0 - mean) * concentration, size=size)
