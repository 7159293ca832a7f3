"""OD flows on the expressway corridors and their paths.

Origins/destinations are settlements (county seats; entry points of neighbouring provinces
can be added as extra points). Each is attached to the corridor graph at its nearest
interchange (straight-line *access distance*; if the corridors carry no interchange, at the
nearest corridor point, where a node is inserted). Points with an access distance above
``seat_access_max_km`` get no flow (they are listed in :attr:`Traffic.unattached`).

Flows
-----
* **Gravity model** (default): for each unordered pair ``{i, j}`` attached to different
  nodes of one connected corridor component,
  ``g_ij = w_i · w_j / d_ij^beta`` with ``w`` the 2020 census population and ``d_ij`` the
  corridor shortest-path length (km) between their nodes plus both access distances. The
  ``g_ij`` are scaled so that their sum is ``gravity_daily_trips`` (vehicles/day, both
  directions). The EV flow of a pair is ``ev_share`` times its vehicle flow.
* **Through traffic at the province border** (``gateways``: points where the roads cross
  the border, :mod:`gzcharge.highway.skeleton`): each gateway ``g`` carries
  ``F = gateway_daily_vehicles`` vehicles/day (both directions) on top of the gravity total.
  The share ``s = gateway_through_share`` crosses the province to another gateway: gateway
  ``g`` sends ``T_gh = s · F · F_h / Σ F_h'`` over the gateways ``h`` whose trip from ``g``
  exceeds the short-trip length (a transit driver picks the exit by destination, not by
  distance), and the pair gets ``(T_gh + T_hg) / 2``. The rest ``(1 − s) · F`` goes to the
  county seats by the gravity rule ``w_j / d_gj^beta`` (normalised over the seats reachable
  from ``g``). Gateways take no part in the seat-to-seat gravity model.
* **User OD CSV** ``origin, destination, flow`` (vehicles/day, symmetric pairs added
  together; origin/destination match the points' ``settlement_id`` or ``name``), multiplied by
  ``daily_trips_scale``. Unknown origins/destinations raise :class:`DataError` naming them.

Paths, access legs and the tie rule
-----------------------------------
The path of a pair is its whole trip: ``[seat_o, o_node, …, d_node, seat_d]``. The first and
last legs are the **access legs** from each OD point (county seat) to the corridor node it is
attached to, with the access distance as their length; the seat nodes are named
``"seat:<point id>"`` (:func:`seat_node`), are not corridor nodes and are never candidates. So
the range model, the refuelled flags and the sizing all count the drive to and from the
expressway, as the short-trip filter does. :meth:`Traffic.edge_lengths` gives the corridor
edges plus the access legs. Paths built by :func:`traffic_from_paths` have no access legs.

The corridor part is a shortest corridor path between the pair's nodes (edge ``length_km``).
Among equally short paths (lengths equal within 1e-9 km) the **lexicographically smallest
sequence of node ids** from the origin node is taken: walking from the origin, the next node
is always the smallest-id neighbour that lies on some shortest path to the destination. The
origin is the pair member with the smaller node id, so the path does not depend on input
order.

Alternative routes (``k_paths > 1``): the distinct simple corridor paths in order of length
(Yen's algorithm, ``networkx.shortest_simple_paths``) whose trip length ``L_r`` (corridor +
access) is at most ``route_deviation_max × L_min`` (a deviation tolerance, Kim & Kuby 2012);
at most ``k_paths`` of them, shortest first, ties by the node-id sequence. The pair's flow is
split by a logit on the relative detour, ``share_r ∝ exp(−θ (L_r / L_min − 1))`` with
``θ = route_logit_theta``: tied routes get equal shares.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np

from gzcharge.errors import DataError
from gzcharge.highway.corridors import CorridorGraph

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pandas as pd

    from gzcharge.highway.params import HighwayParams

logger = logging.getLogger(__name__)

__all__ = ["Traffic", "attach_points", "build_traffic", "corridor_routes", "read_od_csv", "seat_node",
           "shortest_path_lex", "traffic_from_paths"]

_TIE_KM = 1e-9


@dataclass
class Traffic:
    """OD flows with corridor paths.

    Attributes
    ----------
    od
        DataFrame, one row per path: ``od_id``, ``origin``, ``destination`` (point ids),
        ``o_node``, ``d_node``, ``flow`` (vehicles/day), ``ev_flow`` (EVs/day), ``length_km``
        (corridor path length), ``access_km`` (sum of both access legs), ``path`` (the whole
        trip: seat node, corridor nodes, seat node — see the module docstring), ``alt`` (0 for
        the shortest route), ``share`` (the route's share of the pair's flow).
    points
        DataFrame of OD points indexed by id: ``name``, ``weight``, ``node``, ``access_km``,
        ``seat`` (seat node id), ``x``, ``y`` (position in the corridor CRS).
    unattached
        Ids of points too far from any corridor.
    access_edges
        ``(seat node, corridor node) -> km`` of every access leg used by a path.
    """

    od: pd.DataFrame
    points: pd.DataFrame
    unattached: list = field(default_factory=list)
    access_edges: dict = field(default_factory=dict)

    @property
    def paths(self) -> list[list]:
        """Node paths (whole trips), one per row of :attr:`od`."""
        return list(self.od["path"])

    def edge_lengths(self, graph: nx.Graph) -> dict[tuple[Any, Any], float]:
        """Length (km) of every corridor edge of ``graph`` and every access leg, both directions."""
        out = {(u, v): float(d) for u, v, d in graph.edges(data="length_km")}
        out.update({(v, u): ln for (u, v), ln in list(out.items())})
        for (a, b), ln in self.access_edges.items():
            out[(a, b)] = out[(b, a)] = float(ln)
        return out

    def node_xy(self, graph: nx.Graph, node: Any) -> tuple[float, float]:
        """Position of a corridor node or a seat node (corridor CRS)."""
        if node in graph:
            return float(graph.nodes[node]["x"]), float(graph.nodes[node]["y"])
        row = self.points.loc[self.points["seat"] == node]
        if row.empty:
            raise DataError(f"node {node!r} is neither a corridor node nor an OD point's seat node")
        return float(row["x"].iloc[0]), float(row["y"].iloc[0])


def seat_node(point_id: Any) -> str:
    """Node id of an OD point's seat at the end of its access leg (never a corridor node)."""
    return f"seat:{point_id}"


def attach_points(
    cg: CorridorGraph, points: gpd.GeoDataFrame, *, max_access_km: float
) -> tuple[list, np.ndarray]:
    """Nearest interchange (or inserted corridor node when there are no interchanges) per point.

    Returns node per point (``None`` beyond ``max_access_km``) and the access distance (km).
    """
    import shapely
    from scipy.spatial import cKDTree

    xy = shapely.get_coordinates(points.to_crs(cg.crs).geometry.values)
    ics = cg.nodes_of_kind("interchange")
    if ics:
        d, k = cKDTree(cg.node_xy(ics)).query(xy)
        nodes = [ics[j] if dd <= max_access_km * 1000 else None for dd, j in zip(d, k, strict=True)]
        return nodes, d / 1000.0
    edges = np.array([g for _, _, g in cg.graph.edges(data="geometry")], dtype=object)
    _, dist = shapely.STRtree(edges).query_nearest(shapely.points(xy), return_distance=True, all_matches=False)
    nodes = cg.insert_points(xy, kind="access", max_dist_m=max_access_km * 1000.0)
    return nodes, np.asarray(dist) / 1000.0


def shortest_path_lex(G: nx.Graph, source: Any, target: Any, dist_s: dict, dist_t: dict) -> list:
    """Lexicographically smallest shortest path (node ids) given both distance maps."""
    total = dist_s[target]
    path = [source]
    cur = source
    while cur != target:
        nxt = None
        for w in sorted(G.neighbors(cur)):
            ln = G.edges[cur, w]["length_km"]
            if w in dist_t and abs(dist_s[cur] + ln + dist_t[w] - total) <= _TIE_KM * max(1.0, total):
                nxt = w
                break
        if nxt is None:  # numerical safety: fall back to networkx
            return nx.shortest_path(G, source, target, weight="length_km")
        path.append(nxt)
        cur = nxt
    return path


def read_od_csv(path: str | Path) -> pd.DataFrame:
    """Read a user OD CSV with columns ``origin, destination, flow`` (vehicles/day)."""
    import pandas as pd

    from gzcharge.sources.files import numeric_column, read_table

    p = Path(path)
    if not p.exists():
        raise DataError(f"OD file {p} does not exist; give a CSV with columns origin, destination, flow")
    df = read_table(p, "OD file", ("origin", "destination", "flow"), required=("origin", "destination", "flow"))
    flow = numeric_column(df, "flow", "OD file", minimum=0.0, allow_missing=False,
                          fix="give vehicles/day (>= 0) on every line")
    return pd.DataFrame({"origin": df["origin"].astype(str).str.strip(),
                         "destination": df["destination"].astype(str).str.strip(), "flow": flow})


def build_traffic(
    cg: CorridorGraph,
    params: HighwayParams,
    points: gpd.GeoDataFrame | None,
    *,
    od: pd.DataFrame | None = None,
    id_col: str = "settlement_id",
    weight_col: str = "population",
    gateways: gpd.GeoDataFrame | None = None,
) -> Traffic:
    """OD flows and paths on the corridor graph (modifies ``cg`` only when it has no interchanges).

    Parameters
    ----------
    cg
        Corridor graph (candidates already inserted).
    params
        ``gravity_beta``, ``gravity_daily_trips``, ``ev_share``, ``daily_trips_scale``,
        ``seat_access_max_km``, ``k_paths``.
    points
        OD points (county seats): ``id_col``, ``name``, ``weight_col``. ``None``/empty: no
        traffic (the gap rule alone decides).
    od
        User OD table (``origin``, ``destination``, ``flow``); replaces the gravity model.
    gateways
        Province-border gateways (``settlement_id``, ``name``, points): OD points of through
        traffic (see the module docstring). With a user OD table they are only points the table
        may name.
    """
    import pandas as pd

    cols = OD_COLUMNS
    empty = Traffic(pd.DataFrame(columns=cols), pd.DataFrame(columns=POINT_COLUMNS), [])
    if points is None or len(points) == 0:
        if od is not None and len(od):
            raise DataError("an OD table was given but there are no OD points (settlements) to match it to")
        return empty
    ids = points[id_col].astype(str).tolist() if id_col in points.columns else [str(i) for i in points.index]
    names = points["name"].astype(str).tolist() if "name" in points.columns else ids
    if weight_col in points.columns:
        w = pd.to_numeric(points[weight_col], errors="coerce").fillna(0.0).to_numpy(float)
    else:
        w = np.ones(len(points))
    import shapely

    n_seats = len(ids)
    if gateways is not None and len(gateways):
        gids = gateways["settlement_id"].astype(str).tolist()
        ids, names, w = ids + gids, names + gateways["name"].astype(str).tolist(), np.r_[w, np.zeros(len(gids))]
        points = pd.concat([points[["geometry"]].to_crs(4326), gateways[["geometry"]].to_crs(4326)],
                           ignore_index=True).set_crs(4326, allow_override=True)
    is_gw = np.arange(len(ids)) >= n_seats

    nodes, acc = attach_points(cg, points, max_access_km=params.seat_access_max_km)
    pxy = shapely.get_coordinates(points.to_crs(cg.crs).geometry.values)
    pts = pd.DataFrame({"name": names, "weight": w, "node": pd.Series(nodes, dtype=object).to_numpy(), "access_km": acc,
                        "seat": [seat_node(i) for i in ids],
                        "x": pxy[:, 0], "y": pxy[:, 1]}, index=pd.Index(ids, name="id"))
    unattached = [i for i, n in zip(ids, nodes, strict=True) if n is None]
    if unattached:
        logger.info("%d OD point(s) farther than %g km from an expressway get no flow: %s", len(unattached),
                    params.seat_access_max_km, ", ".join(unattached[:10]))
    G = cg.graph
    att = pts[pts["node"].notna()]
    src_nodes = sorted(set(att["node"]))
    dist = {n: nx.single_source_dijkstra_path_length(G, n, weight="length_km") for n in src_nodes}

    pairs: list[tuple[str, str, float]] = []
    if od is not None:
        name_to_id = {}
        for i, nm in zip(ids, names, strict=True):
            name_to_id.setdefault(nm, i)
        def resolve(v: str) -> str | None:
            return v if v in pts.index else name_to_id.get(v)
        unknown = sorted({v for v in pd.concat([od["origin"], od["destination"]]) if resolve(v) is None})
        if unknown:
            from gzcharge._util import preview_ids
            raise DataError(f"OD table: unknown origin/destination(s) {preview_ids(unknown)}; use settlement ids or names")
        agg: dict[tuple[str, str], float] = {}
        for o, d, f in zip(od["origin"], od["destination"], od["flow"], strict=True):
            a, b = sorted((resolve(o), resolve(d)))
            if a != b:
                agg[(a, b)] = agg.get((a, b), 0.0) + float(f) * params.daily_trips_scale
        pairs = [(a, b, f) for (a, b), f in sorted(agg.items()) if f > 0]
    else:
        aid = att.index.tolist()
        an = att["node"].tolist()
        aw = att["weight"].to_numpy(float)
        aa = att["access_km"].to_numpy(float)
        raw = []
        for i in range(len(aid)):
            for j in range(i + 1, len(aid)):
                if an[i] == an[j] or an[j] not in dist[an[i]]:
                    continue
                d = dist[an[i]][an[j]] + aa[i] + aa[j]
                g = aw[i] * aw[j] / d ** params.gravity_beta if d > 0 else 0.0
                if g > 0:
                    raw.append((aid[i], aid[j], g))
        tot = sum(g for _, _, g in raw)
        total_trips = params.gravity_daily_trips
        if total_trips is None:
            total_trips = params.gravity_trips_per_1000_pop * float(aw.sum()) / 1000.0
        pairs = [(a, b, g / tot * total_trips) for a, b, g in raw] if tot > 0 else []
        if is_gw.any():
            pairs += _gateway_pairs(pts, is_gw, dist, params)

    rows = []
    access: dict = {}
    for a, b, f in pairs:
        na, nb = pts.at[a, "node"], pts.at[b, "node"]
        if na is None or nb is None or na == nb or nb not in dist[na]:
            continue
        o, d = (a, b) if na <= nb else (b, a)
        no, nd = pts.at[o, "node"], pts.at[d, "node"]
        acc_o, acc_d = float(pts.at[o, "access_km"]), float(pts.at[d, "access_km"])
        so, sd = pts.at[o, "seat"], pts.at[d, "seat"]
        access[(so, no)] = acc_o
        access[(sd, nd)] = acc_d
        routes = corridor_routes(G, no, nd, dist[no], dist[nd], k=params.k_paths, extra_km=acc_o + acc_d,
                                 deviation_max=params.route_deviation_max, theta=params.route_logit_theta)
        for alt, (pth, length, share) in enumerate(routes):
            fl = f * share
            rows.append({"od_id": f"{o}|{d}" + (f"#{alt}" if alt else ""), "origin": o, "destination": d,
                         "o_node": no, "d_node": nd, "flow": fl, "ev_flow": fl * params.ev_share,
                         "length_km": length, "access_km": acc_o + acc_d, "path": [so, *pth, sd], "alt": alt,
                         "share": share})
    df = pd.DataFrame(rows, columns=cols)
    return Traffic(df, pts, unattached, access)


def _gateway_pairs(pts: pd.DataFrame, is_gw: np.ndarray, dist: dict, params: HighwayParams) -> list[tuple]:
    """Through-traffic pairs of the province-border gateways (module docstring, "Through traffic")."""
    F, s, beta = params.gateway_daily_vehicles, params.gateway_through_share, params.gravity_beta
    short = params.min_charging_trip_km if params.min_charging_trip_km is not None else params.effective_range_km / 2
    att = pts["node"].notna().to_numpy()
    gw = [i for i in np.flatnonzero(is_gw & att)]
    seats = [j for j in np.flatnonzero(~is_gw & att) if pts["weight"].iat[j] > 0]
    ids, node, acc, w = pts.index.tolist(), pts["node"].tolist(), pts["access_km"].to_numpy(float), pts["weight"].to_numpy(float)

    def trip(i: int, j: int) -> float | None:
        if node[i] == node[j] or node[j] not in dist[node[i]]:
            return None
        return dist[node[i]][node[j]] + acc[i] + acc[j]

    out: dict[tuple[str, str], float] = {}
    for g in gw:
        raw = [(j, w[j] / d ** beta) for j in seats if (d := trip(g, j)) is not None and d > 0]
        tot = sum(v for _, v in raw)
        for j, v in raw:
            out[(ids[g], ids[j])] = (1.0 - s) * F * v / tot
        far = [h for h in gw if h != g and (d := trip(g, h)) is not None and d > short]
        for h in far:  # T_gh = s F / |far| (equal F_h); the pair gets the mean of both directions
            key = tuple(sorted((ids[g], ids[h])))
            out[key] = out.get(key, 0.0) + s * F / len(far) / 2.0
    return [(a, b, f) for (a, b), f in sorted(out.items()) if f > 0]


def _path_km(G: nx.Graph, path: list) -> float:
    return float(sum(G.edges[u, v]["length_km"] for u, v in zip(path[:-1], path[1:], strict=True)))


def corridor_routes(G: nx.Graph, source: Any, target: Any, dist_s: dict, dist_t: dict, *, k: int = 1,
                    extra_km: float = 0.0, deviation_max: float = 1.2,
                    theta: float = 10.0) -> list[tuple[list, float, float]]:
    """Distinct routes of one pair with their corridor lengths and flow shares (module docstring).

    Parameters
    ----------
    G
        Corridor graph.
    source, target
        Corridor nodes (``source`` the origin of the tie rule).
    dist_s, dist_t
        Shortest distances from ``source`` and ``target`` (for the lexicographic tie rule).
    k
        Most routes.
    extra_km
        Length added to every route to make the trip length (both access legs).
    deviation_max, theta
        Deviation tolerance (ratio of trip lengths) and logit parameter.

    Returns
    -------
    list of (path, corridor km, share)
        Shortest first; shares sum to 1.
    """
    first = shortest_path_lex(G, source, target, dist_s, dist_t)
    L0 = float(dist_s[target])
    if k <= 1:
        return [(first, _path_km(G, first), 1.0)]
    tol = _TIE_KM * max(1.0, L0)
    limit = deviation_max * (L0 + extra_km) - extra_km + tol
    found: list[tuple[float, list]] = []
    kth = None
    for pth in nx.shortest_simple_paths(G, source, target, weight="length_km"):
        ln = _path_km(G, pth)
        if ln > limit or (kth is not None and ln > kth + tol):
            break
        found.append((ln, pth))
        if len(found) == k:
            kth = ln  # keep the routes tied with the k-th, then choose among them by the tie rule
    # group equal lengths (within the tie tolerance), then order by length group and node-id sequence
    found.sort(key=lambda t: t[0])
    group, g0 = [], None
    for ln, _ in found:
        if g0 is None or ln - g0 > tol:
            g0 = ln
        group.append(g0)
    order = sorted(range(len(found)), key=lambda i: (group[i], tuple(found[i][1])))[:k]
    chosen = [found[i] for i in order]
    trip = np.array([ln + extra_km for ln, _ in chosen])
    base = max(trip.min(), 1e-12)
    w = np.exp(-theta * (trip / base - 1.0))
    share = w / w.sum()
    return [(pth, ln, float(sh)) for (ln, pth), sh in zip(chosen, share, strict=True)]


OD_COLUMNS = ["od_id", "origin", "destination", "o_node", "d_node", "flow", "ev_flow", "length_km", "access_km",
              "path", "alt", "share"]
POINT_COLUMNS = ["name", "weight", "node", "access_km", "seat", "x", "y"]


def traffic_from_paths(cg: CorridorGraph, paths: list[list], ev_flows: Any, *, od_ids: list | None = None) -> Traffic:
    """Traffic from explicit corridor paths and their EV flows (no gravity model, no attachment).

    ``flow`` and ``ev_flow`` are both set to ``ev_flows`` (EVs/day, both directions).
    Paths must follow edges of ``cg`` (a :class:`DataError` names the path and the edge).
    """
    import pandas as pd

    G = cg.graph
    f = np.asarray(ev_flows, dtype=float).ravel()
    if len(f) != len(paths):
        raise DataError(f"{len(f)} flows for {len(paths)} paths")
    ids = list(od_ids) if od_ids is not None else [str(i) for i in range(len(paths))]
    rows = []
    for i, pth in enumerate(paths):
        pth = list(pth)
        for u, v in zip(pth[:-1], pth[1:], strict=True):
            if not G.has_edge(u, v):
                raise DataError(f"path {ids[i]} uses ({u}, {v}), which is not a corridor edge")
        rows.append({"od_id": ids[i], "origin": str(pth[0]), "destination": str(pth[-1]), "o_node": pth[0],
                     "d_node": pth[-1], "flow": f[i], "ev_flow": f[i], "length_km": _path_km(G, pth), "access_km": 0.0,
                     "path": pth, "alt": 0, "share": 1.0})
    return Traffic(pd.DataFrame(rows, columns=OD_COLUMNS), pd.DataFrame(columns=POINT_COLUMNS), [])
