"""The import graph of twinsim's subpackages, read from the source (``python docs/layers.py``).

Prints the layers, lowest first, each with the layers it imports, and the graph as a Mermaid diagram for
docs/architecture.md (refreshed by ``python docs/gen_outputs.py --write``; ``tests/test_layers.py`` holds the rules).

Rules the test enforces:

- a module imports only from its own layer or below, annotations included (an import under ``if TYPE_CHECKING:``
  of a higher layer is a circle in the types: a lower layer names what it reads with a protocol of its own, as
  ``kernel/surface.py`` and ``figures/views.py`` do);
- an import inside a function (deferred) names a *heavy* module of twinsim: one that imports, directly or through
  twinsim modules, a third-party library that is slow to load (pandas, Matplotlib, Mesa, pyarrow, Solara, SALib...).
  Deferring is for start-up time, never for hiding a circle.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "twinsim"

#: The layers, lowest first, with what each holds. ``errors`` sits with ``core``; the package's ``__init__`` and
#: ``__main__`` are the top facade.
LAYERS: dict[str, str] = {
    "core": "pure helpers: quantiles, intervals, evaluation estimators, parameter declarations and priors",
    "kernel": "declared state, random streams, the learning kernel, recording, the Mesa agents' view",
    "programme": "the plug-ins: activities, delivery models, matching, costs, each with its parameter block",
    "scenario": "the schema composed of the plug-ins' blocks; loading, extends, overrides, warnings",
    "model": "the population, the month's step and its one gain path, replicates, run results",
    "figures": "static figures of results (read through their public attributes)",
    "experiments": "experiments, the engine, executors, the result store, designs, posterior and prior draws",
    "analysis": "compare (PSA, value of information, discovery), decomposition, power, calibration, sensitivity",
    "viz": "the browser explorer",
    "cli": "the twinsim command: parse, call the library, render",
}

#: Third-party libraries slow enough to load that twinsim defers them.
HEAVY_LIBRARIES = frozenset(
    {
        "pandas",
        "matplotlib",
        "seaborn",
        "mesa",
        "pyarrow",
        "solara",
        "SALib",
        "statsmodels",
        "dask",
        "distributed",
        "ema_workbench",
        "networkx",
        "scipy",
        "rich",
        "typer",
        "tomlkit",
        "psutil",
    }
)


@dataclass
class Import:
    """One import of a twinsim module by another."""

    source: str  # importing module, dotted, without "twinsim."
    target: str  # imported module
    line: int
    deferred: bool  # inside a function
    annotation: bool  # under ``if TYPE_CHECKING:``


@dataclass
class Module:
    """One module of the package and what it imports."""

    name: str
    imports: list[Import] = field(default_factory=list)
    libraries: set[str] = field(default_factory=set)  # third-party libraries imported at module level


def layer_of(module: str) -> str:
    """The layer of a dotted module name (without ``twinsim.``)."""
    head = module.split(".", maxsplit=1)[0]
    if head in ("errors", ""):
        return "core"
    if head in ("__init__", "__main__"):
        return "(top)"
    return head


def rank(layer: str) -> int:
    """Position of a layer, lowest 0; the top facade above every layer."""
    return len(LAYERS) if layer == "(top)" else list(LAYERS).index(layer)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return (node.module or "")[len("twinsim.") :] if node.module != "twinsim" else "__init__"
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _submodule(base: str, name: str) -> str:
    """``from twinsim.x import y`` imports the module ``x.y`` when there is one, else a name of ``x``."""
    dotted = f"{base}.{name}" if base else name
    path = PACKAGE.joinpath(*dotted.split("."))
    return dotted if path.with_suffix(".py").exists() or (path / "__init__.py").exists() else base


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _context(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> tuple[bool, bool]:
    deferred = annotation = False
    while node in parents:
        node = parents[node]
        deferred |= isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        annotation |= isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
    return deferred, annotation


def read_package() -> dict[str, Module]:
    """Every module of ``src/twinsim`` with its imports of twinsim modules and its top-level libraries."""
    modules: dict[str, Module] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        module = modules[name] = Module(name)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = _parents(tree)
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level or (node.module or "").split(".")[0] == "twinsim":
                    base = _resolve(node, name, path.name == "__init__.py")
                    targets = [_submodule(base, a.name) for a in node.names]
                else:
                    libs = {(node.module or "").split(".")[0]}
            elif isinstance(node, ast.Import):
                targets = [a.name[len("twinsim.") :] or "__init__" for a in node.names if a.name.startswith("twinsim")]
                libs = {a.name.split(".")[0] for a in node.names if not a.name.startswith("twinsim")}
            else:
                continue
            deferred, annotation = _context(node, parents)
            if not targets and not deferred and not annotation:
                module.libraries |= libs
            for target in targets:
                module.imports.append(Import(name, target or "__init__", node.lineno, deferred, annotation))
    return modules


def heavy_modules(modules: dict[str, Module]) -> set[str]:
    """Modules that load a heavy library at import, directly or through twinsim modules they import."""
    heavy = {name for name, m in modules.items() if m.libraries & HEAVY_LIBRARIES}
    changed = True
    while changed:
        changed = False
        for name, m in modules.items():
            if name not in heavy and any(i.target in heavy for i in m.imports if not i.deferred and not i.annotation):
                heavy.add(name)
                changed = True
    return heavy


def layer_edges(modules: dict[str, Module], *, annotations: bool = False) -> dict[str, set[str]]:
    """Layer -> layers it imports at run time (or, with ``annotations``, only for type annotations)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for m in modules.values():
        for i in m.imports:
            a, b = layer_of(i.source), layer_of(i.target)
            if a != b and i.annotation == annotations:
                edges[a].add(b)
    return edges


def upward_imports(modules: dict[str, Module]) -> list[Import]:
    """Imports of a higher layer, at run time or for annotations (none allowed)."""
    return [i for m in modules.values() for i in m.imports if rank(layer_of(i.target)) > rank(layer_of(i.source))]


def needless_deferrals(modules: dict[str, Module]) -> list[Import]:
    """Deferred imports of twinsim modules that load no heavy library (they belong at the top of the file)."""
    heavy = heavy_modules(modules)
    return [
        i
        for m in modules.values()
        for i in m.imports
        if i.deferred and not i.annotation and i.target not in heavy and layer_of(i.source) != "(top)"
    ]


def mermaid(edges: dict[str, set[str]]) -> str:
    """The layer graph as a Mermaid flowchart, arrows from importer to imported."""
    lines = ["flowchart BT"]
    for layer in LAYERS:
        for target in sorted(edges.get(layer, ()), key=rank, reverse=True):
            if target != "(top)":
                lines.append(f"    {layer} --> {target}")
    return "\n".join(lines)


def report() -> str:
    """The layers with what they hold and import, then the Mermaid graph."""
    modules = read_package()
    run, types = layer_edges(modules), layer_edges(modules, annotations=True)
    rows = ["| layer | holds | imports at run time | for annotations only |", "|---|---|---|---|"]
    for layer, holds in reversed(LAYERS.items()):
        below = ", ".join(sorted(run.get(layer, ()), key=rank, reverse=True)) or "-"
        typing_only = ", ".join(sorted(types.get(layer, set()) - run.get(layer, set()), key=rank)) or "-"
        rows.append(f"| `{layer}` | {holds} | {below} | {typing_only} |")
    ups, needless = upward_imports(modules), needless_deferrals(modules)
    rows += [
        "",
        f"Modules: {len(modules)}; imports of a higher layer: {len(ups)}; deferred imports of light modules:"
        f" {len(needless)}.",
        "",
        "```mermaid",
        mermaid(run),
        "```",
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    sys.stdout.write(report() + "\n")
