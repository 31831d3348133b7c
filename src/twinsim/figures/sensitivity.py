"""Figures of a sensitivity analysis: indices with confidence bars, Morris mu*-sigma, convergence."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from twinsim.figures.labels import freeze_layout, place_labels
from twinsim.figures.plots import save

if TYPE_CHECKING:
    from twinsim.figures.views import SensitivityView

__all__ = ["plot_convergence", "plot_indices", "plot_morris", "save_figures"]


def _plain(value: float, _: int) -> str:
    """Tick labels without an offset or exponent: thousands separators for large values."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"


def _grid(n: int, width: float = 5.0, height: float = 3.2) -> tuple[Figure, np.flatiter[np.ndarray]]:
    cols = min(n, 2)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, layout="constrained")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def plot_indices(result: SensitivityView) -> Figure:
    """One panel per output: first-order and total indices (or Morris mu*) with their confidence bars."""
    fig, axes = _grid(len(result.outputs), width=6.5, height=0.45 * len(result.factors) + 1.5)  # room for names
    for ax, out in zip(axes, result.outputs, strict=False):
        frame = result.indices[out].iloc[::-1]
        pos = np.arange(len(frame))
        if result.method == "morris":
            ax.barh(pos, frame["mu_star"], xerr=frame["mu_star_conf"], color="tab:blue", capsize=3)
            ax.set_xlabel("mu* (mean absolute elementary effect)")
        else:
            ax.barh(pos + 0.2, frame["ST"], 0.4, xerr=frame["ST_conf"], label="ST (total)", capsize=3)
            ax.barh(pos - 0.2, frame["S1"], 0.4, xerr=frame["S1_conf"], label="S1 (first order)", capsize=3)
            ax.axvline(0, color="grey", lw=0.8)
            ax.set_xlabel("Sobol index (95% CI)")
            ax.legend(loc="lower right", fontsize=8)
        ax.set_yticks(pos, frame.index)
        ax.locator_params(axis="x", nbins=5)
        ax.xaxis.set_major_formatter(FuncFormatter(_plain))
        ax.set_title(out)
    fig.suptitle(f"{result.method}: sensitivity indices (N = {result.samples}, {result.runs} runs)")
    return fig


#: Factors labelled in a Morris panel at most (the most influential); the others are listed under it.
MORRIS_LABELS = 8


def plot_morris(result: SensitivityView) -> Figure:
    """Morris screening: mu* against sigma per factor, one panel per output.

    The most influential factors (at most :data:`MORRIS_LABELS`, and at least 10% of the largest mu*) are named
    beside their dots, each label tied to its dot by a leader line and placed where it covers no other label; the
    others are drawn lighter and listed under the panel.
    """
    fig, axes = _grid(len(result.outputs), width=6.0, height=5.5)  # room for the list of unlabelled factors
    labelled_by_panel = []
    for ax, out in zip(axes, result.outputs, strict=False):
        frame = result.indices[out]
        top = float(np.nanmax([frame["mu_star"].max(), frame["sigma"].max(), 0.0])) or 1.0
        rank = frame["mu_star"].rank(ascending=False, method="first")
        small = (frame["mu_star"] < 0.1 * top) | (rank > MORRIS_LABELS) | frame["sigma"].isna()  # listed instead
        ax.scatter(frame.loc[small, "mu_star"], frame.loc[small, "sigma"], s=18, color="0.6", zorder=2)
        ax.scatter(frame.loc[~small, "mu_star"], frame.loc[~small, "sigma"], s=28, color="tab:blue", zorder=3)
        ax.plot([0, top], [0, top], color="grey", ls="--", lw=0.8, zorder=1)  # sigma = mu*: non-linear or interacting
        ax.locator_params(axis="x", nbins=5)  # room for thousands separators
        ax.xaxis.set_major_formatter(FuncFormatter(_plain))
        ax.yaxis.set_major_formatter(FuncFormatter(_plain))
        ax.margins(0.08)
        label = f"mu* (mean absolute change in {out} across a factor's range)"
        if small.any():
            names = ", ".join(str(n) for n in frame[small].sort_values("mu_star", ascending=False).index)
            note = f"grey, not labelled (not among the {MORRIS_LABELS} largest mu*, or < 10% of it), by mu*: {names}"
            label += "\n" + "\n".join(textwrap.wrap(note, 80))
        ax.set_xlabel(label, fontsize=8)
        ax.set_ylabel("sigma (spread of that change)", fontsize=8)
        ax.set_title(out)
        labelled_by_panel.append((ax, frame[~small].sort_values("mu_star", ascending=False), frame))
    fig.suptitle("Morris screening: mu* (influence) vs sigma (non-linearity, interactions)")
    freeze_layout(fig)  # labels are placed for the final layout
    for ax, labelled, frame in labelled_by_panel:
        place_labels(
            ax,
            labelled[["mu_star", "sigma"]].to_numpy(),
            [str(name) for name in labelled.index],
            obstacles=frame[["mu_star", "sigma"]].dropna().to_numpy(),
        )
    return fig


#: Line style and marker of the first ten factors, the next ten, ...: every factor of a legend looks different.
_STYLES = (("-", "o"), ("--", "s"), (":", "^"))


def plot_convergence(result: SensitivityView) -> Figure | None:
    """Indices (ST, or mu* for Morris) as the number of base samples grows; None for eFAST."""
    conv = result.convergence
    if conv.empty:
        return None
    index = "mu_star" if result.method == "morris" else "ST"
    fig, axes = _grid(len(result.outputs))
    for ax, out in zip(axes, result.outputs, strict=False):
        frame = conv[(conv["output"] == out) & (conv["index"] == index)]
        for i, (name, group) in enumerate(frame.groupby("factor", sort=False)):
            line, marker = _STYLES[(i // 10) % len(_STYLES)]  # ten distinct colours, then the next line style
            color = plt.get_cmap("tab10")(i % 10)
            ax.plot(group["samples"], group["value"], ls=line, marker=marker, color=color, label=str(name))
        ax.set_xscale("log", base=2)
        ax.yaxis.set_major_formatter(FuncFormatter(_plain))
        ax.set_xlabel("base samples N")
        ax.set_ylabel(index)
        ax.set_title(out)
    fig.legend(*axes[0].get_legend_handles_labels(), fontsize=7, loc="outside right upper")
    fig.suptitle(f"Convergence of {index} as N grows")
    return fig


def save_figures(result: SensitivityView, out: str | Path) -> list[Path]:
    """Write the analysis' figures into ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [save(plot_indices(result), out / "indices.png")]
    if result.method == "morris":
        paths.append(save(plot_morris(result), out / "morris_mu_sigma.png"))
    conv = plot_convergence(result)
    if conv is not None:
        paths.append(save(conv, out / "convergence.png"))
    return paths
