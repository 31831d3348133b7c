"""Figures a reader can read (issue 24, item 5): checks that fail when a fixed figure problem comes back.

Each test checks a figure's geometry or its words, not its pixels: labels tied to their own points and clear of
each other, legends clear of titles, legends naming models as the tables do, institutions inside their region.
"""

import itertools
import math
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import Circle
from matplotlib.text import Text

import twinsim
from twinsim.figures.network import DISC_PAD, draw_network, region_discs, region_layout
from twinsim.figures.sensitivity import MORRIS_LABELS, plot_morris


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _overlap(a, b) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > 0.5 and min(a.y1, b.y1) - max(a.y0, b.y0) > 0.5


# ---- Morris: each name beside its own dot, tied to it by a line that starts at the dot ------------------------


def _morris_result():
    """Ten factors crowded around one spot (where labels used to pile up) and a few spread out."""
    rng = np.random.default_rng(4)
    names = [f"factor.number_{k}" for k in range(14)]
    mu = np.r_[1.5 + 0.04 * rng.standard_normal(10), [4.0, 0.05, 0.08, 2.6]]
    sigma = np.r_[1.5 + 0.04 * rng.standard_normal(10), [5.0, 0.04, 0.1, 1.0]]
    frame = pd.DataFrame({"mu_star": mu, "sigma": sigma, "mu_star_conf": 0.1}, index=names)
    frame = frame.sort_values("mu_star", ascending=False)
    return SimpleNamespace(outputs=["mean_gain", "total_cost"], indices={"mean_gain": frame, "total_cost": frame * 1e4})


def test_morris_labels_start_at_their_own_dot_and_do_not_overlap():
    result = _morris_result()
    fig = plot_morris(result)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax, out in zip(fig.axes, result.outputs, strict=False):
        frame = result.indices[out]
        labels = [t for t in ax.texts if getattr(t, "arrow_patch", None) is not None]
        expected = frame.sort_values("mu_star", ascending=False)
        expected = expected[expected["mu_star"] >= 0.1 * max(frame["mu_star"].max(), frame["sigma"].max())]
        assert [t.get_text() for t in labels] == list(expected.index[:MORRIS_LABELS])
        boxes = []
        for label in labels:
            point = (frame.loc[label.get_text(), "mu_star"], frame.loc[label.get_text(), "sigma"])
            assert label.xy == pytest.approx(point)  # the label names the dot it points at
            dot = ax.transData.transform(point)
            line = label.arrow_patch.get_path().vertices  # display coordinates
            assert np.linalg.norm(line - dot, axis=1).min() < 1.0  # the leader line starts at that dot
            assert np.linalg.norm(line - dot, axis=1).max() > 5.0  # and is long enough to be seen
            box = Text.get_window_extent(label, renderer)  # the text alone (an annotation's adds its line)
            assert ax.get_window_extent(renderer).contains(box.x0, box.y0)
            assert ax.get_window_extent(renderer).contains(box.x1, box.y1)
            boxes.append(box)
        for a, b in itertools.combinations(boxes, 2):
            assert not _overlap(a, b)
        listed = ax.get_xlabel()
        for name in frame.index.difference(expected.index[:MORRIS_LABELS]):
            assert name in listed  # every factor not labelled is listed under the panel


# ---- Decomposition: the legend does not cover the title ------------------------------------------------------


@pytest.fixture(scope="module")
def decomposition():
    from twinsim.analysis.decomposition import decompose

    return decompose("rwanda_tpn", replicates=2)


@pytest.mark.parametrize("topics", [["accreditation", "cbhi_coverage"], None])
def test_decomposition_legend_is_clear_of_the_title_and_inside_the_figure(decomposition, topics):
    fig = decomposition.plot(topics)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = fig.legends[0].get_window_extent(renderer)
    title = fig.axes[0].title.get_window_extent(renderer)
    assert not _overlap(legend, title)
    assert fig.bbox.contains(legend.x0, legend.y0) and fig.bbox.contains(legend.x1, legend.y1)
    assert fig.bbox.contains(title.x0, title.y0) and fig.bbox.contains(title.x1, title.y1)


# ---- Comparison figures: legends name the models as the table does ------------------------------------------


@pytest.fixture(scope="module")
def comparison():
    from twinsim.analysis.compare import compare

    return compare(["rwanda_no_program", "rwanda_tpn", "rwanda_pairs"], replicates=3)


def _legend_texts(fig):
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def test_comparison_legends_use_the_tables_model_names(comparison):
    names = list(comparison.table().index)
    reference = comparison.reference
    plane = comparison.plot("ce_plane", wtp=100_000)
    models = [t for t in _legend_texts(plane) if "willingness to pay" not in t]
    assert models == [n for n in names if n != reference]
    assert f"reference: {reference}" in plane.axes[0].get_title()
    ceac = comparison.plot("ceac")
    assert [t for t in _legend_texts(ceac) if not t.startswith("acceptability frontier")] == names
    assert _legend_texts(comparison.plot("trajectories")) == names
    effects = comparison.plot("effects")
    assert [t.get_text() for t in effects.axes[0].get_yticklabels()] == names
    swatches = effects.legends[0].get_patches()
    assert len({tuple(p.get_facecolor()) for p in swatches}) == 1  # neutral: not the colour of one model


def test_comparison_legends_use_names_given_to_compare():
    from twinsim.analysis.compare import compare

    result = compare(["rwanda_no_program", "rwanda_tpn"], replicates=2, names=["none", "TPN"])
    assert list(result.table().index) == ["none", "TPN"]
    assert _legend_texts(result.plot("trajectories")) == ["none", "TPN"]


# ---- Network: every institution inside its region's disc, regions apart, names where legible -----------------


def _graph(regions: int, per_region: int) -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    for r in range(regions):
        for j in range(per_region):
            graph.add_node(r * per_region + j, name=f"I{r}.{j}", kind="hospital" if j % 4 else "district",
                           region=f"R{r}")  # fmt: skip
    return graph


@pytest.fixture(scope="module")
def run():
    return twinsim.simulate(twinsim.load_scenario("rwanda_tpn"), seed=3)


@pytest.mark.parametrize("shape", [(4, 10), (10, 25), (2, 3), (1, 30), (7, 1)])
def test_every_node_lies_in_its_own_disc_and_discs_do_not_overlap(shape):
    graph = _graph(*shape)
    pos, discs = region_layout(graph), region_discs(graph)
    for node, data in graph.nodes(data=True):
        centre, radius = discs[data["region"]]
        assert np.linalg.norm(pos[node] - centre) <= radius - DISC_PAD + 1e-9
        for other, (c, r) in discs.items():
            if other != data["region"]:
                assert np.linalg.norm(pos[node] - c) > r  # not inside another region's disc
    for (a, (ca, ra)), (b, (cb, rb)) in itertools.combinations(discs.items(), 2):
        assert np.linalg.norm(ca - cb) > ra + rb, (a, b)


def test_drawn_markers_stay_inside_their_region_disc(run):
    fig = draw_network(run)
    ax = fig.axes[0]
    fig.canvas.draw()
    graph = run.model.network
    discs = {p.get_label().removeprefix("_disc: "): p for p in ax.patches if isinstance(p, Circle)}
    assert set(discs) == {d["region"] for _, d in graph.nodes(data=True)}
    pos = region_layout(graph)
    where = {tuple(np.round(xy, 9)): node for node, xy in pos.items()}
    points_per_pixel = 72 / fig.dpi
    checked = 0
    for collection in ax.collections:
        if not collection.get_label().startswith("_institutions"):
            continue
        sizes = np.broadcast_to(collection.get_sizes(), (len(collection.get_offsets()),))
        for xy, size in zip(collection.get_offsets(), sizes, strict=True):
            node = where[tuple(np.round(np.asarray(xy, dtype=float), 9))]
            disc = discs[graph.nodes[node]["region"]]
            centre = ax.transData.transform(disc.center)
            edge = ax.transData.transform((disc.center[0] + disc.radius, disc.center[1]))
            radius_px = np.linalg.norm(edge - centre)
            half_diagonal_px = math.sqrt(size) / 2 * math.sqrt(2) / points_per_pixel  # a square marker's corner
            assert np.linalg.norm(ax.transData.transform(xy) - centre) + half_diagonal_px <= radius_px + 0.5
            checked += 1
    assert checked == graph.number_of_nodes()


def test_network_names_its_regions_and_busiest_mentors(run):
    fig = draw_network(run)
    ax = fig.axes[0]
    graph = run.model.network
    texts = [t.get_text() for t in ax.texts]
    for region in {d["region"] for _, d in graph.nodes(data=True)}:
        assert any(t.startswith(region + "\n(") for t in texts)
    mentees = {}
    for _, v in graph.edges():
        mentees[v] = mentees.get(v, 0) + 1
    named = [t for t in ax.texts if getattr(t, "arrow_patch", None) is not None and t.get_text()]
    assert named
    pos = region_layout(graph)
    for label in named:
        node = next(n for n, d in graph.nodes(data=True) if label.get_text().startswith(d["name"] + " ("))
        assert label.xy == pytest.approx(tuple(pos[node]))  # beside its own institution
        assert mentees[node] == max(mentees.values()) or mentees[node] >= 2


def test_network_title_names_ties_to_outside_partners():
    result = twinsim.simulate("rwanda_north_south", seed=3)
    title = draw_network(result).axes[0].get_title()
    assert "no peer ties" in title
    assert f"+ {result.model.ties_formed} ties to outside partners" in title
