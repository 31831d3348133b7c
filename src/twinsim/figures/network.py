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
from matplotlib.text import Text

from twinsim.figures.labels import place_labels

__all__ = ["DISC_PAD", "draw_network", "network_of", "region_discs", "region_layout"]

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


#: Room (data units) between a region's outermost institution and the edge of its disc: the markers fit in it.
DISC_PAD = 0.16
#: Least gap (data units) between two regions' discs.
DISC_GAP = 0.12


def _regions(graph: nx.Graph) -> dict[Any, list[Any]]:
    """Each region's institutions, regions in order of first appearance, members by kind then node id."""
    regions: dict[Any, list[Any]] = {}
    for node, data in graph.nodes(data=True):
        regions.setdefault(data.get("region", ""), []).append(node)
    return {
        region: sorted(members, key=lambda n: (str(graph.nodes[n].get("kind", "")), n))
        for region, members in regions.items()
    }


def _ring_radius(members: int, regions: int) -> float:
    return 0.5 * min(1.0, math.sqrt(members / 12)) if regions > 1 else 1.0


def region_discs(graph: nx.Graph) -> dict[Any, tuple[np.ndarray, float]]:
    """Each region's disc: its centre and radius (data units), as :func:`draw_network` draws it.

    Regions sit on a circle around the origin, far enough apart that no two discs overlap; every institution of a
    region lies at least :data:`DISC_PAD` inside its disc's edge (room for its marker).
    """
    groups = _regions(graph)
    k = len(groups)
    radii = {region: _ring_radius(len(members), k) + DISC_PAD for region, members in groups.items()}
    if k <= 1:
        return {region: (np.zeros(2), radius) for region, radius in radii.items()}
    widest = max(radii.values())
    big = max(1.0, (2 * widest + DISC_GAP) / (2 * math.sin(math.pi / k)))  # neighbours' discs do not touch
    return {
        region: (big * np.array([math.cos(2 * math.pi * i / k), math.sin(2 * math.pi * i / k)]), radii[region])
        for i, region in enumerate(groups)
    }


def region_layout(graph: nx.Graph) -> dict[Any, np.ndarray]:
    """Node positions: regions on a circle, each region's nodes on a small ring (or disc, if many) around it.

    Within a region, nodes are ordered by kind then by node id, so the layout depends only on the graph. Every node
    lies inside its region's disc (:func:`region_discs`), at least :data:`DISC_PAD` from its edge.
    """
    discs = region_discs(graph)
    golden = math.pi * (3 - math.sqrt(5))
    pos: dict[Any, np.ndarray] = {}
    for region, members in _regions(graph).items():
        centre, radius = discs[region]
        ring = radius - DISC_PAD
        for j, node in enumerate(members):
            if len(members) <= 16:  # a ring
                angle, r = 2 * math.pi * j / max(len(members), 1), ring
            else:  # a filled disc (sunflower spiral)
                angle, r = j * golden, ring * math.sqrt((j + 0.5) / len(members))
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

    Nodes are institutions (marker by kind; each region's institutions inside a disc named with the region and
    its number of institutions; size grows with the number of mentees, i.e. the mentor's load, and is capped so
    that every marker stays inside its region's disc); edges are ties drawn from learner to mentor, their width
    growing with the knowledge that flowed along them.

    Args:
        obj: a :class:`~twinsim.RunResult` (``twinsim.simulate(...)``), a :class:`~twinsim.TwinningModel`,
            or its networkx graph.
        ax: axes to draw on (default: a new figure).
        color_by: ``"topic"`` colours edges by the tie's topic; ``"region"`` colours nodes by region and draws
            edges grey.
        labels: ``True`` writes every institution's name beside it, ``False`` none; by default every name in
            networks of up to 20 institutions, else the names of the busiest mentors (see :data:`KEY_MENTORS`).
        title: figure title (default: counts of institutions and ties).

    Returns:
        The matplotlib Figure.

    """
    if color_by not in {"topic", "region"}:
        raise ValueError(f"color_by: 'topic' or 'region' (got {color_by!r})")
    graph = network_of(obj)
    pos = region_layout(graph)
    discs = region_discs(graph)
    n = graph.number_of_nodes()
    if ax is None:
        side = 7.5 if n <= 60 else 9.0
        fig, ax = plt.subplots(figsize=(side + 2.5, side))
    else:
        root = ax.get_figure(root=True)  # on a subfigure: the figure holding it
        if root is None:
            raise ValueError("draw_network: the axes belong to no figure")
        fig = root
    kinds = list(dict.fromkeys(d.get("kind", "") for _, d in graph.nodes(data=True)))
    regions = list(discs)
    topics = list(dict.fromkeys(d.get("topic", k) for _, _, k, d in graph.edges(keys=True, data=True)))
    order = list(getattr(getattr(obj, "model", obj), "topic_names", []))  # the scenario's order, when known
    topics.sort(key=lambda t: order.index(t) if t in order else len(order))
    topic_colour = dict(
        zip(topics, sns.color_palette("tab10" if len(topics) <= 10 else "husl", len(topics)), strict=True)
    )
    region_colour = dict(zip(regions, sns.color_palette("Set2", len(regions)), strict=True))
    mentees = Counter(v for _, v in graph.edges())

    lim = _frame(ax, discs)
    base = 110 if n <= 60 else max(6.0, 110 * 60 / n)
    raw = {node: base * (1 + 0.5 * mentees.get(node, 0)) for node in graph.nodes}
    shrink = min(1.0, _largest_marker(ax, lim) / max(raw.values(), default=1.0))
    size = {node: s * shrink for node, s in raw.items()}

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
                "shrinkA": math.sqrt(size[u]) / 2,
                "shrinkB": math.sqrt(size[v]) / 2 + 1,
                "connectionstyle": "arc3,rad=0.12",
            },
            zorder=1,
        )
    for k, kind in enumerate(kinds):
        nodes = [node for node, d in graph.nodes(data=True) if d.get("kind", "") == kind]
        xy = np.array([pos[node] for node in nodes])
        colours = (
            [region_colour[graph.nodes[node].get("region", "")] for node in nodes] if color_by == "region" else "white"
        )
        ax.scatter(
            xy[:, 0], xy[:, 1], s=[size[node] for node in nodes], marker=_MARKERS[k % len(_MARKERS)], c=colours,
            edgecolors="black", linewidths=0.8, zorder=2, label=f"_institutions: {kind}",
        )  # fmt: skip
    names = _draw_regions(ax, graph, discs, region_colour) if len(regions) > 1 else []
    _label_institutions(ax, graph, pos, mentees, labels, size, names)
    kinds_markers = {kind: _MARKERS[k % len(_MARKERS)] for k, kind in enumerate(kinds)}
    sizes = {m: base * (1 + 0.5 * m) * shrink for m in sorted({0, max(mentees.values(), default=0)})} if mentees else {}
    _legend(ax, kinds_markers, sizes, topic_colour if color_by == "topic" else {}, region_colour, color_by)
    ax.set_title(title or _title(obj, n, graph.number_of_edges()))
    return fig


def _frame(ax: Axes, discs: dict[Any, tuple[np.ndarray, float]]) -> float:
    """Square, equal-aspect limits that hold every disc and the regions' names; returns the half-width."""
    reach = max((float(np.linalg.norm(c)) + r for c, r in discs.values()), default=1.0)
    lim = reach + (0.45 if len(discs) > 1 else 0.15)  # room for the regions' names outside their discs
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.apply_aspect()
    return lim


def _largest_marker(ax: Axes, lim: float) -> float:
    """The largest marker size (points squared) whose square's corners stay within :data:`DISC_PAD` of its centre."""
    box = ax.get_window_extent()
    points_per_unit = min(box.width, box.height) * 72 / ax.get_figure(root=True).dpi / (2 * lim)  # type: ignore[union-attr]
    side = 0.9 * 2 * DISC_PAD * points_per_unit / math.sqrt(2)
    return side**2


def _legend(
    ax: Axes,
    kinds: dict[str, str],
    sizes: dict[int, float],
    topic_colour: dict[Any, Any],
    region_colour: dict[Any, Any],
    color_by: str,
) -> None:
    """Kinds (marker), marker sizes (mentees; when there are ties), topics (edge colour) or regions (node colour)."""
    handles: list[Any] = [
        Line2D([], [], marker=marker, ls="", mfc="white", mec="black", ms=8, label=str(kind))
        for kind, marker in kinds.items()
    ]
    for m, s in sizes.items():
        label = f"{m} mentee{'' if m == 1 else 's'}"
        handles.append(Line2D([], [], marker="o", ls="", mfc="white", mec="0.4", ms=math.sqrt(s), label=label))
    if topic_colour:
        handles += [Line2D([], [], color=colour, lw=2.5, label=str(t)) for t, colour in topic_colour.items()]
        handles.append(Line2D([], [], ls="", label="edge: learner → mentor,\nwidth: knowledge flow"))
    elif color_by == "region":
        handles += [
            Line2D([], [], marker="o", ls="", mfc=c, mec="black", label=str(r)) for r, c in region_colour.items()
        ]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False,
              labelspacing=0.9)  # fmt: skip


def _title(obj: Any, n: int, ties: int) -> str:
    """Counts of institutions and ties; ties the network does not hold (to outside partners) named, not hidden."""
    view = getattr(obj, "model", obj)
    formed = getattr(view, "ties_formed", None)
    outside = int(formed) - ties if isinstance(formed, int | np.integer) and formed > ties else 0
    if ties == 0 and not isinstance(obj, nx.Graph):
        text = f"Partnership network: {n} institutions, no peer ties (this delivery model forms none)"
    else:
        text = f"Partnership network: {n} institutions, {ties} peer ties (learner → mentor)"
    if outside:
        text += f"\n+ {outside} ties to outside partners (not drawn: the partners are not members)"
    return text


#: Institutions named in a large network by default: the mentors with the most mentees (at least two).
KEY_MENTORS = 6


def _label_institutions(
    ax: Axes,
    graph: nx.Graph,
    pos: dict[Any, np.ndarray],
    mentees: Counter[Any],
    labels: bool | None,
    size: dict[Any, float],
    avoid: list[Text],
) -> None:
    """Name every institution (small networks, or ``labels=True``), else the busiest mentors, clear of the others."""
    if labels is False:
        return
    if labels or (labels is None and graph.number_of_nodes() <= 20):
        for node, d in graph.nodes(data=True):
            ax.annotate(
                str(d.get("name", node)), tuple(pos[node]), textcoords="offset points", xytext=(0, -11), ha="center",
                va="top", fontsize=5.5, color="0.25", zorder=3,
            )  # fmt: skip
        return
    key = [node for node, m in sorted(mentees.items(), key=lambda item: (-item[1], item[0])) if m >= 2][:KEY_MENTORS]
    if not key:
        return
    place_labels(
        ax,
        np.array([pos[node] for node in key]),
        [f"{graph.nodes[node].get('name', node)} ({mentees[node]} mentees)" for node in key],
        obstacles=np.array([pos[node] for node in graph.nodes]),
        marker_radius=max(math.sqrt(s) / 2 for s in size.values()),
        fontsize=7.0,
        gap=[math.sqrt(size[node]) / 2 for node in key],  # the line ends at the marker's edge
        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
        avoid=avoid,
        zorder=4,
    )


def _draw_regions(
    ax: Axes, graph: nx.Graph, discs: dict[Any, tuple[np.ndarray, float]], region_colour: dict[Any, Any]
) -> list[Text]:
    """A faint disc behind each region's institutions and the region's name (and size) just outside it."""
    counts = Counter(d.get("region", "") for _, d in graph.nodes(data=True))
    names = []
    for region, colour in region_colour.items():
        centre, radius = discs[region]
        ax.add_patch(Circle(tuple(centre), radius, color=colour, alpha=0.18, lw=0, zorder=0, label=f"_disc: {region}"))
        direction = centre / (np.linalg.norm(centre) or 1.0)
        x, y = centre + direction * (radius + 0.05)
        ha = "left" if direction[0] > 0.3 else "right" if direction[0] < -0.3 else "center"
        va = "bottom" if direction[1] > 0.3 else "top" if direction[1] < -0.3 else "center"
        text = f"{region}\n({counts[region]})"
        names.append(ax.text(x, y, text, ha=ha, va=va, fontsize=10, fontweight="bold", color="0.3", ma="center"))
    return names
