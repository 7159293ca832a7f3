r"""Hydrogen refuelling tier (氢燃料供给体系): truck corridors, supply rule, staged build-out.

The plan asks for an *orderly* hydrogen refuelling layout for medium and heavy trucks on
longer corridors. Tier contract: :func:`prepare_hydrogen` (truck flows, candidates, supply
rule, phase scopes and the core's :class:`~gzcharge.locate.joint.FlowBlock` ``"hydrogen"``)
→ :func:`solve_hydrogen` (through :func:`gzcharge.locate.joint.solve_joint`, one one-year solve
per phase) → :func:`assess_hydrogen`; :func:`plan_hydrogen` is the three in one call. The
stations are sited with the flow-refuelling model of the core (arc-cover path-cover) at the
truck range, in phases:

1. **Truck flows.** One row per OD path (node list on the corridor graph): ``truck_flow``
   (fuel-cell trucks/day, both directions) given directly (a user freight OD), or derived
   from the highway tier's vehicle flow as ``flow × truck_share × hydrogen_share``. Paths of a
   highway ``Traffic`` are whole trips with their access legs (seat → interchange … seat);
   :meth:`~gzcharge.highway.traffic.Traffic.edge_lengths` gives their lengths.
2. **Candidates** are corridor nodes (service areas, interchanges, logistics hubs attached
   with :func:`hub_candidates`).
3. **Supply rule.** Hydrogen comes by tube trailer from sources (by-product hydrogen of
   coking / chlor-alkali plants, electrolysers — a user list ``name, lon, lat, kind``,
   :func:`read_hydrogen_sources`). ``supply_km`` of a site is the straight line to its
   nearest source × ``circuity``. ``supply_rule="radius"``: sites farther than
   ``max_supply_km`` are **excluded and listed** (:attr:`HydrogenResult.excluded`);
   ``supply_rule="delivery_cost"``: every site is allowed and its cost grows by
   ``delivery_cny_per_km × supply_km`` (capitalised delivery cost). Without sources the rule
   is not applied (stated in the notes).
4. **Staged build-out** ("critical mass before spreading"). Each :class:`HydrogenPhase`
   may open new stations only among candidates that pass the supply rule and the phase's
   scope: ``top_corridors`` (sites on the ``k`` corridors with the highest truck flow) and/or
   ``source_radius_km`` (sites that close to a source). Stations of earlier phases are fixed
   open (existing in the phase's core block: sunk, no cost). A phase with ``stations`` and/or
   ``budget_cny`` maximises refuelled truck flow (core ``max_service`` with ``max_new_sites``
   and the budget; a non-binding budget when only ``stations`` is given); a phase with
   neither opens the cheapest stations (core ``min_cost``) refuelling ``target_share`` of the
   truck flow that its scope can refuel at all. With one phase and no scope restriction the
   tier is exactly ``solve_joint([prep.block], years=[year])``.

Refuelling rule (the core's): a round trip O→D→O is refuelled when open stations lie on
the path with the first within ``R/2`` of the origin, the last within ``R/2`` of the
destination and none more than ``R`` apart, ``R = range_km × (1 − range_reserve_share)``.

Corridors and flow: edges are grouped into corridors by their ``ref`` (e.g. G60), else
their ``segment``; a corridor's truck flow is its length-weighted mean edge flow
(truck-km per km). A site is *on* a corridor when one of its edges belongs to it.

Sizing (stated assumptions): trucks on a refuelled round trip refuel at the first open
station from their origin and thereafter at the last station before the range would be
exceeded (:func:`gzcharge.locate._paths.refuel_stops`, fewest stops); each stop takes the
hydrogen for the kilometres to the next stop at ``kg_per_100km``. Round trips
per day are half the path's ``truck_flow``. A station's capacity is the smallest of
``station_sizes_kg_day`` at least ``demand / utilisation_target`` (several of the largest
when demand exceeds it); its reported cost is the matching ``station_costs_cny`` (× count)
plus the delivery cost. The siting model uses the cost of the smallest size.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import pandas as pd

from gzcharge._util import preview_ids
from gzcharge.errors import DataError, InfeasibleError
from gzcharge.export.i18n import msg
from gzcharge.locate._paths import path_refuelled, path_stops
from gzcharge.scenario.common import SolverParams
from gzcharge.scenario.hydrogen import HydrogenParams, HydrogenPhase
from gzcharge.tiers.base import PlanContext, Prepared, Tier, TierResult, status_of

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from gzcharge.highway.corridors import CorridorGraph
    from gzcharge.region import Region

logger = logging.getLogger(__name__)

__all__ = [
    "HydrogenParams",
    "HydrogenPhase",
    "HydrogenPrepared",
    "HydrogenResult",
    "assess_hydrogen",
    "corridor_flows",
    "hub_candidates",
    "plan_hydrogen",
    "prepare_hydrogen",
    "read_hydrogen_sources",
    "solve_hydrogen",
    "supply_distances",
]

_EPS = 1e-6


# =========================================================================== inputs
def read_hydrogen_sources(path_or_frame: str | Path | pd.DataFrame, region: Region | None = None) -> gpd.GeoDataFrame:
    """Hydrogen sources (``name, lon, lat, kind``; WGS-84) as points, checked against the region.

    Raises
    ------
    DataError
        Missing file/columns, bad coordinates (naming the line), duplicate names, sources
        outside ``region`` (naming them).
    """
    import geopandas as gpd
    import shapely

    if isinstance(path_or_frame, pd.DataFrame):
        df, src = path_or_frame.copy(), "hydrogen sources"
        line0 = 1
    else:
        p = Path(path_or_frame)
        if not p.exists():
            raise DataError(f"hydrogen source file {p} does not exist; give a CSV with name, lon, lat, kind")
        from gzcharge.sources.files import read_table

        df = read_table(p, "hydrogen source file", ("name", "lon", "lat", "kind"), required=("name", "lon", "lat"))
        src, line0 = str(p), 2
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in ("name", "lon", "lat") if c not in df.columns]
    if missing:
        raise DataError(f"{src}: missing column(s) {', '.join(missing)}; need name, lon, lat[, kind]")
    if len(df) == 0:
        raise DataError(f"{src} lists no hydrogen sources")
    lon = pd.to_numeric(df["lon"], errors="coerce")
    lat = pd.to_numeric(df["lat"], errors="coerce")
    bad = df.index[lon.isna() | lat.isna() | ~lon.between(-180, 180) | ~lat.between(-90, 90)]
    if len(bad):
        raise DataError(f"{src}: lon/lat missing or not degrees on line(s) {preview_ids([i + line0 for i in bad])}")
    names = df["name"].astype(str).str.strip()
    if (names == "").any():
        raise DataError(f"{src}: empty name on line(s) {preview_ids([i + line0 for i in df.index[names == '']])}")
    if names.duplicated().any():
        raise DataError(f"{src}: duplicate source names {preview_ids(names[names.duplicated()].unique())}")
    kind = df["kind"].astype(str).str.strip() if "kind" in df.columns else pd.Series([""] * len(df))
    gdf = gpd.GeoDataFrame({"name": names.to_numpy(), "kind": kind.to_numpy()},
                           geometry=shapely.points(lon.to_numpy(float), lat.to_numpy(float)), crs="EPSG:4326")
    if region is not None:
        out = ~gdf.geometry.covered_by(region.boundary)
        if out.any():
            items = [f"{n} ({g.x:.4f}, {g.y:.4f})" for n, g in zip(gdf["name"][out], gdf.geometry[out], strict=True)]
            raise DataError(
                f"{src}: {int(out.sum())} hydrogen source(s) lie outside region {region.name}: {preview_ids(items, 5)}; "
                "fix their lon/lat (WGS-84) or remove them"
            )
    return gdf


def hub_candidates(cg: CorridorGraph, hubs: gpd.GeoDataFrame, *, max_access_km: float = 10.0,
                   cost_cny: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Attach logistics hubs (points with ``name``) to the corridor graph as candidates.

    Inserts a node on the nearest corridor edge for each hub within ``max_access_km``
    (modifies ``cg``). Returns ``(candidates, rejected)``: candidates indexed by
    ``site_id`` ``LH-0001…`` with ``node, kind="logistics_hub", name, cost_cny`` (NaN = the
    tier's default), and the hubs farther than ``max_access_km`` with their distance.
    """
    import shapely

    xy = shapely.get_coordinates(hubs.to_crs(cg.crs).geometry.values)
    nodes = cg.insert_points(xy, kind="logistics_hub", max_dist_m=max_access_km * 1000.0)
    names = hubs["name"].astype(str).tolist() if "name" in hubs.columns else [f"hub {i + 1}" for i in range(len(hubs))]
    rows, rej = [], []
    for k, (nm, nd) in enumerate(zip(names, nodes, strict=True)):
        if nd is None:
            rej.append({"name": nm, "reason": f"farther than {max_access_km:g} km from every corridor"})
        else:
            rows.append({"site_id": f"LH-{k + 1:04d}", "node": nd, "kind": "logistics_hub", "name": nm,
                         "cost_cny": np.nan if cost_cny is None else cost_cny})
    cand = pd.DataFrame(rows, columns=["site_id", "node", "kind", "name", "cost_cny"]).set_index("site_id")
    return cand, pd.DataFrame(rej, columns=["name", "reason"])


def _graph_and_crs(corridors: Any, crs: Any) -> tuple[nx.Graph, Any]:
    if isinstance(corridors, nx.Graph):
        return corridors, crs
    g = getattr(corridors, "graph", None)
    if isinstance(g, nx.Graph):
        return g, getattr(corridors, "crs", crs)
    raise DataError(f"corridors must be a CorridorGraph or a networkx Graph, not {type(corridors).__name__}")


def _truck_flows(flows: Any, params: HydrogenParams) -> pd.DataFrame:
    """``od_id, path, truck_flow`` from a Traffic, a DataFrame or a list of (path, flow)."""
    od = getattr(flows, "od", flows)
    if isinstance(od, pd.DataFrame):
        if "path" not in od.columns:
            raise DataError(f"truck flows need a 'path' column (node lists); columns are {list(od.columns)}")
        if "truck_flow" in od.columns:
            tf = pd.to_numeric(od["truck_flow"], errors="coerce")
        elif "flow" in od.columns:
            tf = pd.to_numeric(od["flow"], errors="coerce") * params.truck_share * params.hydrogen_share
        else:
            raise DataError("truck flows need a 'truck_flow' (trucks/day) or 'flow' (vehicles/day) column")
        ids = od["od_id"].astype(str).tolist() if "od_id" in od.columns else [f"P{i + 1}" for i in range(len(od))]
        out = pd.DataFrame({"od_id": ids, "path": list(od["path"]), "truck_flow": tf.to_numpy(float)})
    else:
        raise DataError(f"flows must be a highway Traffic or a DataFrame with path and truck_flow, not {type(od).__name__}")
    bad = out.index[~np.isfinite(out["truck_flow"]) | (out["truck_flow"] < 0)]
    if len(bad):
        raise DataError(f"truck flow missing or negative for path(s) {preview_ids(out.loc[bad, 'od_id'])}")
    if not out["od_id"].is_unique:
        raise DataError(f"duplicate od_id(s) {preview_ids(out.loc[out['od_id'].duplicated(), 'od_id'])}")
    return out


def _candidates(candidates: Any) -> tuple[pd.DataFrame, Any]:
    """Candidate table indexed by site_id (``node, kind, name, cost_cny, existing``) and its graph if any."""
    graph = None
    sites = candidates
    if hasattr(candidates, "sites") and hasattr(candidates, "corridors"):
        # a highway CandidateSet: its costs and "existing" flags are fast-charging facts, not hydrogen ones
        # (a planner row's own cost is the planner's figure for every tier it is for)
        graph = candidates.corridors
        cs = candidates.sites
        if "tier" in cs.columns:
            cs = cs[cs["tier"] != "highway"]
        keep = [c for c in ("node", "kind", "name") if c in cs.columns]
        sites = cs[keep].copy()
        if "own_cost_cny" in cs.columns:
            sites["cost_cny"] = cs["own_cost_cny"].astype(float)
        # a planner's row wins the node over a fast-charging candidate there
        planner = (sites["kind"] == "user").to_numpy()
        sites = sites[~(sites["node"].isin(sites.loc[planner, "node"]).to_numpy() & ~planner)]
    if not isinstance(sites, pd.DataFrame):
        raise DataError(f"candidates must be a CandidateSet or a DataFrame indexed by site_id, not {type(sites).__name__}")
    if "node" not in sites.columns:
        raise DataError(f"hydrogen candidates need a 'node' column; columns are {list(sites.columns)}")
    s = sites.copy()
    if not s.index.is_unique:
        raise DataError(f"duplicate hydrogen candidate ids {preview_ids(s.index[s.index.duplicated()])}")
    for col, default in (("kind", "candidate"), ("name", None), ("cost_cny", np.nan), ("existing", False)):
        if col not in s.columns:
            s[col] = default
    s["name"] = s["name"].where(s["name"].notna(), pd.Series(s.index.astype(str), index=s.index))
    s["existing"] = s["existing"].fillna(False).astype(bool)
    return s, graph


# =========================================================================== analysis
def corridor_flows(G: nx.Graph, paths: list, flows: np.ndarray) -> tuple[dict, pd.DataFrame]:
    """Truck flow per edge and per corridor.

    Returns ``(edge_corridor, table)``: the corridor key of every edge (``ref``, else
    ``segment``, else ``"corridor"``) and a table per corridor: ``corridor, length_km,
    truck_km, mean_flow`` (length-weighted mean edge flow), sorted by ``mean_flow`` falling
    (ties by corridor key).
    """
    from gzcharge.highway.corridors import edge_key

    e_flow: dict = {}
    for path, f in zip(paths, flows, strict=True):
        for u, v in zip(path[:-1], path[1:], strict=True):
            if not G.has_edge(u, v):
                continue  # an access leg
            k = edge_key(u, v)
            e_flow[k] = e_flow.get(k, 0.0) + float(f)
    edge_corr: dict = {}
    rows: dict = {}
    for u, v, d in G.edges(data=True):
        key = d.get("ref") or (f"segment {d['segment']}" if d.get("segment") is not None else "corridor")
        k = edge_key(u, v)
        edge_corr[k] = key
        r = rows.setdefault(key, [0.0, 0.0])
        r[0] += float(d["length_km"])
        r[1] += float(d["length_km"]) * e_flow.get(k, 0.0)
    tab = pd.DataFrame([{"corridor": k, "length_km": a, "truck_km": b, "mean_flow": b / a if a > 0 else 0.0}
                        for k, (a, b) in rows.items()], columns=["corridor", "length_km", "truck_km", "mean_flow"])
    tab = tab.sort_values(["mean_flow", "corridor"], ascending=[False, True], kind="stable").reset_index(drop=True)
    return edge_corr, tab


def supply_distances(node_xy: np.ndarray, sources: gpd.GeoDataFrame | None, crs: Any,
                     circuity: float) -> tuple[np.ndarray, np.ndarray]:
    """Nearest source name and supply distance (km, straight line × circuity) per site position."""
    from scipy.spatial import cKDTree

    if sources is None or len(sources) == 0:
        return np.full(len(node_xy), None, dtype=object), np.full(len(node_xy), np.nan)
    import shapely

    sxy = shapely.get_coordinates(sources.to_crs(crs).geometry.values)
    d, k = cKDTree(sxy).query(np.asarray(node_xy, dtype=float).reshape(-1, 2))
    return sources["name"].to_numpy(dtype=object)[k], np.asarray(d) / 1000.0 * circuity


# =========================================================================== result
@dataclass
class HydrogenResult:
    """Outcome of the hydrogen tier.

    Attributes
    ----------
    stations
        GeoDataFrame ``hydrogen_stations`` (EPSG:4326): ``site_id, name, kind, phase,
        phase_name, phase_year, demand_kg_day, capacity_kg_day, units, supply_source,
        supply_km, cost_cny, geometry``.
    excluded
        Candidates excluded by the supply rule: ``site_id, name, supply_source, supply_km,
        reason``.
    paths
        Per OD path: ``od_id, truck_flow, length_km, refuelled, phase`` (the phase after which
        it is first refuelled; empty if never).
    corridors
        Truck flow per corridor (:func:`corridor_flows`).
    phases
        Per phase: ``phase, name, new_stations, refuelled_flow, refuelled_share, cost_cny,
        status, gap``.
    notes
        Statements for the report.
    solution
        The core's :class:`~gzcharge.locate.joint.JointSolution` the stations come from.
    """

    stations: Any
    excluded: pd.DataFrame
    paths: pd.DataFrame
    corridors: pd.DataFrame
    phases: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    solution: Any = None

    def layers(self) -> dict[str, Any]:
        """GeoPackage layers of this tier."""
        return {"hydrogen_stations": self.stations}


def _size(demand_kg: float, params: HydrogenParams) -> tuple[float, int, float]:
    """(capacity kg/day, units, cost) of the smallest standard size covering demand / utilisation."""
    need = demand_kg / params.utilisation_target
    sizes, costs = params.station_sizes_kg_day, params.station_costs_cny
    for s, c in zip(sizes, costs, strict=True):
        if need <= s + 1e-9:
            return float(s), 1, float(c)
    units = math.ceil(need / sizes[-1] - 1e-12)
    return float(sizes[-1] * units), units, float(costs[-1] * units)


# =========================================================================== prepared data
@dataclass
class HydrogenPrepared:
    """Everything :func:`solve_hydrogen` and :func:`assess_hydrogen` need (from :func:`prepare_hydrogen`).

    Attributes
    ----------
    params
        The ``hydrogen`` section used.
    block
        Core block ``"hydrogen"``: every candidate the supply rule allows (and existing hydrogen
        stations), costs with delivery, the truck paths; ``site_ids`` are the candidates' ids.
    sites
        One row per block site in block order: ``site_id, name, kind, county_adcode, lon, lat``
        plus ``node, existing, model_cost, cost_cny`` (own cost, NaN = by size),
        ``supply_source, supply_km``.
    notes
        Statements for the report.
    scopes
        Per phase: bool per block site, the sites the phase may open.
    excluded
        Candidates excluded by the supply rule.
    graph, crs
        Corridor graph and its CRS.
    tf, lengths
        Truck flows (``od_id, path, truck_flow``) and the lengths of their edges (access legs
        included).
    corridor_table
        Truck flow per corridor.
    has_sources
        Whether the supply rule was applied.
    """

    params: HydrogenParams
    block: Any
    sites: pd.DataFrame
    notes: list[str]
    scopes: list[np.ndarray]
    excluded: pd.DataFrame
    graph: nx.Graph
    crs: Any
    tf: pd.DataFrame
    lengths: dict
    corridor_table: pd.DataFrame
    has_sources: bool = False

    def site_positions(self, sol: Any) -> np.ndarray:
        """Block positions of the sites of ``sol`` open in its last year."""
        return pd.Index(self.block.site_ids).get_indexer(sol.open_sites(self.block.name))

    def refuelled(self, open_nodes: set) -> np.ndarray:
        """Refuelled flag per truck path for open station nodes (the core's direct rule)."""
        R = self.params.effective_range_km
        return np.array([path_refuelled(p, self.lengths, open_nodes, R, round_trip=True) for p in self.tf["path"]],
                        dtype=bool)


def prepare_hydrogen(
    corridors: CorridorGraph | nx.Graph,
    flows: Any,
    candidates: Any,
    params: HydrogenParams | None = None,
    *,
    sources: str | Path | pd.DataFrame | gpd.GeoDataFrame | None = None,
    region: Region | None = None,
    crs: Any = None,
    access_edges: dict | None = None,
) -> HydrogenPrepared:
    """Truck flows, candidates, supply rule, phase scopes and the core block of the hydrogen tier.

    Parameters
    ----------
    corridors
        The corridor graph (a :class:`~gzcharge.highway.corridors.CorridorGraph`, or a
        ``networkx.Graph`` with edge ``length_km`` and node ``x, y`` in ``crs``). When
        ``candidates`` is a highway ``CandidateSet`` its own corridor copy is used.
    flows
        Highway ``Traffic`` (its whole-trip paths with access legs; ``truck_flow`` when the
        table has it, else ``flow`` × ``truck_share`` × ``hydrogen_share``) or a DataFrame with
        ``path`` and ``truck_flow`` (or ``flow``), optionally ``od_id`` (freight flows).
    candidates
        Highway ``CandidateSet`` (its nodes, kinds and names; fast-charging costs and
        existing flags are not used) or a DataFrame indexed by ``site_id`` with ``node`` and
        optionally ``kind, name, cost_cny`` (NaN = smallest station cost), ``existing``
        (existing hydrogen stations: fixed open, phase 0, cost 0).
    params
        Tier parameters.
    sources
        Hydrogen sources (CSV path, DataFrame ``name, lon, lat, kind`` or GeoDataFrame).
    region
        Sources outside it raise :class:`DataError`; its counties give ``county_adcode``.
    crs
        CRS of node positions for a plain ``networkx.Graph``.
    access_edges
        ``(seat node, corridor node) -> km`` for DataFrame paths that start/end at seats (a
        ``Traffic`` brings its own).
    """
    import geopandas as gpd
    import shapely

    from gzcharge.locate.joint import FlowBlock

    params = params or HydrogenParams()
    sites, cand_graph = _candidates(candidates)
    G, crs = _graph_and_crs(cand_graph if cand_graph is not None else corridors, crs)
    notes: list[str] = []
    unknown_nodes = [s for s, n in zip(sites.index, sites["node"], strict=True) if n not in G]
    if unknown_nodes:
        raise DataError(f"hydrogen candidates on nodes not in the corridor graph: {preview_ids(unknown_nodes)}")
    if sites["node"].duplicated().any():
        dup = sites.index[sites["node"].duplicated(keep=False)].tolist()
        raise DataError(f"several hydrogen candidates share a corridor node: {preview_ids(dup)}; keep one per node")
    tf = _truck_flows(flows, params)
    if hasattr(flows, "edge_lengths"):
        lengths = flows.edge_lengths(G)
    else:
        lengths = {(u, v): float(d["length_km"]) for u, v, d in G.edges(data=True)}
        lengths.update({(v, u): ln for (u, v), ln in list(lengths.items())})
        for (a, b), ln in (access_edges or {}).items():
            lengths[(a, b)] = lengths[(b, a)] = float(ln)
    for oid, path in zip(tf["od_id"], tf["path"], strict=True):
        bad = [(u, v) for u, v in zip(path[:-1], path[1:], strict=True) if (u, v) not in lengths]
        if bad:
            hint = ("; it starts or ends at a seat: pass the highway Traffic (it carries the access legs) or "
                    "access_edges=") if any(str(x).startswith("seat:") for x in bad[0]) else ""
            raise DataError(f"path {oid} uses edge {bad[0]} that is not in the corridor graph{hint}")
    paths = [list(p) for p in tf["path"]]
    f = tf["truck_flow"].to_numpy(float)

    # ---------------------------------------------------------------- supply rule
    if sources is not None and not isinstance(sources, gpd.GeoDataFrame):
        sources = read_hydrogen_sources(sources, region)
    elif isinstance(sources, gpd.GeoDataFrame) and region is not None:
        sources = read_hydrogen_sources(pd.DataFrame({"name": sources["name"], "lon": sources.to_crs(4326).geometry.x,
                                                      "lat": sources.to_crs(4326).geometry.y,
                                                      "kind": sources.get("kind", "")}), region)
    has_src = sources is not None and len(sources) > 0
    if has_src and crs is None:
        raise DataError("node positions have no CRS; pass crs= (the metric CRS of the corridor graph)")
    node_xy = np.array([[G.nodes[n].get("x", np.nan), G.nodes[n].get("y", np.nan)] for n in sites["node"]],
                       dtype=float).reshape(-1, 2)
    if has_src and not np.all(np.isfinite(node_xy)):
        raise DataError("corridor nodes of some candidates have no x/y position; the supply rule needs positions")
    src_name, supply_km = supply_distances(node_xy, sources if has_src else None, crs, params.circuity)
    sites["supply_source"] = src_name
    sites["supply_km"] = supply_km
    sites["model_cost"] = sites["cost_cny"].astype(float).fillna(params.station_costs_cny[0])
    allowed = np.ones(len(sites), dtype=bool)
    if not has_src:
        notes.append(msg("hydrogen.no_sources"))
    elif params.supply_rule == "radius":
        allowed = supply_km <= params.max_supply_km + _EPS
        notes.append(msg("hydrogen.supply_radius", km=params.max_supply_km, c=params.circuity,
                         n=int((~allowed).sum())))
    else:
        sites["model_cost"] += params.delivery_cny_per_km * np.nan_to_num(supply_km)
        notes.append(msg("hydrogen.supply_delivery", cny=params.delivery_cny_per_km))
    allowed |= sites["existing"].to_numpy()
    excluded = pd.DataFrame({"site_id": sites.index[~allowed], "name": sites["name"][~allowed].to_numpy(),
                             "supply_source": src_name[~allowed], "supply_km": supply_km[~allowed],
                             "reason": f"farther than {params.max_supply_km:g} km from every hydrogen source"})
    bs = sites.loc[allowed].copy()
    bxy = node_xy[allowed]

    # ---------------------------------------------------------------- block
    node_site = dict(zip(bs["node"], bs.index, strict=True))
    cost = {n: (0.0 if ex else float(c)) for n, c, ex in zip(bs["node"], bs["model_cost"], bs["existing"], strict=True)}
    if len(bs) == 0:  # no candidate passes the supply rule: nothing to choose (stated in the notes)
        notes.append(msg("hydrogen.none_allowed"))
        blk = FlowBlock.without_sites("hydrogen", tf["od_id"].astype(str).tolist(), f, np.zeros(len(f), bool))
    elif paths:
        core_paths, core_flows = paths, pd.Series(f, index=pd.Index(tf["od_id"].astype(str), name="od_id"))
    else:  # one zero-flow path at a candidate: no flow, no constraint
        core_paths, core_flows = [[bs["node"].iloc[0]]], pd.Series([0.0], index=pd.Index(["(no flow)"], name="od_id"))
    if len(bs):
        blk = FlowBlock.from_paths("hydrogen", core_paths, core_flows, lengths, params.effective_range_km,
                                   candidates=bs["node"].tolist(), existing=bs.loc[bs["existing"], "node"].tolist(),
                                   site_cost=cost, round_trip=True)
    order = [node_site[n] for n in blk.site_ids]
    blk.site_ids = pd.Index(order, name="site_id")
    bxy = bxy[pd.Index(bs.index).get_indexer(order)]
    bs = bs.loc[order]

    # ---------------------------------------------------------------- phase scopes
    edge_corr, corr_tab = corridor_flows(G, paths, f)
    node_corrs: dict = {}
    for (a, b), key in edge_corr.items():
        node_corrs.setdefault(a, set()).add(key)
        node_corrs.setdefault(b, set()).add(key)
    bkm = bs["supply_km"].to_numpy(float)
    scopes = []
    for ph in params.phases:
        scope = np.ones(len(bs), dtype=bool)
        if ph.top_corridors is not None:
            top = set(corr_tab["corridor"].head(ph.top_corridors))
            scope &= np.array([bool(node_corrs.get(n, set()) & top) for n in bs["node"]], dtype=bool)
        if ph.source_radius_km is not None and has_src:
            scope &= bkm <= ph.source_radius_km + _EPS
        scopes.append(scope)

    # ---------------------------------------------------------------- site table
    ll = gpd.GeoSeries(shapely.points(bxy), crs=crs).to_crs(4326) if crs is not None else None
    adcode = np.full(len(bs), None, dtype=object)
    counties = getattr(region, "counties", None)
    if ll is not None and counties is not None and "adcode" in counties.columns and len(bs):
        j = gpd.sjoin(gpd.GeoDataFrame(geometry=ll.to_numpy(), crs=4326), counties[["adcode", "geometry"]].to_crs(4326),
                      how="left", predicate="intersects")
        j = j[~j.index.duplicated(keep="first")]
        adcode = j["adcode"].reindex(range(len(bs))).astype(object).where(lambda v: v.notna(), None).to_numpy()
    table = pd.DataFrame({"site_id": order, "name": bs["name"].to_numpy(), "kind": bs["kind"].to_numpy(),
                          "county_adcode": adcode,
                          "lon": ll.x.to_numpy() if ll is not None else np.full(len(bs), np.nan),
                          "lat": ll.y.to_numpy() if ll is not None else np.full(len(bs), np.nan),
                          "node": bs["node"].to_numpy(), "existing": bs["existing"].to_numpy(bool),
                          "model_cost": bs["model_cost"].to_numpy(float), "cost_cny": bs["cost_cny"].to_numpy(float),
                          "supply_source": bs["supply_source"].to_numpy(), "supply_km": bkm,
                          "x": bxy[:, 0], "y": bxy[:, 1]})
    prep = HydrogenPrepared(params=params, block=blk, sites=table, notes=notes, scopes=scopes, excluded=excluded,
                            graph=G, crs=crs, tf=tf, lengths=lengths, corridor_table=corr_tab, has_sources=has_src)
    if len(params.phases) == 1 and scopes[0].all():
        # one phase over every site: the block carries the phase's rules, so the tier alone is
        # exactly solve_joint([prep.block], years=[year])
        prep.block = _phase_rules(prep, params.phases[0], blk, np.asarray(blk.existing, bool))[0]
    if len(paths):
        never = ~prep.refuelled(set(table["node"]))
        if never.any():
            notes.append(msg("hydrogen.never_refuelled", n=int(never.sum()), km=params.effective_range_km,
                             ids=preview_ids(tf["od_id"][never])))
    return prep


# =========================================================================== solve
def _phase_labels(params: HydrogenParams) -> list:
    """Year label per phase: the phase years when all are given and increasing, else 1..K."""
    ys = [ph.year for ph in params.phases]
    if all(y is not None for y in ys) and all(b > a for a, b in zip(ys[:-1], ys[1:], strict=True)):
        return ys
    return list(range(1, len(ys) + 1))


def _phase_rules(prep: HydrogenPrepared, ph: HydrogenPhase, b: Any, open_mask: np.ndarray) -> tuple[Any, dict, str]:
    """Phase ``ph`` on block ``b``: (block with target/limit, solve_joint keywords, objective)."""
    from dataclasses import replace

    f = np.asarray(prep.block.flows, float)
    total = float(f.sum())
    n_new = int((~np.asarray(b.existing, bool)).sum())
    if ph.stations is None and ph.budget_cny is None:
        reach = np.asarray(b.check(np.ones(len(b.site_ids), bool)), bool) if len(b.site_ids) else np.zeros(len(f), bool)
        share = ph.target_share * float(f[reach].sum()) / total * (1 - 1e-9) if total > 0 else 0.0
        return replace(b, target_share=[share] if share > 0 else None), {}, "min_cost"
    if ph.stations is not None:
        b = replace(b, max_new_sites=min(int(ph.stations), n_new))
    budget = float(ph.budget_cny) if ph.budget_cny is not None else float(np.sum(b.site_cost)) + 1.0
    return b, {"total_budget": budget}, "max_service"


#: target shares tried, relative to the phase's target, when the core finds the full target infeasible
_TARGET_RETRIES = (1.0, 0.99, 0.95, 0.9, 0.75, 0.5)


def _solve_phase(b: Any, kw: dict, objective: str, year: Any, opts: dict, notes: list[str]) -> Any:
    """One phase's core solve; a min-cost target the core proves infeasible is lowered step by step.

    The target is the share of the flow the phase's sites could refuel with every site open
    (:meth:`FlowBlock.check`); the core's flow-refuelling rows can be stricter than that check on
    long corridors (e.g. the supply rule or ties between routes), so the phase keeps the highest
    target of :data:`_TARGET_RETRIES` that the core can meet and says so.
    """
    from dataclasses import replace

    from gzcharge.locate.joint import solve_joint

    target = b.target_share[0] if objective == "min_cost" and b.target_share else None
    for f in _TARGET_RETRIES if target is not None else (1.0,):
        bb = b if f == 1.0 else replace(b, target_share=[target * f])
        try:
            sol = solve_joint([bb], years=[year], objective=objective, **kw, **opts)
        except InfeasibleError:
            if target is None or f == _TARGET_RETRIES[-1]:
                raise
            continue
        if f != 1.0:
            notes.append(msg("hydrogen.phase_target", year=year, target=target, planned=target * f, f=f))
        return sol
    raise InfeasibleError("hydrogen: no phase target could be met")  # pragma: no cover


def solve_hydrogen(prep: HydrogenPrepared, params: HydrogenParams | None = None, *, time_limit_s: float | None = None,
                   mip_rel_gap: float | None = None, threads: int | None = None) -> Any:
    """The hydrogen tier alone: one core solve (``solve_joint([block], years=[phase label])``) per phase.

    Each phase's block is ``prep.block`` restricted to the phase's scope, with the stations of
    earlier phases existing (:meth:`~gzcharge.locate.joint.FlowBlock.subset`). With one phase
    whose scope is every site, this is exactly ``solve_joint([prep.block], years=[label])`` and
    its solution is returned as is. Otherwise the phases' solutions are combined into one
    :class:`~gzcharge.locate.joint.JointSolution` whose years are the phase labels
    (:func:`_phase_labels`): ``sites`` with ``build_year`` = the phase that opened them,
    ``service``/``costs`` per phase recomputed from the open sites; ``size["phases"]`` has one
    row per phase (``status`` ``"skipped"`` when the phase had nothing to add).
    """
    from gzcharge.locate.joint import JointSolution

    params = params or prep.params
    blk = prep.block
    labels = _phase_labels(params)
    solver = SolverParams()  # the one [solver] section's defaults when no options are given
    opts = dict(time_limit_s=solver.time_limit_s if time_limit_s is None else time_limit_s,
                mip_rel_gap=solver.mip_rel_gap if mip_rel_gap is None else mip_rel_gap, threads=threads)
    f = np.asarray(blk.flows, float)
    total = float(f.sum())
    ex = np.asarray(blk.existing, bool)
    cost = np.asarray(blk.site_cost, float)

    def served(mask: np.ndarray) -> np.ndarray:
        return np.asarray(blk.check(mask), bool) if mask.any() else np.zeros(len(f), bool)

    # the planner's required sites (block mask) open by the last phase, whatever its scope
    forced = np.zeros(len(ex), bool) if blk.forced is None else np.asarray(blk.forced, bool)

    def scope(k: int) -> np.ndarray:
        return prep.scopes[k] | forced if k == len(params.phases) - 1 else prep.scopes[k]

    def phase_block(k: int, open_mask: np.ndarray) -> tuple[Any, dict, str]:
        b = blk if (scope(k).all() and (open_mask == ex).all()) else blk.subset(scope(k), existing=open_mask)
        return _phase_rules(prep, params.phases[k], b, open_mask)

    if len(params.phases) == 1 and prep.scopes[0].all():
        b0, kw, objective = phase_block(0, ex.copy())
        retry_notes: list[str] = []
        sol = _solve_phase(b0, kw, objective, labels[0], opts, retry_notes)
        sol.notes.extend(retry_notes)
        ok = served(np.isin(np.arange(len(ex)), prep.site_positions(sol)))
        sol.size["phases"] = [{"phase": 1, "name": params.phases[0].name, "year": params.phases[0].year,
                               "new_stations": int((~sol.sites["existing"].astype(bool)).sum()),
                               "refuelled_flow": float(f[ok].sum()),
                               "cost_cny": float(sol.costs["cost_cny"].sum()), "status": sol.status, "gap": sol.gap}]
        sol.size["phase_labels"] = labels
        return sol
    t0 = time.perf_counter()
    open_mask = ex.copy()
    first = np.full(len(ex), -1)
    rows, svc, costs, statuses, gaps = [], [], [], [], []
    phase_notes: list[str] = []
    for k, ph in enumerate(params.phases):
        new = scope(k) & ~open_mask
        before = served(open_mask)
        reach = served(open_mask | scope(k))
        row = {"phase": k + 1, "name": ph.name, "year": ph.year, "new_stations": 0, "status": "skipped", "gap": 0.0,
               "cost_cny": 0.0}
        must = (new & forced).any()
        if not must and (not new.any() or total <= 0 or not (reach & ~before).any() or (
                ph.stations == 0 or (ph.budget_cny is not None and ph.budget_cny <= 0))):
            row["refuelled_flow"] = float(f[before].sum())
        else:
            b, kw, objective = phase_block(k, open_mask)
            retry_notes = []
            sol = _solve_phase(b, kw, objective, labels[k], opts, retry_notes)
            phase_notes.extend(retry_notes)
            kept = np.flatnonzero(scope(k) | open_mask)
            pos = kept[pd.Index(b.site_ids).get_indexer(sol.open_sites(b.name))]
            chosen = np.zeros(len(ex), bool)
            chosen[pos] = True
            chosen &= ~open_mask
            if (chosen & ~new).any():
                raise InfeasibleError(f"internal: the core opened hydrogen sites outside phase {k + 1}'s scope")
            first[chosen] = k
            open_mask |= chosen
            statuses.append(sol.status)
            gaps.append(sol.gap)
            row.update(new_stations=int(chosen.sum()), refuelled_flow=float(f[served(open_mask)].sum()),
                       cost_cny=float(cost[chosen].sum()), status=sol.status, gap=float(sol.gap))
        rows.append(row)
        ok = served(open_mask)
        svc.append({"block": blk.name, "year": labels[k], "served": float(f[ok].sum()), "total": total,
                    "share": float(f[ok].sum() / total) if total > 0 else 1.0})
        costs.append({"block": blk.name, "year": labels[k], "cost_cny": row["cost_cny"]})
    sel = np.flatnonzero(open_mask)
    sites = pd.DataFrame({"block": blk.name, "site_id": list(blk.site_ids[sel]), "group_id": None,
                          "existing": ex[sel], "build_year": [None if first[j] < 0 else labels[first[j]] for j in sel],
                          "cost_cny": np.where(ex[sel], 0.0, cost[sel]), "station_type": None, "n_stations": None})
    st = "optimal" if all(x == "optimal" for x in statuses) else ",".join(dict.fromkeys(statuses)) or "optimal"
    obj = float(cost[open_mask & ~ex].sum())
    return JointSolution(sites=sites, groups=pd.DataFrame(columns=["group_id", "blocks", "existing", "build_year",
                                                                   "shared_cost_cny"]),
                         costs=pd.DataFrame(costs), service=pd.DataFrame(svc), status=st, objective=obj,
                         bound=float("nan"), gap=float(max(gaps, default=0.0)), seconds=time.perf_counter() - t0,
                         size={"phases": rows, "phase_labels": labels}, notes=phase_notes)


# =========================================================================== assess
def assess_hydrogen(prep: HydrogenPrepared, sol: Any, params: HydrogenParams | None = None) -> HydrogenResult:
    """Stations, sizing, paths and phases of the open sites of ``sol`` (block ``prep.block.name``).

    Refuelled flags and demand are recomputed from the chosen sites (direct rule and stop rule of
    :mod:`gzcharge.locate._paths`). A site's phase is the position of its ``build_year`` among
    the phase labels (0: existing); ``phase_year`` is the phase's year (or the build year of a
    several-year joint solution).
    """
    import geopandas as gpd
    import shapely

    t0 = time.perf_counter()
    params = params or prep.params
    R = params.effective_range_km
    tab = prep.sites.set_index("site_id")
    mine = sol.sites[sol.sites["block"] == prep.block.name]
    labels = list(sol.size.get("phase_labels") or sorted(dict.fromkeys(v for v in mine["build_year"] if v is not None
                                                                       and not pd.isna(v))))
    phase_of: dict = {}
    for sid, by, ex in zip(mine["site_id"], mine["build_year"], mine["existing"], strict=True):
        phase_of[tab.at[sid, "node"]] = 0 if ex or by is None or pd.isna(by) else labels.index(by) + 1
    site_of_node = dict(zip(tab["node"], tab.index, strict=True))
    open_nodes = set(phase_of)
    paths = list(prep.tf["path"])
    f = prep.tf["truck_flow"].to_numpy(float)
    total = float(f.sum())
    path_phase = np.full(len(paths), -1)
    for k in range(len(labels) + 1):
        ok = prep.refuelled({n for n, ph in phase_of.items() if ph <= k}) if len(paths) else np.zeros(0, bool)
        path_phase[ok & (path_phase < 0)] = k
    # sizing
    kg_day: dict = {n: 0.0 for n in open_nodes}
    per_km = params.kg_per_100km / 100.0
    for p, fl in zip(paths, f, strict=True):
        if fl <= 0:
            continue
        for n, km in path_stops(p, prep.lengths, open_nodes, R, round_trip=True):
            kg_day[n] += fl / 2.0 * km * per_km
    phase_name = {k + 1: ph.name for k, ph in enumerate(params.phases)} if "phase_labels" in sol.size else {}
    phase_year = ({k + 1: ph.year for k, ph in enumerate(params.phases)} if "phase_labels" in sol.size
                  else {k + 1: y for k, y in enumerate(labels)})
    rows = []
    for n in sorted(open_nodes, key=lambda x: (phase_of[x], str(site_of_node[x]))):
        sid = site_of_node[n]
        cap, units, cost = _size(kg_day[n], params)
        deliver = (params.delivery_cny_per_km * float(np.nan_to_num(tab.at[sid, "supply_km"]))
                   if prep.has_sources and params.supply_rule == "delivery_cost" else 0.0)
        ph = phase_of[n]
        own = tab.at[sid, "cost_cny"]
        rows.append({
            "site_id": sid, "name": tab.at[sid, "name"], "kind": tab.at[sid, "kind"], "phase": ph,
            "phase_name": "existing" if ph == 0 else phase_name.get(ph, str(labels[ph - 1])),
            "phase_year": None if ph == 0 else phase_year.get(ph),
            "demand_kg_day": kg_day[n], "capacity_kg_day": cap, "units": units,
            "supply_source": tab.at[sid, "supply_source"], "supply_km": tab.at[sid, "supply_km"],
            "cost_cny": 0.0 if bool(tab.at[sid, "existing"]) else (cost if pd.isna(own) else float(own)) + deliver,
            "geometry": shapely.Point(tab.at[sid, "x"], tab.at[sid, "y"]),
        })
    cols = ["site_id", "name", "kind", "phase", "phase_name", "phase_year", "demand_kg_day", "capacity_kg_day", "units",
            "supply_source", "supply_km", "cost_cny", "geometry"]
    st = gpd.GeoDataFrame(pd.DataFrame(rows, columns=cols), geometry="geometry", crs=prep.crs)
    if prep.crs is not None:
        st = st.to_crs("EPSG:4326")
    plen = [float(sum(prep.lengths[(u, v)] for u, v in zip(p[:-1], p[1:], strict=True))) for p in paths]
    path_tab = pd.DataFrame({"od_id": prep.tf["od_id"], "truck_flow": f, "length_km": plen,
                             "refuelled": path_phase >= 0,
                             "phase": pd.array([int(x) if x >= 0 else pd.NA for x in path_phase], dtype="Int64")})
    if "phases" in sol.size:
        phases = pd.DataFrame(sol.size["phases"], columns=["phase", "name", "year", "new_stations", "refuelled_flow",
                                                           "cost_cny", "status", "gap"])
    else:  # a several-year (joint) solution: one row per year
        sv = sol.service[sol.service["block"] == prep.block.name]
        cs = sol.costs[sol.costs["block"] == prep.block.name].set_index("year")["cost_cny"]
        phases = pd.DataFrame({"phase": range(1, len(sv) + 1), "name": sv["year"].astype(str).to_numpy(),
                               "year": sv["year"].to_numpy(),
                               "new_stations": [sum(1 for ph in phase_of.values() if ph == k + 1) for k in range(len(sv))],
                               "refuelled_flow": sv["served"].to_numpy(float),
                               "cost_cny": cs.reindex(sv["year"]).fillna(0.0).to_numpy(float),
                               "status": sol.status, "gap": sol.gap})
    phases["refuelled_share"] = phases["refuelled_flow"] / total if total > 0 else 0.0
    return HydrogenResult(stations=st, excluded=prep.excluded, paths=path_tab, corridors=prep.corridor_table,
                          phases=phases, notes=list(prep.notes) + list(getattr(sol, "notes", [])), seconds=time.perf_counter() - t0, solution=sol)


def plan_hydrogen(
    corridors: CorridorGraph | nx.Graph,
    flows: Any,
    candidates: Any,
    params: HydrogenParams | None = None,
    *,
    sources: str | Path | pd.DataFrame | gpd.GeoDataFrame | None = None,
    region: Region | None = None,
    crs: Any = None,
) -> HydrogenResult:
    """Plan hydrogen refuelling stations on truck corridors in phases (prepare, solve, assess).

    Parameters are those of :func:`prepare_hydrogen`; solver options come from ``params``.
    """
    t0 = time.perf_counter()
    prep = prepare_hydrogen(corridors, flows, candidates, params, sources=sources, region=region, crs=crs)
    res = assess_hydrogen(prep, solve_hydrogen(prep))
    res.seconds = time.perf_counter() - t0
    return res


# =========================================================================== the Tier
def freight_flows(path: str, hw: Any, scenario: Any, region: Region) -> Any:
    """Hydrogen truck flows from a user freight OD CSV (``origin, destination, flow`` = heavy trucks/day).

    Origins and destinations are county seats (adcode or name); routes are those of the highway
    tier's corridors (whole trips, access legs included); ``truck_flow = flow ×
    hydrogen.hydrogen_share`` (the fuel-cell share).
    """
    from gzcharge.highway.model import county_seat_points
    from gzcharge.highway.traffic import build_traffic, read_od_csv

    od = read_od_csv(path)
    params = scenario.highway.model_copy(update={"daily_trips_scale": 1.0})
    traffic = build_traffic(hw.candidates.corridors, params, county_seat_points(region), od=od)
    traffic.od["truck_flow"] = traffic.od["flow"].to_numpy(float) * scenario.hydrogen.hydrogen_share
    return traffic


class HydrogenTier(Tier):
    """Hydrogen refuelling for heavy trucks on the expressway corridors, in phases."""

    name = "hydrogen"
    title = "Hydrogen refuelling (加氢) for heavy trucks"
    site_sharing = 1

    def prepare(self, ctx: PlanContext) -> Prepared:
        from pathlib import Path

        from gzcharge.highway.tier import prepared_corridors

        hw = prepared_corridors(ctx)
        if hw.skipped:
            return Prepared(self.name, skipped=msg("hydrogen.no_corridors"))
        notes: list[str] = []
        flows: Any = hw.traffic
        if ctx.inputs.freight_od:
            flows = freight_flows(ctx.inputs.freight_od, hw, ctx.scenario, ctx.region)
            notes.append(msg("hydrogen.freight", file=Path(ctx.inputs.freight_od).name,
                             h2=ctx.scenario.hydrogen.hydrogen_share))
        prep = prepare_hydrogen(hw.corridors, flows, hw.candidates, ctx.scenario.hydrogen,
                                sources=ctx.inputs.h2_sources, region=ctx.region)
        return Prepared(self.name, block=prep.block, sites=prep.sites, data=prep, notes=notes + list(prep.notes))

    def solve(self, ctx: PlanContext, prep: Prepared) -> Any:
        s = ctx.scenario.solver
        return solve_hydrogen(prep.data, ctx.scenario.hydrogen, time_limit_s=s.time_limit_s,
                              mip_rel_gap=s.mip_rel_gap, threads=s.threads)

    def assess(self, ctx: PlanContext, prep: Prepared, sol: Any) -> TierResult:
        res = assess_hydrogen(prep.data, sol, ctx.scenario.hydrogen)
        st = res.stations
        hp = ctx.scenario.hydrogen
        cost = float(st["cost_cny"].sum()) if len(st) and "cost_cny" in st else 0.0
        text: list[Any] = [msg("hydrogen.rules", truck=hp.truck_share, h2=hp.hydrogen_share, range=hp.range_km),
                           msg("hydrogen.result", stations=len(st), cost=cost, status=sol.status, gap=sol.gap)]
        sections: list[tuple[str, Any]] = [(self.title, text)]
        if res.phases is not None and len(res.phases):
            sections.append(("Hydrogen phases", res.phases))
        if res.excluded is not None and len(res.excluded):
            sections.append(("Hydrogen candidates excluded by the supply rule", res.excluded))
        summary = [("hydrogen stations", len(st)), ("hydrogen cost (CNY)", f"{cost:,.0f}")]
        return TierResult(tier=self.name, title=self.title, status=status_of(sol.status), objective=sol.objective,
                          gap=sol.gap, seconds=res.seconds or sol.seconds, layers=res.layers(), summary=summary,
                          sections=sections, metadata={"stations": len(st), "cost_cny": cost},
                          notes=list(res.notes), raw=res)
