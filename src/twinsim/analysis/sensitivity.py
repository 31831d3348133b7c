"""Global sensitivity analysis of a scenario's parameters and design choices, through SALib.

A *factor* is one column of SALib's sample matrix and one thing that varies between design points:

- a **number** (``continuous``): a dotted scenario key sampled uniformly on ``[low, high]``; the
  bounds default to the key's plausible range in the schema (:func:`twinsim.scenario.plausible_range`);
- an **integer** key (twins per topic, mentor load cap, programme months): SALib samples a uniform on
  ``[low, high + 1)`` and the value is its ``floor``, so each integer in ``low .. high`` has probability
  ``1 / (high - low + 1)``; floats are never rounded to the nearest integer;
- a **categorical** key (the matching rule, the delivery model): SALib samples ``u`` uniform on ``[0, 1)``
  and the value is level ``floor(u * K)`` of ``K`` levels: equal-probability bins;
- a **choice**: named alternatives that each change several things at once (scenario overrides and the
  months of scheduled activities), drawn by the same equal-probability bins.

Changing ``simulation.months`` rescales the schedule: an activity planned in month ``m`` of a programme
of ``M`` months fires in month ``ceil(m * M' / M)`` of a programme of ``M'`` months, so a shorter or
longer programme keeps the same activities, spread over its duration.

The analysis itself (:func:`analyse`) takes a pluggable *evaluate* function, sample matrix in, outputs
out; :class:`ScenarioEvaluator` is the one that runs twinsim through :func:`twinsim.experiments.run_points`
(replicate ``r`` of every point with ``SeedSequence(seed, spawn_key=(r,))``). The outputs analysed are
the means over replicates; :func:`replicate_noise` says how much of the output variance is replicate noise.

With a posterior (``twinsim sensitivity`` uses the scenario's by default; ``--no-posterior`` turns it off),
replicate ``r`` of every design point runs the posterior's parameter set drawn for ``(seed, r)``: the indices are
those of the design factors' effect on the outputs averaged over the parameter sets the replicates drew (common
parameter draws across points, like the common random numbers). A key that a factor varies is taken from the
design, never from the posterior.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import ValidationError
from SALib.analyze import fast as fast_analyze
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import fast_sampler
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample

from twinsim.core.evaluation import json_number
from twinsim.errors import ScenarioError
from twinsim.experiments.engine import run_points
from twinsim.experiments.posterior import SCENARIO_POSTERIOR, Posterior, as_posterior
from twinsim.scenario import ChoiceLevel, Scenario, SensitivitySpec, as_scenario, plausible_range

__all__ = [
    "METHODS",
    "Factor",
    "ScenarioEvaluator",
    "SensitivityResult",
    "analyse",
    "build_factors",
    "level_index",
    "parse_param",
    "replicate_noise",
    "run_sensitivity",
    "salib_problem",
    "sensitivity",
]

FactorKind = Literal["continuous", "integer", "categorical", "choice"]
Evaluate = Callable[[np.ndarray], np.ndarray]

# Streams drawn from the experiment seed for the analysis itself (runs use SeedSequence(seed, spawn_key=(r,))).
_SAMPLER_STREAM, _BOOTSTRAP_STREAM = 1, 2


def _stream_seed(seed: int, stream: int) -> int:
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


def level_index(u: np.ndarray | float, k: int) -> np.ndarray:
    """Equal-probability bins: ``u`` uniform on [0, 1) -> level ``floor(u * k)`` in ``0 .. k - 1``."""
    return np.clip(np.floor(np.asarray(u, dtype=float) * k).astype(np.int64), 0, k - 1)


@dataclass(frozen=True)
class Factor:
    """One factor of the analysis: a column of the sample matrix and how it maps to a scenario value.

    Attributes:
        name: the dotted scenario key, or the name of a choice.
        kind: continuous, integer, categorical (values of a key) or choice (named sets of changes).
        low, high: bounds of a number (integers: inclusive).
        levels: the values of a categorical key, or the names of a choice's alternatives.
        changes: a choice's alternatives, in the order of ``levels``.

    """

    name: str
    kind: FactorKind = "continuous"
    low: float = 0.0
    high: float = 1.0
    levels: tuple[Any, ...] = ()
    changes: tuple[ChoiceLevel, ...] = field(default=(), repr=False)

    @property
    def bounds(self) -> list[float]:
        """The SALib bounds of the factor's column."""
        if self.kind == "integer":
            return [self.low, self.high + 1.0]
        if self.kind in ("categorical", "choice"):
            return [0.0, 1.0]
        return [self.low, self.high]

    def value(self, x: float) -> Any:
        """The scenario value (or choice level) for a sampled ``x``."""
        if self.kind == "integer":
            return int(min(math.floor(x), self.high))
        if self.kind in ("categorical", "choice"):
            return self.levels[int(level_index(x, len(self.levels)))]
        return float(x)

    def describe(self) -> str:
        """A short text of the sampled range, for tables."""
        if self.kind == "integer":
            return f"integer {int(self.low)}..{int(self.high)}"
        if self.kind in ("categorical", "choice"):
            return "one of " + ", ".join(str(v) for v in self.levels)
        return f"uniform [{self.low:g}, {self.high:g}]"


def salib_problem(factors: Sequence[Factor]) -> dict[str, Any]:
    """The SALib problem dictionary of the factors."""
    return {"num_vars": len(factors), "names": [f.name for f in factors], "bounds": [f.bounds for f in factors]}


# --------------------------------------------------------------------------------------------------
# From the scenario's [sensitivity] table to factors and design points

_MISSING = object()


def _lookup(data: dict[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def build_factors(scenario: Scenario, spec: SensitivitySpec | None = None, source: str = "sensitivity") -> list[Factor]:
    """Resolve the spec's parameters and choices into factors, checking every bound and level.

    Raises:
        ScenarioError: naming ``source``, the key and what is allowed (unknown key, a bound outside the
            schema's bounds, a text key without levels, a key with no plausible range and no bounds).

    """
    spec = scenario.sensitivity if spec is None else spec
    base = scenario.model_dump()
    factors: list[Factor] = []
    for key, param in spec.params.items():
        where = f"{source}.params.{key}"
        current = _lookup(base, key)
        if current is _MISSING:  # an unknown key, or a name not yet set in an open table (activity rates)
            scenario.with_overrides({key: param.levels[0] if param.levels else param.low or 0.0}, source=where)
        if param.levels:
            factors.append(Factor(key, "categorical", levels=tuple(param.levels)))
            continue
        if isinstance(current, bool | str | list | dict):
            raise ScenarioError(f"{where}: {key} is not a number; give levels = [...] to compare values")
        bounds = (param.low, param.high) if param.low is not None else plausible_range(key)
        if bounds is None or bounds[0] is None or bounds[1] is None:
            raise ScenarioError(f"{where}: the schema gives no plausible range for {key}; give low and high")
        low, high = float(bounds[0]), float(bounds[1])
        if isinstance(current, int):
            if low != int(low) or high != int(high):
                raise ScenarioError(f"{where}: {key} is an integer; low and high must be whole numbers")
            factors.append(Factor(key, "integer", low, high))
        else:
            factors.append(Factor(key, "continuous", low, high))
    for name, choice in spec.choices.items():
        factors.append(Factor(name, "choice", levels=tuple(choice.levels), changes=tuple(choice.levels.values())))
    if not factors:
        raise ScenarioError(f"{source}: no factors; add [sensitivity.params] or [sensitivity.choices] (or --param)")
    _check_no_overlap(factors, source)
    design = Design(scenario, factors)
    for factor in factors:
        design.check(factor, source)
    return factors


def _check_no_overlap(factors: Sequence[Factor], source: str) -> None:
    names = [f.name for f in factors]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ScenarioError(f"{source}: {twice[0]!r} names both a parameter and a choice; rename the choice")
    owner: dict[str, str] = {}
    for f in factors:
        touched = {f.name} if f.kind != "choice" else set()
        for level in f.changes:
            touched |= set(level.overrides) | {f"schedule:{a}" for a in level.schedule}
        for key in touched:
            if owner.setdefault(key, f.name) != f.name:
                raise ScenarioError(f"{source}: {key} is varied by both {owner[key]!r} and {f.name!r}; keep one")


def parse_param(text: str) -> tuple[str, dict[str, Any]]:
    """Parse ``--param KEY``, ``KEY=LOW:HIGH`` or ``KEY=A,B,C`` into a key and a factor table."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not key:
        raise ScenarioError(f"--param {text}: expected KEY, KEY=LOW:HIGH or KEY=A,B,C")
    if not sep:
        return key, {}
    if ":" in raw:
        lo, _, hi = raw.partition(":")
        try:
            return key, {"low": float(lo), "high": float(hi)}
        except ValueError:
            raise ScenarioError(f"--param {text}: LOW and HIGH must be numbers") from None
    levels = [_scalar(v.strip()) for v in raw.split(",") if v.strip()]
    if len(levels) < 2:
        raise ScenarioError(f"--param {text}: give a range LOW:HIGH or at least two levels A,B")
    return key, {"levels": levels}


def _scalar(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text, text)


class Design:
    """Turns sampled factor values into scenario overrides (dotted keys, as with ``--set``)."""

    def __init__(self, scenario: Scenario, factors: Sequence[Factor]) -> None:
        self.scenario = scenario
        self.factors = list(factors)
        self._schedule = [line.model_dump() for line in scenario.programme.schedule]

    def point(self, row: np.ndarray) -> dict[str, Any]:
        """The overrides of one row of the sample matrix."""
        return self.overrides({f.name: f.value(x) for f, x in zip(self.factors, row, strict=True)})

    def overrides(self, values: dict[str, Any]) -> dict[str, Any]:
        """The overrides for factor values by factor name (factors not named keep the scenario's value)."""
        out: dict[str, Any] = {}
        edits: dict[str, list[int]] = {}
        for f in self.factors:
            if f.name not in values:
                continue
            if f.kind == "choice":
                level = f.changes[f.levels.index(values[f.name])]
                out.update(level.overrides)
                edits.update(level.schedule)
            else:
                out[f.name] = values[f.name]
        months = self.scenario.simulation.months
        new_months = int(out.get("simulation.months", months))
        if edits or new_months != months:
            out["programme.schedule"] = edit_schedule(self._schedule, edits, months, new_months)
        return out

    def check(self, factor: Factor, source: str) -> None:
        """Validate the scenario at the factor's extremes (or every level)."""
        if factor.kind == "integer":
            values: list[Any] = [int(factor.low), int(factor.high)]
        elif factor.kind == "continuous":
            values = [factor.low, factor.high]
        else:
            values = list(factor.levels)
        where = f"{source}.{'choices' if factor.kind == 'choice' else 'params'}.{factor.name}"
        for value in values:
            self.scenario.with_overrides(self.overrides({factor.name: value}), source=f"{where} = {value}")


def edit_schedule(
    schedule: list[dict[str, Any]], edits: dict[str, list[int]], months: int, new_months: int
) -> list[dict[str, Any]]:
    """The schedule with activities' months replaced (``[]`` removes one), rescaled to ``new_months``.

    Month ``m`` of ``months`` becomes ``ceil(m * new_months / months)``: the first and last months map
    onto themselves and every activity keeps its number of firings.
    """
    lines = []
    for line in schedule:
        planned = edits.get(line["activity"], line["months"])
        if planned:
            lines.append({"activity": line["activity"], "months": list(planned)})
    present = {line["activity"] for line in schedule}
    lines += [{"activity": a, "months": list(m)} for a, m in edits.items() if m and a not in present]
    for line in lines:
        line["months"] = sorted(-(-m * new_months // months) for m in line["months"])
    return lines


# --------------------------------------------------------------------------------------------------
# Methods


@dataclass(frozen=True)
class Settings:
    """Method settings shared by sampling and analysis."""

    second_order: bool = False
    num_levels: int = 4
    seed: int = 0


def _sobol_sample(problem: dict[str, Any], n: int, s: Settings) -> np.ndarray:
    if n < 2 or n & (n - 1):
        raise ScenarioError(f"--samples: Sobol (Saltelli) sampling needs a power of 2 (got {n}); e.g. 64, 128, 256")
    return sobol_sample.sample(problem, n, calc_second_order=s.second_order, seed=_stream_seed(s.seed, _SAMPLER_STREAM))


def _sobol_analyze(problem: dict[str, Any], x: np.ndarray, y: np.ndarray, s: Settings) -> dict[str, Any]:
    return sobol_analyze.analyze(
        problem, y, calc_second_order=s.second_order, seed=_stream_seed(s.seed, _BOOTSTRAP_STREAM)
    )


def _morris_sample(problem: dict[str, Any], n: int, s: Settings) -> np.ndarray:
    if n < 2:
        raise ScenarioError(f"--samples: Morris needs at least 2 trajectories (got {n})")
    return morris_sample.sample(problem, n, num_levels=s.num_levels, seed=_stream_seed(s.seed, _SAMPLER_STREAM))


def _morris_analyze(problem: dict[str, Any], x: np.ndarray, y: np.ndarray, s: Settings) -> dict[str, Any]:
    return morris_analyze.analyze(problem, x, y, num_levels=s.num_levels, seed=_stream_seed(s.seed, _BOOTSTRAP_STREAM))


_FAST_M = 4


def _fast_sample(problem: dict[str, Any], n: int, s: Settings) -> np.ndarray:
    if n <= 4 * _FAST_M**2:
        raise ScenarioError(f"--samples: eFAST needs more than {4 * _FAST_M**2} samples per factor (got {n})")
    return fast_sampler.sample(problem, n, M=_FAST_M, seed=_stream_seed(s.seed, _SAMPLER_STREAM))


def _fast_analyze(problem: dict[str, Any], x: np.ndarray, y: np.ndarray, s: Settings) -> dict[str, Any]:
    with warnings.catch_warnings():  # SALib warns that eFAST's bootstrap intervals are indicative; docs say so
        warnings.filterwarnings("ignore", message="FAST confidence intervals", category=UserWarning)
        return fast_analyze.analyze(problem, y, M=_FAST_M, seed=_stream_seed(s.seed, _BOOTSTRAP_STREAM))


@dataclass(frozen=True)
class Method:
    """A SALib method: its sampler, its analysis, the indices it reports and how its design grows."""

    name: str
    sample: Callable[[dict[str, Any], int, Settings], np.ndarray]
    analyze: Callable[[dict[str, Any], np.ndarray, np.ndarray, Settings], dict[str, Any]]
    columns: tuple[str, ...]
    rank_by: str
    rows_per_sample: Callable[[int, Settings], int]
    nested: bool = True  # the first n base samples' rows are themselves a design (for convergence)

    def runs(self, n: int, d: int, s: Settings) -> int:
        """Design points for ``n`` base samples of ``d`` factors."""
        return n * self.rows_per_sample(d, s)


METHODS: dict[str, Method] = {
    "sobol": Method(
        "sobol",
        _sobol_sample,
        _sobol_analyze,
        ("S1", "S1_conf", "ST", "ST_conf"),
        "ST",
        lambda d, s: 2 * d + 2 if s.second_order else d + 2,
    ),
    "morris": Method(
        "morris", _morris_sample, _morris_analyze, ("mu_star", "mu_star_conf", "sigma"), "mu_star", lambda d, s: d + 1
    ),
    "fast": Method(
        "fast", _fast_sample, _fast_analyze, ("S1", "S1_conf", "ST", "ST_conf"), "ST", lambda d, s: d, nested=False
    ),
}


# --------------------------------------------------------------------------------------------------
# The analysis


@dataclass(repr=False)
class SensitivityResult:
    """Indices per output, ranked, with the design, the outputs and the replicate-noise report.

    Attributes:
        method, samples, runs: the method, its base samples N and the number of model runs.
        factors, outputs: what was varied and what was analysed.
        indices: per output, one row per factor (ranked by ST, or mu_star for Morris).
        second_order: per output, the S2 matrix (Sobol with ``second_order``), else empty.
        noise: per output, within-point (replicate) and total variance, see :func:`replicate_noise`.
        convergence: long table (output, samples, factor, index, value) of indices on growing prefixes.
        x, y: the sample matrix and the outputs (points x replicates x outputs).
        posterior: the posterior file the replicates drew their other parameters from, if any.

    """

    method: str
    samples: int
    runs: int
    factors: list[Factor]
    outputs: list[str]
    indices: dict[str, pd.DataFrame]
    noise: pd.DataFrame
    convergence: pd.DataFrame
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    second_order: dict[str, pd.DataFrame] = field(default_factory=dict)
    posterior: str | None = None

    def __repr__(self) -> str:
        return (
            f"SensitivityResult({self.method}, N = {self.samples}, {self.runs} runs, "
            f"{len(self.factors)} factors, outputs {self.outputs})"
        )

    def to_frame(self) -> pd.DataFrame:
        """The indices as one long table: output, rank, factor, range, indices (the same as :meth:`ranked`)."""
        return self.ranked()

    def plot(self, kind: str = "indices") -> Any:
        """A figure of the analysis.

        Args:
            kind: ``"indices"`` (bars with confidence intervals, one panel per output), ``"morris"`` (mu* against
                sigma; Morris only) or ``"convergence"`` (indices as the base samples grow).

        Returns:
            The matplotlib Figure.

        """
        from twinsim.figures import sensitivity as figures

        if kind == "indices":
            return figures.plot_indices(self)
        if kind == "morris" and self.method == "morris":
            return figures.plot_morris(self)
        if kind == "convergence" and not self.convergence.empty:
            return figures.plot_convergence(self)
        raise ValueError(f"kind {kind!r}: not available for a {self.method} analysis")

    def to_dict(self) -> dict[str, Any]:
        """``{"method", "samples", "runs", "posterior", "outputs": {OUTPUT: {FACTOR: {index: value}}}}`` (NaN: null).

        ``posterior`` is the posterior file the replicates drew their parameters from (null without one).
        """
        return {
            "method": self.method,
            "samples": self.samples,
            "runs": self.runs,
            "posterior": self.posterior,
            "outputs": {
                out: {str(name): {c: json_number(row[c]) for c in frame.columns} for name, row in frame.iterrows()}
                for out, frame in self.indices.items()
            },
        }

    def ranked(self) -> pd.DataFrame:
        """One long table: output, rank, factor, range and the method's indices."""
        ranges = {f.name: f.describe() for f in self.factors}
        frames = []
        for out, frame in self.indices.items():
            ranked = frame.reset_index(names="factor")
            ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
            ranked.insert(0, "output", out)
            ranked.insert(3, "range", ranked["factor"].map(ranges))
            frames.append(ranked)
        return pd.concat(frames, ignore_index=True)


def replicate_noise(y: np.ndarray, outputs: Sequence[str]) -> pd.DataFrame:
    """How much of each output's point-to-point variance is replicate noise.

    Replicate ``r`` uses the same seed at every point (common random numbers), so a run is read as
    ``y[p, r] = mu + a[p] + b[r] + e[p, r]`` (two-way layout without repetition): ``b[r]``, the draw
    shared by all points, moves every point alike and cannot change an index; the noise that does is
    ``e``, estimated by the residual mean square after removing point and replicate means.

    Args:
        y: outputs as points x replicates x outputs (points with a NaN run are left out).
        outputs: the outputs' names.

    Returns:
        Per output: ``noise_var`` (variance of ``e``), ``signal_var`` (variance of ``a``, the design's
        effect), ``common_var`` (variance of ``b``, shared by all points), ``noise_share =
        noise_var / (noise_var + signal_var)`` (of one run) and ``noise_share_of_mean``, the share of
        the analysed mean's variance that is noise, ``(noise_var / R) / var(mean)``. NaN with one replicate.

    """
    r = y.shape[1]
    rows = []
    for k, out in enumerate(outputs):
        runs = y[:, :, k]
        runs = runs[~np.isnan(runs).any(axis=1)]
        n = len(runs)
        nan = float("nan")
        noise = signal = common = share = share_of_mean = nan
        if r > 1 and n > 1:
            point_mean = runs.mean(axis=1, keepdims=True)
            rep_mean = runs.mean(axis=0, keepdims=True)
            resid = runs - point_mean - rep_mean + runs.mean()
            noise = float((resid**2).sum() / ((n - 1) * (r - 1)))
            var_mean = float(point_mean.var(ddof=1))
            signal = max(var_mean - noise / r, 0.0)
            common = max(float(rep_mean.var(ddof=1)) - noise / n, 0.0)
            share = noise / (noise + signal) if noise + signal > 0 else nan
            share_of_mean = noise / r / var_mean if var_mean > 0 else nan
        rows.append(
            {
                "output": out,
                "replicates": r,
                "noise_var": noise,
                "signal_var": signal,
                "common_var": common,
                "noise_share": share,
                "noise_share_of_mean": share_of_mean,
            }
        )
    return pd.DataFrame(rows).set_index("output")


def _as_runs(y: np.ndarray, n: int, k: int) -> np.ndarray:
    """Evaluate's answer as points x replicates x outputs."""
    y = np.asarray(y, dtype=float)
    if y.ndim == 1:
        y = y[:, None, None]
    elif y.ndim == 2:
        y = y[:, None, :]
    if y.shape[0] != n or y.shape[2] != k:
        raise ValueError(f"evaluate returned shape {y.shape}; expected ({n}, replicates, {k})")
    return y


def _index_frame(method: Method, res: dict[str, Any], names: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({c: np.asarray(res[c], dtype=float) for c in method.columns}, index=names)
    return frame.sort_values(method.rank_by, ascending=False, na_position="last")


def analyse(
    factors: Sequence[Factor],
    outputs: Sequence[str],
    evaluate: Evaluate,
    *,
    method: str = "sobol",
    samples: int = 64,
    seed: int = 0,
    second_order: bool = False,
    num_levels: int = 4,
) -> SensitivityResult:
    """Sample the factors, evaluate the design and compute the method's indices for every output.

    Args:
        factors: the factors (see :func:`build_factors`, or :class:`Factor` directly for a test function).
        outputs: names of the outputs ``evaluate`` returns, in its order.
        evaluate: sample matrix (points x factors, in SALib's coordinates; map with :meth:`Factor.value`)
            to outputs, as points, points x outputs or points x replicates x outputs.
        method: ``sobol``, ``morris`` or ``fast``.
        samples: base samples N (Sobol: a power of 2; Morris: trajectories; eFAST: samples per factor).
        seed: the experiment seed; the design and the bootstrap use their own streams drawn from it.
        second_order: Sobol: also estimate S2.
        num_levels: Morris grid levels.

    """
    if method not in METHODS:
        raise ScenarioError(f"--method: unknown method {method!r}; allowed: {', '.join(sorted(METHODS))}")
    m = METHODS[method]
    settings = Settings(second_order=second_order, num_levels=num_levels, seed=seed)
    problem = salib_problem(factors)
    x = m.sample(problem, samples, settings)
    y = _as_runs(evaluate(x), len(x), len(outputs))
    mean = _mean_over_replicates(y, outputs)
    names = list(problem["names"])
    indices, s2 = {}, {}
    for k, out in enumerate(outputs):
        res = m.analyze(problem, x, mean[:, k], settings)
        indices[out] = _index_frame(m, res, names)
        if method == "sobol" and second_order:
            s2[out] = pd.DataFrame(np.asarray(res["S2"]), index=names, columns=names)
    return SensitivityResult(
        method=method,
        samples=samples,
        runs=int(y.shape[0] * y.shape[1]),
        factors=list(factors),
        outputs=list(outputs),
        indices=indices,
        noise=replicate_noise(y, outputs),
        convergence=_convergence(m, problem, x, mean, outputs, samples, settings),
        x=x,
        y=y,
        second_order=s2,
    )


def _mean_over_replicates(y: np.ndarray, outputs: Sequence[str]) -> np.ndarray:
    undefined = np.all(np.isnan(y), axis=1)
    for k, out in enumerate(outputs):
        bad = int(undefined[:, k].sum())
        if bad:
            raise ScenarioError(
                f"--output {out}: undefined (NaN) at {bad} of {len(y)} design points (e.g. an empty group);"
                " choose another output or narrow the ranges"
            )
    return np.nanmean(y, axis=1)


def _convergence(
    m: Method,
    problem: dict[str, Any],
    x: np.ndarray,
    mean: np.ndarray,
    outputs: Sequence[str],
    samples: int,
    settings: Settings,
) -> pd.DataFrame:
    """Indices on the first N/8, N/4, N/2 and N base samples (prefixes of Sobol and Morris designs)."""
    if not m.nested:
        return pd.DataFrame(columns=["output", "samples", "factor", "index", "value"])
    step = m.rows_per_sample(problem["num_vars"], settings)
    sizes = sorted({samples >> k for k in range(4) if samples >> k >= (4 if m.name == "sobol" else 2)})
    rows = []
    for n in sizes:
        for k, out in enumerate(outputs):
            res = m.analyze(problem, x[: n * step], mean[: n * step, k], settings)
            for col in m.columns:
                if col.endswith("_conf"):
                    continue
                for name, value in zip(problem["names"], np.asarray(res[col], dtype=float), strict=True):
                    rows.append({"output": out, "samples": n, "factor": name, "index": col, "value": value})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# Running twinsim


class ScenarioEvaluator:
    """Evaluate design rows by running the scenario's design points through the experiments engine.

    Args:
        scenario: the base scenario.
        factors: the factors of the sample matrix's columns.
        outputs: numeric keys of the run summary (:meth:`twinsim.model.results.RunResult.summary`).
        replicates: runs per point; replicate ``r`` uses ``SeedSequence(seed, spawn_key=(r,))`` at every point.
        seed: experiment seed (default: ``simulation.seed``).
        runner: the engine (default :func:`twinsim.experiments.run_points`).
        progress: called with the number of finished runs.
        options: extra keyword arguments for the runner (``executor``, ``store``, ``resume``).
        posterior: replicate ``r`` of every point runs the posterior's parameter set drawn for ``(seed, r)``,
            without the keys the factors vary (see :func:`design_keys`).

    """

    def __init__(
        self,
        scenario: Scenario,
        factors: Sequence[Factor],
        outputs: Sequence[str],
        replicates: int = 1,
        seed: int | None = None,
        *,
        runner: Callable[..., pd.DataFrame] = run_points,
        progress: Callable[[int], None] | None = None,
        options: dict[str, Any] | None = None,
        posterior: Posterior | None = None,
    ) -> None:
        # The runs see the model inputs only: the analysis table does not change a run (nor a stored run's key).
        self.scenario = scenario.model_copy(update={"sensitivity": SensitivitySpec()})
        self.design = Design(scenario, factors)
        self.outputs = list(outputs)
        self.replicates = replicates
        self.seed = scenario.simulation.seed if seed is None else int(seed)
        self.runner = runner
        self.progress = progress
        self.options = dict(options or {})
        self.posterior = None if posterior is None else posterior.without(design_keys(factors))
        if self.posterior is not None:
            self.options["posterior"] = self.posterior

    def check_outputs(self) -> None:
        """Run the base scenario once and check that every output is a numeric summary key."""
        frame = self.runner(self.scenario, [{}], 1, self.seed)
        numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and c not in _NOT_OUTPUTS]
        for out in self.outputs:
            if out not in numeric:
                raise ScenarioError(f"--output {out}: not a numeric summary output; available: {', '.join(numeric)}")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Outputs of the design rows ``x`` as points x replicates x outputs."""
        points = [self.design.point(row) for row in x]
        frame = self.runner(self.scenario, points, self.replicates, self.seed, progress=self.progress, **self.options)
        index = pd.MultiIndex.from_product([range(len(points)), range(self.replicates)], names=["point", "replicate"])
        values = frame.set_index(["point", "replicate"])[self.outputs].reindex(index)
        return values.to_numpy(dtype=float).reshape(len(points), self.replicates, len(self.outputs))


_NOT_OUTPUTS = {"point", "replicate", "seed", "parameter_set"}


def design_keys(factors: Sequence[Factor]) -> set[str]:
    """The dotted scenario keys the factors set (a choice: every key its alternatives override)."""
    keys = set()
    for f in factors:
        if f.kind == "choice":
            keys |= {k for level in f.changes for k in level.overrides}
        else:
            keys.add(f.name)
    return keys


def run_sensitivity(
    scenario: Scenario,
    spec: SensitivitySpec | None = None,
    *,
    seed: int | None = None,
    runner: Callable[..., pd.DataFrame] = run_points,
    progress: Callable[[int], None] | None = None,
    options: dict[str, Any] | None = None,
    source: str = "sensitivity",
    posterior: Posterior | None = None,
) -> SensitivityResult:
    """Run the global sensitivity analysis that ``spec`` (default: the scenario's own) describes.

    With ``posterior``, replicate ``r`` of every design point draws the parameters the factors do not vary
    from it (see :class:`ScenarioEvaluator`).

    Returns:
        The :class:`SensitivityResult`; ``runs`` counts the design's runs (plus none for the output check).

    """
    spec = scenario.sensitivity if spec is None else spec
    factors = build_factors(scenario, spec, source)
    evaluator = ScenarioEvaluator(
        scenario,
        factors,
        spec.outputs,
        spec.replicates,
        seed,
        runner=runner,
        progress=progress,
        options=options,
        posterior=posterior,
    )
    evaluator.check_outputs()
    result = analyse(
        factors,
        spec.outputs,
        evaluator,
        method=spec.method,
        samples=spec.samples,
        seed=evaluator.seed,
        second_order=spec.second_order,
        num_levels=spec.num_levels,
    )
    result.posterior = None if evaluator.posterior is None else evaluator.posterior.source
    return result


def planned_runs(spec: SensitivitySpec, n_factors: int) -> int:
    """Model runs the spec's design needs (for progress bars)."""
    m = METHODS[spec.method]
    settings = Settings(second_order=spec.second_order, num_levels=spec.num_levels)
    return m.runs(spec.samples, n_factors, settings) * spec.replicates


def sensitivity(
    scenario: Scenario | str | Path,
    params: dict[str, Any],
    outputs: Sequence[str] = ("mean_gain", "total_cost"),
    *,
    method: str = "sobol",
    samples: int = 64,
    replicates: int = 1,
    choices: dict[str, dict[str, dict[str, Any]]] | None = None,
    seed: int | None = None,
    second_order: bool = False,
    num_levels: int = 4,
    workers: int | str | None = None,
    progress: Callable[[int], None] | None = None,
    posterior: Posterior | str | Path | None = SCENARIO_POSTERIOR,
) -> SensitivityResult:
    """A global sensitivity analysis from plain Python arguments (no ``[sensitivity]`` table needed).

    Example::

        from twinsim.analysis.sensitivity import sensitivity
        result = sensitivity(
            "rwanda_tpn",                                     # a bundled name, a TOML path or a Scenario
            params={
                "learning.forgetting": (0.0, 0.05),          # a range
                "learning.rates.exchange_visit": None,        # the schema's plausible range
                "programme.matching": ["best_performer", "most_similar"],  # levels of a categorical key
            },
            outputs=["mean_gain", "total_cost"],
            method="morris",
            samples=10,
        )
        result.to_frame()

    Args:
        scenario: the base scenario: a :class:`~twinsim.Scenario`, a bundled name (``"rwanda_tpn"``) or a TOML path.
        params: dotted scenario key -> ``(low, high)``, a list of levels, or ``None`` for the key's plausible range.
        outputs: numeric keys of the run summary (see :meth:`twinsim.RunResult.summary`).
        method: ``"sobol"``, ``"morris"`` or ``"fast"``.
        samples: base samples N (Sobol: a power of 2; Morris: trajectories; eFAST: more than 64).
        replicates: runs per design point (the outputs analysed are their mean).
        choices: design choices with named alternatives: ``{choice: {level: {"overrides": {...},
            "schedule": {activity: [months]}}}}`` (an empty dict is the scenario as it is).
        seed: experiment seed (default: ``simulation.seed``).
        second_order: Sobol: also estimate second-order indices.
        num_levels: Morris: grid levels per factor.
        workers: run the design on this many local processes (default: in this process), or on the Dask
            scheduler at this address (tcp://HOST:PORT).
        progress: called with the number of finished runs.
        posterior: draw the parameters the factors do not vary from this posterior (replicate ``r`` of every
            point: the draw for ``(seed, r)``): by default ``"scenario"``, the scenario's own
            ``simulation.posterior`` (as ``twinsim sensitivity`` does; none if the scenario names none); or a
            Posterior, a CSV file or a bundled name (``"rwanda_tpn"``). ``None`` keeps the scenario's own values
            (the command's ``--no-posterior``).

    Raises:
        ScenarioError: for an unknown key, a bad range or an unknown output, naming it.

    """
    scenario = as_scenario(scenario)
    posterior = as_posterior(posterior, scenario)
    factors: dict[str, dict[str, Any]] = {}
    for key, value in params.items():
        if value is None:
            factors[key] = {}
        elif isinstance(value, tuple) and len(value) == 2:
            factors[key] = {"low": value[0], "high": value[1]}
        elif isinstance(value, list | tuple):
            factors[key] = {"levels": list(value)}
        else:
            raise ScenarioError(f"sensitivity: params[{key!r}]: give (low, high), a list of levels or None")
    spec_data = {
        "method": method,
        "samples": samples,
        "replicates": replicates,
        "second_order": second_order,
        "num_levels": num_levels,
        "outputs": list(outputs),
        "params": factors,
        "choices": {name: {"levels": levels} for name, levels in (choices or {}).items()},
    }
    try:
        spec = SensitivitySpec.model_validate(spec_data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ScenarioError(f"sensitivity: {where}: {err['msg'].removeprefix('Value error, ')}") from None
    return run_sensitivity(
        scenario,
        spec,
        seed=seed,
        progress=progress,
        options={"executor": workers},
        source="sensitivity",
        posterior=posterior,
    )
