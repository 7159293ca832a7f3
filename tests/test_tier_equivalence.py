"""One model per facility family: the joint plan with one tier and one year is that tier's plan.

For every registered tier, 安顺市 is planned twice from the same inputs — the tier alone, and the
joint model restricted to that tier and to the scenario's one year, without budgets or yearly
targets — and the two must agree on the objective and on the open sites. Expressways for the
corridor tiers are straight corridors between the county seats with service areas at their
thirds (``benchmarks/bench_joint.synthetic_corridors``); the hydrogen tier runs with one phase
over every site (its default two phases are two solves, which a one-year joint plan is not).
"""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import shared_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def anshun_inputs(tmp_path_factory):
    import sys
    from pathlib import Path

    from gzcharge.region import get_region

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_joint import synthetic_corridors

    region = get_region("安顺市").with_townships(shared_path("guizhou", "township_seats_2016.csv"))
    tmp = tmp_path_factory.mktemp("anshun")
    corr, sa = synthetic_corridors(region, 120.0)
    corr.to_file(tmp / "expressways.geojson", driver="GeoJSON")
    ll = sa.to_crs("EPSG:4326")
    pd.DataFrame({"name": ll["name"], "lon": ll.geometry.x, "lat": ll.geometry.y}).to_csv(tmp / "service_areas.csv",
                                                                                        index=False)
    return region, str(tmp / "expressways.geojson"), str(tmp / "service_areas.csv")


def _plans(region, name, expressways, service_areas):
    from gzcharge.plan import PlanInputs, run_plan
    from gzcharge.scenario import default_scenario_path, load_scenario
    from gzcharge.tiers import tier_names

    off = [f"tiers.{t}={'true' if t == name else 'false'}" for t in tier_names()]
    off += ["hydrogen.phases=[{name = \"one phase\"}]", "hydrogen.hydrogen_share=0.05", "hydrogen.range_km=100",
            "highway.range_km=100"]  # short ranges: 安顺 trips need charging on the way
    inputs = PlanInputs(expressways=expressways, service_areas=service_areas)
    alone_scen = load_scenario(default_scenario_path("安顺市"), overrides=off)
    alone = run_plan(region, alone_scen, inputs)
    year = alone_scen.ev.year
    joint_scen = load_scenario(default_scenario_path("安顺市"), overrides=off + [
        "joint.enabled=true", f"joint.tiers=[\"{name}\"]", f"joint.years=[{year}]", "joint.marginal=false",
        "joint.targets={}", f"joint.time_limit_s={alone_scen.solver.time_limit_s}",
        f"joint.mip_rel_gap={alone_scen.solver.mip_rel_gap}"])
    joint = run_plan(region, joint_scen, inputs)
    return alone.results[name], joint.results[name]


@pytest.mark.parametrize("name", ["public", "highway", "hydrogen", "swap"])
def test_joint_one_tier_one_year_is_the_tier(anshun_inputs, name):
    region, expressways, service_areas = anshun_inputs
    alone, joint = _plans(region, name, expressways, service_areas)
    assert alone.skipped is None and joint.skipped is None, (alone.skipped, joint.skipped)
    assert alone.status.has_solution and joint.status.has_solution
    assert joint.objective == pytest.approx(alone.objective, rel=1e-6, abs=1e-6)
    layer = f"{name}_stations"
    a, j = alone.layers[layer], joint.layers[layer]
    assert len(a) > 0
    key = ["site_id"] + (["station_type", "n_stations"] if "n_stations" in a.columns else [])
    assert sorted(map(tuple, a[key].astype(str).to_numpy())) == sorted(map(tuple, j[key].astype(str).to_numpy()))
    if "cost_cny" in a.columns:
        assert float(j["cost_cny"].sum()) == pytest.approx(float(a["cost_cny"].sum()), rel=1e-9)
