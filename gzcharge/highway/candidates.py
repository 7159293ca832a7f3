"""Candidate sites on the expressway corridors.

Four kinds of candidates, each attached to the corridor graph as a node:

* ``service_area`` — OSM ``highway=services|rest_area`` POIs or a user CSV
  (``name, lon, lat[, existing]``), snapped to the nearest corridor point (a node is inserted
  on the edge at the projected point). Sites farther than ``candidate_snap_m`` are rejected and
  listed in :attr:`CandidateSet.rejected` (with the distance), never silently dropped.
* ``existing`` — existing fast-charging sites (user CSV rows with ``existing`` true, or an
  explicit layer); fixed open, cost 0.
* ``interchange`` — for each settlement (county seat, town), the nearest interchange within
  ``interchange_town_km``.
* ``user`` — rows of a planner's candidate-sites file (``--candidates``) for the highway or
  hydrogen tier, snapped like service areas (same tolerance ``candidate_snap_m``, on the built-in
  skeleton ``skeleton_snap_m``) and placed in the corridor's range/gap model at the snapped
  point; ids ``user-<site_id>``, cost the file's ``cost_cny`` (else the service-area cost), its
  ``plugs`` the most plugs the station is sized to (:func:`~gzcharge.highway.model.assess_highway`). A
  row naming the tier that lies farther away is an error when required and a warning
  (listed in :attr:`CandidateSet.rejected`) when a candidate; a row for every tier (no tier) is
  a corridor site only when it lies within the tolerance (a city parking lot is no highway
  site). Rows for the hydrogen tier only are not highway candidates (column ``tier``).
* ``synthetic`` — where the candidates above leave a station-free stretch longer than
  ``max_gap_km`` (see :func:`~gzcharge.highway.corridors.gap_stretches` with *all*
  candidates open: the gap windows' definition), in rounds: (1) the edges of every
  station-free zone holding such a stretch are cut every ``synthetic_spacing_km`` (pieces of
  equal length ≤ the spacing) and the cut points become candidates; (2) with all candidates
  open the stretches are measured again and the end nodes of the edges still on a too-long
  stretch become candidates (edges longer than the spacing cut as well), up to three times;
  (3) if stretches are still too long, every node of the bad zones is taken (the first rule).
  All flagged ``synthetic=True``. The rounds stop when no stretch is longer than
  ``max_gap_km`` with every candidate open, which by the agreement of windows and report is
  "every gap window holds a candidate": the gap rule is then satisfiable. (Taking every zone
  node at once gave 3,860 synthetic sites on the province skeleton, whose nodes are mostly
  junctions of tiny ramp edges; the rounds give 2,909.)

Site ids: ``SA-0001`` (service areas, in input order), ``EX-0001`` (existing), ``IC-<node>``
(interchanges), ``SY-0001`` (synthetic, ordered by position). Every candidate node carries
``site_id`` and ``site_kind``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gzcharge.errors import DataError
from gzcharge.highway.corridors import CorridorGraph, gap_stretches, station_free_zones

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pandas as pd

    from gzcharge.highway.params import HighwayParams

logger = logging.getLogger(__name__)

__all__ = ["CandidateSet", "build_candidates", "candidates_at_nodes", "read_sites_csv", "service_areas_from_osm"]

_TRUE = {"1", "true", "yes", "y", "t", "existing", "是"}
_FALSE = {"0", "false", "no", "n", "f", "", "否", "nan", "none"}


@dataclass
class CandidateSet:
    """Candidate sites attached to a corridor graph.

    Attributes
    ----------
    corridors
        The corridor graph with candidate nodes inserted (a copy of the input).
    sites
        DataFrame indexed by ``site_id``: ``node``, ``kind`` (``service_area``/``existing``/
        ``interchange``/``synthetic``/``user``), ``name``, ``existing`` (bool), ``synthetic``
        (bool), ``cost_cny``, ``snap_m`` (distance from the input point to the corridor),
        ``tier`` (planner rows: the tier they are for, ``""`` = every tier; others ``""``),
        ``own_cost_cny`` (planner rows: the file's cost, else NaN), ``max_plugs`` (planner rows: the
        file's plugs, the most the site holds; else NaN).
    rejected
        DataFrame of input sites not attached: ``name``, ``lon``, ``lat``, ``distance_m``,
        ``reason``.
    """

    corridors: CorridorGraph
    sites: pd.DataFrame
    rejected: pd.DataFrame = field(default=None)  # type: ignore[assignment]

    def node_of(self, site_ids: list) -> list:
        """Corridor nodes of ``site_ids``; unknown ids raise :class:`DataError` listing them."""
        from gzcharge._util import preview_ids

        unknown = [s for s in site_ids if s not in self.sites.index]
        if unknown:
            raise DataError(
                f"unknown highway candidate ids: {preview_ids(unknown)}; known ids look like "
                f"{preview_ids(list(self.sites.index[:5]))} (see the highway_candidates layer)"
            )
        return [self.sites.at[s, "node"] for s in site_ids]


def _as_bool(v: Any, where: str) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    s = str(v).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise DataError(f"{where}: 'existing' must be true/false (or 1/0, yes/no), got {v!r}")


def read_sites_csv(path: str | Path, *, crs: str = "wgs84") -> gpd.GeoDataFrame:
    """Read a service-area CSV ``name, lon, lat[, existing]`` (WGS-84) into points.

    Raises
    ------
    DataError
        Missing file/columns, non-numeric or out-of-range coordinates, bad ``existing`` values.
    """
    import geopandas as gpd

    from gzcharge.sources.files import points_from_table, read_table

    p = Path(path)
    if not p.exists():
        raise DataError(f"service-area file {p} does not exist; give a CSV with columns name, lon, lat[, existing]")
    df = read_table(p, "service-area file", ("name", "lon", "lat", "existing"), required=("name", "lon", "lat"))
    pts = points_from_table(df, "service-area file", crs)
    lon, lat = pts.x, pts.y
    existing = (
        [_as_bool(v, f"{p} line {i + 2}") if str(v).strip() else False for i, v in enumerate(df["existing"])]
        if "existing" in df.columns
        else [False] * len(df)
    )
    return gpd.GeoDataFrame(
        {"name": df["name"].astype(str), "existing": existing},
        geometry=gpd.points_from_xy(lon, lat),
        crs="EPSG:4326",
    )


SERVICE_AREA_TAGS: dict[str, list[str]] = {"highway": ["services", "rest_area"]}


def service_areas_from_osm(path: str | Path, polygon: Any = None) -> gpd.GeoDataFrame:
    """Service/rest areas from a local OSM file (``highway=services|rest_area``) as points."""
    from gzcharge.sources.osm import pois_from_file

    return service_areas_from_pois(pois_from_file(path, polygon, tags=SERVICE_AREA_TAGS))


def service_areas_from_pois(pois: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Service/rest-area POIs (from a file or Overpass) as the ``name, existing`` points candidates take."""
    import geopandas as gpd

    names = pois["name"] if "name" in pois.columns else [f"osm {t}/{i}" for t, i in zip(pois["osm_type"], pois["osm_id"], strict=True)]
    return gpd.GeoDataFrame({"name": list(names), "existing": False}, geometry=pois.geometry, crs=pois.crs)


def _attach(
    cg: CorridorGraph, pts: gpd.GeoDataFrame, kind: str, prefix: str, max_dist_m: float
) -> tuple[list[dict], list[dict]]:
    import shapely

    if pts is None or len(pts) == 0:
        return [], []
    pm = pts.to_crs(cg.crs)
    xy = shapely.get_coordinates(pm.geometry.values)
    edges_geom = [d["geometry"] for _, _, d in cg.graph.edges(data=True)]
    tree = shapely.STRtree(np.array(edges_geom, dtype=object))
    _, dist = tree.query_nearest(shapely.points(xy), return_distance=True, all_matches=False)
    nodes = cg.insert_points(xy, kind=kind, max_dist_m=max_dist_m)
    ll = pts.to_crs(4326)
    out, rej = [], []
    for i, node in enumerate(nodes):
        name = str(pts["name"].iloc[i]) if "name" in pts.columns else f"{prefix}-{i + 1:04d}"
        ex = bool(pts["existing"].iloc[i]) if "existing" in pts.columns else False
        if node is None:
            rej.append(
                {
                    "name": name,
                    "lon": float(ll.geometry.iloc[i].x),
                    "lat": float(ll.geometry.iloc[i].y),
                    "distance_m": float(dist[i]),
                    "reason": f"farther than {max_dist_m:g} m from any expressway",
                }
            )
            continue
        out.append({"site_id": f"{prefix}-{i + 1:04d}", "node": node, "kind": "existing" if ex else kind,
                    "name": name, "existing": ex, "synthetic": False, "snap_m": float(dist[i]), "row": i})
    for r, i in zip(rej, [i for i, n in enumerate(nodes) if n is None], strict=True):
        r["row"] = i
    return out, rej


def _attach_planner(cg: CorridorGraph, rows: gpd.GeoDataFrame | None, tol_m: float, label: str,
                    tol_name: str) -> tuple[list[dict], list[dict]]:
    """Planner rows (``--candidates``) snapped to the corridor: records and rejected rows (see the module docstring)."""
    import pandas as pd

    from gzcharge.candidates import planner_site_ids

    if rows is None or len(rows) == 0:
        return [], []
    recs, rej = _attach(cg, rows, "user", "user", tol_m)
    uid = planner_site_ids(rows["site_id"])
    tier = rows["tier"].astype(str).to_numpy()
    role = rows["role"].astype(str).to_numpy()
    cost = pd.to_numeric(rows["cost_cny"], errors="coerce").to_numpy(float)
    plugs = pd.to_numeric(rows["plugs"], errors="coerce").to_numpy(float)
    for rec in recs:
        i = rec["row"]
        rec.update(site_id=uid[i], tier=tier[i], own_cost_cny=cost[i], max_plugs=plugs[i])
    out = []
    for r in rej:
        i = r["row"]
        if not tier[i]:
            continue  # a row for every tier is a corridor site only when it lies on the corridor
        where = (f"{label}: row {rows['site_id'].iloc[i]} ({r['name']}), a {role[i]} {tier[i]} site, lies "
                 f"{r['distance_m']:,.0f} m from the nearest expressway corridor; the tolerance is {tol_m:g} m "
                 f"({tol_name})")
        if role[i] == "required":
            raise DataError(f"{where}. Move the point onto the expressway (a service area or interchange), or give "
                            "it another tier or the role candidate")
        logger.warning("%s: the site is not used", where)
        out.append({**r, "reason": f"{role[i]} {tier[i]} site of {label}, not used"})
    return recs, out


def build_candidates(
    corridors: CorridorGraph,
    params: HighwayParams,
    *,
    service_areas: gpd.GeoDataFrame | None = None,
    existing: gpd.GeoDataFrame | None = None,
    settlements: gpd.GeoDataFrame | None = None,
    user_sites: gpd.GeoDataFrame | None = None,
    user_label: str = "candidate-sites file",
    snap_name: str = "highway.candidate_snap_m",
) -> CandidateSet:
    """Attach candidate sites to (a copy of) the corridor graph.

    Parameters
    ----------
    corridors
        Corridor graph (not modified).
    params
        Highway parameters (snap distance, spacing, gap, costs).
    service_areas
        Points with ``name`` and optional ``existing`` (bool); any CRS.
    existing
        Existing fast-charging sites (points with ``name``); fixed open.
    settlements
        Points (``name``) of towns/county seats: their nearest interchange within
        ``interchange_town_km`` becomes a candidate.
    user_sites, user_label
        Rows of a candidate-sites file for the corridor tiers
        (:meth:`gzcharge.candidates.SiteRules.for_tiers`) and the file's name for messages.
    snap_name
        The setting ``params.candidate_snap_m`` stands for (named in messages).

    Returns
    -------
    CandidateSet

    Raises
    ------
    DataError
        A required highway/hydrogen row farther than ``candidate_snap_m`` from every corridor.
    """
    import pandas as pd
    import shapely

    cg = corridors.copy()
    recs: list[dict] = []
    rejected: list[dict] = []
    r, j = _attach(cg, service_areas, "service_area", "SA", params.candidate_snap_m)
    recs += r
    rejected += j
    if existing is not None and len(existing):
        ex = existing.copy()
        ex["existing"] = True
        r, j = _attach(cg, ex, "existing", "EX", params.candidate_snap_m)
        recs += r
        rejected += j
    r, j = _attach_planner(cg, user_sites, params.candidate_snap_m, user_label, snap_name)
    h2_only = [q for q in r if q["tier"] == "hydrogen"]  # not highway candidates: the gap rule does without them
    recs += [q for q in r if q["tier"] != "hydrogen"]
    rejected += j
    # several inputs on one node: keep the first (existing wins over planned)
    seen: dict = {}
    for rec in sorted(recs, key=lambda q: (not q["existing"], q["site_id"])):
        seen.setdefault(rec["node"], rec)
    recs = sorted(seen.values(), key=lambda q: q["site_id"])

    # interchanges near settlements
    ics = cg.nodes_of_kind("interchange")
    if settlements is not None and len(settlements) and ics and params.interchange_town_km > 0:
        sxy = shapely.get_coordinates(settlements.to_crs(cg.crs).geometry.values)
        ixy = cg.node_xy(ics)
        from scipy.spatial import cKDTree

        d, k = cKDTree(ixy).query(sxy, distance_upper_bound=params.interchange_town_km * 1000.0)
        names = settlements["name"].astype(str).tolist() if "name" in settlements.columns else [""] * len(sxy)
        for i in np.argsort(d, kind="stable"):
            if not np.isfinite(d[i]):
                continue
            node = ics[k[i]]
            if node in seen:
                continue
            rec = {"site_id": f"IC-{node}", "node": node, "kind": "interchange", "name": f"{names[i]} interchange",
                   "existing": False, "synthetic": False, "snap_m": float(d[i])}
            seen[node] = rec
            recs.append(rec)

    # synthetic candidates where the stretch with every candidate open is still too long
    recs += _synthetic(cg, set(seen), params)
    syn_nodes = {q["node"] for q in recs}
    cost = params.site_cost_by_type
    for rec in recs + h2_only:
        own = rec.get("own_cost_cny", np.nan)
        rec["cost_cny"] = 0.0 if rec["existing"] else (float(own) if np.isfinite(own) else cost[rec["kind"]])
        rec.setdefault("tier", "")
        rec.setdefault("own_cost_cny", np.nan)
        rec.setdefault("max_plugs", np.nan)
        if rec["tier"] == "hydrogen" and rec["node"] in syn_nodes:
            continue  # a hydrogen-only row on a fast-charging site's node: the node keeps that site's id
        cg.graph.nodes[rec["node"]]["site_id"] = rec["site_id"]
        cg.graph.nodes[rec["node"]]["site_kind"] = rec["kind"]
    recs += h2_only
    cols = ["site_id", "node", "kind", "name", "existing", "synthetic", "cost_cny", "snap_m", "tier", "own_cost_cny",
            "max_plugs"]
    sites = pd.DataFrame(recs, columns=cols).set_index("site_id")
    rej = pd.DataFrame(rejected, columns=["name", "lon", "lat", "distance_m", "reason"])
    if len(rej):
        logger.info("%d candidate site(s) farther than %g m from the expressways were not used: %s",
                    len(rej), params.candidate_snap_m, ", ".join(rej["name"].head(10)))
    return CandidateSet(cg, sites, rej)


def candidates_at_nodes(
    corridors: CorridorGraph, nodes: list, params: HighwayParams, *, existing: list | None = None, kind: str = "user"
) -> CandidateSet:
    """Candidates at given corridor nodes (explicit instances, e.g. every node of a reference network).

    Site ids are ``N-<node>``; ``existing`` nodes are fixed open at cost 0; no synthetic
    candidates are added. Unknown nodes raise :class:`DataError`.
    """
    import pandas as pd

    from gzcharge._util import preview_ids

    cg = corridors.copy()
    existing = list(existing or [])
    unknown = [n for n in [*nodes, *existing] if n not in cg.graph]
    if unknown:
        raise DataError(f"candidate nodes not in the corridor graph: {preview_ids(unknown)}")
    cost = params.site_cost_by_type
    recs = []
    for n in dict.fromkeys([*nodes, *existing]):
        ex = n in existing
        recs.append({"site_id": f"N-{n}", "node": n, "kind": "existing" if ex else kind, "name": f"node {n}",
                     "existing": ex, "synthetic": False, "cost_cny": 0.0 if ex else cost[kind], "snap_m": 0.0})
        cg.graph.nodes[n]["site_id"] = f"N-{n}"
        cg.graph.nodes[n]["site_kind"] = recs[-1]["kind"]
    sites = pd.DataFrame(recs).set_index("site_id")
    return CandidateSet(cg, sites, pd.DataFrame(columns=["name", "lon", "lat", "distance_m", "reason"]))


#: rounds of "endpoints of the edges still too long" before every node of the bad zones is taken
_SYNTHETIC_ROUNDS = 3


def _synthetic(cg: CorridorGraph, site_nodes: set, params: HighwayParams) -> list[dict]:
    """Synthetic candidates until the gap rule, with every candidate open, holds (see the module docstring)."""
    G = cg.graph
    gap, spacing = params.max_gap_km, params.synthetic_spacing_km

    def too_long(open_: set) -> set:
        per_edge = gap_stretches(G, open_, starts=open_, max_gap_km=gap)
        return {k for k, v in per_edge.items() if v > gap + 1e-9}

    def cut(edges: set) -> list:
        xy_new: list[tuple[float, float]] = []
        for u, v in sorted(edges):
            d = G.edges[u, v]
            line = d["geometry"]
            n = max(1, math.ceil(d["length_km"] / spacing - 1e-9))
            xy_new += [line.interpolate(line.length * i / n).coords[0] for i in range(1, n)]
        nodes = cg.insert_points(np.array(xy_new).reshape(-1, 2), kind="synthetic", max_dist_m=1.0)
        return [n for n in nodes if n is not None]

    bad = too_long(site_nodes)
    if not bad:
        return []
    zone_edges: set = set()
    for z in station_free_zones(G, site_nodes):
        if bad.intersection(z):
            zone_edges.update(z)
    zone_nodes = {n for k in zone_edges for n in k}
    chosen = dict.fromkeys(cut(zone_edges))  # round 1: cut points, pieces <= spacing
    for r in range(_SYNTHETIC_ROUNDS + 1):
        bad = too_long(site_nodes | set(chosen))
        if not bad:
            break
        # the ends of the pieces still on a too-long stretch (every node of the bad zones in the last round)
        ends = {n for k in bad for n in k} if r < _SYNTHETIC_ROUNDS else zone_nodes | {n for k in bad for n in k}
        long_edges = {k for k in bad if G.edges[k]["length_km"] > spacing + 1e-9}
        chosen.update(dict.fromkeys(sorted(ends - site_nodes - set(chosen))))
        chosen.update(dict.fromkeys(cut(long_edges)))
    allnodes = [n for n in chosen if n not in site_nodes]
    # order by position (x, y) for stable ids
    allnodes.sort(key=lambda n: (G.nodes[n]["x"], G.nodes[n]["y"]))
    out = []
    for i, node in enumerate(allnodes):
        out.append({"site_id": f"SY-{i + 1:04d}", "node": node, "kind": "synthetic", "name": "synthetic site",
                    "existing": False, "synthetic": True, "snap_m": 0.0})
    return out
