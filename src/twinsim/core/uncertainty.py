"""How much of an interval is parameter uncertainty and how much replicate noise.

With a posterior, replicate ``r`` runs the parameter set drawn for ``(seed, r)`` (see
:mod:`twinsim.experiments.posterior`): a posterior of a few dozen rows gives many replicates that share a
parameter set. Replicates that share a set differ only by the model's randomness, so by the law of total
variance

    Var(Y) = E[Var(Y | parameters)] + Var(E[Y | parameters])
           = replicate noise        + parameter uncertainty,

the first estimated by the pooled variance within repeated parameter sets and the second by what remains of
the total variance over replicates. Without a posterior every replicate runs the same parameters: all of the
variance is replicate noise (a parameter share of exactly 0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["MIN_REPEATED_SETS", "VarianceSplit", "variance_split"]

#: Parameter sets drawn by at least two replicates needed to estimate the within-set (replicate) variance.
MIN_REPEATED_SETS = 3


class VarianceSplit(NamedTuple):
    """The variance of an output over replicates, split by the law of total variance.

    Attributes:
        total: variance over all replicates (``ddof=1``).
        parameter: the part that is parameter uncertainty (variance of the parameter sets' means),
            ``total - replicate`` clipped at 0.
        replicate: the part that is replicate noise (mean variance within a parameter set).
        share: ``parameter / total`` in [0, 1]: 0 without a posterior, NaN when not estimable (no
            variance, or fewer than :data:`MIN_REPEATED_SETS` parameter sets drawn by two replicates or more).
        sets: distinct parameter sets among the replicates (1 without a posterior).
        repeated: parameter sets drawn by two replicates or more.

    """

    total: float
    parameter: float
    replicate: float
    share: float
    sets: int
    repeated: int


def variance_split(values: ArrayLike, sets: ArrayLike | None = None) -> VarianceSplit:
    """Split the variance of ``values`` (one per replicate) into parameter uncertainty and replicate noise.

    Args:
        values: the output of every replicate (NaNs dropped with their set).
        sets: the posterior row each replicate ran (``parameter_set`` of the runs table); ``None`` without a
            posterior (every replicate ran the same parameters).

    """
    x = np.asarray(values, dtype=float)
    keep = ~np.isnan(x)
    x = x[keep]
    nan = float("nan")
    total = float(x.var(ddof=1)) if x.size > 1 else nan
    if sets is None:
        return VarianceSplit(total, nan if np.isnan(total) else 0.0, total, 0.0 if total > 0 else nan, 1, 1)
    labels = np.asarray(sets)[keep]
    _, group, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    means = np.bincount(group, x) / sizes
    squares = np.bincount(group, (x - means[group]) ** 2)  # two passes: the deviations from each set's mean
    pairs = sizes >= 2
    within = squares[pairs] / (sizes[pairs] - 1)
    n_sets, repeated = len(sizes), int(pairs.sum())
    if n_sets == 1 and x.size > 1:  # one parameter set: all of it is replicate noise
        return VarianceSplit(total, 0.0, total, 0.0 if total > 0 else nan, 1, 1)
    if repeated < MIN_REPEATED_SETS or not total > 0:
        return VarianceSplit(total, nan, nan, nan, n_sets, repeated)
    noise = float(np.average(within, weights=sizes[pairs] - 1))
    parameter = max(total - noise, 0.0)
    return VarianceSplit(total, parameter, noise, float(np.clip(parameter / total, 0.0, 1.0)), n_sets, repeated)
