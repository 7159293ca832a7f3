"""End-to-end `gzcharge plan` timings per prefecture and for the province (issue 4 bar).

Runs the plan (public + swap tiers; highway/hydrogen need expressway data and are skipped
offline) from the built-in pack plus the shared township seats, writes the GeoPackage and
the report, and prints per-stage seconds. Bar: each prefecture < 60 s end to end at ≤ 0.1 %
gap, the province < 5 minutes.

    python benchmarks/bench_plan.py [--no-report] [--areas 遵义市 贵州省]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOWNS = ROOT.parent / "shared" / "data" / "guizhou" / "township_seats_2016.csv"
AREAS = ["贵阳市", "六盘水市", "遵义市", "安顺市", "毕节市", "铜仁市", "黔西南州", "黔东南州", "黔南州", "贵州省"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--areas", nargs="*", default=AREAS)
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args()

    t_imp = time.perf_counter()
    from gzcharge.plan import PlanInputs, run_plan, write_plan
    from gzcharge.region import get_region
    from gzcharge.scenario import default_scenario_path, load_scenario

    print(f"imports {time.perf_counter() - t_imp:.2f} s")
    head = ("area", "demand", "cands", "stations", "status", "gap %", "region", "public", "swap", "export",
            "report", "total s")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    with tempfile.TemporaryDirectory() as tmp:
        for area in args.areas:
            t0 = time.perf_counter()
            region = get_region(area)
            if TOWNS.exists():
                region = region.with_townships(TOWNS)
            t_region = time.perf_counter() - t0
            path = (default_scenario_path(None).with_name("province.toml") if region.kind == "province"
                    else default_scenario_path(str(region.code)))
            scen = load_scenario(path)
            plan = run_plan(region, scen, PlanInputs(townships=str(TOWNS) if TOWNS.exists() else None))
            t1 = time.perf_counter()
            write_plan(plan, Path(tmp) / f"{region.code}.gpkg", report=False)
            t_export = time.perf_counter() - t1
            t2 = time.perf_counter()
            if not args.no_report:
                from gzcharge.export.plan_report import write_plan_report

                write_plan_report(plan, Path(tmp) / f"{region.code}")
            t_report = time.perf_counter() - t2
            total = time.perf_counter() - t0
            pub = plan.public
            row = (region.name, len(pub.demand), len(pub.candidates), len(pub.stations), pub.status,
                   f"{100 * pub.gap:.3f}", f"{t_region:.2f}", f"{plan.timings.get('public', 0):.2f}",
                   f"{plan.timings.get('swap', 0):.2f}", f"{t_export:.2f}", f"{t_report:.2f}", f"{total:.2f}")
            print("| " + " | ".join(map(str, row)) + " |", flush=True)
            stages = ", ".join(f"{k} {v:.2f}" for k, v in pub.timings.items())
            print(f"  public stages: {stages}", flush=True)


if __name__ == "__main__":
    main()
