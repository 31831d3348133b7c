"""Counterfactual decomposition of the selected-vs-not comparison.

Institutions chose their own topics, so the paper's comparison mixes the effect of twinning with the
motivation (and baseline differences) that made them choose. For every replicate the model is run twice
with the same institutions, topic choices and random draws: once as is, and once with the programme's
learning switched off (``programme_learning=False``). Per topic,

    observed difference = twinning part + self-selection part,

where the self-selection part is the counterfactual run's selected-vs-not difference (what selectors
would have gained over non-selectors anyway) and the twinning part is the rest, both on the true indicators. The
evaluator sees measured indicators, and the institutions chose their topics on the same measured baseline (ODD 7.24),
so the difference an evaluation reports adds a third part:

    measured difference = twinning part + self-selection part + regression to the mean,

the last being the measured minus the true difference (selectors whose baseline was measured too low "improve"
by the error). The parts add up exactly in every replicate; the twinning share is of the measured difference, the
one a published evaluation reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twinsim.core.evaluation import interval95, json_number
from twinsim.core.uncertainty import variance_split
from twinsim.experiments.engine import run
from twinsim.experiments.experiment import Arm, Experiment
from twinsim.experiments.posterior import SCENARIO_POSTERIOR, Posterior, as_posterior
from twinsim.scenario import Scenario, as_scenario

__all__ = ["PARTS", "Decomposition", "decompose"]

PARTS = ("measured", "observed", "twinning", "self_selection", "regression_to_the_mean")


@dataclass(repr=False)
class Decomposition:
    """Per-replicate parts (``replicates``: replicate, topic and the :data:`PARTS`).

    ``observed`` is the true difference, ``measured`` the evaluator's.

    ``summary()`` (alias ``to_frame()``) has one row per topic with each part's mean and labelled 95% interval
    columns; ``plot()`` draws the parts per topic.
    """

    scenario: Scenario
    seed: int
    replicates: pd.DataFrame

    def __repr__(self) -> str:
        n = int(self.replicates["replicate"].nunique()) if len(self.replicates) else 0
        topics = self.replicates["topic"].nunique() if len(self.replicates) else 0
        return f"Decomposition({self.scenario.name!r}: {topics} topics, {n} replicate pairs, seed {self.seed})"

    def to_frame(self) -> pd.DataFrame:
        """Per topic: each part's mean and 95% CI, and the twinning share (the same as :meth:`summary`)."""
        return self.summary()

    def plot(self, topics: list[str] | None = None) -> Any:
        """Bar chart per topic: the measured selected-vs-not difference and its three parts.

        Args:
            topics: the topics to show (default: all).

        Returns:
            The matplotlib Figure.

        """
        import matplotlib.pyplot as plt

        frame = self.summary()
        if topics is not None:
            frame = frame.loc[topics]
        fig, ax = plt.subplots(figsize=(max(7.0, 1.5 * len(frame) + 2), 4.5), layout="constrained")
        width = 0.2
        x = np.arange(len(frame))
        labels = {
            "measured": "measured: selected - not",
            "twinning": "twinning part",
            "self_selection": "self-selection part",
            "regression_to_the_mean": "regression to the mean",
        }
        for k, part in enumerate(labels):
            mean = frame[part].to_numpy()
            err = np.vstack([mean - frame[f"{part}_ci95_low"], frame[f"{part}_ci95_high"] - mean])
            ax.bar(x + (k - 1.5) * width, mean, width, yerr=err, capsize=3, label=labels[part], color=f"C{k}")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(x, [str(t) for t in frame.index], rotation=30, ha="right")
        units = {self.scenario.topics[str(t)].unit for t in frame.index if str(t) in self.scenario.topics}
        unit = units.pop() if len(units) == 1 else "indicator points"
        ax.set_ylabel(f"difference in change over the programme\n(indicator points, {unit})")
        n = int(self.replicates["replicate"].nunique())
        ax.set_title(
            f"{self.scenario.name}: what twinning caused and what self-selection explains\n"
            f"(mean over {n} replicates, 95% CI)",
            fontsize=10,
        )
        # below the axes, in one row where it fits: beside the title it covered the title's end
        fig.legend(fontsize=8, loc="outside lower center", ncol=4 if len(frame) > 2 else 2, frameon=False)
        return fig

    def summary(self) -> pd.DataFrame:
        """Per topic: mean and 95% CI of each part over replicates, and the twinning share of the measured mean.

        With a posterior (replicates drawn from several parameter sets), ``twinning_share_low`` and
        ``twinning_share_high`` give the 5th and 95th percentiles of the twinning share over the parameter sets
        (each set's share of its own replicates' means, weighted by its number of replicates): how much of the
        published difference twinning explains is a range, set by what the data leave uncertain.

        ``observed_param_share``, ``twinning_param_share`` and ``self_selection_param_share``: the share of each
        part's variance over replicates that is parameter uncertainty (replicates that drew the same posterior row
        differ by replicate noise only; see :func:`twinsim.core.uncertainty.variance_split`); 0 without a
        posterior, NaN when too few replicates share a row.
        """
        rows = []
        for topic, group in self.replicates.groupby("topic", sort=False):
            row: dict[str, float | str] = {"topic": str(topic)}
            means: dict[str, float] = {}
            for part in PARTS:
                mean, lo, hi = interval95(group[part])
                means[part] = mean
                row.update({part: mean, f"{part}_ci95_low": lo, f"{part}_ci95_high": hi})
                row[f"{part}_param_share"] = variance_split(group[part], group["parameter_set"]).share
            row["twinning_share"] = means["twinning"] / means["measured"] if means["measured"] else np.nan
            row["twinning_share_low"], row["twinning_share_high"] = _share_range(group)
            rows.append(row)
        return pd.DataFrame(rows).set_index("topic")

    def to_dict(self) -> dict:
        """JSON-ready: per topic, each part's estimate, 95% CI of the mean and parameter share; the twinning share.

        ``twinning_share_range`` is the 5-95% range of the twinning share over posterior parameter sets (null
        without a posterior).
        """
        out: dict[str, dict[str, Any]] = {}
        for topic, row in self.summary().iterrows():
            out[str(topic)] = {
                part: {
                    "estimate": json_number(row[part]),
                    "ci95": [json_number(row[f"{part}_ci95_low"]), json_number(row[f"{part}_ci95_high"])],
                    "parameter_share": json_number(row[f"{part}_param_share"]),
                }
                for part in PARTS
            }
            out[str(topic)]["twinning_share"] = json_number(row["twinning_share"])
            low, high = row["twinning_share_low"], row["twinning_share_high"]
            out[str(topic)]["twinning_share_range"] = None if low != low else [json_number(low), json_number(high)]  # noqa: PLR0124
        return {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "replicates": int(self.replicates["replicate"].nunique()),
            "decomposition": out,
        }


def _share_range(group: pd.DataFrame) -> tuple[float, float]:
    """5th and 95th percentiles of the twinning share of the measured difference over parameter sets.

    NaN with fewer than 5 sets.
    """
    if "parameter_set" not in group or group["parameter_set"].nunique() < 5:
        return np.nan, np.nan
    sets = group.groupby("parameter_set")[["twinning", "observed"]].agg(["mean", "size"])
    # A set's measured difference: its own true difference plus the mean regression to the mean over all replicates
    # (measurement error, which the parameters hardly move; a set's own few replicates would add its noise).
    measured = sets[("observed", "mean")] + group["regression_to_the_mean"].mean()
    share = (sets[("twinning", "mean")] / measured).to_numpy()
    weight = sets[("twinning", "size")].to_numpy(dtype=float)
    order = np.argsort(share)
    cumulative = (np.cumsum(weight[order]) - 0.5 * weight[order]) / weight.sum()
    low, high = np.interp([0.05, 0.95], cumulative, share[order])
    return float(low), float(high)


def decompose(
    scenario: Scenario | str | Path,
    replicates: int = 1,
    seed: int | None = None,
    *,
    posterior: Posterior | str | Path | None = SCENARIO_POSTERIOR,
    progress: Callable[[int], None] | None = None,
    executor: Any = None,
    store: str | Path | None = None,
    resume: bool = False,
) -> Decomposition:
    """Split each topic's measured selected-vs-not difference into twinning, self-selection and regression to the mean.

    An experiment of two arms on the same replicates (common random numbers): the scenario, and its
    counterfactual with the programme's learning switched off (same institutions, topic choices and draws).

    Args:
        scenario: a :class:`~twinsim.Scenario`, the name of a bundled scenario (``"rwanda_tpn"``) or a TOML path.
        replicates: number of replicate pairs (factual and counterfactual run).
        seed: experiment seed (default: ``scenario.simulation.seed``).
        posterior: where replicate ``r`` draws its parameter set (its draw for ``(seed, r)``, in both runs): by default
            ``"scenario"``, the scenario's own ``simulation.posterior`` (as the command does; none if the scenario
            names none); or a :class:`~twinsim.experiments.posterior.Posterior`, a posterior CSV file or a bundled
            name. ``None`` runs the scenario's own parameter values (replicate noise only; the command's
            ``--no-posterior``).
        progress: called with the number of runs of each finished chunk (two runs per replicate).
        executor: where the runs execute (see :func:`twinsim.experiments.engine.run`).
        store: a result-store directory the runs are written to as they finish.
        resume: with ``store``, compute only the runs it does not hold yet.

    """
    scenario = as_scenario(scenario)
    posterior = as_posterior(posterior, scenario)
    seed = scenario.simulation.seed if seed is None else int(seed)
    arms = (Arm(scenario, label="factual"), Arm(scenario, programme_learning=False, label="counterfactual"))
    experiment = Experiment(
        arms, replicates, seed, posterior=posterior, outputs=("summary", "measured"), name="decompose"
    )
    runs = run(experiment, executor=executor, store=store, resume=resume, progress=progress)
    factual = runs[runs["arm"] == "factual"].set_index("replicate").sort_index()
    counterfactual = runs[runs["arm"] == "counterfactual"].set_index("replicate").sort_index()
    rows = []
    for topic in scenario.topics:
        if not factual[f"n_selected.{topic}"].equals(counterfactual[f"n_selected.{topic}"]):  # pragma: no cover
            raise RuntimeError("counterfactual run chose different topics: random streams are not separated")
        observed = factual[f"selected_vs_not.{topic}"]
        measured = factual[f"measured_selected_vs_not.{topic}"]
        selection = counterfactual[f"selected_vs_not.{topic}"]
        rows.append(
            pd.DataFrame(
                {
                    "replicate": observed.index,
                    "topic": topic,
                    "measured": measured.to_numpy(),
                    "observed": observed.to_numpy(),
                    "twinning": (observed - selection).to_numpy(),
                    "self_selection": selection.to_numpy(),
                    "regression_to_the_mean": (measured - observed).to_numpy(),
                    "parameter_set": [experiment.draw_row(int(r)) for r in observed.index],
                }
            )
        )
    frame = pd.concat(rows).sort_values(["replicate"], kind="stable").reset_index(drop=True)
    return Decomposition(scenario, seed, frame)
