"""Value of information from a probabilistic sensitivity analysis: EVPI, EVPPI, per decision and per population.

Given net benefits per parameter draw and option (``nb``: draws x options) the expected value of perfect
information is ``EVPI = E[max_d NB_d] - max_d E[NB_d]``: what a donor would pay, per decision, to remove all
uncertainty before choosing. The partial value of a parameter or group ``theta`` (EVPPI) replaces each option's net
benefit by its expectation given ``theta``, ``g_d(theta) = E[NB_d | theta]``, estimated by regression of the net
benefit on ``theta`` over the PSA draws (Strong, Oakley & Brennan 2014, Med Decis Making 34:311-326: the
non-parametric regression method; here a penalised additive regression spline, its smoothness chosen by generalised
cross-validation, which plays the part of their generalised additive model). Then
``EVPPI = mean(max_d g_d) - max_d mean(g_d)``.

A simulated programme's net benefit has replicate noise that no study removes, so :func:`evpi` estimates the EVPI as
the EVPPI of *all* uncertain inputs (the regression averages the noise out); :func:`evpi_raw` is the plain formula on
the draws (an upper bound when there is noise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from twinsim.errors import TwinsimError

__all__ = [
    "VoiResult",
    "evpi",
    "evpi_raw",
    "evppi",
    "evppi_curve",
    "parse_population",
    "population_multiplier",
    "regression_fit",
]

#: Interior knots of each input's spline basis (fewer with few draws).
MAX_KNOTS = 6
#: Smoothing penalties tried by generalised cross-validation.
PENALTIES = np.logspace(-6, 3, 28)


def evpi_raw(nb: np.ndarray) -> float:
    """``E[max_d NB_d] - max_d E[NB_d]`` over the rows of ``nb`` (draws x options)."""
    nb = np.asarray(nb, dtype=float)
    return float(nb.max(axis=1).mean() - nb.mean(axis=0).max())


def evppi(nb: np.ndarray, inputs: np.ndarray) -> float:
    """The expected value of partial perfect information of ``inputs`` (draws x k, or one column).

    Regression method (Strong, Oakley & Brennan 2014): each option's net benefit, relative to the first option's,
    is regressed on the inputs; the fitted values stand for ``E[NB_d | inputs]``.
    """
    nb = np.asarray(nb, dtype=float)
    fitted = regression_fit(nb[:, 1:] - nb[:, :1], inputs)
    fitted = np.column_stack([np.zeros(len(nb)), fitted])
    return max(float(fitted.max(axis=1).mean() - fitted.mean(axis=0).max()), 0.0)


def evppi_curve(effects: np.ndarray, costs: np.ndarray, inputs: np.ndarray, wtps: Sequence[float]) -> np.ndarray:
    """EVPPI of ``inputs`` at every willingness to pay ``wtps``, from one regression of effects and one of costs.

    Net benefit is linear in the willingness to pay, so ``E[NB_d | inputs] = wtp * E[effect_d | inputs] -
    E[cost_d | inputs]``: two fits (of each option's effect and cost relative to the first option's) give the whole
    curve.
    """
    effects, costs = np.asarray(effects, dtype=float), np.asarray(costs, dtype=float)
    k = effects.shape[1] - 1
    fitted = regression_fit(np.hstack([effects[:, 1:] - effects[:, :1], costs[:, 1:] - costs[:, :1]]), inputs)
    fit_effect, fit_cost = fitted[:, :k], fitted[:, k:]
    out = np.empty(len(wtps))
    for i, wtp in enumerate(wtps):
        fitted = np.column_stack([np.zeros(len(effects)), wtp * fit_effect - fit_cost])
        out[i] = max(float(fitted.max(axis=1).mean() - fitted.mean(axis=0).max()), 0.0)
    return out


def evpi(nb: np.ndarray, inputs: np.ndarray) -> float:
    """The EVPI of a simulation with replicate noise: the EVPPI of all its uncertain ``inputs`` together."""
    return evppi(nb, inputs)


def regression_fit(y: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """Fitted values of a penalised additive cubic-spline regression of each column of ``y`` on ``inputs``.

    Each input (standardised) contributes a linear term and truncated-cubic terms at knots placed at its quantiles;
    the cubic terms are penalised by a ridge whose size is chosen by generalised cross-validation (one per column of
    ``y``), so a linear dependence is fitted exactly and a curved one as smoothly as the draws support.
    """
    y = np.asarray(y, dtype=float)
    y = y[:, None] if y.ndim == 1 else y
    basis, penalised = _basis(np.asarray(inputs, dtype=float))
    scale = basis.std(axis=0)
    scale[scale == 0] = 1.0
    z = (basis - basis.mean(axis=0)) / scale
    # Demmler-Reinsch: with Z'Z = R'R and R^-T P R^-1 = U diag(d) U', the penalised fit is Q diag(1/(1 + lam n d)) Q'y
    # with Q = Z R^-1 U; one decomposition serves every penalty and every column of y.
    gram = z.T @ z + 1e-9 * len(y) * np.eye(z.shape[1])
    r = np.linalg.cholesky(gram).T
    r_inv = np.linalg.solve(r, np.eye(len(r)))
    d, u = np.linalg.eigh(r_inv.T @ np.diag(penalised) @ r_inv)
    q = z @ (r_inv @ u)
    means = y.mean(axis=0)
    qty = q.T @ (y - means)
    out = np.empty_like(y)
    n = len(y)
    for col in range(y.shape[1]):
        target = y[:, col] - means[col]
        best: tuple[float, np.ndarray] | None = None
        for lam in PENALTIES:
            shrink = 1.0 / (1.0 + lam * n * np.maximum(d, 0.0))
            fit = q @ (shrink * qty[:, col])
            df = 1 + float(shrink.sum())
            rss = float(((target - fit) ** 2).sum())
            gcv = n * rss / max(n - df, 1.0) ** 2
            if best is None or gcv < best[0]:
                best = (gcv, fit)
        out[:, col] = best[1] + means[col] if best is not None else means[col]
    return out


def _basis(inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Additive spline basis of ``inputs`` (rank-scaled) and which of its columns are penalised."""
    x = inputs[:, None] if inputs.ndim == 1 else inputs
    n = len(x)
    knots = int(np.clip(n // 60, 1, MAX_KNOTS))
    columns, penalised = [], []
    for j in range(x.shape[1]):
        if np.ptp(x[:, j]) == 0:
            continue
        value = (x[:, j] - x[:, j].mean()) / x[:, j].std()
        columns.append(value)
        penalised.append(0.0)
        for knot in np.quantile(value, np.linspace(0, 1, knots + 2)[1:-1]):
            columns.append(np.clip(value - knot, 0, None) ** 3)
            penalised.append(1.0)
    if not columns:
        return np.zeros((n, 1)), np.zeros(1)
    return np.column_stack(columns), np.asarray(penalised)


def population_multiplier(programmes_per_year: float, years: int, discount: float) -> float:
    """Decisions informed over ``years`` years of ``programmes_per_year`` programmes, discounted at ``discount``.

    ``sum_{t=0}^{years-1} programmes_per_year / (1 + discount) ** t``: the population EVPI is the per-decision EVPI
    times this.
    """
    if years < 1 or programmes_per_year < 0 or discount < 0:
        raise ValueError("population: years >= 1, programmes per year >= 0 and discount >= 0")
    return float(programmes_per_year * sum((1 + discount) ** -t for t in range(years)))


def parse_population(text: str) -> tuple[float, int, float]:
    """Parse ``PROGRAMMES:YEARS:DISCOUNT`` (e.g. ``1:10:0.03``)."""
    parts = text.split(":")
    try:
        programmes, years, discount = float(parts[0]), int(parts[1]), float(parts[2])
    except (ValueError, IndexError):
        raise TwinsimError(f"--population {text}: expected PROGRAMMES:YEARS:DISCOUNT, e.g. 1:10:0.03") from None
    if len(parts) != 3 or not (0 < programmes <= 1e6 and 1 <= years <= 200 and 0 <= discount <= 1):
        raise TwinsimError(f"--population {text}: need 0 < PROGRAMMES <= 1e6, 1 <= YEARS <= 200 and 0 <= DISCOUNT <= 1")
    return programmes, years, discount


@dataclass(frozen=True)
class VoiResult:
    """Value of information at one or more willingness-to-pay values.

    Attributes:
        wtp: willingness to pay per indicator point, one per row of the curves.
        evpi: per decision (one programme), at each ``wtp``.
        evppi: input or group name -> EVPPI at each ``wtp``.
        groups: group name -> the inputs in it.
        population: the multiplier from one decision to the stated population (1: per decision).

    """

    wtp: np.ndarray
    evpi: np.ndarray
    evppi: Mapping[str, np.ndarray]
    groups: Mapping[str, Sequence[str]]
    population: float = 1.0

    def top(self, k: int = 5, at: int | None = None) -> list[tuple[str, float]]:
        """The ``k`` single inputs (not groups) with the largest EVPPI at ``wtp[at]`` (default: the largest EVPI)."""
        at = int(np.argmax(self.evpi)) if at is None else at
        singles = [(name, float(v[at])) for name, v in self.evppi.items() if name not in self.groups]
        return sorted(singles, key=lambda item: -item[1])[:k]
