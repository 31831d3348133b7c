"""Figures and result objects of the public API: what a notebook user calls and looks at."""

import matplotlib

matplotlib.use("Agg")

import networkx as nx
import pytest

import twinsim
from twinsim.analysis.sensitivity import sensitivity
from twinsim.errors import ScenarioError
from twinsim.viz.network import draw_network, region_layout


@pytest.fixture(scope="module")
def run():
    return twinsim.simulate(twinsim.load_scenario("rwanda_tpn"), seed=3)


def test_draw_network_draws_every_institution_and_tie(run):
    fig = draw_network(run)
    ax = fig.axes[0]
    graph = run.model.network
    # one arrow per tie, every institution placed once
    arrows = [c for c in ax.texts if getattr(c, "arrow_patch", None) is not None]
    assert len(arrows) == graph.number_of_edges()
    assert sum(len(c.get_offsets()) for c in ax.collections) == graph.number_of_nodes()
    assert f"{graph.number_of_nodes()} institutions" in ax.get_title()


def test_draw_network_accepts_model_and_graph_and_rejects_other(run):
    draw_network(run.model, color_by="region")
    draw_network(run.model.network)
    with pytest.raises(TypeError):
        draw_network(42)
    with pytest.raises(ValueError, match="color_by"):
        draw_network(run, color_by="kind")


def test_region_layout_is_deterministic_and_groups_regions(run):
    graph = run.model.network
    assert {k: tuple(v) for k, v in region_layout(graph).items()} == {
        k: tuple(v) for k, v in region_layout(nx.MultiDiGraph(graph)).items()
    }


def test_sensitivity_from_plain_arguments():
    result = sensitivity(
        twinsim.load_scenario("rwanda_tpn"),
        params={"learning.forgetting": (0.0, 0.05), "programme.matching": ["best_performer", "most_similar"]},
        outputs=["mean_gain"],
        method="morris",
        samples=4,
    )
    assert set(result.indices["mean_gain"].index) == {"learning.forgetting", "programme.matching"}
    assert result.runs == 4 * 3


def test_sensitivity_names_an_unknown_key():
    with pytest.raises(ScenarioError, match="forgeting"):
        sensitivity(twinsim.load_scenario("rwanda_tpn"), params={"learning.forgeting": (0.0, 1.0)}, samples=4)
