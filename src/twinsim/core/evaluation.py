"""Programme evaluation: the comparisons an evaluator makes on indicators.

The Rwanda TPN paper compared, per topic, the indicator change among institutions that selected the
topic with the change among institutions (of the kinds it applies to) that did not. An evaluator sees
the indicators only at survey months and with measurement error (``TwinningModel.measurement_error``); on those
observations it makes the paper's comparison and a difference-in-differences regression with
cluster-robust standard errors by institution (:func:`did_regression`, in NumPy).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from twinsim.core.quantiles import t_quantile, t_two_sided_p

if TYPE_CHECKING:
    import pandas as pd


__all__ = [
    "Interval",
    "did_regression",
    "evaluate_observed",
    "evaluate_observed_columns",
    "interval95",
    "json_number",
    "selected_vs_not",
    "selected_vs_not_arrays",
    "survey_months",
]

#: Functions here take a :class:`twinsim.scenario.Scenario` as ``Any``: the scenario layer sits above this one.


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
    import pandas as pd

    arrays = selected_vs_not_arrays(change, selected, applicable)
    return pd.DataFrame(arrays, index=pd.Index(topics, name="topic"))


def selected_vs_not_arrays(change: np.ndarray, selected: np.ndarray, applicable: np.ndarray) -> dict[str, np.ndarray]:
    """The columns of :func:`selected_vs_not` as arrays (no DataFrame: cheap inside sweeps).

    Leading axes (e.g. replicates) are kept: the arrays are ``(..., institutions, topics)``.
    """
    chosen = selected & applicable
    other = ~selected & applicable
    n_sel = chosen.sum(axis=-2)
    n_not = other.sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_sel = np.where(n_sel > 0, sum_over_institutions(change * chosen) / n_sel, np.nan)
        mean_not = np.where(n_not > 0, sum_over_institutions(change * other) / n_not, np.nan)
    return {
        "estimate": mean_sel - mean_not,
        "mean_selected": mean_sel,
        "mean_not_selected": mean_not,
        "n_selected": n_sel,
        "n_not_selected": n_not,
    }


def sum_over_institutions(values: np.ndarray) -> np.ndarray:
    """Sum over the institutions axis (second to last) of ``(..., institutions, topics)``.

    The institutions are moved to a contiguous last axis first, so each sum is one pairwise reduction whose
    result does not depend on the leading axes (replicate ``r`` of a batch equals the single run, to the bit).
    """
    return np.ascontiguousarray(np.moveaxis(values, -2, -1)).sum(axis=-1)


def json_number(value: float) -> float | None:
    """A number for a JSON report: rounded to 6 digits; NaN and infinities (which JSON cannot hold) become None."""
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None


class Interval(NamedTuple):
    """A mean and its 95% confidence interval; unpacks like ``(mean, low, high)``."""

    mean: float
    ci95_low: float
    ci95_high: float

    def __str__(self) -> str:
        """``214,776 (95% CI 211,146 to 218,406)``; ``5.92 (95% CI 5.49 to 6.34)``: never exponent notation."""
        return f"{_readable(self.mean)} (95% CI {_readable(self.ci95_low)} to {_readable(self.ci95_high)})"


def _readable(value: float) -> str:
    """A number for people: whole numbers with thousands separators from 1,000 up, else three significant digits."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    digits = max(0, 2 - math.floor(math.log10(abs(value)))) if value else 0
    return f"{value:,.{digits}f}"


def interval95(values: np.ndarray | pd.Series) -> Interval:
    """Mean of ``values`` and the t-based 95% confidence interval of that mean (NaNs dropped).

    A single value gives an interval of zero width at the value; no values give NaNs.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return Interval(math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if x.size == 1:
        return Interval(mean, mean, mean)
    half = float(t_quantile(x.size - 1, 0.975) * x.std(ddof=1) / math.sqrt(x.size))
    return Interval(mean, mean - half, mean + half)


def survey_months(scenario: Any) -> list[int]:
    """Months of the evaluator's surveys: baseline, the optional midline, endline."""
    ev = scenario.evaluation
    months = [ev.baseline_month, ev.midline_month, scenario.endline_month]
    return [m for m in months if m is not None]


def did_regression(values: np.ndarray, selected: np.ndarray) -> dict[str, float]:
    """Difference-in-differences of selectors against non-selectors on one topic.

    Ordinary least squares of the measured indicator on survey fixed effects, a selector dummy and
    ``selected x post`` (post: every survey after the baseline), with standard errors clustered by
    institution: the sandwich ``(X'X)^-1 (sum_g X_g' u_g u_g' X_g) (X'X)^-1`` with the small-sample factor
    ``G / (G - 1) * (N - 1) / (N - K)`` and a t test with ``G - 1`` degrees of freedom (Cameron & Miller 2015,
    J. Human Resources 50:317; statsmodels' ``cov_type="cluster"`` with ``use_t=True``, equal to it within
    1e-10, tested). With a baseline and an endline only, the estimate equals the selected-vs-not difference of
    measured changes.

    Args:
        values: surveys x institutions measured indicator (baseline first) of the institutions the topic
            applies to.
        selected: per institution, True where it chose the topic.

    Returns:
        ``estimate``, ``se``, ``ci95_low``, ``ci95_high``, ``p_value`` (NaN when a group has fewer than
        one member or there are fewer than three institutions).

    """
    n_surveys, n = values.shape
    sel = np.asarray(selected, dtype=float)
    if n < 3 or sel.sum() == 0 or sel.sum() == n:
        return dict.fromkeys(("estimate", "se", "ci95_low", "ci95_high", "p_value"), math.nan)
    survey = np.repeat(np.arange(n_surveys), n)
    columns = [np.ones(n_surveys * n), np.tile(sel, n_surveys)]
    columns += [(survey == s).astype(float) for s in range(1, n_surveys)]
    columns.append(np.tile(sel, n_surveys) * (survey > 0))
    x = np.column_stack(columns)
    pinv = np.linalg.pinv(x)  # as statsmodels: coefficients pinv(X) y, bread pinv(X) pinv(X)'
    coef = pinv @ values.ravel()
    residual = values.ravel() - x @ coef
    institution = np.tile(np.arange(n), n_surveys)
    scores = np.stack([np.bincount(institution, x[:, k] * residual, n) for k in range(x.shape[1])], axis=1)
    bread = pinv @ pinv.T
    nobs, k = x.shape
    cov = bread @ (scores.T @ scores) @ bread * (n / (n - 1)) * ((nobs - 1) / (nobs - k))
    estimate = float(coef[-1])
    with np.errstate(invalid="ignore", divide="ignore"):  # a degenerate cluster covariance gives NaN, no warning
        se = float(np.sqrt(cov[-1, -1]))
        half = t_quantile(n - 1, 0.975) * se
        p_value = t_two_sided_p(n - 1, estimate / se) if se > 0 else math.nan
    return {
        "estimate": estimate,
        "se": se,
        "ci95_low": estimate - half,
        "ci95_high": estimate + half,
        "p_value": p_value,
    }


def evaluate_observed(
    observed: np.ndarray, selected: np.ndarray, applicable: np.ndarray, topics: list[str]
) -> pd.DataFrame:
    """The evaluator's analyses per topic on measured indicators.

    Args:
        observed: surveys x institutions x topics measured indicators (baseline first, endline last).
        selected: institutions x topics, True where the institution chose the topic.
        applicable: institutions x topics, True where the topic applies to the institution.
        topics: topic names, in column order.

    Returns:
        One row per topic: ``selected_vs_not`` (the paper's comparison of measured endline-minus-baseline
        changes), ``n_selected``, ``n_not_selected`` and the difference-in-differences regression's
        ``did_estimate``, ``did_se``, ``did_ci95_low``, ``did_ci95_high``, ``did_p_value``.

    """
    import pandas as pd

    return pd.DataFrame(evaluate_observed_columns(observed, selected, applicable), index=pd.Index(topics, name="topic"))


def evaluate_observed_columns(observed: np.ndarray, selected: np.ndarray, applicable: np.ndarray) -> dict[str, list]:
    """The columns of :func:`evaluate_observed`, one value per topic (no DataFrame: cheap inside experiments)."""
    change = np.nan_to_num(observed[-1] - observed[0])
    naive = selected_vs_not_arrays(change, selected, applicable)
    columns: dict[str, list] = {
        "selected_vs_not": naive["estimate"].tolist(),
        "n_selected": naive["n_selected"].tolist(),
        "n_not_selected": naive["n_not_selected"].tolist(),
    }
    for t in range(applicable.shape[1]):
        rows = applicable[:, t]
        for key, value in did_regression(observed[:, rows, t], selected[rows, t]).items():
            columns.setdefault(f"did_{key}", []).append(value)
    return columns
