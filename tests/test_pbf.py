"""The array reader for big OSM files (gzcharge.sources.pbf, RoadNetwork.from_osm_file).

Expected values: (1) a hand-made PBF on the equator, where a 0.001° step along a meridian or
the equator is R·0.001·π/180 = 111.19508 m with osmnx's radius R = 6 371 009 m, and the merged
chains are worked out by hand below; (2) the osmnx route (``graph_from_file`` →
``RoadNetwork.from_graph``) on the real extracts, an independent implementation of the same
reading, clipping and simplification.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from pyproj import Geod
from scipy.sparse.csgraph import dijkstra

from gzcharge.errors import DataError
from gzcharge.network import RoadNetwork
from gzcharge.sources import osm, pbf
from tests.conftest import shared_path

R = 6_371_009.0
STEP_M = R * math.radians(0.001)  # 111.19508 m
SPHERE = Geod(a=R, b=R)

NODES = {
    1: (0.0, 0.0), 2: (0.001, 0.0), 3: (0.002, 0.0), 4: (0.003, 0.0), 5: (0.0, 0.001), 6: (0.003, 0.001),
    7: (0.004, 0.0), 8: (0.005, 0.0), 9: (0.003, -0.002), 10: (0.005, -0.003), 11: (0.005, 0.001),
    12: (0.006, 0.001), 13: (0.006, 0.0), 14: (0.006, -0.001), 20: (0.01, 0.01),
}
WAYS = [
    (100, [1, 2, 3, 4], {"highway": "residential"}),
    (101, [5, 1], {"highway": "residential"}),
    (102, [4, 6], {"highway": "motorway", "oneway": "-1", "ref": "G60"}),  # travel 6 → 4 only
    (103, [4, 7], {"highway": "primary", "maxspeed": "60"}),
    (104, [7, 8], {"highway": "secondary"}),
    (105, [4, 9], {"highway": "footway"}),
    (106, [8, 10], {"highway": "service", "service": "parking_aisle"}),
    (107, [11, 12, 99], {"highway": "residential"}),  # node 99 is not in the file
    (108, [8, 13, 14, 8], {"highway": "tertiary", "junction": "roundabout"}),
    (109, [13, 20], {"waterway": "stream"}),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import osmium

    path = tmp_path_factory.mktemp("pbf") / "tiny.osm.pbf"
    with osmium.SimpleWriter(str(path), overwrite=True) as w:
        for nid, xy in NODES.items():
            w.add_node(osmium.osm.mutable.Node(id=nid, location=xy))
        for wid, refs, tags in WAYS:
            w.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags))
    return path


def _edges(g):
    return sorted(zip(g.node_id[g.u].tolist(), g.node_id[g.v].tolist(), np.round(g.length_m, 3).tolist(),
                      strict=True))


def test_tiny_file_by_hand(tiny):
    ways = pbf.scan_drivable_ways(tiny)
    assert ways.way_id.tolist() == [100, 101, 102, 103, 104, 107, 108]  # footway, parking aisle, stream out
    assert ways.oneway.tolist() == [0, 0, -1, 0, 0, 0, 1]
    assert np.isnan(ways.lon[ways.refs == 99]).all()
    g = pbf.build_road_graph(ways)
    # node 1 (neighbours 5 and 2, degree 4) and 2, 3 are interstitial: 5 … 4 is one road of 4 steps;
    # 7 joins 4 → 8; 13, 14 are inside the roundabout loop 8 → 13 → 14 → 8; 11–12 is the piece of 107
    loop = STEP_M + STEP_M + SPHERE.inv(0.006, -0.001, 0.005, 0.0)[2]
    want = sorted([
        (5, 4, 4 * STEP_M), (4, 5, 4 * STEP_M), (6, 4, STEP_M), (4, 8, 2 * STEP_M), (8, 4, 2 * STEP_M),
        (8, 8, loop), (11, 12, STEP_M), (12, 11, STEP_M),
    ])
    got = _edges(g)
    assert [(u, v) for u, v, _ in got] == [(u, v) for u, v, _ in want]
    assert [x for *_, x in got] == pytest.approx([x for *_, x in want], abs=2e-3)
    assert sorted(g.node_id.tolist()) == [4, 5, 6, 8, 11, 12]
    # geometry of 5 → 4 runs through 1, 2, 3
    e = int(np.flatnonzero((g.node_id[g.u] == 5) & (g.node_id[g.v] == 4))[0])
    a, b = g.geom_offsets[e], g.geom_offsets[e + 1]
    assert list(zip(g.geom_lon[a:b], g.geom_lat[a:b], strict=True)) == [NODES[n] for n in (5, 1, 2, 3, 4)]


def test_tiny_network_speeds_classes_and_oneway(tiny, tmp_path):
    net = RoadNetwork.from_osm_file(tiny, crs="EPSG:32631", cache_dir=tmp_path)
    et = net.edge_table().set_index(["u", "v"])
    # 4 → 8: primary at 0.9 × 60 = 54 km/h, then secondary at its class default 40 km/h
    t = STEP_M / (54 / 3.6) + STEP_M / (40 / 3.6)
    assert et.loc[(4, 8), "travel_time_s"] == pytest.approx(t, rel=1e-9)
    assert et.loc[(4, 8), "highway"] == "primary"  # the more important class of the merged pieces
    assert et.loc[(6, 4), "is_expressway"] and (4, 6) not in et.index
    assert et.loc[(6, 4), "travel_time_s"] == pytest.approx(STEP_M / (90 / 3.6))
    G = net.graph  # osmnx-compatible networkx view
    d = G.edges[5, 4, 0]
    assert d["length"] == pytest.approx(4 * STEP_M, abs=2e-3) and d["geometry"].geom_type == "LineString"
    assert G.edges[6, 4, 0]["ref"] == "G60" and G.edges[6, 4, 0]["oneway"] is True
    ex = net.expressway_graph()
    assert list(ex.edges()) == [(6, 4)] and ex.graph["crs"] == "EPSG:32631"
    lay = net.layers()
    assert len(lay["edges"]) == 8 and len(lay["expressway_edges"]) == 1 and len(lay["nodes"]) == 6
    row = lay["edges"].set_index(["u", "v"]).loc[(5, 4)]
    assert row.geometry.coords[1] == pytest.approx(NODES[1])


def test_cache_is_reused_written_atomically_and_survives_corruption(tiny, tmp_path, monkeypatch):
    first = pbf.cached_drivable_ways(tiny, cache_dir=tmp_path)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"  # no temporary file left behind

    def boom(path):
        raise AssertionError("the file was read again")

    monkeypatch.setattr(pbf, "scan_drivable_ways", boom)
    again = pbf.cached_drivable_ways(tiny, cache_dir=tmp_path)
    for name in ("way_id", "offsets", "refs", "highway", "oneway", "name", "ref", "maxspeed"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
    assert np.array_equal(first.lon, again.lon, equal_nan=True)
    files[0].write_bytes(b"not a zip")
    monkeypatch.undo()
    fixed = pbf.cached_drivable_ways(tiny, cache_dir=tmp_path)
    assert np.array_equal(fixed.refs, first.refs)
    assert pbf.load_ways(files[0]).n_highway == first.n_highway  # rewritten


def test_region_outside_the_file_is_a_data_error(tiny, tmp_path):
    with pytest.raises(DataError, match="no drivable roads inside the region"):
        RoadNetwork.from_osm_file(tiny, polygon=shapely.box(10, 10, 10.1, 10.1), cache_dir=tmp_path)


@pytest.mark.parametrize(("name", "region"), [
    ("kouvola_fi.osm.pbf", None),
    ("kouvola_fi.osm.pbf", (26.94, 60.525, 26.96, 60.535)),
    ("West-Oakland.osm.bz2", None),
])
def test_same_graph_as_osmnx_on_real_extracts(name, region, tmp_path):
    path = shared_path("osm", name)
    poly = shapely.box(*region) if region else None
    ref = RoadNetwork.from_graph(osm.graph_from_file(path, polygon=poly, buffer_m=100))
    arr = RoadNetwork.from_osm_file(path, polygon=poly, buffer_m=100, crs=ref.crs, cache_dir=tmp_path)
    e_ref, e_arr = ref.edge_table(), arr.edge_table()
    # same nodes, except that osmnx keeps nodes whose every edge was clipped away (no edges left)
    assert set(arr.node_ids) == set(e_ref["u"]) | set(e_ref["v"])
    assert len(e_arr) == len(e_ref)
    assert e_arr["length_m"].sum() == pytest.approx(e_ref["length_m"].sum(), rel=1e-9)
    key = ["u", "v", "length_m"]
    assert sorted(map(tuple, e_arr[key].round(3).to_numpy())) == sorted(map(tuple, e_ref[key].round(3).to_numpy()))
    # same strongly connected components: the largest one holds the same nodes
    comp_ref, comp_arr = ref.component, arr.component
    assert set(comp_arr.index[comp_arr == 0]) == set(comp_ref.index[comp_ref == 0])
    # shortest paths between points snapped to both graphs agree
    rng = np.random.default_rng(1)
    lon, lat = ref.nodes()["lon"].to_numpy(), ref.nodes()["lat"].to_numpy()
    pts = np.column_stack([rng.uniform(lon.min(), lon.max(), 25), rng.uniform(lat.min(), lat.max(), 25)])
    dist = []
    for net in (ref, arr):
        s = net.snap(pts)
        A, ids = net.csgraph("length_m")
        idx = ids.get_indexer(s["node_id"])
        dist.append(dijkstra(A, indices=idx)[:, idx])
    finite = np.isfinite(dist[0])
    assert np.array_equal(finite, np.isfinite(dist[1]))
    assert dist[1][finite] == pytest.approx(dist[0][finite], rel=1e-6)
    # node positions: same projection
    xy_ref = ref.node_xy()[ref.node_ids.get_indexer(arr.node_ids)]
    assert np.abs(arr.node_xy() - xy_ref).max() < 1e-6
