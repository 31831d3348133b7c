"""Power analysis: how many institutions a trial needs to detect an effect like the published ones.

For each trial size the scenario's population is scaled to that many institutions (every kind x region
count in proportion, rounded by largest remainders), the programme is simulated ``replicates`` times, and
an evaluator measures the indicators with error at the survey months and runs the difference-in-differences
regression of selectors against non-selectors (:func:`twinsim.core.evaluation.did_regression`). Per topic:

- **power**: the share of replicates in which the effect is detected, i.e. positive and significant at
  level ``alpha`` (two-sided, cluster-robust t test); a replicate where a group is empty counts as not
  detected;
- **minimum detectable effect** (MDE) at 80% power: ``(z(1 - alpha/2) + z(0.8)) * sd`` of the estimate
  across replicates (Bloom 1995), the smallest true difference such a trial detects four times in five.

With a posterior, each simulated trial draws its own parameter set: power is averaged over the posterior (the
probability that a trial detects the effect, given what the data leave unknown about the parameters), and the
spread of the estimate across trials holds parameter uncertainty as well as sampling noise. The table says how
much (``estimate_param_share``, ``power_param_share``: law of total variance over trials that drew the same
posterior row, see :func:`twinsim.core.uncertainty.variance_split`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twinsim.core.quantiles import normal_quantile
from twinsim.core.uncertainty import variance_split
from twinsim.errors import ScenarioError
from twinsim.experiments.engine import run
from twinsim.experiments.experiment import Arm, Experiment
from twinsim.experiments.posterior import SCENARIO_POSTERIOR, Posterior, as_posterior
from twinsim.scenario import Scenario, as_scenario

__all__ = ["PowerAnalysis", "minimum_detectable_effect", "power_analysis", "scale_population"]


def scale_population(scenario: Scenario, institutions: int) -> Scenario:
    """The scenario with ``institutions`` members, every kind x region count scaled in proportion.

    Counts are rounded by largest remainders (ties: file order), so they sum to ``institutions``.

    Raises:
        ScenarioError: when a kind would get no institution at all.

    """
    cells = [(k, r, c) for k, spec in scenario.population.kinds.items() for r, c in spec.counts.items()]
    counts = np.array([c for *_, c in cells], dtype=float)
    exact = counts * institutions / counts.sum()
    scaled = np.floor(exact).astype(int)
    order = np.argsort(-(exact - scaled), kind="stable")
    scaled[order[: institutions - scaled.sum()]] += 1
    overrides: dict[str, int] = {}
    for (kind, region, _), n in zip(cells, scaled, strict=True):
        overrides[f"population.kinds.{kind}.counts.{region}"] = int(n)
    for kind in scenario.population.kinds:
        if sum(n for (k, _, _), n in zip(cells, scaled, strict=True) if k == kind) == 0:
            raise ScenarioError(
                f"--institutions {institutions}: too few for kind {kind!r} to get a member; use a larger size"
            )
    return scenario.with_overrides(overrides, f"--institutions {institutions}")


def _wilson(successes: float, n: int) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion (NaNs without trials)."""
    if n == 0:
        return math.nan, math.nan
    z = 1.959963984540054
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    return low, 1.0 if successes == n else min(1.0, centre + half)


def minimum_detectable_effect(sd: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """``(z(1 - alpha/2) + z(power)) * sd``: the MDE of an estimator with standard error ``sd``."""
    return float((normal_quantile(1 - alpha / 2) + normal_quantile(power)) * sd)


@dataclass(repr=False)
class PowerAnalysis:
    """Per (size, replicate, topic) evaluation results (``replicates``) and their summary (:meth:`table`).

    ``table()`` (alias ``to_frame()``) has one row per trial size and topic; ``plot()`` draws power curves.
    """

    scenario: Scenario
    seed: int
    alpha: float
    replicates: pd.DataFrame
    posterior: str | None = None

    def __repr__(self) -> str:
        sizes = sorted(int(s) for s in self.replicates["institutions"].unique()) if len(self.replicates) else []
        n = int(self.replicates["replicate"].nunique()) if len(self.replicates) else 0
        return (
            f"PowerAnalysis({self.scenario.name!r}: sizes {sizes}, {n} simulated trials per size, "
            f"alpha {self.alpha}, seed {self.seed})"
        )

    def to_frame(self) -> pd.DataFrame:
        """Per trial size and topic: power, MDE and the estimate's spread (the same as :meth:`table`)."""
        return self.table()

    def plot(self, target: float = 0.8) -> Any:
        """Power against the number of institutions, one line per topic, with the ``target`` power marked.

        Returns:
            The matplotlib Figure.

        """
        import matplotlib.pyplot as plt

        table = self.table()
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
        for topic, group in table.groupby("topic", sort=False):
            ax.plot(group["institutions"], group["power"], marker="o", label=str(topic))
            ax2.plot(group["institutions"], group["mde"], marker="o", label=str(topic))
        ax.axhline(target, color="grey", ls="--", lw=0.9)
        ax.annotate(f"{target:.0%} power", (ax.get_xlim()[0], target), xytext=(4, 3), textcoords="offset points",
                    fontsize=8, color="0.3")  # fmt: skip
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("institutions in the trial")
        ax.set_ylabel(f"power (positive and significant at alpha = {self.alpha})")
        ax.set_title("Power of a difference-in-differences evaluation")
        ax2.set_xlabel("institutions in the trial")
        ax2.set_ylabel("minimum detectable effect at 80% power (points)")
        ax2.set_title("Smallest effect such a trial detects")
        # one legend for both panels, beside them: inside a panel it covered the lines it names
        fig.legend(*ax.get_legend_handles_labels(), fontsize=8, loc="outside right upper", frameon=False)
        return fig

    def table(self) -> pd.DataFrame:
        """Per size and topic: mean effect, power, the estimate's sd and mean standard error, the MDE.

        ``power_ci95_low`` and ``power_ci95_high``: the Wilson 95% interval of the power (a share of the simulated
        trials). ``estimate_param_share`` and ``power_param_share``: the share of the trial-to-trial variance of
        the estimate and of detection (0 or 1) that is parameter uncertainty (0 without a posterior, NaN when too
        few trials share a posterior row).
        """
        rows = []
        sets_known = "parameter_set" in self.replicates
        for (size, topic), g in self.replicates.groupby(["institutions", "topic"], sort=False):
            est = g["did_estimate"].dropna()
            detected = (g["did_p_value"] < self.alpha) & (g["did_estimate"] > 0)
            sets = g["parameter_set"] if sets_known else None
            sd = float(est.std(ddof=1)) if len(est) > 1 else math.nan
            low, high = _wilson(float(detected.sum()), len(g))
            rows.append(
                {
                    "institutions": int(size),
                    "topic": topic,
                    "n_selected": float(g["n_selected"].mean()),
                    "n_not_selected": float(g["n_not_selected"].mean()),
                    "mean_effect": float(est.mean()) if len(est) else math.nan,
                    "power": float(detected.mean()),
                    "power_ci95_low": low,
                    "power_ci95_high": high,
                    "sd_estimate": sd,
                    "mean_se": float(g["did_se"].mean()),
                    "mde": minimum_detectable_effect(sd, self.alpha),
                    "evaluable": float(g["did_estimate"].notna().mean()),
                    "estimate_param_share": variance_split(g["did_estimate"], sets).share,
                    "power_param_share": variance_split(detected.astype(float), sets).share,
                }
            )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        """JSON-ready: settings and one record per size and topic."""
        table = self.table().astype(object).where(self.table().notna(), None)
        return {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "alpha": self.alpha,
            "posterior": self.posterior,
            "replicates": int(self.replicates["replicate"].nunique()),
            "measurement_sd": self.scenario.evaluation.measurement_sd,
            "power": table.to_dict(orient="records"),
        }


def power_analysis(
    scenario: Scenario | str | Path,
    sizes: list[int],
    replicates: int = 100,
    seed: int | None = None,
    *,
    topics: list[str] | None = None,
    alpha: float = 0.05,
    posterior: Posterior | str | Path | None = SCENARIO_POSTERIOR,
    progress: Callable[[int], None] | None = None,
    executor: Any = None,
    store: str | Path | None = None,
    resume: bool = False,
) -> PowerAnalysis:
    """Simulate trials of each size and evaluate them as an evaluator would (see the module docstring).

    Args:
        scenario: a :class:`~twinsim.Scenario`, a bundled name or a TOML path (its ``[evaluation]`` section sets
            surveys and measurement error).
        sizes: trial sizes (total institutions).
        replicates: simulated trials per size.
        seed: experiment seed (default: ``scenario.simulation.seed``).
        topics: topics to evaluate (default: all).
        alpha: significance level of the two-sided test.
        posterior: where replicate ``r`` draws its parameter set (its draw for ``(seed, r)``): by default
            ``"scenario"``, the scenario's own ``simulation.posterior`` (as the command does; none if the scenario
            names none); or a :class:`~twinsim.experiments.posterior.Posterior`, a posterior CSV file or a bundled
            name. ``None`` runs the scenario's own parameter values (replicate noise only; the command's
            ``--no-posterior``).
        progress: called with the number of runs of each finished chunk.
        executor: where the runs execute (see :func:`twinsim.experiments.engine.run`).
        store: a result-store directory the runs are written to as they finish.
        resume: with ``store``, compute only the runs it does not hold yet.

    """
    scenario = as_scenario(scenario)
    posterior = as_posterior(posterior, scenario)
    seed = scenario.simulation.seed if seed is None else int(seed)
    topics = list(scenario.topics) if topics is None else topics
    unknown = sorted(set(topics) - set(scenario.topics))
    if unknown:
        raise ScenarioError(f"--topic: unknown topic {unknown[0]!r}; topics: {', '.join(scenario.topics)}")
    # Only months up to the endline survey matter: skip the rest (same random draws up to then).
    extra = max(0, scenario.endline_month - scenario.simulation.months)
    base = scenario.with_overrides({"simulation.followup_months": extra}, "power")
    arms = tuple(Arm(scale_population(base, size), label=str(size)) for size in sizes)
    experiment = Experiment(arms, replicates, seed, posterior=posterior, outputs=("evaluation",), name="power")
    runs = run(experiment, executor=executor, store=store, resume=resume, progress=progress)
    rows = []
    for topic in topics:
        suffix = f".{topic}"
        columns = {c: c[: -len(suffix)] for c in runs.columns if c.endswith(suffix)}
        sets = ["parameter_set"] if "parameter_set" in runs else []
        frame = runs[["arm", "replicate", *sets, *columns]].rename(columns=columns)
        frame.insert(0, "topic", topic)
        rows.append(frame.assign(institutions=frame.pop("arm").astype(int)))
    rows = [pd.concat(rows, ignore_index=True).sort_values(["institutions", "replicate"], kind="stable")]
    source = posterior.source if posterior is not None else None
    return PowerAnalysis(scenario, seed, alpha, pd.concat(rows, ignore_index=True), source)
