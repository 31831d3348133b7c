"""Figures of a delivery-model comparison: cost-effectiveness plane, acceptability curve, trajectories."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from twinsim.analysis.compare import Comparison

__all__ = ["plot_ce_plane", "plot_ceac", "plot_model_trajectories"]


def _palette(comparison: Comparison) -> dict[str, tuple[float, float, float]]:
    colours = sns.color_palette("colorblind", len(comparison.models))
    return {m.name: colours[k] for k, m in enumerate(comparison.models)}


def _currency(comparison: Comparison) -> str:
    costs = comparison.models[0].scenario.costs
    return f"{costs.currency} ({costs.price_year} prices)"


def plot_ce_plane(comparison: Comparison) -> Figure:
    """Incremental cost against incremental effect of every model vs the reference, one dot per replicate.

    Replicate ``r`` of a model is paired with replicate ``r`` of the reference (common random numbers); the
    large marker is the mean.
    """
    ref = comparison.model(comparison.reference)
    colours = _palette(comparison)
    fig, ax = plt.subplots(figsize=(7, 5))
    for m in comparison.models:
        if m is ref:
            continue
        d_effect = m.runs["effect"].to_numpy() - ref.runs["effect"].to_numpy()
        d_cost = m.runs["cost"].to_numpy() - ref.runs["cost"].to_numpy()
        ax.scatter(d_effect, d_cost, s=10, alpha=0.35, color=colours[m.name])
        ax.scatter(d_effect.mean(), d_cost.mean(), s=90, marker="D", color=colours[m.name], edgecolor="black")
        ax.annotate(m.name, (d_effect.mean(), d_cost.mean()), textcoords="offset points", xytext=(6, 6), fontsize=8)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel("incremental effect (points of the mean indicator)")
    ax.set_ylabel(f"incremental cost, {_currency(comparison)}")
    ax.set_title(f"Cost-effectiveness plane vs {comparison.reference} ({comparison.replicates} replicates)")
    return fig


def plot_ceac(comparison: Comparison) -> Figure:
    """Probability that each model has the highest net monetary benefit, over the willingness to pay."""
    ceac = comparison.ceac()
    colours = _palette(comparison)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for m in comparison.models:
        ax.plot(ceac["wtp"], ceac[m.name], label=m.name, color=colours[m.name])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"willingness to pay per point of the mean indicator, {_currency(comparison)}")
    ax.set_ylabel("probability cost-effective")
    ax.set_title("Cost-effectiveness acceptability curves")
    ax.legend(fontsize=8)
    return fig


def plot_model_trajectories(comparison: Comparison) -> Figure:
    """Mean indicator over all institutions and topics, month by month, per model (mean and 95% band)."""
    colours = _palette(comparison)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for m in comparison.models:
        traj = m.trajectories
        mean = traj.mean(axis=0)
        half = 1.96 * traj.std(axis=0, ddof=1) / np.sqrt(len(traj)) if len(traj) > 1 else np.zeros_like(mean)
        months = np.arange(mean.size)
        ax.plot(months, mean, label=m.name, color=colours[m.name])
        ax.fill_between(months, mean - half, mean + half, color=colours[m.name], alpha=0.2, lw=0)
    end = comparison.models[0].scenario.simulation.months
    ax.axvline(end, color="grey", ls="--", lw=0.8)
    ax.text(end, ax.get_ylim()[0], " programme ends", fontsize=8, va="bottom")
    ax.set_xlabel("month")
    ax.set_ylabel("mean indicator (all institutions and topics)")
    ax.set_title("Trajectories per delivery model (mean, 95% CI)")
    ax.legend(fontsize=8)
    return fig
