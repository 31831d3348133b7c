"""The learning kernel: pure array functions with closed forms (see docs/ODD.md, section Submodels).

Every function takes and returns NumPy arrays; none loops over institutions. Capacities live in [0, 1]. A
parameter (:data:`~twinsim.kernel.state.Param`) is one number, or an array that broadcasts against the state (one
value per row, or a column over rows) when the replicates of one model drew different parameter sets.
"""

from __future__ import annotations

import numpy as np

from twinsim.kernel.state import Param

__all__ = [
    "absorbable_gap",
    "clip01",
    "decay_rate",
    "effort",
    "effort_at",
    "empowerment",
    "engagement",
    "forgetting",
    "own_improvement",
    "ownership",
    "persistence",
    "similarity",
    "time_factor",
    "transfer",
    "turnover_loss",
]


def similarity(
    log_budget_a: np.ndarray,
    log_budget_b: np.ndarray,
    region_a: np.ndarray,
    region_b: np.ndarray,
    weight: Param,
    region_distance: float,
    context_distance: Param = 0.0,
) -> np.ndarray:
    """Peer similarity ``exp(-weight * distance)`` in (0, 1].

    The distance adds the absolute difference of log budgets (resources), ``region_distance`` when the
    two institutions sit in different regions, and any extra context distance (language, health system).
    """
    distance = np.abs(log_budget_a - log_budget_b) + region_distance * (region_a != region_b) + context_distance
    return np.exp(-weight * distance)


def clip01(values: np.ndarray) -> np.ndarray:
    """``values`` clipped to [0, 1] (as ``np.clip``, with two ufunc calls: cheaper on small arrays)."""
    return np.minimum(np.maximum(values, 0.0), 1.0)


def absorbable_gap(gap: np.ndarray, ceiling: Param) -> np.ndarray:
    """Know-how a learner can absorb from a peer ``gap`` ahead: ``gap * exp(-gap^2 / (2 ceiling^2))``.

    Grows with the gap for small gaps, peaks at ``gap = ceiling`` and falls for gaps too large to
    absorb. Zero for a peer who is not ahead.
    """
    gap = np.maximum(gap, 0.0)
    return gap * np.exp(-0.5 * (gap / ceiling) ** 2)


def transfer(learner_capacity: np.ndarray, source_capacity: Param, intensity: Param, ceiling: Param) -> np.ndarray:
    """Capacity gained by each learner in one event: ``(1 - exp(-intensity)) * absorbable_gap``.

    ``intensity`` is the activity's rate times the learner's effort times the peer similarity. With a
    huge ceiling and a fixed source the gap closes geometrically: ``gap_n = gap_0 * exp(-intensity) ** n``.
    """
    gap = source_capacity - learner_capacity
    return -np.expm1(-np.asarray(intensity, dtype=float)) * absorbable_gap(gap, ceiling)


def engagement(
    leadership: np.ndarray,
    resource_factor: np.ndarray,
    mentees: np.ndarray,
    leadership_weight: Param,
    load_penalty: Param,
) -> np.ndarray:
    """Share of the programme's intended time an institution actually gives, in [0, 1].

    ``resource_factor * (1 - w + w * leadership) * (1 - load_penalty * mentees)``, clipped: it falls when
    budget or leadership falls, or when the institution mentors many peers.
    """
    gate = 1.0 - leadership_weight + leadership_weight * leadership
    return clip01(resource_factor * gate * (1.0 - load_penalty * mentees))


def effort(engagement_: np.ndarray, interest: np.ndarray, interest_weight: Param) -> np.ndarray:
    """Effort per institution and topic: engagement gated by senior management's interest in the topic."""
    return engagement_[:, None] * (1.0 - interest_weight + interest_weight * interest)


def effort_at(engagement_: np.ndarray, interest: np.ndarray, interest_weight: Param) -> np.ndarray:
    """:func:`effort` for matching arrays of (institution, topic) cells: engagement times the interest gate."""
    return engagement_ * (1.0 - interest_weight + interest_weight * interest)


def own_improvement(
    capacity: np.ndarray, interest: np.ndarray, leadership: np.ndarray, trend: Param, motivation: Param
) -> np.ndarray:
    """Monthly gain without any peer: secular trend plus interest- and leadership-driven motivation.

    ``dc = (trend + motivation * interest * leadership) * (1 - c)``; this is what makes institutions that
    choose a topic improve on it even without twinning (self-selection).
    """
    rate = trend + motivation * interest * leadership[:, None]
    return rate * (1.0 - capacity)


def forgetting(capacity: np.ndarray, baseline: np.ndarray, rate: Param) -> np.ndarray:
    """Monthly decay of capacity gained above the baseline (a loss, <= 0): ``dc = -rate * max(c - c0, 0)``."""
    return -rate * np.maximum(capacity - baseline, 0.0)


def turnover_loss(capacity: np.ndarray, baseline: np.ndarray, knowledge_loss: Param) -> np.ndarray:
    """Capacity lost (<= 0) where leadership changed: ``knowledge_loss`` of the gain above baseline."""
    return -knowledge_loss * np.maximum(capacity - baseline, 0.0)


# --------------------------------------------------------------------------------------------------
# The mechanisms of issue 12 (docs/ODD.md 7.16-7.21)


def ownership(leadership: np.ndarray, interest: np.ndarray, interest_weight: Param) -> np.ndarray:
    """Ownership of a topic's gains in [0, 1]: ``leadership * (1 - w + w * interest)``, rows x topics."""
    return leadership[:, None] * (1.0 - interest_weight + interest_weight * interest)


def decay_rate(
    forgetting_: Param, retention: Param, ownership_: np.ndarray, practice: np.ndarray, practice_weight: Param
) -> np.ndarray:
    """Monthly decay rate of gains: ``forgetting * (1 - retention * ownership * (1 - w + w * practice))``.

    Full ownership with full practice (and ``retention = 1``) keeps every gain; no ownership decays at ``forgetting``.
    """
    keep = retention * ownership_ * (1.0 - practice_weight + practice_weight * practice)
    return forgetting_ * (1.0 - keep)


def empowerment(
    capacity: np.ndarray, leadership: np.ndarray, engagement_: np.ndarray, worked: np.ndarray, rate: Param
) -> np.ndarray:
    """Own improvement added by taking part: ``rate * leadership * engagement * worked * (1 - c)``."""
    return rate * (leadership * engagement_)[:, None] * worked * (1.0 - capacity)


def time_factor(allowance: np.ndarray, demand: np.ndarray) -> np.ndarray:
    """Share of the month's programme demand (staff days) an institution can give: ``min(1, allowance / demand)``.

    1 where nothing is demanded.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(demand > 0, np.minimum(1.0, allowance / np.where(demand > 0, demand, 1.0)), 1.0)


def persistence(previous: np.ndarray, gain: np.ndarray, reference: Param, rate: Param) -> np.ndarray:
    """Persistence after a month of activities: ``p + rate * (min(1, gain / reference) - p)``.

    ``gain`` is the member's programme gain of the month (summed over topics): effort that yields little lowers
    persistence, and with it engagement.
    """
    satisfaction = np.minimum(np.maximum(gain, 0.0) / reference, 1.0)
    return previous + rate * (satisfaction - previous)
