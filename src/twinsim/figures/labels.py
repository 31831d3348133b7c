"""Labels beside points that do not cover each other: each placed where it overlaps least, tied to its point.

A small, deterministic repel in the spirit of adjustText, without the dependency: the labels are placed one at a
time (most important first); each tries positions on rings around its point (every 22.5 degrees, growing
distances) and takes the one that overlaps the labels already placed, the points and the other leader lines
least, stays inside the axes, and is nearest. Every label is an annotation whose leader line starts exactly at its
point (``annotation.xy``), so a label is never read as belonging to the dot it happens to sit beside.

Positions are computed in display space for the figure's current layout: call :func:`place_labels` after
everything else in the axes and the figure (titles, axis labels, legends) is drawn, and keep the layout fixed
afterwards (:func:`freeze_layout`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox

__all__ = ["freeze_layout", "place_labels"]

#: Distances (points) from a point to its label's nearest edge, tried in this order.
_RADII = (10.0, 16.0, 24.0, 34.0, 46.0, 60.0, 78.0, 100.0)  # from 10: every leader line shows
_ANGLES = tuple(math.radians(a) for a in (45, 135, 315, 225, 0, 180, 90, 270, 22.5, 157.5, 337.5, 202.5,
                                          67.5, 112.5, 292.5, 247.5))  # fmt: skip


def freeze_layout(fig: Figure) -> None:
    """Run the figure's layout engine once and keep that layout (so labels placed now stay where placed)."""
    fig.draw_without_rendering()
    fig.set_layout_engine("none")


def _segment_hits_box(p: np.ndarray, q: np.ndarray, box: Bbox) -> bool:
    """Whether the segment p-q passes through ``box`` (Liang-Barsky clipping)."""
    d = q - p
    t0, t1 = 0.0, 1.0
    for edge_p, edge_d, lo, hi in ((p[0], d[0], box.x0, box.x1), (p[1], d[1], box.y0, box.y1)):
        if abs(edge_d) < 1e-12:
            if edge_p < lo or edge_p > hi:
                return False
            continue
        a, b = (lo - edge_p) / edge_d, (hi - edge_p) / edge_d
        t0, t1 = max(t0, min(a, b)), min(t1, max(a, b))
        if t0 > t1:
            return False
    return True


def _segments_cross(p1: np.ndarray, p2: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> bool:
    def side(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
        return float((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    return side(p1, p2, q1) * side(p1, p2, q2) < 0 and side(q1, q2, p1) * side(q1, q2, p2) < 0


def _overlap(a: Bbox, b: Bbox) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


@dataclass
class _Scene:
    """What a new label must keep clear of, in display pixels."""

    frame: Bbox  # the axes: labels stay inside
    dots: list[Bbox]  # every point's marker
    boxes: list[Bbox]  # labels placed so far and other texts
    labels: list[Bbox]  # labels placed so far
    leaders: list[tuple[np.ndarray, np.ndarray]]  # their leader lines
    scale: float  # pixels per point


_Spot = tuple[float, float, float, str, str, Bbox, np.ndarray]  # cost, offset (points), ha, va, box, line end


def _best_spot(scene: _Scene, k: int, point: np.ndarray, width: float, height: float) -> _Spot:
    """The cheapest spot for label ``k`` (of size ``width`` x ``height`` pixels) around ``point``."""
    best: _Spot | None = None
    scale = scene.scale
    for radius in _RADII:
        for angle in _ANGLES:
            c, s = math.cos(angle), math.sin(angle)
            ax_, ay_ = point[0] + c * radius * scale, point[1] + s * radius * scale  # the label's anchor
            ha = "left" if c > 0.3 else "right" if c < -0.3 else "center"
            va = "bottom" if s > 0.3 else "top" if s < -0.3 else "center"
            x0 = ax_ if ha == "left" else ax_ - width if ha == "right" else ax_ - width / 2
            y0 = ay_ if va == "bottom" else ay_ - height if va == "top" else ay_ - height / 2
            box = Bbox.from_bounds(x0, y0, width, height)
            frame = scene.frame
            if box.x0 < frame.x0 or box.x1 > frame.x1 or box.y0 < frame.y0 or box.y1 > frame.y1:
                continue
            end = np.array([min(max(point[0], box.x0), box.x1), min(max(point[1], box.y0), box.y1)])
            cost = radius * 0.05
            cost += sum(_overlap(box, other) for other in scene.boxes) * 1.0
            cost += sum(_overlap(box, dot) for dot in scene.dots) * 0.5
            cost += 40.0 * sum(_segment_hits_box(point, end, other) for other in scene.labels)
            cost += 40.0 * sum(_segments_cross(point, end, p, q) for p, q in scene.leaders)
            cost += 4.0 * sum(  # the leader line passing over another point (not its own)
                _segment_hits_box(point, end, dot) for j, dot in enumerate(scene.dots) if j != k
            )
            cost += 40.0 * sum(_segment_hits_box(p, q, box) for p, q in scene.leaders)  # over another's line
            if best is None or cost < best[0]:
                best = (cost, (ax_ - point[0]) / scale, (ay_ - point[1]) / scale, ha, va, box, end)
        if best is not None and best[0] < radius * 0.05 + 1e-9:  # a free spot at this distance: no farther
            break
    if best is None:  # no spot inside the axes: beside the point
        best = (0.0, 4.0, 4.0, "left", "bottom", Bbox.from_bounds(point[0], point[1], width, height), point)
    return best


def place_labels(
    ax: Axes,
    xy: Sequence[tuple[float, float]] | np.ndarray,
    texts: Sequence[str],
    *,
    obstacles: Sequence[tuple[float, float]] | np.ndarray | None = None,
    marker_radius: float = 4.0,
    fontsize: float = 7.0,
    color: str = "0.15",
    line_color: str = "0.45",
    gap: float | Sequence[float] = 0.0,
    avoid: Sequence[Artist] = (),
    **text_kwargs: Any,
) -> list[Annotation]:
    """Annotate each point ``xy[k]`` (data coordinates) with ``texts[k]`` and a leader line from the point.

    Args:
        ax: the axes (its figure's layout should be final: see :func:`freeze_layout`).
        xy: the points, in order of importance (the first is placed first and gets the best spot).
        texts: one label per point.
        obstacles: other points (data coordinates) a label should not cover (default: none besides ``xy``).
        marker_radius: the points' marker radius (points) kept free of labels.
        fontsize: label size.
        color: label colour.
        line_color: leader line colour.
        gap: the leader line stops this many points short of the point (0: it starts at the point itself; a
            marker's radius: it starts at the marker's edge); one number, or one per point.
        avoid: other artists (e.g. texts already in the axes) that the labels should not cover.
        **text_kwargs: passed to :meth:`~matplotlib.axes.Axes.annotate`.

    Returns:
        The annotations, in the order of ``xy``.

    """
    fig = ax.get_figure(root=True)
    assert fig is not None  # an axes that draws belongs to a figure
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    scale = fig.dpi / 72.0  # display pixels per point
    frame = ax.get_window_extent(renderer)
    data = np.asarray(xy, dtype=float).reshape(-1, 2)
    points = ax.transData.transform(data)
    others = np.asarray(obstacles if obstacles is not None else [], dtype=float).reshape(-1, 2)
    others = ax.transData.transform(others) if len(others) else others
    unlabelled = [q for q in others if not any(np.allclose(q, p) for p in points)]  # labelled points count once
    r = marker_radius * scale
    dots = [Bbox.from_extents(x - r, y - r, x + r, y + r) for x, y in [*points, *unlabelled]]
    fixed = [artist.get_window_extent(renderer) for artist in avoid]
    gaps = [float(gap)] * len(points) if isinstance(gap, int | float) else [float(g) for g in gap]
    placed: list[Bbox] = []
    leaders: list[tuple[np.ndarray, np.ndarray]] = []
    annotations: list[Annotation] = []
    for k, (point, text) in enumerate(zip(points, texts, strict=True)):
        if not np.all(np.isfinite(point)):
            raise ValueError(f"place_labels: the point of {text!r} is not finite ({data[k]})")
        probe = ax.text(0, 0, text, fontsize=fontsize, transform=None, **text_kwargs)
        extent = probe.get_window_extent(renderer)
        probe.remove()
        width, height = extent.width + 2 * scale, extent.height + 2 * scale  # a point of air around the text
        scene = _Scene(frame, dots, [*placed, *fixed], placed, leaders, scale)
        best = _best_spot(scene, k, point, width, height)
        _, dx, dy, ha, va, box, end = best
        relpos = ({"left": 0.0, "right": 1.0}.get(ha, 0.5), {"bottom": 0.0, "top": 1.0}.get(va, 0.5))
        placed.append(box)
        leaders.append((point, end))
        annotations.append(
            ax.annotate(
                text,
                xy=(float(data[k, 0]), float(data[k, 1])),
                xytext=(dx, dy),
                textcoords="offset points",
                ha=ha,
                va=va,
                fontsize=fontsize,
                color=color,
                arrowprops={  # from the label's corner or edge nearest the point to the point itself
                    "arrowstyle": "-",
                    "color": line_color,
                    "lw": 0.7,
                    "shrinkA": 1,
                    "shrinkB": gaps[k],
                    "relpos": relpos,
                },
                annotation_clip=False,
                **text_kwargs,
            )
        )
    return annotations
