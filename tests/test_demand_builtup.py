"""Built-up areas of city core / county seats from OSM landuse (demand.public_demand(builtup=...)).

A synthetic OSM file around real 安顺 county seats: rectangles laid out in the metric CRS
(EPSG:4544), so their areas are known by construction (w × h, minus a hole), plus the real
Kouvola extract checked against an independent pyosmium count.
"""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from .conftest import ROOT, shared_path

CRS_M = "EPSG:4544"  # CGCS2000 / 3-degree GK CM 105E, the metric CRS of 安顺市
PUDING, ZHENNING, ZIYUN = "520422", "520423", "520425"


def _seats() -> pd.DataFrame:
    s = pd.read_csv(shared_path("guizhou", "county_seats_2016.csv"), dtype={"adcode": str}).set_index("adcode")
    tr = Transformer.from_crs("EPSG:4326", CRS_M, always_xy=True)
    s["x"], s["y"] = tr.transform(s["lon"].to_numpy(), s["lat"].to_numpy())
    return s


def _rect(cx: float, cy: float, x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    """Closed ring of a rectangle given by offsets (m) from (cx, cy), counter-clockwise."""
    return [(cx + x0, cy + y0), (cx + x1, cy + y0), (cx + x1, cy + y1), (cx + x0, cy + y1), (cx + x0, cy + y0)]


# layout (offsets in metres from the seat) and the areas they must read back as
# (edges off the seat-anchored lattice, so no demand point sits on a polygon edge)
PUDING_RES = (-1530, -1010, 1470, 990)         # residential, 3,000 × 2,000 = 6.0 km², holds the seat
PUDING_COM = (1570, -510, 2570, 490)           # commercial, 100 m east of it: same cluster, 1.0 km²
PUDING_MP_OUTER = (-1000, -2610, 1000, -1110)  # multipolygon 2,000 × 1,500 = 3.0 km² (100 m south: same cluster)
PUDING_MP_INNER = (-300, -2100, 300, -1600)    # hole 600 × 500 = 0.3 km² -> 2.7 km²
PUDING_FAR = (9000, 9000, 9400, 9400)          # 0.16 km², 12.7 km from the seat: beyond the search radius
ZHENNING_SMALL = (-150, -150, 150, 150)        # 0.09 km² around the seat: under 20 % of its disc -> fallback


@pytest.fixture(scope="module")
def synthetic_osm(tmp_path_factory) -> Path:
    import osmium

    s = _seats()
    back = Transformer.from_crs(CRS_M, "EPSG:4326", always_xy=True)
    path = tmp_path_factory.mktemp("osm") / "anshun_landuse.osm.pbf"
    nid, wid = [1], [1]

    def ring(w, code, box) -> list[int]:
        pts = _rect(s.at[code, "x"], s.at[code, "y"], *box)[:-1]
        ids = []
        for x, y in pts:
            lon, lat = back.transform(x, y)
            w.add_node(osmium.osm.mutable.Node(id=nid[0], location=(lon, lat)))
            ids.append(nid[0])
            nid[0] += 1
        return [*ids, ids[0]]

    def way(w, refs, tags) -> int:
        w.add_way(osmium.osm.mutable.Way(id=wid[0], nodes=refs, tags=tags))
        wid[0] += 1
        return wid[0] - 1

    with osmium.SimpleWriter(str(path), overwrite=True) as w:
        way(w, ring(w, PUDING, PUDING_RES), {"landuse": "residential", "name": "普定城区"})
        way(w, ring(w, PUDING, PUDING_COM), {"landuse": "commercial"})
        outer = way(w, ring(w, PUDING, PUDING_MP_OUTER), {})
        inner = way(w, ring(w, PUDING, PUDING_MP_INNER), {})
        w.add_relation(osmium.osm.mutable.Relation(
            id=1, members=[("w", outer, "outer"), ("w", inner, "inner")],
            tags={"type": "multipolygon", "landuse": "retail"}))
        way(w, ring(w, PUDING, PUDING_FAR), {"landuse": "industrial"})
        way(w, ring(w, ZHENNING, ZHENNING_SMALL), {"landuse": "residential"})
        # not built-up: farmland, a building, and an open (unclosed) residential way
        way(w, ring(w, PUDING, (3000, 3000, 4000, 4000)), {"landuse": "farmland"})
        way(w, ring(w, PUDING, (-100, 1200, -50, 1250)), {"building": "yes"})
        way(w, ring(w, PUDING, (-4000, -4000, -3000, -3000))[:-1], {"landuse": "residential"})
    return path


def _metric_area(g: gpd.GeoDataFrame) -> pd.Series:
    return g.to_crs(CRS_M).area


def _box_area(b) -> float:
    return (b[2] - b[0]) * (b[3] - b[1])


def test_builtup_from_file_reads_areas(synthetic_osm):
    from gzcharge.sources.osm import builtup_from_file

    b = builtup_from_file(synthetic_osm)
    assert b.crs.to_epsg() == 4326
    got = b.assign(area=_metric_area(b)).set_index(["osm_type", "kind"])["area"]
    expect = {
        ("way", "landuse=residential"): sorted([_box_area(PUDING_RES), _box_area(ZHENNING_SMALL)]),
        ("way", "landuse=commercial"): [_box_area(PUDING_COM)],
        ("relation", "landuse=retail"): [_box_area(PUDING_MP_OUTER) - _box_area(PUDING_MP_INNER)],
        ("way", "landuse=industrial"): [_box_area(PUDING_FAR)],
    }
    assert sorted(got.index.unique()) == sorted(expect)  # no farmland, building or open way
    for key, areas in expect.items():
        assert sorted(np.atleast_1d(got.loc[key])) == pytest.approx(areas, rel=1e-4)
    assert b.loc[b["kind"] == "landuse=retail"].geometry.iloc[0].geoms[0].interiors  # the hole is kept
    assert set(b["name"].dropna()) == {"普定城区"}

    # clip: a polygon holding the west half of the residential block only
    s = _seats()
    fwd_back = Transformer.from_crs(CRS_M, "EPSG:4326", always_xy=True)
    cx, cy = s.at[PUDING, "x"], s.at[PUDING, "y"]
    clip = shapely.Polygon([fwd_back.transform(x, y) for x, y in _rect(cx, cy, -2000, -900, 0, 900)])
    c = builtup_from_file(synthetic_osm, clip)
    assert list(c["kind"]) == ["landuse=residential"]
    assert _metric_area(c).iloc[0] == pytest.approx((0 - PUDING_RES[0]) * 1800, rel=1e-3)


def _independent_seat_evs(code: str, scenario) -> float:
    """Seat EVs from the census table and the scenario's EV parameters (county seat, no city core)."""
    c = pd.read_csv(ROOT / "gzcharge" / "data" / "guizhou_counties_2020.csv", dtype={"adcode": str}).set_index("adcode")
    r = c.loc[code]
    assert pd.isna(r["pop_city_core"])  # a county (县): seat = share × urban
    ev = scenario.ev
    # EVs = stock(year) × w / Σw over the 88 counties, w = households × car share × prefecture adoption;
    # the stock is log-linear from 700,000 (2026) at stock_growth_after a year
    k = c[c["level"] == "county"]
    adopt = k.index.str[:4].map(lambda p: ev.adoption_by_prefecture.get(p + "00", 1.0)).to_numpy(float)
    w_all = (k["households"] * k["longform_households_with_car"] / k["households_longform"] * adopt).sum()
    w = r["households"] * r["longform_households_with_car"] / r["households_longform"] \
        * ev.adoption_by_prefecture.get(code[:4] + "00", 1.0)
    stock = 700_000.0 * (1.0 + ev.stock_growth_after) ** (ev.year - 2026)
    evs = stock * w / w_all
    return scenario.public.county_seat_share_of_urban * r["pop_urban"] * evs / r["pop_total"]


@pytest.fixture(scope="module")
def anshun_demand(synthetic_osm):
    from gzcharge.demand import public_demand
    from gzcharge.region import get_region
    from gzcharge.scenario import load_scenario
    from gzcharge.sources.osm import builtup_from_file

    region = get_region("安顺市").with_townships(shared_path("guizhou", "township_seats_2016.csv"))
    scenario = load_scenario(ROOT / "models" / "anshun.toml")
    b = builtup_from_file(synthetic_osm, region.boundary)
    return region, scenario, b, public_demand(region, scenario, builtup=b), public_demand(region, scenario)


def test_osm_seat_points_inside_builtup_and_weights_match(anshun_demand):
    region, scenario, b, d, est = anshun_demand
    s = _seats()
    pts = d[d["demand_id"].str.startswith(f"county-{PUDING}-")]
    assert len(pts) >= 3 and (pts["source"] == "osm_landuse").all()
    # inside the built-up polygons (the far industrial block excluded: beyond the search radius)
    near = b[b["kind"] != "landuse=industrial"].to_crs(CRS_M).union_all()
    p_m = pts.to_crs(CRS_M)
    assert shapely.contains_xy(near, p_m.geometry.x.to_numpy(), p_m.geometry.y.to_numpy()).all()
    far = shapely.box(*[v + o for v, o in zip(PUDING_FAR, [s.at[PUDING, "x"], s.at[PUDING, "y"]] * 2, strict=True)])
    assert not shapely.intersects(far.buffer(3000), shapely.points(p_m.geometry.x, p_m.geometry.y)).any()
    # the seat's weights sum to the census estimate, as on the estimate path
    want = _independent_seat_evs(PUDING, scenario)
    assert pts["weight_evs"].sum() == pytest.approx(want, rel=1e-9)
    assert est.loc[est["demand_id"].str.startswith(f"county-{PUDING}-"), "weight_evs"].sum() == pytest.approx(want)
    # zone table: area = 6.0 + 1.0 + 2.7 km² (all within 200 m of each other, the far block out)
    z = d.attrs["zones"].set_index("county_adcode")
    assert z.at[PUDING, "source"] == "osm_landuse"
    assert z.at[PUDING, "area_km2"] == pytest.approx(9.7, rel=1e-3)
    assert d.attrs["areas"][f"county-{PUDING}"].area == pytest.approx(9.7e6, rel=1e-3)
    # its disc radius holds the whole area: the farthest block corner from the seat
    corners = [(x, y) for b_ in (PUDING_RES, PUDING_COM, PUDING_MP_OUTER) for x in b_[::2] for y in b_[1::2]]
    assert z.at[PUDING, "radius_m"] == pytest.approx(max(math.hypot(x, y) for x, y in corners), rel=1e-6)
    # weights = share of the built-up area nearest each point; second method: a 10 m raster of the
    # three blocks (built from the layout, not from the code's area), each cell to its nearest point
    from scipy.spatial import cKDTree

    cx, cy = s.at[PUDING, "x"], s.at[PUDING, "y"]
    cells = []
    for x0, y0, x1, y1 in (PUDING_RES, PUDING_COM, PUDING_MP_OUTER):
        gx, gy = np.meshgrid(np.arange(x0 + 5, x1, 10.0), np.arange(y0 + 5, y1, 10.0))
        cells.append(np.column_stack([gx.ravel(), gy.ravel()]))
    cells = np.vstack(cells)
    x0, y0, x1, y1 = PUDING_MP_INNER
    hole = (cells[:, 0] > x0) & (cells[:, 0] < x1) & (cells[:, 1] > y0) & (cells[:, 1] < y1)
    cells = cells[~hole] + [cx, cy]
    nearest = cKDTree(np.column_stack([p_m.geometry.x, p_m.geometry.y])).query(cells)[1]
    share = np.bincount(nearest, minlength=len(pts)) / len(cells)
    assert pts["weight_evs"].to_numpy() / want == pytest.approx(share, abs=5e-4)


def test_seats_without_enough_builtup_fall_back(anshun_demand):
    region, scenario, b, d, est = anshun_demand
    z = d.attrs["zones"].set_index("county_adcode")
    for code in (ZHENNING, ZIYUN):  # 0.09 km² (< 20 % of its disc) and nothing mapped
        assert z.at[code, "source"] == "estimate"
        pts = d[d["demand_id"].str.startswith(f"county-{code}-")]
        ref = est[est["demand_id"].str.startswith(f"county-{code}-")]
        assert (pts["source"] == "estimate").all()
        assert list(pts["demand_id"]) == list(ref["demand_id"])
        assert np.allclose(pts["weight_evs"], ref["weight_evs"])
        assert pts["weight_evs"].sum() == pytest.approx(_independent_seat_evs(code, scenario))
        assert z.at[code, "area_km2"] == pytest.approx(math.pi * z.at[code, "estimate_radius_m"] ** 2 / 1e6)
    # nothing lost or gained overall; every city/county point labelled
    assert d["weight_evs"].sum() == pytest.approx(est["weight_evs"].sum(), rel=1e-9)
    urban = d[d["tier"] != "township"]
    assert set(urban["source"]) == {"osm_landuse", "estimate"}
    assert set(est.loc[est["tier"] != "township", "source"]) == {"estimate"}
    assert "1 of 6" in d.attrs["urban_note"]


def test_townships_inside_osm_area_carry_no_weight(anshun_demand):
    region, scenario, b, d, est = anshun_demand
    area = d.attrs["areas"][f"county-{PUDING}"]
    t = d[(d["tier"] == "township") & (d["county_adcode"] == PUDING)].to_crs(CRS_M)
    inside = shapely.contains_xy(area, t.geometry.x.to_numpy(), t.geometry.y.to_numpy())
    assert (t.loc[inside, "weight_evs"] == 0).all()
    # the county's township weight is kept whole, spread over the seats outside the area
    assert t["weight_evs"].sum() == pytest.approx(
        est.loc[(est["tier"] == "township") & (est["county_adcode"] == PUDING), "weight_evs"].sum())


def test_builtup_without_crs_is_rejected(anshun_demand):
    from gzcharge.demand import public_demand
    from gzcharge.errors import DataError

    region, scenario, b, _, _ = anshun_demand
    with pytest.raises(DataError, match="no CRS"):
        public_demand(region, scenario, builtup=gpd.GeoDataFrame(geometry=list(b.geometry)))


# ---------------------------------------------------------------------------- real file: Kouvola
def _independent_kouvola_landuse() -> dict[int, shapely.Polygon]:
    """Closed ways tagged landuse=residential|commercial|retail|industrial with every node present."""
    import osmium

    pbf = shared_path("osm", "kouvola_fi.osm.pbf")
    out = {}
    for w in osmium.FileProcessor(str(pbf)).with_locations():
        if not w.is_way() or w.tags.get("landuse") not in ("residential", "commercial", "retail", "industrial"):
            continue
        refs = [n.ref for n in w.nodes]
        if len(refs) < 4 or refs[0] != refs[-1] or not all(n.location.valid() for n in w.nodes):
            continue
        out[w.id] = shapely.Polygon([(n.location.lon, n.location.lat) for n in w.nodes])
    rels = [r for r in osmium.FileProcessor(str(pbf)) if r.is_relation() and "landuse" in r.tags]
    assert not rels  # the extract has no landuse multipolygons; ways are the whole story
    return out


def test_kouvola_landuse_polygons():
    from gzcharge.sources.osm import builtup_from_file

    want = _independent_kouvola_landuse()
    assert len(want) > 0
    b = builtup_from_file(shared_path("osm", "kouvola_fi.osm.pbf"))
    assert (b["osm_type"] == "way").all()
    assert sorted(b["osm_id"]) == sorted(want)
    ind = gpd.GeoSeries([want[i] for i in b["osm_id"]], crs=4326).to_crs("EPSG:3067").area.to_numpy()
    got = b.to_crs("EPSG:3067").area.to_numpy()
    assert got == pytest.approx(ind, rel=1e-9)


@pytest.fixture
def fake_overpass_landuse():
    """An Overpass stand-in answering with Kouvola's landuse ways (complete) as JSON."""
    import osmium

    pbf = shared_path("osm", "kouvola_fi.osm.pbf")
    want = _independent_kouvola_landuse()
    nodes, elements = {}, []
    for w in osmium.FileProcessor(str(pbf)).with_locations():
        if w.is_way() and w.id in want:
            for n in w.nodes:
                nodes[n.ref] = {"type": "node", "id": n.ref, "lat": n.location.lat, "lon": n.location.lon}
            elements.append({"type": "way", "id": w.id, "nodes": [n.ref for n in w.nodes],
                             "tags": {t.k: t.v for t in w.tags}})
    payload = json.dumps({"version": 0.6, "elements": list(nodes.values()) + elements}).encode()
    queries: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):  # noqa: N802
            queries.append(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api", queries, want
    server.shutdown()
    server.server_close()


def test_builtup_from_overpass_matches_file(tmp_path, fake_overpass_landuse):
    from gzcharge.sources.osm import builtup_from_overpass

    url, queries, want = fake_overpass_landuse
    hull = shapely.MultiPolygon(list(want.values())).convex_hull.buffer(0.01)
    b = builtup_from_overpass(hull, endpoint=url, timeout_s=5, cache_dir=tmp_path, use_cache=False)
    assert queries and "landuse" in queries[0]
    assert sorted(b["osm_id"]) == sorted(want)
    ind = gpd.GeoSeries([want[i] for i in b["osm_id"]], crs=4326).to_crs("EPSG:3067").area.to_numpy()
    assert b.to_crs("EPSG:3067").area.to_numpy() == pytest.approx(ind, rel=1e-9)


def test_province_and_prefecture_agree_on_evs():
    """One EV definition: a county has the same EVs planned alone (its prefecture's file) and inside the
    province run; the province total is the stock path's 2030 value (700,000 × 1.15^4 = 1,224,304)."""
    from gzcharge.demand import county_evs
    from gzcharge.region import get_region
    from gzcharge.scenario import load_scenario

    prov = county_evs(get_region("贵州省").counties, load_scenario(ROOT / "models" / "province.toml").ev)
    assert prov.sum() == pytest.approx(700_000 * 1.15 ** 4, rel=1e-9)
    for name, file in (("贵阳市", "guiyang.toml"), ("毕节市", "bijie.toml"), ("安顺市", "anshun.toml")):
        alone = county_evs(get_region(name).counties, load_scenario(ROOT / "models" / file).ev)
        assert alone.to_dict() == pytest.approx(prov.reindex(alone.index).to_dict(), rel=1e-12)
