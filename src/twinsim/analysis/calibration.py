"""Calibration: fit uncertain parameters to published effects by approximate Bayesian computation.

Method (documented in docs/evaluation.md): ABC rejection (Pritchard et al. 1999), optionally with
local-linear regression adjustment (Beaumont, Zhang & Balding 2002, Genetics 162:2025).

1. Prior: independent uniform distributions over each parameter's schema ``plausible`` range; the
   design is a seeded Latin hypercube (``scipy.stats.qmc.LatinHypercube``) of ``budget // k`` points.
2. Each design point runs ``k`` replicates of its own (independent random numbers) and its summary is
   the mean of each target statistic over them, an estimate of the expected effect.
3. Distance: ``sqrt(sum(((summary - value) / sd) ** 2))`` over the targets, ``sd`` being each target's
   standard error. Targets published *because* they were significant (``significant = true``) add
   :func:`significance_penalty`, so the distance is ``-2 log`` of a normal likelihood truncated to significant
   values (the "winner's curse": a value reported only when significant overstates the effect). The nearest
   ``accept`` share of points is accepted (ABC rejection, equal weights).
4. Refinement: every accepted set runs ``refine_replicates`` fresh replicates; its weight is the Gaussian
   kernel ``exp(-d^2 / 2)`` of its refined distance ``d`` (with the significance correction: the truncated
   likelihood itself). ABC with a Gaussian kernel of the targets' standard errors is exact when the published
   value is the expected effect plus normal error of that size (Wilkinson 2013, Stat. Appl. Genet. Mol. Biol.
   12:129). The refined summaries have less noise
   than the design's, which keeps points that were accepted only by luck from dominating. The point
   estimate is the accepted set of highest weight: a real parameter set on the posterior ridge that
   reproduces the targets in expectation (a posterior mean of a curved ridge need not).
5. Optional (``method = "loclinear"``): on the logit scale of each parameter's range, accepted values
   are corrected by a weighted linear regression on the summaries (Epanechnikov weights), which removes
   the remaining first-order dependence on the distance to the target. It needs many accepted points
   (tens per statistic): with few it extrapolates, so plain rejection is the default.

The result is a weighted posterior sample (a CSV file that ``twinsim run --posterior`` reads), a point
estimate, and a posterior predictive check.
"""

from __future__ import annotations

import fcntl
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from twinsim.analysis.abc_smc import abc_smc, expected_fit_ranking
from twinsim.analysis.prior_sensitivity import LOG_FLOOR, prior_sensitivity
from twinsim.analysis.targets import CalibrationSpec, SMCSettings, Target, load_targets
from twinsim.core.evaluation import interval95
from twinsim.errors import ScenarioError
from twinsim.experiments.engine import run, shared_executor
from twinsim.experiments.experiment import Arm, Experiment
from twinsim.experiments.posterior import Posterior, save_posterior
from twinsim.scenario import (
    Scenario,
    as_scenario,
    bundled_scenarios,
    load_scenario,
    plausible_range,
    resolve_scenario_path,
)

__all__ = [
    "CalibrationResult",
    "CalibrationSpec",
    "SMCSettings",
    "Target",
    "TargetFit",
    "abc_regression_adjust",
    "abc_reject",
    "calibrate",
    "generation_seed",
    "load_targets",
    "posterior_predictive",
    "prior_bounds",
    "simulate_summaries",
    "write_outputs",
    "write_point_estimate",
]

_SMC_ENTROPY_TAG = 0x534D43  # "SMC": ABC-SMC generations' model runs never share a stream with other experiments

# Summary statistics read at the end of the programme: runs for them can skip the follow-up months.
_PROGRAMME_PERIOD_STATISTICS = (
    "selected_vs_not.",
    "measured_selected_vs_not.",
    "n_selected.",
    "n_not_selected.",
    "mean_gain",
)


def output_families(keys: list[str]) -> tuple[str, ...]:
    """The run output families that hold ``keys``: the summary, plus the measured comparison when a key needs it."""
    return ("summary", "measured") if any(k.startswith("measured_") for k in keys) else ("summary",)


def prior_bounds(keys: list[str]) -> np.ndarray:
    """Parameters x 2 array of the schema's plausible ranges (the uniform prior)."""
    return np.array([plausible_range(k) for k in keys], dtype=float)


def simulate_summaries(
    scenario: Scenario,
    points: list[dict[str, float]],
    keys: list[str],
    replicates: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
    engine: dict[str, Any] | None = None,
) -> np.ndarray:
    """Points x keys: the mean of each summary statistic over ``replicates`` runs of each design point.

    The design runs through the experiment engine with independent streams: replicate ``r`` of point ``p`` uses
    ``SeedSequence(seed, spawn_key=(p, r))``, so no point's summary shares a population draw with another's
    (with shared draws, all points would be fitted to the same few populations and inherit their luck).
    ``engine`` holds the engine's options (``executor``, ``store``, ``resume``; see
    :func:`twinsim.experiments.engine.run`).
    """
    base = _programme_period_only(scenario, keys)
    experiment = Experiment.from_points(
        base, points, replicates, seed, streams="independent", outputs=output_families(keys), name="calibrate"
    )
    runs = run(experiment, progress=progress, **(engine or {}))
    means = runs.groupby("point")[keys].mean()
    return means.reindex(range(len(points))).to_numpy(dtype=float)


def _stage(engine: dict[str, Any] | None, name: str) -> dict[str, Any]:
    """The engine options of one stage of a calibration: its own store sub-folder."""
    engine = dict(engine or {})
    if engine.get("store") is not None:
        engine["store"] = Path(engine["store"]) / name
    return engine


def _programme_period_only(scenario: Scenario, keys: list[str]) -> Scenario:
    """Skip the follow-up months when every statistic is read at the end of the programme (same draws)."""
    if all(k.startswith(_PROGRAMME_PERIOD_STATISTICS) for k in keys):
        keep = max(0, scenario.endline_month - scenario.simulation.months)  # surveys must stay within the run
        return scenario.with_overrides({"simulation.followup_months": keep}, "calibration")
    return scenario


def significance_penalty(summaries: np.ndarray, targets: list[Target]) -> np.ndarray:
    """Per point, ``2 * sum(log P(significant | mean))`` over the targets published because they were significant.

    A value reported only when its test is significant follows a normal distribution truncated to
    ``|value / sd| > critical``: its likelihood is ``phi(z) / P(significant | mean)`` with
    ``P(significant | mean) = Phi(-critical - mean / sd) + 1 - Phi(critical - mean / sd)``. Adding the penalty to
    ``sum(z ** 2)`` gives ``-2 log`` of that likelihood (up to a constant), so a parameter set whose effects
    would rarely be significant is no longer favoured for matching an inflated published value.
    """
    from scipy.special import log_ndtr

    penalty = np.zeros(len(summaries))
    for j, target in enumerate(targets):
        if target.significant:
            mean = summaries[:, j] / target.sd
            upper, lower = log_ndtr(mean - target.critical), log_ndtr(-target.critical - mean)
            penalty += 2 * np.logaddexp(upper, lower)
    return penalty


def abc_reject(
    summaries: np.ndarray,
    observed: np.ndarray,
    scale: np.ndarray,
    accept: float,
    minimum: int = 1,
    penalty: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """ABC rejection: indices of the nearest ``accept`` share of points (at least ``minimum``), and distances.

    The distance of a point is ``sqrt(sum(((summary - observed) / scale) ** 2) + penalty)`` (infinite when a
    summary is NaN); ``penalty`` (:func:`significance_penalty`, <= 0) corrects for significance filtering.
    """
    z = (summaries - observed) / scale
    squared = np.sum(z**2, axis=1) + (0.0 if penalty is None else penalty)
    distance = np.sqrt(np.maximum(squared - (np.nanmin(squared) if penalty is not None else 0.0), 0.0))
    distance[np.isnan(distance)] = np.inf
    n_accept = min(len(summaries), max(math.ceil(accept * len(summaries)), minimum))
    return np.argsort(distance, kind="stable")[:n_accept], distance


def abc_regression_adjust(
    theta: np.ndarray, z: np.ndarray, distance: np.ndarray, bounds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Local-linear regression adjustment of accepted ABC draws (Beaumont, Zhang & Balding 2002).

    Args:
        theta: accepted points x parameters.
        z: their standardised summaries minus the observed ones, ``(summary - observed) / scale``.
        distance: their distances; Epanechnikov weights ``1 - (d / max d)^2`` weight the regression.
        bounds: parameters x 2 prior ranges; the regression is made on the logit scale of each range,
            so adjusted values stay inside it.

    Returns:
        (adjusted values, weights summing to 1).

    """
    delta = distance.max()
    weights = np.maximum(1.0 - (distance / delta) ** 2, 1e-12) if delta > 0 else np.ones(len(theta))
    lo, hi = bounds[:, 0], bounds[:, 1]
    u = np.clip((theta - lo) / (hi - lo), 1e-6, 1 - 1e-6)
    logit = np.log(u / (1 - u))
    design = np.column_stack([np.ones(len(theta)), z])
    sw = np.sqrt(weights)[:, None]
    beta, *_ = np.linalg.lstsq(design * sw, logit * sw, rcond=None)
    adjusted = lo + (hi - lo) / (1 + np.exp(-(logit - z @ beta[1:])))
    return adjusted, weights / weights.sum()


@dataclass
class CalibrationResult:
    """What :func:`calibrate` found."""

    spec: CalibrationSpec
    design: pd.DataFrame  # every design point: parameters, summaries, distance, accepted
    posterior: Posterior
    seconds: float
    runs: int

    refined: pd.DataFrame = field(default_factory=pd.DataFrame)  # accepted sets: refined summaries, distance
    generations: list[dict[str, float]] = field(default_factory=list)  # ABC-SMC: per generation diagnostics
    point: int | None = None  # ABC-SMC: the posterior row of the point estimate
    reached: bool = True  # ABC-SMC: whether the final tolerance was reached

    @property
    def point_estimate(self) -> dict[str, float]:
        """The point estimate, a posterior row (see :func:`calibrate`).

        Rejection: the accepted set with the best refined fit (highest weight). ABC-SMC: of the
        ``smc.point_candidates`` particles whose expected statistics (a kernel regression over the particles,
        :func:`twinsim.analysis.abc_smc.expected_fit_ranking`) come nearest the targets, the one whose mean over
        ``smc.point_replicates`` fresh runs does; a single particle's weight reflects its one replicate's luck.
        """
        if self.point is not None:
            return self.posterior.row(self.point)
        return self.posterior.row(int(np.argmax(self.posterior.weights)))

    @property
    def effective_sample_size(self) -> float:
        """Kish's effective sample size of the weighted posterior sample: ``1 / sum(w ** 2)``."""
        return float(1.0 / np.sum(self.posterior.weights**2))

    def posterior_table(self) -> pd.DataFrame:
        """Per parameter: prior and posterior (mean, sd, 90% interval) and whether the targets inform it.

        ``sd_ratio`` is the posterior sd over the prior's (uniform: width / sqrt(12)); a parameter is ``informed``
        when the targets narrow it to below 80% of the prior's sd (a stated threshold), or move its mean by more
        than half a prior sd. Otherwise its posterior is its prior: the published values say nothing about it.
        """
        rows = []
        w = self.posterior.weights
        for key, (lo, hi) in zip(self.spec.parameters, prior_bounds(self.spec.parameters), strict=True):
            x = self.posterior.samples[key].to_numpy()
            mean = float(np.average(x, weights=w))
            sd = float(np.sqrt(np.average((x - mean) ** 2, weights=w)))
            q5, q95 = _weighted_quantiles(x, w, [0.05, 0.95])
            prior_sd = (hi - lo) / np.sqrt(12)
            shift = abs(mean - (lo + hi) / 2) / prior_sd
            rows.append(
                {
                    "parameter": key,
                    "prior_low": lo,
                    "prior_high": hi,
                    "prior_mean": (lo + hi) / 2,
                    "prior_sd": prior_sd,
                    "mean": mean,
                    "sd": sd,
                    "q05": q5,
                    "q95": q95,
                    "sd_ratio": sd / prior_sd,
                    "informed": bool(sd / prior_sd < 0.8 or shift > 0.5),
                }
            )
        return pd.DataFrame(rows).set_index("parameter")


def _weighted_quantiles(x: np.ndarray, w: np.ndarray, qs: list[float]) -> list[float]:
    order = np.argsort(x)
    cum = np.cumsum(w[order]) - 0.5 * w[order]
    cum /= w.sum()
    return [float(np.interp(q, cum, x[order])) for q in qs]


def calibrate(
    scenario: Scenario | str | Path,
    spec: CalibrationSpec | str | Path,
    budget: int,
    progress: Callable[[int], None] | None = None,
    engine: dict[str, Any] | None = None,
) -> CalibrationResult:
    """Fit ``spec.parameters`` to ``spec.targets`` with ``budget`` model runs (see the module docstring).

    ``scenario`` is a :class:`~twinsim.Scenario`, a bundled name or a path; ``spec`` the targets read by
    :func:`~twinsim.analysis.targets.load_targets`, or a targets file or bundled name (``"rwanda_tpn"``).
    ``engine``: the experiment engine's options (``executor``, ``store``, ``resume``); each stage (design,
    refinement) keeps its runs in its own sub-folder of the store, so a killed calibration resumes, and the
    stages share one pool of worker processes.
    """
    scenario = as_scenario(scenario)
    spec = spec if isinstance(spec, CalibrationSpec) else load_targets(spec)
    with shared_executor(engine) as shared:
        if spec.method == "smc":
            return _calibrate_smc(scenario, spec, budget, progress, shared)
        return _calibrate(scenario, spec, budget, progress, shared)


def fitting_scale(spec: CalibrationSpec) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """The box the sampler draws in and the map back to parameter values.

    Uniform priors: the plausible ranges themselves. Log-uniform: their logarithms (a range from 0 starts at
    :data:`~twinsim.analysis.prior_sensitivity.LOG_FLOOR` of its upper end), mapped back by ``exp``.
    """
    bounds = prior_bounds(spec.parameters)
    if spec.prior == "uniform":
        return bounds, lambda theta: theta
    low = np.maximum(bounds[:, 0], LOG_FLOOR * bounds[:, 1])
    return np.log(np.column_stack([low, bounds[:, 1]])), np.exp


def generation_seed(seed: int, generation: int) -> int:
    """The experiment seed of the model runs of ABC-SMC generation ``generation`` (a whole number < 2**63)."""
    words = np.random.SeedSequence([int(seed), _SMC_ENTROPY_TAG], spawn_key=(generation,)).generate_state(2)
    return (int(words[0]) >> 1) << 32 | int(words[1])


def _calibrate_smc(
    scenario: Scenario,
    spec: CalibrationSpec,
    budget: int,
    progress: Callable[[int], None] | None,
    engine: dict[str, Any],
) -> CalibrationResult:
    """ABC-SMC: each generation is one engine experiment of ``particles`` points x 1 replicate."""
    settings = spec.smc
    if budget < settings.particles:
        raise ScenarioError(
            f"--budget {budget}: too small; ABC-SMC needs at least one generation of {settings.particles} runs "
            "(smc.particles in the targets file)"
        )
    start = time.perf_counter()
    bounds, natural = fitting_scale(spec)
    keys = [t.key for t in spec.targets]

    def simulator(theta: np.ndarray, generation: int) -> np.ndarray:
        points = [dict(zip(spec.parameters, map(float, row), strict=True)) for row in natural(theta)]
        seed = generation_seed(spec.seed, generation)
        return simulate_summaries(scenario, points, keys, 1, seed, progress, _stage(engine, f"generation{generation}"))

    try:
        population = abc_smc(
            simulator,
            bounds,
            np.array([t.value for t in spec.targets]),
            np.array([t.sd for t in spec.targets]),
            particles=settings.particles,
            budget=budget,
            seed=spec.seed,
            final_tolerance=settings.final_tolerance,
            ess_fraction=settings.ess_fraction,
            kernel_scale=settings.kernel_scale,
            max_generations=settings.max_generations,
            min_ess=settings.min_ess,
            defensive=settings.defensive,
        )
    except ValueError as exc:
        raise ScenarioError(f"calibration: {exc}") from None

    def table(theta: np.ndarray, summaries: np.ndarray) -> pd.DataFrame:
        frame = pd.DataFrame(theta, columns=spec.parameters)
        for j, key in enumerate(keys):
            frame[key] = summaries[:, j]
        return frame

    assert population.prior_theta is not None and population.prior_summaries is not None
    design = table(natural(population.prior_theta), population.prior_summaries)
    observed = np.array([t.value for t in spec.targets])
    scale = np.array([t.sd for t in spec.targets])
    design["distance"] = np.sqrt(np.sum(((population.prior_summaries - observed) / scale) ** 2, axis=1))
    design["accepted"] = False
    keep = population.weights > 0
    final = table(natural(population.theta[keep]), population.summaries[keep])
    final["distance"] = population.distance[keep]
    final["weight"] = population.weights[keep]
    weights = population.weights[keep] / population.weights[keep].sum()
    theta = natural(population.theta[keep])
    posterior = Posterior(pd.DataFrame(theta, columns=spec.parameters), weights, "calibration")
    ranking = expected_fit_ranking(population.theta[keep], population.summaries[keep], weights, bounds, observed, scale)
    candidates = ranking[: settings.point_candidates]
    points = [dict(zip(spec.parameters, theta[i].tolist(), strict=True)) for i in candidates]
    reps = settings.point_replicates
    means = simulate_summaries(scenario, points, keys, reps, spec.seed + 2, progress, _stage(engine, "point"))
    fit = np.sqrt(np.nansum(((means - observed) / scale) ** 2, axis=1))
    point = int(candidates[int(np.argmin(fit))])
    return CalibrationResult(
        spec,
        design,
        posterior,
        time.perf_counter() - start,
        population.runs + len(points) * reps,
        final,
        generations=population.generations,
        point=point,
        reached=population.reached,
    )


def _calibrate(
    scenario: Scenario,
    spec: CalibrationSpec,
    budget: int,
    progress: Callable[[int], None] | None,
    engine: dict[str, Any],
) -> CalibrationResult:
    from scipy.stats import qmc

    k = spec.replicates_per_point
    n_points = budget // k
    if n_points < len(spec.parameters) + 2:
        raise ScenarioError(
            f"--budget {budget}: too small; needs at least {(len(spec.parameters) + 2) * k} runs "
            f"({len(spec.parameters) + 2} design points x {k} replicates)"
        )
    start = time.perf_counter()
    bounds = prior_bounds(spec.parameters)
    unit = qmc.LatinHypercube(d=len(spec.parameters), seed=np.random.default_rng(spec.seed)).random(n_points)
    theta = qmc.scale(unit, bounds[:, 0], bounds[:, 1])
    points = [dict(zip(spec.parameters, map(float, row), strict=True)) for row in theta]
    keys = [t.key for t in spec.targets]
    summaries = simulate_summaries(scenario, points, keys, k, spec.seed, progress, _stage(engine, "design"))
    observed = np.array([t.value for t in spec.targets])
    scale = np.array([t.sd for t in spec.targets])
    penalty = significance_penalty(summaries, spec.targets)
    idx, distance = abc_reject(summaries, observed, scale, spec.accept, len(spec.parameters) + 2, penalty)
    if spec.method == "loclinear":
        z = (summaries[idx] - observed) / scale
        adjusted, weights = abc_regression_adjust(theta[idx], z, distance[idx], bounds)
    else:
        adjusted, weights = theta[idx], np.full(len(idx), 1.0 / len(idx))
    design = pd.DataFrame(theta, columns=spec.parameters)
    for j, key in enumerate(keys):
        design[key] = summaries[:, j]
    design["distance"] = distance
    design["accepted"] = np.isin(np.arange(n_points), idx)
    refined = pd.DataFrame(adjusted, columns=spec.parameters)
    runs = n_points * k
    if spec.refine_replicates:
        accepted = [dict(zip(spec.parameters, map(float, row), strict=True)) for row in adjusted]
        fresh = simulate_summaries(
            scenario, accepted, keys, spec.refine_replicates, spec.seed + 2, progress, _stage(engine, "refine")
        )
        z = (fresh - observed) / scale
        refined_distance = np.sqrt(np.sum(z**2, axis=1))
        log_kernel = -0.5 * (refined_distance**2 + significance_penalty(fresh, spec.targets))  # -0.5 * -2 log L
        log_kernel = np.nan_to_num(log_kernel, nan=-np.inf)
        kernel = np.exp(log_kernel - np.max(log_kernel))
        weights = weights * kernel / np.sum(weights * kernel)
        for j, key in enumerate(keys):
            refined[key] = fresh[:, j]
        refined["distance"] = refined_distance
        runs += len(accepted) * spec.refine_replicates
    refined["weight"] = weights
    posterior = Posterior(pd.DataFrame(adjusted, columns=spec.parameters), weights, "calibration")
    return CalibrationResult(spec, design, posterior, time.perf_counter() - start, runs, refined)


def posterior_predictive(
    scenario: Scenario,
    posterior: Posterior,
    spec: CalibrationSpec,
    progress: Callable[[int], None] | None = None,
    engine: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Summaries of ``spec.predictive_draws`` posterior draws, as in the fit, plus the :data:`CHECK_KEYS`.

    Draw ``i`` takes the posterior row chosen for ``(spec.seed + 1, i)`` and runs replicates of its own with
    that seed, so the check uses other random numbers than the fit: one replicate with ABC-SMC (each draw is a
    simulated trial of the programme: the predictive distribution of the published comparison, the model's own
    noise included), the mean of k with rejection (as its design points). The runs include the follow-up, which
    the :data:`CHECK_KEYS` read.
    """
    keys = [t.key for t in spec.targets]
    keys += [k for k in CHECK_KEYS if k not in keys]
    seed = spec.seed + 1
    rows = [
        posterior.row(posterior.draw_index(seed, i, per_draw=1)) | {"draw": i} for i in range(spec.predictive_draws)
    ]
    points = [{k: v for k, v in row.items() if k != "draw"} for row in rows]
    k = 1 if spec.method == "smc" else spec.replicates_per_point
    values = simulate_summaries(scenario, points, keys, k, seed, progress, _stage(engine, "predictive"))
    return pd.DataFrame(values, columns=keys).assign(draw=range(len(points)))


#: Run summary keys the posterior predictive check also reports (published statements that are not targets):
#: ``unmatched_led_share`` (chosen topics with no twin although some peer led: all their leading peers were at the
#: mentor load cap; 0 when the TPN's promise of "a high-performing peer" holds), ``unmatched_share`` (chosen topics
#: with no twin: mostly the best performers, whom nobody leads), ``mean_gain`` (mean indicator gain at the endline)
#: and ``sustained_gain`` (at the end of the follow-up).
CHECK_KEYS = ("unmatched_led_share", "unmatched_share", "mean_gain", "sustained_gain")


def predictive_checks(predictive: pd.DataFrame, spec: CalibrationSpec) -> dict[str, Any]:
    """The posterior predictive checks reported in ``calibration.json`` (see docs/evaluation.md).

    Per target: the predictive mean, its 95% CI, the central 95% predictive interval (2.5% and 97.5% quantiles of
    the draws: with ABC-SMC, of simulated trials) and whether the published value lies within it, and whether the
    mean lies within one standard error of the published value and within its 95% interval (``critical`` x sd).
    Statements without a published number: ``always_a_leading_peer`` (holds when every draw has
    ``unmatched_led_share == 0``; its mean and maximum say how far the mentor load cap keeps it from holding) and
    ``gains_persist`` (the mean gain at the end of the follow-up is positive), with the share of the endline gain
    that remains.
    """
    out: dict[str, Any] = {}
    for t in spec.targets:
        x = predictive[t.key].to_numpy(dtype=float)
        x = x[np.isfinite(x)]
        mean, lo, hi = interval95(x)
        q_lo, q_hi = (float(v) for v in np.quantile(x, [0.025, 0.975])) if len(x) else (math.nan, math.nan)
        out[t.key] = {
            "mean": mean,
            "ci95_low": lo,
            "ci95_high": hi,
            "predictive_low": q_lo,
            "predictive_high": q_hi,
            "draws": len(x),
            "value_within_predictive": bool(q_lo <= t.value <= q_hi),
            "mean_within_sd": bool(abs(mean - t.value) <= t.sd),
            "mean_within_published_ci95": bool(abs(mean - t.value) <= t.critical * t.sd),
        }
    checks: dict[str, Any] = {}
    if "unmatched_led_share" in predictive:
        led = predictive["unmatched_led_share"].to_numpy(dtype=float)
        checks["always_a_leading_peer"] = {
            "holds": bool(np.all(np.nan_to_num(led) == 0)),
            "max_unmatched_led_share": float(np.nanmax(led)) if np.isfinite(led).any() else 0.0,
            "mean_unmatched_led_share": float(np.nanmean(led)) if np.isfinite(led).any() else 0.0,
            "mean_unmatched_share": float(np.nanmean(predictive["unmatched_share"])),
        }
    if {"mean_gain", "sustained_gain"} <= set(predictive):
        end, later = float(predictive["mean_gain"].mean()), float(predictive["sustained_gain"].mean())
        checks["gains_persist"] = {
            "holds": bool(later > 0),
            "mean_gain_endline": end,
            "mean_gain_end_of_followup": later,
            "share_remaining": later / end if end else math.nan,
        }
    return {"targets": out, "checks": checks}


def fit_and_check(
    scenario: Scenario | str | Path,
    spec: CalibrationSpec | str | Path,
    budget: int,
    progress: Callable[[int], None] | None = None,
    engine: dict[str, Any] | None = None,
    prior_check: bool = True,
) -> tuple[CalibrationResult, pd.DataFrame, dict[str, Any], tuple[CalibrationResult, pd.DataFrame] | None]:
    """What ``twinsim calibrate`` runs, on one pool of workers.

    The fit, its posterior predictive, the point estimate's check and (ABC-SMC, with ``prior_check``) the refit under
    the other prior family with its predictive draws. ``scenario`` and ``spec`` as :func:`calibrate` takes them.
    """
    scenario = as_scenario(scenario)
    spec = spec if isinstance(spec, CalibrationSpec) else load_targets(spec)
    with shared_executor(engine) as shared:
        result = calibrate(scenario, spec, budget, progress=progress, engine=shared)
        predictive = posterior_predictive(scenario, result.posterior, spec, progress=progress, engine=shared)
        check = check_point_estimate(scenario, spec, result.point_estimate, progress=progress, engine=shared)
        second = None
        if prior_check and spec.method == "smc":
            other = second_prior(spec)
            refit = calibrate(scenario, other, budget, progress=progress, engine=shared)
            second = (refit, posterior_predictive(scenario, refit.posterior, other, progress=progress, engine=shared))
    return result, predictive, check, second


def second_prior(spec: CalibrationSpec) -> CalibrationSpec:
    """The targets file with the other prior family (the prior-sensitivity check's second fit)."""
    return spec.model_copy(update={"prior": "loguniform" if spec.prior == "uniform" else "uniform"})


def calibration_prior_sensitivity(
    first: tuple[CalibrationResult, pd.DataFrame], second: tuple[CalibrationResult, pd.DataFrame]
) -> dict[str, Any]:
    """The prior-sensitivity report of a fit and its refit under the other prior family (each with its predictive).

    See :func:`twinsim.analysis.prior_sensitivity.prior_sensitivity`.
    """

    def part(result: CalibrationResult, predictive: pd.DataFrame) -> dict[str, Any]:
        columns = [result.posterior.keys.index(k) for k in result.spec.parameters]
        return {
            "prior": result.spec.prior,
            "design": result.design,
            "predictive": predictive,
            "particles": result.posterior.values[:, columns],
            "weights": result.posterior.weights,
        }

    spec = first[0].spec
    return prior_sensitivity(part(*first), part(*second), spec.parameters, [(t.key, t.value) for t in spec.targets])


class TargetFit(TypedDict):
    """How the point estimate meets one target (:func:`check_point_estimate`)."""

    target: float
    sd: float
    mean: float
    ci95: list[float]
    within_sd: bool


def check_point_estimate(
    scenario: Scenario,
    spec: CalibrationSpec,
    point: dict[str, float],
    progress: Callable[[int], None] | None = None,
    engine: dict[str, Any] | None = None,
) -> dict[str, TargetFit]:
    """Mean and 95% CI of each target statistic over ``spec.check_replicates`` runs at the point estimate."""
    keys = [t.key for t in spec.targets]
    sc = _programme_period_only(scenario.with_overrides(point, "point estimate"), keys)
    experiment = Experiment(
        (Arm(sc),),
        spec.check_replicates,
        scenario.simulation.seed,
        outputs=output_families(keys),
        name="calibrate-check",
    )
    values = run(experiment, progress=progress, **_stage(engine, "check"))[keys].to_numpy(dtype=float)
    arr = np.asarray(values, dtype=float).reshape(-1, len(keys))
    out: dict[str, TargetFit] = {}
    for j, target in enumerate(spec.targets):
        mean, lo, hi = interval95(arr[:, j])
        out[target.key] = {
            "target": target.value,
            "sd": target.sd,
            "mean": mean,
            "ci95": [lo, hi],
            "within_sd": bool(abs(mean - target.value) <= target.sd),
        }
    return out


# --------------------------------------------------------------------------------------------------
# Outputs


def write_outputs(
    result: CalibrationResult,
    predictive: pd.DataFrame,
    check: dict[str, Any],
    out: str | Path,
    command: str,
    second: tuple[CalibrationResult, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """Write the posterior (CSV), the design, the predictive draws, a JSON report and the check figure.

    Files in ``out``: ``posterior.csv`` (for ``--posterior``), ``design.csv`` (every design point with its
    summaries and distance; ABC-SMC: generation 0, the prior predictive), ``accepted.csv`` (accepted sets, refined
    summaries, weights; ABC-SMC: the last generation's particles, their one replicate's summaries and weights),
    ``generations.csv`` (ABC-SMC: tolerance, effective sample size and acceptance per generation),
    ``predictive.csv``, ``calibration.json`` and ``posterior_predictive.png``; with ``second`` (the refit under the
    other prior family and its predictive draws), ``second_prior/posterior.csv``, ``second_prior/design.csv`` and
    ``second_prior/predictive.csv``, and the prior-sensitivity report in ``calibration.json``.

    Returns:
        The JSON report.

    """
    from twinsim.figures.plots import plot_posterior_predictive, save

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    spec = result.spec
    header = (
        f"Posterior sample of a twinsim calibration (ABC {spec.method}), produced by:\n{command}\n"
        "Columns: dotted scenario keys; weight. See calibration.json for the settings and the fit."
    )
    save_posterior(result.posterior, out / "posterior.csv", header)
    result.design.to_csv(out / "design.csv", index=False, float_format="%.6g")
    result.refined.to_csv(out / "accepted.csv", index=False, float_format="%.6g")
    predictive.to_csv(out / "predictive.csv", index=False, float_format="%.6g")
    if result.generations:
        pd.DataFrame(result.generations).to_csv(out / "generations.csv", index=False, float_format="%.6g")
    targets = [(t.key, t.value, t.sd) for t in spec.targets]
    save(plot_posterior_predictive(result.design, predictive, targets), out / "posterior_predictive.png")
    table = result.posterior_table()
    ppc = predictive_checks(predictive, spec)
    sensitivity = None
    if second is not None:
        folder = out / "second_prior"
        folder.mkdir(exist_ok=True)
        save_posterior(
            second[0].posterior, folder / "posterior.csv", header.replace("ABC", f"{second[0].spec.prior} prior, ABC")
        )
        second[0].design.to_csv(folder / "design.csv", index=False, float_format="%.6g")
        second[1].to_csv(folder / "predictive.csv", index=False, float_format="%.6g")
        sensitivity = calibration_prior_sensitivity((result, predictive), second)
    if spec.method == "smc":
        last = result.generations[-1]
        fit: dict[str, Any] = {
            "method": "ABC-SMC (population Monte Carlo ABC, Beaumont et al. 2009): "
            f"{spec.prior} priors on the schema's plausible ranges, one replicate per particle, Gaussian kernel of the"
            " targets' standard errors times an adaptive tolerance (Del Moral et al. 2012), perturbations on the"
            " logit scale",
            "particles": spec.smc.particles,
            "generations": [{k: float(f"{v:.4g}") for k, v in g.items()} for g in result.generations],
            "final_tolerance": float(f"{last['tolerance']:.4g}"),
            "reached_final_tolerance": result.reached,
            "design_points": result.runs,
            "accepted": len(result.posterior),
        }
    else:
        fit = {
            "method": f"ABC {spec.method}: uniform priors on the schema's plausible ranges, Latin hypercube design",
            "design_points": len(result.design),
            "accepted": len(result.posterior),
            "max_accepted_distance": float(result.design.loc[result.design["accepted"], "distance"].max()),
        }
    report = {
        "command": command,
        **fit,
        "settings": spec.model_dump(),
        "runs": result.runs,
        "seconds": round(result.seconds, 1),
        "point_estimate": {k: float(f"{v:.4g}") for k, v in result.point_estimate.items()},
        "posterior_mean": {k: float(f"{v:.4g}") for k, v in result.posterior.point_estimate().items()},
        "effective_sample_size": round(result.effective_sample_size, 1),
        "posterior": {
            k: {c: (v if isinstance(v, bool) else float(f"{v:.4g}")) for c, v in row.items()}
            for k, row in table.iterrows()
        },
        "posterior_predictive": ppc["targets"],
        "predictive_checks": ppc["checks"],
        "prior_sensitivity": sensitivity,
        "point_estimate_check": check,
    }
    (out / "calibration.json").write_text(json.dumps(report, indent=2, default=float) + "\n", encoding="utf-8")
    return report


# --------------------------------------------------------------------------------------------------
# Writing the point estimate into a scenario file


def check_write_back(ref: str | Path) -> Path:
    """The scenario file ``--write-scenario`` may edit for the reference ``ref``, or a one-line error.

    A bundled name, or a file inside an installed package (site-packages), is refused: the package's own
    scenarios are not the user's to edit (and an upgrade would undo the edit); the error names where to copy it.
    A symbolic link is followed: the file it points to is edited and the link stays.
    """
    import sysconfig

    given = Path(ref)
    path = resolve_scenario_path(ref)
    copy = f"copy it first (cp {path} my_scenario.toml) and calibrate the copy"
    if not given.exists() and str(ref) in bundled_scenarios():
        raise ScenarioError(f"--write-scenario: {ref} is a bundled scenario of the installed package; {copy}")
    target = path.resolve()
    for key in ("purelib", "platlib"):
        installed = Path(sysconfig.get_paths()[key]).resolve()
        if installed in target.parents:
            raise ScenarioError(f"--write-scenario: {path} is inside the installed package ({installed}); {copy}")
    return target


def write_point_estimate(path: str | Path, point: dict[str, float], comment: str) -> None:
    """Set each dotted key of ``point`` in the scenario TOML file at ``path``, safely.

    The file is edited as TOML (tomlkit: comments, order and layout survive; inline tables such as
    ``rates = { exchange_visit = 0.3 }`` are edited where they stand), each written value gets ``comment``,
    the result is validated as a scenario *before* anything is written, and the file is replaced atomically
    (a temporary file renamed over it): a failure leaves the original untouched. A symbolic link is followed (the
    link stays a link), the file keeps its permissions, and concurrent write-backs to one file are serialised by a
    lock (``fcntl.flock`` on a lock file of that path in the temporary folder), so none loses another's update.

    Raises:
        ScenarioError: the edited scenario is not valid (the file is left as it was).

    """
    import tomlkit

    from twinsim.experiments.store import atomic_write

    path = Path(path).resolve()  # a symbolic link stays: its target is edited
    with open(_lock_file(path), "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            _write_point_estimate(path, point, comment, tomlkit, atomic_write, load_scenario)
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _lock_file(path: Path) -> Path:
    """The lock file serialising write-backs to ``path`` (in the temporary folder: nothing left beside the file)."""
    import hashlib
    import tempfile

    folder = Path(tempfile.gettempdir()) / "twinsim-locks"
    folder.mkdir(exist_ok=True)
    return folder / f"{hashlib.sha256(str(path).encode()).hexdigest()[:20]}.lock"


def _write_point_estimate(path: Path, point: dict[str, float], comment: str, tomlkit: Any, atomic_write: Any,
                          load_scenario: Any) -> None:  # fmt: skip
    mode = path.stat().st_mode & 0o7777
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    for key, value in point.items():
        *tables, leaf = key.split(".")
        container: Any = document
        for name in tables:
            if name not in container:
                container[name] = tomlkit.table()
            container = container[name]
        item = tomlkit.item(float(f"{value:.4g}"))
        if not isinstance(container, tomlkit.items.InlineTable):
            item.comment(comment)
        container[leaf] = item
    text = tomlkit.dumps(document)
    check = path.with_name(f".{path.stem}.check.toml")
    try:
        check.write_text(text, encoding="utf-8")
        load_scenario(check)  # validated before the real file is touched (extends resolve from the same folder)
    finally:
        check.unlink(missing_ok=True)
    atomic_write(path, lambda tmp: (tmp.write_text(text, encoding="utf-8"), tmp.chmod(mode)))
