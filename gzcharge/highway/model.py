"""Highway fast-charging plan: flow refuelling with a maximum-gap rule, sizing, result layers.

Model
-----
Sites are chosen by the flow-refuelling core :func:`gzcharge.locate.frlm.frlm` (arc-cover
path-cover: a round trip along a path is *refuelled* when the open sites on it leave no
stretch of the cyclic trip O→D→O longer than the effective range) with two additions:

* **Maximum-gap rule** as ``required_covers``: every *window* of corridor of length
  ``G = max_gap_km`` must hold an open site. Windows start at every corridor end (node of
  degree 1) and at every candidate, and run ``G`` km along every simple path of the corridor
  graph leading away from it (branching at junctions); a window that reaches a corridor end
  before ``G`` km needs nothing (that end is within ``G``). Each window gives one constraint
  "at least one open candidate among those within ``(start, start + G]``". On a single
  corridor these windows are exactly equivalent to "no stretch between consecutive sites,
  or between a corridor end and its first site, is longer than ``G``" (a window after each
  candidate position is implied by that rule and together they imply it); a site serves
  both carriageways, so the rule holds in each direction. Windows without any candidate
  cannot be met: they are left out of the model and **reported** in
  :attr:`HighwayResult.unmet_windows`, never hidden.
* **Modes.** ``max_flow``: maximise refuelled EV flow with ``stations`` new sites and/or
  ``budget_cny`` (existing sites are fixed open and free; ``fixed_open`` sites count as new).
  With neither, the cheapest sites that meet the gap rule are found first
  (:func:`~gzcharge.locate.frlm.frlm_min_cost` with target 0) and, when there is traffic, the
  refuelled flow is then maximised within that cost (:func:`~gzcharge.locate.frlm.frlm` with
  the budget set to it). ``min_cost``: cheapest sites meeting the gap rule and refuelling
  ``target_flow_share`` of the flow. OD pairs that no choice of candidates can refuel are
  listed in :attr:`HighwayResult.never_served` (and make ``min_cost`` fail, named, when the
  target needs them).

Sizing (stated assumptions)
---------------------------
* Charging stops: an EV on a refuelled round trip charges at the first open site it meets
  from its origin and thereafter, greedily, at the last open site before its range would be
  exceeded (fewest stops); every stop is one session. Round trips per day are half the pair's
  daily EV flow (the flow counts both directions).
* Peak-hour arrivals ``λ = sessions/day × peak_hour_factor``; service rate per plug
  ``μ = 60 / session_min`` per hour; Poisson arrivals, exponential service (M/M/c).
* Plugs: the smallest ``c ≥ min_plugs`` with ``c·μ > λ`` and Erlang-C mean wait
  ``W_q = C(c, λ/μ) / (c·μ − λ) ≤ wait_target_min``. Power = plugs × ``plug_kw``.
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

from gzcharge.errors import DataError, InfeasibleError
from gzcharge.highway.corridors import CorridorGraph, edge_key, station_free_stretches

if TYPE_CHECKING:  # pragma: no cover

    from gzcharge.highway.candidates import CandidateSet
    from gzcharge.highway.params import HighwayParams
    from gzcharge.highway.traffic import Traffic

logger = logging.getLogger(__name__)

__all__ = [
    "HighwayResult",
    "NO_EXPRESSWAY_NOTICE",
    "erlang_c_plugs",
    "gap_windows",
    "path_positions",
    "plan_highway",
    "refuelled_direct",
    "refuel_stops",
    "solve_highway",
]

NO_EXPRESSWAY_NOTICE = (
    "highway tier skipped: no expressway data — give an OSM extract (--osm-file guizhou.osm.pbf), "
    "an expressway line layer (--expressways lines.gpkg) or run online to fetch OSM"
)
_EPS = 1e-6


# ---------------------------------------------------------------------- gap windows
def gap_windows(graph: nx.Graph, candidates: list, max_gap_km: float) -> tuple[list[list], list[dict]]:
    """Windows of the maximum-gap rule: "at least one open candidate" sets.

    Parameters
    ----------
    graph
        Corridor graph (edge ``length_km``).
    candidates
        Candidate nodes.
    max_gap_km
        Window length ``G``.

    Returns
    -------
    windows
        Distinct candidate lists (sorted), one per window that has candidates.
    unmet
        Windows with no candidate: ``start`` node, ``path`` (node list walked), ``reach_km``.
    """
    cand = set(candidates)
    starts = sorted(cand | {n for n in graph.nodes if graph.degree(n) == 1})
    seen: set = set()
    windows: list[list] = []
    unmet: list[dict] = []
    unmet_seen: set = set()
    for s in starts:
        # DFS over simple paths: (node, dist, found candidates, path)
        stack = [(s, 0.0, (), (s,))]
        while stack:
            node, dist, found, path = stack.pop()
            nbrs = [w for w in graph.neighbors(node) if w not in path]
            if node != s and not nbrs:
                continue  # corridor end reached within G: the stretch to the end is short enough
            for w in sorted(nbrs, reverse=True):
                d2 = dist + graph.edges[node, w]["length_km"]
                if d2 > max_gap_km + _EPS:
                    # window ends inside edge (node, w)
                    key = tuple(sorted(found))
                    if found:
                        if key not in seen:
                            seen.add(key)
                            windows.append(list(key))
                    else:
                        ukey = (s, path[1] if len(path) > 1 else w)
                        if ukey not in unmet_seen:
                            unmet_seen.add(ukey)
                            unmet.append({"start": s, "path": [*path, w], "reach_km": max_gap_km})
                    continue
                f2 = found + ((w,) if w in cand else ())
                stack.append((w, d2, f2, (*path, w)))
    return _minimal_sets(windows), unmet


def _minimal_sets(sets: list[list]) -> list[list]:
    """Drop windows that contain another window (they are implied)."""
    by_len = sorted(sets, key=lambda x: (len(x), x))
    kept: list[frozenset] = []
    out = []
    index: dict = {}
    for s in by_len:
        fs = frozenset(s)
        implied = False
        cands = set()
        for n in s:
            cands.update(index.get(n, ()))
        for k in cands:
            if kept[k] <= fs:
                implied = True
                break
        if implied:
            continue
        idx = len(kept)
        kept.append(fs)
        for n in s:
            index.setdefault(n, []).append(idx)
        out.append(sorted(s))
    return out


# ---------------------------------------------------------------------- direct range checks
def path_positions(path: list, lengths: dict) -> np.ndarray:
    """Km post of each node along ``path`` (``lengths[(u, v)]`` or ``lengths[(v, u)]``)."""
    pos = [0.0]
    for u, v in zip(path[:-1], path[1:], strict=True):
        ln = lengths.get((u, v), lengths.get((v, u)))
        if ln is None:
            raise DataError(f"path uses edge ({u}, {v}) that has no length")
        pos.append(pos[-1] + float(ln))
    return np.array(pos)


def refuelled_direct(path: list, lengths: dict, open_nodes: set, range_km: float, *, round_trip: bool = True) -> bool:
    """Whether a trip along ``path`` is refuelled by ``open_nodes`` (checked directly).

    The rule is the one documented in :mod:`gzcharge.locate.frlm`, evaluated here from the km
    posts of the open sites on the path (no arc-cover sets). With open sites at
    ``s_1 <= ... <= s_k`` on a path of length ``L`` and range ``R``:

    * round trip (O→D→O repeated; the vehicle leaves the origin with half a tank):
      ``k >= 1``, ``s_1 <= R/2``, ``s_{i+1} - s_i <= R``, ``L - s_k <= R/2``;
    * one way (full tank at the origin, may arrive empty): ``s_1 <= R`` (no site needed
      when ``L <= R``), ``s_{i+1} - s_i <= R``, ``L - s_k <= R``.
    """
    pos = path_positions(path, lengths)
    at = np.sort(np.array([pos[i] for i, n in enumerate(path) if n in open_nodes], dtype=float))
    L = float(pos[-1])
    R = float(range_km)
    eps = _EPS * max(1.0, R, L)
    end_reach = R / 2 if round_trip else R
    if len(at) == 0:
        return (not round_trip) and L <= R + eps
    gaps = np.diff(at)
    return bool(at[0] <= end_reach + eps and L - at[-1] <= end_reach + eps and (gaps.max(initial=0.0) <= R + eps))


def _greedy(sites_km: np.ndarray, site_ids: list, start_km: float, end_km: float, fuel_km: float, range_km: float) -> list:
    """Fewest stops from ``start_km`` (with ``fuel_km`` in the tank) to ``end_km``, full charge at each stop."""
    stops: list = []
    reach = start_km + fuel_km
    eps = _EPS * max(1.0, range_km, end_km)
    while reach < end_km - eps:
        ok = np.flatnonzero((sites_km <= reach + eps) & (sites_km > reach - range_km + eps))
        if len(ok) == 0:  # cannot happen on a refuelled trip
            raise InfeasibleError("internal: greedy refuelling found no reachable site on a refuelled path")
        j = ok[-1]
        stops.append(site_ids[j])
        reach = sites_km[j] + range_km
    return stops


def refuel_stops(path: list, lengths: dict, open_nodes: set, range_km: float, *, round_trip: bool = True) -> list:
    """Charging stops (node ids, with repeats) of one trip under the fewest-stops greedy rule.

    Round trip: the cyclic trip O→D→O (a site at km ``x`` is met at ``x`` and ``2L − x``)
    in steady state: the EV charges to full at the first open site from its origin and
    thereafter at the last open site before its range would be exceeded, until it can reach
    that first site again. One way: it leaves the origin with a full tank and charges at the
    last open site before its range would be exceeded until the destination is in reach.
    Returns ``[]`` when the trip is not refuelled (:func:`refuelled_direct`).
    """
    if not refuelled_direct(path, lengths, open_nodes, range_km, round_trip=round_trip):
        return []
    pos = path_positions(path, lengths)
    L = float(pos[-1])
    seq = sorted({(float(pos[i]), n) for i, n in enumerate(path) if n in open_nodes}, key=lambda t: (t[0], str(t[1])))
    if not round_trip:
        return _greedy(np.array([k for k, _ in seq]), [n for _, n in seq], 0.0, L, range_km, range_km)
    cyc = seq + [(2 * L - k, n) for k, n in reversed(seq) if _EPS < k < L - _EPS]
    first_km, first = cyc[0]
    ext = cyc + [(k + 2 * L, n) for k, n in cyc]
    km = np.array([k for k, _ in ext])
    ids = [n for _, n in ext]
    return [first, *_greedy(km, ids, first_km, first_km + 2 * L, range_km, range_km)]


# ---------------------------------------------------------------------- sizing
def erlang_c_plugs(arrivals_per_h: float, session_min: float, wait_target_min: float, min_plugs: int = 1) -> tuple[int, float]:
    """Smallest plug count with M/M/c mean wait ≤ target; returns (plugs, mean wait in minutes)."""
    lam = float(arrivals_per_h)
    mu = 60.0 / session_min
    if lam <= 0:
        return max(1, min_plugs), 0.0
    a = lam / mu
    c = max(min_plugs, int(math.floor(a)) + 1)
    while True:
        b = 1.0
        for k in range(1, c + 1):
            b = a * b / (k + a * b)
        pw = c * b / (c - a * (1 - b))
        wq_min = pw / (c * mu - lam) * 60.0
        if wq_min <= wait_target_min + 1e-12:
            return c, wq_min
        c += 1


# ---------------------------------------------------------------------- result
@dataclass
class HighwayResult:
    """Outcome of the highway tier.

    Attributes
    ----------
    highway_stations, expressway_segments, od_flows
        GeoDataFrames in EPSG:4326 for export (empty when the tier is skipped).
    summary
        DataFrame per corridor component (and ``prefecture`` when known).
    notice
        One-line notice (tier skipped, unmet gap windows, never-served pairs) or None.
    unmet_windows
        Gap windows no candidate can meet (start site/end, corridor path).
    never_served
        OD ids that no set of candidates can refuel with the effective range.
    locate
        The core's :class:`~gzcharge.locate._common.LocateResult` (None when skipped or when
        there were no candidate sites).
    by_prefecture
        DataFrame per prefecture of the region (corridors are planned on the whole area and
        reported here by prefecture): ``corridor_km`` (length inside it), ``stations``,
        ``new``, ``existing``, ``plugs``, ``kw``, ``cost_cny``, ``longest_stretch_km``,
        ``gap_ok`` (segments assigned by their largest share of length). Custom regions use
        the feature names; parts outside every county are ``"(outside the region)"``.
        Empty without a region.
    is_skipped
        True when the tier was skipped (see :attr:`skipped`).
    details
        Model size, times, parameters used.
    """

    highway_stations: Any
    expressway_segments: Any
    od_flows: Any
    summary: Any
    notice: str | None = None
    unmet_windows: list = field(default_factory=list)
    never_served: list = field(default_factory=list)
    locate: Any = None
    details: dict = field(default_factory=dict)
    is_skipped: bool = False
    by_prefecture: Any = None

    @property
    def skipped(self) -> bool:
        """True when the tier was skipped (no expressway data)."""
        return self.is_skipped

    def layers(self) -> dict[str, Any]:
        """``{layer name: GeoDataFrame}`` for the GeoPackage writer."""
        return {
            "highway_stations": self.highway_stations,
            "expressway_segments": self.expressway_segments,
            "od_flows": self.od_flows,
        }


def _empty_result(notice: str) -> HighwayResult:
    import pandas as pd

    return HighwayResult(
        _frame([], STATION_COLUMNS, "EPSG:4326"),
        _frame([], SEGMENT_COLUMNS, "EPSG:4326"),
        _frame([], OD_COLUMNS, "EPSG:4326"),
        pd.DataFrame(),
        notice=notice,
        is_skipped=True,
        by_prefecture=pd.DataFrame(),
    )


# ---------------------------------------------------------------------- solve
def _core_kwargs(paths: list, flows: np.ndarray, od_ids: list, lengths: dict, params: HighwayParams,
                 cand_nodes: list, existing_nodes: list, node_cost: dict, windows: list) -> dict:
    """Keyword arguments of :func:`gzcharge.locate.frlm.frlm` / ``frlm_min_cost``.

    The core needs at least one path. Without traffic (the gap rule alone decides) one
    zero-flow, one-node path at a candidate is passed: it adds no flow and, as ``y`` is free
    and the flow target is 0, no constraint on the stations (see the report to the lead: the
    core could accept ``paths=[]`` when ``required_covers`` are given).
    """
    import pandas as pd

    nodes = list(dict.fromkeys([*cand_nodes, *existing_nodes]))
    if not paths:
        paths, flows, od_ids = [[nodes[0]]], np.zeros(1), ["(no traffic)"]
    return dict(
        paths=paths,
        flows=pd.Series(np.asarray(flows, dtype=float), index=pd.Index(od_ids, name="od_id")),
        edge_lengths=lengths,
        vehicle_range=params.effective_range_km,
        candidates=cand_nodes,
        existing=existing_nodes,
        round_trip=params.round_trip,
        site_cost={n: float(node_cost.get(n, 0.0)) for n in nodes},
        required_covers=windows or None,
        time_limit_s=params.time_limit_s,
        mip_rel_gap=params.mip_gap,
    )


def _gap_infeasible(exc: InfeasibleError, params: HighwayParams, what: str) -> InfeasibleError:
    return InfeasibleError(
        f"the maximum-gap rule (highway.max_gap_km={params.max_gap_km:g}) cannot be met {what}; "
        "raise highway.stations / highway.budget_cny, raise max_gap_km or set highway.enforce_gap=false"
    )


def solve_highway(
    cands: CandidateSet, traffic: Traffic, params: HighwayParams, *, fixed_open: list | None = None, areas: Any = None
) -> HighwayResult:
    """Choose, size and report sites for corridors with candidates and traffic.

    Parameters
    ----------
    cands
        Candidate set (its ``corridors`` carry the inserted nodes).
    traffic
        OD paths on ``cands.corridors`` (may be empty: the gap rule alone decides).
    params
        Highway parameters.
    fixed_open
        Extra candidate *site ids* forced open (unknown ids raise :class:`DataError`). They
        count as new sites in ``highway.stations`` and their cost counts in the budget.
    areas
        Polygons for reporting by prefecture (a region's ``counties``: ``prefecture`` or
        ``name``); see :attr:`HighwayResult.by_prefecture`.

    Raises
    ------
    DataError
        Unknown ``fixed_open`` ids; ``highway.stations`` above the number of new candidates.
    InfeasibleError
        ``min_cost`` target share unreachable (the OD pairs that can never be served are
        named), or the station limit/budget too small for the gap rule.
    """
    from gzcharge._util import preview_ids
    from gzcharge.locate.frlm import frlm, frlm_min_cost

    t0 = time.perf_counter()
    cg = cands.corridors
    G = cg.graph
    sites = cands.sites
    cand_nodes = sites["node"].tolist()
    truly_existing = sites.loc[sites["existing"], "node"].tolist()
    forced = cands.node_of(list(fixed_open)) if fixed_open else []
    existing_nodes = list(dict.fromkeys([*truly_existing, *forced]))
    lengths = {(u, v): d["length_km"] for u, v, d in G.edges(data=True)}
    R = params.effective_range_km

    # gap rule
    windows, unmet = gap_windows(G, cand_nodes, params.max_gap_km) if params.enforce_gap else ([], [])
    # OD paths and pairs that can never be served (every candidate open, direct check)
    od = traffic.od
    paths = list(od["path"]) if len(od) else []
    flows = od["ev_flow"].to_numpy(float) if len(od) else np.zeros(0)
    od_ids = od["od_id"].tolist() if len(od) else []
    all_open = set(cand_nodes)
    servable = np.array([refuelled_direct(p, lengths, all_open, R, round_trip=params.round_trip) for p in paths],
                        dtype=bool)
    never = [i for i, ok in zip(od_ids, servable, strict=True) if not ok]
    node_cost = dict(zip(sites["node"], sites["cost_cny"], strict=True))
    n_new = len(set(cand_nodes) - set(truly_existing))
    if not cand_nodes:
        # nothing to choose: no service area, no interchange near a town and no stretch longer
        # than the gap (else synthetic candidates would exist)
        out = _assemble(cg, cands, traffic, params, set(), lengths, windows, unmet, never, areas)
        out.details.update({"how": "no candidate sites: nothing to open", "n_candidates": 0, "n_paths": len(paths),
                            "n_windows": 0, "status": "no_candidates", "gap": 0.0, "stages": []})
        return out
    kw = _core_kwargs(paths, flows, od_ids, lengths, params, cand_nodes, existing_nodes, node_cost, windows)
    total = float(flows.sum())
    stages: list[dict] = []

    def run(fn, **extra):
        res = fn(**kw, **extra)
        stages.append({"model": fn.__name__, **{k: v for k, v in extra.items()}, "status": res.status.value,
                       "gap": res.gap, "seconds": res.seconds, "n_arc_sets": res.details.get("n_arc_sets")})
        return res

    if params.mode == "min_cost":
        best = float(flows[servable].sum())
        if total > 0 and best < params.target_flow_share * total * (1 - 1e-12):
            raise InfeasibleError(
                f"highway.target_flow_share={params.target_flow_share:g} cannot be met: even with every candidate "
                f"open only {best / total:.1%} of the EV flow can be refuelled with an effective range of {R:g} km; "
                f"OD pairs that can never be served: {preview_ids(never)} — raise highway.range_km/range_derate, add "
                "candidate sites on those routes or lower target_flow_share",
                unserved=never,
            )
        try:
            res = run(frlm_min_cost, target_share=params.target_flow_share if total > 0 else 0.0)
        except InfeasibleError as exc:
            raise _gap_infeasible(exc, params, "together with the flow target") from exc
        how = f"min_cost: cheapest sites meeting the gap rule and {params.target_flow_share:.0%} of the EV flow"
    elif params.stations is None and params.budget_cny is None:
        # the gap rule decides the cost; with traffic, the flow picks among the cheapest plans
        res = run(frlm_min_cost, target_share=0.0)
        how = "gap rule alone: cheapest sites meeting it"
        if total > 0:
            cheapest = float(res.objective)
            res = run(frlm, budget=cheapest * (1 + 1e-9) + 1e-9)
            how = "gap rule first (cheapest sites), then the most refuelled flow at that cost"
    else:
        extra: dict[str, Any] = {}
        if params.stations is not None:
            if params.stations > n_new:
                raise DataError(
                    f"highway.stations={params.stations} exceeds the {n_new} new candidate sites; lower it"
                )
            extra["p"] = params.stations + len(truly_existing)
        if params.budget_cny is not None:
            extra["budget"] = float(params.budget_cny)
        try:
            res = run(frlm, **extra)
        except InfeasibleError as exc:
            need = frlm_min_cost(**kw, target_share=0.0)
            n_need = len(set(need.selected) - set(truly_existing))
            raise _gap_infeasible(
                exc, params, f"with highway.stations={params.stations} / highway.budget_cny={params.budget_cny}: "
                f"it needs at least {n_need} new sites costing {need.objective:,.0f} CNY"
            ) from exc
        how = f"max_flow with {extra}"
    open_nodes = set(res.selected)
    t1 = time.perf_counter()
    out = _assemble(cg, cands, traffic, params, open_nodes, lengths, windows, unmet, never, areas)
    out.locate = res
    out.details.update(
        {
            "how": how,
            "n_candidates": len(cand_nodes),
            "n_existing": len(truly_existing),
            "n_fixed_open": len(forced),
            "n_paths": len(paths),
            "n_windows": len(windows),
            "n_arc_sets": res.details.get("n_arc_sets"),
            "solve_s": t1 - t0,
            "status": str(getattr(res.status, "value", res.status)),
            "gap": res.gap,
            "stages": stages,
            "station_cost_cny": float(res.details.get("station_cost", float("nan"))),
        }
    )
    return out


def _km_posts(cg: CorridorGraph) -> dict:
    """Km post of each node along its segment (distance from the segment's first node)."""
    G = cg.graph
    post: dict = {}
    segs: dict = {}
    for u, v, d in G.edges(data=True):
        segs.setdefault(d["segment"], []).append((u, v))
    for s, es in segs.items():
        H = nx.Graph()
        H.add_edges_from((u, v, {"length_km": G.edges[u, v]["length_km"]}) for u, v in es)
        ends = sorted(n for n in H.nodes if H.degree(n) == 1) or sorted(H.nodes)
        dist = nx.single_source_dijkstra_path_length(H, ends[0], weight="length_km")
        for n, dd in dist.items():
            post.setdefault(n, (s, dd))
    return post


STATION_COLUMNS = ["site_id", "name", "kind", "corridor", "segment", "km_post", "plugs", "kw", "status",
                   "sessions_per_day", "peak_arrivals_per_h", "mean_wait_min", "cost_cny", "prefecture"]
SEGMENT_COLUMNS = ["segment", "component", "ref", "name", "length_km", "longest_stretch_km", "gap_ok", "covered",
                   "refuelled_flow", "stations", "prefecture"]
OD_COLUMNS = ["od_id", "origin", "destination", "volume", "ev_volume", "refuelled", "never_servable", "length_km"]
OUTSIDE = "(outside the region)"


def _frame(rows: list[dict], cols: list[str], crs: Any):
    """GeoDataFrame with exactly ``cols`` + geometry (also when ``rows`` is empty)."""
    import geopandas as gpd
    import pandas as pd

    df = pd.DataFrame(rows, columns=[*cols, "geometry"])
    return gpd.GeoDataFrame(df[cols], geometry=gpd.GeoSeries(df["geometry"].tolist(), crs=crs), crs=crs)


def _sessions(od, lengths: dict, open_nodes: set, params: HighwayParams) -> tuple[np.ndarray, dict]:
    """Refuelled flag per OD row and charging sessions per day per open node.

    The OD flow counts both directions. Round trip: ``flow / 2`` round trips a day, each with
    the stops of :func:`refuel_stops`. One way: ``flow / 2`` trips in each direction, stops
    of each direction's path.
    """
    R = params.effective_range_km
    sessions: dict = {}
    ok = np.zeros(len(od), dtype=bool)
    for i, (pth, f) in enumerate(zip(od["path"], od["ev_flow"], strict=True)):
        ok[i] = refuelled_direct(pth, lengths, open_nodes, R, round_trip=params.round_trip)
        if not ok[i]:
            continue
        trips = [pth] if params.round_trip else [pth, pth[::-1]]
        for t in trips:
            for n in refuel_stops(t, lengths, open_nodes, R, round_trip=params.round_trip):
                sessions[n] = sessions.get(n, 0.0) + float(f) / 2.0
    return ok, sessions


def _areas_frame(areas: Any) -> Any:
    """Polygons with a ``prefecture`` label (from a region's counties), or None."""
    if areas is None or len(areas) == 0:
        return None
    a = areas.to_crs(4326)
    if "prefecture" in a.columns:
        lab = a["prefecture"].astype(object)
        fallback = a["name"] if "name" in a.columns else a.index.astype(str)
        lab = lab.where(lab.notna(), fallback)
    else:
        lab = a["name"] if "name" in a.columns else a.index.astype(str)
    out = a[["geometry"]].copy()
    out["prefecture"] = lab.astype(str).to_numpy()
    return out.dissolve("prefecture", as_index=False)


def _by_prefecture(stations, segs, areas, metric_crs) -> Any:
    """Prefecture per station (point in polygon) and per segment (largest share of length); km per prefecture."""
    import geopandas as gpd
    import pandas as pd

    if areas is None:
        stations["prefecture"] = None
        segs["prefecture"] = None
        return pd.DataFrame()
    am = areas.to_crs(metric_crs)
    if len(stations):
        j = gpd.sjoin(stations[["geometry"]].to_crs(metric_crs), am, how="left", predicate="intersects")
        j = j[~j.index.duplicated(keep="first")]
        stations["prefecture"] = j["prefecture"].reindex(stations.index).fillna(OUTSIDE).to_numpy()
    else:
        stations["prefecture"] = pd.Series([], dtype=object)
    km = pd.DataFrame(columns=["segment", "prefecture", "km"])
    if len(segs):
        sm = segs[["segment", "geometry"]].to_crs(metric_crs)
        ov = gpd.overlay(sm, am, how="intersection", keep_geom_type=True)
        ov["km"] = ov.geometry.length / 1000.0
        km = ov.groupby(["segment", "prefecture"], as_index=False)["km"].sum()
        inside = km.groupby("segment")["km"].sum()
        out_km = (segs.set_index("segment")["length_km"] - inside.reindex(segs["segment"]).fillna(0.0).to_numpy())
        rest = out_km[out_km > 1e-3]
        km = pd.concat([km, pd.DataFrame({"segment": rest.index, "prefecture": OUTSIDE, "km": rest.to_numpy()})])
        major = km.sort_values(["segment", "km"], ascending=[True, False]).drop_duplicates("segment")
        segs["prefecture"] = segs["segment"].map(dict(zip(major["segment"], major["prefecture"], strict=True)))
    else:
        segs["prefecture"] = pd.Series([], dtype=object)
    names = sorted(set(areas["prefecture"]) | set(km["prefecture"]) | set(stations["prefecture"].dropna()))
    rows = []
    for p in names:
        st = stations[stations["prefecture"] == p]
        sg = segs[segs["prefecture"] == p]
        rows.append({
            "prefecture": p,
            "corridor_km": float(km.loc[km["prefecture"] == p, "km"].sum()),
            "stations": len(st),
            "new": int(st["status"].isin(["new", "synthetic"]).sum()),
            "existing": int((st["status"] == "existing").sum()),
            "plugs": int(st["plugs"].sum()),
            "kw": float(st["kw"].sum()),
            "cost_cny": float(st.loc[st["status"] != "existing", "cost_cny"].sum()),
            "longest_stretch_km": float(sg["longest_stretch_km"].max()) if len(sg) else 0.0,
            "gap_ok": bool(sg["gap_ok"].all()) if len(sg) else True,
        })
    df = pd.DataFrame(rows)
    return df[(df["corridor_km"] > 0) | (df["stations"] > 0)].reset_index(drop=True)


def _assemble(cg, cands, traffic, params, open_nodes, lengths, windows, unmet, never, areas=None) -> HighwayResult:
    import pandas as pd
    import shapely

    G = cg.graph
    od = traffic.od
    R = params.effective_range_km
    refuelled, sessions = _sessions(od, lengths, open_nodes, params)
    # flow through each edge by refuelled paths
    edge_flow: dict = {}
    for pth, f, ok in zip(od["path"], od["ev_flow"], refuelled, strict=True):
        if ok:
            for u, v in zip(pth[:-1], pth[1:], strict=True):
                k = edge_key(u, v)
                edge_flow[k] = edge_flow.get(k, 0.0) + float(f)
    posts = _km_posts(cg)
    seg_ref = {}
    for _u, _v, d in G.edges(data=True):
        seg_ref.setdefault(d["segment"], d.get("ref"))
    # stations
    node_site = {n: sid for sid, n in zip(cands.sites.index, cands.sites["node"], strict=True)}
    st_rows = []
    for n in sorted(open_nodes):
        sid = node_site.get(n, f"node-{n}")
        row = cands.sites.loc[sid] if sid in cands.sites.index else None
        lam = sessions.get(n, 0.0) * params.peak_hour_factor
        plugs, wq = erlang_c_plugs(lam, params.session_min, params.wait_target_min, params.min_plugs)
        seg, km = posts.get(n, (-1, float("nan")))
        status = "existing" if (row is not None and row["existing"]) else ("synthetic" if (row is not None and row["synthetic"]) else "new")
        st_rows.append(
            {
                "site_id": sid,
                "name": None if row is None else row["name"],
                "kind": None if row is None else row["kind"],
                "corridor": seg_ref.get(seg) or f"segment {seg}",
                "segment": seg,
                "km_post": km,
                "plugs": plugs,
                "kw": plugs * params.plug_kw,
                "status": status,
                "sessions_per_day": sessions.get(n, 0.0),
                "peak_arrivals_per_h": lam,
                "mean_wait_min": wq,
                "cost_cny": 0.0 if row is None else float(row["cost_cny"]),
                "prefecture": None,
                "geometry": shapely.Point(G.nodes[n]["x"], G.nodes[n]["y"]),
            }
        )
    stations = _frame(st_rows, STATION_COLUMNS, cg.crs)
    # segments with stretch analysis
    per_edge, zones = station_free_stretches(G, open_nodes)
    seg_gdf = cg.segments_frame()
    seg_longest: dict = {}
    seg_flow: dict = {}
    for u, v, d in G.edges(data=True):
        k = edge_key(u, v)
        s = d["segment"]
        seg_longest[s] = max(seg_longest.get(s, 0.0), per_edge.get(k, 0.0))
        seg_flow[s] = max(seg_flow.get(s, 0.0), edge_flow.get(k, 0.0))
    seg_gdf["longest_stretch_km"] = seg_gdf["segment"].map(seg_longest).astype(float)
    seg_gdf["gap_ok"] = seg_gdf["longest_stretch_km"] <= params.max_gap_km + _EPS
    seg_gdf["covered"] = seg_gdf["gap_ok"]
    seg_gdf["refuelled_flow"] = seg_gdf["segment"].map(seg_flow).fillna(0.0).astype(float)
    counts = stations["segment"].value_counts()
    seg_gdf["stations"] = seg_gdf["segment"].map(counts).fillna(0).astype(int)
    seg_gdf["prefecture"] = None
    seg_gdf = seg_gdf[[*SEGMENT_COLUMNS, "geometry"]]
    # od flows
    od_rows = []
    never_set = set(never)
    for i, r in enumerate(od.itertuples()):
        line = shapely.LineString([(G.nodes[n]["x"], G.nodes[n]["y"]) for n in r.path]) if len(r.path) > 1 else None
        od_rows.append({"od_id": r.od_id, "origin": r.origin, "destination": r.destination, "volume": r.flow,
                        "ev_volume": r.ev_flow, "refuelled": bool(refuelled[i]), "never_servable": r.od_id in never_set,
                        "length_km": r.length_km, "geometry": line})
    odg = _frame(od_rows, OD_COLUMNS, cg.crs)
    # per prefecture (spatial join with the region's counties)
    by_pref = _by_prefecture(stations, seg_gdf, _areas_frame(areas), cg.crs)
    # summary per component
    seg_comp = dict(zip(seg_gdf["segment"], seg_gdf["component"], strict=True))
    summ = []
    for c in cg.components:
        segs = seg_gdf[seg_gdf["component"] == c["component"]]
        st = stations[stations["segment"].map(seg_comp) == c["component"]]
        summ.append({"component": c["component"], "refs": ";".join(c["refs"][:5]), "length_km": c["length_km"],
                     "stations": len(st), "new": int((st["status"] != "existing").sum()),
                     "plugs": int(st["plugs"].sum()),
                     "longest_stretch_km": float(segs["longest_stretch_km"].max()) if len(segs) else 0.0,
                     "gap_ok": bool(segs["gap_ok"].all()) if len(segs) else True})
    total = float(od["ev_flow"].sum()) if len(od) else 0.0
    ref_flow = float(od.loc[refuelled, "ev_flow"].sum()) if len(od) else 0.0
    notes = []
    if unmet:
        notes.append(f"{len(unmet)} stretch(es) longer than {params.max_gap_km:g} km have no candidate site "
                     "(see unmet_windows)")
    if never:
        from gzcharge._util import preview_ids
        notes.append(f"{len(never)} OD pair(s) can never be served with an effective range of {R:g} km: "
                     f"{preview_ids(never, 5)}")
    result = HighwayResult(
        stations.to_crs(4326), seg_gdf.to_crs(4326), odg.to_crs(4326), pd.DataFrame(summ),
        notice="; ".join(notes) or None, unmet_windows=unmet, never_served=never, by_prefecture=by_pref,
    )
    result.details.update({"total_ev_flow": total, "refuelled_ev_flow": ref_flow,
                           "refuelled_share": ref_flow / total if total > 0 else float("nan"),
                           "effective_range_km": R, "zones": len(zones)})
    return result


# ---------------------------------------------------------------------- entry point
def county_seat_points(region: Any) -> Any:
    """OD points of the gravity model: every county seat weighted by its county's 2020 census population.

    The prefecture seat is not a separate point: it sits at the seat of its district, whose
    county population already counts (adding it would double that district's weight).
    """
    import pandas as pd

    s = region.settlements
    seats = s[s["kind"] == "county_seat"].drop_duplicates("settlement_id").copy()
    counties = region.counties
    if {"adcode", "pop_total"} <= set(counties.columns) and "county_adcode" in seats.columns:
        pop = counties.set_index(counties["adcode"].astype(str))["pop_total"]
        county_pop = pd.to_numeric(seats["county_adcode"].astype(str).map(pop), errors="coerce")
        own = pd.to_numeric(seats["population"], errors="coerce") if "population" in seats.columns else county_pop * float("nan")
        # the county's census total where known (a seat's own figure is only its city core)
        seats["population"] = county_pop.fillna(own).to_numpy()
    return seats


def plan_highway(
    params: HighwayParams,
    *,
    region: Any = None,
    network: Any = None,
    osm_file: str | Path | None = None,
    expressways: str | Path | Any = None,
    service_areas: str | Path | Any = None,
    existing_sites: str | Path | Any = None,
    od_file: str | Path | None = None,
    settlements: Any = None,
    fixed_open: list | None = None,
) -> HighwayResult:
    """Plan the highway fast-charging tier (the function ``gzcharge plan``/``highway`` call).

    Expressway sources, in order: ``expressways`` (user line layer path or GeoDataFrame),
    ``network`` (a :class:`~gzcharge.network.RoadNetwork`; its expressway edges), ``osm_file``
    (read with :func:`gzcharge.sources.osm.graph_from_file` inside the region polygon). With none
    of them, the tier is skipped with :data:`NO_EXPRESSWAY_NOTICE` — corridors are never
    invented.

    Parameters
    ----------
    params
        The scenario's ``highway`` section.
    region
        :class:`~gzcharge.region.Region` (its county seats and census populations give the
        gravity OD; its boundary clips OSM).
    network, osm_file, expressways
        Expressway sources (see above).
    service_areas
        CSV path (``name, lon, lat[, existing]``) or point GeoDataFrame; default with an OSM
        file: its ``highway=services|rest_area`` POIs.
    existing_sites
        Existing fast-charging sites (CSV path or points), fixed open.
    od_file
        User OD CSV (``origin, destination, flow``) replacing the gravity model.
    settlements
        OD points overriding the region's county seats (``settlement_id``, ``name``,
        ``population``).
    fixed_open
        Candidate site ids forced open.
    """
    from gzcharge.highway.candidates import build_candidates, read_sites_csv, service_areas_from_osm
    from gzcharge.highway.corridors import (
        build_corridors,
        corridor_lines_from_osmnx,
        corridors_from_file,
    )
    from gzcharge.highway.traffic import build_traffic, read_od_csv

    poly = getattr(region, "boundary", None)
    cg = None
    if expressways is not None:
        if isinstance(expressways, (str, Path)):
            cg = corridors_from_file(expressways, endpoint_snap_m=params.endpoint_snap_m, carriageway_merge_m=0.0,
                                 interchange_merge_m=params.interchange_merge_m)
        else:
            cg = build_corridors(expressways, endpoint_snap_m=params.endpoint_snap_m, carriageway_merge_m=0.0,
                                 interchange_merge_m=params.interchange_merge_m, source="expressways")
    else:
        lines = None
        if network is not None:
            lines = corridor_lines_from_osmnx(network.graph)
            lines = lines.set_crs(network.crs, allow_override=True)
        elif osm_file is not None:
            from gzcharge.network import build_network

            if poly is None:
                raise DataError("an OSM file needs a region (--prefecture or --boundary) to clip it to")
            network = build_network(poly, crs=getattr(region, "metric_crs", None), osm_file=str(osm_file))
            lines = corridor_lines_from_osmnx(network.graph).set_crs(network.crs, allow_override=True)
        if lines is None or len(lines) == 0:
            return _empty_result(NO_EXPRESSWAY_NOTICE)
        cg = build_corridors(lines, endpoint_snap_m=params.endpoint_snap_m, interchange_merge_m=params.interchange_merge_m,
                             carriageway_merge_m=params.carriageway_merge_m, source=str(osm_file or "road network"))
    if cg.graph.number_of_edges() == 0:
        return _empty_result(NO_EXPRESSWAY_NOTICE)

    # service areas: user file/points, else the OSM file the corridors came from
    src_file = osm_file
    if src_file is None and network is not None and expressways is None:
        s = str(network.meta.get("source") or "")
        src_file = s if s.endswith((".osm", ".pbf", ".bz2")) and Path(s).exists() else None
    if isinstance(service_areas, (str, Path)):
        sa = read_sites_csv(service_areas)
    elif service_areas is None and src_file is not None and poly is not None:
        sa = service_areas_from_osm(src_file, poly)
    else:
        sa = service_areas
    ex = read_sites_csv(existing_sites) if isinstance(existing_sites, (str, Path)) else existing_sites
    pts = settlements
    if pts is None and region is not None:
        pts = county_seat_points(region)
    cands = build_candidates(cg, params, service_areas=sa, existing=ex, settlements=pts)
    od = read_od_csv(od_file) if od_file is not None else None
    traffic = build_traffic(cands.corridors, params, pts, od=od)
    short_km = params.min_charging_trip_km if params.min_charging_trip_km is not None else params.effective_range_km / 2
    if len(traffic.od):
        trip_km = traffic.od["length_km"] + traffic.od["access_km"].fillna(0.0)
        short = trip_km <= short_km
        if short.any():
            logger.info("%d OD pair(s) up to %g km need no highway charging (round trip on one home charge)",
                        int(short.sum()), short_km)
            traffic.od = traffic.od.loc[~short].reset_index(drop=True)
    out = solve_highway(cands, traffic, params, fixed_open=fixed_open, areas=getattr(region, "counties", None))
    out.details["rejected_sites"] = cands.rejected
    # the corridor graph, candidates and traffic feed the hydrogen tier and the joint model
    out.details["corridors"] = cg
    out.details["candidates"] = cands
    out.details["traffic"] = traffic
    out.details["components"] = [{k: v for k, v in c.items() if k != "nodes"} for c in cg.components]
    return out
