"""Figures of a delivery-model comparison: cost-effectiveness plane, acceptability curve, trajectories.

Figures a donor reads without a caption: plain currency on the axes (thousands separators, no ``1e6``
offset), one distinct colour and marker per model, models named as the comparison's table names them (the
scenario names, or the ``names`` given to :func:`~twinsim.analysis.compare.compare`), and a willingness-to-pay line.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from twinsim.figures.plots import calendar_axis, month_dates

if TYPE_CHECKING:
    from twinsim.figures.views import ComparedModel, ComparisonView, VoiView

__all__ = [
    "default_wtp_line",
    "model_label",
    "plot_ce_plane",
    "plot_ceac",
    "plot_effects",
    "plot_evpi",
    "plot_evppi",
    "plot_model_trajectories",
]

#: Qualitative colours that stay apart for up to ten models (tab10), and one marker per model.
_COLOURS = tuple(matplotlib.colors.to_rgb(c) for c in matplotlib.color_sequences["tab10"])
_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*", "h", "<")

money = FuncFormatter(lambda value, _: f"{value:,.0f}")


def model_label(model: ComparedModel) -> str:
    """How a model is named in a figure: as the table names it (the index of ``Comparison.table()``).

    That is the label given to ``compare(names=...)``, else the scenario's name, so a reader finds a legend entry
    in the table under the same name.
    """
    return model.name


def _style(comparison: ComparisonView) -> dict[str, tuple[tuple[float, ...], str]]:
    return {m.name: (_COLOURS[k % len(_COLOURS)], _MARKERS[k % len(_MARKERS)]) for k, m in enumerate(comparison.models)}


def _currency(comparison: ComparisonView) -> str:
    costs = comparison.models[0].scenario.costs
    return f"{costs.currency}, {costs.price_year} prices"


def default_wtp_line(comparison: ComparisonView) -> float:
    """A round willingness to pay to draw: the largest ICER on the cost-effectiveness frontier.

    Rounded to two significant figures; the middle of the comparison's range when no model is on the frontier
    beyond the reference.
    """
    icers = comparison.table()["icer_frontier"].to_numpy(dtype=float)
    icers = icers[np.isfinite(icers) & (icers > 0)]
    value = float(icers.max()) if icers.size else float(np.median(comparison.wtp))
    return float(f"{value:.2g}") if value > 0 else 0.0


def _wtp_lines(comparison: ComparisonView, wtp: float | None) -> list[float]:
    """The willingness-to-pay lines to draw: ``wtp`` if given, else the frontier ICERs (rounded, at most three).

    At a frontier ICER the best buy changes in expectation.
    """
    if wtp is not None:
        return [float(wtp)] if wtp > 0 else []
    values = [float(f"{w:.2g}") for w in comparison.frontier_wtps()]
    return sorted(set(values))[:3] or [v for v in [default_wtp_line(comparison)] if v > 0]


def plot_ce_plane(comparison: ComparisonView, wtp: float | None = None) -> Figure:
    """Incremental cost against incremental effect of every model vs the reference, one dot per replicate.

    Replicate ``r`` of a model is paired with replicate ``r`` of the reference (common random numbers); the
    large marker is the mean. A dashed line is a willingness to pay (``wtp`` per point; default: each frontier
    ICER, where the best buy changes): models below it are cost-effective at that price.
    """
    ref = comparison.model(comparison.reference)
    style = _style(comparison)
    lines = _wtp_lines(comparison, wtp)
    fig, ax = plt.subplots(figsize=(10, 5.5), layout="constrained")
    for m in comparison.models:
        if m is ref:
            continue
        colour, marker = style[m.name]
        d_effect = m.runs["effect"].to_numpy() - ref.runs["effect"].to_numpy()
        d_cost = m.runs["cost"].to_numpy() - ref.runs["cost"].to_numpy()
        ax.scatter(d_effect, d_cost, s=10, alpha=0.3, color=colour, marker=marker, lw=0)
        ax.scatter(
            d_effect.mean(), d_cost.mean(), s=110, marker=marker, color=colour, edgecolor="black", label=model_label(m)
        )
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    if lines:
        x_lo, x_hi = ax.get_xlim()
        y_lo, y_hi = ax.get_ylim()
        xs = np.array([min(x_lo, 0.0), max(x_hi, 0.0)])
        for k, line in enumerate(lines):
            style_k = ("--", ":", "-.")[k % 3]
            ax.plot(xs, line * xs, color="black", ls=style_k, lw=1, label=f"willingness to pay:\n{line:,.0f} per point")
        ax.set_xlim(x_lo, x_hi)
        ax.set_ylim(y_lo, y_hi)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.1f}"))
    ax.yaxis.set_major_locator(MaxNLocator(8))
    ax.yaxis.set_major_formatter(money)
    ax.set_xlabel("incremental effect vs the reference (points of the mean indicator)")
    ax.set_ylabel(f"incremental cost vs the reference ({_currency(comparison)})")
    ax.set_title(
        "\n".join(textwrap.wrap(f"Cost-effectiveness plane; reference: {model_label(ref)}", 90))
        + f"\n({comparison.replicates} replicates, one small marker each; large marker: mean)",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, labelspacing=0.8)
    return fig


def plot_ceac(comparison: ComparisonView, wtp: float | None = None) -> Figure:
    """Probability that each model has the highest net monetary benefit, over the willingness to pay.

    Dashed lines mark ``wtp`` (default: the frontier's ICERs, as on the cost-effectiveness plane).
    """
    ceac = comparison.ceac()
    style = _style(comparison)
    lines = _wtp_lines(comparison, wtp)
    fig, ax = plt.subplots(figsize=(10, 5), layout="constrained")
    every = max(1, len(ceac) // 10)
    for m in comparison.models:
        colour, marker = style[m.name]
        ax.plot(ceac["wtp"], ceac[m.name], label=model_label(m), color=colour, marker=marker, markevery=every, ms=5)
    for k, line in enumerate(lines):
        ax.axvline(line, color="black", ls=("--", ":", "-.")[k % 3], lw=1)
        ax.annotate(f" {line:,.0f}", (line, 1.0), fontsize=8, va="top")
    frontier = comparison.acceptability_frontier()
    ax.plot(frontier["wtp"], frontier["probability"], color="black", lw=5, alpha=0.18, zorder=0,
            label="acceptability frontier\n(the best buy in expectation)")  # fmt: skip
    ax.set_ylim(-0.02, 1.02)
    positive = ceac["wtp"][ceac["wtp"] > 0]
    if len(positive) > 1 and positive.max() > 100 * positive.min():  # a geometric grid: read it on a log axis
        ax.set_xscale("log")
        ax.set_xlim(positive.min(), positive.max())
    else:
        ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.xaxis.set_major_formatter(money)
    ax.set_xlabel(f"willingness to pay per point of the mean indicator ({_currency(comparison)})")
    ax.set_ylabel("probability of being the most cost-effective")
    ax.set_title(f"Cost-effectiveness acceptability curves ({comparison.replicates} replicates)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, labelspacing=0.8)
    return fig


def plot_model_trajectories(comparison: ComparisonView) -> Figure:
    """Mean indicator over all institutions and topics, month by month, per model (mean and 95% band)."""
    style = _style(comparison)
    scenario = comparison.models[0].scenario
    fig, ax = plt.subplots(figsize=(10, 5), layout="constrained")
    for m in comparison.models:
        colour, _ = style[m.name]
        traj = m.trajectories
        mean = traj.mean(axis=0)
        half = 1.96 * traj.std(axis=0, ddof=1) / np.sqrt(len(traj)) if len(traj) > 1 else np.zeros_like(mean)
        dates = month_dates(scenario.simulation.start, mean.size)
        ax.plot(dates, mean, label=model_label(m), color=colour)
        ax.fill_between(dates, mean - half, mean + half, color=colour, alpha=0.2, lw=0)
    calendar_axis(ax, scenario.simulation.start, scenario.simulation.months)
    units = {spec.unit for spec in scenario.topics.values()}
    unit = f" ({units.pop()})" if len(units) == 1 else " (indicator points)"
    ax.set_ylabel(f"mean indicator, all institutions and topics{unit}")
    ax.set_title(f"Trajectories per delivery model (mean, 95% CI; {comparison.replicates} replicates)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, labelspacing=0.8)
    return fig


def plot_effects(comparison: ComparisonView) -> Figure:
    """Per model: programme effect at the end of the programme and at the end of the follow-up (95% CI), and cost.

    Left: effect on the mean indicator against the same replicates without a programme; right: mean cost, with
    the cost per point of effect written beside each bar.
    """
    table = comparison.table()
    style = _style(comparison)
    labels = [model_label(m) for m in comparison.models]
    y = np.arange(len(table))[::-1]
    fig, (ax, ax2) = plt.subplots(
        1, 2, figsize=(11, 0.75 * len(table) + 1.8), sharey=True, layout="constrained", width_ratios=[1.3, 1]
    )
    for col, offset, hatch in (("effect", 0.18, ""), ("sustained_effect", -0.18, "//")):
        mean = table[col].to_numpy()
        err = np.vstack([mean - table[f"{col}_low"], table[f"{col}_high"] - mean])
        colours = [style[m.name][0] for m in comparison.models]
        ax.barh(y + offset, mean, 0.34, xerr=err, color=colours, hatch=hatch, edgecolor="white", capsize=3)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel("programme effect (points of the mean indicator, 95% CI)")
    keys = [  # neutral swatches: the bars' colours are the models', the hatch tells the two moments apart
        Patch(facecolor="0.55", edgecolor="white", hatch=hatch, label=name)
        for hatch, name in (("", "at the end of the programme"), ("//", "at the end of the follow-up"))
    ]
    fig.legend(handles=keys, fontsize=8, loc="outside lower center", ncol=2, frameon=False)
    costs = table["cost"].to_numpy()
    ax2.barh(y, costs, 0.5, color=[style[m.name][0] for m in comparison.models])
    for yi, cost, per_point in zip(y, costs, table["cost_per_point"], strict=True):
        text = f" {per_point:,.0f} per point" if np.isfinite(per_point) else ""
        ax2.annotate(text, (cost, yi), va="center", fontsize=8)
    ax2.xaxis.set_major_locator(MaxNLocator(3))
    ax2.xaxis.set_major_formatter(money)
    ax2.set_xlim(0, max(costs.max(), 1.0) * 1.6)
    ax2.set_xlabel(f"programme cost ({_currency(comparison)})")
    fig.suptitle(f"Effect and cost per model ({comparison.replicates} replicates)")
    return fig


def _wtp_axis(ax: plt.Axes, wtp: np.ndarray, comparison: ComparisonView) -> None:
    positive = wtp[wtp > 0]
    if len(positive) > 1 and positive.max() > 100 * positive.min():
        ax.set_xscale("log")
        ax.set_xlim(positive.min(), positive.max())
    ax.xaxis.set_major_formatter(money)
    ax.set_xlabel(f"willingness to pay per point of the mean indicator ({_currency(comparison)})")


def plot_evpi(voi: VoiView, comparison: ComparisonView) -> Figure:
    """Expected value of perfect information over the willingness to pay: per programme and for the population.

    One curve: the population's EVPI is the programme's times the population factor, read on the right axis.
    """
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    ax.plot(voi.wtp, voi.evpi, color="black", lw=2)
    ax.set_ylabel(f"EVPI per programme ({_currency(comparison)})")
    ax.yaxis.set_major_formatter(money)
    changes = list(comparison.frontier_wtps())
    for k, line in enumerate(changes):  # where the best buy changes: named in the legend, not left to guess
        label = "the best buy changes at " + ", ".join(f"{w:,.0f}" for w in changes) if k == 0 else None
        ax.axvline(line, color="grey", ls=":", lw=1, label=label)
    if changes:
        ax.legend(fontsize=8, loc="upper left", frameon=False)
    _wtp_axis(ax, voi.wtp, comparison)
    low, high = ax.get_ylim()
    twin = ax.twinx()  # the same curve on the population's scale (two lines drawn on top of each other read as one)
    twin.set_ylim(low * voi.population, high * voi.population)
    twin.set_ylabel(f"EVPI for the population (x{voi.population:.2f}, {_currency(comparison)})")
    twin.yaxis.set_major_formatter(money)
    ax.set_title(f"What removing all parameter uncertainty is worth ({comparison.uncertainty} uncertainty)")
    return fig


def plot_evppi(voi: VoiView, comparison: ComparisonView) -> Figure:
    """EVPPI per group of inputs over the willingness to pay, and the largest single inputs at the EVPI's peak."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), layout="constrained", width_ratios=(3, 2))
    left.plot(voi.wtp, voi.evpi, color="black", lw=2, label="EVPI (all inputs)")
    for k, group in enumerate(voi.groups):
        left.plot(voi.wtp, voi.evppi[group], color=_COLOURS[k % len(_COLOURS)], label=f"EVPPI: {group}")
    left.yaxis.set_major_formatter(money)
    left.set_ylabel(f"per programme ({_currency(comparison)})")
    _wtp_axis(left, voi.wtp, comparison)
    left.legend(fontsize=8, frameon=False)
    left.set_title("Value of learning each group of inputs")
    at = int(np.argmax(voi.evpi))
    top = voi.top(8, at)[::-1]
    right.barh([name for name, _ in top], [value for _, value in top], color="grey")
    right.xaxis.set_major_locator(MaxNLocator(4))  # thousands separators need room
    right.xaxis.set_major_formatter(money)
    right.tick_params(axis="y", labelsize=8)
    right.set_xlabel(f"EVPPI per programme at {voi.wtp[at]:,.0f} per point")
    right.set_title("Largest single inputs")
    return fig
