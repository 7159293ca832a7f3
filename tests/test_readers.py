"""The one input reader: encodings, formats, header aliases, BD-09, gridded counts, site rules on 安顺市."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gzcharge import crs
from gzcharge.candidates import read_existing_stations
from gzcharge.sources import builtin
from gzcharge.sources.files import mapping_note, read_table, read_township_seats
from tests.conftest import shared_path


def _seats(n: int = 20):
    s = builtin.load_seats()
    return s[s["kind"] == "county_seat"].iloc[:n]


# ------------------------------------------------------------------ crs: BD-09
def test_bd09_forward_matches_prcoords_and_round_trips():
    prcoords = pytest.importorskip("prcoords")
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(103.6, 109.6, 500), rng.uniform(24.6, 29.2, 500)
    b_lon, b_lat = crs.wgs84_to_bd09(lon, lat)
    ref = np.array([prcoords.wgs_bd((a, o)) for o, a in zip(lon, lat, strict=True)])  # (lat, lon)
    assert np.abs(b_lon - ref[:, 1]).max() < 1e-9 and np.abs(b_lat - ref[:, 0]).max() < 1e-9
    w_lon, w_lat = crs.bd09_to_wgs84(b_lon, b_lat)
    # < 1e-8 degrees is < 1.1 mm: far inside the 1 m the readers need
    assert np.abs(w_lon - lon).max() < 1e-8 and np.abs(w_lat - lat).max() < 1e-8
    # BD-09 − GCJ-02 is +0.0065°E/+0.006°N plus a radius change (<= 2e-5°) and a rotation of <= 3e-6 rad
    # of the ~113° radius (<= 3.4e-4°): by hand, every component within 3.6e-4° of the constant shift
    g_lon, g_lat = crs.wgs84_to_gcj02(lon, lat)
    assert np.abs((b_lon - g_lon) - 0.0065).max() < 3.6e-4 and np.abs((b_lat - g_lat) - 0.006).max() < 3.6e-4


def test_bd09_baidu_geoconv_documented_example():
    """Baidu's geoconv API documentation converts WGS-84 (114.21892734521, 29.575429778924) (from=1,
    to=5) to BD-09 (114.23074871777, 29.579084517927). The public formula is an approximation of
    Baidu's server: agreement to ~0.5 m is expected, 2 m allowed."""
    import pyproj

    b_lon, b_lat = crs.wgs84_to_bd09(114.21892734521, 29.575429778924)
    _, _, d = pyproj.Geod(ellps="WGS84").inv(b_lon, b_lat, 114.23074871777, 29.579084517927)
    assert d < 2.0


# ------------------------------------------------------------------ formats and encodings
def test_gb18030_csv_with_chinese_headers(tmp_path):
    p = tmp_path / "stations.csv"
    text = "名称,经度,纬度,桩数,功率\n西秀充电站,105.95,26.25,8,120\n平坝充电站,106.26,26.41,,60\n"
    p.write_bytes(text.encode("gb18030"))
    with pytest.raises(UnicodeDecodeError):
        p.read_bytes().decode("utf-8")  # the planner's file really is not UTF-8
    gdf = read_existing_stations(p)
    mapping = gdf.attrs["column_mapping"]
    assert mapping == {"名称": "name", "经度": "lon", "纬度": "lat", "桩数": "plugs", "功率": "kw"}
    assert mapping_note(p, mapping) == "stations.csv: 名称→name, 经度→lon, 纬度→lat, 桩数→plugs, 功率→kw"
    assert gdf["name"].tolist() == ["西秀充电站", "平坝充电站"]
    assert gdf["plugs"].iloc[0] == 8 and np.isnan(gdf["plugs"].iloc[1])
    assert gdf.geometry.x.tolist() == [105.95, 106.26]


def test_xlsx_townships_with_chinese_headers(tmp_path):
    pytest.importorskip("openpyxl")
    p = tmp_path / "乡镇.xlsx"
    pd.DataFrame({"代码": ["520402100000", "520402101000"], "名称": ["宁谷镇", "鸡场乡"],
                  "区县": ["520402", "520402"], "经度": [105.93, 105.88], "纬度": [26.18, 26.12],
                  "人口": [30000, 12000]}).to_excel(p, index=False)
    t = read_township_seats(p)
    assert t.attrs["column_mapping"] == {"代码": "code", "名称": "name", "区县": "county_adcode", "经度": "lon",
                                         "纬度": "lat", "人口": "population"}
    assert t["settlement_id"].tolist() == ["520402100000", "520402101000"]
    assert t["population"].tolist() == [30000.0, 12000.0]
    assert t.geometry.y.round(6).tolist() == [26.18, 26.12]


def test_bd09_file_loads_back_onto_wgs84_seats(tmp_path):
    seats = _seats()
    prcoords = pytest.importorskip("prcoords")
    # BD-09 positions made by an independent implementation (prcoords), as Baidu would show them
    bd = np.array([prcoords.wgs_bd((y, x)) for x, y in zip(seats.geometry.x, seats.geometry.y, strict=True)])
    p = tmp_path / "baidu.tsv"
    pd.DataFrame({"代码": [f"{a}100000" for a in seats["county_adcode"]], "站名": seats["name"],
                  "县区": seats["county_adcode"], "lng": bd[:, 1], "lat": bd[:, 0]}).to_csv(
        p, sep="\t", index=False, float_format="%.10f")
    t = read_township_seats(p, crs="bd09")
    assert t.attrs["column_mapping"] == {"代码": "code", "站名": "name", "县区": "county_adcode", "lng": "lon"}
    err_m = np.hypot((t.geometry.x.to_numpy() - seats.geometry.x.to_numpy()) * 99_800,
                     (t.geometry.y.to_numpy() - seats.geometry.y.to_numpy()) * 110_700)
    assert err_m.max() < 1.0


def test_utf8_bom_semicolon_and_exact_name_wins(tmp_path):
    p = tmp_path / "s.csv"
    p.write_bytes("\ufeffname;lon;lat;x\nA;105.9;26.2;999\n".encode())
    df = read_table(p, "test file", ("name", "lon", "lat"), required=("name", "lon", "lat"))
    assert df.attrs["encoding"] == "utf-8-sig"
    assert df.loc[0, "lon"] == "105.9" and df.loc[0, "x"] == "999"  # 'lon' itself wins over the alias 'x'


def test_datum_hint_when_wgs84_data_is_declared_gcj02(tmp_path):
    seats = _seats(10)
    p = tmp_path / "seats.csv"
    pd.DataFrame({"code": [f"{a}100000" for a in seats["county_adcode"]], "name": seats["name"],
                  "county_adcode": seats["county_adcode"], "lon": seats.geometry.x,
                  "lat": seats.geometry.y}).to_csv(p, index=False, float_format="%.8f")
    assert read_township_seats(p).attrs["datum_warning"] is None
    warn = read_township_seats(p, crs="gcj02").attrs["datum_warning"]
    assert warn and "looks like WGS-84 already" in warn
    g_lon, g_lat = crs.wgs84_to_gcj02(seats.geometry.x.to_numpy(), seats.geometry.y.to_numpy())
    pd.DataFrame({"code": [f"{a}100000" for a in seats["county_adcode"]], "name": seats["name"],
                  "county_adcode": seats["county_adcode"], "lon": g_lon, "lat": g_lat}).to_csv(p, index=False)
    warn = read_township_seats(p).attrs["datum_warning"]
    assert warn and "pass --crs gcj02" in warn
    assert read_township_seats(p, crs="gcj02").attrs["datum_warning"] is None


# ------------------------------------------------------------------ gridded existing stock
def test_gridded_count_becomes_stations():
    path = shared_path("guizhou", "charging_stations_grid_2024.csv")
    ex = read_existing_stations(path, crs="gcj02")
    # the shared data README: 2,231 cells, 3,347 stations in 2024
    assert ex.attrs["grid_cells"] == 2231 and len(ex) == 3347
    assert ex.attrs["column_mapping"] == {"cell_center_lat": "lat", "cell_center_lon": "lon"}
    assert ex["plugs"].isna().all()


def test_gridded_stations_are_existing_candidates_of_anshun():
    import geopandas as gpd
    import shapely

    from gzcharge.candidates import public_candidates
    from gzcharge.region import get_region
    from gzcharge.scenario import default_scenario_path, load_scenario

    path = shared_path("guizhou", "charging_stations_grid_2024.csv")
    reg = get_region("安顺市")
    scen = load_scenario(default_scenario_path(str(reg.code)))
    ex = read_existing_stations(path, crs="gcj02")
    cands = public_candidates(reg, scen, existing_stations=ex)
    # independent count: cells (converted to WGS-84) within 1 km of the boundary, times their count
    raw = pd.read_csv(path)
    lon, lat = crs.gcj02_to_wgs84(raw["cell_center_lon"].to_numpy(), raw["cell_center_lat"].to_numpy())
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326).to_crs(reg.metric_crs)
    area = gpd.GeoSeries([reg.boundary], crs=4326).to_crs(reg.metric_crs).buffer(1000.0).iloc[0]
    inside = shapely.contains_xy(area, pts.x.to_numpy(), pts.y.to_numpy())
    expected = int(raw["count"].to_numpy()[inside].sum())
    assert expected > 50
    assert int((cands["ctype"] == "existing").sum()) == expected
    assert (cands.loc[cands["ctype"] == "existing", "cost_cny"] == 0).all()


# ------------------------------------------------------------------ site rules on 安顺市
@pytest.fixture(scope="module")
def anshun_plans(tmp_path_factory):
    import geopandas as gpd
    import shapely

    from gzcharge.plan import PlanInputs, run_plan
    from gzcharge.region import get_region
    from gzcharge.scenario import default_scenario_path, load_scenario

    reg = get_region("安顺市")
    scen = load_scenario(default_scenario_path(str(reg.code)),
                         overrides=["tiers.public=true", "tiers.highway=false", "tiers.swap=false",
                                    "tiers.hydrogen=false",
                                    # the rules are bounds: any incumbent obeys them, so a loose gap keeps this fast
                                    "solver.mip_rel_gap=0.05", "solver.time_limit_s=15"])
    import time

    t0 = time.perf_counter()
    base = run_plan(reg, scen, PlanInputs())
    print("base plan s", time.perf_counter() - t0)
    st = base.results["public"].layers["public_stations"]
    new = st[st["status"] == "new"]
    forbid, zone_site = new.iloc[0], new.iloc[1]
    # a required site of the planner's own: 3 km from the nearest opened station, inside the region
    m = gpd.GeoSeries([reg.boundary], crs=4326).to_crs(reg.metric_crs).iloc[0]
    opened = st.geometry.to_crs(reg.metric_crs)
    grid = shapely.points(np.column_stack(np.meshgrid(np.arange(m.bounds[0], m.bounds[2], 2000.0),
                                                      np.arange(m.bounds[1], m.bounds[3], 2000.0))).reshape(2, -1).T)
    grid = grid[shapely.contains(m, grid)]
    from scipy.spatial import cKDTree

    d, _ = cKDTree(np.column_stack([opened.x, opened.y])).query(shapely.get_coordinates(grid))
    req = gpd.GeoSeries([grid[np.argmin(np.abs(d - 3000.0))]], crs=reg.metric_crs).to_crs(4326).iloc[0]
    folder = tmp_path_factory.mktemp("rules")
    cpath = folder / "候选.csv"
    pd.DataFrame({"编号": ["R1", "F1"], "名称": ["自有停车场", "禁止点"], "角色": ["必选", "禁止"],
                  "层级": ["", "公共"], "经度": [req.x, forbid.geometry.x], "纬度": [req.y, forbid.geometry.y],
                  "费用": [300000, ""]}).to_csv(cpath, index=False, encoding="gb18030")
    zpath = folder / "红线.geojson"
    zone = gpd.GeoSeries([zone_site.geometry], crs=4326).to_crs(reg.metric_crs).buffer(500.0).to_crs(4326)
    gpd.GeoDataFrame({"name": ["生态保护红线"]}, geometry=zone.values, crs=4326).to_file(zpath, driver="GeoJSON")
    import time

    t0 = time.perf_counter()
    ruled = run_plan(reg, scen, PlanInputs(candidates=str(cpath), exclude=str(zpath)))
    print("ruled plan s", time.perf_counter() - t0)
    return base, ruled, forbid, zone_site, zone.iloc[0]


def test_required_site_is_in_the_plan(anshun_plans):
    base, ruled, *_ = anshun_plans
    st = ruled.results["public"].layers["public_stations"]
    assert "user-R1" in set(st["site_id"])
    assert "user-R1" not in set(base.results["public"].layers["public_stations"]["site_id"])
    row = st[st["site_id"] == "user-R1"].iloc[0]
    assert row["cost_cny"] >= 300000  # the file's own site cost (plus any plugs beyond the first)
    assert any("required site(s) forced open: user-R1" in n for n in ruled.notices)


def test_forbidden_and_excluded_sites_never_open(anshun_plans):
    _, ruled, forbid, zone_site, zone = anshun_plans
    st = ruled.results["public"].layers["public_stations"]
    assert forbid["site_id"] not in set(st["site_id"])
    assert zone_site["site_id"] not in set(st["site_id"])
    new = st[st["status"] == "new"]
    assert not new.geometry.within(zone).any()
    assert any("inside exclusion zones" in n for n in ruled.notices)
