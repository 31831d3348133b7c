"""When the answer flips: scenario discovery over the draws of a probabilistic sensitivity analysis.

For each option that is the best buy in some draws but not all, PRIM (the Patient Rule Induction Method, Friedman &
Fisher 1999; used for scenario discovery by Bryant & Lempert 2010) peels the space of uncertain inputs down to a box
in which that option is the best buy in most draws. The box is reported with its *coverage* (the share of the draws
where the option is best that lie in the box) and its *density* (the share of the box's draws where it is best), as
a plain sentence. PRIM is the EMA Workbench's (``ema_workbench.analysis.prim``, Kwakkel 2017), imported only here.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Region", "discover_regions"]

#: Least share of draws in which an option must be best (and most, 1 - this) for its region to be sought.
MIN_SHARE = 0.05
#: Most inputs a reported box may restrict (more would not read as a sentence).
MAX_RESTRICTED = 3
#: Inputs PRIM peels on: the ones that differ most where the option wins (see :func:`_screen`).
SCREENED_INPUTS = 8
#: Least share of the option's wins a reported box must hold.
MIN_COVERAGE = 0.5
#: Least share of all draws a reported box must hold.
MIN_MASS = 0.05
#: PRIM's peeling stops at this density (or twice the option's share, if less).
MIN_DENSITY = 0.5


@dataclass(frozen=True)
class Region:
    """Where one option is the best buy.

    Attributes:
        option: the option's name.
        share: the share of all draws in which it is best.
        coverage: the share of those draws that lie in the box.
        density: the share of the box's draws in which it is best.
        mass: the share of all draws in the box.
        limits: restricted input -> (low, high) of the box (None: the input's own end).

    """

    option: str
    share: float
    coverage: float
    density: float
    mass: float
    limits: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)

    def sentence(self, units: dict[str, str] | None = None) -> str:
        """The region in plain words."""
        share = f"{self.option} is the best buy in {self.share:.0%} of draws"
        if not self.limits:
            return share + "; no region of the inputs concentrates them (they are spread over the whole space)."
        conditions = " and ".join(_condition(k, lo, hi) for k, (lo, hi) in self.limits.items())
        return (
            f"{share}, mostly where {conditions}: {self.coverage:.0%} of those draws lie there (coverage), and there"
            f" it is the best buy in {self.density:.0%} of draws (density; the region holds {self.mass:.0%} of all"
            " draws)."
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for JSON)."""
        return {
            "option": self.option,
            "share": self.share,
            "coverage": self.coverage,
            "density": self.density,
            "mass": self.mass,
            "limits": {k: list(v) for k, v in self.limits.items()},
            "sentence": self.sentence(),
        }


def _condition(key: str, low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{key} is {_num(low)} to {_num(high)}"
    if low is not None:
        return f"{key} > {_num(low)}"
    return f"{key} < {_num(high)}"


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def discover_regions(inputs: Any, best: np.ndarray, names: list[str]) -> list[Region]:
    """For each option best in between 5% and 95% of draws, the PRIM box where it is best.

    Args:
        inputs: a DataFrame, draws x uncertain inputs (their values).
        best: per draw, the index (into ``names``) of the option with the highest net benefit.
        names: the options' names.

    Returns:
        One :class:`Region` per option that is best in some draws but not nearly all, largest share first.

    """
    best = np.asarray(best)
    varying = inputs.loc[:, inputs.nunique() > 1].reset_index(drop=True)
    regions = []
    for i, name in enumerate(names):
        hit = best == i
        share = float(hit.mean())
        if share < MIN_SHARE or share > 1 - MIN_SHARE or varying.shape[1] == 0:
            continue
        regions.append(_region(varying, hit, name, share))
    return sorted(regions, key=lambda r: -r.share)


def _screen(x: Any, hit: np.ndarray, keep: int) -> Any:
    """The ``keep`` inputs whose ranks differ most between the draws where the option wins and the rest.

    PRIM peels one input at a time; screening to the inputs that carry a signal keeps its boxes readable and its
    cost low (Bryant & Lempert 2010 restrict the dimensions the same way).
    """
    if x.shape[1] <= keep:
        return x
    ranks = x.rank().to_numpy()
    centred = ranks - ranks.mean(axis=0)
    signal = np.abs(centred[hit].mean(axis=0) - centred[~hit].mean(axis=0)) / np.maximum(centred.std(axis=0), 1e-12)
    order = np.argsort(-signal, kind="stable")[:keep]
    return x.iloc[:, np.sort(order)]


def _region(x: Any, hit: np.ndarray, name: str, share: float) -> Region:
    x = _screen(x, hit, SCREENED_INPUTS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("EMA").setLevel(logging.ERROR)
        from ema_workbench.analysis import prim

        threshold = min(max(MIN_DENSITY, 2 * share), 0.95)
        box = prim.Prim(x, hit, threshold=threshold, peel_alpha=0.05).find_box()
    trajectory = box.peeling_trajectory
    # A box a reader can use: at most MAX_RESTRICTED inputs, at least MIN_MASS of the draws, holding at least
    # MIN_COVERAGE of the option's wins and richer in them than the draws at large; of those, the densest.
    usable = trajectory[
        (trajectory["res_dim"] <= MAX_RESTRICTED)
        & (trajectory["mass"] >= MIN_MASS)
        & (trajectory["coverage"] >= MIN_COVERAGE)
        & (trajectory["density"] > share)
    ]
    if usable.empty:
        return Region(name, share, 1.0, share, 1.0, {})
    pick = int(usable.sort_values(["density", "coverage"], ascending=False).index[0])
    row = trajectory.loc[pick]
    lims = box.box_lims[pick]
    limits: dict[str, tuple[float | None, float | None]] = {}
    for key in x.columns:
        low, high = float(lims[key].iloc[0]), float(lims[key].iloc[1])
        lo_all, hi_all = float(x[key].min()), float(x[key].max())
        restricted_low = low > lo_all + 1e-12 * max(abs(lo_all), 1)
        restricted_high = high < hi_all - 1e-12 * max(abs(hi_all), 1)
        if restricted_low or restricted_high:
            limits[str(key)] = (low if restricted_low else None, high if restricted_high else None)
    return Region(name, share, float(row["coverage"]), float(row["density"]), float(row["mass"]), limits)
