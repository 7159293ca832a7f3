"""RoadNetwork: projection, speeds, csgraph, components, snapping, layers, bad input."""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pyproj
import pytest
import shapely
from scipy.sparse.csgraph import dijkstra

from gzcharge.errors import ConfigError, DataError, NetworkError
from gzcharge.network import RoadNetwork, build_network, default_metric_crs, parse_maxspeed
from tests.conftest import shared_path

COORDS = {
    1: (105.90, 26.20),
    2: (105.91, 26.20),
    3: (105.92, 26.20),
    4: (105.91, 26.21),
    5: (105.99, 26.29),
    6: (106.00, 26.29),
}


def _toy_graph() -> nx.MultiDiGraph:
    """Hand-made osmnx-style WGS-84 graph near Anshun with chosen edge lengths (m)."""
    G = nx.MultiDiGraph(crs="epsg:4326")
    for n, (lon, lat) in COORDS.items():
        G.add_node(n, x=lon, y=lat, street_count=2)
    G.add_edge(1, 2, 0, osmid=10, highway="motorway", length=1000.0, oneway=True)
    G.add_edge(2, 1, 0, osmid=11, highway="motorway", length=1000.0, oneway=True)
    G.add_edge(1, 2, 1, osmid=12, highway="residential", length=800.0, name=["甲路", "乙路"])
    G.add_edge(2, 3, 0, osmid=13, highway="primary", length=600.0, maxspeed="60")
    G.add_edge(3, 2, 0, osmid=14, highway="primary", length=600.0, maxspeed="50 mph")
    G.add_edge(2, 4, 0, osmid=15, highway="service", length=0.0)
    G.add_edge(4, 2, 0, osmid=16, highway=["residential", "secondary"], length=300.0)
    G.add_edge(3, 3, 0, osmid=17, highway="residential", length=50.0)
    G.add_edge(5, 6, 0, osmid=18, highway="tertiary", length=700.0, oneway=True)
    return G


@pytest.fixture
def toy() -> RoadNetwork:
    return RoadNetwork.from_graph(_toy_graph())


def _edge(net, u, v, k=0):
    return net.graph.edges[u, v, k]


# ---------------------------------------------------------------------------- projection
def test_default_crs_is_gauss_kruger_in_guizhou_and_utm_elsewhere():
    assert default_metric_crs(105.9, 26.2) == "EPSG:4544"
    assert default_metric_crs(107.0, 26.5) == "EPSG:4545"
    assert default_metric_crs(26.95, 60.53) == "EPSG:32635"  # Kouvola: UTM 35N
    assert default_metric_crs(-122.3, 37.8) == "EPSG:32610"  # Oakland: UTM 10N


def test_projection_matches_pyproj(toy):
    assert toy.crs == "EPSG:4544"
    tr = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4544", always_xy=True)
    for n, (lon, lat) in COORDS.items():
        x, y = tr.transform(lon, lat)
        assert toy.graph.nodes[n]["x"] == pytest.approx(x, abs=1e-3)
        assert toy.graph.nodes[n]["y"] == pytest.approx(y, abs=1e-3)
        assert (toy.graph.nodes[n]["lon"], toy.graph.nodes[n]["lat"]) == (lon, lat)
    # Gauss-Krüger keeps distances: 0.01° of longitude at 26.2°N on the sphere is
    # 6,371,009 × cos 26.2° × 0.01 × π/180 = 997.7 m (GK scale error < 0.02% at 0.9° from CM)
    xy = toy.node_xy()
    pos = toy.node_ids.get_indexer([1, 2])
    d = float(np.hypot(*(xy[pos[0]] - xy[pos[1]])))
    assert d == pytest.approx(6_371_009 * math.cos(math.radians(26.2)) * math.radians(0.01), rel=3e-3)


def test_explicit_crs_and_already_projected_graph():
    net = RoadNetwork.from_graph(_toy_graph(), crs="EPSG:32648")
    assert net.crs == "EPSG:32648"
    again = RoadNetwork.from_graph(net.graph)
    assert again.crs == net.crs
    assert again.graph.nodes[1]["lon"] == pytest.approx(105.90)
    with pytest.raises(ConfigError, match="already projected"):
        RoadNetwork.from_graph(net.graph, crs="EPSG:4544")


# ---------------------------------------------------------------------------- speeds
@pytest.mark.parametrize(
    ("value", "kph"),
    [
        ("80", 80.0),
        ("80 km/h", 80.0),
        ("50 mph", 80.4672),
        ("60;80", 70.0),
        (["60", "80"], 70.0),
        ("CN:urban", math.nan),
        ("none", math.nan),
        ("999", math.nan),
        (None, math.nan),
    ],
)
def test_parse_maxspeed(value, kph):
    got = parse_maxspeed(value)
    if math.isnan(kph):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(kph)


def test_speeds_and_travel_times(toy):
    # motorway default 90 km/h: 1000 m / 25 m/s = 40 s
    e = _edge(toy, 1, 2, 0)
    assert (e["speed_kph"], e["travel_time_s"], e["is_expressway"]) == (90.0, pytest.approx(40.0), True)
    # residential 20 km/h: 800 m / (20/3.6) = 144 s
    assert _edge(toy, 1, 2, 1)["travel_time_s"] == pytest.approx(144.0)
    # maxspeed 60 × 0.9 = 54 km/h = 15 m/s: 600 m -> 40 s
    assert _edge(toy, 2, 3)["speed_kph"] == pytest.approx(54.0)
    assert _edge(toy, 2, 3)["travel_time_s"] == pytest.approx(40.0)
    # 50 mph = 80.4672 km/h × 0.9 = 72.42048 km/h: 600 m -> 29.8258 s
    assert _edge(toy, 3, 2)["travel_time_s"] == pytest.approx(600 / (72.42048 / 3.6))
    # mixed residential/secondary: main class secondary, speed mean(20, 40) = 30: 300 m -> 36 s
    e = _edge(toy, 4, 2)
    assert (e["highway"], e["speed_kph"], e["travel_time_s"]) == ("secondary", 30.0, pytest.approx(36.0))
    assert _edge(toy, 2, 4)["travel_time_s"] == 0.0


def test_speed_overrides():
    net = RoadNetwork.from_graph(_toy_graph(), speeds_kph={"motorway": 100.0}, maxspeed_factor=1.0)
    assert _edge(net, 1, 2, 0)["travel_time_s"] == pytest.approx(36.0)
    assert _edge(net, 2, 3)["speed_kph"] == pytest.approx(60.0)


# ---------------------------------------------------------------------------- csgraph
def test_csgraph_min_over_parallel_edges_and_explicit_zero(toy):
    A, ids = toy.csgraph("length_m")
    i = ids.get_loc
    assert A.shape == (6, 6)
    assert A[i(1), i(2)] == 800.0  # min(1000 motorway, 800 residential)
    assert A[i(3), i(3)] == 0.0 and A.nnz == 7  # self-loop dropped; 7 distinct pairs
    # the zero-length service edge 2 -> 4 is stored, so 4 is reachable from 1 at 800 m
    d = dijkstra(A, indices=i(1))
    assert d[i(4)] == 800.0
    assert d[i(3)] == 1400.0
    assert np.isinf(d[i(5)])
    T, _ = toy.csgraph("travel_time_s")
    assert T[i(1), i(2)] == pytest.approx(40.0)  # min(40 s motorway, 144 s residential)
    with pytest.raises(ConfigError, match="unknown edge weight"):
        toy.csgraph("length")


def test_csgraph_agrees_with_networkx_on_kouvola():
    from gzcharge.sources.osm import graph_from_file

    net = RoadNetwork.from_graph(graph_from_file(shared_path("osm", "kouvola_fi.osm.pbf")))
    for weight in ("length_m", "travel_time_s"):
        A, ids = net.csgraph(weight)
        src = ids[np.argmax(net._component_labels() == 0)]
        d = dijkstra(A, indices=ids.get_loc(src))
        ref = nx.single_source_dijkstra_path_length(net.graph, src, weight=weight)
        reach = np.isfinite(d)
        assert set(ids[reach]) == set(ref)
        got = dict(zip(ids[reach], d[reach], strict=True))
        assert all(got[n] == pytest.approx(ref[n], rel=1e-9, abs=1e-9) for n in ref)


# ---------------------------------------------------------------------------- components
def test_components(toy):
    comps = toy.components()
    assert list(comps["n_nodes"]) == [4, 1, 1]
    assert comps.loc[0, "n_edges"] == 8
    assert comps.loc[0, "length_km"] == pytest.approx((1000 + 800 + 1000 + 600 + 600 + 0 + 300 + 50) / 1000)
    assert list(comps["is_largest"]) == [True, False, False]
    lab = toy.component
    assert set(lab[lab == 0].index) == {1, 2, 3, 4}
    assert lab[5] != 0 and lab[6] != 0 and lab[5] != lab[6]


# ---------------------------------------------------------------------------- snapping
def test_snap_reports_distance_small_component_and_far_points(toy):
    tr = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4544", always_xy=True)
    pts = np.array([
        [105.9101, 26.2001],  # next to node 2
        [105.9901, 26.2901],  # next to node 5 (small component)
        [106.50, 27.00],  # far from everything
    ])
    res = toy.snap(pts, ids=["a", "b", "c"], max_snap_m=500)
    assert list(res.index) == ["a", "b", "c"]  # nothing dropped
    assert list(res["node_id"][:2]) == [2, 4]
    # independent distances: projected Euclid by pyproj
    px, py = tr.transform(pts[:, 0], pts[:, 1])
    nx2, ny2 = tr.transform(*COORDS[2])
    nx4, ny4 = tr.transform(*COORDS[4])
    nx5, ny5 = tr.transform(*COORDS[5])
    assert res.loc["a", "snap_m"] == pytest.approx(math.hypot(px[0] - nx2, py[0] - ny2), abs=1e-3)
    assert res.loc["b", "snap_m"] == pytest.approx(math.hypot(px[1] - nx4, py[1] - ny4), abs=1e-3)
    assert res.loc["b", "nearest_any_node"] == 5
    assert res.loc["b", "nearest_any_m"] == pytest.approx(math.hypot(px[1] - nx5, py[1] - ny5), abs=1e-3)
    assert list(res["nearest_in_small_component"]) == [False, True, True]
    assert list(res["beyond_max_snap"]) == [False, True, True]
    assert (res["component"] == 0).all()
    anyc = toy.snap(pts, largest_only=False)
    assert anyc.loc[1, "node_id"] == 5 and anyc.loc[1, "component"] != 0


def test_snap_geodataframe_uses_index_ids_and_reprojects(toy):
    gdf = gpd.GeoDataFrame(
        {"name": ["x"]}, geometry=[shapely.Point(105.9101, 26.2001)], crs="EPSG:4326", index=["site-7"]
    ).to_crs("EPSG:3857")
    res = toy.snap(gdf)
    assert res.loc["site-7", "node_id"] == 2


def test_snap_bad_input(toy):
    with pytest.raises(DataError, match="no CRS"):
        toy.snap(gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)]))
    with pytest.raises(DataError, match="not unique"):
        toy.snap(np.array([[105.9, 26.2], [105.9, 26.2]]), ids=["a", "a"])
    with pytest.raises(DataError, match=r"\(n, 2\)"):
        toy.snap(np.array([1.0, 2.0, 3.0]))


# ---------------------------------------------------------------------------- layers
def test_layers_and_expressway(toy):
    layers = toy.layers()
    assert set(layers) == {"nodes", "edges", "expressway_edges"}
    nodes, edges, ex = layers["nodes"], layers["edges"], layers["expressway_edges"]
    assert all(g.crs.to_epsg() == 4326 for g in layers.values())
    assert len(nodes) == 6 and len(edges) == 9
    assert {"node_id", "x", "y", "component"} <= set(nodes.columns)
    assert {"highway", "name", "length_m", "speed_kph", "travel_time_s", "is_expressway"} <= set(edges.columns)
    assert sorted(zip(ex["u"], ex["v"], strict=True)) == [(1, 2), (2, 1)]
    row = edges[(edges.u == 1) & (edges.v == 2) & (edges.key == 1)].iloc[0]
    assert row["name"] == "甲路;乙路"
    # straight edge geometry ends at its nodes
    assert row.geometry.coords[0] == pytest.approx(COORDS[1], abs=1e-9)
    sub = toy.expressway()
    assert sub.graph.number_of_edges() == 2 and sub.crs == toy.crs
    summary = toy.summary()
    # the 1 km motorway has one carriageway each way (1→2, 2→1): 1 km of road, counted once
    assert summary["nodes"] == 6 and summary["expressway_km"] == pytest.approx(1.0)


def test_no_expressway_is_reported():
    G = _toy_graph()
    G.remove_edges_from([(1, 2, 0), (2, 1, 0)])
    with pytest.raises(NetworkError, match="no motorway/motorway_link/trunk/trunk_link"):
        RoadNetwork.from_graph(G).expressway()


def test_empty_graph_and_geographic_crs():
    with pytest.raises(NetworkError, match="empty"):
        RoadNetwork.from_graph(nx.MultiDiGraph(crs="epsg:4326"))
    with pytest.raises(ConfigError, match="geographic"):
        RoadNetwork.from_graph(_toy_graph(), crs="EPSG:4490")


# ---------------------------------------------------------------------------- build_network
def test_build_network_needs_a_source():
    region = shapely.box(105.6, 25.6, 106.4, 26.5)
    with pytest.raises(ConfigError, match="--osm-file"):
        build_network(region)
    with pytest.raises(ConfigError, match="not both"):
        build_network(region, osm_file="x.osm.pbf", online=True)


def test_build_network_from_pbf_with_progress():
    path = shared_path("osm", "kouvola_fi.osm.pbf")
    seen = []
    net = build_network(
        shapely.box(26.94, 60.525, 26.96, 60.535), osm_file=str(path), crs="EPSG:3067",
        buffer_m=100, progress=lambda msg, frac: seen.append(frac),
    )
    assert net.crs == "EPSG:3067"
    assert seen[-1] == 1.0 and seen == sorted(seen)
    assert net.meta["source"] == str(path)
    assert net.summary()["largest_component_share"] > 0.5
