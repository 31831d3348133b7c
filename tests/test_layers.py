"""The subpackages form layers without circles (docs/layers.py reads the graph; docs/architecture.md shows it)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs"))

import layers  # noqa: E402


def test_every_subpackage_has_a_layer():
    packages = {p.name for p in layers.PACKAGE.iterdir() if (p / "__init__.py").exists() and p.name != "scenarios"}
    assert packages == set(layers.LAYERS)


def test_no_module_imports_a_higher_layer():
    ups = [f"{i.source} (line {i.line}) imports {i.target}" for i in layers.upward_imports(layers.read_package())]
    assert not ups, "imports of a higher layer: " + "; ".join(ups)


def test_the_layer_graph_has_no_cycle():
    edges = layers.layer_edges(layers.read_package())
    order = {layer: layers.rank(layer) for layer in [*layers.LAYERS, "(top)"]}
    back = [(a, b) for a, targets in edges.items() for b in targets if order[b] > order[a]]
    assert not back


def test_deferred_imports_only_defer_heavy_libraries():
    needless = [f"{i.source} (line {i.line}): {i.target}" for i in layers.needless_deferrals(layers.read_package())]
    assert not needless, "deferred imports of modules that load nothing heavy (move them to the top): " + "; ".join(
        needless
    )


def test_the_checker_sees_a_circle_and_a_needless_deferral(tmp_path, monkeypatch):
    """The rules are not vacuous: a planted upward import and a planted light deferral are both reported."""
    package = tmp_path / "twinsim"
    for name in ("core", "kernel"):
        (package / name).mkdir(parents=True)
        (package / name / "__init__.py").write_text("")
    (package / "core" / "low.py").write_text("from twinsim.kernel import high\n")
    (package / "kernel" / "high.py").write_text("def f():\n    from twinsim.core import low\n")
    monkeypatch.setattr(layers, "PACKAGE", package)
    modules = layers.read_package()
    assert [(i.source, i.target) for i in layers.upward_imports(modules)] == [("core.low", "kernel.high")]
    assert [(i.source, i.target) for i in layers.needless_deferrals(modules)] == [("kernel.high", "core.low")]


def _surface() -> set[str]:
    import ast

    tree = ast.parse((layers.PACKAGE / "kernel" / "surface.py").read_text())
    protocol = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Simulation")
    return {
        n.target.id if isinstance(n, ast.AnnAssign) else n.name
        for n in protocol.body
        if isinstance(n, ast.AnnAssign | ast.FunctionDef)
        and isinstance(getattr(n, "target", n), ast.Name | ast.FunctionDef)
    }


def _reached(path) -> set[str]:
    import ast

    tree = ast.parse(path.read_text())
    return {
        n.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "model"
    }


def test_plugins_reach_the_simulation_only_through_its_declared_surface():
    """Activities and delivery models (bundled, and the example of a user's own) use kernel/surface.py's names only."""
    surface = _surface()
    plugins = [*sorted((layers.PACKAGE / "programme").glob("*.py")), ROOT / "examples" / "cascade" / "cascade.py"]
    beyond = {path.name: sorted(_reached(path) - surface) for path in plugins}
    assert {k: v for k, v in beyond.items() if v} == {}
    assert 30 <= len(surface) <= 50 and "recorder" not in surface  # small enough to hold in mind
