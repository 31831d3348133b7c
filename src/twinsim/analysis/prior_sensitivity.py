"""How much the prior decides a calibration: prior vs posterior predictive, predictive p-values, a second prior.

Three questions a reader of a calibration should be able to answer from its output:

1. **Did the data move the prediction?** Each target's *prior predictive* (the first ABC-SMC generation: parameter
   sets drawn from the prior, one simulated trial each) beside its *posterior predictive*. When the two barely
   differ, the answer is the prior's.
2. **Does the model reproduce the data?** The posterior predictive p-value of each published value: two-sided,
   ``2 min(P(x >= y), P(x <= y))`` over the simulated trials (Gelman, Meng & Stern 1996). Near 0: the calibrated
   model rarely produces what was published.
3. **Would another reasonable prior change the answer?** The same calibration under a second prior family,
   log-uniform over the same ranges (a range from 0 starts at :data:`LOG_FLOOR` of its upper end): its posterior
   predictive beside the first. (Reweighting the first fit's particles by the ratio of the priors would save the
   runs, but on the Rwanda fit its effective sample size falls to about 5: the second fit is run.) Where a
   predictive mean moves by more than half a posterior predictive standard deviation, the output says the answer
   depends on the prior.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["LOG_FLOOR", "prior_sensitivity", "sensitivity_sentences"]

#: Where a range starts at 0, the log-uniform prior starts at this share of its upper end.
LOG_FLOOR = 1e-3
#: A move of the predictive mean by more than this many posterior predictive standard deviations is prior-dependent.
DEPENDENT_SHIFT = 0.5


def _moments(values: Any, weights: Any = None) -> tuple[float, float]:
    x = np.asarray(values, dtype=float)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    keep = np.isfinite(x) & (w > 0)
    if not keep.any():
        return float("nan"), float("nan")
    mean = float(np.average(x[keep], weights=w[keep]))
    return mean, float(np.sqrt(np.average((x[keep] - mean) ** 2, weights=w[keep])))


def _ppp(draws: Any, observed: float) -> float:
    """Two-sided posterior predictive p-value of ``observed`` among simulated ``draws``."""
    x = np.asarray(draws, dtype=float)
    x = x[np.isfinite(x)]
    if not len(x):
        return float("nan")
    return float(min(1.0, 2 * min(np.mean(x >= observed), np.mean(x <= observed))))


def prior_sensitivity(
    first: dict[str, Any],
    second: dict[str, Any],
    parameters: Sequence[str],
    targets: Sequence[tuple[str, float]],
    extra: Sequence[str] = ("mean_gain", "sustained_gain"),
) -> dict[str, Any]:
    """The prior-sensitivity report of two fits of the same targets under two prior families.

    Args:
        first: the fit under the main prior: ``prior`` (its family), ``design`` (prior draws with their simulated
            targets, a DataFrame), ``predictive`` (posterior predictive draws, a DataFrame), ``particles``
            (posterior parameter sets, sets x parameters) and ``weights``.
        second: the same under the second prior family.
        parameters: the calibrated parameters, in the particles' column order.
        targets: ``(key, published value)`` per target.
        extra: other outputs of the predictive draws to report under both priors (what a donor reads: the
            programme's mean indicator gain at the endline and after the follow-up).

    Returns:
        ``{"priors", "outputs": {key: {...}}, "parameters": {name: {...}}}``.

    """
    published = dict(targets)
    outputs: dict[str, Any] = {}
    for key in [*published, *(k for k in extra if k in first["predictive"] and k in second["predictive"])]:
        mean, sd = _moments(first["predictive"][key])
        other, _ = _moments(second["predictive"][key])
        row: dict[str, Any] = {
            "posterior_predictive_mean": mean,
            "posterior_predictive_sd": sd,
            "second_posterior_predictive_mean": other,
            "prior_dependent": bool(abs(other - mean) > DEPENDENT_SHIFT * sd),
        }
        if key in first["design"]:
            prior_mean, prior_sd = _moments(first["design"][key])
            row |= {
                "prior_predictive_mean": prior_mean,
                "prior_predictive_sd": prior_sd,
                "second_prior_predictive_mean": _moments(second["design"][key])[0],
                "data_shift": (mean - prior_mean) / prior_sd if prior_sd > 0 else float("nan"),
            }
        if key in published:
            row |= {
                "published": published[key],
                "ppp": _ppp(first["predictive"][key], published[key]),
                "second_ppp": _ppp(second["predictive"][key], published[key]),
            }
        outputs[key] = row
    params = {}
    for j, name in enumerate(parameters):
        mean, sd = _moments(first["particles"][:, j], first["weights"])
        other, other_sd = _moments(second["particles"][:, j], second["weights"])
        params[name] = {"posterior_mean": mean, "posterior_sd": sd, "second_mean": other, "second_sd": other_sd}
    return {"priors": [first["prior"], second["prior"]], "outputs": outputs, "parameters": params}


def sensitivity_sentences(report: dict[str, Any]) -> list[str]:
    """The report in words: what the data moved, how well the model reproduces them, what depends on the prior."""
    main, other = report["priors"]
    lines = []
    for key, row in report["outputs"].items():
        text = f"{key}: posterior predictive {row['posterior_predictive_mean']:.2f}"
        if "prior_predictive_mean" in row:
            text += (
                f" (prior predictive {row['prior_predictive_mean']:.2f}: the data moved it by"
                f" {row['data_shift']:+.2f} prior sd)"
            )
        if "ppp" in row:
            text += f"; published {row['published']:g}, predictive p-value {row['ppp']:.2f}"
        text += f"; under a {other} prior {row['second_posterior_predictive_mean']:.2f}"
        text += f" (the {main} prior's answer depends on the prior)." if row["prior_dependent"] else "."
        lines.append(text)
    return lines
