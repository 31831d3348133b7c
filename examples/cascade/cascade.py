"""A mentoring cascade: the best institutions are trained as mentors; trained mentees mentor the next wave.

A delivery model written outside twinsim, as a user writes one (docs/extending.md; notebook 07 builds it step by
step). At the kickoff workshop the best ``trainer_share`` of the institutions on each topic (in each replicate)
are trained; every institution that chose a topic it is not trained on is matched to the most capable trained
peer of its kind that leads it by ``programme.min_gap`` and has room (``programme.mentor_load_cap``). Every
``wave_every`` months the mentees matched so far count as trained, and the learners still without a twin are
matched again, now also to them: the pool of mentors grows, and the topics left unmatched shrink, as the
programme goes on. Ties, once formed, stay. The scenario's own activities (exchange visits, coaching, learning
events) run along the ties, as in the network.

Register it in Python with ``twinsim.programme.registry.register(Cascade)``, or on the command line with
``twinsim --plugin examples/cascade/cascade.py COMMAND ...`` (cascade.toml beside it names the model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twinsim.core.parameters import Section, param
from twinsim.programme.delivery import DeliveryModel, plugin_state
from twinsim.programme.matching import Ties


class CascadeSettings(Section):
    """The cascade's own parameters, set in a scenario as ``programme.settings.cascade``."""

    trainer_share: float = param(
        0.25,
        gt=0,
        le=1,
        plausible=(0.1, 0.5),
        description="Share of each kind's institutions, the best on a topic, trained as its first mentors.",
    )
    wave_every: int = param(
        6, ge=1, le=60, unit="months", description="Months between waves of matching (the kickoff is the first)."
    )


@dataclass
class CascadeState:
    """Per row (institution of a replicate) and topic: trained, so it may mentor."""

    trained: np.ndarray


class Cascade(DeliveryModel):
    """Trainers mentor the first wave; mentees who reach the trainers' level mentor the next."""

    name = "cascade"
    description = "Mentoring cascade: trained mentees mentor the next wave."
    forms_peer_ties = True
    Settings = CascadeSettings

    def setup(self, model):
        """The first trainers: per replicate and topic, the top ``trainer_share`` of baseline capacity."""
        share = self.settings(model).trainer_share
        capacity = np.where(model.applicable, model.capacity, np.nan)
        per_replicate = capacity.reshape(model.replicates, model.n_institutions, -1)
        level = np.nanquantile(per_replicate, 1 - share, axis=1)[model.block]  # rows x topics
        return CascadeState(model.applicable & (model.capacity >= level))

    def form_ties(self, model):
        """Keep the ties so far; match every learner still without a twin to the best trained peer with room."""
        trained = plugin_state(model, CascadeState).trained
        kept = model.ties
        has_twin = np.zeros_like(trained)
        has_twin[kept.learner, kept.topic] = True
        wants = model.selected & model.applicable & ~trained & ~has_twin
        group, prog = model.kind_group(), model.params.programme
        load = np.bincount(kept.mentor, minlength=model.n)
        ties = list(zip(kept.learner, kept.mentor, kept.topic, strict=True))
        for row, topic in zip(*np.nonzero(wants), strict=True):
            start = (row // model.n_institutions) * model.n_institutions
            peers = np.arange(start, start + model.n_institutions)
            leads = model.capacity[peers, topic] >= model.capacity[row, topic] + prog.min_gap
            ok = trained[peers, topic] & leads & (group[peers] == group[row]) & (load[peers] < prog.mentor_load_cap)
            if ok.any():
                mentor = peers[ok][np.argmax(model.capacity[peers[ok], topic])]
                load[mentor] += 1
                ties.append((row, mentor, topic))
        if not ties:
            return Ties.empty()
        learner, mentor, topic = (np.array(column, dtype=np.int64) for column in zip(*ties, strict=True))
        return Ties(learner, mentor, topic)

    def monthly(self, model, contact_rate):
        """At each new wave (every ``wave_every`` months of the programme): mentees so far are trained; match again."""
        every = self.settings(model).wave_every
        if model.in_programme and model.month > 1 and (model.month - 1) % every == 0:
            plugin_state(model, CascadeState).trained[model.ties.learner, model.ties.topic] = True
            model.form_ties()


PLUGINS = [Cascade]
