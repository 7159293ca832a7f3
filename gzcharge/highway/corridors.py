"""Expressway corridor graph: carriageways merged, junctions and interchanges as nodes, km lengths.

Input is a set of projected (metric) line geometries — the expressway edges of a
:class:`~gzcharge.network.RoadNetwork`, an osmnx graph's edges, or a user line layer
(GPKG/SHP/GeoJSON) — and the output a :class:`CorridorGraph`: an undirected
``networkx.Graph`` whose nodes carry metric positions and whose edges carry ``length_km``, the
segment (corridor piece) id, OSM ``ref``/``name`` and the edge geometry.

How the lines become a corridor graph (``build_corridors``)
-----------------------------------------------------------
1. **Validation.** Only (Multi)LineStrings are accepted; anything else raises a
   :class:`~gzcharge.errors.DataError` naming the source and the geometry types found.
   Geographic input is projected (Gauss-Krüger zone for Guizhou, UTM elsewhere).
2. **Main lines and links.** With a ``highway`` column, ``motorway``/``trunk`` are main
   lines and ``*_link`` ramps are links; without one (user layers) every line is a main line.
3. **Carriageway merge.** OSM maps the two directions of a motorway as two parallel one-way
   ways 10–60 m apart. Main lines are taken longest first; the part of each line lying within
   ``carriageway_merge_m`` of the lines already kept is dropped (it is the other carriageway),
   the rest (where carriageways diverge more, or a different road) is kept and joined to the
   kept line by a short connector. One carriageway thus stands for both directions: a site on
   the corridor is assumed to serve both (service areas on Chinese expressways come in pairs).
4. **Topological cleaning.** Endpoints within ``endpoint_snap_m`` of each other are merged
   (cluster mean); an endpoint within that distance of another line's interior gets a connector
   to it (T-junction); all lines are split where they cross or touch (``shapely.node``) and
   exact duplicates are removed. Every crossing of two corridors becomes a junction (on Chinese
   expressways crossings are almost always interchanges).
5. **Interchanges.** Each connected ramp system (links) is one interchange: its node is the
   point of the corridor nearest to the centroid of its attach points. A ramp system that
   attaches to two different corridor components (a T-interchange where the ending motorway
   becomes ramps) also joins them with a connector edge. One interchange is often mapped as
   several ramp systems that do not touch (the two halves of a diamond or of a trumpet, a
   toll plaza between them), which would give several interchange nodes a few hundred metres
   apart. **Merge rule** (:func:`merge_interchanges`): interchange nodes within
   ``interchange_merge_m`` (default 1,000 m) of each other *along the corridor* (shortest path
   over corridor edges, chained: single linkage) are one interchange; the member nearest to
   the cluster's mean position (then the smallest id) keeps the role, the others become plain
   vertices/junctions. 1 km is below the spacing of distinct interchanges on Chinese
   expressways (JTG D20 asks for ≥ 4 km between interchanges, rarely less in towns) and above
   the extent of a diamond/trumpet ramp system.
6. **Graph.** Chains of degree-2 vertices are contracted; nodes are junctions (degree ≥ 3),
   ends (degree 1), interchanges. Where two pieces join the same two nodes, they are two routes
   (a ring road's halves) when they lie more than 500 m apart — both are kept, the second split
   at its middle — else duplicates of one route, and the shorter is kept. Node ids are integers numbered in (x, y) order, so the graph is deterministic.

A *segment* is a maximal chain between junctions/ends: the unit reported in the
``expressway_segments`` layer. Connected components are reported in ``components`` (a
disconnected network is not an error; ``require_connected=True`` makes it one).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np

from gzcharge.errors import DataError, NetworkError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

logger = logging.getLogger(__name__)

__all__ = [
    "CorridorGraph",
    "build_corridors",
    "corridors_from_edges",
    "merge_interchanges",
    "corridors_from_file",
    "corridor_lines_from_osmnx",
    "GAP_WORK_CAP",
    "GapWorkLimitError",
    "gap_stretches",
    "gap_walks",
    "gap_window_sets",
    "metric_crs_for_lines",
    "station_free_stretches",
    "station_free_zones",
]

MAIN_CLASSES = ("motorway", "trunk")
LINK_CLASSES = ("motorway_link", "trunk_link")
_KEY_DECIMALS = 3  # vertex identity to the millimetre


@dataclass
class CorridorGraph:
    """Expressway corridors as an undirected graph in a metric CRS.

    Attributes
    ----------
    graph
        ``networkx.Graph``. Node attributes: ``x``, ``y`` (metric), ``kind`` (``"end"``,
        ``"junction"``, ``"interchange"``, ``"vertex"``, or a candidate kind added later).
        Edge attributes: ``length_km``, ``geometry`` (LineString oriented from ``start``),
        ``start`` (node id where the geometry begins), ``segment`` (segment id), ``ref``,
        ``name``, ``link`` (True for ramp connectors between corridors).
    crs
        The metric CRS of positions and geometries.
    components
        One dict per connected component: ``component``, ``n_nodes``, ``length_km``, ``refs``.
    source
        Where the lines came from (a file name or ``"osm"``), for messages.
    """

    graph: nx.Graph
    crs: Any
    components: list[dict] = field(default_factory=list)
    source: str = "lines"

    # ------------------------------------------------------------------ basics
    @property
    def length_km(self) -> float:
        """Total corridor length (km)."""
        return float(sum(d["length_km"] for _, _, d in self.graph.edges(data=True)))

    def node_xy(self, nodes: list | None = None) -> np.ndarray:
        """Metric coordinates (n × 2) of ``nodes`` (all nodes in graph order by default)."""
        nodes = list(self.graph.nodes) if nodes is None else nodes
        return np.array([[self.graph.nodes[n]["x"], self.graph.nodes[n]["y"]] for n in nodes], dtype=float)

    def nodes_of_kind(self, *kinds: str) -> list:
        """Node ids whose ``kind`` is one of ``kinds`` (sorted)."""
        return sorted(n for n, k in self.graph.nodes(data="kind") if k in kinds)

    def edge_geometry(self, u: Any, v: Any):
        """Edge geometry oriented from ``u`` to ``v``."""
        d = self.graph.edges[u, v]
        g = d["geometry"]
        return g if d["start"] == u else g.reverse()

    def _next_node_id(self) -> int:
        return max((n for n in self.graph.nodes if isinstance(n, int)), default=-1) + 1

    # ------------------------------------------------------------------ snapping
    def insert_points(
        self, xy: np.ndarray, *, kind: str, max_dist_m: float, attrs: list[dict] | None = None
    ) -> list[Any]:
        """Attach points to the corridor, inserting a node on the edge at each projected point.

        Parameters
        ----------
        xy
            (n × 2) metric coordinates.
        kind
            Node ``kind`` of inserted nodes.
        max_dist_m
            Points farther than this from every corridor edge are not attached (``None`` is
            returned for them).
        attrs
            Extra node attributes per point.

        Returns
        -------
        list
            Node id per point (an existing node when the projection falls within 1 m of it),
            or ``None`` when the point is too far.
        """
        import shapely

        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        out: list[Any] = [None] * len(xy)
        if len(xy) == 0 or self.graph.number_of_edges() == 0:
            return out
        edges = list(self.graph.edges)
        geoms = np.array([self.graph.edges[e]["geometry"] for e in edges], dtype=object)
        tree = shapely.STRtree(geoms)
        pts = shapely.points(xy)
        idx_pts, idx_edges = tree.query_nearest(pts, max_distance=max_dist_m, return_distance=False, all_matches=False)
        per_edge: dict[int, list[tuple[float, int]]] = {}
        for ip, ie in zip(idx_pts.tolist(), idx_edges.tolist(), strict=True):
            pos = float(shapely.line_locate_point(geoms[ie], pts[ip]))
            per_edge.setdefault(ie, []).append((pos, ip))
        nid = self._next_node_id()
        for ie in sorted(per_edge):
            u, v = edges[ie]
            d = dict(self.graph.edges[u, v])
            line = d["geometry"]
            start = d["start"]
            end = v if start == u else u
            total = line.length
            cuts: list[tuple[float, Any]] = []  # (position along line, node)
            for pos, ip in sorted(per_edge[ie]):
                a = dict(attrs[ip]) if attrs is not None else {}
                if pos <= 1.0:
                    node = start
                elif pos >= total - 1.0:
                    node = end
                elif cuts and pos - cuts[-1][0] <= 1.0:
                    node = cuts[-1][1]
                else:
                    node = nid
                    nid += 1
                    p = line.interpolate(pos)
                    self.graph.add_node(node, x=float(p.x), y=float(p.y), kind=kind, **a)
                    cuts.append((pos, node))
                out[ip] = node
            if not cuts:
                continue
            self.graph.remove_edge(u, v)
            chain = [(0.0, start), *cuts, (total, end)]
            for (p0, n0), (p1, n1) in zip(chain[:-1], chain[1:], strict=True):
                piece = _substring(line, p0, p1)
                self.graph.add_edge(n0, n1, **{**d, "geometry": piece, "start": n0, "length_km": piece.length / 1000.0})
        return out

    # ------------------------------------------------------------------ tables
    def segments_frame(self) -> gpd.GeoDataFrame:
        """One row per segment (maximal chain between junctions/ends) with merged geometry."""
        import geopandas as gpd
        import shapely

        rows: dict[int, dict] = {}
        for _u, _v, d in self.graph.edges(data=True):
            s = d["segment"]
            r = rows.setdefault(s, {"segment": s, "length_km": 0.0, "parts": [], "refs": Counter(), "names": Counter()})
            r["length_km"] += d["length_km"]
            r["parts"].append(d["geometry"])
            if d.get("ref"):
                r["refs"][d["ref"]] += d["length_km"]
            if d.get("name"):
                r["names"][d["name"]] += d["length_km"]
        comp_of = self.component_of()
        seg_comp = {d["segment"]: comp_of.get(u, -1) for u, _, d in self.graph.edges(data=True)}
        recs = []
        for s in sorted(rows):
            r = rows[s]
            merged = shapely.line_merge(shapely.multilinestrings(r["parts"]))
            recs.append(
                {
                    "segment": s,
                    "component": seg_comp[s],
                    "ref": r["refs"].most_common(1)[0][0] if r["refs"] else None,
                    "name": r["names"].most_common(1)[0][0] if r["names"] else None,
                    "length_km": r["length_km"],
                    "geometry": merged,
                }
            )
        if not recs:
            return gpd.GeoDataFrame(
                {"segment": [], "component": [], "ref": [], "name": [], "length_km": []}, geometry=[], crs=self.crs
            )
        return gpd.GeoDataFrame(recs, geometry="geometry", crs=self.crs)

    def component_of(self) -> dict:
        """Component id (of :attr:`components`) per node, nodes inserted later included."""
        known = {}
        for c in self.components:
            for n in c["nodes"]:
                known[n] = c["component"]
        out: dict = {}
        for comp in nx.connected_components(self.graph):
            ids = {known[n] for n in comp if n in known}
            cid = min(ids) if ids else -1
            for n in comp:
                out[n] = cid
        return out

    def copy(self) -> CorridorGraph:
        """Deep-enough copy (graph copied; geometries are immutable)."""
        return CorridorGraph(self.graph.copy(), self.crs, [dict(c) for c in self.components], self.source)


# ---------------------------------------------------------------------- helpers
def _substring(line, p0: float, p1: float):
    import shapely
    from shapely.geometry import LineString

    if p1 - p0 <= 1e-9:
        pt = line.interpolate(p0)
        return LineString([pt, pt])
    return shapely.ops.substring(line, p0, p1)


def metric_crs_for_lines(gdf: gpd.GeoDataFrame):
    """Metric CRS for lines: Gauss-Krüger zone inside Guizhou's longitudes, UTM elsewhere."""
    from gzcharge.crs import metric_crs_for

    lonlat = gdf.to_crs(4326)
    minx, miny, maxx, maxy = lonlat.total_bounds
    lon = (minx + maxx) / 2
    if 97.5 <= lon <= 115.5 and 18 <= (miny + maxy) / 2 <= 45:
        return metric_crs_for(lon)
    return lonlat.estimate_utm_crs()


def _first_str(v: Any) -> str | None:
    if isinstance(v, (list, tuple, np.ndarray)):
        v = v[0] if len(v) else None
    if v is None:
        return None
    try:
        if v != v:  # NaN
            return None
    except (TypeError, ValueError):
        pass
    s = str(v).strip()
    return s or None


def _check_lines(gdf: gpd.GeoDataFrame, source: str) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        raise DataError(f"{source}: the line layer has no CRS; save it with one (e.g. EPSG:4326)")
    gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    if len(gdf) == 0:
        raise DataError(f"{source}: the line layer has no geometries")
    types = Counter(gdf.geom_type)
    bad = {t: c for t, c in types.items() if t not in ("LineString", "MultiLineString")}
    if bad:
        found = ", ".join(f"{t} ×{c}" for t, c in sorted(types.items()))
        raise DataError(
            f"{source}: expressways must be LineString/MultiLineString geometries, found {found}; "
            "export the expressway centrelines as a line layer"
        )
    gdf = gdf.explode(index_parts=False, ignore_index=True)
    if gdf.crs.is_geographic:
        gdf = gdf.to_crs(metric_crs_for_lines(gdf))
    return gdf


def _cluster_endpoints(coords: np.ndarray, tol: float) -> np.ndarray:
    """Replace each point by the mean of its cluster (points linked within ``tol``)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    if tol <= 0 or len(coords) < 2:
        return coords
    pairs = cKDTree(coords).query_pairs(tol, output_type="ndarray")
    if len(pairs) == 0:
        return coords
    n = len(coords)
    m = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, lab = connected_components(m, directed=False)
    sums = np.zeros((lab.max() + 1, 2))
    np.add.at(sums, lab, coords)
    counts = np.bincount(lab)
    return sums[lab] / counts[lab, None]


def _merge_carriageways(lines: list, tol: float) -> tuple[list, list]:
    """Keep one carriageway: drop the parts of each line within ``tol`` of lines already kept.

    Returns the kept pieces and the connectors joining cut pieces to the kept lines.
    """
    import shapely
    from shapely.geometry import LineString

    if tol <= 0:
        return lines, []
    order = sorted(range(len(lines)), key=lambda i: (-lines[i].length, lines[i].bounds))
    kept: list = []
    kept_bounds = np.empty((0, 4))
    connectors: list = []
    for i in order:
        line = lines[i]
        b = np.array(line.bounds)
        if len(kept):
            near = np.flatnonzero(
                (kept_bounds[:, 0] <= b[2] + tol)
                & (kept_bounds[:, 2] >= b[0] - tol)
                & (kept_bounds[:, 1] <= b[3] + tol)
                & (kept_bounds[:, 3] >= b[1] - tol)
            )
        else:
            near = np.array([], dtype=int)
        if len(near) == 0:
            pieces = [line]
            near_union = None
        else:
            near_union = shapely.union_all([kept[j] for j in near])
            rest = line.difference(near_union.buffer(tol, quad_segs=4))
            pieces = [p for p in shapely.get_parts(shapely.line_merge(rest)) if p.length > 2 * tol]
            if len(pieces) == 1 and abs(pieces[0].length - line.length) < 1e-6:
                pieces = [line]
        for p in pieces:
            if near_union is not None and p is not line:
                for end in (p.coords[0], p.coords[-1]):
                    pe = shapely.Point(end)
                    if pe.distance(near_union) <= tol * 1.5:
                        q = shapely.ops.nearest_points(near_union, pe)[0]
                        if q.distance(pe) > 1e-6:
                            connectors.append(LineString([end, (q.x, q.y)]))
            kept.append(p)
            kept_bounds = np.vstack([kept_bounds, np.array(p.bounds)])
    return kept, connectors


def _snap_t_junctions(lines: list, tol: float) -> list:
    """Connectors from line ends to the interior of another line within ``tol`` (T-junctions)."""
    import shapely
    from shapely.geometry import LineString

    if tol <= 0 or len(lines) < 2:
        return []
    arr = np.array(lines, dtype=object)
    tree = shapely.STRtree(arr)
    ends = []
    owner = []
    for i, ln in enumerate(lines):
        for c in (ln.coords[0], ln.coords[-1]):
            ends.append(c)
            owner.append(i)
    pts = shapely.points(np.array(ends))
    pi, li = tree.query(pts, predicate="dwithin", distance=tol)
    out = []
    done = set()
    for p, j in zip(pi.tolist(), li.tolist(), strict=True):
        if owner[p] == j or (p, j) in done:
            continue
        done.add((p, j))
        target = arr[j]
        d = target.distance(pts[p])
        if d <= 1e-6:
            continue
        q = shapely.ops.nearest_points(target, pts[p])[0]
        # only when the nearest point is not an endpoint of the target (those are clustered)
        out.append(LineString([ends[p], (q.x, q.y)]))
    return out


def _key(x: float, y: float) -> tuple[float, float]:
    return (round(x, _KEY_DECIMALS), round(y, _KEY_DECIMALS))


# ---------------------------------------------------------------------- main builder
def build_corridors(
    lines: gpd.GeoDataFrame,
    *,
    endpoint_snap_m: float = 100.0,
    carriageway_merge_m: float = 100.0,
    source: str = "lines",
    require_connected: bool = False,
    min_piece_m: float = 1.0,
    interchange_merge_m: float = 1000.0,
) -> CorridorGraph:
    """Build a :class:`CorridorGraph` from expressway lines.

    Parameters
    ----------
    lines
        GeoDataFrame of (Multi)LineStrings with a CRS; optional columns ``highway`` (OSM class,
        string or list), ``ref``, ``name``.
    endpoint_snap_m
        Endpoints within this distance are merged; ends within it of a line are joined to it.
    carriageway_merge_m
        Parallel lines within this distance are merged into one corridor (0 disables).
    source
        Name of the input for messages (a file name).
    require_connected
        Raise :class:`~gzcharge.errors.NetworkError` when the corridors form more than one
        connected component (default: report them in ``components``).
    min_piece_m
        Pieces shorter than this after noding are dropped (slivers).
    interchange_merge_m
        Interchange nodes closer than this along the corridor are one interchange (see
        :func:`merge_interchanges`); 0 keeps every ramp system separate.

    Returns
    -------
    CorridorGraph

    Raises
    ------
    DataError
        Non-line geometries, no CRS, or no expressway lines.
    NetworkError
        Disconnected corridors with ``require_connected=True``.
    """
    import shapely
    from shapely.geometry import LineString

    gdf = _check_lines(lines, source)
    crs = gdf.crs
    hw = gdf["highway"].map(_first_str) if "highway" in gdf.columns else None
    refs = gdf["ref"].map(_first_str) if "ref" in gdf.columns else [None] * len(gdf)
    names = gdf["name"].map(_first_str) if "name" in gdf.columns else [None] * len(gdf)
    geoms = list(gdf.geometry)
    if hw is not None:
        is_link = np.array([str(h).endswith("_link") for h in hw])
    else:
        is_link = np.zeros(len(gdf), dtype=bool)
    main_idx = np.flatnonzero(~is_link)
    link_idx = np.flatnonzero(is_link)
    if len(main_idx) == 0:
        raise DataError(f"{source}: no expressway main lines (only ramps/links) — nothing to build a corridor from")

    # 3. carriageway merge (main lines only), with attribute transfer by nearest source line
    main_lines = [geoms[i] for i in main_idx]
    kept, connectors = _merge_carriageways(main_lines, carriageway_merge_m)

    # 4. endpoint clustering on kept pieces + connectors
    all_lines = [ln for ln in kept + connectors if ln.length > 0]
    ends = np.array([[ln.coords[0], ln.coords[-1]] for ln in all_lines], dtype=float).reshape(-1, 2)
    snapped = _cluster_endpoints(ends, endpoint_snap_m)
    moved = []
    for k, ln in enumerate(all_lines):
        c = list(ln.coords)
        c[0] = tuple(snapped[2 * k])
        c[-1] = tuple(snapped[2 * k + 1])
        if len(c) == 2 and c[0] == c[1]:
            continue
        moved.append(LineString(c))
    moved += _snap_t_junctions(moved, endpoint_snap_m)
    noded = shapely.get_parts(shapely.node(shapely.multilinestrings(moved)))
    noded = [ln for ln in noded if ln.length >= min_piece_m or len(noded) == 1]

    # attributes per piece: ref/name of the nearest source main line (by midpoint)
    src = np.array(main_lines, dtype=object)
    tree = shapely.STRtree(src)
    mids = shapely.line_interpolate_point(np.array(noded, dtype=object), 0.5, normalized=True)
    near = tree.query_nearest(mids, return_distance=False, all_matches=False)[1]
    piece_ref = [refs[main_idx[j]] if not isinstance(refs, list) else None for j in near]
    piece_name = [names[main_idx[j]] if not isinstance(names, list) else None for j in near]
    if isinstance(refs, list):
        piece_ref = [None] * len(noded)
    if isinstance(names, list):
        piece_name = [None] * len(noded)

    # 5. build a multigraph on rounded endpoint keys
    mg = nx.MultiGraph()
    for k, ln in enumerate(noded):
        a = _key(*ln.coords[0])
        b = _key(*ln.coords[-1])
        if a == b:
            continue  # closed sliver/loop piece with a single node: nothing to route
        mg.add_edge(a, b, geometry=ln, start=a, ref=piece_ref[k], name=piece_name[k], link=False)

    # interchanges from link systems
    interchange_keys: set = set()
    link_joins: list[tuple] = []
    if len(link_idx):
        link_lines = shapely.get_parts(shapely.line_merge(shapely.union_all([geoms[i] for i in link_idx])))
        interchange_keys, link_joins = _interchanges(mg, list(link_lines), carriageway_merge_m + endpoint_snap_m)

    g = _contract(mg, interchange_keys)
    for a, b in link_joins:
        if a in g and b in g and not g.has_edge(a, b) and a != b:
            pa, pb = (g.nodes[a]["x"], g.nodes[a]["y"]), (g.nodes[b]["x"], g.nodes[b]["y"])
            ln = LineString([pa, pb])
            g.add_edge(a, b, geometry=ln, start=a, ref=None, name=None, link=True, length_km=ln.length / 1000)

    # renumber nodes deterministically and set kinds/segments
    order = sorted(g.nodes)
    mapping = {k: i for i, k in enumerate(order)}
    g = nx.relabel_nodes(g, mapping)
    for _, _, d in g.edges(data=True):
        d["start"] = mapping[d["start"]]
    for n in g.nodes:
        deg = g.degree(n)
        if g.nodes[n].get("interchange"):
            kind = "interchange"
        elif deg == 1:
            kind = "end"
        elif deg >= 3:
            kind = "junction"
        else:
            kind = "vertex"
        g.nodes[n]["kind"] = kind
        g.nodes[n]["is_interchange"] = bool(g.nodes[n].pop("interchange", False))
    merged = merge_interchanges(g, interchange_merge_m)
    if merged:
        logger.info("%s: %d interchange node(s) merged into nearby ones (within %g m along the corridor)",
                    source, merged, interchange_merge_m)
    _assign_segments(g)
    comps = _components(g)
    cg = CorridorGraph(g, crs, comps, source)
    if len(comps) > 1:
        msg = "; ".join(
            f"component {c['component']}: {c['length_km']:.1f} km, {c['n_nodes']} nodes"
            + (f" ({', '.join(c['refs'][:3])})" if c["refs"] else "")
            for c in comps
        )
        logger.info("%s: corridors form %d disconnected components: %s", source, len(comps), msg)
        if require_connected:
            raise NetworkError(
                f"{source}: the expressways form {len(comps)} disconnected components ({msg}); "
                "add the missing links or lower the requirement"
            )
    return cg


def merge_interchanges(g: nx.Graph, merge_m: float) -> int:
    """Merge interchange nodes within ``merge_m`` of each other along the corridor (in place).

    Clusters are single-linkage over shortest corridor paths (edge ``length_km``); per
    cluster the member nearest to the cluster's mean position (then the smallest id) keeps
    ``is_interchange``/``kind="interchange"``; the others get ``kind`` by degree (``end``,
    ``vertex``, ``junction``). Returns the number of nodes demoted.
    """
    ics = sorted(n for n in g.nodes if g.nodes[n].get("is_interchange"))
    if merge_m <= 0 or len(ics) < 2:
        return 0
    ic_set = set(ics)
    link = nx.Graph()
    link.add_nodes_from(ics)
    for n in ics:
        near = nx.single_source_dijkstra_path_length(g, n, cutoff=merge_m / 1000.0, weight="length_km")
        link.add_edges_from((n, m) for m in near if m in ic_set and m != n)
    demoted = 0
    for comp in nx.connected_components(link):
        if len(comp) < 2:
            continue
        members = sorted(comp)
        xy = np.array([[g.nodes[n]["x"], g.nodes[n]["y"]] for n in members])
        d = np.hypot(*(xy - xy.mean(axis=0)).T)
        keep = members[int(np.argmin(d))]
        for n in members:
            if n == keep:
                continue
            deg = g.degree(n)
            g.nodes[n]["is_interchange"] = False
            g.nodes[n]["kind"] = "end" if deg == 1 else ("junction" if deg >= 3 else "vertex")
            demoted += 1
    return demoted


def _interchanges(mg: nx.MultiGraph, link_lines: list, tol: float) -> tuple[set, list]:
    """Insert one interchange node per ramp system; return keys and cross-component joins."""
    import shapely
    from shapely.geometry import Point

    if mg.number_of_edges() == 0:
        return set(), []
    # ramp systems = connected groups of link lines (touching within 1 m)
    arr = np.array(link_lines, dtype=object)
    tree = shapely.STRtree(arr)
    a, b = tree.query(arr, predicate="dwithin", distance=1.0)
    lg = nx.Graph()
    lg.add_nodes_from(range(len(arr)))
    lg.add_edges_from(zip(a.tolist(), b.tolist(), strict=True))
    edges = list(mg.edges(keys=True))
    egeoms = np.array([mg.edges[e]["geometry"] for e in edges], dtype=object)
    etree = shapely.STRtree(egeoms)
    comp_of = {}
    for ci, comp in enumerate(nx.connected_components(mg)):
        for n in comp:
            comp_of[n] = ci
    # attach points per ramp system: link vertices within tol of the corridor
    wanted: list[tuple[int, float, Any]] = []  # (edge index, position, system id)
    systems: list[list[tuple[int, float]]] = []
    for sys_nodes in sorted(nx.connected_components(lg), key=min):
        coords = np.vstack([np.asarray(arr[i].coords) for i in sorted(sys_nodes)])
        pts = shapely.points(coords)
        ip, ie = etree.query_nearest(pts, max_distance=tol, return_distance=False, all_matches=False)
        if len(ip) == 0:
            continue
        attach = []
        for p, e in zip(ip.tolist(), ie.tolist(), strict=True):
            attach.append((e, float(shapely.line_locate_point(egeoms[e], pts[p]))))
        systems.append(attach)
    joins_raw = []
    for sid, attach in enumerate(systems):
        # group attach points by corridor component; one interchange per component touched
        by_comp: dict[int, list] = {}
        for e, pos in attach:
            u = edges[e][0]
            by_comp.setdefault(comp_of[u], []).append((e, pos))
        reps = []
        for ci in sorted(by_comp):
            pts_xy = np.array([egeoms[e].interpolate(pos).coords[0] for e, pos in by_comp[ci]])
            cen = pts_xy.mean(axis=0)
            best = min(by_comp[ci], key=lambda ep: (egeoms[ep[0]].interpolate(ep[1]).distance(Point(cen)), ep))
            wanted.append((best[0], best[1], (sid, ci)))
            reps.append((sid, ci))
        for r1, r2 in zip(reps[:-1], reps[1:], strict=True):
            joins_raw.append((r1, r2))
    # split edges at the wanted positions
    key_of: dict = {}
    per_edge: dict[int, list] = {}
    for e, pos, tag in wanted:
        per_edge.setdefault(e, []).append((pos, tag))
    inter_keys = set()
    for e in sorted(per_edge):
        u, v, k = edges[e]
        d = dict(mg.edges[u, v, k])
        line = d["geometry"]
        start = d["start"]
        end = v if start == u else u
        total = line.length
        cuts = []
        for pos, tag in sorted(per_edge[e]):
            if pos <= 1.0:
                key = start
            elif pos >= total - 1.0:
                key = end
            else:
                p = line.interpolate(pos)
                key = _key(p.x, p.y)
                cuts.append((pos, key))
            key_of[tag] = key
            inter_keys.add(key)
        if not cuts:
            continue
        mg.remove_edge(u, v, k)
        chain = [(0.0, start), *cuts, (total, end)]
        for (p0, n0), (p1, n1) in zip(chain[:-1], chain[1:], strict=True):
            if p1 - p0 <= 1e-9:
                continue
            mg.add_edge(n0, n1, **{**d, "geometry": _substring(line, p0, p1), "start": n0})
    joins = [(key_of[a], key_of[b]) for a, b in joins_raw if a in key_of and b in key_of]
    return inter_keys, joins


#: two pieces joining the same two nodes are distinct routes (both kept) when they lie farther apart
#: than this; closer pieces are duplicates of one route (unmerged carriageways) and the shorter is kept
_DISTINCT_ROUTE_M = 500.0


def _contract(mg: nx.MultiGraph, keep: set) -> nx.Graph:
    """Contract degree-2 vertices (except ``keep``) into single edges; simple Graph out."""
    from shapely.geometry import LineString

    structural = {n for n in mg.nodes if mg.degree(n) != 2 or n in keep}
    g = nx.Graph()
    for n in mg.nodes:
        if n in structural:
            g.add_node(n, x=float(n[0]), y=float(n[1]), interchange=n in keep)
    visited_edges: set = set()

    def oriented(u, k, w):
        d = mg.edges[u, w, k]
        coords = list(d["geometry"].coords)
        return coords if d["start"] == u else coords[::-1]

    def walk(u, w, k):
        coords = oriented(u, k, w)
        refs: Counter = Counter()
        names: Counter = Counter()
        link = mg.edges[u, w, k].get("link", False)
        seg_len = mg.edges[u, w, k]["geometry"].length
        if mg.edges[u, w, k].get("ref"):
            refs[mg.edges[u, w, k]["ref"]] += seg_len
        if mg.edges[u, w, k].get("name"):
            names[mg.edges[u, w, k]["name"]] += seg_len
        visited_edges.add((min(u, w), max(u, w), k))
        cur = w
        while cur not in structural:
            nxt = [(x, kk) for _, x, kk in mg.edges(cur, keys=True) if (min(cur, x), max(cur, x), kk) not in visited_edges]
            if not nxt:
                break
            x, kk = nxt[0]
            c = oriented(cur, kk, x)
            coords.extend(c[1:])
            ln = mg.edges[cur, x, kk]["geometry"].length
            if mg.edges[cur, x, kk].get("ref"):
                refs[mg.edges[cur, x, kk]["ref"]] += ln
            if mg.edges[cur, x, kk].get("name"):
                names[mg.edges[cur, x, kk]["name"]] += ln
            visited_edges.add((min(cur, x), max(cur, x), kk))
            cur = x
        return cur, coords, refs, names, link

    def add(u, end, coords, refs, names, link):
        ln = LineString(coords)
        if u == end and ln.length < 1.0:
            return
        if u == end:
            # a loop returning to its start: split it at its middle vertex so the Graph can hold it
            mid = len(coords) // 2
            if mid == 0 or mid == len(coords) - 1:
                return
            mkey = _key(*coords[mid])
            g.add_node(mkey, x=float(coords[mid][0]), y=float(coords[mid][1]), interchange=False)
            add(u, mkey, coords[: mid + 1], refs, names, link)
            add(mkey, end, coords[mid:], refs, names, link)
            return
        attrs = {
            "geometry": ln,
            "start": u,
            "length_km": ln.length / 1000.0,
            "ref": refs.most_common(1)[0][0] if refs else None,
            "name": names.most_common(1)[0][0] if names else None,
            "link": link,
        }
        if g.has_edge(u, end):
            other = g.edges[u, end]["geometry"]
            if ln.hausdorff_distance(other) > _DISTINCT_ROUTE_M:
                # a second, distinct route between the same two nodes (a ring road's two halves): the
                # simple Graph cannot hold parallel edges, so split this one at its middle
                mid_pt = ln.interpolate(0.5, normalized=True)
                cut = int(np.searchsorted(np.cumsum([0.0, *np.hypot(*np.diff(np.asarray(coords), axis=0).T)]),
                                          ln.length / 2))
                head = [*coords[:cut], (mid_pt.x, mid_pt.y)]
                tail = [(mid_pt.x, mid_pt.y), *coords[cut:]]
                mkey = _key(mid_pt.x, mid_pt.y)
                g.add_node(mkey, x=float(mid_pt.x), y=float(mid_pt.y), interchange=False)
                add(u, mkey, head, refs, names, link)
                add(mkey, end, tail, refs, names, link)
                return
            if g.edges[u, end]["length_km"] <= attrs["length_km"]:
                return  # a duplicate of the same route (e.g. an unmerged carriageway): keep the shorter
        g.add_edge(u, end, **attrs)

    for u in sorted(structural):
        for _, w, k in sorted(mg.edges(u, keys=True)):
            if (min(u, w), max(u, w), k) in visited_edges:
                continue
            end, coords, refs, names, link = walk(u, w, k)
            add(u, end, coords, refs, names, link)
    # rings with no structural node
    for u, w, k in sorted(mg.edges(keys=True)):
        if (min(u, w), max(u, w), k) in visited_edges:
            continue
        structural.add(u)
        g.add_node(u, x=float(u[0]), y=float(u[1]), interchange=False)
        end, coords, refs, names, link = walk(u, w, k)
        add(u, end, coords, refs, names, link)
    return g


def _assign_segments(g: nx.Graph) -> None:
    """Segment id per edge: maximal chains between nodes of degree != 2 (numbered by first edge)."""
    seen: set = set()
    seg = 0
    breaks = {n for n in g.nodes if g.degree(n) != 2}
    for u, v in sorted((min(a, b), max(a, b)) for a, b in g.edges):
        if (u, v) in seen:
            continue
        stack = [(u, v)]
        while stack:
            a, b = stack.pop()
            e = (min(a, b), max(a, b))
            if e in seen:
                continue
            seen.add(e)
            g.edges[a, b]["segment"] = seg
            for n in (a, b):
                if n in breaks:
                    continue
                for x in g.neighbors(n):
                    f = (min(n, x), max(n, x))
                    if f not in seen:
                        stack.append((n, x))
        seg += 1


def _components(g: nx.Graph) -> list[dict]:
    comps = sorted(nx.connected_components(g), key=lambda c: (-len(c), min(c)))
    out = []
    for i, c in enumerate(comps):
        sub = g.subgraph(c)
        refs = Counter()
        for _, _, d in sub.edges(data=True):
            if d.get("ref"):
                refs[d["ref"]] += d["length_km"]
        out.append(
            {
                "component": i,
                "n_nodes": len(c),
                "length_km": float(sum(d["length_km"] for _, _, d in sub.edges(data=True))),
                "refs": [r for r, _ in refs.most_common()],
                "nodes": sorted(c),
            }
        )
    return out


# ---------------------------------------------------------------------- adapters
def corridors_from_file(path: str | Path, **kwargs: Any) -> CorridorGraph:
    """Read a user expressway line layer (GPKG/SHP/GeoJSON) and build corridors.

    Raises
    ------
    DataError
        The file is missing/unreadable or holds non-line geometries.
    """
    import geopandas as gpd

    p = Path(path)
    if not p.exists():
        raise DataError(f"expressway file {p} does not exist; pass an existing GPKG/SHP/GeoJSON line layer")
    try:
        gdf = gpd.read_file(p)
    except Exception as exc:  # pyogrio raises its own error types
        raise DataError(f"cannot read expressway file {p}: {exc}") from exc
    kwargs.setdefault("source", str(p))
    return build_corridors(gdf, **kwargs)


def corridor_lines_from_osmnx(G: Any, *, classes: tuple[str, ...] = MAIN_CLASSES + LINK_CLASSES) -> gpd.GeoDataFrame:
    """Expressway edges (``motorway``/``trunk`` and their links) of an osmnx graph as lines.

    Edges without geometry get the straight line between their nodes. The result keeps the
    graph's CRS and the columns ``highway``, ``ref``, ``name``.
    """
    import geopandas as gpd
    from shapely.geometry import LineString

    rows = []
    for u, v, d in G.edges(data=True):
        h = _first_str(d.get("highway"))
        if h not in classes:
            continue
        geom = d.get("geometry")
        if geom is None:
            geom = LineString([(G.nodes[u]["x"], G.nodes[u]["y"]), (G.nodes[v]["x"], G.nodes[v]["y"])])
        rows.append({"highway": h, "ref": _first_str(d.get("ref")), "name": _first_str(d.get("name")), "geometry": geom})
    crs = G.graph.get("crs", "EPSG:4326")
    if not rows:
        return gpd.GeoDataFrame({"highway": [], "ref": [], "name": []}, geometry=[], crs=crs)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def corridors_from_edges(edges: Any, xy: Any, *, crs: Any, source: str = "edge list") -> CorridorGraph:
    """Corridor graph from an explicit edge list (an abstract network such as a reference instance).

    Parameters
    ----------
    edges
        DataFrame with columns ``u``, ``v``, ``length_km`` (undirected; a pair listed in both
        directions must have one length). Optional ``ref``.
    xy
        Mapping node id -> ``(x, y)`` in ``crs`` (used for the layers only: lengths are the
        table's ``length_km``, not the drawn distance).
    crs
        Metric CRS of ``xy``.
    source
        Name for messages.

    Raises
    ------
    DataError
        Missing columns, bad lengths, a pair with two different lengths, nodes without ``xy``.
    """
    from shapely.geometry import LineString

    missing = [c for c in ("u", "v", "length_km") if c not in edges.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)} (need u, v, length_km)")
    g = nx.Graph()
    for r in edges.itertuples(index=False):
        u, v, ln = r.u, r.v, float(r.length_km)
        if not np.isfinite(ln) or ln < 0 or u == v:
            raise DataError(f"{source}: edge ({u}, {v}) has length {r.length_km!r}; need a finite length >= 0 between two nodes")
        if g.has_edge(u, v) and abs(g.edges[u, v]["length_km"] - ln) > 1e-9:
            raise DataError(f"{source}: edge ({u}, {v}) is listed with lengths {g.edges[u, v]['length_km']:g} and {ln:g}")
        for n in (u, v):
            if n not in xy:
                raise DataError(f"{source}: node {n} has no position in xy")
            if n not in g:
                g.add_node(n, x=float(xy[n][0]), y=float(xy[n][1]), kind="vertex", is_interchange=False)
        g.add_edge(u, v, length_km=ln, geometry=LineString([xy[u], xy[v]]), start=u,
                   ref=getattr(r, "ref", None), name=None, link=False)
    for n in g.nodes:
        g.nodes[n]["kind"] = "end" if g.degree(n) == 1 else ("junction" if g.degree(n) >= 3 else "vertex")
    _assign_segments(g)
    return CorridorGraph(g, crs, _components(g), source)


# ---------------------------------------------------------------------- station-free stretches
def station_free_zones(graph: nx.Graph, sites: set | list) -> list[set]:
    """Station-free zones: the edge keys of each connected piece of corridor between open sites.

    The zones of :func:`station_free_stretches` without the stretch lengths (linear time):
    edges are joined at every node that is not a site.
    """
    sites = set(sites)
    H = nx.Graph()
    for u, v in graph.edges:
        a = ("t", u, v) if u in sites else u
        b = ("t", v, u) if v in sites else v
        H.add_edge(a, b, key=edge_key(u, v) if _cmp_ok(u, v) else (u, v))
    return [{d["key"] for _, _, d in H.subgraph(c).edges(data=True)} for c in nx.connected_components(H)]


def station_free_stretches(graph: nx.Graph, sites: set | list) -> tuple[dict, list[dict]]:
    """Longest station-free stretch through every edge, and per station-free zone.

    Open sites split the corridor graph into *zones* (connected pieces without a site).
    A stretch runs between two *terminals* of a zone — a site (on the side of the zone) or a
    corridor end (a node of degree 1 that is not a site) — without passing a site. For each
    edge ``(u, v)`` the longest stretch through it is
    ``max_a D[a, u] + length(u, v) + max_b D[b, v]`` over terminals ``a`` whose shortest path
    reaches ``v`` through ``u`` and ``b`` whose shortest path reaches ``u`` through ``v``
    (exact on tree-shaped zones, measured along shortest routes otherwise). A zone with no
    terminal at all (a ring without sites) reports its total length.

    Parameters
    ----------
    graph
        Corridor graph with edge ``length_km``.
    sites
        Open site nodes.

    Returns
    -------
    per_edge : dict
        ``(min(u, v), max(u, v))`` → longest stretch (km) through that edge.
    zones : list of dict
        ``zone``, ``longest_km``, ``length_km``, ``terminals`` (site/end node ids),
        ``edges`` (list of edge keys).
    """
    sites = set(sites)
    H = nx.Graph()
    term_of: dict = {}
    for u, v, d in graph.edges(data=True):
        a = ("t", u, v) if u in sites else u
        b = ("t", v, u) if v in sites else v
        if u in sites:
            term_of[a] = u
        if v in sites:
            term_of[b] = v
        H.add_edge(a, b, length_km=d["length_km"], key=(min(u, v), max(u, v)) if _cmp_ok(u, v) else (u, v))
    per_edge: dict = {}
    zones: list[dict] = []
    for zi, comp in enumerate(sorted(nx.connected_components(H), key=lambda c: sorted(map(str, c))[0])):
        sub = H.subgraph(comp)
        terms = [n for n in comp if n in term_of or (graph.degree(n) == 1 if n in graph else False)]
        terms = sorted(terms, key=str)
        ekeys = [d["key"] for _, _, d in sub.edges(data=True)]
        total = float(sum(d["length_km"] for _, _, d in sub.edges(data=True)))
        if not terms:
            for k in ekeys:
                per_edge[k] = total
            zones.append({"zone": zi, "longest_km": total, "length_km": total, "terminals": [], "edges": ekeys})
            continue
        dist = [nx.single_source_dijkstra_path_length(sub, t, weight="length_km") for t in terms]
        longest = 0.0
        for a, b, d in sub.edges(data=True):
            ln = d["length_km"]
            best_a = max((D[a] for D in dist if D[a] + ln <= D[b] + 1e-9), default=None)
            best_b = max((D[b] for D in dist if D[b] + ln <= D[a] + 1e-9), default=None)
            s = (best_a or 0.0) + ln + (best_b or 0.0)
            per_edge[d["key"]] = s
            longest = max(longest, s)
        zones.append(
            {
                "zone": zi,
                "longest_km": longest,
                "length_km": total,
                "terminals": [term_of.get(t, t) for t in terms],
                "edges": ekeys,
            }
        )
    return per_edge, zones


# ---------------------------------------------------------------------- gap walks (shortest-route trees)
#: safety cap on the work of the gap walks: the sum over starts of the nodes within the walk limit
#: (each costs a few dict operations); far above the Guizhou province skeleton (see
#: benchmarks/bench_gap_windows.py), reached only by a graph that would take minutes
GAP_WORK_CAP = 30_000_000
_ZERO_KM = 1e-6  # a zero-length edge counts as 1 mm, so that distances grow strictly along every edge
_TIGHT_KM = 1e-7  # tolerance of "u is a shortest-route predecessor of v"
_CHUNK = 256  # starts per Dijkstra batch (rows of the dense distance block)


class GapWorkLimitError(DataError):
    """The gap walks would exceed :data:`GAP_WORK_CAP` (raised before the work starts)."""


@dataclass
class _Net:
    """Index form of a corridor graph for the gap walks (nodes in :func:`_sort_key` order)."""

    ids: list
    index: dict
    adj: list  # per node: list of (neighbour, length_km, edge index)
    keys: list  # per edge index: edge_key of the node ids
    csr: Any
    src: np.ndarray  # directed edges (both directions), sorted by source index
    dst: np.ndarray
    length: np.ndarray
    degree: np.ndarray


def _net(graph: nx.Graph) -> _Net:
    from scipy.sparse import csr_matrix

    ids = sorted(graph.nodes, key=_sort_key)
    index = {n: i for i, n in enumerate(ids)}
    n = len(ids)
    adj: list = [[] for _ in range(n)]
    keys: list = []
    us, vs, ls = [], [], []
    for k, (a, b, d) in enumerate(sorted(graph.edges(data="length_km"), key=lambda e: (_sort_key(e[0]), _sort_key(e[1])))):
        i, j = index[a], index[b]
        ln = max(float(d), _ZERO_KM)
        adj[i].append((j, ln, k))
        adj[j].append((i, ln, k))
        keys.append(edge_key(a, b) if _cmp_ok(a, b) else (a, b))
        us.append(i)
        vs.append(j)
        ls.append(ln)
    u, v, ln_ = np.array(us, dtype=np.int64), np.array(vs, dtype=np.int64), np.array(ls, dtype=float)
    src, dst, length = np.r_[u, v], np.r_[v, u], np.r_[ln_, ln_]
    o = np.lexsort((dst, src))
    csr = csr_matrix((length, (src, dst)), shape=(n, n))
    return _Net(ids, index, adj, keys, csr, src[o], dst[o], length[o], np.diff(csr.indptr))


def _trees(net: _Net, starts: list[int], limit_km: float, max_work: int | None):
    """Shortest-route trees from ``starts``: yields ``(s, order, dist, parent)`` per start.

    ``dist`` is the row of Dijkstra distances (``inf`` beyond ``limit_km``), ``order`` the node
    indices within the limit by increasing distance, ``parent`` the predecessor of each node in
    the tree: the *smallest-index* neighbour ``u`` with ``dist[u] + l(u, v) = dist[v]`` (so the
    tree does not depend on the limit or on the solver's tie order). ``parent[s] = -1``.
    """
    from scipy.sparse.csgraph import dijkstra

    n = len(net.ids)
    cap = GAP_WORK_CAP if max_work is None else max_work
    work = 0
    for c0 in range(0, len(starts), _CHUNK):
        chunk = starts[c0:c0 + _CHUNK]
        D = dijkstra(net.csr, directed=False, indices=chunk, limit=limit_km)
        D = np.atleast_2d(D)
        work += int(np.isfinite(D).sum())
        if work > cap:
            raise GapWorkLimitError(
                f"the maximum-gap walks would visit more than {cap:,} nodes (graph of {n} nodes, "
                f"{len(net.keys)} edges, {len(starts)} window starts, walks of {limit_km:g} km); "
                "merge the carriageways of the expressway layer, lower highway.max_gap_km or set "
                "highway.enforce_gap=false"
            )
        Dd = D[:, net.dst]
        tight = np.isfinite(Dd) & (D[:, net.src] + net.length <= Dd + _TIGHT_KM)
        rows, cols = np.nonzero(tight)
        par = np.full(D.shape, n, dtype=np.int64)
        # smallest source per (row, destination): edges are sorted by source, keep the first hit
        flat = rows * n + net.dst[cols]
        first = np.unique(flat, return_index=True)[1]
        par.ravel()[flat[first]] = net.src[cols[first]]
        for r, s in enumerate(chunk):
            d = D[r]
            p = par[r]
            p[s] = -1
            ball = np.flatnonzero(np.isfinite(d))
            order = ball[np.argsort(d[ball], kind="stable")]
            yield s, order.tolist(), d.tolist(), p.tolist()


def _path_to(parent: list, v: int) -> list[int]:
    out = [v]
    while parent[out[-1]] >= 0:
        out.append(parent[out[-1]])
    return out[::-1]


def gap_walks(graph: nx.Graph, starts: Any, *, limit_km: float, marks: Any = (), stops: Any = (),
              max_work: int | None = None):
    """Walks of the maximum-gap rule, one by one: the definition shared by the gap windows and the report.

    **Definition (shortest-route walks).** From a start ``s`` let ``T_s`` be a shortest-route tree
    (Dijkstra; ties broken towards the neighbour first in node order). A walk leaves ``s`` and
    follows ``T_s`` away from it, branching where the tree branches, so that every node it
    reaches it reaches by a shortest route. At a node ``u`` every corridor edge ``(u, w)`` that is
    not in the tree (``w`` is reached from ``s`` another way) makes the walk *close the loop*: it
    drives ``u → w`` and then back to ``s`` along ``w``'s tree route — around the cycle and back
    along the common stem, so a ring road is measured around, not along its shorter side (a
    "lollipop" of stem + cycle + stem). A walk never turns back on the edge just driven. It ends

    * at a corridor end (a node of degree 1) — ``"end"``;
    * at a node of ``stops`` (open sites, for the report), also on the way back of a loop — ``"stop"``;
    * where it would pass ``limit_km`` on its way out — ``"limit"`` (its length is then the distance
      to the far end of the edge on which the limit falls, > ``limit_km``);
    * back at ``s`` after closing a loop — ``"loop"`` (length = the loop's whole length, which may
      exceed ``limit_km``: a loop's way back is walked to its end).

    Why not every simple path (the first definition): the number of simple paths grows
    exponentially with the cycles of the graph — a skeleton with unmerged carriageways and
    interchange ramps (安顺市: 278 nodes, 405 edges) has more than can be enumerated — and
    finding the longest station-free simple path is NP-hard in general. Shortest-route walks are
    what traffic drives; on a tree-shaped corridor network (every path is a shortest route) and
    on a ring with one access they are exactly the simple paths and loops of the first
    definition. Per start there is at most one walk per tree branch and two per non-tree edge
    within the limit: ``O(starts × edges within the limit)`` walks in all.

    Parameters
    ----------
    graph
        Corridor graph (edge ``length_km``).
    starts
        Start nodes.
    limit_km
        Walk length at which a walk stops (``G``).
    marks
        Nodes recorded in ``found`` when met within ``(0, limit_km]`` (candidates, for windows).
    stops
        Nodes at which a walk ends (open sites, for the report).
    max_work
        Cap on the nodes visited (default :data:`GAP_WORK_CAP`).

    Yields
    ------
    start, nodes, length_km, found, how
        The start, the nodes walked, the walk length, the marked nodes met within
        ``(0, limit_km]`` in walk order and how the walk ended.

    Raises
    ------
    GapWorkLimitError
        The walks would visit more than ``max_work`` nodes (a :class:`DataError`).

    Notes
    -----
    This generator spells every walk out (``O(walks × walk length)``); :func:`gap_stretches`
    and :func:`gap_window_sets` compute the same per-edge maxima and window sets in one pass
    over each tree.
    """
    net = _net(graph)
    ids = net.ids
    mk = {net.index[n] for n in marks if n in net.index}
    st = {net.index[n] for n in stops if n in net.index}
    eps = _GAP_EPS * max(1.0, limit_km)
    lim = limit_km + eps
    s_idx = [net.index[n] for n in starts if n in net.index]
    for s, order, d, par in _trees(net, s_idx, lim, max_work):
        children: dict = {}
        for v in order[1:]:
            children.setdefault(par[v], []).append(v)
        stack = [(s, (s,), ())]
        while stack:
            v, path, found = stack.pop()
            if v != s and v in st:
                yield ids[s], [ids[x] for x in path], d[v], [ids[x] for x in found], "stop"
                continue
            if v != s and net.degree[v] == 1:
                yield ids[s], [ids[x] for x in path], d[v], [ids[x] for x in found], "end"
                continue
            for w, ln, _k in sorted(net.adj[v], reverse=True):
                if w == par[v]:
                    continue
                x = d[v] + ln
                if par[w] == v:
                    stack.append((w, (*path, w), found + ((w,) if w in mk else ())))
                elif x > lim:
                    yield ids[s], [ids[q] for q in (*path, w)], x, [ids[q] for q in found], "limit"
                else:  # close the loop: u -> w, then w's tree route back to s
                    nodes, f, pos, cur = [*path, w], list(found) + ([w] if w in mk else []), x, w
                    how = "stop" if w in st else "loop"
                    while how == "loop" and cur != s:
                        nxt = par[cur]
                        pos += d[cur] - d[nxt]
                        nodes.append(nxt)
                        if nxt in mk and pos <= lim and nxt != s:
                            f.append(nxt)
                        if nxt == s and s in mk and pos <= lim:
                            f.append(s)
                        cur = nxt
                        if cur != s and cur in st:
                            how = "stop"
                    yield ids[s], [ids[q] for q in nodes], pos, [ids[q] for q in f], how


def _route(c: int, d: list, par: list, last: dict, thr: float = -1.0) -> list[int]:
    """Candidates on the tree route from ``c`` up to the start whose distance is at least ``thr``."""
    out = []
    while c >= 0 and d[c] >= thr:
        out.append(c)
        c = last[par[c]]
    return out


def gap_window_sets(graph: nx.Graph, candidates: Any, *, max_gap_km: float,
                    max_work: int | None = None) -> tuple[list[tuple], list[dict]]:
    """Candidate sets of the gap windows: the :func:`gap_walks` from every candidate and corridor end.

    A walk longer than ``G = max_gap_km`` (it passes ``G`` on its way out, or its loop is longer
    than ``G``) needs an open candidate among those it meets within ``(0, G]``. Computed in one
    pass per start, no walk spelled out: a walk that passes ``G`` on its way out has the window
    "the candidates on the tree route to the last candidate ``c`` before the limit", so it is
    named by ``c``; a window named by ``c`` whose route holds another such ``c'`` is implied by
    it and dropped, and so is a loop whose way out holds one. A loop longer than ``G`` has the
    candidates of its way out plus those of its way back within ``G``.

    Returns
    -------
    sets
        Distinct non-empty candidate sets (tuples of node ids, in no particular order; the
        caller drops implied ones).
    unmet
        Windows without any candidate: ``start``, ``path`` (nodes to where the limit falls),
        ``reach_km`` — one per start and first step.
    """
    net = _net(graph)
    ids = net.ids
    cand = {net.index[n] for n in candidates if n in net.index}
    ends = set(np.flatnonzero(net.degree == 1).tolist())
    s_idx = sorted(cand | ends)
    eps = _GAP_EPS * max(1.0, max_gap_km)
    lim = max_gap_km + eps
    raw: set = set()
    unmet: list[dict] = []
    unmet_seen: set = set()

    def no_candidate(s: int, par: list, v: int, w: int) -> None:
        path = _path_to(par, v) + [w]
        key = (s, path[1])
        if key not in unmet_seen:
            unmet_seen.add(key)
            unmet.append({"start": ids[s], "path": [ids[q] for q in path], "reach_km": max_gap_km})

    for s, order, d, par in _trees(net, s_idx, lim, max_work):
        last: dict = {s: -1}  # deepest candidate on the tree route to the node (s excluded), -1 for none
        for v in order[1:]:
            last[v] = v if v in cand else last[par[v]]
        cross: set = set()  # walks passing G: their window is the route's candidates up to last[v]
        loops: list = []
        for v in order:
            if v != s and net.degree[v] == 1:
                continue  # a corridor end within G: nothing needed
            dv, pv = d[v], par[v]
            for w, ln, _k in net.adj[v]:
                if w == pv or par[w] == v:
                    continue
                x = dv + ln
                if x > lim:
                    if last[v] >= 0:
                        cross.add(last[v])
                    else:
                        no_candidate(s, par, v, w)
                elif x + d[w] > lim:  # a loop longer than G (one closing within G needs nothing)
                    loops.append((v, w, x + d[w] - lim))
        # a window whose route holds a smaller window (a candidate above it in ``cross``) is implied
        covered: dict = {s: False}
        for v in order[1:]:
            covered[v] = covered[par[v]] or v in cross

        for c in cross:
            if not covered[par[c]]:
                raw.add(frozenset(_route(c, d, par, last)))
        for v, w, thr in loops:
            c = last[v]
            if c >= 0 and covered[c]:
                continue
            found = _route(c, d, par, last) + _route(last[w], d, par, last, thr)  # out to v, back within G
            if found:
                raw.add(frozenset(found))
            else:
                no_candidate(s, par, v, w)
    return [tuple(ids[i] for i in t) for t in raw], unmet


def gap_stretches(graph: nx.Graph, sites: Any, *, starts: Any, max_gap_km: float,
                  max_work: int | None = None) -> dict:
    """Longest station-free stretch (km) through every edge, by the definition of the gap windows.

    The value of an edge is the longest :func:`gap_walks` walk through it from ``starts``
    (corridor ends and candidates, as in the windows, plus the open sites) that meets no open
    site before its end, walked up to ``2 × max_gap_km`` (beyond that a walk's length is a lower
    bound). A window of the model (walks of ``max_gap_km`` from the same starts, same trees)
    holds no open site exactly when the walk extending it is longer than ``max_gap_km``, so
    ``value > max_gap_km`` is the model's gap rule violated on that edge: a ring road is measured
    around the ring, not along its shorter side. Edges no walk reaches (farther than
    ``2 × max_gap_km`` from every start) get the shortest-route stretch of
    :func:`station_free_stretches` (the zone's whole length for a zone without terminals).

    Computed in one pass per start tree: each walk's length is attached to the node where it
    leaves the tree and carried up to the start as a running maximum (and, for a loop's way
    back, up from the far end of the closing edge to the first open site); the per-edge value is
    the maximum over starts. ``O(starts × nodes within 2 G)``.

    Parameters
    ----------
    graph
        Corridor graph with edge ``length_km``.
    sites
        Open site nodes.
    starts
        Window starts (candidate nodes; corridor ends are added).
    max_gap_km
        ``G``.
    max_work
        Cap on the nodes visited (default :data:`GAP_WORK_CAP`).

    Returns
    -------
    dict
        ``edge_key(u, v)`` → km.
    """
    net = _net(graph)
    n = len(net.ids)
    site = np.zeros(n, dtype=bool)
    for q in sites:
        if q in net.index:
            site[net.index[q]] = True
    site_l = site.tolist()
    deg = net.degree.tolist()
    ends = set(np.flatnonzero(net.degree == 1).tolist())
    s_idx = sorted({net.index[q] for q in [*starts, *sites] if q in net.index} | ends)
    eps = _GAP_EPS * max(1.0, 2.0 * max_gap_km)
    lim = 2.0 * max_gap_km + eps
    best = np.full(len(net.keys), -np.inf)
    ninf = -np.inf
    for s, order, d, par in _trees(net, s_idx, lim, max_work):
        fval: dict = {}
        rval: dict = {}
        emax: dict = {}
        last: dict = {s: -1}  # deepest open site on the tree route (s excluded), -1 for none
        reach: dict = {s: True}  # no open site strictly between s and the node
        for v in order[1:]:
            p = par[v]
            last[v] = v if site_l[v] else last[p]
            reach[v] = reach[p] and (p == s or not site_l[p])
        for v in order:
            if not reach[v]:
                continue
            dv = d[v]
            if v != s and (site_l[v] or deg[v] == 1):
                if dv > fval.get(v, ninf):
                    fval[v] = dv  # a walk stops at a site or ends at a corridor end
                continue
            pv = par[v]
            fv = fval.get(v, ninf)
            for w, ln, k in net.adj[v]:
                if w == pv or par[w] == v:
                    continue
                x = dv + ln
                if x > lim or site_l[w]:
                    val = x  # passes the limit on this edge, or stops at the site w
                else:
                    y = last[w]
                    val = x + d[w] - (d[y] if y >= 0 else 0.0)  # loop: back to the first site, or to s
                    if val > rval.get(w, ninf):
                        rval[w] = val
                if val > fv:
                    fv = val
                if val > emax.get(k, ninf):
                    emax[k] = val
            if fv > ninf:
                fval[v] = fv
        # carry the values up the tree: forward parts to s, loop returns up to the first site
        kpar: dict = {}
        for v in order[1:]:
            p = par[v]
            for w, _ln, k in net.adj[v]:
                if w == p:
                    kpar[v] = k
                    break
        fsub: dict = {}
        racc: dict = {}
        for v in reversed(order):
            if v == s:
                break
            p, k = par[v], kpar[v]
            f = max(fval.get(v, ninf), fsub.get(v, ninf))
            r = max(rval.get(v, ninf), racc.get(v, ninf))
            e = max(f, r, emax.get(k, ninf))
            if e > ninf:
                emax[k] = e
            if f > fsub.get(p, ninf):
                fsub[p] = f
            if r > ninf and p != s and not site_l[p] and r > racc.get(p, ninf):
                racc[p] = r
        for k, val in emax.items():
            if val > best[k]:
                best[k] = val
    per_edge = {net.keys[k]: float(best[k]) for k in range(len(net.keys)) if best[k] > -np.inf}
    if len(per_edge) < len(net.keys):
        sf, _ = station_free_stretches(graph, set(sites))
        for k in net.keys:
            if k not in per_edge and k in sf:
                per_edge[k] = sf[k]
    return per_edge


def _sort_key(n: Any) -> tuple:
    return (0, n, "") if isinstance(n, (int, np.integer)) else (1, 0, str(n))


_GAP_EPS = 1e-6


def _cmp_ok(u: Any, v: Any) -> bool:
    try:
        _ = u < v
        return True
    except TypeError:
        return False


def edge_key(u: Any, v: Any) -> tuple:
    """Canonical key of an undirected edge."""
    return (min(u, v), max(u, v))
