"""Wall and CPU time of the command line: ``gzcharge --help``, imports, a prefecture plan, the map.

Issue 13 targets (warm disk, this machine): ``gzcharge --help`` <= 0.3 s; a prefecture plan end
to end from the built-in default (``gzcharge plan --prefecture 安顺市 --out x.gpkg``) <= 3 s.
Each case runs in a fresh interpreter ``--repeat`` times; the minimum wall time is reported
(the machine is shared, so the minimum is the least disturbed run) with the CPU time
(user + sys of the child) of that run, which load disturbs less. The plan's own stage timings
(``timings (s): ...`` printed by ``gzcharge -v plan``) split the plan run; ``imports`` is the
rest of the import cost measured as separate interpreters, and ``map`` times
:func:`gzcharge.export.report.render_map` in a fresh interpreter on the plan's map layers (first call
includes matplotlib's import, the later ones are the drawing alone).

    python benchmarks/bench_wall.py [--repeat 5] [--area 安顺市] [--skip-plan] [--set KEY=VALUE ...]
                                    [--tree OTHER_CHECKOUT]

``--tree`` runs the same cases on another source tree (e.g. ``git archive main | tar -x -C
/tmp/base``) for a side-by-side. "outside the solver" is the plan's wall time minus its tier
solve stages (model building and HiGHS; the first includes Pyomo's import).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLVE_STAGES = ("public", "highway", "hydrogen", "swap")


def env_for(tree: Path) -> dict:
    # COLUMNS: rich must not wrap the plan's "timings (s): ..." line
    return {**os.environ, "PYTHONPATH": str(tree) + os.pathsep + os.environ.get("PYTHONPATH", ""), "COLUMNS": "1000"}


ENV = env_for(ROOT)


MEDIANS: dict[tuple[str, ...], tuple[float, float]] = {}  # command -> (median wall s, median CPU s) of its runs


def run(cmd: list[str], repeat: int, tree: Path = ROOT) -> tuple[float, float, str]:
    """(min wall s, CPU s of that run, its stdout+stderr) of ``cmd`` run ``repeat`` times in ``tree``.

    The medians of all runs' wall and CPU times go to ``MEDIANS[(str(tree), *cmd)]``.
    """
    best = (float("inf"), float("nan"), "")
    walls, cpus = [], []
    for _ in range(repeat):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env_for(tree), cwd=tree)
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        walls.append(wall)
        cpus.append(cpu)
        if wall < best[0]:
            best = (wall, cpu, proc.stdout + proc.stderr)
    MEDIANS[(str(tree), *cmd)] = (statistics.median(walls), statistics.median(cpus))
    return best


MAP_TIMING = """
import sys, time
import geopandas as gpd, pyogrio
from gzcharge.export.report import render_map
out, area = sys.argv[1], sys.argv[2]
layers = {n: gpd.read_file(out, layer=n) for n, _ in pyogrio.list_layers(out)
          if n in ("counties", "boundary", "townships", "public_stations", "swap_stations")}
res = []
for attempt in range(3):  # the first one includes matplotlib's import
    t0, c0 = time.perf_counter(), time.process_time()
    render_map(out[:-5] + "_bench_map.png", layers, title=area + " 充电设施规划")
    res.append((time.perf_counter() - t0, time.process_time() - c0))
best = min(res[1:])
print(f"render_map first call wall {res[0][0]:.2f} s / CPU {res[0][1]:.2f} s (imports matplotlib); "
      f"then min wall {best[0]:.2f} s / CPU {best[1]:.2f} s")
"""


def loaded_modules(stmt: str, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` a fresh interpreter has in ``sys.modules`` after ``stmt``."""
    code = f"import sys\n{stmt}\nprint(' '.join(n for n in {names!r} if n in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, cwd=ROOT, check=True)
    return out.stdout.split()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--area", default="安顺市")
    ap.add_argument("--skip-plan", action="store_true")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--tree", type=Path, default=None, help="another checkout to run side by side")
    args = ap.parse_args()
    trees = [ROOT] + ([args.tree.resolve()] if args.tree else [])
    py = sys.executable
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; min of {args.repeat} runs")
    print("| case | " + " | ".join(f"{t.name}: wall s (min) | {t.name}: CPU s" for t in trees) + " |")
    print("|---|" + "---|---|" * len(trees))
    heavy = ("pyomo", "pyomo.environ", "scipy", "scipy.stats", "matplotlib", "matplotlib.pyplot", "geopandas",
             "osmnx", "dask", "pandas", "shapely", "pyproj", "highspy", "networkx")
    cases = [
        ("python -c pass", [py, "-c", "pass"]),
        ("gzcharge --help", [py, "-m", "gzcharge", "--help"]),
        ("gzcharge plan --help", [py, "-m", "gzcharge", "plan", "--help"]),
        ("import gzcharge.plan", [py, "-c", "import gzcharge.plan"]),
        ("import pyomo.environ", [py, "-c", "import pyomo.environ"]),
        ("import scipy.sparse, then pyomo.environ", [py, "-c", "import scipy.sparse, pyomo.environ"]),
        ("import scipy.stats", [py, "-c", "import scipy.stats"]),
        ("import matplotlib.pyplot", [py, "-c", "import matplotlib.pyplot"]),
        ("import matplotlib.figure + backend_agg", [py, "-c", "import matplotlib.figure, matplotlib.backends.backend_agg"]),
    ]
    for label, cmd in cases:
        cells = []
        for tree in trees:
            wall, cpu, _ = run(cmd, args.repeat, tree)
            cells += [f"{wall:.2f}", f"{cpu:.2f}"]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    for tree in trees:
        mw, mc = MEDIANS[(str(tree), py, "-m", "gzcharge", "--help")]
        print(f"- {tree.name}: `gzcharge --help` median of {args.repeat} runs: wall {mw:.2f} s, CPU {mc:.2f} s")
    for stmt in ("import gzcharge.cli", "import gzcharge.plan"):
        print(f"`{stmt}` loads: {', '.join(loaded_modules(stmt, heavy)) or 'none of the heavy libraries'}")
    if args.skip_plan:
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "x.gpkg"
        sets = [a for kv in args.overrides for a in ("--set", kv)]
        cmd = [py, "-m", "gzcharge", "-v", "plan", "--prefecture", args.area, "--out", str(out), *sets]
        print(f"\n`gzcharge plan --prefecture {args.area} {' '.join(sets)}` end to end, min of {args.repeat}:")
        for tree in trees:
            wall, cpu, text = run(cmd, args.repeat, tree)
            m = re.search(r"timings \(s\): (.*)", text)
            stages = {k: float(v) for k, v in re.findall(r"(\w+) ([\d.]+)", m.group(1))} if m else {}
            solve = sum(stages.get(k, 0.0) for k in SOLVE_STAGES)
            mw, mc = MEDIANS[(str(tree), *cmd)]
            print(f"- {tree.name}: median of {args.repeat} runs: wall {mw:.2f} s, CPU {mc:.2f} s")
            print(f"- {tree.name}: fastest run: wall {wall:.2f} s, CPU {cpu:.2f} s; tier stages (model build + HiGHS) {solve:.2f} s, the rest "
                  f"{wall - solve:.2f} s")
            print("  stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
        for tree in trees:
            print(f"- {tree.name}: " + subprocess.run([py, "-c", MAP_TIMING, str(out), args.area], capture_output=True,
                                                      text=True, env=env_for(tree), cwd=tree, check=True).stdout.strip())
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
