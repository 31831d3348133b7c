"""Mesa's SolaraViz on the model, as a Mesa user writes it (needs the viz extra)."""

import warnings

import pytest

pytest.importorskip("altair")
pytest.importorskip("solara")

import ipywidgets
import reacton

with warnings.catch_warnings():  # Mesa 3.3's own ComponentsView trips Solara's rules-of-hooks check on import
    warnings.filterwarnings("ignore", message=".*use_state.*found despite early return", category=UserWarning)
    from mesa.visualization import SolaraViz, make_plot_component

from twinsim import TwinningModel


def _widgets(widget):
    """The widget and every widget inside it (children, and a GridLayout's items)."""
    yield widget
    for child in [*(getattr(widget, "children", None) or []), *(getattr(widget, "items", None) or [])]:
        if isinstance(child, ipywidgets.Widget):
            yield from _widgets(child)


def test_solara_viz_renders_a_plot_of_the_models_datacollector():
    model = TwinningModel("rwanda_tpn", seed=1)
    for _ in range(3):
        model.step()
    page = SolaraViz(
        model,
        components=[make_plot_component(["mean_indicator_selected", "mean_indicator_not_selected"])],
        model_params={"scenario": "rwanda_tpn", "seed": {"type": "InputText", "value": 1, "label": "Seed"}},
        name="twinsim",
    )
    box, context = reacton.render(page, handle_error=False)
    try:
        images = [w for w in _widgets(box) if isinstance(w, ipywidgets.Image)]
        assert len(images) == 1 and bytes(images[0].value).startswith(b"\x89PNG")  # the plot of months 0..3
    finally:
        context.close()


def test_solara_viz_draws_the_network_as_a_mesa_space():
    from mesa.visualization import make_space_component
    from mesa.visualization.components import AgentPortrayalStyle

    model = TwinningModel("rwanda_tpn", seed=1)
    model.step()  # the kickoff workshop forms the ties
    grid = model.grid
    assert grid.G.number_of_nodes() == model.n_institutions and grid.G.number_of_edges() > 0
    assert all(grid.get_cell_list_contents([a.row]) == [a] for a in model.institutions)

    def portrayal(agent):
        return AgentPortrayalStyle(color="tab:blue" if agent.kind == "hospital" else "tab:orange", size=30)

    page = SolaraViz(model, components=[make_space_component(portrayal)], name="twinsim network")
    box, context = reacton.render(page, handle_error=False)
    try:
        images = [w for w in _widgets(box) if isinstance(w, ipywidgets.Image)]
        assert images and all(bytes(i.value).startswith(b"\x89PNG") for i in images)  # the network drawn
    finally:
        context.close()
