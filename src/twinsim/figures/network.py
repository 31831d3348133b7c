"""Drawing the partnership network: who learns from whom, on which topic, and how much knowledge flowed.

The drawing reads the model's networkx graph (:attr:`twinsim.TwinningModel.network`: one node per
institution with ``name``, ``kind`` and ``region``; one learner -> mentor edge per tie, keyed by topic, with
``similarity``, ``activities`` and ``knowledge_flow``). The layout is deterministic: regions sit on a large
circle, each region's institutions on a small circle around its centre, so two runs of the same scenario
are drawn the same way and a tie across regions is visible as a long edge.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle

__all__ = ["draw_network", "network_of", "region_layout"]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def network_of(obj: Any) -> nx.MultiDiGraph:
    """The partnership graph of a :class:`~twinsim.RunResult`, a :class:`~twinsim.TwinningModel` or a graph."""
    if isinstance(obj, nx.Graph):
        return obj
    model = getattr(obj, "model", obj)
    graph = getattr(model, "network", None)
    if not isinstance(graph, nx.Graph):
        raise TypeError(f"draw_network: expected a RunResult, a TwinningModel or a networkx graph, got {type(obj)}")
    return graph


def region_layout(graph: nx.Graph) -> dict[Any, np.ndarray]:
    """Node positions: regions on a unit circle, each region's nodes on a small ring (or disc, if many) around it.

    Within a region, nodes are ordered by kind then by node id, so the layout depends only on the graph.
    """
    regions = list(dict.fromkeys(data.get("region", "") for _, data in graph.nodes(data=True)))
    big = 1.0 if len(regions) > 1 else 0.0
    pos: dict[Any, np.ndarray] = {}
    for i, region in enumerate(regions):
        centre = big * np.array([math.cos(2 * math.pi * i / len(regions)), math.sin(2 * math.pi * i / len(regions))])
        members = sorted(
            (n for n, d in graph.nodes(data=True) if d.get("region", "") == region),
            key=lambda n: (str(graph.nodes[n].get("kind", "")), n),
        )
        radius = 0.5 * min(1.0, math.sqrt(len(members) / 12)) if len(regions) > 1 else 1.0
        golden = math.pi * (3 - math.sqrt(5))
        for j, node in enumerate(members):
            if len(members) <= 16:  # a ring
                angle, r = 2 * math.pi * j / max(len(members), 1), radius
            else:  # a filled disc (sunflower spiral)
                angle, r = j * golden, radius * math.sqrt((j + 0.5) / len(members))
            pos[node] = centre + r * np.array([math.cos(angle), math.sin(angle)])
    return pos


def draw_network(
    obj: Any,
    ax: Axes | None = None,
    *,
    color_by: str = "topic",
    labels: bool | None = None,
    title: str | None = None,
) -> Figure:
    """Draw the partnership network of a run.

    Nodes are institutions (marker by kind, grouped and labelled by region; size grows with the number of
    mentees, i.e. the mentor's load); edges are ties drawn from learner to mentor, their width growing with
    the knowledge that flowed along them.

    Args:
        obj: a :class:`~twinsim.RunResult` (``twinsim.simulate(...)``), a :class:`~twinsim.TwinningModel`,
            or its networkx graph.
        ax: axes to draw on (default: a new figure).
        color_by: ``"topic"`` colours edges by the tie's topic; ``"region"`` colours nodes by region and draws
            edges grey.
        labels: write each institution's name beside it (default: only for networks of up to 20 institutions).
        title: figure title (default: counts of institutions and ties).

    Returns:
        The matplotlib Figure.

    """
    if color_by not in {"topic", "region"}:
        raise ValueError(f"color_by: 'topic' or 'region' (got {color_by!r})")
    graph = network_of(obj)
    pos = region_layout(graph)
    n = graph.number_of_nodes()
    labels = n <= 20 if labels is None else labels
    if ax is None:
        side = 7.5 if n <= 60 else 9.0
        fig, ax = plt.subplots(figsize=(side + 2.5, side))
    else:
        fig = ax.figure if isinstance(ax.figure, Figure) else ax.figure.figure  # on a subfigure: the figure holding it
    kinds = list(dict.fromkeys(d.get("kind", "") for _, d in graph.nodes(data=True)))
    regions = list(dict.fromkeys(d.get("region", "") for _, d in graph.nodes(data=True)))
    topics = list(dict.fromkeys(d.get("topic", k) for _, _, k, d in graph.edges(keys=True, data=True)))
    order = list(getattr(getattr(obj, "model", obj), "topic_names", []))  # the scenario's order, when known
    topics.sort(key=lambda t: order.index(t) if t in order else len(order))
    topic_colour = dict(
        zip(topics, sns.color_palette("tab10" if len(topics) <= 10 else "husl", len(topics)), strict=True)
    )
    region_colour = dict(zip(regions, sns.color_palette("Set2", len(regions)), strict=True))
    mentees = Counter(v for _, v in graph.edges())
    base = 110 if n <= 60 else max(6.0, 110 * 60 / n)

    flows = np.array([d.get("knowledge_flow", 0.0) for *_, d in graph.edges(data=True)], dtype=float)
    top = float(flows.max()) if flows.size and flows.max() > 0 else 1.0
    max_width = 3.0 if n <= 60 else 1.2
    for (u, v, key, data), flow in zip(graph.edges(keys=True, data=True), flows, strict=True):
        colour = topic_colour[data.get("topic", key)] if color_by == "topic" else (0.45, 0.45, 0.45)
        ax.annotate(
            "",
            xy=tuple(pos[v]),
            xytext=tuple(pos[u]),
            arrowprops={
                "arrowstyle": "-|>" if n <= 200 else "-",
                "color": colour,
                "lw": 0.4 + max_width * flow / top,
                "alpha": 0.75 if n <= 60 else max(0.1, 0.75 * 60 / n),
                "shrinkA": 5,
                "shrinkB": 7,
                "connectionstyle": "arc3,rad=0.12",
            },
            zorder=1,
        )
    for k, kind in enumerate(kinds):
        nodes = [node for node, d in graph.nodes(data=True) if d.get("kind", "") == kind]
        xy = np.array([pos[node] for node in nodes])
        sizes = [base * (1 + 0.5 * mentees.get(node, 0)) for node in nodes]
        colours = (
            [region_colour[graph.nodes[node].get("region", "")] for node in nodes] if color_by == "region" else "white"
        )
        ax.scatter(
            xy[:, 0], xy[:, 1], s=sizes, marker=_MARKERS[k % len(_MARKERS)], c=colours, edgecolors="black",
            linewidths=0.8, zorder=2,
        )  # fmt: skip
    if labels:
        for node, d in graph.nodes(data=True):
            ax.annotate(
                str(d.get("name", node)), tuple(pos[node]), textcoords="offset points", xytext=(0, -11), ha="center",
                fontsize=5.5, color="0.25", zorder=3,
            )  # fmt: skip
    if len(regions) > 1:
        _draw_regions(ax, graph, pos, region_colour)
    handles: list[Any] = [
        Line2D([], [], marker=_MARKERS[k % len(_MARKERS)], ls="", mfc="white", mec="black", ms=8, label=str(kind))
        for k, kind in enumerate(kinds)
    ]
    handles.append(Line2D([], [], ls="", label="marker size: number of mentees"))
    if color_by == "topic":
        handles += [Line2D([], [], color=topic_colour[t], lw=2.5, label=str(t)) for t in topics]
        handles.append(Line2D([], [], ls="", label="edge: learner → mentor,\nwidth: knowledge flow"))
    else:
        handles += [Line2D([], [], marker="o", ls="", mfc=region_colour[r], mec="black", label=str(r)) for r in regions]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    lim = 2.05 if len(regions) > 1 else 1.3
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.axis("off")
    ties = graph.number_of_edges()
    ax.set_title(title or f"Partnership network: {n} institutions, {ties} ties (learner → mentor)")
    return fig


def _draw_regions(ax: Axes, graph: nx.Graph, pos: dict[Any, np.ndarray], region_colour: dict[Any, Any]) -> None:
    """A faint disc behind each region's institutions and the region's name outside the circle of regions."""
    for (
        region,
        colour,
    ) in region_colour.items():  # a faint disc behind each region's institutions, its name just outside
        xy = np.array([pos[node] for node, d in graph.nodes(data=True) if d.get("region", "") == region])
        centre = xy.mean(axis=0)
        radius = float(np.max(np.linalg.norm(xy - centre, axis=1))) + 0.12
        ax.add_patch(Circle(centre, radius, color=colour, alpha=0.18, lw=0, zorder=0))
        direction = centre / (np.linalg.norm(centre) or 1.0)
        x, y = centre + direction * (radius + 0.06)
        ha = "left" if direction[0] > 0.3 else "right" if direction[0] < -0.3 else "center"
        va = "bottom" if direction[1] > 0.3 else "top" if direction[1] < -0.3 else "center"
        ax.text(x, y, str(region), ha=ha, va=va, fontsize=11, fontweight="bold", color="0.3")
