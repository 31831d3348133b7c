"""Figures (seaborn on a non-interactive matplotlib backend). Each function takes tidy tables and returns a Figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

__all__ = ["plot_posterior_predictive", "plot_trajectories", "save"]


def plot_trajectories(panel: pd.DataFrame, endline: int | None = None) -> Figure:
    """Mean indicator per month, institutions that selected the topic vs those that did not, one panel per topic.

    Means are taken within each replicate first; the band is a normal 95% interval across replicates.

    Args:
        panel: the tidy panel (columns month, topic, indicator, selected; ``replicate`` optional), or the
            aggregates of a run (the same columns plus ``institutions``, by which group means are weighted).
        endline: month at which the programme ends; drawn as a dashed line.

    """
    keys = ["replicate", "month", "topic", "selected"] if "replicate" in panel else ["month", "topic", "selected"]
    if "institutions" in panel:  # aggregates: group means weighted by their number of institutions
        weighted = panel.assign(indicator=panel["indicator"] * panel["institutions"])
        frame = weighted.groupby(keys, observed=True, as_index=False)[["indicator", "institutions"]].sum()
        frame["indicator"] /= frame["institutions"]
    else:
        frame = panel.groupby(keys, observed=True, as_index=False)["indicator"].mean()
    frame["group"] = frame["selected"].map({True: "selected", False: "not selected"})
    frame["topic"] = frame["topic"].astype(str)
    frame = frame.sort_values("topic", key=lambda t: t.map({n: i for i, n in enumerate(panel["topic"].unique())}))
    grid = sns.relplot(
        data=frame,
        x="month",
        y="indicator",
        hue="group",
        col="topic",
        col_wrap=3,
        kind="line",
        errorbar=("se", 1.96),
        height=2.6,
        aspect=1.3,
        facet_kws={"sharey": False},
        hue_order=["selected", "not selected"],
        col_order=list(dict.fromkeys(frame["topic"])),
    )
    grid.set_titles("{col_name}")
    grid.set_axis_labels("month", "indicator")
    if endline is not None:
        for ax in grid.axes.flat:
            ax.axvline(endline, color="grey", ls="--", lw=0.8)
    grid.figure.suptitle("Indicator trajectories: selected vs not selected (mean, 95% CI)", y=1.02)
    return grid.figure


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
    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 3.2), squeeze=False)
    for ax, (key, value, sd) in zip(axes.flat, targets, strict=True):
        ax.axvspan(value - 1.96 * sd, value + 1.96 * sd, color="0.9", label="published ± 1.96 SE")
        sns.histplot(prior[key], ax=ax, stat="density", color="0.55", alpha=0.5, label="prior predictive")
        sns.histplot(posterior[key], ax=ax, stat="density", color="C0", alpha=0.6, label="posterior predictive")
        ax.axvline(value, color="black", lw=1.2, label="published")
        ax.set_title(key.replace("selected_vs_not.", "selected vs not: "))
        ax.set_xlabel("indicator points")
    axes.flat[0].legend(fontsize=7, loc="upper right")
    fig.suptitle("Calibration: posterior predictive check", y=1.02)
    fig.tight_layout()
    return fig


def save(fig: Figure, path: str | Path) -> Path:
    """Save a figure as PNG and close it."""
    path = Path(path)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
