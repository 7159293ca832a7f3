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


# ------------------------------------------------------------------ what an import loads at run time
HEAVY = ("pyomo", "scipy", "scipy.stats", "pandas", "numpy", "matplotlib", "geopandas", "shapely", "pyproj",
         "pyogrio", "osmnx", "networkx", "dask", "highspy")


def _loaded_after(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; return ``{"heavy": [...], "out": ...}`` from its last line."""
    import json
    import subprocess
    import sys

    probe = f"{code}\nimport json, sys\nprint(json.dumps({{'heavy': [n for n in {HEAVY!r} if n in sys.modules], 'out': OUT}}))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT.parent, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_cli_import_and_help_load_no_heavy_library():
    """``gzcharge --help`` stays fast (issue 13: <= 0.3 s): the CLI imports its libraries inside the commands."""
    r = _loaded_after("import gzcharge.cli\nOUT = None")
    assert r["heavy"] == [], f"import gzcharge.cli loads {r['heavy']}"
    r = _loaded_after("import contextlib, io, sys\nfrom gzcharge.cli import app\nbuf = io.StringIO()\n"
                      "with contextlib.redirect_stdout(buf):\n"
                      "    try:\n        app(['--help'])\n    except SystemExit:\n        pass\n"
                      "OUT = buf.getvalue()")
    assert "plan" in r["out"], "the help text lists the commands"
    assert r["heavy"] == [], f"gzcharge --help loads {r['heavy']}"


def test_plan_module_loads_no_solver_drawing_or_osm_library():
    """``import gzcharge.plan`` loads the numeric core's pandas/scipy.sparse, not Pyomo, matplotlib or OSM."""
    r = _loaded_after("import gzcharge.plan\nOUT = None")
    bad = [n for n in r["heavy"] if n in ("pyomo", "scipy.stats", "matplotlib", "geopandas", "osmnx", "dask")]
    assert not bad, f"import gzcharge.plan loads {bad}"


def test_building_a_model_does_not_import_scipy_stats():
    """Pyomo imports scipy.stats at once when scipy is already loaded; gzcharge's builders avoid it.

    The toy set cover of tests/test_locate_coverage.py without reductions or start (solved from the
    arrays): by hand its unique optimum is {S2, S4} (c is covered only by S2; a and e then need S4);
    then a Pyomo model is made through gzcharge's helper, as every Pyomo twin is. The scipy module
    gzcharge loaded first must still be the one in use.
    """
    code = (
        "import numpy as np, pandas as pd, scipy.sparse, sys\n"
        "first = sys.modules['scipy.sparse']\n"
        "from gzcharge.locate.coverage import set_cover\n"
        "INF = np.inf\n"
        "cost = pd.DataFrame({'S1': [2.0, 3.0, 50.0, INF, 40.0], 'S2': [30.0, 9.0, 1.0, 5.0, INF],\n"
        "                     'S3': [INF, 25.0, 20.0, 2.0, 4.0], 'S4': [1.0, 12.0, np.nan, 15.0, 6.0]},\n"
        "                    index=list('abcde'))\n"
        "r = set_cover(cost, 10, reduce=False, warm_start=False)\n"
        "from gzcharge._util import import_pyomo\n"
        "pyo = import_pyomo(); m = pyo.ConcreteModel(); m.x = pyo.Var(within=pyo.Binary)\n"
        "OUT = {'selected': sorted(r.selected), 'pyomo': 'pyomo.environ' in sys.modules,\n"
        "       'same_scipy': sys.modules['scipy.sparse'] is first and sys.modules['scipy'].sparse is first}"
    )
    r = _loaded_after(code)
    assert r["out"]["pyomo"], "the test must go through a Pyomo model"
    assert r["out"]["selected"] == ["S2", "S4"]
    assert r["out"]["same_scipy"]
    assert "scipy.stats" not in r["heavy"]


def test_model_builders_import_pyomo_through_the_helper():
    """Every function that creates a Pyomo model gets ``pyo`` from ``gzcharge._util.import_pyomo``."""
    bad = []
    for path in ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            src = ast.unparse(fn)
            if "ConcreteModel(" in src and ("import pyomo.environ" in src or "import_pyomo()" not in src):
                bad.append(f"{path.relative_to(ROOT)}:{fn.name}")
    assert not bad, f"use pyo = import_pyomo() in {bad}"


def test_prefecture_plan_builds_no_pyomo_model(tmp_path):
    """Issue 13: the README plan solves every tier from arrays; Pyomo (0.3 s + a pyplot import) is not loaded.

    The swap tier's flow re-solve runs in this plan (it has swap stations), so its model goes
    through ``build_joint_model(as_arrays=True)`` too.
    """
    out = tmp_path / "anshun.gpkg"
    code = (
        "import contextlib, io, sqlite3\nfrom gzcharge.cli import app\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    try:\n        app(['plan', '--prefecture', '安顺市', '--out', {str(out)!r}, '--no-report'])\n"
        "    except SystemExit as e:\n        assert not e.code, e.code\n"
        f"con = sqlite3.connect({str(out)!r})\n"
        "OUT = {name: con.execute(f'SELECT count(*) FROM \"{name}\"').fetchone()[0]\n"
        "       for (name,) in con.execute('SELECT table_name FROM gpkg_contents')}"
    )
    r = _loaded_after(code)
    assert r["out"].get("swap_stations", 0) > 0, f"the plan must run the swap tier: {r['out']}"
    assert "pyomo" not in r["heavy"], "a Pyomo model was built on the plan path"
