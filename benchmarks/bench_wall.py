"""Wall and CPU time of the command line: ``gzcharge --help``, imports, a prefecture plan, the map.

Issue 13 targets (warm disk, this machine): ``gzcharge --help`` <= 0.3 s; a prefecture plan end
to end from the built-in default (``gzcharge plan --prefecture 安顺市 --out x.gpkg``) <= 3 s.
Each case runs in a fresh interpreter ``--repeat`` times; the minimum wall time is reported
(the machine is shared, so the minimum is the least disturbed run) with the CPU time
(user + sys of the child) of that run, which load disturbs less. The plan's own stage timings
(``timings (s): ...`` printed by ``gzcharge -v plan``) split the plan run; ``imports`` is the
rest of the import cost measured as separate interpreters, and ``map`` times
:func:`gzcharge.export.report.render_map` in this process on the plan's map layers (first call
includes matplotlib's import, the second is the drawing alone).

    python benchmarks/bench_wall.py [--repeat 5] [--area 安顺市] [--skip-plan]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# COLUMNS: rich must not wrap the plan's "timings (s): ..." line
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "COLUMNS": "1000"}


def run(cmd: list[str], repeat: int) -> tuple[float, float, str]:
    """(min wall s, CPU s of that run, stdout+stderr of the last run) of ``cmd`` run ``repeat`` times."""
    best = (float("inf"), float("nan"), "")
    for _ in range(repeat):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=ROOT)
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        if wall < best[0]:
            best = (wall, cpu, proc.stdout + proc.stderr)
    return best


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
    args = ap.parse_args()
    py = sys.executable
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; min of {args.repeat} runs")
    print("| case | wall s (min) | CPU s (user+sys) |")
    print("|---|---|---|")
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
        wall, cpu, _ = run(cmd, args.repeat)
        print(f"| {label} | {wall:.2f} | {cpu:.2f} |")
    print()
    for stmt in ("import gzcharge.cli", "import gzcharge.plan"):
        print(f"`{stmt}` loads: {', '.join(loaded_modules(stmt, heavy)) or 'none of the heavy libraries'}")
    if args.skip_plan:
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "x.gpkg"
        cmd = [py, "-m", "gzcharge", "-v", "plan", "--prefecture", args.area, "--out", str(out)]
        wall, cpu, text = run(cmd, args.repeat)
        print(f"\n`gzcharge plan --prefecture {args.area}` end to end: wall {wall:.2f} s (min of {args.repeat}), "
              f"CPU {cpu:.2f} s")
        m = re.search(r"timings \(s\): (.*)", text)
        if m:
            stages = dict(re.findall(r"(\w+) ([\d.]+)", m.group(1)))
            print("stages of that run (s): " + ", ".join(f"{k} {v}" for k, v in stages.items()))
        t0 = time.perf_counter()
        import geopandas as gpd
        import pyogrio

        from gzcharge.export.report import render_map

        layers = {name: gpd.read_file(out, layer=name) for name, _ in pyogrio.list_layers(out)
                  if name in ("counties", "boundary", "townships", "public_stations", "swap_stations")}
        print(f"read {len(layers)} map layers back in {time.perf_counter() - t0:.2f} s (imports included)")
        for attempt in ("first (imports matplotlib)", "second"):
            t0, c0 = time.perf_counter(), time.process_time()
            render_map(Path(tmp) / "map.png", layers, title=f"{args.area} 充电设施规划")
            print(f"render_map {attempt}: wall {time.perf_counter() - t0:.2f} s, CPU {time.process_time() - c0:.2f} s")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
