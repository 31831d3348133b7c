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
