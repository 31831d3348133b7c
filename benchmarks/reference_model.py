"""A reference: twinsim's monthly learning rule written the straightforward way a Mesa user would write it.

Each :class:`RefInstitution` keeps its capacity in a dict by topic and its twins in a list; its ``step``
loops over its twins and topics in Python. Updates are synchronous, as in twinsim (every agent first
computes its gains from last month's state, then all apply them: Mesa's ``agents.do`` twice), and a
``DataCollector`` gathers the mean capacity each month.

The reference starts from a twinsim model after the kickoff workshop (same population, same ties), so
that the two can be compared step for step; only leadership turnover draws from its own random stream
(Python's ``random``, the Mesa default), so trajectories agree exactly when turnover is off
(tests/test_reference_model.py).
"""

from __future__ import annotations

import math
import statistics

import mesa

from twinsim.model import TwinningModel


class RefInstitution(mesa.Agent):
    """One institution: dicts by topic, a list of twins, Python loops."""

    def __init__(self, model: ReferenceModel, row: int, source: TwinningModel) -> None:
        super().__init__(model)
        self.row = row
        self.kind = int(source.kind[row])
        self.region = int(source.region[row])
        topics = [t for t in range(len(source.topic_names)) if source.applicable[row, t]]
        self.capacity = {t: float(source.capacity[row, t]) for t in topics}
        self.baseline = {t: float(source.baseline[row, t]) for t in topics}
        self.interest = {t: float(source.interest[row, t]) for t in topics}
        self.selected = {t for t in topics if source.selected[row, t]}
        self.leadership = float(source.leadership[row])
        self.resource_factor = float(source.resource_factor[row])
        self.mentees = 0
        self.twins: list[tuple[int, RefInstitution, float]] = []  # (topic, mentor, similarity)
        self.pending: dict[int, float] = {}

    def engagement(self) -> float:
        lp = self.model.lp
        gate = 1 - lp.leadership_weight + lp.leadership_weight * self.leadership
        value = self.resource_factor * gate * (1 - lp.mentor_load_penalty * self.mentees)
        return min(max(value, 0.0), 1.0)

    def effort(self, topic: int) -> float:
        w = self.model.lp.interest_weight
        return self.engagement() * (1 - w + w * self.interest[topic])

    def learn_from_twins(self, rate: float) -> None:
        """Plan this month's gains from each twin (and the twin's share, two-way learning)."""
        lp = self.model.lp
        for topic, mentor, similarity in self.twins:
            gap = max(mentor.capacity[topic] - self.capacity[topic], 0.0)
            absorbable = gap * math.exp(-0.5 * (gap / lp.gap_ceiling) ** 2)
            gain = -math.expm1(-rate * self.effort(topic) * similarity) * absorbable
            self.pending[topic] = self.pending.get(topic, 0.0) + gain
            mentor.pending[topic] = mentor.pending.get(topic, 0.0) + lp.mentor_gain * gain

    def learn_from_best(self, rate: float, sources: dict[tuple[int, int], float]) -> None:
        """Plan gains on chosen topics from the event's best performers of this kind."""
        lp = self.model.lp
        for topic in self.selected:
            source = sources.get((self.kind, topic))
            if source is None:
                continue
            gap = max(source - self.capacity[topic], 0.0)
            absorbable = gap * math.exp(-0.5 * (gap / lp.gap_ceiling) ** 2)
            gain = -math.expm1(-rate * self.effort(topic)) * absorbable
            self.pending[topic] = self.pending.get(topic, 0.0) + gain

    def apply(self) -> None:
        """Apply the planned gains (clipped to [0, 1])."""
        for topic, gain in self.pending.items():
            self.capacity[topic] = min(max(self.capacity[topic] + gain, 0.0), 1.0)
        self.pending = {}

    def improve_and_forget(self) -> None:
        """Own improvement, forgetting and leadership turnover."""
        lp = self.model.lp
        for topic, before in self.capacity.items():
            rate = lp.background_trend + lp.motivation_rate * self.interest[topic] * self.leadership
            c = before + rate * (1 - before)
            c = c - lp.forgetting * max(c - self.baseline[topic], 0.0)
            self.capacity[topic] = min(max(c, 0.0), 1.0)
        if self.random.random() < lp.leadership_turnover:
            spec = self.model.kind_specs[self.kind]
            m, k = spec.leadership_mean, spec.leadership_concentration
            self.leadership = self.random.betavariate(m * k, (1 - m) * k)
            for topic, c in self.capacity.items():
                self.capacity[topic] = c - lp.turnover_knowledge_loss * max(c - self.baseline[topic], 0.0)


class ReferenceModel(mesa.Model):
    """The reference model, started from ``source`` (a twinsim model after its kickoff month)."""

    def __init__(self, source: TwinningModel, seed: int = 0) -> None:
        super().__init__(seed=seed)
        self.lp = source.params.learning
        self.sim = source.params.simulation
        self.kind_specs = list(source.params.population.kinds.values())
        self.month = source.month
        self.months_total = source.months_total
        self.schedule_by_month = source._schedule
        self.members = [RefInstitution(self, i, source) for i in range(source.n)]
        for k in range(len(source.ties)):
            learner = self.members[source.ties.learner[k]]
            mentor = self.members[source.ties.mentor[k]]
            learner.twins.append((int(source.ties.topic[k]), mentor, float(source.tie_similarity[k])))
            mentor.mentees += 1
        self.datacollector = mesa.DataCollector(model_reporters={"mean_capacity": ReferenceModel.mean_capacity})

    def mean_capacity(self) -> float:
        return statistics.fmean(c for a in self.members for c in a.capacity.values())

    def event_sources(self, by_region: bool) -> dict:
        """90th percentile of capacity per (group, kind, topic) among the members present."""
        groups: dict[tuple, list[float]] = {}
        for a in self.members:
            for topic, c in a.capacity.items():
                groups.setdefault((a.region if by_region else 0, a.kind, topic), []).append(c)
        return {key: statistics.quantiles(v, n=10, method="inclusive")[8] for key, v in groups.items() if len(v) >= 2}

    def step(self) -> None:
        self.month += 1
        in_programme = self.month <= self.sim.months
        for name in self.schedule_by_month.get(self.month, []) if in_programme else []:
            rate = self.lp.rates.get(name, 0.0)
            if name in ("exchange_visit", "coaching_in_person", "coaching_virtual") and rate:
                self.agents.do("learn_from_twins", rate)
                self.agents.do("apply")
            elif name in ("learning_workshop_virtual", "provincial_learning_event") and rate:
                by_region = name == "provincial_learning_event"
                sources = self.event_sources(by_region)
                for a in self.members:
                    group = a.region if by_region else 0
                    mine = {(a.kind, t): sources[group, a.kind, t] for t in a.selected if (group, a.kind, t) in sources}
                    a.learn_from_best(rate, mine)
                self.agents.do("apply")
        contact = self.lp.peer_contact_rate * (1.0 if in_programme else self.lp.followup_tie_intensity)
        self.agents.do("learn_from_twins", contact)
        self.agents.do("apply")
        self.agents.do("improve_and_forget")
        self.datacollector.collect(self)

    def run(self) -> None:
        while self.month < self.months_total:
            self.step()
