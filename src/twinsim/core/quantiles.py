"""Quantiles and tail probabilities of Student's t and the normal distribution, in pure Python.

Every interval twinsim prints needs a t quantile; SciPy's (``scipy.special.stdtrit``) costs 0.13 s of start-up to
import, more than a thousand Rwanda runs take to set up. For integer degrees of freedom the t distribution function
is a finite series (Abramowitz & Stegun 1964, 26.7.3-4), so Newton's method on it gives the quantile to double
precision; above :data:`SERIES_DF` degrees of freedom the Cornish-Fisher expansion (26.7.5, to 1/df^4) is within
1e-13 of it for p up to 0.995. Tested against SciPy (relative differences below 1e-12 for p up to 0.995).
"""

from __future__ import annotations

import functools
import math
from statistics import NormalDist

__all__ = ["normal_quantile", "t_quantile", "t_two_sided_p"]

#: Degrees of freedom up to which the quantile is found on the finite series; above, the expansion is exact enough.
SERIES_DF = 500


def normal_quantile(p: float) -> float:
    """The ``p`` quantile of the standard normal distribution (Wichura's AS 241, as in :mod:`statistics`)."""
    return NormalDist().inv_cdf(p)


@functools.lru_cache(maxsize=1024)
def t_quantile(df: int, p: float) -> float:
    """The ``p`` quantile of Student's t distribution with ``df`` (a positive integer) degrees of freedom."""
    if df < 1 or int(df) != df:
        raise ValueError(f"t_quantile: degrees of freedom must be a positive integer (got {df})")
    if not 0.0 < p < 1.0:
        raise ValueError(f"t_quantile: p must lie in (0, 1) (got {p})")
    df = int(df)
    if p < 0.5:
        return -t_quantile(df, 1.0 - p)
    if p == 0.5:
        return 0.0
    t = _cornish_fisher(df, normal_quantile(p))
    if df > SERIES_DF:
        return t
    target = 2.0 * p - 1.0  # P(|T| <= t)
    log_scale = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    for _ in range(50):
        density = math.exp(log_scale - (df + 1) / 2 * math.log1p(t * t / df))
        step = (_central_probability(df, t) - target) / (2.0 * density)
        t -= step
        if abs(step) <= 1e-15 * abs(t):
            break
    return t


def t_two_sided_p(df: int, t: float) -> float:
    """``P(|T| >= |t|)`` for Student's t with ``df`` (a positive integer) degrees of freedom: a two-sided p-value.

    From the same finite series as :func:`t_quantile`: absolute error below 1e-14 (p-values smaller than that are
    not resolved); NaN for a NaN ``t``.
    """
    if df < 1 or int(df) != df:
        raise ValueError(f"t_two_sided_p: degrees of freedom must be a positive integer (got {df})")
    if math.isnan(t):
        return math.nan
    return max(0.0, 1.0 - _central_probability(int(df), abs(t)))


def _central_probability(df: int, t: float) -> float:
    """``P(|T| <= t)`` for ``t >= 0`` by the finite series of Abramowitz & Stegun 26.7.3 (odd df) and 26.7.4 (even)."""
    theta = math.atan(t / math.sqrt(df))
    cos2, sin = math.cos(theta) ** 2, math.sin(theta)
    if df % 2 == 0:
        term = total = 1.0
        for k in range(1, df // 2):
            term *= cos2 * (2 * k - 1) / (2 * k)
            total += term
        return sin * total
    if df == 1:
        return 2.0 * theta / math.pi
    term = total = math.cos(theta)
    for k in range(1, (df - 1) // 2):
        term *= cos2 * (2 * k) / (2 * k + 1)
        total += term
    return 2.0 / math.pi * (theta + sin * total)


def _cornish_fisher(df: int, x: float) -> float:
    """The t quantile from the normal quantile ``x`` by the expansion in 1/df of A&S 26.7.5 (four terms)."""
    g1 = (x**3 + x) / 4
    g2 = (5 * x**5 + 16 * x**3 + 3 * x) / 96
    g3 = (3 * x**7 + 19 * x**5 + 17 * x**3 - 15 * x) / 384
    g4 = (79 * x**9 + 776 * x**7 + 1482 * x**5 - 1920 * x**3 - 945 * x) / 92160
    return x + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4
