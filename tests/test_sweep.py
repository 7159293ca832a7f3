"""`gzcharge sweep`: 8 scenarios on 2 dask workers match serial in-process runs exactly; failed
runs become rows; relative budgets; bad --vary fails before anything runs."""

from __future__ import annotations

import pandas as pd
import pyogrio
import pytest

from gzcharge.errors import ConfigError
from gzcharge.sweep import PLOT_NAME, SUMMARY_NAME, parse_vary, sweep, sweep_table
from tests.conftest import shared_path

COUNTY = "平坝区"  # one county of 安顺: a plan solves in well under a second
BASE = ["tiers.highway=false", "tiers.swap=false", "tiers.hydrogen=false"]


@pytest.fixture(scope="module")
def towns() -> str:
    return str(shared_path("guizhou", "township_seats_2016.csv"))


def _serial_plan(towns: str, overrides: list[str]):
    from gzcharge.plan import PlanInputs, run_plan
    from gzcharge.region import get_region
    from gzcharge.scenario import default_scenario_path, load_scenario

    region = get_region(COUNTY).with_townships(towns)
    scen = load_scenario(default_scenario_path("520400"), overrides=overrides)
    return run_plan(region, scen, PlanInputs(townships=towns))


@pytest.mark.slow
def test_parallel_sweep_matches_serial_runs(tmp_path, towns):
    varies = ["public.township_radius_km=4,6,10,15", "public.min_county_coverage=0.9,0.99"]
    df = sweep(COUNTY, None, varies, tmp_path / "out", townships=towns, base_overrides=BASE, workers=2)
    assert len(df) == 8 and (df["status"] == "ok").all(), df[["status", "error"]]
    assert df["run"].tolist() == list(range(1, 9))
    # grid order: the last --vary changes fastest
    assert df["public.township_radius_km"].tolist() == ["4", "4", "6", "6", "10", "10", "15", "15"]
    assert df["public.min_county_coverage"].tolist() == ["0.9", "0.99"] * 4

    on_disk = pd.read_csv(tmp_path / "out" / SUMMARY_NAME)
    assert on_disk["run"].tolist() == df["run"].tolist()
    assert on_disk["cost_cny"].tolist() == pytest.approx(df["cost_cny"].tolist())
    assert (tmp_path / "out" / PLOT_NAME).stat().st_size > 10_000

    distinct = set()
    for _, row in df.iterrows():
        plan = _serial_plan(towns, [*BASE, *row["overrides"].split()])
        st = plan.public.stations
        gpkg = pyogrio.read_dataframe(tmp_path / "out" / row["gpkg"], layer="public_stations")
        # the same sites, sizes and cost as the serial run
        assert sorted(gpkg["site_id"]) == sorted(st["site_id"])
        assert dict(zip(gpkg["site_id"], gpkg["plugs"], strict=True)) == dict(zip(st["site_id"], st["plugs"], strict=True))
        assert row["stations"] == len(st)
        assert row["plugs"] == int(st["plugs"].sum())
        assert row["cost_cny"] == float(st["cost_cny"].sum())
        # one county: region-wide coverage equals the plan's own county table
        county = plan.public.counties.iloc[0]
        assert row["coverage_pct"] == pytest.approx(county["coverage_pct"], abs=1e-9)
        assert row["coverage_township_pct"] == pytest.approx(county["township_coverage_pct"], abs=1e-9)
        assert row["townships_covered"] == county["townships_covered"]
        meta = pyogrio.read_dataframe(tmp_path / "out" / row["gpkg"], layer="run_metadata").set_index("key")["value"]
        assert meta["scenario_overrides"] == " ".join([*BASE, *row["overrides"].split()])
        distinct.add(tuple(sorted(st["site_id"])))
    assert len(distinct) >= 3  # the grid really changes the plan


def test_failed_runs_are_rows_and_relative_budgets(tmp_path, towns):
    base_cost = float(_serial_plan(towns, BASE).public.stations["cost_cny"].sum())
    varies = [f"public.budget_cny=1e6,{base_cost * 2!r},*0.5,*1.02"]
    # fallback off explicitly: a budget the targets do not fit is a failed run (a row with the error)
    df = sweep(COUNTY, None, varies, tmp_path, townships=towns, base_overrides=[*BASE, "public.fallback_max_cover=false"],
               scheduler="inprocess")
    assert df["status"].tolist() == ["infeasible", "ok", "infeasible", "ok"]
    assert df.loc[0, "error"] and not df.loc[0, "gpkg"] and not df.loc[2, "gpkg"]
    assert sorted(p.name[:7] for p in tmp_path.glob("run_*.gpkg")) == ["run_002", "run_004"]
    assert df.loc[1, "cost_cny"] == pytest.approx(base_cost)  # a loose budget does not change a min-cost plan
    assert df.loc[0, "budget_reference_cny"] == pytest.approx(base_cost)
    assert df.loc[3, "overrides"] == f"public.budget_cny={1.02 * base_cost!r}"
    assert df.loc[3, "cost_cny"] == pytest.approx(base_cost)
    csv = pd.read_csv(tmp_path / SUMMARY_NAME)
    assert csv["status"].tolist() == df["status"].tolist()
    assert "budget" in csv.loc[0, "error"].lower() or "infeasible" in csv.loc[0, "error"].lower()
    table = sweep_table(df)
    assert table.row_count == 4 and [c.header for c in table.columns][:3] == ["run", "budget_cny", "status"]


def test_budget_whatif_plans_best_coverage_within_budget(tmp_path, towns):
    """Varying the budget turns on the best-coverage fallback: a short budget is a plan, not an error."""
    base_cost = float(_serial_plan(towns, BASE).public.stations["cost_cny"].sum())
    df = sweep(COUNTY, None, ["public.budget_cny=*0.5"], tmp_path, townships=towns, base_overrides=BASE,
               scheduler="inprocess")
    assert df["status"].tolist() == ["ok"]
    assert df.loc[0, "cost_cny"] <= 0.5 * base_cost + 1e-6
    assert df.loc[0, "unmet_count"] > 0 and "budget" in df.loc[0, "unmet"]


@pytest.mark.parametrize(
    "vary, message",
    [
        (["public.township_radius_kms=5,8"], "did you mean public.township_radius_km"),
        (["public.township_radius_km=5,-1"], "township_radius_km must be > 0"),
        (["public.township_radius_km 5"], "expected section.key=v1,v2"),
        (["public.township_radius_km=5,,8"], "empty key or value"),
        (["public.township_radius_km=*0.5"], "relative values"),
        (["public.budget_cny=*abc"], "factor after \\* must be a number"),
        (["public.budget_cny=1e7", "public.budget_cny=2e7"], "given twice"),
    ],
)
def test_bad_vary_fails_before_any_run(tmp_path, towns, vary, message):
    out = tmp_path / "never"
    with pytest.raises(ConfigError, match=message):
        # an unreachable scheduler: reaching it would mean runs were about to start
        sweep(COUNTY, None, vary, out, townships=towns, scheduler="tcp://127.0.0.1:9")
    assert not out.exists()


def test_parse_vary_keeps_lists_and_quotes():
    got = parse_vary(['public.mode="min_cost","max_cover"', "ev.evs_by_county={\"520402\" = 1, \"520403\" = 2},{}"])
    assert got == [("public.mode", ['"min_cost"', '"max_cover"']),
                   ("ev.evs_by_county", ['{"520402" = 1, "520403" = 2}', "{}"])]
