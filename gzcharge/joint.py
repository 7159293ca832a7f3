"""Joint multi-type plan: every tier in one model with a shared budget, shared sites and phasing.

Geometry and orchestration side of :mod:`gzcharge.locate.joint` (the numeric core; its
docstring has the formulation). :func:`plan_joint` prepares each enabled tier's data with
the tier's own preparation code, groups co-located candidates of different tiers into
physical sites, solves one model over the plan years and returns layers with a
``phase_year`` column, the site groups, cost by tier and year, and what a marginal budget
buys.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gzcharge.errors import ConfigError
from gzcharge.locate.joint import (
    CapacitatedBlock,
    CoverageBlock,
    FlowBlock,
    JointSolution,
    SiteRegistry,
    solve_joint,
)
from gzcharge.scenario.joint import TIERS, JointParams

if TYPE_CHECKING:  # pragma: no cover
    from gzcharge.region import Region
    from gzcharge.scenario import Scenario

logger = logging.getLogger(__name__)


# =========================================================================== tier data -> blocks
def coverage_block_from_model_data(d: Any, *, name: str = "public", site_ids: Any = None, demand_ids: Any = None,
                                   **kwargs: Any) -> CoverageBlock:
    """A :class:`CoverageBlock` with the public tier's model data (``gzcharge.tiers.public._ModelData``).

    The tier's county share / count rules, must-cover rows, linearised plug cost, station
    limit and objective weights (``weight + bonus + δ``) carry over; its ``budget`` is the
    caller's (pass it to the joint solve).
    """
    from gzcharge.tiers.public import _DELTA_EVS

    n, m = d.cover.shape
    ex = np.asarray(d.existing, bool)
    ow = None
    if d.objective != "min_cost":
        ow = np.asarray(d.weight, float) + (0.0 if d.bonus is None else np.asarray(d.bonus, float)) + _DELTA_EVS
    return CoverageBlock(
        name=name,
        site_ids=pd.Index(range(m) if site_ids is None else site_ids),
        site_cost=np.asarray(d.site_cost, float),
        cover=d.cover,
        weight=np.asarray(d.weight, float),
        demand_ids=None if demand_ids is None else pd.Index(demand_ids),
        existing=ex,
        must=np.asarray(d.must, bool),
        demand_area=np.asarray(d.group) if d.use_share else None,
        area_share=np.asarray(d.share, float) if d.use_share else None,
        site_area=np.asarray(d.site_group) if d.use_count else None,
        area_min_sites=np.asarray(d.min_sites) if d.use_count else None,
        demand_cost=None if d.demand_cost is None else np.asarray(d.demand_cost, float),
        objective_weight=ow,
        max_new_sites=None if d.max_sites is None else int(d.max_sites) - int(ex.sum()),
        **kwargs,
    )


def capacitated_block_from_swap_data(d: Any, *, name: str = "swap", **kwargs: Any) -> CapacitatedBlock:
    """A :class:`CapacitatedBlock` with the swap tier's model data (``SwapModelData``).

    ``min_cost`` swap data become ``full_service=True`` (every swap served from the hard
    year); the swap budget is the caller's.
    """
    kwargs.setdefault("full_service", d.objective == "min_cost")
    return CapacitatedBlock(
        name=name, site_ids=pd.Index(d.site_ids), demand_ids=pd.Index(d.demand_ids), volume=np.asarray(d.swaps, float),
        demand_type=np.asarray(d.dtype_of, np.int64), type_names=list(d.type_names),
        capacity=np.asarray(d.capacity, float), unit_cost=np.asarray(d.unit_cost, float),
        max_per_site=np.asarray(d.max_per_site, np.int64), dist=d.dist_km, access_rate=float(d.access_rate), **kwargs)


# =========================================================================== result
@dataclass
class JointResult:
    """Outcome of :func:`plan_joint`.

    Attributes
    ----------
    public_stations, highway_stations, swap_stations, hydrogen_stations
        Site layers (EPSG:4326) of the tiers in the model, each with ``phase_year`` (build
        year; empty for existing sites), ``status`` (new/existing), ``group_id`` and
        ``cost_cny`` (the tier's own cost after co-location savings).
    joint_sites
        Physical sites hosting several tiers: ``group_id, tiers, n_tiers, phase_year,
        shared_cost_cny, geometry``.
    joint_costs
        Cost by tier and year (``tier, year, cost_cny, share_of_total``), shared site costs as
        tier ``shared``.
    joint_service
        Service by tier and year (``tier, year, served, total, share``).
    joint_marginal
        What a marginal budget buys: one row per re-solve (``change, extra_budget_cny,
        objective, delta_objective, delta_per_million_cny``, per-tier last-year share change,
        ``method = "re-solve"``).
    solution
        The core's :class:`~gzcharge.locate.joint.JointSolution`.
    cost_driver
        Tier with the largest spend.
    notes, timings
        Statements and seconds per stage.
    """

    public_stations: Any = None
    highway_stations: Any = None
    swap_stations: Any = None
    hydrogen_stations: Any = None
    joint_sites: Any = None
    demand_points: Any = None
    townships: Any = None
    counties: Any = None
    joint_costs: pd.DataFrame | None = None
    joint_service: pd.DataFrame | None = None
    joint_marginal: pd.DataFrame | None = None
    solution: JointSolution | None = None
    cost_driver: str | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def layers(self) -> dict[str, Any]:
        """GeoPackage layers and tables of the joint plan."""
        out: dict[str, Any] = {}
        for name in ("counties", "townships", "demand_points", "public_stations", "highway_stations", "swap_stations",
                     "hydrogen_stations", "joint_sites"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        for name in ("joint_costs", "joint_service", "joint_marginal"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


# =========================================================================== preparation
@dataclass
class _Tier:
    name: str
    block: Any
    xy: np.ndarray  # site positions, metric CRS (NaN when unknown)
    info: pd.DataFrame  # per site: site_id, name, kind/ctype, county_adcode, lon, lat
    prep: Any = None  # the tier's prepared data (public: PublicModelInputs), for sizing the result


def _public_tier(region: Region, scenario: Scenario, jp: JointParams, *, network: Any, pois: Any,
                 existing_stations: Any, builtup: Any = None) -> tuple[_Tier, list[str]]:
    from gzcharge.tiers.public import public_model_data

    prep = public_model_data(region, scenario, network=network, pois=pois, existing_stations=existing_stations,
                             builtup=builtup)
    c = prep.candidates
    blk = coverage_block_from_model_data(prep.data, name="public", site_ids=c["site_id"], demand_ids=prep.demand["demand_id"],
                                         target_share=jp.target_array("public"), hard_from=jp.hard_index(),
                                         hard=jp.hard_targets, tier_weight=jp.tier_weights.get("public", 1.0))
    blk.demand_cost = prep.demand_cost
    g = c.geometry.to_crs(region.metric_crs)
    info = pd.DataFrame({"site_id": c["site_id"].to_numpy(), "name": c["name"].to_numpy(),
                         "kind": c["ctype"].to_numpy() if "ctype" in c else None,
                         "county_adcode": c["county_adcode"].to_numpy(),
                         "lon": c.geometry.x.to_numpy(), "lat": c.geometry.y.to_numpy()})
    return _Tier("public", blk, np.column_stack([g.x, g.y]), info, prep=prep), prep.notes + prep.unmet


def _swap_tier(region: Region, scenario: Scenario, jp: JointParams, *, fleets: Any) -> tuple[_Tier, list[str]]:
    from gzcharge.scenario import swap_params
    from gzcharge.tiers.swap import swap_model_data

    prep = swap_model_data(region, swap_params(scenario), fleets=fleets)
    full = jp.hard_targets and scenario.swap.mode == "min_cost"
    blk = capacitated_block_from_swap_data(prep.data, name="swap", full_service=full,
                                           target_share=jp.target_array("swap"), hard_from=jp.hard_index(),
                                           hard=jp.hard_targets, tier_weight=jp.tier_weights.get("swap", 1.0))
    c = prep.candidates
    g = c.geometry.to_crs(region.metric_crs)
    info = pd.DataFrame({"site_id": c["site_id"].to_numpy(), "name": c["name"].to_numpy(), "kind": "swap",
                         "county_adcode": c["county_adcode"].to_numpy(),
                         "lon": c.geometry.x.to_numpy(), "lat": c.geometry.y.to_numpy()})
    return _Tier("swap", blk, np.column_stack([g.x, g.y]), info), prep.notes


def _corridor_inputs(region: Region, scenario: Scenario, *, network: Any, expressways: Any, service_areas: Any,
                     existing_fast: Any, od_file: Any) -> tuple[Any, Any] | None:
    """Highway candidate set and traffic, prepared as the highway tier prepares them (None: no corridors)."""
    from gzcharge.highway.candidates import build_candidates, read_sites_csv
    from gzcharge.highway.corridors import (
        build_corridors,
        corridor_lines_from_osmnx,
        corridors_from_file,
    )
    from gzcharge.highway.traffic import build_traffic, read_od_csv

    hp = scenario.highway
    if expressways is not None:
        if isinstance(expressways, (str, Path)):
            cg = corridors_from_file(expressways, endpoint_snap_m=hp.endpoint_snap_m, carriageway_merge_m=0.0)
        else:
            cg = build_corridors(expressways, endpoint_snap_m=hp.endpoint_snap_m, carriageway_merge_m=0.0,
                                 source="expressways")
    elif network is not None:
        lines = corridor_lines_from_osmnx(network.graph)
        if lines is None or len(lines) == 0:
            return None
        cg = build_corridors(lines.set_crs(network.crs, allow_override=True), endpoint_snap_m=hp.endpoint_snap_m,
                             carriageway_merge_m=hp.carriageway_merge_m, source="road network")
    else:
        return None
    if cg.graph.number_of_edges() == 0:
        return None
    sa = read_sites_csv(service_areas) if isinstance(service_areas, (str, Path)) else service_areas
    ex = read_sites_csv(existing_fast) if isinstance(existing_fast, (str, Path)) else existing_fast
    s = region.settlements
    pts = s[s["kind"].isin(["county_seat", "prefecture_seat"])].drop_duplicates("settlement_id")
    cands = build_candidates(cg, hp, service_areas=sa, existing=ex, settlements=pts)
    od = read_od_csv(od_file) if od_file is not None else None
    traffic = build_traffic(cands.corridors, hp, pts, od=od)
    return cands, traffic


def _corridor_info(cands: Any, region: Region, nodes: list, kind_default: str) -> tuple[np.ndarray, pd.DataFrame]:
    import geopandas as gpd
    import shapely

    G = cands.corridors.graph
    xy = np.array([[G.nodes[n].get("x", np.nan), G.nodes[n].get("y", np.nan)] for n in nodes], float)
    pts = gpd.GeoSeries(shapely.points(xy), crs=cands.corridors.crs)
    ll = pts.to_crs("EPSG:4326")
    mxy = pts.to_crs(region.metric_crs)
    by_node = cands.sites.reset_index().set_index("node")
    info = pd.DataFrame({"site_id": by_node["site_id"].reindex(nodes).to_numpy(),
                         "name": by_node["name"].reindex(nodes).to_numpy(),
                         "kind": by_node["kind"].reindex(nodes).fillna(kind_default).to_numpy(),
                         "county_adcode": None, "lon": ll.x.to_numpy(), "lat": ll.y.to_numpy()})
    return np.column_stack([mxy.x, mxy.y]), info


def _highway_tier(cands: Any, traffic: Any, scenario: Scenario, jp: JointParams, region: Region) -> tuple[_Tier, list[str]]:
    from gzcharge.highway.model import gap_windows

    hp = scenario.highway
    G = cands.corridors.graph
    sites = cands.sites
    nodes = sites["node"].tolist()
    existing = sites.loc[sites["existing"], "node"].tolist()
    lengths = {(u, v): float(d["length_km"]) for u, v, d in G.edges(data=True)}
    windows, unmet = gap_windows(G, nodes, hp.max_gap_km) if (hp.enforce_gap and jp.hard_targets) else ([], [])
    od = traffic.od
    notes = []
    if len(od):
        paths, flows = list(od["path"]), pd.Series(od["ev_flow"].to_numpy(float), index=od["od_id"].astype(str))
    else:
        paths, flows = [[nodes[0]]], pd.Series([0.0], index=["(no traffic)"])
    if unmet:
        notes.append(f"highway: {len(unmet)} stretch(es) longer than max_gap_km have no candidate and cannot meet the "
                     "gap rule")
    cost = dict(zip(sites["node"], sites["cost_cny"].astype(float), strict=True))
    blk = FlowBlock.from_paths("highway", paths, flows, lengths, hp.effective_range_km, candidates=nodes,
                               existing=existing, site_cost=cost, required_covers=windows or None,
                               round_trip=hp.round_trip, target_share=jp.target_array("highway"),
                               hard_from=jp.hard_index(), hard=jp.hard_targets,
                               tier_weight=jp.tier_weights.get("highway", 1.0))
    xy, info = _corridor_info(cands, region, list(blk.site_ids), "highway")
    return _Tier("highway", blk, xy, info), notes


def _hydrogen_tier(cands: Any, traffic: Any, scenario: Scenario, jp: JointParams, region: Region,
                   h2_sources: Any) -> tuple[_Tier, list[str]] | tuple[None, list[str]]:
    from gzcharge.tiers.hydrogen import _truck_flows, read_hydrogen_sources, supply_distances

    hp = scenario.hydrogen
    G = cands.corridors.graph
    notes = []
    tf = _truck_flows(traffic, hp) if len(traffic.od) else None
    if tf is None or float(tf["truck_flow"].sum()) <= 0:
        return None, ["hydrogen: no truck flow on the corridors; tier left out of the joint plan"]
    nodes = cands.sites["node"].tolist()
    xy_c = np.array([[G.nodes[n].get("x", np.nan), G.nodes[n].get("y", np.nan)] for n in nodes], float)
    cost = np.full(len(nodes), float(hp.station_costs_cny[0]))
    allowed = np.ones(len(nodes), bool)
    if h2_sources is not None:
        src = read_hydrogen_sources(h2_sources, region)
        _, km = supply_distances(xy_c, src, cands.corridors.crs, hp.circuity)
        if hp.supply_rule == "radius":
            allowed = km <= hp.max_supply_km + 1e-6
            notes.append(f"hydrogen: {int((~allowed).sum())} candidate(s) farther than {hp.max_supply_km:g} km from "
                         "a hydrogen source left out")
        else:
            cost = cost + hp.delivery_cny_per_km * np.nan_to_num(km)
    else:
        notes.append("hydrogen: no hydrogen sources given: the supply rule was not applied")
    nodes = [n for n, ok in zip(nodes, allowed, strict=True) if ok]
    cost_of = dict(zip([n for n, ok in zip(cands.sites["node"], allowed, strict=True) if ok], cost[allowed], strict=True))
    lengths = {(u, v): float(d["length_km"]) for u, v, d in G.edges(data=True)}
    blk = FlowBlock.from_paths("hydrogen", list(tf["path"]), pd.Series(tf["truck_flow"].to_numpy(float),
                                                                       index=tf["od_id"]),
                               lengths, hp.effective_range_km, candidates=nodes, site_cost=cost_of, round_trip=True,
                               target_share=jp.target_array("hydrogen"), hard_from=jp.hard_index(),
                               hard=jp.hard_targets, tier_weight=jp.tier_weights.get("hydrogen", 1.0))
    xy, info = _corridor_info(cands, region, list(blk.site_ids), "hydrogen")
    info["site_id"] = "H2-" + info["site_id"].astype(str)
    return _Tier("hydrogen", blk, xy, info), notes


def colocate(tiers: list[_Tier], colocation_m: float, shared_cost_cny: float,
             compatible: list[tuple[str, str]] | None) -> SiteRegistry:
    """Group candidates of different tiers within ``colocation_m`` into physical sites.

    Anchors are taken in tier order (highway, hydrogen, public; swap stations are not part of
    cost sharing); each anchor takes the nearest unassigned candidate of every other tier
    within reach, so a physical site holds at most one candidate per tier. Only sites with
    two or more tiers become groups; their shared cost is ``min(shared_cost_cny, cheapest
    member cost)`` and every member's own cost is reduced by it (tier costs include land and
    grid connection, which co-located tiers pay once).
    """
    from scipy.spatial import cKDTree

    order = [t for name in ("highway", "hydrogen", "public") for t in tiers if t.name == name]
    assigned = {t.name: np.full(len(t.info), -1) for t in tiers}
    trees = {t.name: cKDTree(np.nan_to_num(t.xy, nan=1e15)) for t in order}
    ok_pairs = None if compatible is None else {frozenset(p) for p in compatible}
    groups: list[dict[str, int]] = []
    for a in order:
        for i in range(len(a.info)):
            if assigned[a.name][i] >= 0 or not np.isfinite(a.xy[i]).all():
                continue
            members = {a.name: i}
            for b in order:
                if b.name == a.name or (ok_pairs is not None and frozenset((a.name, b.name)) not in ok_pairs):
                    continue
                if any(ok_pairs is not None and frozenset((b.name, m)) not in ok_pairs for m in members):
                    continue
                near = trees[b.name].query_ball_point(a.xy[i], r=colocation_m + 1e-6)
                near = [j for j in near if assigned[b.name][j] < 0]
                if near:
                    d = np.hypot(*(b.xy[near] - a.xy[i]).T)
                    members[b.name] = int(near[int(np.argmin(d))])
            if len(members) >= 2:
                for name, j in members.items():
                    assigned[name][j] = len(groups)
                groups.append(members)
    by_name = {t.name: t for t in tiers}
    shared = np.zeros(len(groups))
    for g, members in enumerate(groups):
        costs = [float(by_name[n].block.site_cost[j]) for n, j in members.items()
                 if not bool(np.asarray(getattr(by_name[n].block, "existing", None) if getattr(by_name[n].block, "existing", None) is not None else np.zeros(len(by_name[n].info), bool))[j])]
        shared[g] = min([shared_cost_cny, *costs]) if costs else 0.0
        for n, j in members.items():
            blk = by_name[n].block
            blk.site_cost = np.asarray(blk.site_cost, float).copy()
            blk.site_cost[j] = max(blk.site_cost[j] - shared[g], 0.0)
    ids = pd.Index([f"JS-{g + 1:04d}" for g in range(len(groups))])
    return SiteRegistry(group_ids=ids, shared_cost=shared, members=assigned, compatible=compatible)


# =========================================================================== the plan
def plan_joint(
    region: Region,
    scenario: Scenario,
    params: JointParams | None = None,
    *,
    network: Any = None,
    pois: Any = None,
    existing_stations: Any = None,
    fleets: Any = None,
    expressways: Any = None,
    service_areas: Any = None,
    existing_fast: Any = None,
    od_file: Any = None,
    h2_sources: Any = None,
    corridors: tuple[Any, Any] | None = None,
    builtup: Any = None,
    progress: Any = None,
) -> JointResult:
    """Plan every tier in one model over the plan years (see :mod:`gzcharge.locate.joint`).

    Parameters
    ----------
    region, scenario
        As for :func:`gzcharge.plan.run_plan`; the tiers' own sections (``public``, ``swap``,
        ``highway``, ``hydrogen``) set their data and hard rules.
    params
        The ``[joint]`` section (default :class:`JointParams`).
    network, pois, existing_stations
        Public tier inputs (road network for distances, OSM POIs, existing stations).
    fleets
        Swap fleet file / table (default: per-capita fleets).
    expressways, service_areas, existing_fast, od_file
        Highway inputs (as :func:`gzcharge.highway.model.plan_highway`); ``network`` also
        gives expressways. Without corridors the highway and hydrogen tiers are left out
        with a notice.
    h2_sources
        Hydrogen sources (supply rule).
    corridors
        A prepared ``(CandidateSet, Traffic)`` pair instead of the highway inputs.
    progress
        ``progress(message, fraction)``.

    Returns
    -------
    JointResult
    """
    t0 = time.perf_counter()
    jp = params or JointParams()
    say = progress or (lambda m, f: None)
    notes: list[str] = []
    timings: dict[str, float] = {}
    tiers: list[_Tier] = []
    want = set(jp.tiers) & {t for t in TIERS if getattr(scenario.tiers, t, True)}
    if "public" in want:
        say("joint: public tier data", 0.05)
        tier, n = _public_tier(region, scenario, jp, network=network, pois=pois, existing_stations=existing_stations,
                               builtup=builtup)
        tiers.append(tier)
        notes += [f"public: {x}" for x in n]
    if "swap" in want:
        say("joint: swap tier data", 0.2)
        tier, n = _swap_tier(region, scenario, jp, fleets=fleets)
        tiers.append(tier)
        notes += n
    if want & {"highway", "hydrogen"}:
        say("joint: corridor data", 0.3)
        ct = corridors if corridors is not None else _corridor_inputs(
            region, scenario, network=network, expressways=expressways, service_areas=service_areas,
            existing_fast=existing_fast, od_file=od_file)
        if ct is None:
            notes.append("highway/hydrogen left out of the joint plan: no expressway data (give --expressways FILE "
                         "or an OSM extract)")
        else:
            cands, traffic = ct
            if "highway" in want:
                tier, n = _highway_tier(cands, traffic, scenario, jp, region)
                tiers.append(tier)
                notes += n
            if "hydrogen" in want:
                tier, n = _hydrogen_tier(cands, traffic, scenario, jp, region, h2_sources)
                notes += n
                if tier is not None:
                    tiers.append(tier)
    if not tiers:
        raise ConfigError("the joint plan has no tier to plan: enable tiers in [tiers] / joint.tiers and give their "
                          "inputs")
    for name in jp.targets:
        if name not in {t.name for t in tiers}:
            notes.append(f"joint.targets.{name} ignored: the {name} tier is not in the joint plan")
    timings["prepare"] = time.perf_counter() - t0
    say("joint: co-locating candidates", 0.4)
    reg = colocate(tiers, jp.colocation_m, jp.shared_cost_cny, jp.compatible)
    blocks = [t.block for t in tiers]
    kw = dict(years=jp.years, budgets=jp.budgets_cny, total_budget=jp.total_budget_cny, carry_over=jp.carry_over,
              registry=reg, objective=jp.objective, discount_rate=jp.discount_rate,
              monotone_targets=jp.monotone_targets, time_limit_s=jp.time_limit_s, mip_rel_gap=jp.mip_rel_gap,
              threads=scenario.solver.threads)
    say("joint: solving", 0.5)
    t1 = time.perf_counter()
    sol = solve_joint(blocks, **kw)
    timings["solve"] = time.perf_counter() - t1
    out = _assemble(tiers, reg, sol, jp)
    pub = next((t for t in tiers if t.name == "public"), None)
    if pub is not None and out.public_stations is not None:
        notes += _public_layers(out, pub, region, scenario)
    if jp.marginal and (jp.budgets_cny is not None or jp.total_budget_cny is not None):
        say("joint: marginal budget", 0.8)
        t1 = time.perf_counter()
        out.joint_marginal = marginal_budget(blocks, sol, kw, jp.marginal_step)
        timings["marginal"] = time.perf_counter() - t1
    elif jp.marginal:
        notes.append("joint: no budget given, so no marginal-budget table (min_cost without budgets)")
    out.notes = notes + [f"{len(reg.group_ids)} physical site(s) can host several tiers (within "
                         f"{jp.colocation_m:g} m); shared land + grid cost up to {jp.shared_cost_cny:,.0f} CNY paid "
                         "once per site"]
    timings["total"] = time.perf_counter() - t0
    out.timings = timings
    say("joint: done", 1.0)
    return out


def _public_layers(out: JointResult, tier: _Tier, region: Region, scenario: Scenario) -> list[str]:
    """Size the final-year public stations like the public tier and add demand, township and county layers.

    Each demand point and township gets ``covered_year``: the first plan year in which an open
    station lies within its radius (from the stations' build years and the cost matrix).
    """
    from gzcharge.tiers.public import assess_public

    prep = tier.prep
    js = out.public_stations
    ids = prep.candidates["site_id"].to_numpy()
    year_of = pd.Series(js["phase_year"].to_numpy(), index=js["site_id"].to_numpy())
    built = year_of.reindex(ids)
    x = built.notna().to_numpy()
    st, dem, counties, towns, _summary, county_unmet = assess_public(region, prep, scenario, x)
    keep = js.drop(columns=["geometry", "status", "cost_cny", "county_adcode", "name"]).set_index("site_id")
    st = st.join(keep, on="site_id")
    # the joint cost of a site (shared land/grid cost split out) stays in joint_costs; the layer keeps the
    # tier's own station cost (site + plugs) like a single-tier plan
    out.public_stations = st
    # first year each demand point is within reach of an open station
    v = prep.cost.values.tocoo()
    by = built.to_numpy(dtype="float64")
    ok = np.isfinite(by[v.col]) & (v.data <= prep.radius[v.row])
    first = np.full(len(prep.demand), np.inf)
    np.minimum.at(first, v.row[ok], by[v.col[ok]])
    cy = pd.array([int(f) if np.isfinite(f) else None for f in first], dtype="Int64")
    dem["covered_year"] = cy
    out.demand_points = dem
    towns["covered_year"] = pd.Series(cy, index=prep.demand["demand_id"].to_numpy()).reindex(
        towns["demand_id"].to_numpy()).to_numpy()
    out.townships = towns
    out.counties = counties
    return [f"public (final year): {u}" for u in county_unmet]


def marginal_budget(blocks: list, base: JointSolution, kw: dict, step: float) -> pd.DataFrame:
    """Re-solve with each year's budget (and the total budget) raised by ``step``; one row per re-solve.

    ``delta_per_million_cny`` is the objective change per extra million CNY: extra normalised
    service (``max_service``) or cost saved (``min_cost``, positive = cheaper). Estimates by
    re-solving the MIP (``method = "re-solve"``), so they include the integrality of sites.
    """
    rows = []
    last_year = kw["years"][-1]
    base_share = base.service[base.service["year"] == last_year].set_index("block")["share"]
    cases = []
    if kw["budgets"] is not None:
        for k, y in enumerate(kw["years"]):
            b = list(map(float, kw["budgets"]))
            extra = step * b[k]
            if extra <= 0:
                continue
            b[k] += extra
            cases.append((f"budget {y} +{step:.0%}", extra, {**kw, "budgets": b}))
    if kw["total_budget"] is not None and kw["total_budget"] > 0:
        extra = step * float(kw["total_budget"])
        cases.append((f"total budget +{step:.0%}", extra, {**kw, "total_budget": float(kw["total_budget"]) + extra}))
    for label, extra, kwk in cases:
        try:
            s = solve_joint(blocks, **kwk)
        except Exception as exc:  # a re-solve that fails is reported, not fatal
            rows.append({"change": label, "extra_budget_cny": extra, "status": f"failed: {exc}"})
            continue
        delta = s.objective - base.objective
        per = (-delta if kw["objective"] == "min_cost" else delta) / (extra / 1e6)
        row = {"change": label, "extra_budget_cny": extra, "objective": s.objective, "delta_objective": delta,
               "delta_per_million_cny": per, "status": s.status, "gap": s.gap, "method": "re-solve"}
        share = s.service[s.service["year"] == last_year].set_index("block")["share"]
        for blk in share.index:
            row[f"delta_share_{blk}"] = float(share[blk] - base_share.get(blk, np.nan))
        rows.append(row)
    return pd.DataFrame(rows)


def _assemble(tiers: list[_Tier], reg: SiteRegistry, sol: JointSolution, jp: JointParams) -> JointResult:
    import geopandas as gpd
    import shapely

    out = JointResult(solution=sol)
    for t in tiers:
        s = sol.sites[sol.sites["block"] == t.name].copy()
        info = t.info
        pos = pd.Index(t.block.site_ids).get_indexer(s["site_id"])
        sid = t.info["site_id"].to_numpy()[pos]
        df = pd.DataFrame({"site_id": sid, "name": info["name"].to_numpy()[pos], "kind": info["kind"].to_numpy()[pos],
                           "status": np.where(s["existing"].to_numpy(bool), "existing", "new"),
                           "phase_year": pd.array([None if v is None or pd.isna(v) else int(v) for v in s["build_year"]],
                                                  dtype="Int64"),
                           "group_id": s["group_id"].to_numpy(), "cost_cny": s["cost_cny"].to_numpy(float),
                           "county_adcode": info["county_adcode"].to_numpy()[pos]})
        if t.name == "swap":
            df["station_type"] = s["station_type"].to_numpy()
            df["n_stations"] = s["n_stations"].to_numpy()
            df["n_stations"] = df["n_stations"].astype(int)
            for y in jp.years:
                df[f"n_{y}"] = s[f"n_{y}"].to_numpy().astype(int)
        geom = shapely.points(info["lon"].to_numpy(float)[pos], info["lat"].to_numpy(float)[pos])
        setattr(out, f"{t.name}_stations", gpd.GeoDataFrame(df, geometry=geom, crs="EPSG:4326"))
    # physical sites hosting several tiers
    g = sol.groups.copy()
    if len(g):
        pos = reg.group_ids.get_indexer(g["group_id"])
        lon, lat = np.zeros(len(g)), np.zeros(len(g))
        for t in tiers:
            mem = reg.members[t.name]
            for k, gp in enumerate(pos):
                j = np.flatnonzero(mem == gp)
                if len(j) and lon[k] == 0:
                    lon[k], lat[k] = t.info["lon"].iloc[j[0]], t.info["lat"].iloc[j[0]]
        g = gpd.GeoDataFrame({"group_id": g["group_id"], "tiers": g["blocks"],
                              "n_tiers": g["blocks"].str.count(",") + 1, "existing": g["existing"],
                              "phase_year": pd.array([None if v is None or pd.isna(v) else int(v)
                                                      for v in g["build_year"]], dtype="Int64"),
                              "shared_cost_cny": g["shared_cost_cny"]},
                             geometry=shapely.points(lon, lat), crs="EPSG:4326")
        out.joint_sites = g[g["n_tiers"] >= 2].reset_index(drop=True)
    else:
        out.joint_sites = gpd.GeoDataFrame({"group_id": [], "tiers": [], "n_tiers": [], "existing": [],
                                            "phase_year": pd.array([], dtype="Int64"), "shared_cost_cny": []},
                                           geometry=[], crs="EPSG:4326")
    c = sol.costs.rename(columns={"block": "tier"})
    total = float(c["cost_cny"].sum())
    c["share_of_total"] = c["cost_cny"] / total if total > 0 else 0.0
    by_tier = c.groupby("tier")["cost_cny"].sum().sort_values(ascending=False)
    tot_rows = pd.DataFrame({"tier": by_tier.index, "year": "total", "cost_cny": by_tier.to_numpy(),
                             "share_of_total": by_tier.to_numpy() / total if total > 0 else 0.0})
    out.joint_costs = pd.concat([c.astype({"year": str}), tot_rows], ignore_index=True)
    out.cost_driver = str(by_tier.index[0]) if len(by_tier) and total > 0 else None
    out.joint_service = sol.service.rename(columns={"block": "tier"})
    return out
