"""Topic choice and partner matching rules, each registered by name.

A topic-choice rule maps baseline state to a boolean ``selected`` array (institutions x topics).
A matching rule maps a request for twins to index arrays ``(learner, mentor, topic)``.
Adding a rule is adding one decorated function.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MATCHING_RULES",
    "TOPIC_CHOICE_RULES",
    "MatchRequest",
    "Ties",
    "register_matching",
    "register_topic_choice",
]


@dataclass(frozen=True)
class Ties:
    """Partnership ties as parallel index arrays: ``learner[k]`` learns ``topic[k]`` from ``mentor[k]``."""

    learner: np.ndarray
    mentor: np.ndarray
    topic: np.ndarray

    @classmethod
    def empty(cls) -> Ties:
        """No ties."""
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z.copy(), z.copy())

    def __len__(self) -> int:
        return len(self.learner)

    def by_replicate(self, rows_per_replicate: int) -> Ties:
        """The same ties laid out replicate after replicate (a stable sort by the learner's replicate)."""
        order = np.argsort(self.learner // max(rows_per_replicate, 1), kind="stable")
        return Ties(self.learner[order], self.mentor[order], self.topic[order])

    @classmethod
    def concat(cls, parts: list[Ties]) -> Ties:
        """Join several tie sets."""
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("learner", "mentor", "topic")))


@dataclass(frozen=True)
class MatchRequest:
    """What a matching rule sees: baseline capacities, who may twin with whom, and the caps.

    Rows are the institutions of every replicate of a model; peers are those of the same ``group`` (kind within
    replicate). ``rng(row)`` is the matching stream of the row's replicate, so a replicate draws the same numbers
    whatever other replicates are matched with it.
    """

    capacity: np.ndarray  # rows x topics
    selected: np.ndarray  # rows x topics, bool
    applicable: np.ndarray  # rows x topics, bool
    group: np.ndarray  # rows, int: who may twin with whom (kind within replicate)
    similarity: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (a, b) index arrays -> similarity
    twins_per_topic: int
    mentor_load_cap: int
    min_gap: float
    rng: Callable[[int], np.random.Generator]
    replicate: np.ndarray | None = None  # rows, int: each row's replicate (None: one replicate); they share no peers
    #: The first round's learners pick from the highest capacity down (the fewest peers lead them) instead of the
    #: largest gap first: every request that some leading peer with room can take is then taken (ODD 7.18).
    fewest_leaders_first: bool = False


TopicChoiceRule = Callable[..., np.ndarray]
MatchingRule = Callable[[MatchRequest], Ties]
TOPIC_CHOICE_RULES: dict[str, TopicChoiceRule] = {}
MATCHING_RULES: dict[str, MatchingRule] = {}


def register_topic_choice(name: str) -> Callable[[TopicChoiceRule], TopicChoiceRule]:
    """Register a topic-choice rule under ``name``."""

    def deco(func: TopicChoiceRule) -> TopicChoiceRule:
        TOPIC_CHOICE_RULES[name] = func
        return func

    return deco


def register_matching(name: str) -> Callable[[MatchingRule], MatchingRule]:
    """Register a partner-matching rule under ``name``."""

    def deco(func: MatchingRule) -> MatchingRule:
        MATCHING_RULES[name] = func
        return func

    return deco


# --------------------------------------------------------------------------------------------------
# Topic choice


def _top_k(score: np.ndarray, applicable: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the k highest-scoring applicable topics per row."""
    score = np.where(applicable, score, -np.inf)
    k = min(k, score.shape[1])
    order = np.argsort(-score, axis=1, kind="stable")[:, :k]
    chosen = np.zeros_like(applicable)
    np.put_along_axis(chosen, order, True, axis=1)
    return chosen & applicable


def gap_to_best(capacity: np.ndarray, applicable: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Each institution's gap to the best peer of its own group (kind within replicate), per topic.

    0 where the topic does not apply. One sort by group and a segmented maximum: no loop over groups.
    """
    if capacity.shape[0] == 0:
        return np.zeros_like(capacity)
    values = np.where(applicable, capacity, -np.inf)
    order = np.argsort(group, kind="stable")
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    best_of_group = np.maximum.reduceat(values[order], starts, axis=0)
    best = np.empty_like(capacity)
    best[order] = np.repeat(best_of_group, np.diff(np.r_[starts, g.size]), axis=0)
    return np.where(applicable, np.maximum(best - capacity, 0.0), 0.0)


@register_topic_choice("gap_and_interest")
def choose_by_gap_and_interest(
    capacity: np.ndarray,
    interest: np.ndarray,
    applicable: np.ndarray,
    kind: np.ndarray,
    k: int,
    interest_weight: float,
    noise: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """The Rwanda kickoff: rank topics by gap to the best peer plus weighted interest, with Gumbel noise."""
    score = gap_to_best(capacity, applicable, kind) + interest_weight * interest
    score = score + noise * rng.gumbel(size=score.shape)
    return _top_k(score, applicable, k)


@register_topic_choice("largest_gap")
def choose_largest_gap(capacity, interest, applicable, kind, k, interest_weight, noise, rng) -> np.ndarray:
    """Needs-based choice: the topics with the largest gap to the best peer, ignoring interest."""
    score = gap_to_best(capacity, applicable, kind) + noise * rng.gumbel(size=capacity.shape)
    return _top_k(score, applicable, k)


@register_topic_choice("random")
def choose_at_random(capacity, interest, applicable, kind, k, interest_weight, noise, rng) -> np.ndarray:
    """Topics assigned at random (a randomised trial of topics: no self-selection)."""
    return _top_k(rng.random(capacity.shape), applicable, k)


# --------------------------------------------------------------------------------------------------
# Partner matching


#: A preference: of (learner, candidate) pairs on a topic (pairs of one learner adjacent, learners in matching
#: order), how much each learner wants each candidate; the highest wins (the first in row order at a tie).
Preference = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def _greedy_match(req: MatchRequest, preference: Preference) -> Ties:
    """Assign twins topic by topic and round by round, respecting the mentor load cap (any preference).

    Within a replicate, learners with the largest gaps pick first; each picks the candidate with the highest
    preference among peers of its group who lead it by ``min_gap`` and still have room. Replicates share no peers,
    so they are matched side by side: step ``k`` matches the ``k``-th learner of every replicate at once (one
    array operation over their candidates), and each replicate gets the ties, and draws the numbers of its
    matching stream, that it would get alone. Ties come out in the order of one learner at a time: by round, topic,
    then the learner's baseline capacity.
    """
    n, n_topics = req.capacity.shape
    load = np.zeros(n, dtype=np.int64)
    blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    earlier: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * n_topics  # per topic: learner * n + mentor, sorted
    pools = [_pools(req, t) for t in range(n_topics)]  # the same every round
    for round_ in range(req.twins_per_topic):
        for t in range(n_topics):
            first = round_ == 0 and req.fewest_leaders_first
            learners, mentors = _greedy_topic(req, t, pools[t], load, earlier[t], preference, first)
            earlier[t] = np.sort(np.concatenate([earlier[t], learners * n + mentors]))
            blocks.append((learners, mentors, np.full(learners.size, t, dtype=np.int64)))
    if not blocks:
        return Ties.empty()
    return Ties(*(np.concatenate([b[k] for b in blocks]).astype(np.int64) for k in range(3)))


def _greedy_topic(
    req: MatchRequest,
    t: int,
    pools: np.ndarray,
    load: np.ndarray,
    earlier: np.ndarray,
    preference: Preference,
    fewest_leaders_first: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """One round of :func:`_greedy_match` on topic ``t`` (its :func:`_pools`): the (learner, mentor) pairs in order.

    Learners pick in increasing capacity (largest gaps first), or in decreasing capacity with ``fewest_leaders_first``.
    """
    n = req.capacity.shape[0]
    c = req.capacity[:, t]
    rows = np.flatnonzero(req.selected[:, t])
    rows = rows[np.argsort(-c[rows] if fewest_leaders_first else c[rows], kind="stable")]  # the matching order
    replicate = np.zeros(n, dtype=np.int64) if req.replicate is None else req.replicate
    order = rows[np.argsort(replicate[rows], kind="stable")]  # the same order within each replicate
    first = np.searchsorted(replicate[order], replicate[order], side="left")
    step = np.arange(order.size) - first  # a learner's turn within its replicate
    order = order[np.argsort(step, kind="stable")]  # turn by turn
    bounds = np.searchsorted(np.sort(step), np.arange(int(step.max()) + 2 if step.size else 1))
    lead = np.where(pools >= 0, c[pools], -np.inf)  # a padded slot leads no one
    matched_l, matched_m = [], []
    for k in range(bounds.size - 1):
        lrn = order[bounds[k] : bounds[k + 1]]
        at = req.group[lrn] if lrn.size > 1 else slice(req.group[lrn[0]], req.group[lrn[0]] + 1)  # one: a view
        cand, ahead, own = pools[at], lead[at], c[lrn, None]  # learners x widest pool
        ok = (ahead > own) & (ahead >= own + req.min_gap) & (load[cand] < req.mentor_load_cap)  # never oneself
        if earlier.size:
            ok &= ~_among(earlier, lrn[:, None] * n + cand)
        chose, mentor = _pick(lrn, cand, ok, preference, t)
        if not chose.size:
            continue
        load[mentor] += 1  # replicates share no peers: every mentor here is distinct
        matched_l.append(chose)
        matched_m.append(mentor)
    if not matched_l:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    learners, mentors = np.concatenate(matched_l), np.concatenate(matched_m)
    position = np.empty(n, dtype=np.int64)
    position[rows] = np.arange(rows.size)
    by_turn = np.argsort(position[learners], kind="stable")
    return learners[by_turn], mentors[by_turn]


def _pick(
    lrn: np.ndarray, cand: np.ndarray, ok: np.ndarray, preference: Preference, t: int
) -> tuple[np.ndarray, np.ndarray]:
    """Of learners ``lrn`` (one per replicate), those with an eligible candidate (``ok``) and the one they prefer."""
    if lrn.size == 1:  # one replicate's turn (one large network): one row of candidates
        peers = cand[0, ok[0]]
        if peers.size == 0:
            return lrn[:0], peers
        return lrn, peers[np.argmax(preference(np.full(peers.size, lrn[0]), peers, t))][None]
    who, slot = np.nonzero(ok)  # pairs of one learner adjacent, candidates in pool order
    if who.size == 0:
        return lrn[:0], cand[0, :0]
    table = np.full(ok.shape, -np.inf)
    table[who, slot] = preference(lrn[who], cand[who, slot], t)
    chose = ok.any(axis=1)
    return lrn[chose], cand[np.arange(lrn.size), np.argmax(table, axis=1)][chose]


def _pools(req: MatchRequest, t: int) -> np.ndarray:
    """Per group, the rows topic ``t`` applies to: ascending, padded with -1 to the widest group."""
    rows = np.flatnonzero(req.applicable[:, t])
    groups = int(req.group.max()) + 1 if req.group.size else 0
    sizes = np.bincount(req.group[rows], minlength=groups)
    pools = np.full((groups, int(sizes.max()) if sizes.size else 0), -1, dtype=np.int64)
    rows = rows[np.argsort(req.group[rows], kind="stable")]
    pools[req.group[rows], np.arange(rows.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)] = rows
    return pools


def _match_by_rank(req: MatchRequest) -> Ties:
    """The greedy assignment of :func:`_greedy_match` for a preference that ranks peers by capacity.

    Per round, topic and group, learners in increasing capacity (largest gap first) meet the mentoring
    *slots* of their peers in decreasing capacity (each peer repeated once per free place under the load
    cap). The k-th learner takes the k-th slot as long as that peer leads it by ``min_gap``; since gaps
    only shrink along the two orders, the first learner that fails ends the topic for its group. In the
    first round this is one segmented array pass over every group (:func:`_first_round`); in later rounds
    a learner skips peers it already twins with on the topic (handled group by group, one clash at a time).
    With ``fewest_leaders_first`` the first round takes learners in decreasing capacity instead
    (:func:`_leaders_with_room`).
    """
    n, n_topics = req.capacity.shape
    load = np.zeros(n, dtype=np.int64)
    parts: list[Ties] = []
    paired = np.zeros(0, dtype=np.int64)  # sorted (learner * n + mentor) * n_topics + topic keys of earlier rounds
    for round_ in range(req.twins_per_topic):
        made: list[np.ndarray] = []  # this round's keys: a learner meets one new peer per topic and round
        for t in range(n_topics):
            if round_ == 0 and req.fewest_leaders_first:
                want, peers = np.flatnonzero(req.selected[:, t]), np.flatnonzero(req.applicable[:, t])
                new = [Ties(*_leaders_with_room(req, t, want, peers, load), np.zeros(0, dtype=np.int64))]
            elif round_ == 0:
                new = [Ties(*_first_round(req, t, load), np.zeros(0, dtype=np.int64))]
            else:
                new = []
                c = req.capacity[:, t]
                for g in np.unique(req.group[req.selected[:, t]]):
                    learners = np.flatnonzero(req.selected[:, t] & (req.group == g))
                    learners = learners[np.argsort(c[learners], kind="stable")]
                    peers = np.flatnonzero(req.applicable[:, t] & (req.group == g))
                    peers = peers[np.argsort(-c[peers], kind="stable")]
                    slots = np.repeat(peers, np.maximum(req.mentor_load_cap - load[peers], 0))
                    lrn, mnt = _fill_slots(req, learners, slots, t, paired, n)
                    load += np.bincount(mnt, minlength=n)
                    new.append(Ties(lrn, mnt, np.zeros(0, dtype=np.int64)))
            for part in new:
                if round_ == 0:
                    load += np.bincount(part.mentor, minlength=n)
                parts.append(Ties(part.learner, part.mentor, np.full(part.learner.size, t, dtype=np.int64)))
                made.append((part.learner * n + part.mentor) * n_topics + t)
        if req.twins_per_topic > 1 and made:
            paired = np.union1d(paired, np.concatenate(made))
    return Ties.concat(parts)


def _first_round(req: MatchRequest, t: int, load: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Round one of :func:`_match_by_rank` on topic ``t`` for every group at once (no clashes are possible).

    Learners sorted by (group, capacity) and slots by (group, -capacity); the k-th learner of a group takes
    the group's k-th slot; a group stops at its first learner whose slot's peer does not lead it by ``min_gap``.
    """
    c, group = req.capacity[:, t], req.group
    lrn = np.flatnonzero(req.selected[:, t])
    lrn = lrn[_by_group_then_value(group[lrn], c[lrn])]
    peers = np.flatnonzero(req.applicable[:, t])
    peers = peers[_by_group_then_value(group[peers], c[peers], descending=True)]
    slots = np.repeat(peers, np.maximum(req.mentor_load_cap - load[peers], 0))
    n_groups = int(group.max()) + 1 if group.size else 0
    slot_count = np.bincount(group[slots], minlength=n_groups)
    slot_start = np.cumsum(slot_count) - slot_count
    lrn_count = np.bincount(group[lrn], minlength=n_groups)
    g = group[lrn]
    rank = np.arange(lrn.size) - (np.cumsum(lrn_count) - lrn_count)[g]
    has_slot = rank < slot_count[g]
    lrn, g, rank = lrn[has_slot], g[has_slot], rank[has_slot]
    mnt = slots[slot_start[g] + rank]
    bad = ~((c[mnt] > c[lrn]) & (c[mnt] >= c[lrn] + req.min_gap))
    bad_before = np.cumsum(bad) - bad  # bad learners earlier in the order, any group ...
    first = np.searchsorted(g, g)  # ... minus those of earlier groups (g is sorted)
    keep = (bad_before - (np.cumsum(bad) - bad)[first] == 0) & ~bad
    return lrn[keep].astype(np.int64), mnt[keep].astype(np.int64)


def _by_group_then_value(
    group: np.ndarray, value: np.ndarray, descending: bool = False, then: np.ndarray | None = None
) -> np.ndarray:
    """The order of ``np.lexsort((then, -value if descending else value, group))`` (stable), in one sort.

    Single-precision values (the model's capacities), their group and a 0/1 tie-breaker ``then`` fit one 64-bit
    key: the bit pattern of a non-negative float orders as the float does. Other values go to ``np.lexsort``.
    """
    keys = (-value if descending else value, group) if then is None else (then, -value if descending else value, group)
    if value.dtype != np.float32 or group.size == 0 or group.min() < 0 or group.max() >= 1 << 30:
        return np.lexsort(keys)
    if not (value >= 0).all():
        return np.lexsort(keys)
    bits = (value + np.float32(0.0)).view(np.uint32).astype(np.uint64)  # + 0.0 turns -0.0 into 0.0
    if descending:
        bits = np.uint64(0xFFFFFFFF) - bits
    key = (group.astype(np.uint64) << np.uint64(33)) | (bits << np.uint64(1))
    if then is not None:
        key |= then.astype(np.uint64)
    return np.argsort(key, kind="stable")


def _among(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``np.isin(keys, sorted_keys)`` for a sorted array of distinct keys, by binary search (no sort or hash)."""
    if not sorted_keys.size:
        return np.zeros(keys.shape, dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), sorted_keys.size - 1)
    return sorted_keys[at] == keys


def _fill_slots(
    req: MatchRequest, learners: np.ndarray, slots: np.ndarray, t: int, paired: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Give the k-th learner the k-th slot while its peer leads by ``min_gap``; skip already-paired peers."""
    c, n_topics = req.capacity[:, t], req.capacity.shape[1]
    out_l, out_m = [], []
    pos = 0
    while pos < learners.size and slots.size:
        m = min(learners.size - pos, slots.size)
        lrn, mnt = learners[pos : pos + m], slots[:m]
        good = (c[mnt] > c[lrn]) & (c[mnt] >= c[lrn] + req.min_gap)
        clash = _among(paired, (lrn * n + mnt) * n_topics + t)
        usable = good & ~clash
        stop = m if usable.all() else int(np.argmin(usable))
        out_l.append(lrn[:stop])
        out_m.append(mnt[:stop])
        slots, pos = slots[stop:], pos + stop
        if stop == m or not good[stop]:
            break
        i = lrn[stop]  # a clash: this learner takes the best slot of a peer it does not twin with yet
        free = ~_among(paired, (i * n + slots) * n_topics + t)
        q = int(np.argmax(free)) if free.any() else -1
        if q >= 0 and c[slots[q]] > c[i] and c[slots[q]] >= c[i] + req.min_gap:
            out_l.append(np.array([i]))
            out_m.append(slots[q : q + 1])
            slots = np.delete(slots, q)
        pos += 1
    as_array = lambda parts: np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)  # noqa: E731
    return as_array(out_l), as_array(out_m)


@register_matching("best_performer")
def match_best_performer(req: MatchRequest) -> Ties:
    """The highest performer on the topic with room to mentor (the TPN rule)."""
    return _match_by_rank(req)


@register_matching("most_similar")
def match_most_similar(req: MatchRequest) -> Ties:
    """The most similar peer (resources, region) among those far enough ahead."""
    return _greedy_match(req, lambda i, j, t: req.similarity(i, j) + 1e-9 * req.capacity[j, t])


@register_matching("similar_and_better")
def match_similar_and_better(req: MatchRequest) -> Ties:
    """Balance of the two: similarity times the gap the learner can learn from."""
    return _greedy_match(req, lambda i, j, t: req.similarity(i, j) * (req.capacity[j, t] - req.capacity[i, t]))


@register_matching("random_better")
def match_random_better(req: MatchRequest) -> Ties:
    """Any peer far enough ahead, at random."""

    def draws(learners: np.ndarray, candidates: np.ndarray, t: int) -> np.ndarray:
        """One uniform number per candidate from each learner's replicate stream, learner after learner."""
        if learners[0] == learners[-1]:  # one learner (one replicate's turn)
            return req.rng(int(learners[0])).random(learners.size)
        bounds = [0, *(np.flatnonzero(learners[1:] != learners[:-1]) + 1).tolist(), learners.size]
        return np.concatenate([req.rng(int(learners[a])).random(b - a) for a, b in itertools.pairwise(bounds)])

    return _greedy_match(req, draws)


def _leaders_with_room(
    req: MatchRequest, t: int, want: np.ndarray, peers: np.ndarray, load: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The requests of ``want`` on topic ``t`` that a leading peer with room can take, and that peer.

    Sequentially: learners of a group from the highest capacity down (those with the fewest leading peers first) each
    take the highest-capacity peer that leads them by ``min_gap`` and has fewer than ``mentor_load_cap`` mentees.
    Peers of a group sorted by decreasing capacity, each repeated once per free place, are the group's *slots*; the
    peers leading a learner are a prefix of them, and the prefixes grow down the learners' order. So the m-th learner
    served takes the m-th slot, and learner k is served iff its prefix holds more slots than the learners served
    before it: with ``S_k`` its prefix's slots, the count served up to k is ``M_k = min(M_(k-1) + 1, S_k)``, i.e.
    ``k + min(0, min_(j<=k) (S_j - j))``: one running minimum over every group at once, no learner x peer table.
    """
    c, group = req.capacity[:, t], req.group
    room = np.maximum(req.mentor_load_cap - load[peers], 0)
    peers, room = peers[room > 0], room[room > 0]
    if peers.size == 0:
        return want[:0], want[:0]
    # A mentor leads strictly and by min_gap: capacity >= max(c + min_gap, the next float above c).
    threshold = np.maximum(c[want] + req.min_gap, np.nextafter(c[want], np.inf))
    value = np.concatenate([c[peers], threshold])
    kind = np.concatenate([np.zeros(peers.size, np.int64), np.ones(want.size, np.int64)])
    item = np.concatenate([peers, want])
    weight = np.concatenate([room, np.zeros(want.size, np.int64)])
    item_group = group[item]
    order = _by_group_then_value(item_group, value, descending=True, then=kind)  # peers first at equal values
    item, kind, item_group, weight = item[order], kind[order], item_group[order], weight[order]
    first_of_group = np.r_[True, item_group[1:] != item_group[:-1]]
    group_start = np.maximum.accumulate(np.where(first_of_group, np.arange(item.size), 0))
    slots_before = np.cumsum(weight)  # slots up to each position (any group; a learner adds none) ...
    slots_start = (slots_before - weight)[group_start]  # ... minus those of earlier groups
    is_learner = kind == 1
    lrn, lrn_group = item[is_learner], item_group[is_learner]
    prefix = (slots_before - slots_start)[is_learner]  # S_k: the slots leading each learner
    lrn_first = np.r_[True, lrn_group[1:] != lrn_group[:-1]] if lrn.size else np.zeros(0, bool)
    lrn_start = np.maximum.accumulate(np.where(lrn_first, np.arange(lrn.size), 0))
    k = np.arange(lrn.size) - lrn_start + 1  # 1-based turn within the group
    # Running minimum of S_j - j within each group: earlier groups carry a larger offset, so they never win.
    rank = np.cumsum(lrn_first) - 1
    span = int(prefix.max(initial=0)) + lrn.size + 2
    running = (
        np.minimum.accumulate((prefix - k) + (rank.max(initial=0) - rank) * span) - (rank.max(initial=0) - rank) * span
    )
    served = k + np.minimum(0, running)  # M_k
    before = np.r_[0, served[:-1]]
    before[lrn_first] = 0
    took = served > before
    # The m-th learner served takes the group's m-th slot (slots in the merged order, peers repeated by room).
    peer_pos = np.flatnonzero(~is_learner)
    slot_peer = np.repeat(item[peer_pos], weight[peer_pos])
    return lrn[took].astype(np.int64), slot_peer[slots_start[is_learner][took] + served[took] - 1].astype(np.int64)
