"""Programme evaluation: the comparisons an evaluator makes on indicators.

The Rwanda TPN paper compared, per topic, the indicator change among institutions that selected the
topic with the change among institutions (of the kinds it applies to) that did not.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["interval95", "selected_vs_not", "selected_vs_not_arrays"]


def selected_vs_not(
    change: np.ndarray, selected: np.ndarray, applicable: np.ndarray, topics: list[str]
) -> pd.DataFrame:
    """Mean change among selectors minus mean change among non-selectors, per topic.

    Args:
        change: institutions x topics indicator change (end minus baseline), in indicator points.
        selected: institutions x topics, True where the institution chose the topic.
        applicable: institutions x topics, True where the topic applies to the institution.
        topics: topic names, in column order.

    Returns:
        One row per topic (index ``topic``): estimate, mean_selected, mean_not_selected, n_selected,
        n_not_selected. The estimate is NaN when either group is empty.

    """
    arrays = selected_vs_not_arrays(change, selected, applicable)
    return pd.DataFrame(arrays, index=pd.Index(topics, name="topic"))


def selected_vs_not_arrays(change: np.ndarray, selected: np.ndarray, applicable: np.ndarray) -> dict[str, np.ndarray]:
    """The columns of :func:`selected_vs_not` as arrays (no DataFrame: cheap inside sweeps)."""
    chosen = selected & applicable
    other = ~selected & applicable
    n_sel = chosen.sum(axis=0)
    n_not = other.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_sel = np.where(n_sel > 0, (change * chosen).sum(axis=0) / n_sel, np.nan)
        mean_not = np.where(n_not > 0, (change * other).sum(axis=0) / n_not, np.nan)
    return {
        "estimate": mean_sel - mean_not,
        "mean_selected": mean_sel,
        "mean_not_selected": mean_not,
        "n_selected": n_sel,
        "n_not_selected": n_not,
    }


def interval95(values: np.ndarray | pd.Series) -> tuple[float, float, float]:
    """Mean of ``values`` and the t-based 95% confidence interval of that mean (NaNs dropped).

    A single value gives an interval of zero width at the value; no values give NaNs.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if x.size == 1:
        return (mean, mean, mean)
    from scipy import stats  # imported here: scipy.stats adds half a second to CLI start-up

    half = float(stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return (mean, mean - half, mean + half)
