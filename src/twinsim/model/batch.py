"""Batched replicates: R replicates of one scenario stepped as one vectorised model.

A monthly step of the Rwanda scenario costs about 150 microseconds of fixed NumPy overhead whatever the number of
institutions (40). :class:`BatchModel` stacks R replicates as R blocks of rows of one model, so that overhead is paid
once per month for all R. Block ``r`` is replicate ``r``'s own :class:`~twinsim.model.TwinningModel` (built as
usual, from its own seed sequence: population, topic choice and every random stream), and every operation keeps
block ``r`` bit-identical to that replicate run on its own:

- element-wise learning (own improvement, forgetting, clipping, peer contact) is the same arithmetic on more rows;
- sums over ties and groups (``bincount``) add each cell's terms in the same order, since ties and cells are laid out
  block after block in each replicate's own order;
- the kickoff matching runs each replicate's own matching rule on its own block (with its own matching stream),
  network-wide learning events group by block, provincial ones by (block, region);
- the monthly turnover draws come from each replicate's own dynamics stream, in the same order as a single run;
- each firing is priced per block, into each replicate's own ledger and per-institution costs.

After the last month each replicate's model receives its block of the final state, so the
:class:`RunResult` of :func:`simulate_batch` is the one :func:`~twinsim.model.results.simulate` gives
(tests/test_batch.py checks summaries, ledgers, ties, aggregates and panels for equality).

Batching covers the ``tpn_network``, ``pair_twinning`` and ``none`` delivery models with the in-memory ``panel`` or
``aggregate`` recording (:func:`batchable`); others raise :class:`~twinsim.errors.TwinsimError` (run them one by
one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mesa
import numpy as np

from twinsim.errors import TwinsimError
from twinsim.model import TwinningModel, run_seed_sequence
from twinsim.model.learning import apply_turnover
from twinsim.model.results import RunResult
from twinsim.programme.activities import (
    ACTIVITIES,
    exchange_visit,
    learn_along_ties,
    learn_from_best,
    learn_from_source,
)
from twinsim.programme.costs import price_firings
from twinsim.programme.matching import Ties
from twinsim.scenario import Scenario

__all__ = [
    "BATCH_DELIVERY_MODELS",
    "MAX_BATCH_ROWS",
    "BatchModel",
    "batch_size",
    "batchable",
    "simulate_batch",
    "simulate_many",
]

BATCH_DELIVERY_MODELS = ("tpn_network", "pair_twinning", "none")

#: Institutions (replicates x institutions) above which batching stops paying and only adds memory: a network this
#: large already spreads each step's fixed cost over many rows.
MAX_BATCH_ROWS = 20_000


def batch_size(scenario: Scenario, wanted: int) -> int:
    """How many replicates of ``scenario`` to batch at a time when ``wanted`` are asked for.

    1 (no batching) if the scenario cannot be batched (:func:`batchable`); otherwise ``wanted``, but at most
    :data:`MAX_BATCH_ROWS` institutions in a batch.
    """
    if wanted <= 1 or batchable(scenario) is not None:
        return 1
    return max(1, min(wanted, MAX_BATCH_ROWS // max(scenario.n_institutions, 1)))


def batchable(scenario: Scenario) -> str | None:
    """Why ``scenario`` cannot be run batched, or None if it can."""
    prog, rec = scenario.programme, scenario.recording
    if prog.delivery_model not in BATCH_DELIVERY_MODELS:
        return f"programme.delivery_model = {prog.delivery_model!r} (batched: {', '.join(BATCH_DELIVERY_MODELS)})"
    if rec.mode == "panel" and rec.panel_dir:
        return "recording.panel_dir is set (batched runs keep the panel in memory or record aggregates)"
    unknown = sorted({line.activity for line in prog.schedule} - set(BLOCK_ACTIVITIES))
    if unknown:
        return f"programme.schedule has activities without a batched form: {', '.join(unknown)}"
    return None


@dataclass(frozen=True)
class BlockFiring:
    """One firing of an activity in every replicate: events per replicate, replicates x institutions taking part."""

    events: np.ndarray
    involved: np.ndarray
    travelled: np.ndarray


class BatchModel(TwinningModel):
    """R replicates of one scenario as blocks of rows of one model (see the module docstring).

    Args:
        replicas: the replicates' freshly built models (same scenario, each with its own seed sequence).

    Attributes:
        replicas: the replicates' models; :meth:`finish` gives each its block of the final state.
        block: the block (replicate index in ``replicas``) of every row.
        rows: institutions per replicate.

    """

    def __init__(self, replicas: Sequence[TwinningModel]) -> None:
        first = replicas[0]
        mesa.Model.__init__(self, rng=np.random.default_rng(first.seed_sequence))
        self.replicas = list(replicas)
        self.params, self.programme_learning = first.params, first.programme_learning
        self.rows = first.n
        self.n = self.rows * len(self.replicas)
        self.block = np.repeat(np.arange(len(self.replicas)), self.rows)
        for name in ("topic_names", "kind_names", "region_names", "delivery_model", "months_total", "_schedule"):
            setattr(self, name, getattr(first, name))
        stack = lambda attr: np.concatenate([getattr(m, attr) for m in self.replicas])  # noqa: E731
        for attr in ("kind", "region", "budget", "resource_factor", "leadership", "applicable", "capacity"):
            setattr(self, attr, stack(attr))
        for attr in ("interest", "baseline", "selected", "_leadership_mean", "_leadership_conc"):
            setattr(self, attr, stack(attr))
        self.n_kinds = len(self.kind_names)
        self.ties = Ties.empty()
        self.tie_similarity = np.zeros(0)
        self.tie_flow = np.zeros(0)
        self.tie_events = np.zeros(0, dtype=np.int64)
        self._tie_offsets = np.zeros(len(self.replicas) + 1, dtype=np.int64)
        self.month = 0
        self.endline = self.capacity.copy()
        self._institutions = None
        self.panel_writer = None
        self._start_batch_recording()
        self._start_turnover()
        self._cost_by_institution = np.zeros((len(self.replicas), self.rows))

    # ---------------------------------------------------------------------------------------------
    # Recording: one bincount over every replicate's aggregate groups, one history array

    def _start_batch_recording(self) -> None:
        recorders = [m.aggregates for m in self.replicas]
        sizes = np.array([rec._groups.size for rec in recorders])
        self._group_offsets = np.concatenate([[0], np.cumsum(sizes)])
        cells = self.rows * len(self.topic_names)
        self._agg_flat = np.concatenate([rec._flat + r * cells for r, rec in enumerate(recorders)])
        self._agg_group = np.concatenate([rec._cell_group + self._group_offsets[r] for r, rec in enumerate(recorders)])
        self._agg_sums = np.zeros((self.months_total + 1, int(self._group_offsets[-1])))
        self.history = None
        if self.params.recording.mode == "panel":
            self.history = np.empty((self.months_total + 1, self.n, len(self.topic_names)))
            self.history[0] = self.capacity
        self._record_aggregates()

    def _record_aggregates(self) -> None:
        values = self.capacity.ravel()[self._agg_flat]
        self._agg_sums[self.month] = np.bincount(self._agg_group, weights=values, minlength=self._agg_sums.shape[1])

    def _record(self) -> None:
        self._record_aggregates()
        if self.history is not None:
            self.history[self.month] = self.capacity
        if self.month == self.params.simulation.months:
            self.endline = self.capacity.copy()

    # ---------------------------------------------------------------------------------------------
    # Kickoff, activities, turnover: per block where a replicate's own draws or costs are involved

    def _block_slice(self, r: int) -> slice:
        return slice(r * self.rows, (r + 1) * self.rows)

    def form_ties(self) -> None:
        """Every replicate's ties, formed on its own block and laid out block by block.

        The TPN's ``best_performer`` rule with one twin per topic is one array pass over all blocks
        (:func:`match_best_performer_blocks`); any other rule, and ``pair_twinning``, runs each replicate's own
        delivery model on its block (with its own matching stream).
        """
        prog = self.params.programme
        if prog.delivery_model == "none":
            self.ties = Ties.empty()
        elif prog.delivery_model == "tpn_network" and prog.matching == "best_performer" and prog.twins_per_topic == 1:
            self.ties = match_best_performer_blocks(self, prog.mentor_load_cap, prog.min_gap)
        else:
            parts = []
            for r, m in enumerate(self.replicas):
                m.capacity = self.capacity[self._block_slice(r)].copy()
                ties = m.delivery_model.form_ties(m)
                parts.append(Ties(ties.learner + r * self.rows, ties.mentor + r * self.rows, ties.topic))
            self.ties = Ties.concat(parts)
        counts = np.bincount(self.ties.learner // self.rows, minlength=len(self.replicas))
        self._tie_offsets = np.concatenate([[0], np.cumsum(counts)])
        self.tie_similarity = self.similarity_between(self.ties.learner, self.ties.mentor)
        self.tie_flow = np.zeros(len(self.ties))
        self.tie_events = np.zeros(len(self.ties), dtype=np.int64)

    def _fire(self, name: str) -> None:
        activity = ACTIVITIES[name]
        volume = 1.0 if activity.fixed else self.params.programme.volume
        rate = self.params.learning.rates.get(name, 0.0) * volume
        firing = BLOCK_ACTIVITIES[name](self, rate)
        rows, allocation = price_firings(
            self.month, name, firing.events, firing.involved, firing.travelled, self.params.costs, volume
        )
        for m, row in zip(self.replicas, rows, strict=True):
            m.ledger.append(row)
        self._cost_by_institution += allocation

    def block_firings(self, events: np.ndarray | int, involved: np.ndarray, travelled: np.ndarray) -> BlockFiring:
        """A firing over the whole batch as one firing per replicate."""
        return BlockFiring(
            np.broadcast_to(np.asarray(events), len(self.replicas)).copy(),
            involved.reshape(-1, self.rows),
            travelled.reshape(-1, self.rows),
        )

    def _turnover(self) -> None:
        """Each replicate's turnover draws from its own dynamics and leadership streams, as in a single run."""
        lp = self.params.learning
        uniform, fresh = [], []
        for dynamics, leadership, (a, b, size) in zip(
            self._dynamics, self._leadership, self._leadership_beta, strict=True
        ):
            uniform.append(dynamics.random(self.rows))
            fresh.append(leadership.beta(a, b, size=size))
        self.capacity, self.leadership = apply_turnover(
            self.capacity,
            self.baseline,
            self.leadership,
            np.concatenate(uniform) < lp.leadership_turnover,
            np.concatenate(fresh),
            lp.turnover_knowledge_loss,
        )

    def _start_turnover(self) -> None:
        """Each replicate's dynamics and leadership streams and the beta parameters of its fresh leadership draws."""
        self._dynamics = [m.streams["dynamics"] for m in self.replicas]
        self._leadership = [m.streams["leadership"] for m in self.replicas]
        self._leadership_beta = [m.leadership_beta() for m in self.replicas]

    # ---------------------------------------------------------------------------------------------
    # Hand the final state back to the replicates

    def finish(self) -> None:
        """Give every replicate's model its block of the final state, history, aggregates and ties."""
        for r, m in enumerate(self.replicas):
            rows, ties = self._block_slice(r), slice(self._tie_offsets[r], self._tie_offsets[r + 1])
            m.month = self.month
            m.capacity = self.capacity[rows].copy()
            m.leadership = self.leadership[rows].copy()
            m.endline = self.endline[rows].copy()
            m.ties = Ties(
                *(
                    getattr(self.ties, f)[ties] - (r * self.rows if f != "topic" else 0)
                    for f in ("learner", "mentor", "topic")
                )
            )
            m.tie_similarity = self.tie_similarity[ties].copy()
            m.tie_flow = self.tie_flow[ties].copy()
            m.tie_events = self.tie_events[ties].copy()
            m.cost_by_institution = m.cost_by_institution + self._cost_by_institution[r]
            if self.history is not None:
                m.history = np.ascontiguousarray(self.history[:, rows])
            m.aggregates.sums = self._agg_sums[:, self._group_offsets[r] : self._group_offsets[r + 1]].copy()
            m.finish()
        mesa.Agent._ids.pop(self, None)


def match_best_performer_blocks(batch: BatchModel, load_cap: int, min_gap: float) -> Ties:
    """The ``best_performer`` rule (one twin per topic) of every block at once, ties laid out block by block.

    :func:`twinsim.programme.matching._match_by_rank` goes topic by topic and, within a topic, kind by kind: learners in
    increasing capacity take the mentoring slots of their peers in decreasing capacity, the k-th learner the k-th
    slot, until the first learner whose slot's peer does not lead it by ``min_gap``. Kinds of one block, and all
    blocks, are separate groups (``block * kinds + kind``), so one topic is one segmented array pass over every
    group; the mentors' loads carry from topic to topic as in the single run. A stable sort by block then puts each
    block's ties in its single run's order (topic, kind, learner).
    """
    cap, n = batch.capacity, batch.n
    group = batch.block * batch.n_kinds + batch.kind
    load = np.zeros(n, dtype=np.int64)
    learners, mentors, topics = [], [], []
    for t in range(cap.shape[1]):
        c = cap[:, t]
        lrn = np.flatnonzero(batch.selected[:, t])
        lrn = lrn[np.lexsort((c[lrn], group[lrn]))]
        peers = np.flatnonzero(batch.applicable[:, t])
        peers = peers[np.lexsort((-c[peers], group[peers]))]
        slots = np.repeat(peers, np.maximum(load_cap - load[peers], 0))
        n_groups = int(group.max()) + 1
        slot_count = np.bincount(group[slots], minlength=n_groups)
        slot_start = np.cumsum(slot_count) - slot_count
        lrn_count = np.bincount(group[lrn], minlength=n_groups)
        g = group[lrn]
        rank = np.arange(lrn.size) - (np.cumsum(lrn_count) - lrn_count)[g]
        has_slot = rank < slot_count[g]
        lrn, g, rank = lrn[has_slot], g[has_slot], rank[has_slot]
        mnt = slots[slot_start[g] + rank]
        bad = ~((c[mnt] > c[lrn]) & (c[mnt] >= c[lrn] + min_gap))
        bad_before = np.cumsum(bad) - bad  # bad learners earlier in the order, any group ...
        first = np.searchsorted(g, g)  # ... minus those of earlier groups (g is sorted)
        keep = (bad_before - (np.cumsum(bad) - bad)[first] == 0) & ~bad
        lrn, mnt = lrn[keep], mnt[keep]
        load += np.bincount(mnt, minlength=n)
        learners.append(lrn)
        mentors.append(mnt)
        topics.append(np.full(lrn.size, t, dtype=np.int64))
    ties = Ties(*(np.concatenate(v).astype(np.int64) for v in (learners, mentors, topics)))
    order = np.argsort(ties.learner // batch.rows, kind="stable")
    return Ties(ties.learner[order], ties.mentor[order], ties.topic[order])


# --------------------------------------------------------------------------------------------------
# The activities of the batchable delivery models, per block: (batch, rate) -> one firing per replicate


def learn_from_best_blocks(batch: BatchModel, rate: float, local: np.ndarray) -> None:
    """:func:`learn_from_best` in every block, with groups ``local`` (the same in every block).

    Every block has the same kinds, regions and applicable topics row by row, and a topic applies to every member
    of a kind or to none, so a group (block, local group, kind) takes the same rows and topics in every block: its
    90th percentiles are one sort over all blocks' values of those rows and topics, with
    :func:`group_quantile`'s interpolation (itself ``np.nanquantile`` to the last bit). Falls back
    to ``learn_from_best`` over the whole batch if the applicable topics differ within a group or between blocks.
    """
    if not batch.programme_learning:
        return
    plan = _event_groups(batch, local)
    if plan is None:
        learn_from_best(batch, rate, batch.block * (int(local.max()) + 1) + np.tile(local, len(batch.replicas)))
        return
    groups, present = plan
    rows, n_topics = batch.rows, len(batch.topic_names)
    cap = batch.capacity.reshape(-1, rows, n_topics)
    source = np.zeros_like(cap)
    for members, cols in groups:
        values = np.sort(cap[:, members][:, :, cols], axis=1)  # blocks x members x topics, each column sorted
        count = members.size
        virtual = (count - 1) * 0.9
        below = np.floor(virtual)
        gamma = virtual - below
        prev, nxt = (count - 1, count - 1) if virtual >= count - 1 else (int(below), int(below) + 1)
        a, b = values[:, prev], values[:, nxt]
        diff = b - a  # group_quantile's (numpy's) interpolation, operation for operation
        best = b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma
        source[:, members[:, None], cols] = best[:, None, :]
    learn_from_source(batch, rate, source.reshape(batch.n, n_topics), present)


def _event_groups(batch: BatchModel, local: np.ndarray) -> tuple[list, np.ndarray] | None:
    """Each (local group, kind)'s rows and applicable topics within a block, and who has a peer of its kind there.

    None when a group's members differ in their applicable topics or the blocks differ in them.
    """
    rows, n_topics = batch.rows, len(batch.topic_names)
    kind, applicable = batch.kind[:rows], batch.applicable[:rows]
    if not (batch.applicable.reshape(-1, rows, n_topics) == applicable).all():
        return None
    _, cell = np.unique(local * (kind.max() + 1) + kind, return_inverse=True)
    groups = []
    for g in range(int(cell.max()) + 1 if cell.size else 0):
        members = np.flatnonzero(cell == g)
        pattern = applicable[members[0]]
        if not (applicable[members] == pattern).all():
            return None
        if pattern.any():
            groups.append((members, np.flatnonzero(pattern)))
    present = np.tile(np.bincount(cell)[cell] >= 2, len(batch.replicas))
    return groups, present


def _network_event(batch: BatchModel, rate: float, travel: bool) -> BlockFiring:
    learn_from_best_blocks(batch, rate, np.zeros(batch.rows, dtype=np.int64))
    ones = np.ones(batch.n, dtype=np.int64)
    return batch.block_firings(1, ones, ones if travel else np.zeros(batch.n, dtype=np.int64))


def _kickoff(batch: BatchModel, rate: float) -> BlockFiring:
    batch.form_ties()
    if rate:
        learn_from_best_blocks(batch, rate, np.zeros(batch.rows, dtype=np.int64))
    ones = np.ones(batch.n, dtype=np.int64)
    return batch.block_firings(1, ones, ones)


def _exchange_visit(batch: BatchModel, rate: float) -> BlockFiring:
    firing = exchange_visit(batch, rate)
    pair = np.unique(batch.ties.learner * batch.n + batch.ties.mentor)
    events = np.bincount(pair // batch.n // batch.rows, minlength=len(batch.replicas))
    return batch.block_firings(events, firing.involved, firing.travelled)


def _coaching(batch: BatchModel, rate: float) -> BlockFiring:
    learn_along_ties(batch, rate)
    batch.tie_events += 1
    return batch.block_firings(batch.rows, np.ones(batch.n, dtype=np.int64), np.zeros(batch.n, dtype=np.int64))


def _provincial_event(batch: BatchModel, rate: float) -> BlockFiring:
    learn_from_best_blocks(batch, rate, batch.region[: batch.rows])
    ones = np.ones(batch.n, dtype=np.int64)
    events = [len(np.unique(m.region)) for m in batch.replicas]
    return batch.block_firings(np.array(events), ones, ones)


BLOCK_ACTIVITIES: dict[str, Callable[[BatchModel, float], BlockFiring]] = {
    "kickoff_workshop": _kickoff,
    "exchange_visit": _exchange_visit,
    "coaching_in_person": _coaching,
    "coaching_virtual": _coaching,
    "learning_workshop_virtual": lambda batch, rate: _network_event(batch, rate, travel=False),
    "provincial_learning_event": _provincial_event,
}


# --------------------------------------------------------------------------------------------------
# Running


def simulate_many(
    scenario: Scenario,
    seeds: Sequence[np.random.SeedSequence],
    labels: Sequence[tuple[int, int]],
    *,
    programme_learning: bool = True,
) -> list[RunResult]:
    """Run one replicate per seed sequence of ``scenario`` as one batch.

    Args:
        scenario: the validated scenario (see :func:`batchable`).
        seeds: each replicate's seed sequence (as :class:`~twinsim.model.TwinningModel` takes it).
        labels: each replicate's ``(seed, replicate)`` for its :class:`~twinsim.model.results.RunResult`.
        programme_learning: as in :func:`~twinsim.model.results.simulate`.

    Raises:
        TwinsimError: the scenario has no batched form (the message says why).

    """
    reason = batchable(scenario)
    if reason is not None:
        raise TwinsimError(f"batched replicates: not available for this scenario: {reason}")
    if not seeds:
        return []
    first = TwinningModel(scenario, seeds[0], programme_learning=programme_learning)
    replicas = [first] + [
        TwinningModel(scenario, seq, programme_learning=programme_learning, like=first) for seq in seeds[1:]
    ]
    batch = BatchModel(replicas)
    batch.run()
    return [RunResult.from_model(m, s, r) for m, (s, r) in zip(replicas, labels, strict=True)]


def simulate_batch(
    scenario: Scenario, seed: int | None = None, replicates: int = 1, *, first: int = 0, programme_learning: bool = True
) -> list[RunResult]:
    """Replicates ``first .. first + replicates - 1`` of ``scenario`` run as one batch.

    Replicate ``r``'s result equals ``simulate(scenario, seed, r)``'s (summary, ledger, ties, aggregates, panel),
    bit for bit; the fixed cost of each monthly step is paid once for the whole batch.

    Raises:
        TwinsimError: the scenario has no batched form (see :func:`batchable`).

    """
    seed = scenario.simulation.seed if seed is None else int(seed)
    reps = range(first, first + replicates)
    return simulate_many(
        scenario,
        [run_seed_sequence(seed, r) for r in reps],
        [(seed, r) for r in reps],
        programme_learning=programme_learning,
    )
