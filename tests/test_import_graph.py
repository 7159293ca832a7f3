"""The package's import graph has no cycles, and the house layers hold.

Every ``import``/``from … import`` in ``gzcharge/`` counts, including the lazy ones inside
functions (a cycle through a lazy import is still a cycle of responsibilities); imports under
``if TYPE_CHECKING:`` do not run and are left out. ``from pkg import sub`` where ``pkg.sub`` is
a module is an edge to that module, not to the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1] / "gzcharge"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, package: str) -> list[tuple[str, list[str]]]:
    """(target module, imported names) of every runtime import in the tree."""
    out: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.extend((a.name, []) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((target, [a.name for a in node.names]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def import_graph() -> nx.DiGraph:
    """Module -> module edges of the runtime imports inside ``gzcharge``."""
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    g = nx.DiGraph()
    g.add_nodes_from(files)
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        for target, names in _imports(ast.parse(path.read_text(encoding="utf-8")), package):
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in files]
            for t in subs or ([target] if target in files else []):
                if t != mod:
                    g.add_edge(mod, t)
    return g


def test_graph_sees_the_package():
    g = import_graph()
    # a known edge: the CLI loads scenarios
    assert g.number_of_nodes() > 30
    assert any(t.startswith("gzcharge.scenario") for t in g.successors("gzcharge.cli"))


def test_no_import_cycles():
    g = import_graph()
    cycles = sorted((" -> ".join(c + [c[0]]) for c in nx.simple_cycles(g)), key=len)
    assert not cycles, "import cycles:\n" + "\n".join(cycles[:20])


@pytest.mark.parametrize("layer, forbidden", [
    ("gzcharge.scenario", ("gzcharge.tiers", "gzcharge.highway", "gzcharge.joint", "gzcharge.plan", "gzcharge.locate")),
    ("gzcharge.locate", ("gzcharge.tiers", "gzcharge.highway", "gzcharge.plan", "gzcharge.joint", "gzcharge.export")),
])
def test_lower_layers_do_not_import_upper_ones(layer, forbidden):
    g = import_graph()
    bad = [(m, t) for m, t in g.edges if (m == layer or m.startswith(layer + ".")) and t.startswith(forbidden)]
    assert not bad, f"{layer} imports upper layers: {bad}"


def test_locate_imports_no_geopandas():
    """The numeric core stays geometry-free (DESIGN.md)."""
    bad = []
    for path in (ROOT / "locate").rglob("*.py"):
        for target, _ in _imports(ast.parse(path.read_text(encoding="utf-8")), "gzcharge.locate"):
            if target.split(".")[0] in ("geopandas", "shapely", "osmnx"):
                bad.append((path.name, target))
    assert not bad, bad


def test_plan_names_no_tier():
    """plan.py orchestrates through the tier registry only."""
    g = import_graph()
    tiers = [t for t in g.successors("gzcharge.plan")
             if t.startswith(("gzcharge.tiers.", "gzcharge.highway")) and t != "gzcharge.tiers.base"]
    assert not tiers, f"plan.py imports tier modules directly: {tiers}"
    text = (ROOT / "plan.py").read_text(encoding="utf-8")
    for name in ("public", "highway", "swap", "hydrogen"):
        assert f"plan_{name}" not in text and f".{name} " not in text, f"plan.py names the {name} tier"


def test_registry_and_scenario_name_the_same_tiers():
    """Every registered tier has its ``[tiers]`` switch, and every switch a registered tier."""
    from gzcharge.scenario.joint import TIERS
    from gzcharge.tiers import REGISTRY

    assert set(REGISTRY) == set(TIERS)
