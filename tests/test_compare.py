"""`gzcharge compare`: two real 安顺 plans (township radius 10 vs 5 km) checked with set operations
on the files' site ids, a hand-made pair of tiny plans with a known classification, bad input."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from pyproj import Geod
from shapely.geometry import Point, box

from gzcharge.compare import compare_plans, comparison_tables, write_comparison
from gzcharge.errors import DataError
from gzcharge.export.gpkg import write_geopackage
from tests.conftest import shared_path

GEOD = Geod(ellps="WGS84")


# ---------------------------------------------------------------------------- real plans
@pytest.fixture(scope="module")
def anshun_pair(tmp_path_factory) -> tuple[Path, Path]:
    from gzcharge.plan import PlanInputs, run_plan, write_plan
    from gzcharge.region import get_region
    from gzcharge.scenario import default_scenario_path, load_scenario

    towns = shared_path("guizhou", "township_seats_2016.csv")
    region = get_region("安顺市").with_townships(towns)
    scen_path = default_scenario_path("520400")
    out = tmp_path_factory.mktemp("compare")
    paths = []
    for name, extra in (("a", []), ("b", ["public.township_radius_km=5"])):
        overrides = ["tiers.highway=false", *extra]
        scen = load_scenario(scen_path, overrides=overrides)
        plan = run_plan(region, scen, PlanInputs(townships=str(towns), scenario_file=str(scen_path),
                                                 overrides=overrides))
        paths.append(write_plan(plan, out / f"{name}.gpkg", report=False)[0])
    return paths[0], paths[1]


def test_real_plans_added_removed_by_set_operations(anshun_pair, tmp_path):
    a_path, b_path = anshun_pair
    a = pyogrio.read_dataframe(a_path, layer="public_stations")
    b = pyogrio.read_dataframe(b_path, layer="public_stations")
    ida, idb = set(a["site_id"]), set(b["site_id"])
    assert ida != idb  # a 5 km radius moves township stations

    comp = compare_plans(a_path, b_path)
    sc = comp.site_changes
    pub = sc[sc["layer"] == "public_stations"]
    assert set(pub.loc[pub["change"] == "added", "site_id"]) == idb - ida
    assert set(pub.loc[pub["change"] == "removed", "site_id"]) == ida - idb
    # resized: common ids whose plugs or kW differ, worked out with a pandas merge
    m = a.merge(b, on="site_id", suffixes=("_a", "_b"))
    resized = m[(m["plugs_a"] != m["plugs_b"]) | ~np.isclose(m["kw_a"], m["kw_b"])]
    assert set(pub.loc[pub["change"] == "resized", "site_id"]) == set(resized["site_id"])
    assert set(pub.loc[pub["detail"] == "enlarged", "site_id"]) == set(resized.loc[resized["plugs_b"] > resized["plugs_a"], "site_id"])
    assert set(pub.loc[pub["detail"] == "reduced", "site_id"]) == set(resized.loc[resized["plugs_b"] < resized["plugs_a"], "site_id"])
    assert (pub["change"] == "unchanged").sum() == len(m) - len(resized)
    assert len(pub) == len(ida | idb)
    assert (pub["matched_by"] == "position").sum() == 0  # the same run ids: no fallback needed

    # cost change: totals and per tier straight from the two files
    s = comp.summary.set_index("item")
    assert s.loc["total (CNY)", "delta"] == pytest.approx(b["cost_cny"].sum() - a["cost_cny"].sum())
    for tier in ("city", "county", "township"):
        want = b.loc[b["tier"] == tier, "cost_cny"].sum() - a.loc[a["tier"] == tier, "cost_cny"].sum()
        assert s.loc[f"{tier} (CNY)", "delta"] == pytest.approx(want)
    assert s.loc["public_stations: sites", "a"] == len(a)
    assert s.loc["public_stations: sites", "b"] == len(b)

    # county coverage change = B − A by adcode
    ca = pyogrio.read_dataframe(a_path, layer="counties").set_index("adcode")
    cb = pyogrio.read_dataframe(b_path, layer="counties").set_index("adcode")
    cc = comp.county_changes.set_index("adcode")
    for col in ("coverage_pct", "township_coverage_pct", "stations", "cost_cny"):
        want = (cb[col] - ca[col]).reindex(cc.index)
        np.testing.assert_allclose(cc[f"d_{col}"].to_numpy(float), want.to_numpy(float), equal_nan=True)

    # township flips from the two townships layers
    ta = pyogrio.read_dataframe(a_path, layer="townships").set_index("demand_id")["covered"]
    tb = pyogrio.read_dataframe(b_path, layer="townships").set_index("demand_id")["covered"]
    j = pd.concat([ta.rename("a"), tb.rename("b")], axis=1, join="inner")
    tc = comp.township_changes.set_index("demand_id")
    assert set(tc.index[tc["change"] == "newly_covered"]) == set(j.index[~j["a"] & j["b"]])
    assert set(tc.index[tc["change"] == "lost"]) == set(j.index[j["a"] & ~j["b"]])

    # the scenario difference is found from the resolved scenarios
    assert comp.scenario_diff == {"public.township_radius_km": (10.0, 5.0)}

    out = write_comparison(comp, tmp_path / "diff.gpkg")
    layers = dict(pyogrio.list_layers(out))
    assert {"site_changes", "county_changes", "township_changes", "summary", "run_metadata"} <= set(layers)
    meta = pyogrio.read_dataframe(out, layer="run_metadata").set_index("key")["value"]
    assert meta["created_by"] == "gzcharge compare"
    assert meta["b.scenario_overrides"] == "tiers.highway=false public.township_radius_km=5"
    assert meta["a.scenario_overrides"] == "tiers.highway=false"
    assert meta["a.scenario_name"] == meta["b.scenario_name"] == "anshun"
    assert meta["a.input_sha256.townships"] == meta["b.input_sha256.townships"] != ""
    assert meta["changes.public_stations.added"] == str(len(idb - ida))
    styles = pyogrio.read_dataframe(out, layer="layer_styles", read_geometry=False)
    assert set(styles["f_table_name"]) == {"site_changes", "county_changes", "township_changes"}
    back = pyogrio.read_dataframe(out, layer="site_changes")
    assert back["change_zh"].value_counts().to_dict() == sc["change_zh"].value_counts().to_dict()
    assert len(comparison_tables(comp)) == 2

    # every other site layer of the plans (swap, hydrogen, highway when on): the same set algebra
    for layer in set(layers_a(a_path) + layers_a(b_path)) - {"public_stations"}:
        ka, kb = _site_keys(a_path, layer), _site_keys(b_path, layer)
        got = sc[sc["layer"] == layer]
        key = got["site_id"] + ("/" + got["station_type"] if "station_type" in got and layer == "swap_stations" else "")
        assert set(key[got["change"] == "added"]) == kb - ka, layer
        assert set(key[got["change"] == "removed"]) == ka - kb, layer


def layers_a(path: Path) -> list[str]:
    site = ("public_stations", "highway_stations", "swap_stations", "hydrogen_stations")
    return [str(n) for n in pyogrio.list_layers(path)[:, 0] if n in site]


def _site_keys(path: Path, layer: str) -> set[str]:
    if layer not in layers_a(path):
        return set()
    f = pyogrio.read_dataframe(path, layer=layer, read_geometry=False)
    key = f["site_id"].astype(str)
    if layer == "swap_stations" and "station_type" in f:
        key = key + "/" + f["station_type"].astype(str)
    return set(key)


def test_different_regions_error_or_note(anshun_pair, tmp_path):
    a_path, _ = anshun_pair
    other = tmp_path / "other.gpkg"
    layers = {n: pyogrio.read_dataframe(a_path, layer=n) for n in ["counties", *layers_a(a_path)]}
    meta = pyogrio.read_dataframe(a_path, layer="run_metadata").set_index("key")["value"].to_dict()
    meta.update(region="贵阳市", region_code="520100")
    write_geopackage(other, layers, metadata=meta)
    with pytest.raises(DataError, match=r"different regions.*安顺市 \(520400\).*贵阳市 \(520100\)"):
        compare_plans(a_path, other)
    comp = compare_plans(a_path, other, allow_different_regions=True)
    assert any("different regions" in n for n in comp.notes)
    # the compare report's notes are messages: Chinese in a zh report, with both regions named
    from gzcharge.export.i18n import tr, untranslated

    note = next(n for n in comp.notes if "different regions" in n)
    assert note.endswith("B " + str(other) + " is 贵阳市 (520100); sites outside the common area show as added/removed")
    zh = tr(note, "zh")
    assert zh.startswith("两个方案的规划范围不同：方案A ") and zh.endswith(
        f"方案B {other} 为贵阳市（520100）；共同范围以外的站点显示为新增或移除")
    assert untranslated(comp.notes) == []
    assert (comp.site_changes["change"] == "unchanged").all()


# ---------------------------------------------------------------------------- tiny hand-made pair
X0, Y0 = 105.9, 26.2


def _offset(lon: float, lat: float, east_m: float) -> tuple[float, float]:
    lon2, lat2, _ = GEOD.fwd(lon, lat, 90.0, east_m)
    return lon2, lat2


def _stations(rows: list[tuple]) -> gpd.GeoDataFrame:
    """rows: (site_id, tier, plugs, kw, cost, lon, lat)."""
    df = pd.DataFrame(rows, columns=["site_id", "tier", "plugs", "kw", "cost_cny", "lon", "lat"])
    df["status"] = "new"
    df["name"] = df["site_id"]
    df["county_adcode"] = "520402"
    return gpd.GeoDataFrame(df.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(df["lon"], df["lat"]),
                            crs="EPSG:4326")


def _tiny_plan(path: Path, stations, counties, townships, *, swap=None, hydrogen=None, region_code="520400"):
    layers = {"counties": counties, "townships": townships, "public_stations": stations}
    if swap is not None:
        layers["swap_stations"] = swap
    if hydrogen is not None:
        layers["hydrogen_stations"] = hydrogen
    meta = {"created_by": "gzcharge plan", "region": "安顺市", "region_code": region_code,
            "scenario_name": path.stem, "metric_crs": "EPSG:4544"}
    write_geopackage(path, layers, metadata=meta)
    return path


def _counties(cov: tuple[float, float]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"adcode": ["520402", "520403"], "name": ["西秀区", "平坝区"],
                             "coverage_pct": list(cov), "stations": [3, 2]},
                            geometry=[box(105.8, 26.1, 106.0, 26.3), box(106.0, 26.1, 106.2, 26.3)], crs="EPSG:4326")


def _townships(covered: list[bool]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"demand_id": ["t1", "t2", "t3"], "name": ["甲", "乙", "丙"],
                             "county_adcode": "520402", "covered": covered},
                            geometry=[Point(105.85, 26.15), Point(105.9, 26.25), Point(106.1, 26.2)], crs="EPSG:4326")


def _swap(cap_bus: float) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"site_id": ["w1", "w1"], "station_type": ["taxi", "bus"],
                             "capacity_swaps_day": [100.0, cap_bus], "n_stations": [1, 1], "cost_cny": [2e6, 3e6]},
                            geometry=[Point(105.95, 26.22)] * 2, crs="EPSG:4326")


@pytest.fixture
def tiny_pair(tmp_path) -> tuple[Path, Path]:
    p6 = (X0, Y0)
    p6b = _offset(*p6, 0.5)   # 0.5 m east: same site under a new id
    p8 = (X0 + 0.05, Y0)
    p8b = _offset(*p8, 5.0)   # 5 m east: a different site
    a = _stations([
        ("s1", "city", 2, 120.0, 6e5, X0 + 0.01, Y0),
        ("s2", "county", 4, 240.0, 7e5, X0 + 0.02, Y0),
        ("s3", "township", 4, 240.0, 7e5, X0 + 0.03, Y0),
        ("s4", "township", 2, 120.0, 6e5, X0 + 0.04, Y0),
        ("old-6", "township", 2, 120.0, 6e5, *p6),
        ("s8", "township", 2, 120.0, 6e5, *p8),
        ("s9", "township", 2, 120.0, 6e5, X0 + 0.06, Y0),
    ])
    b = _stations([
        ("s1", "city", 2, 120.0, 6e5, X0 + 0.01, Y0),       # unchanged
        ("s2", "county", 6, 360.0, 8e5, X0 + 0.02, Y0),     # enlarged
        ("s3", "township", 2, 120.0, 6e5, X0 + 0.03, Y0),   # reduced
        ("s5", "township", 2, 120.0, 6e5, X0 + 0.045, Y0),  # added (s4 removed)
        ("new-6", "township", 2, 120.0, 6e5, *p6b),         # same site by position: unchanged
        ("s7", "township", 2, 120.0, 6e5, *p8b),            # 5 m off s8: added, s8 removed
        ("s9", "township", 2, 180.0, 6e5, X0 + 0.06, Y0),   # kW only up: enlarged
    ])
    hyd = gpd.GeoDataFrame({"site_id": ["h1"], "capacity_kg_day": [1000.0], "units": [1], "cost_cny": [1.5e7]},
                           geometry=[Point(106.0, 26.3)], crs="EPSG:4326")
    pa = _tiny_plan(tmp_path / "A.gpkg", a, _counties((90.0, 100.0)), _townships([False, True, True]), swap=_swap(50.0))
    pb = _tiny_plan(tmp_path / "B.gpkg", b, _counties((95.0, 80.0)), _townships([True, False, True]),
                    swap=_swap(80.0), hydrogen=hyd)
    return pa, pb


def test_tiny_pair_known_classification(tiny_pair, tmp_path):
    comp = compare_plans(*tiny_pair)
    sc = comp.site_changes
    pub = sc[sc["layer"] == "public_stations"].set_index("site_id")
    got = pub["change_zh"].to_dict()
    assert got == {"s1": "不变", "s2": "扩容", "s3": "缩减", "s4": "移除", "s5": "新增", "new-6": "不变",
                   "s7": "新增", "s8": "移除", "s9": "扩容"}
    assert pub.loc["new-6", "matched_by"] == "position"
    assert pub.loc["new-6", "site_id_a"] == "old-6"
    assert pub.loc["s2", "d_capacity"] == 2 and pub.loc["s2", "d_kw"] == 120 and pub.loc["s2", "d_cost_cny"] == 1e5
    assert pub.loc["s9", "d_capacity"] == 0 and pub.loc["s9", "d_kw"] == 60
    assert pub.loc["s3", "size_changes"] == "plugs 4→2; kw 240→120"

    sw = sc[sc["layer"] == "swap_stations"].set_index("station_type")
    assert sw["change_zh"].to_dict() == {"taxi": "不变", "bus": "扩容"}
    assert sw.loc["bus", "d_capacity"] == 30
    hy = sc[sc["layer"] == "hydrogen_stations"]
    assert hy["change"].tolist() == ["added"] and hy["capacity_b"].tolist() == [1000.0]

    counts = comp.counts().set_index("layer")
    assert counts.loc["public_stations", ["added", "removed", "resized", "unchanged"]].tolist() == [2, 2, 3, 2]
    assert counts.loc["public_stations", ["enlarged", "reduced"]].tolist() == [2, 1]

    cc = comp.county_changes.set_index("adcode")
    assert cc.loc["520402", "d_coverage_pct"] == pytest.approx(5.0)
    assert cc.loc["520403", "d_coverage_pct"] == pytest.approx(-20.0)
    tc = comp.township_changes.set_index("demand_id")["change_zh"].to_dict()
    assert tc == {"t1": "新覆盖", "t2": "失去覆盖", "t3": "仍覆盖"}

    s = comp.summary.set_index("item")
    # cost: public 5 × 0.6M + 2 × 0.7M = 4.4M → 6 × 0.6M + 0.8M = 4.4M, swap 5M both, hydrogen 0 → 15M
    assert s.loc["total (CNY)", "a"] == pytest.approx(4.4e6 + 5e6)
    assert s.loc["total (CNY)", "b"] == pytest.approx(4.4e6 + 5e6 + 1.5e7)
    assert s.loc["hydrogen (CNY)", "delta"] == pytest.approx(1.5e7)
    assert s.loc["townships newly covered", "delta"] == 1 and s.loc["townships lost coverage", "delta"] == 1
    assert s.loc["coverage up", "delta"] == 1 and s.loc["coverage down", "delta"] == 1

    out = write_comparison(comp, tmp_path / "d.gpkg")
    back = pyogrio.read_dataframe(out, layer="site_changes")
    assert len(back) == len(sc)
    assert sorted(back["change_zh"].unique()) == sorted(["新增", "移除", "扩容", "缩减", "不变"])


def test_bad_inputs(tmp_path, tiny_pair):
    a, _ = tiny_pair
    with pytest.raises(DataError, match="does not exist"):
        compare_plans(tmp_path / "nope.gpkg", a)
    text = tmp_path / "notes.gpkg"
    text.write_text("hello")
    with pytest.raises(DataError, match="is not a GeoPackage"):
        compare_plans(a, text)
    region_only = tmp_path / "region.gpkg"
    write_geopackage(region_only, {"boundary": gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)], crs="EPSG:4326")})
    with pytest.raises(DataError, match=r"not a gzcharge plan: it lacks layer\(s\) run_metadata, counties"):
        compare_plans(region_only, a)
    diff = write_comparison(compare_plans(a, a), tmp_path / "diff.gpkg")
    with pytest.raises(DataError, match="is a comparison"):
        compare_plans(diff, a)
    dup = tmp_path / "dup.gpkg"
    st = _stations([("s1", "city", 2, 120.0, 6e5, X0, Y0), ("s1", "city", 2, 120.0, 6e5, X0 + 0.1, Y0)])
    _tiny_plan(dup, st, _counties((90.0, 100.0)), _townships([True, True, True]))
    with pytest.raises(DataError, match="repeats site ids"):
        compare_plans(a, dup)


def test_same_plan_is_all_unchanged(tiny_pair):
    a, _ = tiny_pair
    comp = compare_plans(a, a)
    assert (comp.site_changes["change"] == "unchanged").all()
    s = comp.summary
    assert (s.loc[s["a"].notna(), "delta"] == 0).all()
    moved = s["item"].str.contains("added|removed|resized|newly|lost")
    assert (s.loc[moved, "delta"] == 0).all()


@pytest.mark.qgis
def test_comparison_opens_styled_in_qgis(tiny_pair, tmp_path):
    from tests.test_qgis import _has_qgis, run_qgis_check

    if not _has_qgis():
        pytest.skip("Debian's QGIS (python3-qgis) is not installed")
    out = write_comparison(compare_plans(*tiny_pair), tmp_path / "diff.gpkg")
    expect = {"layers": {
        "site_changes": {"count": 12, "geometry": "point", "renderer": "categorizedSymbol"},
        "county_changes": {"count": 2, "geometry": "polygon", "renderer": "graduatedSymbol", "labels": True},
        "township_changes": {"count": 3, "geometry": "point", "renderer": "categorizedSymbol"},
    }}
    rc, result = run_qgis_check(out, expect, tmp_path / "map.png")
    assert rc == 0, result.get("errors")
    legend = result["layers"]["site_changes"]["legend_counts"]
    # public 2 added, 2 removed, 2 enlarged, 1 reduced, 2 unchanged; swap 1 unchanged, 1 enlarged; hydrogen 1 added
    assert legend == {"新增": 3, "移除": 2, "扩容": 3, "缩减": 1, "不变": 3}
    assert result["layers"]["county_changes"]["legend_counts"] == {"上升 0–5 个百分点": 1, "下降 > 5 个百分点": 1}
    assert result["layers"]["township_changes"]["legend_counts"] == {"新覆盖": 1, "失去覆盖": 1, "仍覆盖": 1}
