"""The highway tier on Guizhou's real geography: the built-in OSM trunk-road skeleton and real service areas.

The service areas (``expressway_service_areas_amap.csv``, Amap, test use only) are read from
../shared/data through ``shared_path``; the tests skip without it.
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from gzcharge.highway.model import (
    assess_highway,
    county_seat_points,
    prepare_highway,
    solve_highway,
)
from gzcharge.scenario.highway import HighwayParams
from gzcharge.sources import builtin
from tests.conftest import shared_path

QXN = "黔西南布依族苗族自治州"  # borders Yunnan and Guangxi: gateways and real service areas


def test_shipped_clip_is_the_shared_skeleton_edge_for_edge():
    # second source: ../shared/data's clip of the same package (edges with an end inside the
    # province, made independently). Every one of its 4,915 edges is in the shipped clip with the
    # same length and end coordinates.
    shared = gpd.read_file(shared_path("guizhou", "trunk_roads_osm_scgraph.geojson"))
    mine = builtin.load_trunk_roads().set_index(["u", "v"])
    assert len(shared) == 4915
    key = pd.MultiIndex.from_arrays([shared["u"], shared["v"]])
    assert key.isin(mine.index).all()
    m = mine.loc[key]
    assert np.allclose(m["km"].to_numpy(), shared["km"].to_numpy(), atol=1e-9)
    xy = shapely.get_coordinates(shared.geometry.values).reshape(-1, 2, 2)
    assert np.allclose(xy[:, 0], m[["lon_u", "lat_u"]].to_numpy(), atol=1e-9)
    assert np.allclose(xy[:, 1], m[["lon_v", "lat_v"]].to_numpy(), atol=1e-9)


def test_gateways_lie_on_the_province_border_where_roads_cross_it():
    from gzcharge.highway.skeleton import skeleton_lines
    from gzcharge.region import get_region

    region = get_region(QXN)
    lines, gw = skeleton_lines(region.boundary, region.metric_crs)
    prov = builtin.load_counties().union_all()
    ring = gpd.GeoSeries([prov.boundary], crs=4326).to_crs(region.metric_crs).iloc[0]
    g = gw.to_crs(region.metric_crs)
    assert len(g) >= 2 and (g.distance(ring) <= 1000).all()
    # independent count from the raw edges: skeleton edges with one end in 黔西南 and the other
    # outside the province cross the province border; each such crossing has a gateway within
    # gateway_merge_km (10 km) + the node-merge radius
    e = builtin.load_trunk_roads()
    pu, pv = shapely.points(e["lon_u"], e["lat_u"]), shapely.points(e["lon_v"], e["lat_v"])
    qu, qv = shapely.contains(region.boundary, pu), shapely.contains(region.boundary, pv)
    ou, ov = ~shapely.contains(prov, pu), ~shapely.contains(prov, pv)
    crossing = e[(qu & ov) | (qv & ou)]
    assert len(crossing) >= len(g)
    segs = gpd.GeoSeries(shapely.linestrings(np.stack([crossing[["lon_u", "lat_u"]].to_numpy(),
                                                       crossing[["lon_v", "lat_v"]].to_numpy()], axis=1)),
                         crs=4326).to_crs(region.metric_crs)
    hits = segs.intersection(ring)
    d = np.array([g.distance(h).min() for h in hits if not h.is_empty])
    assert len(d) and (d <= 10_000 + 500 + 1).all()


def _service_areas(region):
    d = pd.read_csv(shared_path("guizhou", "expressway_service_areas_amap.csv"))
    sa = gpd.GeoDataFrame({"name": d["name"]}, geometry=gpd.points_from_xy(d["lon_wgs84"], d["lat_wgs84"]), crs=4326)
    return sa[sa.within(region.boundary)].reset_index(drop=True)


def _zone_needs_interior_site(G: nx.Graph, zone: set, sa_nodes: set, gap_km: float) -> float:
    """Longest shortest distance between two boundary points of a service-area-free zone.

    Boundary points: the service-area nodes next to the zone and the corridor ends (degree 1) in
    it. Distances run inside the zone only (a service area is a sink: a path stops there), by
    networkx Dijkstra on a directed copy — a method independent of the tier's gap walks.
    """
    nbr_sa = {m for n in zone for m in G.neighbors(n) if m in sa_nodes}
    ends = {n for n in zone if G.degree(n) == 1}
    D = nx.DiGraph()
    for a in zone:
        for b in G.neighbors(a):
            if b in zone or b in nbr_sa:
                D.add_edge(a, b, w=G.edges[a, b]["length_km"])
            if b in nbr_sa:
                D.add_edge(b, a, w=G.edges[a, b]["length_km"])
    bounds = nbr_sa | ends
    best = 0.0
    for s in bounds:
        if s not in D:
            continue
        # from a service area leave only into the zone, never through another service area
        H = D.copy()
        H.remove_edges_from([(b, a) for b in nbr_sa - {s} for a in list(H.successors(b))])
        dist = nx.single_source_dijkstra_path_length(H, s, weight="w")
        best = max([best, *(dist[t] for t in bounds if t != s and t in dist)])
    return best


@pytest.mark.parametrize("all_sa", [False, True])
def test_prefecture_plan_on_real_skeleton_opens_service_areas_wherever_the_gap_rule_allows(all_sa):
    from gzcharge.region import get_region

    region = get_region(QXN)
    sa = _service_areas(region)
    assert len(sa) >= 30  # 43 Amap points in 黔西南, one per direction
    p = HighwayParams(all_service_areas=all_sa)
    prep = prepare_highway(p, region=region, service_areas=sa, settlements=county_seat_points(region))
    assert prep.details["road_source"] == builtin.TRUNK_ROADS_LABEL
    assert any(builtin.TRUNK_ROADS_LABEL in n for n in prep.notes)
    gw = prep.details["gateways"]
    assert len(gw) >= 2 and prep.traffic.od["origin"].str.startswith("GW-").any() | \
        prep.traffic.od["destination"].str.startswith("GW-").any()
    sol = solve_highway(prep, p, time_limit_s=60)
    res = assess_highway(prep, sol, p)
    st = res.highway_stations
    assert len(st) and (st["kind"] == "service_area").sum() >= 5
    assert res.expressway_segments["gap_ok"].all()
    sites = prep.sites.set_index("site_id")
    G = prep.corridors.graph
    sa_nodes = set(sites.loc[sites["kind"] == "service_area", "node"])
    if all_sa:  # the 2022 action plan: every service area gets chargers, ≥ 10 % of 100 small-car spaces
        assert set(st.loc[st["kind"] == "service_area", "site_id"]) == set(sites.index[sites["kind"] == "service_area"])
        assert (st.loc[st["kind"] == "service_area", "plugs"] >= 10).all()
    # every opened station that is not a service area sits in a service-area-free zone whose
    # boundary points (service areas, corridor ends) are more than max_gap_km apart along the
    # corridor: no choice of service areas alone could meet the gap rule there
    H = G.subgraph([n for n in G if n not in sa_nodes])
    zone_of = {n: frozenset(c) for c in nx.connected_components(H) for n in c}
    others = st[st["kind"] != "service_area"]
    assert len(others)  # the skeleton's national roads have stretches with no service area
    for node in sites.loc[others["site_id"], "node"]:
        longest = _zone_needs_interior_site(G, set(zone_of[node]), sa_nodes, p.max_gap_km)
        assert longest > p.max_gap_km + 1e-6, (node, longest)
