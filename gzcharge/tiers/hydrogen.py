r"""Hydrogen refuelling tier (氢燃料供给体系): truck corridors, supply rule, staged build-out.

The plan asks for an *orderly* hydrogen refuelling layout for medium and heavy trucks on
longer corridors. :func:`plan_hydrogen` sites stations with the flow-refuelling core
(:func:`gzcharge.locate.frlm.frlm`, arc-cover path-cover) at the truck range, in phases:

1. **Truck flows.** One row per OD path (node list on the corridor graph): ``truck_flow``
   (fuel-cell trucks/day, both directions) given directly (a user freight OD), or derived
   from the highway tier's vehicle flow as ``flow × truck_share × hydrogen_share``.
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
   open. A phase with ``stations`` and/or ``budget_cny`` maximises refuelled truck flow; a
   phase with neither opens the cheapest stations refuelling ``target_share`` of the truck
   flow that its scope can refuel at all.

Refuelling rule (the core's): a round trip O→D→O is refuelled when open stations lie on
the path with the first within ``R/2`` of the origin, the last within ``R/2`` of the
destination and none more than ``R`` apart, ``R = range_km × (1 − range_reserve_share)``.

Corridors and flow: edges are grouped into corridors by their ``ref`` (e.g. G60), else
their ``segment``; a corridor's truck flow is its length-weighted mean edge flow
(truck-km per km). A site is *on* a corridor when one of its edges belongs to it.

Sizing (stated assumptions): trucks on a refuelled round trip refuel at the first open
station from their origin and thereafter at the last station before the range would be
exceeded (:func:`gzcharge.highway.model.refuel_stops`, fewest stops); each stop takes the
hydrogen for the kilometres driven since the previous stop at ``kg_per_100km``. Round trips
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
from gzcharge.scenario.hydrogen import HydrogenParams, HydrogenPhase

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from gzcharge.highway.corridors import CorridorGraph
    from gzcharge.region import Region

logger = logging.getLogger(__name__)

__all__ = [
    "HydrogenParams",
    "HydrogenPhase",
    "HydrogenResult",
    "corridor_flows",
    "hub_candidates",
    "plan_hydrogen",
    "read_hydrogen_sources",
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
        try:
            df = pd.read_csv(p, encoding="utf-8-sig", dtype=str, keep_default_na=False, skipinitialspace=True)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"hydrogen source file {p}: cannot read as CSV ({exc})") from None
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
        graph = candidates.corridors
        keep = [c for c in ("node", "kind", "name") if c in candidates.sites.columns]
        sites = candidates.sites[keep].copy()
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


def _refills(path: list, lengths: dict, open_nodes: set, range_km: float) -> list[tuple[Any, float]]:
    """(station, km refilled) per stop of one round trip O→D→O; [] if not refuelled.

    Each stop refills the kilometres driven since the previous stop (cyclically), so the
    refills of one round trip add up to its length ``2L``.
    """
    from gzcharge.highway.model import path_positions, refuel_stops

    stops = refuel_stops(path, lengths, open_nodes, range_km, round_trip=True)
    if not stops:
        return []
    pos = path_positions(path, lengths)
    total = 2 * pos[-1]
    seq = sorted({(float(pos[i]), n) for i, n in enumerate(path) if n in open_nodes} |
                 {(float(total - pos[i]), n) for i, n in enumerate(path) if n in open_nodes}, key=lambda t: t[0])
    # replay the greedy walk of refuel_stops to get each stop's position on the cycle
    ext = seq + [(k + total, n) for k, n in seq]
    cur = seq[0][0]
    at = [cur]
    end = cur + total
    while cur + range_km < end - _EPS:
        cur = [k for k, _n in ext if cur + _EPS < k <= cur + range_km + _EPS][-1]
        at.append(cur)
    nxt = at[1:] + [at[0] + total]
    km = [b - a for a, b in zip(at, nxt, strict=True)]
    return list(zip(stops, km, strict=True))


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
    """

    stations: Any
    excluded: pd.DataFrame
    paths: pd.DataFrame
    corridors: pd.DataFrame
    phases: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def layers(self) -> dict[str, Any]:
        """GeoPackage layers of this tier."""
        return {"hydrogen_stations": self.stations}


def _frlm(min_cost: bool, **kwargs: Any) -> Any:
    from gzcharge.locate.frlm import frlm, frlm_min_cost

    return (frlm_min_cost if min_cost else frlm)(**kwargs)


def _size(demand_kg: float, params: HydrogenParams) -> tuple[float, int, float]:
    """(capacity kg/day, units, cost) of the smallest standard size covering demand / utilisation."""
    need = demand_kg / params.utilisation_target
    sizes, costs = params.station_sizes_kg_day, params.station_costs_cny
    for s, c in zip(sizes, costs, strict=True):
        if need <= s + 1e-9:
            return float(s), 1, float(c)
    units = math.ceil(need / sizes[-1] - 1e-12)
    return float(sizes[-1] * units), units, float(costs[-1] * units)


# =========================================================================== the tier
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
    """Plan hydrogen refuelling stations on truck corridors in phases.

    Parameters
    ----------
    corridors
        The corridor graph (a :class:`~gzcharge.highway.corridors.CorridorGraph`, or a
        ``networkx.Graph`` with edge ``length_km`` and node ``x, y`` in ``crs``). When
        ``candidates`` is a highway ``CandidateSet`` its own corridor copy is used.
    flows
        Highway ``Traffic`` (``flow`` × ``truck_share`` × ``hydrogen_share``) or a DataFrame
        with ``path`` and ``truck_flow`` (or ``flow``), optionally ``od_id``.
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
        Sources outside it raise :class:`DataError`.
    crs
        CRS of node positions for a plain ``networkx.Graph``.

    Returns
    -------
    HydrogenResult
    """
    import geopandas as gpd
    import shapely

    t0 = time.perf_counter()
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
    lengths = {(u, v): float(d["length_km"]) for u, v, d in G.edges(data=True)}
    lengths.update({(v, u): ln for (u, v), ln in list(lengths.items())})
    for oid, path in zip(tf["od_id"], tf["path"], strict=True):
        bad = [(u, v) for u, v in zip(path[:-1], path[1:], strict=True) if (u, v) not in lengths]
        if bad:
            raise DataError(f"path {oid} uses edge {bad[0]} that is not in the corridor graph")
    paths = [list(p) for p in tf["path"]]
    f = tf["truck_flow"].to_numpy(float)
    total_flow = float(f.sum())
    R = params.effective_range_km

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
    node_xy = np.array([[G.nodes[n].get("x", np.nan), G.nodes[n].get("y", np.nan)] for n in sites["node"]], dtype=float)
    if has_src and not np.all(np.isfinite(node_xy)):
        raise DataError("corridor nodes of some candidates have no x/y position; the supply rule needs positions")
    src_name, supply_km = supply_distances(node_xy, sources if has_src else None, crs, params.circuity)
    sites["supply_source"] = src_name
    sites["supply_km"] = supply_km
    base_cost = params.station_costs_cny[0]
    sites["model_cost"] = sites["cost_cny"].astype(float).fillna(base_cost)
    allowed = np.ones(len(sites), dtype=bool)
    if not has_src:
        notes.append("no hydrogen sources given: the supply rule was not applied")
    elif params.supply_rule == "radius":
        allowed = supply_km <= params.max_supply_km + _EPS
        notes.append(f"supply rule: sites within {params.max_supply_km:g} km (straight line × {params.circuity:g}) "
                     f"of a hydrogen source; {int((~allowed).sum())} candidate(s) excluded")
    else:
        sites["model_cost"] += params.delivery_cny_per_km * np.nan_to_num(supply_km)
        notes.append(f"supply rule: delivery cost {params.delivery_cny_per_km:,.0f} CNY per km of supply distance "
                     "added to each site's cost")
    allowed |= sites["existing"].to_numpy()
    excluded = pd.DataFrame({"site_id": sites.index[~allowed], "name": sites["name"][~allowed].to_numpy(),
                             "supply_source": src_name[~allowed], "supply_km": supply_km[~allowed],
                             "reason": f"farther than {params.max_supply_km:g} km from every hydrogen source"})

    # ---------------------------------------------------------------- phases
    edge_corr, corr_tab = corridor_flows(G, paths, f)
    from gzcharge.highway.model import refuelled_direct

    node_corrs: dict = {}
    for (a, b), key in edge_corr.items():
        node_corrs.setdefault(a, set()).add(key)
        node_corrs.setdefault(b, set()).add(key)
    node_of = dict(zip(sites.index, sites["node"], strict=True))
    site_of_node = {n: s for s, n in node_of.items()}
    cost_of_node = dict(zip(sites["node"], sites["model_cost"], strict=True))
    open_nodes: set = set(sites.loc[sites["existing"], "node"])
    phase_of: dict = {n: 0 for n in open_nodes}
    path_phase = np.full(len(paths), -1)

    def served(nodes: set) -> np.ndarray:
        return np.array([refuelled_direct(p, lengths, nodes, R, round_trip=True) for p in paths], bool)

    if open_nodes:
        path_phase[served(open_nodes)] = 0
    phase_rows = []
    for k, ph in enumerate(params.phases, start=1):
        scope = allowed.copy()
        if ph.top_corridors is not None:
            top = set(corr_tab["corridor"].head(ph.top_corridors))
            scope &= np.array([bool(node_corrs.get(n, set()) & top) for n in sites["node"]], dtype=bool)
        if ph.source_radius_km is not None and has_src:
            scope &= supply_km <= ph.source_radius_km + _EPS
        new_nodes = [n for n, ok in zip(sites["node"], scope, strict=True) if ok and n not in open_nodes]
        cand_nodes = sorted(open_nodes, key=str) + new_nodes
        before = served(open_nodes) if open_nodes else np.zeros(len(paths), bool)
        reach = served(set(cand_nodes)) if cand_nodes else np.zeros(len(paths), bool)
        row = {"phase": k, "name": ph.name, "year": ph.year, "new_stations": 0, "status": "skipped", "gap": 0.0,
               "cost_cny": 0.0}
        if not new_nodes or total_flow <= 0 or not (reach & ~before).any() or (
                ph.stations == 0 or (ph.budget_cny is not None and ph.budget_cny <= 0)):
            row.update(refuelled_flow=float(f[before].sum()))
            phase_rows.append(row)
            continue
        kwargs: dict[str, Any] = dict(paths=paths, flows=list(f), edge_lengths=lengths, vehicle_range=R,
                                      candidates=cand_nodes, existing=sorted(open_nodes, key=str), round_trip=True,
                                      time_limit_s=params.time_limit_s, mip_rel_gap=params.mip_gap)
        site_cost = {n: (0.0 if n in open_nodes else float(cost_of_node[n])) for n in cand_nodes}
        min_cost = ph.stations is None and ph.budget_cny is None
        if min_cost:
            share = ph.target_share * float(f[reach].sum()) / total_flow * (1 - 1e-9)
            kwargs.update(site_cost=site_cost, target_share=share)
        else:
            if ph.stations is not None:
                kwargs["p"] = len(open_nodes) + min(ph.stations, len(new_nodes))
            if ph.budget_cny is not None:
                kwargs.update(budget=ph.budget_cny, site_cost=site_cost)
        res = _frlm(min_cost, **kwargs)
        chosen = set(res.selected) - open_nodes
        bad = chosen - set(new_nodes)
        if bad:
            raise InfeasibleError(f"internal: flow-refuelling model opened sites outside phase {k}'s scope: {bad}")
        for n in chosen:
            phase_of[n] = k
        open_nodes |= chosen
        now = served(open_nodes)
        path_phase[now & (path_phase < 0)] = k
        row.update(new_stations=len(chosen), refuelled_flow=float(f[now].sum()),
                   cost_cny=float(sum(cost_of_node[n] for n in chosen)),
                   status=str(getattr(res.status, "value", res.status)), gap=float(res.gap))
        phase_rows.append(row)
    phases = pd.DataFrame(phase_rows, columns=["phase", "name", "year", "new_stations", "refuelled_flow", "cost_cny",
                                               "status", "gap"])
    phases["refuelled_share"] = phases["refuelled_flow"] / total_flow if total_flow > 0 else 0.0

    # ---------------------------------------------------------------- sizing
    kg_day: dict = {n: 0.0 for n in open_nodes}
    per_km = params.kg_per_100km / 100.0
    for p, fl in zip(paths, f, strict=True):
        if fl <= 0:
            continue
        trips = fl / 2.0
        for n, km in _refills(p, lengths, open_nodes, R):
            kg_day[n] += trips * km * per_km
    rows = []
    for n in sorted(open_nodes, key=lambda x: (phase_of[x], str(site_of_node[x]))):
        sid = site_of_node[n]
        cap, units, cost = _size(kg_day[n], params)
        is_existing = bool(sites.at[sid, "existing"])
        deliver = (params.delivery_cny_per_km * float(np.nan_to_num(sites.at[sid, "supply_km"]))
                   if has_src and params.supply_rule == "delivery_cost" else 0.0)
        ph = phase_of[n]
        rows.append({
            "site_id": sid, "name": sites.at[sid, "name"], "kind": sites.at[sid, "kind"], "phase": ph,
            "phase_name": "existing" if ph == 0 else params.phases[ph - 1].name,
            "phase_year": None if ph == 0 else params.phases[ph - 1].year,
            "demand_kg_day": kg_day[n], "capacity_kg_day": cap, "units": units,
            "supply_source": sites.at[sid, "supply_source"], "supply_km": sites.at[sid, "supply_km"],
            "cost_cny": 0.0 if is_existing else (cost if pd.isna(sites.at[sid, "cost_cny"]) else
                                                  float(sites.at[sid, "cost_cny"])) + deliver,
            "geometry": shapely.Point(G.nodes[n].get("x", np.nan), G.nodes[n].get("y", np.nan)),
        })
    cols = ["site_id", "name", "kind", "phase", "phase_name", "phase_year", "demand_kg_day", "capacity_kg_day", "units",
            "supply_source", "supply_km", "cost_cny", "geometry"]
    st = gpd.GeoDataFrame(pd.DataFrame(rows, columns=cols), geometry="geometry", crs=crs)
    if crs is not None:
        st = st.to_crs("EPSG:4326")
    plen = [float(sum(lengths[(u, v)] for u, v in zip(p[:-1], p[1:], strict=True))) for p in paths]
    path_tab = pd.DataFrame({"od_id": tf["od_id"], "truck_flow": f, "length_km": plen, "refuelled": path_phase >= 0,
                             "phase": pd.array([int(x) if x >= 0 else pd.NA for x in path_phase], dtype="Int64")})
    never = ~served(set(sites.loc[allowed, "node"])) if len(paths) else np.zeros(0, bool)
    if never.any():
        notes.append(f"{int(never.sum())} truck path(s) cannot be refuelled by any allowed site at {R:g} km effective "
                     f"range: {preview_ids(tf['od_id'][never])}")
    return HydrogenResult(stations=st, excluded=excluded, paths=path_tab, corridors=corr_tab, phases=phases,
                          notes=notes, seconds=time.perf_counter() - t0)
