"""The built-in road skeleton as highway corridors, and the border gateways of through traffic.

The skeleton is :func:`gzcharge.sources.builtin.load_trunk_roads` (OSM-derived major roads of
the PyPI package ``scgraph_data``, ODbL): straight edges between graph nodes rounded to 0.001°,
expressways *and* national/provincial trunk roads, no road class. It is the offline default of
the highway tier when no ``--expressways``, OSM file or road network gives the expressways, and
is labelled :data:`~gzcharge.sources.builtin.TRUNK_ROADS_LABEL` in the report and metadata.

From skeleton to corridor lines (:func:`skeleton_lines`)
--------------------------------------------------------
1. **Node merge.** The rounding leaves clusters of nodes 0.1–0.3 km apart (tiny triangles) and
   unmerged carriageways a few hundred metres apart. Nodes within ``merge_m`` (default
   :data:`SKELETON_MERGE_M`) of each other are one node (single linkage, at the members' mean
   position); edges inside a cluster vanish and parallel edges keep the shortest ``km``.
2. **Clip.** Edges with both ends inside the region polygon are kept whole; an edge with one end
   inside is cut where it leaves the polygon (the crossing nearest to its inside end) and keeps
   the inside part; edges with no end inside are dropped.
3. **Gateways.** A cut point within ``gateway_tol_m`` of the *province* border is a border
   gateway (a road entering Guizhou from 湖南/重庆/四川/云南/广西); cut points on an internal
   (prefecture) border are not. Gateways closer than ``gateway_merge_km`` to each other (two
   roads crossing at one place, a road grazing the border) are one gateway, at the member with
   the smallest id. Each gateway becomes an OD point of through traffic
   (:func:`gzcharge.highway.traffic.build_traffic`, ``gateways``).

The lines then go through :func:`gzcharge.highway.corridors.build_corridors` like a user line
layer (no carriageway merge, no ramps: the skeleton has no interchanges, so county seats attach
at their nearest corridor point).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

logger = logging.getLogger(__name__)

__all__ = ["SKELETON_MERGE_M", "skeleton_corridors", "skeleton_lines"]

#: Node-merge radius of the skeleton (m): above the 0.001° rounding clusters (~0.1–0.3 km) and the
#: distance of unmerged carriageways, below the spacing of distinct junctions (JTG D20: ≥ 4 km
#: between interchanges). An implementation choice; 300–1,000 m give similar corridors.
SKELETON_MERGE_M = 500.0


def _merge_nodes(ids: np.ndarray, xy: np.ndarray, merge_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Cluster label per node (single linkage within ``merge_m``) and the clusters' mean positions."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(ids)
    pairs = cKDTree(xy).query_pairs(merge_m, output_type="ndarray") if merge_m > 0 else np.empty((0, 2), int)
    adj = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, lab = connected_components(adj, directed=False)
    cnt = np.bincount(lab)
    cxy = np.column_stack([np.bincount(lab, weights=xy[:, 0]) / cnt, np.bincount(lab, weights=xy[:, 1]) / cnt])
    return lab, cxy


def skeleton_lines(
    boundary: Any,
    crs: Any,
    *,
    merge_m: float = SKELETON_MERGE_M,
    province: Any = None,
    gateway_tol_m: float = 1000.0,
    gateway_merge_km: float = 10.0,
    roads: Any = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Corridor lines of the built-in skeleton inside ``boundary`` and the province-border gateways.

    Parameters
    ----------
    boundary
        Region polygon (WGS-84 shapely geometry).
    crs
        Metric CRS of the output.
    merge_m
        Node-merge radius (m); see the module docstring.
    province
        Province polygon (WGS-84) whose border makes a cut point a gateway; default the built-in
        province (union of the 88 counties).
    gateway_tol_m
        A cut point within this distance of the province border is a gateway.
    gateway_merge_km
        Gateways closer than this (straight line) are one.
    roads
        Edge table in the layout of :func:`~gzcharge.sources.builtin.load_trunk_roads`
        (default: the built-in skeleton).

    Returns
    -------
    lines, gateways
        ``lines``: 2-point LineStrings (``crs``) with ``km`` (the skeleton's length, the cut part
        prorated). ``gateways``: points (EPSG:4326) with ``settlement_id`` (``GW-01``…, ordered
        west to east), ``name``, ``kind = "gateway"``, ``lon``, ``lat``.
    """
    import geopandas as gpd
    import pandas as pd
    import shapely
    from pyproj import Transformer

    from gzcharge.sources import builtin

    e = builtin.load_trunk_roads() if roads is None else roads
    to_m = Transformer.from_crs(4326, crs, always_xy=True)
    nodes = pd.concat([
        pd.DataFrame({"id": e["u"], "lon": e["lon_u"], "lat": e["lat_u"]}),
        pd.DataFrame({"id": e["v"], "lon": e["lon_v"], "lat": e["lat_v"]}),
    ]).drop_duplicates("id").reset_index(drop=True)
    x, y = to_m.transform(nodes["lon"].to_numpy(float), nodes["lat"].to_numpy(float))
    lab, cxy = _merge_nodes(nodes["id"].to_numpy(), np.column_stack([x, y]), merge_m)
    pos = pd.Series(np.arange(len(nodes)), index=nodes["id"].to_numpy())
    a = lab[pos.loc[e["u"]].to_numpy()]
    b = lab[pos.loc[e["v"]].to_numpy()]
    ed = pd.DataFrame({"a": np.minimum(a, b), "b": np.maximum(a, b), "km": e["km"].to_numpy(float)})
    ed = ed[ed["a"] != ed["b"]].groupby(["a", "b"], as_index=False)["km"].min()

    poly = gpd.GeoSeries([boundary], crs=4326).to_crs(crs).iloc[0]
    shapely.prepare(poly)
    inside = shapely.contains_xy(poly, cxy[:, 0], cxy[:, 1])
    ia, ib = inside[ed["a"].to_numpy()], inside[ed["b"].to_numpy()]
    pa, pb = cxy[ed["a"].to_numpy()], cxy[ed["b"].to_numpy()]
    whole = ia & ib
    lines = list(shapely.linestrings(np.stack([pa[whole], pb[whole]], axis=1)))
    kms = list(ed["km"].to_numpy()[whole])
    # edges leaving the region: keep the inside part up to the crossing nearest to the inside end
    cross = np.flatnonzero(ia ^ ib)
    ring = poly.boundary
    cuts = []
    for i in cross:
        p_in, p_out = (pa[i], pb[i]) if ia[i] else (pb[i], pa[i])
        seg = shapely.LineString([p_in, p_out])
        hit = shapely.get_parts(seg.intersection(ring))
        pts = shapely.get_coordinates(hit)
        if len(pts) == 0:
            continue
        c = pts[np.argmin(np.hypot(*(pts - p_in).T))]
        frac = float(np.hypot(*(c - p_in)) / max(seg.length, 1e-9))
        if frac <= 1e-9:
            continue
        lines.append(shapely.LineString([p_in, c]))
        kms.append(float(ed["km"].iloc[i]) * frac)
        cuts.append(c)
    out = gpd.GeoDataFrame({"km": kms}, geometry=lines, crs=crs)

    # gateways: cut points on the province border
    prov = province if province is not None else builtin.load_counties().union_all()
    prov_ring = gpd.GeoSeries([prov.boundary], crs=4326).to_crs(crs).iloc[0]
    cxy_cut = np.array(cuts, dtype=float).reshape(-1, 2)
    on_border = shapely.distance(shapely.points(cxy_cut), prov_ring) <= gateway_tol_m if len(cxy_cut) else np.zeros(0, bool)
    g = cxy_cut[on_border]
    g = g[np.lexsort((g[:, 1], g[:, 0]))] if len(g) else g
    keep: list[np.ndarray] = []
    for p in g:  # greedy west-to-east: a gateway within gateway_merge_km of a kept one joins it
        if all(np.hypot(*(p - q)) > gateway_merge_km * 1000.0 for q in keep):
            keep.append(p)
    kx = np.array(keep, dtype=float).reshape(-1, 2)
    lon, lat = Transformer.from_crs(crs, 4326, always_xy=True).transform(kx[:, 0], kx[:, 1])
    ids = [f"GW-{i + 1:02d}" for i in range(len(kx))]
    gw = gpd.GeoDataFrame({"settlement_id": ids, "name": [f"省界入口 {i}" for i in ids], "kind": "gateway",
                           "lon": np.round(lon, 5), "lat": np.round(lat, 5)},
                          geometry=gpd.points_from_xy(lon, lat), crs=4326)
    logger.info("road skeleton: %d edges (%d cut at the region border), %d province-border gateway(s)",
                len(out), len(cuts), len(gw))
    return out, gw


def skeleton_corridors(region: Any, params: Any, *, roads: Any = None):
    """Corridor graph of the built-in skeleton inside ``region`` and its border gateways.

    Returns ``(CorridorGraph, gateways)``; ``CorridorGraph.source`` is
    :data:`~gzcharge.sources.builtin.TRUNK_ROADS_LABEL`.
    """
    from gzcharge.errors import DataError
    from gzcharge.highway.corridors import build_corridors
    from gzcharge.sources.builtin import TRUNK_ROADS_LABEL

    boundary = getattr(region, "boundary", None)
    if boundary is None:
        raise DataError("the built-in road skeleton needs a region (--prefecture, --province or --boundary)")
    lines, gw = skeleton_lines(boundary, region.metric_crs, merge_m=params.skeleton_merge_m,
                               gateway_merge_km=params.gateway_merge_km, roads=roads)
    if len(lines) == 0:
        return None, gw
    cg = build_corridors(lines[["geometry"]], endpoint_snap_m=1.0, carriageway_merge_m=0.0,
                         interchange_merge_m=params.interchange_merge_m, source=TRUNK_ROADS_LABEL)
    return cg, gw
