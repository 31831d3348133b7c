"""Figures and result objects of the public API: what a notebook user calls and looks at."""

import matplotlib

matplotlib.use("Agg")

import networkx as nx
import pytest

import twinsim
from twinsim.analysis.sensitivity import sensitivity
from twinsim.errors import ScenarioError
from twinsim.figures.network import draw_network, region_layout


@pytest.fixture(scope="module")
def run():
    return twinsim.simulate(twinsim.load_scenario("rwanda_tpn"), seed=3)


def test_draw_network_draws_every_institution_and_tie(run):
    fig = draw_network(run)
    ax = fig.axes[0]
    graph = run.model.network
    # one arrow per tie, every institution placed once
    arrows = [c for c in ax.texts if getattr(c, "arrow_patch", None) is not None and not c.get_text()]
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


def test_result_objects_have_short_reprs_frames_and_plots():
    from twinsim.analysis.decomposition import decompose
    from twinsim.analysis.power import power_analysis

    sc = twinsim.load_scenario("rwanda_tpn")
    batch = twinsim.run_replicates(sc, replicates=3, keep_tables=True)
    assert "3 replicates" in repr(batch)
    mean, low, high = batch.cost()  # still unpacks like a tuple
    assert batch.cost().ci95_low == low <= mean <= high == batch.cost().ci95_high
    assert {"estimate", "ci95_low", "ci95_high"} <= set(batch.to_frame().columns)
    assert batch.plot().axes
    with pytest.raises(ValueError, match="keep_tables"):
        twinsim.run_replicates(sc, replicates=2).plot()

    dec = decompose(sc, replicates=2)
    assert "2 replicate pairs" in repr(dec)
    assert {"twinning", "twinning_ci95_low", "self_selection_ci95_high"} <= set(dec.to_frame().columns)
    assert dec.plot(["accreditation", "cbhi_coverage"]).axes

    power = power_analysis(sc, [20, 40], replicates=2, topics=["cbhi_coverage"])
    assert "sizes [20, 40]" in repr(power)
    assert list(power.to_frame()["institutions"]) == [20, 40]
    assert len(power.plot().axes) == 2


def test_run_results_print_in_a_line_and_costs_without_exponents():
    from twinsim.core.evaluation import Interval

    result = twinsim.simulate("rwanda_tpn", seed=1)
    text = repr(result)  # the dataclass repr printed the whole scenario: 10,591 characters
    assert text == "RunResult('rwanda_tpn': replicate 0, seed 1, 40 institutions, 19 + 12 months, panel kept)"
    batch = twinsim.run_replicates("rwanda_tpn", 4)
    assert "\n" not in repr(batch) and len(repr(batch)) < 120
    cost = batch.cost()
    assert isinstance(cost.mean, float) and cost.ci95_low < cost.mean < cost.ci95_high
    printed = str(cost)  # was '2.148e+05 (95% CI 2.111e+05 to 2.184e+05)'
    assert "e+" not in printed
    assert printed == f"{cost.mean:,.0f} (95% CI {cost.ci95_low:,.0f} to {cost.ci95_high:,.0f})"
    assert str(Interval(5.921, 5.49, 6.344)) == "5.92 (95% CI 5.49 to 6.34)"
    assert str(Interval(0.01234, -0.5, 999.6)) == "0.0123 (95% CI -0.500 to 1,000)"
    assert str(Interval(float("nan"), 0.0, 1.0)) == "nan (95% CI 0 to 1.00)"


def test_bundled_posterior_and_targets_resolve_by_name():
    from twinsim.scenario import resolve_posterior, resolve_targets

    assert resolve_posterior("rwanda_tpn").name == "posterior.csv"
    assert resolve_targets("rwanda_tpn").suffix == ".toml"
    with pytest.raises(ScenarioError, match="did you mean 'rwanda_tpn'"):
        resolve_posterior("rwanda_tnp")


def test_donor_figures_read_without_a_caption():
    from twinsim.analysis.compare import compare

    result = compare(["rwanda_no_program", "rwanda_tpn", "rwanda_pairs"], replicates=3)
    plane = result.plot("ce_plane", wtp=100_000)
    ax = plane.axes[0]
    plane.canvas.draw()
    assert ax.yaxis.get_offset_text().get_text() == ""  # plain currency, no 1e6 offset
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert any("," in label for label in labels)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("willingness to pay" in t and "100,000" in t for t in legend)
    assert "rwanda_pairs" in legend  # the model's name in the table, not a long description
    colours = {tuple(c.get_facecolor()[0][:3]) for c in ax.collections if len(c.get_offsets()) == 1}
    assert len(colours) == 2  # one distinct colour per model
    ceac = result.plot("ceac")
    ceac.canvas.draw()
    assert ceac.axes[0].xaxis.get_offset_text().get_text() == ""


def test_trajectories_have_units_dates_and_a_labelled_end():
    sc = twinsim.load_scenario("rwanda_tpn")
    fig = twinsim.run_replicates(sc, replicates=2, keep_tables=True).plot()
    ax = fig.axes[0]
    assert ax.get_ylabel() == "accreditation score (%)"
    fig.canvas.draw()
    ticks = " ".join(t.get_text() for a in fig.axes for t in a.get_xticklabels())
    assert "2022" in ticks
    assert any("programme ends" in t.get_text() and "Feb 2023" in t.get_text() for t in ax.texts)
