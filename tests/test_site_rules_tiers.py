"""A planner's candidate-sites file in every tier on 安顺市 (built-in data): swap, highway, hydrogen.

Required rows at new positions (not generated candidates) are in each tier's plan; highway and
hydrogen rows are snapped onto the corridor (checked against the distance to the corridor lines
measured independently with pyproj's geodesic); a required highway row far from every corridor is
a clear error; forbidden generated candidates of each tier are absent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SWAP_COST = 2_500_000.0
HW_COST = 1_000_000.0
HW_PLUGS = 1  # below the wait-target sizing: the file's plugs bound the station
PUB_PLUGS = 3  # a city-core lot that holds 3 plugs (public.min_plugs = 2)


def _scenario(reg):
    from gzcharge.scenario import default_scenario_path, load_scenario

    return load_scenario(default_scenario_path(str(reg.code)),
                         overrides=["tiers.public=true", "tiers.highway=true", "tiers.swap=true",
                                    "tiers.hydrogen=true", "solver.mip_rel_gap=0.05", "solver.time_limit_s=15"])


def _off_line(line, metres: float, at: float = 0.5):
    """A point ``metres`` to the left of ``line`` at fraction ``at`` of its length (metric CRS)."""
    import shapely

    a = line.interpolate(at, normalized=True)
    b = line.interpolate(at * line.length + 10.0)
    dx, dy = b.x - a.x, b.y - a.y
    n = np.hypot(dx, dy)
    return shapely.Point(a.x - dy / n * metres, a.y + dx / n * metres)


def _geod_m(p, q) -> float:
    from pyproj import Geod

    return float(Geod(ellps="WGS84").inv(p.x, p.y, q.x, q.y)[2])


def _near(gdf, pt, metres: float, crs) -> bool:
    import geopandas as gpd

    if len(gdf) == 0:
        return False
    p = gpd.GeoSeries([pt], crs=4326).to_crs(crs).iloc[0]
    return bool((gdf.geometry.to_crs(crs).distance(p) < metres).any())


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    import geopandas as gpd
    import shapely

    from gzcharge.plan import PlanInputs, run_plan
    from gzcharge.region import get_region

    reg = get_region("安顺市")
    scen = _scenario(reg)
    base = run_plan(reg, scen, PlanInputs())
    crs = reg.metric_crs
    seg = base.results["highway"].layers["expressway_segments"].to_crs(crs)
    order = np.argsort(seg.length.to_numpy())[::-1]
    to_ll = lambda p: gpd.GeoSeries([p], crs=crs).to_crs(4326).iloc[0]  # noqa: E731
    hw_pt = to_ll(_off_line(seg.geometry.iloc[order[0]], 1000.0))
    h2_pt = to_ll(_off_line(seg.geometry.iloc[order[1]], 700.0, at=0.4))
    sw = base.results["swap"].layers["swap_stations"]
    pingba = sw[sw["name"] == "平坝区"].iloc[0].geometry  # a generated swap candidate the base plan opens
    # a new swap site 2 km east of it (within the taxis' 5 km service distance, straight line x 1.3)
    s_m = gpd.GeoSeries([pingba], crs=4326).to_crs(crs).iloc[0]
    sw_pt = to_ll(shapely.Point(s_m.x + 2000.0, s_m.y))
    hs = base.results["highway"].layers["highway_stations"]
    fh = hs[hs["status"] != "existing"].iloc[0].geometry
    fy = base.results["hydrogen"].layers["hydrogen_stations"].iloc[0].geometry
    # a public lot 300 m east of the public station with the most plugs (its demand wants more than PUB_PLUGS)
    ps = base.results["public"].layers["public_stations"]
    big = ps.loc[ps["plugs"].idxmax()]
    b_m = gpd.GeoSeries([big.geometry], crs=4326).to_crs(crs).iloc[0]
    pub_pt = to_ll(shapely.Point(b_m.x + 300.0, b_m.y))
    folder = tmp_path_factory.mktemp("tier_rules")
    path = folder / "候选站点.csv"
    pd.DataFrame({
        "编号": ["S1", "H1", "Y1", "FS", "FH", "FY", "P1"],
        "名称": ["自有换电场地", "高速自有场地", "加氢自有场地", "禁止换电", "禁止高速", "禁止加氢", "自有停车场"],
        "角色": ["必选", "必选", "必选", "禁止", "禁止", "禁止", "必选"],
        "层级": ["换电", "高速", "氢能", "换电", "高速", "氢能", "公共"],
        "经度": [sw_pt.x, hw_pt.x, h2_pt.x, pingba.x, fh.x, fy.x, pub_pt.x],
        "纬度": [sw_pt.y, hw_pt.y, h2_pt.y, pingba.y, fh.y, fy.y, pub_pt.y],
        "费用": [SWAP_COST, HW_COST, "", "", "", "", ""],
        "桩数": ["", HW_PLUGS, "", "", "", "", PUB_PLUGS],
    }).to_csv(path, index=False, encoding="utf-8")
    ruled = run_plan(reg, scen, PlanInputs(candidates=str(path)))
    lines = shapely.union_all(seg.geometry.values)
    return dict(reg=reg, scen=scen, base=base, ruled=ruled, lines=lines, hw=hw_pt, h2=h2_pt, sw=sw_pt,
                pingba=pingba, fh=fh, fy=fy, folder=folder, big=big)


def test_required_swap_site_at_a_new_position_is_in_the_plan(plans):
    from gzcharge.tiers.swap import default_swap_candidates  # noqa: F401  (the generated candidates)

    base, ruled = plans["base"], plans["ruled"]
    st = ruled.results["swap"].layers["swap_stations"]
    assert "user-S1" not in set(base.results["swap"].layers["swap_stations"]["site_id"])
    row = st[st["site_id"] == "user-S1"]
    assert len(row) == 1
    r = row.iloc[0]
    # at the file's position, with the file's cost per station
    assert _geod_m(r.geometry, plans["sw"]) < 0.01
    assert r["station_cost_cny"] == pytest.approx(SWAP_COST * r["n_stations"])
    # the forbidden generated candidate (平坝区 seat) is not in the plan; the new site serves its fleets
    assert not _near(st, plans["pingba"], 100.0, plans["reg"].metric_crs)
    assert r["swaps_served"] > 0
    assert any("swap: 1 required site(s) forced open: user-S1" in n for n in ruled.notices)


def test_required_highway_site_is_snapped_onto_the_corridor(plans):
    import geopandas as gpd

    ruled, reg = plans["ruled"], plans["reg"]
    hs = ruled.results["highway"].layers["highway_stations"]
    row = hs[hs["site_id"] == "user-H1"]
    assert len(row) == 1
    st = row.iloc[0]
    assert st["cost_cny"] == pytest.approx(HW_COST)  # the file's site cost (2 plugs included in it)
    st_m = gpd.GeoSeries([st.geometry], crs=4326).to_crs(reg.metric_crs).iloc[0]
    file_m = gpd.GeoSeries([plans["hw"]], crs=4326).to_crs(reg.metric_crs).iloc[0]
    assert plans["lines"].distance(st_m) < 1.0  # on the corridor
    # the snapped point is the corridor's nearest point: its geodesic distance from the file's point is
    # the point-to-corridor distance (~1 km by construction; the projection's scale is < 0.1 % off here)
    d = _geod_m(st.geometry, plans["hw"])
    assert d == pytest.approx(plans["lines"].distance(file_m), rel=2e-3)
    assert 900.0 < d <= 1000.0 * 1.002  # within the tolerance, never farther than the construction
    # it is placed in the range/gap model at that position: a station of a corridor segment with a km post
    assert isinstance(st["segment"], (int, np.integer, str)) and np.isfinite(st["km_post"])
    # the file's plugs bound its sizing (the wait-target rule alone gives at least highway.min_plugs)
    assert plans["scen"].highway.min_plugs > HW_PLUGS
    assert st["plugs"] == HW_PLUGS and st["kw"] == pytest.approx(HW_PLUGS * plans["scen"].highway.plug_kw)


def test_public_planner_site_holds_at_most_its_plugs(plans):
    st = plans["ruled"].results["public"].layers["public_stations"]
    row = st[st["site_id"] == "user-P1"]
    assert len(row) == 1
    assert plans["big"]["plugs"] > PUB_PLUGS  # the demand there asks for more plugs than the lot holds
    assert plans["scen"].public.min_plugs <= row.iloc[0]["plugs"] <= PUB_PLUGS


def test_required_hydrogen_site_is_in_the_plan(plans):
    import geopandas as gpd

    ruled, reg = plans["ruled"], plans["reg"]
    h2 = ruled.results["hydrogen"].layers["hydrogen_stations"]
    row = h2[h2["site_id"] == "user-Y1"]
    assert len(row) == 1
    p = row.iloc[0].geometry
    file_m = gpd.GeoSeries([plans["h2"]], crs=4326).to_crs(reg.metric_crs).iloc[0]
    d = _geod_m(p, plans["h2"])
    assert d == pytest.approx(plans["lines"].distance(file_m), rel=2e-3)
    assert 500.0 < d <= 700.0 * 1.002
    # a hydrogen-only row is no fast-charging candidate
    assert "user-Y1" not in set(ruled.results["highway"].layers["highway_stations"]["site_id"])
    assert "user-H1" not in set(h2["site_id"])


def test_report_lists_each_tiers_rules_and_what_the_forced_sites_cost(plans):
    ruled = plans["ruled"]
    for tier, forced, forbidden in (("swap", "S1", "FS"), ("highway", "H1", "FH"), ("hydrogen", "Y1", "FY")):
        secs = [c for t, c in ruled.results[tier].sections if getattr(t, "key", "") == "rules.title"]
        assert len(secs) == 1, tier
        tab = secs[0].set_index("site_id")
        assert tab.loc[forced, "rule"] == "required" and tab.loc[forced, "in_plan"], tier
        assert tab.loc[forbidden, "rule"] == "forbidden" and not tab.loc[forbidden, "in_plan"], tier
        # the forcing cost is the forced site's cost in the tier's station layer
        layer = next(v for k, v in ruled.results[tier].layers.items() if k.endswith("_stations"))
        own = float(layer.loc[layer["site_id"] == f"user-{forced}", "cost_cny"].sum())
        assert tab.loc[forced, "cost_cny"] == pytest.approx(own) and own > 0, tier
    swap = ruled.results["swap"].layers["swap_stations"]
    assert ruled.results["swap"].sections[-1][1].set_index("site_id").loc["S1", "cost_cny"] == pytest.approx(
        float(swap.loc[swap["site_id"] == "user-S1", "cost_cny"].sum()))


def test_forbidden_generated_candidates_of_each_tier_are_absent(plans):
    base, ruled, crs = plans["base"], plans["ruled"], plans["reg"].metric_crs
    for tier, layer, pt in (("highway", "highway_stations", plans["fh"]), ("hydrogen", "hydrogen_stations", plans["fy"]),
                            ("swap", "swap_stations", plans["pingba"])):
        assert _near(base.results[tier].layers[layer], pt, 1.0, crs), tier  # open in the plan without rules
        assert not _near(ruled.results[tier].layers[layer], pt, 100.0, crs), tier
        assert any(n.startswith(f"{tier}: 1 site(s) forbidden") for n in ruled.notices), tier


def test_highway_site_far_from_every_expressway(plans):
    import geopandas as gpd
    import shapely
    import shapely.ops

    from gzcharge.errors import DataError
    from gzcharge.plan import PlanInputs, run_plan

    reg, lines = plans["reg"], plans["lines"]
    crs = reg.metric_crs
    # the point of the region farthest from the corridors (a 1 km grid), measured independently
    m = gpd.GeoSeries([reg.boundary], crs=4326).to_crs(crs).iloc[0]
    xs, ys = np.meshgrid(np.arange(m.bounds[0], m.bounds[2], 1000.0), np.arange(m.bounds[1], m.bounds[3], 1000.0))
    grid = shapely.points(np.column_stack([xs.ravel(), ys.ravel()]))
    grid = grid[shapely.contains(m, grid)]
    d = shapely.distance(grid, lines)
    far = gpd.GeoSeries([grid[int(np.argmax(d))]], crs=crs).to_crs(4326).iloc[0]
    tol = plans["scen"].highway.skeleton_snap_m  # the built-in skeleton's snap tolerance
    assert d.max() > 2 * tol
    corridor = shapely.ops.nearest_points(lines, grid[int(np.argmax(d))])[0]
    geod = _geod_m(far, gpd.GeoSeries([corridor], crs=crs).to_crs(4326).iloc[0])
    path = plans["folder"] / "far.csv"
    pd.DataFrame({"site_id": ["H9"], "name": ["远离高速"], "role": ["required"], "tier": ["highway"],
                  "lon": [far.x], "lat": [far.y]}).to_csv(path, index=False)
    with pytest.raises(DataError) as e:
        run_plan(reg, plans["scen"], PlanInputs(candidates=str(path)))
    text = str(e.value)
    assert "far.csv" in text and "row H9" in text and f"tolerance is {tol:g} m (highway.skeleton_snap_m)" in text
    stated = float(text.split(" m from the nearest expressway")[0].rsplit("lies ", 1)[1].replace(",", ""))
    assert stated == pytest.approx(geod, rel=5e-3)
    # the same point as a candidate: a warning, the site is not used, the plan runs
    pd.DataFrame({"site_id": ["C9"], "name": ["远离高速"], "role": ["candidate"], "tier": ["highway"],
                  "lon": [far.x], "lat": [far.y]}).to_csv(path, index=False)
    plan = run_plan(reg, plans["scen"], PlanInputs(candidates=str(path)))
    assert "user-C9" not in set(plan.results["highway"].layers["highway_stations"]["site_id"])
    assert any("not attached to any corridor" in n and "远离高速" in n for n in plan.notices)
