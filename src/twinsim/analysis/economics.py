"""Health-economic arithmetic: incremental cost-effectiveness, dominance, net monetary benefit, acceptability.

Pure functions on arrays of costs and effects (any currency, any effect unit). Conventions follow the
cost-effectiveness literature (e.g. Drummond et al., *Methods for the Economic Evaluation of Health Care
Programmes*; Fenwick et al. 2001 for acceptability curves):

- an option is *dominated* when another costs no more and achieves no less, and is better in one of the two;
- an option is *extended-dominated* when a mix of two other options would buy more effect at lower cost,
  i.e. its ICER against the next cheaper option on the frontier is higher than the ICER of the next more
  effective option against it;
- the net monetary benefit at a willingness to pay ``wtp`` per unit of effect is ``wtp * effect - cost``;
- the cost-effectiveness acceptability curve gives, for each ``wtp``, the share of replicates in which an
  option has the highest net monetary benefit.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np

__all__ = [
    "DOMINATED",
    "EXTENDED",
    "NON_DOMINATED",
    "acceptability",
    "dominance",
    "frontier_icers",
    "icer",
    "net_monetary_benefit",
]

DOMINATED = "dominated"
EXTENDED = "extended-dominated"
NON_DOMINATED = "non-dominated"


def icer(delta_cost: float, delta_effect: float) -> float:
    """Incremental cost-effectiveness ratio ``delta_cost / delta_effect`` (NaN when the effects are equal)."""
    return delta_cost / delta_effect if delta_effect != 0 else math.nan


def net_monetary_benefit(effect: np.ndarray | float, cost: np.ndarray | float, wtp: np.ndarray | float) -> np.ndarray:
    """Net monetary benefit ``wtp * effect - cost`` (broadcasting)."""
    return np.asarray(wtp) * np.asarray(effect) - np.asarray(cost)


def _strongly_dominated(costs: np.ndarray, effects: np.ndarray) -> np.ndarray:
    no_worse = (costs[None, :] <= costs[:, None]) & (effects[None, :] >= effects[:, None])
    better = (costs[None, :] < costs[:, None]) | (effects[None, :] > effects[:, None])
    return np.asarray((no_worse & better).any(axis=1))


def dominance(costs: np.ndarray | list[float], effects: np.ndarray | list[float]) -> list[str]:
    """Label every option ``dominated``, ``extended-dominated`` or ``non-dominated``.

    Args:
        costs: mean cost of each option.
        effects: mean effect of each option (more is better).

    Returns:
        One label per option, in the input order.

    """
    costs = np.asarray(costs, dtype=float)
    effects = np.asarray(effects, dtype=float)
    labels = np.full(costs.size, NON_DOMINATED, dtype=object)
    labels[_strongly_dominated(costs, effects)] = DOMINATED
    frontier = [i for i in np.lexsort((costs, effects)) if labels[i] == NON_DOMINATED]
    changed = True
    while changed and len(frontier) > 2:
        changed = False
        ratios = [_ratio(costs, effects, a, b) for a, b in pairwise(frontier)]
        for k in range(1, len(ratios)):
            if ratios[k - 1] > ratios[k]:  # frontier[k] buys effect dearer than the next option does
                labels[frontier[k]] = EXTENDED
                del frontier[k]
                changed = True
                break
    return [str(label) for label in labels]


def _ratio(costs: np.ndarray, effects: np.ndarray, a: int, b: int) -> float:
    """ICER of ``b`` against the less effective ``a``; equal points (same cost and effect) give 0."""
    d_effect = effects[b] - effects[a]
    return (costs[b] - costs[a]) / d_effect if d_effect > 0 else 0.0


def frontier_icers(costs: np.ndarray | list[float], effects: np.ndarray | list[float]) -> list[float]:
    """ICER of each non-dominated option against the next less effective non-dominated one (NaN otherwise).

    The least effective option on the frontier has no comparator and gets NaN.
    """
    costs = np.asarray(costs, dtype=float)
    effects = np.asarray(effects, dtype=float)
    labels = dominance(costs, effects)
    frontier = [i for i in np.lexsort((costs, effects)) if labels[i] == NON_DOMINATED]
    out = [math.nan] * costs.size
    for a, b in pairwise(frontier):
        out[b] = icer(costs[b] - costs[a], effects[b] - effects[a])
    return out


def acceptability(effects: np.ndarray, costs: np.ndarray, wtp: np.ndarray) -> np.ndarray:
    """Cost-effectiveness acceptability: P(option has the highest net monetary benefit) at each ``wtp``.

    Args:
        effects: replicates x options effects (replicate ``r`` of every option shares random draws).
        costs: replicates x options costs.
        wtp: willingness-to-pay values per unit of effect.

    Returns:
        len(wtp) x options probabilities; each row sums to 1 (an exact tie splits the replicate equally).

    """
    effects = np.atleast_2d(np.asarray(effects, dtype=float))
    costs = np.atleast_2d(np.asarray(costs, dtype=float))
    wtp = np.atleast_1d(np.asarray(wtp, dtype=float))
    nmb = wtp[:, None, None] * effects[None] - costs[None]  # wtp x replicates x options
    best = nmb == nmb.max(axis=2, keepdims=True)
    return (best / best.sum(axis=2, keepdims=True)).mean(axis=1)
