"""Travel-time radii (``public.*_radius_min``) on a hand-built road graph."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely

from gzcharge.locate._prepare import coverage_matrix
from gzcharge.network import RoadNetwork
from gzcharge.scenario import load_scenario
from gzcharge.tiers.public import _cost_matrix, _rule_costs

COORDS = {0: (106.00, 26.25), 1: (106.08, 26.25), 2: (105.95, 26.25)}


def _net() -> RoadNetwork:
    G = nx.MultiDiGraph(crs="epsg:4326")
    for n, (lon, lat) in COORDS.items():
        G.add_node(n, x=lon, y=lat, street_count=1)
    for u, v in ((0, 1), (1, 0)):  # 8 km of motorway: class default 90 km/h -> 5.33 min
        G.add_edge(u, v, 0, highway="motorway", length=8000.0)
    for u, v in ((0, 2), (2, 0)):  # 5 km of residential road: class default 20 km/h -> 15 min
        G.add_edge(u, v, 0, highway="residential", length=5000.0)
    return RoadNetwork.from_graph(G)


def _points(ids, nodes, coords=COORDS, **cols):
    geom = [shapely.Point(*coords[n]) for n in nodes]
    return gpd.GeoDataFrame({"id": ids, **cols}, geometry=geom, crs="EPSG:4326")


class _Region:
    metric_crs = "EPSG:4544"


def _cover(overrides):
    sc = load_scenario(overrides=["distance.mode=network", *overrides])
    net = _net()
    demand = _points(["far_fast", "near_slow"], [1, 2], tier=["township", "township"],
                     radius_m=[sc.public.radius_m("township")] * 2).rename(columns={"id": "demand_id"})
    cands = _points(["s0"], [0]).rename(columns={"id": "site_id"})
    cm = _cost_matrix(demand, cands, _Region(), sc, net, 2 * float(demand["radius_m"].max()), None)
    rule, radius = _rule_costs(demand, cands, sc, net, cm, demand["radius_m"].to_numpy(float), None)
    return coverage_matrix(rule, radius).toarray()[:, 0], rule.values.toarray()[:, 0], radius


def test_km_radius_covers_both_points():
    cov, cost, radius = _cover([])
    np.testing.assert_allclose(cost, [8000.0, 5000.0], atol=1.0)  # road metres
    assert cov.tolist() == [True, True]  # both within 10 km


def test_minutes_radius_uses_driving_time():
    cov, cost, radius = _cover(["public.township_radius_min=10"])
    # by hand: 8 km at 90 km/h = 320 s; 5 km at 20 km/h = 900 s; radius 10 min = 600 s
    np.testing.assert_allclose(cost, [320.0, 900.0], atol=1.0)
    np.testing.assert_allclose(radius, [600.0, 600.0])
    assert cov.tolist() == [True, False]


def test_minutes_coverage_on_west_oakland_matches_networkx_dijkstra():
    from gzcharge.sources import osm
    from tests.conftest import shared_path

    G = osm.graph_from_file(shared_path("osm", "West-Oakland.osm.bz2"))
    net = RoadNetwork.from_graph(G)
    main = sorted(max(nx.strongly_connected_components(net.graph), key=len))
    rng = np.random.default_rng(7)
    site, *dem = rng.choice(np.array(main), min(41, len(main)), replace=False).tolist()
    xy = {n: (G.nodes[n]["x"], G.nodes[n]["y"]) for n in [site, *dem]}
    sc = load_scenario(overrides=["distance.mode=network", "public.township_radius_min=2"])
    demand = _points([f"d{n}" for n in dem], dem, xy, tier=["township"] * len(dem),
                     radius_m=[sc.public.radius_m("township")] * len(dem)).rename(columns={"id": "demand_id"})
    cands = _points(["s"], [site], xy).rename(columns={"id": "site_id"})
    cm = _cost_matrix(demand, cands, _Region(), sc, net, 2 * float(demand["radius_m"].max()), None)
    rule, radius = _rule_costs(demand, cands, sc, net, cm, demand["radius_m"].to_numpy(float), None)
    got = coverage_matrix(rule, radius).toarray()[:, 0]
    # independent: networkx Dijkstra from every demand node to the site on travel_time_s (min over parallel edges)
    tt = nx.shortest_path_length(net.graph.reverse(copy=False), source=site, weight="travel_time_s")
    want = np.array([tt.get(n, np.inf) <= 120.0 for n in dem])
    assert want.any() and not want.all()
    assert got.tolist() == want.tolist()
