"""Figures on a non-interactive matplotlib backend (seaborn only where it draws a distribution).

Each function takes tidy tables and returns a Figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from twinsim.scenario import as_scenario

if TYPE_CHECKING:
    from twinsim.scenario import Scenario

__all__ = [
    "calendar_axis",
    "month_dates",
    "plot_posterior",
    "plot_posterior_predictive",
    "plot_trajectories",
    "save",
]


def month_dates(start: str, months: int) -> pd.DatetimeIndex:
    """Calendar dates of model months ``0 .. months - 1``: month ``m`` ends ``m`` months after ``start`` (YYYY-MM).

    Month 0 (the baseline) is the first day of the start month; month ``m`` is the first day after its end.
    """
    return pd.date_range(pd.Timestamp(f"{start}-01"), periods=months, freq="MS")


def calendar_axis(ax: Axes, start: str, endline: int | None = None) -> None:
    """Format a date x axis (month and year) and mark the programme's end with a labelled line."""
    locator = mdates.AutoDateLocator(minticks=4, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    if endline is not None:
        end = month_dates(start, endline + 1)[-1]
        ax.axvline(end, color="0.35", ls="--", lw=0.9)
        last = (end - pd.DateOffset(months=1)).strftime("%b %Y")
        ax.annotate(
            f"programme ends\n({last})", (end, 0.02), xycoords=("data", "axes fraction"), xytext=(3, 0),
            textcoords="offset points", fontsize=7, color="0.3", va="bottom",
        )  # fmt: skip


def plot_trajectories(
    panel: pd.DataFrame,
    endline: int | None = None,
    *,
    scenario: Scenario | str | Path | None = None,
) -> Figure:
    """Mean indicator per month, institutions that selected the topic vs those that did not, one panel per topic.

    Means are taken within each replicate first; the band is a normal 95% interval across replicates.

    Args:
        panel: the tidy panel (columns month, topic, indicator, selected; ``replicate`` optional), or the
            aggregates of a run (the same columns plus ``institutions``, by which group means are weighted).
        endline: month at which the programme ends; drawn as a labelled dashed line (default: the scenario's).
        scenario: the scenario that was run (a Scenario, a bundled name or a TOML path): gives calendar dates on
            the x axis (from ``simulation.start``), each topic's indicator and unit on the y axis, and the
            programme end.

    """
    if scenario is not None:
        scenario = as_scenario(scenario)
    keys = ["replicate", "month", "topic", "selected"] if "replicate" in panel else ["month", "topic", "selected"]
    if "institutions" in panel:  # aggregates: group means weighted by their number of institutions
        weighted = panel.assign(indicator=panel["indicator"] * panel["institutions"])
        frame = weighted.groupby(keys, observed=True, as_index=False)[["indicator", "institutions"]].sum()
        frame["indicator"] /= frame["institutions"]
    else:
        frame = panel.groupby(keys, observed=True, as_index=False)["indicator"].mean()
    frame["group"] = frame["selected"].map({True: "chose the topic", False: "did not choose it"})
    frame["topic"] = frame["topic"].astype(str)
    frame = frame.sort_values("topic", key=lambda t: t.map({n: i for i, n in enumerate(panel["topic"].unique())}))
    if scenario is not None and endline is None:
        endline = scenario.simulation.months
    x = "month"
    if scenario is not None:
        dates = month_dates(scenario.simulation.start, int(frame["month"].max()) + 1)
        frame["date"] = dates[frame["month"].to_numpy()]
        x = "date"
    # mean and normal 95% interval across replicates, per month, topic and group (vectorised: no per-point bootstrap)
    stats = frame.groupby(["topic", "group", x], observed=True, sort=False)["indicator"].agg(["mean", "std", "count"])
    stats["half"] = 1.96 * stats["std"].fillna(0.0) / np.sqrt(stats["count"])
    stats = stats.sort_index()  # a sorted index: each line's rows are one slice (no lexsort warning)
    topics = list(dict.fromkeys(frame["topic"]))
    cols = min(3, len(topics))
    rows = -(-len(topics) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(2.7 * 1.35 * cols, 2.7 * rows), sharex=True, squeeze=False, layout="constrained"
    )
    colours = dict(zip(GROUPS, ("C0", "C1"), strict=True))
    for ax, topic in zip(axes.flat, topics, strict=False):
        for group in GROUPS:
            if (topic, group) not in stats.index.droplevel(2):
                continue
            line = stats.loc[(topic, group)]
            ax.plot(line.index, line["mean"], color=colours[group], label=group, lw=1.5)
            ax.fill_between(line.index, line["mean"] - line["half"], line["mean"] + line["half"],
                            color=colours[group], alpha=0.2, lw=0)  # fmt: skip
        ax.set_title(topic, fontsize=10)
        spec = scenario.topics.get(str(topic)) if scenario is not None else None
        ax.set_ylabel(f"{spec.indicator} ({spec.unit})" if spec is not None else "indicator", fontsize=8)
        ax.set_xlabel("" if scenario is not None else "month")
        if scenario is not None:
            calendar_axis(ax, scenario.simulation.start, endline)
        elif endline is not None:
            ax.axvline(endline, color="0.35", ls="--", lw=0.9)
            ax.annotate(" programme ends", (endline, 0.02), xycoords=("data", "axes fraction"), fontsize=7)
    for ax in axes.flat[len(topics) :]:
        ax.remove()
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False)
    fig.suptitle("Indicator trajectories by topic choice (mean and 95% CI over replicates)")
    return fig


#: The two groups a trajectory figure compares, in legend order.
GROUPS = ("chose the topic", "did not choose it")


def plot_posterior_predictive(
    prior: pd.DataFrame, posterior: pd.DataFrame, targets: list[tuple[str, float, float]]
) -> Figure:
    """Posterior predictive check: prior and posterior predictive distributions of each calibration target.

    Args:
        prior: one row per prior (design) point, a column per target key.
        posterior: one row per posterior predictive draw, a column per target key.
        targets: (key, published value, stated standard error) per target; the value is a black line,
            value +- 1.96 standard errors a grey band.

    """
    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 3.4), squeeze=False, layout="constrained")
    for ax, (key, value, sd) in zip(axes.flat, targets, strict=True):
        ax.axvspan(value - 1.96 * sd, value + 1.96 * sd, color="0.9", label="published ± 1.96 SE")
        import seaborn as sns  # deferred: its import costs most of a second (scipy.stats)

        sns.histplot(prior[key], ax=ax, stat="density", color="0.55", alpha=0.5, label="prior predictive")
        sns.histplot(posterior[key], ax=ax, stat="density", color="C0", alpha=0.6, label="posterior predictive")
        ax.axvline(value, color="black", lw=1.2, label="published")
        ax.set_title(_target_title(key), fontsize=10)
        ax.set_xlabel("indicator points")
    axes.flat[0].legend(fontsize=7, loc="upper right")
    fig.suptitle("Calibration: posterior predictive check")
    return fig


def _target_title(key: str) -> str:
    """A calibration target's key as words: ``measured_selected_vs_not.accreditation`` -> topic, then the summary."""
    summary, _, topic = key.rpartition(".")
    return f"{topic}: {summary.replace('_vs_', ' vs ').replace('_', ' ')}" if summary else key


def save(fig: Figure, path: str | Path) -> Path:
    """Save a figure as PNG and close it."""
    path = Path(path)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_posterior(
    samples: pd.DataFrame, weights: Sequence[float] | None = None, bounds: dict[str, tuple[float, float]] | None = None
) -> Figure:
    """Marginal posterior of each calibrated parameter (weighted histogram) over its prior range.

    Args:
        samples: one column per dotted scenario key (e.g. ``Posterior.samples``).
        weights: the samples' weights (e.g. ``Posterior.weights``; default: equal).
        bounds: prior range per key; drawn as the x limits and a grey band, so a posterior that fills its band has
            learnt little from the targets.

    """
    keys = list(samples.columns)
    cols = min(len(keys), 3)
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False, layout="constrained")
    for ax in axes.flat[len(keys) :]:
        ax.set_visible(False)
    for ax, key in zip(axes.flat, keys, strict=False):
        if bounds and key in bounds:
            lo, hi = bounds[key]
            ax.axvspan(lo, hi, color="0.93", label="prior range (uniform)")
            ax.set_xlim(lo - 0.02 * (hi - lo), hi + 0.02 * (hi - lo))
        ax.hist(samples[key], bins=20, weights=weights, density=True, color="C0", alpha=0.75, label="posterior")
        ax.set_title(key, fontsize=9)
        ax.set_yticks([])
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Calibrated parameters: posterior over the prior range")
    return fig
