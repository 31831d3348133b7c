"""Agents: Mesa views on the model's state arrays (institutions, and the delivery models' own agents).

State of record lives in :class:`~twinsim.model.TwinningModel` arrays (institutions x topics); an
:class:`Institution` reads and writes its own row, an :class:`OutsidePartner` its row of the partner arrays, an
:class:`ExternalExpert` and a :class:`MinistryLeader` their replicate's team state, so the monthly step can stay
vectorised while users still inspect and nudge individual institutions the Mesa way.

Mesa 3.3 numbers agents from ``mesa.Agent._ids``, a class-level dict keyed by model that holds every
model ever given an agent alive (about 0.13 MB per Rwanda run, 0.22 MB per north-south run, without end in a
sweep). Every agent class here counts in one :class:`_IdCounters` (:data:`_MODEL_IDS`), keyed by a weak
reference to the model, so a finished model is freed whichever agents were created, and when (also after
``finish``, as ``simulate(...).model.model.agents`` creates them), and ids stay unique within a model.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any

import mesa
import numpy as np

from twinsim.errors import TwinsimError

__all__ = ["ExternalExpert", "Institution", "MinistryLeader", "OutsidePartner", "mesa_model"]

#: The agents are views on a :class:`twinsim.model.TwinningModel` (typed ``Any``: the model sits above the kernel).


def mesa_model(model: object, what: str) -> Any:
    """``model`` as the Mesa model its agents need: ``what`` are Mesa agents only of a TwinningModel."""
    if not isinstance(model, mesa.Model):
        raise TwinsimError(f"{what}: Mesa agents exist only on a TwinningModel (this is a {type(model).__name__})")
    return model  # the only mesa.Model twinsim builds is a TwinningModel


class _IdCounters(weakref.WeakKeyDictionary):
    """Mesa's per-model ``unique_id`` counters (1, 2, ...), without keeping the models alive."""

    def __getitem__(self, model: mesa.Model) -> itertools.count:
        counter = self.get(model)
        if counter is None:
            counter = self[model] = itertools.count(1)
        return counter


#: The per-model id counters of every agent class of this module (one numbering per model, held weakly).
_MODEL_IDS = _IdCounters()


class Institution(mesa.Agent):
    """A hospital, district health team or other member of the network.

    Args:
        model: the model whose arrays hold this institution's state.
        row: the institution's row in every state array.

    """

    model: Any
    _ids = _MODEL_IDS

    def __init__(self, model: Any, row: int) -> None:
        super().__init__(model)
        self.row = row

    @property
    def name(self) -> str:
        """Readable name, e.g. ``"Hospital East 2"``."""
        return self.model.institution_names[self.row % self.model.n_institutions]

    @property
    def kind(self) -> str:
        """Kind of institution (``hospital``, ``district`` ...)."""
        return self.model.kind_names[self.model.kind[self.row]]

    @property
    def region(self) -> str:
        """Region (province) of the institution."""
        return self.model.region_names[self.model.region[self.row]]

    @property
    def capacity(self) -> np.ndarray:
        """Capacity per topic in [0, 1] (a writable view; 0 where the topic does not apply; set clips to [0, 1])."""
        return self.model.capacity[self.row]

    @capacity.setter
    def capacity(self, value: np.ndarray) -> None:
        self.model.capacity[self.row] = np.clip(value, 0.0, 1.0) * self.model.applicable[self.row]

    @property
    def leadership_commitment(self) -> float:
        """Senior leadership's commitment in [0, 1]."""
        return float(self.model.leadership[self.row])

    @leadership_commitment.setter
    def leadership_commitment(self, value: float) -> None:
        self.model.leadership[self.row] = min(max(float(value), 0.0), 1.0)

    @property
    def budget(self) -> float:
        """Monthly operating budget (currency of the scenario)."""
        return float(self.model.budget[self.row])

    @property
    def interest(self) -> dict[str, float]:
        """Senior management's interest per applicable topic."""
        return self._by_topic(self.model.interest[self.row])

    @property
    def engagement(self) -> float:
        """Share of the programme's intended time the institution gives this month."""
        return float(self.model.engagement()[self.row])

    @property
    def selected_topics(self) -> list[str]:
        """Topics chosen at the kickoff workshop."""
        return [t for t, s in zip(self.model.topic_names, self.model.selected[self.row], strict=True) if s]

    @property
    def twins(self) -> list[tuple[str, Institution]]:
        """(topic, twin) pairs this institution learns from."""
        ties = self.model.ties
        rows = np.flatnonzero(ties.learner == self.row)
        return [(self.model.topic_names[ties.topic[k]], self.model.institutions[ties.mentor[k]]) for k in rows]

    def indicator(self, topic: str) -> float:
        """The indicator value (e.g. accreditation score in %) of one topic."""
        t = self.model.topic_names.index(topic)
        return float(self.model.indicator()[self.row, t])

    def _by_topic(self, values: np.ndarray) -> dict[str, float]:
        applicable = self.model.applicable[self.row]
        return {t: float(v) for t, v, a in zip(self.model.topic_names, values, applicable, strict=True) if a}

    def __repr__(self) -> str:
        return f"Institution({self.name!r}, kind={self.kind!r}, region={self.region!r})"


class ExternalExpert(mesa.Agent):
    """A consultant of one replicate's team: know-how on the priority topics, low context similarity, a day rate.

    The team's contracted days are pooled; an expert's ``days_left`` is its share of the team's.

    Args:
        model: the model it works in.
        block: the replicate whose team it belongs to.

    """

    _ids = _MODEL_IDS  # not mesa.Agent._ids: that would keep the model alive

    def __init__(self, model: Any, block: int) -> None:
        super().__init__(model)
        self.block = block

    @property
    def team(self) -> Any:
        """The team it belongs to."""
        return self.model.delivery_state

    @property
    def days_contracted(self) -> float:
        """Its share of the days contracted for the programme."""
        spec = self.model.params.programme.experts
        return spec.days_available * self.model.params.programme.volume / spec.team_size

    @property
    def days_left(self) -> float:
        """Its share of the team's contracted days not yet worked."""
        return float(self.team.days_left[self.block]) / self.team.size

    @property
    def day_rate(self) -> float:
        """Fee of one day (``costs.expert_day_rate``)."""
        return self.model.params.costs.expert_day_rate

    def __repr__(self) -> str:
        return f"ExternalExpert(replicate {self.block}, days_left={self.days_left:g})"


class MinistryLeader(mesa.Agent):
    """A senior leader of one replicate's Ministry of Health, coached by the experts (ODD 7.22).

    The first ``programme.experts.priority_topics`` leaders each sponsor one sector priority (in topic order); a
    priority gains traction only while its sponsor's commitment is at least ``traction_threshold``.

    Args:
        model: the model it works in.
        block: its replicate.
        index: its place among the replicate's senior leaders.

    """

    _ids = _MODEL_IDS  # not mesa.Agent._ids: that would keep the model alive

    def __init__(self, model: Any, block: int, index: int) -> None:
        super().__init__(model)
        self.block, self.index = block, index

    @property
    def commitment(self) -> float:
        """Its commitment to the sector priorities, in [0, 1]."""
        return float(self.model.delivery_state.senior_leaders[self.block, self.index])

    def __repr__(self) -> str:
        return f"MinistryLeader(replicate {self.block}, #{self.index}, commitment={self.commitment:.2f})"


class OutsidePartner(mesa.Agent):
    """An institution from outside the network (e.g. a UK hospital) twinned with one member. Not evaluated.

    Args:
        model: the model it belongs to.
        row: its row in the partner arrays (the row of the member it partners with).

    """

    _ids = _MODEL_IDS  # not mesa.Agent._ids: that would keep the model alive

    def __init__(self, model: Any, row: int) -> None:
        super().__init__(model)
        self.row = row
        self.member = row

    @property
    def capacity(self) -> np.ndarray:
        """Capacity per topic (the partner's know-how)."""
        return self.model.delivery_state.capacity[self.row]

    def __repr__(self) -> str:
        return f"OutsidePartner(of {self.model.institution_names[self.member]!r})"
