"""Projected road network: lengths, speeds, travel times, components and snapping.

:class:`RoadNetwork` wraps an osmnx graph projected to a metric CRS (CGCS2000 Gauss-Krüger
for Guizhou, :func:`gzcharge.crs.metric_crs_for`) and exposes what later stages need as
arrays with ids: a sparse adjacency matrix for :mod:`gzcharge.distances`
(:meth:`RoadNetwork.csgraph`), snapping of points to nodes (:meth:`RoadNetwork.snap`), the
strongly connected components (:meth:`RoadNetwork.components`), the expressway subgraph
(:meth:`RoadNetwork.expressway`) and export layers (:meth:`RoadNetwork.layers`).

Speeds
------
``speed_kph`` of an edge is its posted ``maxspeed`` × :data:`MAXSPEED_FACTOR` when the tag is
present and parseable (``"80"``, ``"80 km/h"``, ``"50 mph"``; lists → mean), otherwise the
class default in :data:`DEFAULT_SPEEDS_KPH`. The defaults are effective free-flow speeds for
Guizhou's mountainous roads, below the design speeds of JTG B01-2014 (《公路工程技术标准》):
expressways (高速公路, OSM ``motorway``) are designed for 80–120 km/h and mostly signed 80–100
in Guizhou's mountains → 90; national roads (国道, usually ``trunk``; design 60–100 as
first/second-class highways, winding through towns) → 60; provincial roads (省道,
``primary``) → 50; county roads (县道, ``secondary``; design 40–60) → 40; township roads
(乡道, ``tertiary``; design 30–40) → 30; village and unclassified roads (四级, design 20–30)
→ 25; residential 20; service 15; living_street 10. Ramps (``*_link``) run at 40 (motorway)
to 20 (tertiary). ``travel_time_s = length_m / (speed_kph / 3.6)``.

Components
----------
Component ids are those of the **strongly** connected components, numbered by size (0 = the
largest). By default points snap to nodes of component 0 only, so that every snapped pair can
reach each other; points whose nearest node lies in another component are reported (columns
``nearest_any_node``, ``nearest_any_m``, ``nearest_in_small_component``), never dropped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gzcharge.crs import WGS84, metric_crs_for
from gzcharge.errors import ConfigError, DataError, NetworkError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import networkx as nx
    import scipy.sparse as sp
    from shapely.geometry.base import BaseGeometry

logger = logging.getLogger(__name__)

#: effective free-flow speeds (km/h) by OSM highway class — see the module docstring
DEFAULT_SPEEDS_KPH: dict[str, float] = {
    "motorway": 90.0,
    "motorway_link": 40.0,
    "trunk": 60.0,
    "trunk_link": 35.0,
    "primary": 50.0,
    "primary_link": 30.0,
    "secondary": 40.0,
    "secondary_link": 25.0,
    "tertiary": 30.0,
    "tertiary_link": 20.0,
    "unclassified": 25.0,
    "road": 25.0,
    "residential": 20.0,
    "service": 15.0,
    "living_street": 10.0,
}
#: speed for a class not in the table (e.g. a class a user's filter let in)
FALLBACK_SPEED_KPH = 25.0
#: effective speed as a share of the posted limit where ``maxspeed`` is tagged
MAXSPEED_FACTOR = 0.9
#: OSM classes that form the expressway subgraph (高速公路 and 国道-class trunk roads + ramps)
EXPRESSWAY_CLASSES: tuple[str, ...] = ("motorway", "motorway_link", "trunk", "trunk_link")
#: rank of classes when a simplified edge carries several (lower = more important)
_CLASS_RANK = {c: i for i, c in enumerate(DEFAULT_SPEEDS_KPH)}


ProgressCallback = Callable[[str, float], None]

from gzcharge.sources.pbf import MAXSPEED_RANGE_KPH, parse_maxspeed  # noqa: E402,F401  (tag parsing lives with the reader)


def _main_class(value: Any) -> str:
    """The most important highway class of an edge (simplified edges may carry a list)."""
    if isinstance(value, list | tuple):
        vals = [str(v) for v in value]
        return min(vals, key=lambda c: _CLASS_RANK.get(c, len(_CLASS_RANK)))
    return str(value) if value is not None else "road"


def _class_speed(value: Any, speeds: Mapping[str, float]) -> float:
    """Class default speed; for a list of classes the mean of their defaults (as osmnx does)."""
    vals = value if isinstance(value, list | tuple) else [value]
    return float(np.mean([speeds.get(str(v), FALLBACK_SPEED_KPH) for v in vals]))


def _as_text(value: Any) -> str | None:
    """Flatten list-valued OSM attributes (from simplification) for export: ``a;b``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, list | tuple):
        return ";".join(dict.fromkeys(str(v) for v in value))
    return str(value)


def default_metric_crs(lon: float, lat: float) -> str:
    """Metric CRS for a region centred at ``lon``/``lat`` (see :func:`gzcharge.crs.metric_crs_for`)."""
    return metric_crs_for(lon, lat)


class RoadNetwork:
    """A projected drivable road graph with edge lengths, speeds and travel times.

    Build it with :meth:`from_graph` (an osmnx graph), :meth:`from_osm_file` (arrays, for big
    files) or :func:`build_network`. Every method works on arrays; the ``networkx`` graph of an
    array-built network is made only when :attr:`graph` is asked for.

    Attributes
    ----------
    graph
        ``networkx.MultiDiGraph`` projected to ``crs``; node ids are OSM node ids; edges carry
        ``length_m``, ``speed_kph``, ``travel_time_s``, ``highway`` (main class),
        ``is_expressway``. Built on first use for an array network (osmnx-compatible:
        ``length``, ``osmid``, ``oneway``, ``geometry`` of merged edges).
    crs
        Metric CRS of ``graph`` (EPSG string).
    meta
        Provenance (source file or endpoint, buffer, counts).
    """

    def __init__(self, graph: nx.MultiDiGraph | None = None, crs: str = "", meta: dict | None = None, *,
                 arrays: _Arrays | None = None) -> None:
        if graph is None and arrays is None:
            raise ValueError("RoadNetwork needs a graph or arrays")
        self._graph = graph
        self.crs = crs
        self.meta = dict(meta or {})
        self._arrays = arrays
        self._cache: dict = {}

    def __repr__(self) -> str:
        kind = "graph" if self._arrays is None else "arrays"
        return f"RoadNetwork({len(self.node_ids)} nodes, {len(self.edge_table())} edges, {self.crs}, {kind})"

    @property
    def graph(self) -> nx.MultiDiGraph:
        """The projected ``networkx.MultiDiGraph`` (made from the arrays on first use)."""
        if self._graph is None:
            self._graph = self._arrays.to_networkx(self.crs, self.meta)  # type: ignore[union-attr]
        return self._graph

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_graph(
        cls,
        G: nx.MultiDiGraph,
        *,
        crs: str | None = None,
        speeds_kph: Mapping[str, float] | None = None,
        maxspeed_factor: float = MAXSPEED_FACTOR,
    ) -> RoadNetwork:
        """Project an osmnx graph and compute lengths, speeds and travel times.

        Parameters
        ----------
        G
            osmnx ``MultiDiGraph`` in WGS-84 (``G.graph["crs"]``) with edge ``length`` in metres
            (as osmnx builds it). A graph already in a metric CRS is accepted when ``crs``
            is that CRS or ``None``.
        crs
            Target metric CRS; ``None`` → :func:`default_metric_crs` of the graph's centre.
        speeds_kph
            Overrides of :data:`DEFAULT_SPEEDS_KPH` by class.
        maxspeed_factor
            Effective speed as a share of a tagged ``maxspeed``.
        """
        import osmnx as ox
        import pyproj

        if G.number_of_nodes() == 0 or G.number_of_edges() == 0:
            raise NetworkError("road graph is empty (no nodes or no edges); check the region and the OSM data")
        src_crs = pyproj.CRS.from_user_input(G.graph.get("crs", WGS84))
        if src_crs.is_geographic:
            xs = np.fromiter((d["x"] for _, d in G.nodes(data=True)), float, len(G))
            ys = np.fromiter((d["y"] for _, d in G.nodes(data=True)), float, len(G))
            target = crs or default_metric_crs(float(np.median(xs)), float(np.median(ys)))
            try:
                target_crs = pyproj.CRS.from_user_input(target)
            except pyproj.exceptions.CRSError as e:
                raise ConfigError(f"unknown CRS {target!r}: {e}") from e
            if target_crs.is_geographic:
                raise ConfigError(f"CRS {target!r} is geographic; the network needs a metric (projected) CRS")
            Gp = ox.projection.project_graph(G, to_crs=target_crs)
            for n, d in Gp.nodes(data=True):
                src = G.nodes[n]
                d["lon"], d["lat"] = float(src["x"]), float(src["y"])
        else:
            if crs is not None and pyproj.CRS.from_user_input(crs) != src_crs:
                raise ConfigError(f"graph is already projected to {src_crs.to_string()}, not {crs}")
            target = crs or src_crs.to_string()
            Gp = G.copy()
            if not all("lon" in d for _, d in Gp.nodes(data=True)):
                to_ll = pyproj.Transformer.from_crs(src_crs, WGS84, always_xy=True)
                nodes = list(Gp.nodes)
                x = np.array([Gp.nodes[n]["x"] for n in nodes])
                y = np.array([Gp.nodes[n]["y"] for n in nodes])
                lon, lat = to_ll.transform(x, y)
                for n, a, b in zip(nodes, lon, lat, strict=True):
                    Gp.nodes[n]["lon"], Gp.nodes[n]["lat"] = float(a), float(b)
        speeds = {**DEFAULT_SPEEDS_KPH, **(speeds_kph or {})}
        _annotate_edges(Gp, speeds, maxspeed_factor)
        Gp.graph["crs"] = target
        meta = {k: v for k, v in G.graph.items() if k in ("source", "region_buffer_m", "created_date", "created_with")}
        net = cls(graph=Gp, crs=str(target), meta=meta)
        logger.info("RoadNetwork: %d nodes, %d edges in %s", len(Gp), Gp.number_of_edges(), target)
        return net

    @classmethod
    def from_osm_file(
        cls,
        path: str | Path,
        *,
        polygon: BaseGeometry | None = None,
        buffer_m: float | None = None,
        crs: str | None = None,
        speeds_kph: Mapping[str, float] | None = None,
        maxspeed_factor: float = MAXSPEED_FACTOR,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
        progress: ProgressCallback | None = None,
    ) -> RoadNetwork:
        """Read a local OSM file straight into an array network (no per-node Python objects).

        The same drivable roads, clipping and simplification as
        :func:`gzcharge.sources.osm.graph_from_file` + :meth:`from_graph`, built with
        :mod:`gzcharge.sources.pbf` (see there for the few deliberate differences). The
        drivable ways of the file are cached (``cache_dir``, default
        :func:`gzcharge.sources.pbf.default_cache_dir`), so a second run reads no OSM data.

        Parameters
        ----------
        path
            ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file.
        polygon
            Region boundary in WGS-84; ``None`` keeps the whole file.
        buffer_m
            Roads up to this far outside the region are kept (default
            :data:`gzcharge.sources.osm.DEFAULT_BUFFER_M`).
        crs, speeds_kph, maxspeed_factor
            As in :meth:`from_graph`.
        cache_dir, use_cache
            Where the drivable ways of the file are cached, and whether to use the cache.
        progress
            Optional callback ``progress(message, fraction_done)``.

        Raises
        ------
        DataError
            The file is missing, empty or corrupt, or has no drivable road inside the region.
        """
        import shapely

        from gzcharge.sources import osm, pbf

        say = progress or (lambda msg, frac: None)
        p = osm._check_file(path)
        buf = osm.DEFAULT_BUFFER_M if buffer_m is None else float(buffer_m)
        say(f"reading drivable roads of {p.name}", 0.0)
        ways = pbf.cached_drivable_ways(p, cache_dir=cache_dir, use_cache=use_cache)
        if len(ways) == 0:
            what = ("highway ways" if ways.n_highway == 0
                    else f"drivable roads (it has {ways.n_highway} other highway ways)")
            raise DataError(f"OSM file {p} has no {what}; it needs roads tagged highway=motorway…residential")
        ok = np.isfinite(ways.lon)
        if not ok.any():
            raise DataError(f"OSM file {p}: none of the nodes of its roads are in the file; the extract is incomplete")
        file_bounds = (ways.lon[ok].min(), ways.lat[ok].min(), ways.lon[ok].max(), ways.lat[ok].max())
        poly_buff = None
        if polygon is not None:
            polygon = osm._check_polygon(polygon)
            poly_buff = osm.buffer_polygon(polygon, buf)
            if not shapely.intersects(poly_buff, shapely.box(*file_bounds)):
                raise DataError(
                    f"OSM file {p} has no drivable roads inside the region: region "
                    f"{osm._fmt_bounds(polygon.bounds)} (buffered by {buf:g} m), file covers "
                    f"{osm._fmt_bounds(file_bounds)}; use an extract that covers the region"
                )
        speeds = {**DEFAULT_SPEEDS_KPH, **(speeds_kph or {})}
        class_speed = np.array([speeds.get(h, FALLBACK_SPEED_KPH) for h in osm.DRIVE_HIGHWAYS])
        ms = ways.maxspeed_kph.astype(float)
        way_speed = np.where(np.isnan(ms), class_speed[ways.highway], ms * maxspeed_factor)
        say("merging road chains", 0.6)
        g = pbf.build_road_graph(ways, polygon=poly_buff, way_speed_kph=way_speed, source=f"OSM file {p}")
        say("projecting", 0.85)
        target = _check_metric_crs(crs or default_metric_crs(float(np.median(g.lon)), float(np.median(g.lat))))
        x, y = _transformer(WGS84, target).transform(g.lon, g.lat)
        speed = np.where(g.length_m > 0, g.length_m / np.where(g.travel_time_s > 0, g.travel_time_s, 1.0) * 3.6,
                         way_speed[g.way])
        arrays = _Arrays(
            g=g, x=np.asarray(x, float), y=np.asarray(y, float), speed_kph=speed, way_id=ways.way_id,
            way_oneway=ways.oneway, way_maxspeed=ways.maxspeed, way_name=ways.name, way_ref=ways.ref,
        )
        meta = {"source": str(p), "region_buffer_m": buf}
        net = cls(crs=str(target), meta=meta, arrays=arrays)
        say(f"{g.n_nodes:,} nodes, {g.n_edges:,} edges", 1.0)
        logger.info("RoadNetwork.from_osm_file(%s): %d nodes, %d edges in %s", p, g.n_nodes, g.n_edges, target)
        return net

    # ------------------------------------------------------------------ arrays
    @property
    def node_ids(self) -> pd.Index:
        """OSM node ids in the fixed order used by :meth:`csgraph` and the node arrays."""
        if "node_ids" not in self._cache:
            if self._arrays is not None:
                self._cache["node_ids"] = pd.Index(self._arrays.g.node_id, name="node_id")
            else:
                self._cache["node_ids"] = pd.Index(np.fromiter(self.graph.nodes, np.int64, len(self.graph)), name="node_id")
        return self._cache["node_ids"]

    def node_xy(self) -> np.ndarray:
        """``(n, 2)`` metric coordinates of the nodes, in :attr:`node_ids` order."""
        if "xy" not in self._cache and self._arrays is not None:
            self._cache["xy"] = np.column_stack([self._arrays.x, self._arrays.y])
        if "xy" not in self._cache:
            G = self.graph
            self._cache["xy"] = np.array([(G.nodes[n]["x"], G.nodes[n]["y"]) for n in self.node_ids], dtype=float)
        return self._cache["xy"]

    def edge_table(self) -> pd.DataFrame:
        """One row per edge: ``u``, ``v``, ``key``, ``length_m``, ``speed_kph``, ``travel_time_s``, ``highway``, ``is_expressway``."""
        if "edge_table" not in self._cache and self._arrays is not None:
            self._cache["edge_table"] = self._arrays.edge_table()
        if "edge_table" not in self._cache:
            rows = [
                (u, v, k, d["length_m"], d["speed_kph"], d["travel_time_s"], d["highway"], d["is_expressway"])
                for u, v, k, d in self.graph.edges(keys=True, data=True)
            ]
            self._cache["edge_table"] = pd.DataFrame.from_records(
                rows, columns=["u", "v", "key", "length_m", "speed_kph", "travel_time_s", "highway", "is_expressway"]
            )
        return self._cache["edge_table"]

    def csgraph(self, weight: str = "length_m") -> tuple[sp.csr_array, pd.Index]:
        """Directed sparse adjacency matrix for :mod:`scipy.sparse.csgraph`.

        Parameters
        ----------
        weight
            ``"length_m"`` or ``"travel_time_s"``.

        Returns
        -------
        (scipy.sparse.csr_array, pandas.Index)
            ``A[i, j]`` = the smallest ``weight`` over the parallel edges i → j (self-loops
            dropped; zero-length edges are stored as explicit zeros, which csgraph treats as
            edges); the index maps positions to OSM node ids.
        """
        import scipy.sparse as sp

        if weight not in ("length_m", "travel_time_s"):
            raise ConfigError(f"unknown edge weight {weight!r}; use 'length_m' or 'travel_time_s'")
        key = ("csgraph", weight)
        if key not in self._cache:
            ids = self.node_ids
            et = self.edge_table()
            u = ids.get_indexer(et["u"])
            v = ids.get_indexer(et["v"])
            w = et[weight].to_numpy(float)
            keep = u != v
            u, v, w = u[keep], v[keep], w[keep]
            order = np.lexsort((w, v, u))
            u, v, w = u[order], v[order], w[order]
            first = np.r_[True, (u[1:] != u[:-1]) | (v[1:] != v[:-1])]
            n = len(ids)
            A = sp.csr_array((w[first], (u[first], v[first])), shape=(n, n))
            # keep explicit zeros: no sum_duplicates collapse needed (pairs are unique)
            self._cache[key] = A
        return self._cache[key], self.node_ids

    # ------------------------------------------------------------------ components
    def _component_labels(self) -> np.ndarray:
        """Strong component id per node (0 = largest), in :attr:`node_ids` order."""
        if "labels" not in self._cache:
            from scipy.sparse.csgraph import connected_components

            A, _ = self.csgraph("length_m")
            A = A.copy()
            A.data = np.ones_like(A.data)  # explicit zeros must count as edges
            _, lab = connected_components(A, directed=True, connection="strong")
            sizes = np.bincount(lab)
            order = np.argsort(-sizes, kind="stable")
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            self._cache["labels"] = rank[lab]
        return self._cache["labels"]

    @property
    def component(self) -> pd.Series:
        """Strongly connected component id per node id (0 = largest)."""
        return pd.Series(self._component_labels(), index=self.node_ids, name="component")

    def components(self) -> pd.DataFrame:
        """Summary of strongly connected components: ``n_nodes``, ``share_nodes``, ``n_edges``, ``length_km``, ``is_largest``."""
        lab = self._component_labels()
        ids = self.node_ids
        et = self.edge_table()
        cu = lab[ids.get_indexer(et["u"])]
        cv = lab[ids.get_indexer(et["v"])]
        inside = cu == cv
        k = int(lab.max()) + 1
        n_nodes = np.bincount(lab, minlength=k)
        n_edges = np.bincount(cu[inside], minlength=k)
        length_km = np.bincount(cu[inside], weights=et["length_m"].to_numpy()[inside], minlength=k) / 1000.0
        df = pd.DataFrame(
            {
                "n_nodes": n_nodes,
                "share_nodes": n_nodes / n_nodes.sum(),
                "n_edges": n_edges,
                "length_km": length_km,
                "is_largest": np.arange(k) == 0,
            },
            index=pd.RangeIndex(k, name="component"),
        )
        return df

    # ------------------------------------------------------------------ snapping
    def snap(
        self,
        points: gpd.GeoDataFrame | gpd.GeoSeries | np.ndarray,
        *,
        ids: Any = None,
        crs: str = WGS84,
        max_snap_m: float | None = None,
        largest_only: bool = True,
    ) -> pd.DataFrame:
        """Snap points to their nearest usable node.

        Parameters
        ----------
        points
            Point GeoDataFrame/GeoSeries (any CRS; index = point ids) or an ``(n, 2)`` array of
            ``x, y`` in ``crs`` (lon, lat by default) with ``ids``.
        ids
            Point ids for an array input (default ``0..n-1``).
        crs
            CRS of an array input.
        max_snap_m
            Points farther than this from their node are flagged ``beyond_max_snap`` (kept).
        largest_only
            Snap to nodes of the largest strongly connected component (default), so all
            snapped points can reach each other.

        Returns
        -------
        pandas.DataFrame
            Indexed by point id: ``node_id``, ``snap_m``, ``component``, ``beyond_max_snap``,
            ``nearest_any_node``, ``nearest_any_m``, ``nearest_in_small_component``. Every input
            point has a row.
        """
        from scipy.spatial import cKDTree

        xy, pid = self._points_xy(points, ids=ids, crs=crs)
        nxy = self.node_xy()
        lab = self._component_labels()
        node_ids = self.node_ids.to_numpy()
        if len(xy) == 0:
            return pd.DataFrame(
                columns=["node_id", "snap_m", "component", "beyond_max_snap", "nearest_any_node", "nearest_any_m", "nearest_in_small_component"],
                index=pid,
            )
        if not np.isfinite(xy).all():
            bad = pid[~np.isfinite(xy).all(axis=1)]
            raise DataError(f"points without valid coordinates cannot be snapped: ids {list(bad[:10])}")
        d_any, i_any = cKDTree(nxy).query(xy)
        usable = np.flatnonzero(lab == 0) if largest_only else np.arange(len(nxy))
        d_use, j = cKDTree(nxy[usable]).query(xy)
        i_use = usable[j]
        out = pd.DataFrame(
            {
                "node_id": node_ids[i_use],
                "snap_m": d_use,
                "component": lab[i_use],
                "beyond_max_snap": (d_use > max_snap_m) if max_snap_m is not None else np.zeros(len(xy), bool),
                "nearest_any_node": node_ids[i_any],
                "nearest_any_m": d_any,
                "nearest_in_small_component": lab[i_any] != 0,
            },
            index=pid,
        )
        n_far = int(out["beyond_max_snap"].sum())
        n_small = int(out["nearest_in_small_component"].sum())
        if n_far:
            logger.warning("%d of %d points are more than %g m from the road network", n_far, len(out), max_snap_m)
        if n_small:
            logger.info("%d of %d points are nearest to a node outside the largest component", n_small, len(out))
        return out

    def _points_xy(self, points: Any, *, ids: Any, crs: str) -> tuple[np.ndarray, pd.Index]:
        import geopandas as gpd
        import pyproj

        if isinstance(points, gpd.GeoDataFrame | gpd.GeoSeries):
            geom = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
            if geom.crs is None:
                raise DataError("points have no CRS; set it (e.g. EPSG:4326) before snapping")
            if not (geom.geom_type == "Point").all():
                geom = geom.representative_point()
            geom = geom.to_crs(self.crs)
            xy = np.column_stack([geom.x.to_numpy(), geom.y.to_numpy()])
            pid = pd.Index(points.index if ids is None else ids)
        else:
            arr = np.asarray(points, dtype=float)
            if arr.ndim != 2 or arr.shape[1] != 2:
                raise DataError(f"points must be an (n, 2) array of x, y; got shape {arr.shape}")
            tr = pyproj.Transformer.from_crs(crs, self.crs, always_xy=True)
            x, y = tr.transform(arr[:, 0], arr[:, 1])
            xy = np.column_stack([x, y])
            pid = pd.Index(np.arange(len(arr)) if ids is None else ids)
        if len(pid) != len(xy):
            raise DataError(f"{len(pid)} ids for {len(xy)} points")
        if not pid.is_unique:
            raise DataError(f"point ids are not unique: {list(pid[pid.duplicated()].unique()[:10])}")
        return xy, pid

    # ------------------------------------------------------------------ subgraphs and layers
    def expressway(self, classes: tuple[str, ...] = EXPRESSWAY_CLASSES) -> RoadNetwork:
        """The subnetwork of expressway edges (motorway, trunk and their links by default)."""
        meta = {**self.meta, "subgraph": "expressway"}
        if self._arrays is not None:
            mask = np.isin(self.edge_table()["highway"].to_numpy(), classes)
            if not mask.any():
                raise NetworkError(
                    f"the road network has no {'/'.join(classes)} edges; the region may have no expressway in OSM"
                )
            return RoadNetwork(crs=self.crs, meta=meta, arrays=self._arrays.subset(mask))
        G = self.graph
        edges = [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if d["highway"] in classes]
        if not edges:
            raise NetworkError(
                f"the road network has no {'/'.join(classes)} edges; the region may have no expressway in OSM"
            )
        H = G.edge_subgraph(edges).copy()
        return RoadNetwork(graph=H, crs=self.crs, meta=meta)

    def expressway_graph(self, classes: tuple[str, ...] = EXPRESSWAY_CLASSES) -> nx.MultiDiGraph:
        """The expressway edges as a projected osmnx-style ``MultiDiGraph`` (empty when there are none).

        Cheap on a big array network: only the expressway edges become ``networkx`` objects.
        """
        import networkx as nx

        try:
            return self.expressway(classes).graph
        except NetworkError:
            return nx.MultiDiGraph(crs=self.crs)

    def nodes(self) -> gpd.GeoDataFrame:
        """Node layer: ``node_id``, ``x``, ``y`` (metric), ``lon``, ``lat``, ``component``, ``street_count``; geometry EPSG:4326."""
        import geopandas as gpd

        ids = self.node_ids
        xy = self.node_xy()
        if self._arrays is not None:
            lon, lat, sc = self._arrays.g.lon, self._arrays.g.lat, self._arrays.g.street_count
        else:
            G = self.graph
            lon = np.array([G.nodes[n]["lon"] for n in ids])
            lat = np.array([G.nodes[n]["lat"] for n in ids])
            sc = np.array([G.nodes[n].get("street_count", -1) for n in ids], dtype=np.int64)
        return gpd.GeoDataFrame(
            {
                "node_id": ids.to_numpy(),
                "x": xy[:, 0],
                "y": xy[:, 1],
                "lon": lon,
                "lat": lat,
                "component": self._component_labels(),
                "street_count": sc,
            },
            geometry=gpd.points_from_xy(lon, lat),
            crs=WGS84,
        )

    def edges(self) -> gpd.GeoDataFrame:
        """Edge layer (one row per directed edge) with geometry in EPSG:4326.

        Columns: ``u``, ``v``, ``key``, ``osmid``, ``highway``, ``name``, ``ref``, ``maxspeed``,
        ``oneway``, ``length_m``, ``speed_kph``, ``travel_time_s``, ``is_expressway``,
        ``component`` (of ``u`` when both ends share it, else -1). List-valued OSM attributes
        from simplification are joined with ``;``.
        """
        import geopandas as gpd
        import shapely

        if self._arrays is not None:
            return self._arrays.edges_layer(self.edge_table(), self._component_labels())
        G = self.graph
        ids = self.node_ids
        xy = self.node_xy()
        lab = self._component_labels()
        recs = []
        geoms = []
        for u, v, k, d in G.edges(keys=True, data=True):
            recs.append(
                (u, v, k, _as_text(d.get("osmid")), d["highway"], _as_text(d.get("name")), _as_text(d.get("ref")),
                 _as_text(d.get("maxspeed")), bool(d.get("oneway", False)), d["length_m"], d["speed_kph"],
                 d["travel_time_s"], d["is_expressway"])
            )
            g = d.get("geometry")
            if g is None:
                iu, iv = ids.get_loc(u), ids.get_loc(v)
                g = shapely.LineString([xy[iu], xy[iv]])
            geoms.append(g)
        df = pd.DataFrame.from_records(
            recs,
            columns=["u", "v", "key", "osmid", "highway", "name", "ref", "maxspeed", "oneway", "length_m",
                     "speed_kph", "travel_time_s", "is_expressway"],
        )
        cu = lab[ids.get_indexer(df["u"])]
        cv = lab[ids.get_indexer(df["v"])]
        df["component"] = np.where(cu == cv, cu, -1)
        gdf = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=self.crs))
        return gdf.to_crs(WGS84)

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """Export layers: ``nodes``, ``edges`` and ``expressway_edges`` (EPSG:4326)."""
        edges = self.edges()
        return {
            "nodes": self.nodes(),
            "edges": edges,
            "expressway_edges": edges.loc[edges["is_expressway"]].reset_index(drop=True),
        }

    def summary(self) -> dict[str, Any]:
        """Counts for a CLI summary table."""
        et = self.edge_table()
        comps = self.components()
        return {
            "crs": self.crs,
            "nodes": len(self.node_ids),
            "edges": len(et),
            # road length: a two-way road is two directed edges, counted once
            "length_km": _road_km(et),
            "expressway_km": _road_km(et.loc[et["is_expressway"]]),
            "components": len(comps),
            "largest_component_share": float(comps["share_nodes"].iloc[0]),
            "source": self.meta.get("source"),
        }


def _check_metric_crs(target: Any) -> Any:
    import pyproj

    try:
        target_crs = pyproj.CRS.from_user_input(target)
    except pyproj.exceptions.CRSError as e:
        raise ConfigError(f"unknown CRS {target!r}: {e}") from e
    if target_crs.is_geographic:
        raise ConfigError(f"CRS {target!r} is geographic; the network needs a metric (projected) CRS")
    return target


def _transformer(src: Any, dst: Any) -> Any:
    import pyproj

    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def _text(values: np.ndarray) -> np.ndarray:
    """Tag text as an object array with ``None`` for absent ('') values."""
    out = values.astype(object)
    out[values == ""] = None
    return out


@dataclass(eq=False)
class _Arrays:
    """A :class:`~gzcharge.sources.pbf.RoadGraph` with projected node positions, speeds and way tags."""

    g: Any  # gzcharge.sources.pbf.RoadGraph
    x: np.ndarray
    y: np.ndarray
    speed_kph: np.ndarray
    way_id: np.ndarray
    way_oneway: np.ndarray
    way_maxspeed: np.ndarray
    way_name: np.ndarray
    way_ref: np.ndarray

    def highway(self) -> np.ndarray:
        from gzcharge.sources.osm import DRIVE_HIGHWAYS

        return np.asarray(DRIVE_HIGHWAYS, dtype=object)[self.g.highway]

    def edge_table(self) -> pd.DataFrame:
        g = self.g
        hw = self.highway()
        return pd.DataFrame({
            "u": g.node_id[g.u], "v": g.node_id[g.v], "key": g.key, "length_m": g.length_m,
            "speed_kph": self.speed_kph, "travel_time_s": g.travel_time_s, "highway": hw,
            "is_expressway": np.isin(hw, EXPRESSWAY_CLASSES),
        })

    def _tags(self) -> dict[str, np.ndarray]:
        w = self.g.way
        return {"osmid": self.way_id[w], "name": _text(self.way_name[w]), "ref": _text(self.way_ref[w]),
                "maxspeed": _text(self.way_maxspeed[w]), "oneway": self.way_oneway[w] != 0}

    def _geometry(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        import shapely

        n = np.diff(self.g.geom_offsets)
        return shapely.linestrings(np.column_stack([lon, lat]), indices=np.repeat(np.arange(len(n)), n))

    def edges_layer(self, et: pd.DataFrame, lab: np.ndarray) -> gpd.GeoDataFrame:
        """The :meth:`RoadNetwork.edges` layer, built column by column (geometry straight in WGS-84)."""
        import geopandas as gpd

        g = self.g
        tags = self._tags()
        cu, cv = lab[g.u], lab[g.v]
        df = pd.DataFrame({
            "u": et["u"].to_numpy(), "v": et["v"].to_numpy(), "key": g.key, "osmid": tags["osmid"].astype(str),
            "highway": et["highway"].to_numpy(), "name": tags["name"], "ref": tags["ref"],
            "maxspeed": tags["maxspeed"], "oneway": tags["oneway"], "length_m": g.length_m,
            "speed_kph": self.speed_kph, "travel_time_s": g.travel_time_s,
            "is_expressway": et["is_expressway"].to_numpy(), "component": np.where(cu == cv, cu, -1),
        })
        return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(self._geometry(g.geom_lon, g.geom_lat), crs=WGS84))

    def subset(self, mask: np.ndarray) -> _Arrays:
        """The edges where ``mask`` holds, and the nodes they touch."""
        from dataclasses import replace

        g = self.g
        e = np.flatnonzero(mask)
        keep = np.zeros(g.n_nodes, dtype=bool)
        keep[g.u[e]] = True
        keep[g.v[e]] = True
        new = np.cumsum(keep) - 1
        n = np.diff(g.geom_offsets)[e]
        off = np.zeros(len(e) + 1, dtype=np.int64)
        np.cumsum(n, out=off[1:])
        gi = np.repeat(g.geom_offsets[:-1][e] - off[:-1], n) + np.arange(off[-1])
        nodes = np.flatnonzero(keep)
        from gzcharge.sources.pbf import _street_count

        sub = replace(
            g, node_id=g.node_id[nodes], lon=g.lon[nodes], lat=g.lat[nodes], u=new[g.u[e]], v=new[g.v[e]],
            key=g.key[e], length_m=g.length_m[e], travel_time_s=g.travel_time_s[e], way=g.way[e],
            highway=g.highway[e], geom_offsets=off, geom_lon=g.geom_lon[gi], geom_lat=g.geom_lat[gi],
            street_count=_street_count(new[g.u[e]], new[g.v[e]], len(nodes)),
        )
        return replace(self, g=sub, x=self.x[nodes], y=self.y[nodes], speed_kph=self.speed_kph[e])

    def to_networkx(self, crs: str, meta: Mapping[str, Any]) -> nx.MultiDiGraph:
        """osmnx-compatible projected graph: node ``x, y, lon, lat, street_count``; edge OSM tags,
        ``length`` (= ``length_m``), speeds, times, and ``geometry`` of merged edges."""
        import networkx as nx

        g = self.g
        G = nx.MultiDiGraph(crs=crs, simplified=True, **{k: v for k, v in meta.items() if k != "crs"})
        G.add_nodes_from(
            (int(n), {"x": float(x), "y": float(y), "lon": float(lo), "lat": float(la), "street_count": int(c)})
            for n, x, y, lo, la, c in zip(g.node_id.tolist(), self.x.tolist(), self.y.tolist(), g.lon.tolist(),
                                          g.lat.tolist(), g.street_count.tolist(), strict=True)
        )
        gx, gy = _transformer(WGS84, crs).transform(g.geom_lon, g.geom_lat)
        geoms = self._geometry(np.asarray(gx), np.asarray(gy))
        merged = np.diff(g.geom_offsets) > 2
        tags = self._tags()
        hw = self.highway()
        cols = {
            "osmid": tags["osmid"].tolist(), "highway": hw.tolist(), "name": tags["name"].tolist(),
            "ref": tags["ref"].tolist(), "maxspeed": tags["maxspeed"].tolist(), "oneway": tags["oneway"].tolist(),
            "length": g.length_m.tolist(), "length_m": g.length_m.tolist(), "speed_kph": self.speed_kph.tolist(),
            "travel_time_s": g.travel_time_s.tolist(), "is_expressway": np.isin(hw, EXPRESSWAY_CLASSES).tolist(),
        }
        names = list(cols)
        u, v = g.node_id[g.u].tolist(), g.node_id[g.v].tolist()
        for i, row in enumerate(zip(*cols.values(), strict=True)):
            d = {k: val for k, val in zip(names, row, strict=True) if val is not None}
            if merged[i]:
                d["geometry"] = geoms[i]
            G.add_edge(u[i], v[i], int(g.key[i]), **d)
        return G


def _road_km(et: pd.DataFrame) -> float:
    """Length of the roads in an edge table (km), each two-way road counted once."""
    if len(et) == 0:
        return 0.0
    u = et["u"].to_numpy()
    v = et["v"].to_numpy()
    key = pd.DataFrame({"a": np.minimum(u, v), "b": np.maximum(u, v), "len": et["length_m"].round(1).to_numpy()})
    return float(key.drop_duplicates().loc[:, "len"].sum() / 1000.0)


def _annotate_edges(G: nx.MultiDiGraph, speeds: Mapping[str, float], maxspeed_factor: float) -> None:
    """Set ``length_m``, ``highway`` (main class), ``speed_kph``, ``travel_time_s``, ``is_expressway``."""
    for _, _, d in G.edges(data=True):
        length = d.get("length_m", d.get("length"))
        if length is None or not np.isfinite(length) or length < 0:
            raise DataError(f"edge {d.get('osmid')} has no valid length {length!r}")
        raw_class = d.get("highway")
        main = _main_class(raw_class)
        ms = parse_maxspeed(d.get("maxspeed"))
        speed = ms * maxspeed_factor if not math.isnan(ms) else _class_speed(raw_class, speeds)
        d["length_m"] = float(length)
        d["highway"] = main
        if isinstance(raw_class, list):
            d["highway_all"] = ";".join(dict.fromkeys(map(str, raw_class)))
        d["speed_kph"] = float(speed)
        d["travel_time_s"] = float(length) / (speed / 3.6)
        d["is_expressway"] = main in EXPRESSWAY_CLASSES


def build_network(
    region_polygon: BaseGeometry,
    *,
    crs: str | None = None,
    osm_file: str | None = None,
    online: bool = False,
    buffer_m: float | None = None,
    endpoint: str | None = None,
    timeout_s: float | None = None,
    cache_dir: str | None = None,
    progress: ProgressCallback | None = None,
) -> RoadNetwork:
    """Road network for a region from a local OSM file or (``online=True``) from Overpass.

    Parameters
    ----------
    region_polygon
        Region boundary in WGS-84 (e.g. ``Region.boundary``).
    crs
        Metric CRS (e.g. ``Region.metric_crs``); ``None`` → :func:`default_metric_crs`.
    osm_file
        ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file covering the region.
    online
        Download through Overpass instead (cached).
    buffer_m, endpoint, timeout_s, cache_dir
        See :meth:`RoadNetwork.from_osm_file` (a local file: read into arrays, its drivable ways
        cached in ``cache_dir/ways`` … by default :func:`gzcharge.sources.pbf.default_cache_dir`)
        and :func:`gzcharge.sources.osm.graph_from_overpass` (online, through osmnx).
    progress
        Optional callback ``progress(message, fraction_done)``.

    Raises
    ------
    ConfigError
        Neither or both of ``osm_file`` and ``online`` given.
    NetworkError, DataError
        From the sources.
    """
    from gzcharge.sources import osm

    if osm_file and online:
        raise ConfigError("give either --osm-file or --online, not both")
    if not osm_file and not online:
        raise ConfigError(
            "no road data source: pass --osm-file FILE (.osm, .osm.bz2 or .osm.pbf extract covering "
            "the region) or --online to download from Overpass"
        )
    buf = osm.DEFAULT_BUFFER_M if buffer_m is None else float(buffer_m)
    say = progress or (lambda msg, frac: None)
    if osm_file:
        # big-file path: arrays all the way, drivable ways cached by file hash
        return RoadNetwork.from_osm_file(osm_file, polygon=region_polygon, buffer_m=buf, crs=crs,
                                         cache_dir=Path(cache_dir) / "ways" if cache_dir else None, progress=say)
    say("downloading roads from Overpass", 0.0)
    G = osm.graph_from_overpass(
        region_polygon,
        buffer_m=buf,
        endpoint=endpoint,
        timeout_s=osm.DEFAULT_TIMEOUT_S if timeout_s is None else float(timeout_s),
        cache_dir=cache_dir,
    )
    say("projecting and computing travel times", 0.85)
    net = RoadNetwork.from_graph(G, crs=crs)
    say("done", 1.0)
    return net
