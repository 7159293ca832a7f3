"""Public charging tier (市、县、乡三级): demand, candidates, the siting model, sizing, compliance.

:func:`plan_public` runs the whole tier for a region and a scenario:

1. demand points (:func:`gzcharge.demand.public_demand`) and candidate sites
   (:func:`gzcharge.candidates.public_candidates`);
2. a demand × site cost matrix: road distances (:func:`gzcharge.distances.network_costs`)
   when a :class:`~gzcharge.network.RoadNetwork` is given, else straight line × circuity
   (:func:`gzcharge.distances.screening_costs`), cut off at twice the largest radius;
3. the siting model (below) solved with HiGHS (:mod:`gzcharge.solve`);
4. coverage recomputed from the chosen sites (never read from the model), every demand
   point assigned to its nearest open station, stations sized, compliance per county.

Model
-----
Sets: demand ``i`` (weight ``w_i`` EVs, radius ``r_i``, county ``g(i)``), sites ``j`` (cost
``c_j``, county ``g(j)``, existing ``E``), ``N_i = {j : d_ij <= r_i}``.
Variables: ``x_j ∈ {0,1}`` open; ``y_i ∈ [0,1]`` covered (not for must-cover rows).

``min_cost`` (set cover with policy targets)::

    min  Σ_j c_j x_j
    s.t. Σ_{j∈N_i} x_j >= 1                           i must-cover (townships, 乡镇全覆盖)
         y_i <= Σ_{j∈N_i} x_j                          other i
         Σ_{i∈g} w_i y_i + Σ_{i∈g, must} w_i >= s · W_g  each county g (min_county_coverage s)
         Σ_{j∈g} x_j >= ceil(EVs_g / N)                each county g (one station per N EVs)
         x_j = 1                                       j ∈ E (existing stations are kept)

A ``budget_cny`` the optimum exceeds makes the targets unreachable: the tier then solves the
best-coverage variant (max cover under the budget, every township worth more than all EVs
together, so the number of covered townships is maximised first) and raises
:class:`~gzcharge.errors.InfeasibleError` naming the townships and counties left short — or,
with ``fallback_max_cover = true``, returns that plan with the unmet targets listed.

``max_cover`` (best coverage under ``budget_cny`` and/or ``max_stations``)::

    max  Σ_i (w_i + δ) y_i − ε Σ_j c_j x_j
    s.t. y_i <= Σ_{j∈N_i} x_j ;  Σ_j c_j x_j + Σ_i k_i y_i <= B ;  Σ_j x_j <= p ;  x_j = 1 (j ∈ E)
         Σ_{j∈N_i} x_j >= 1  for townships, when the cheapest township cover fits B and p

(``k_i = w_i × kWh/EV/day × public share / (plug kW × hours × utilisation) × cost per extra plug``
is the plug cost of serving demand ``i``, so the budget pays for sites *and* plugs; when the
rounding of plugs still overshoots, the budget is tightened by the overshoot and re-solved.
``δ = 10⁻³`` EVs makes zero-weight townships worth covering; ``ε`` breaks ties toward cheap
plans and is far below the 0.1 % gap.)

Station sizing
--------------
The EVs of a covered demand point are shared equally by the open stations within its radius
(drivers use the stations around them; uncovered demand is not served, so it sizes nothing);
its ``station_id`` is the nearest of them. A station's daily energy is
``E = Σ EVs served × kwh_per_ev_day × public_charging_share`` (kWh/day) and it gets
``plugs = max(min_plugs, ceil(E / (plug_kw × hours_per_day × utilisation_target)))`` plugs
(an existing station keeps at least its known plugs); ``kw = plugs × plug_kw``. Station cost
= the candidate's site cost + ``cost_per_extra_plug_cny`` per plug beyond ``min_plugs`` (for an
existing station: per plug beyond those it has).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gzcharge._util import preview_ids
from gzcharge.errors import ConfigError, DataError, InfeasibleError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from gzcharge.distances import CostMatrix
    from gzcharge.region import Region
    from gzcharge.scenario import Scenario

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str, float], None]
_DELTA_EVS = 1e-3


@dataclass
class PublicResult:
    """Outcome of the public tier.

    Attributes
    ----------
    stations
        GeoDataFrame (EPSG:4326): ``site_id, tier, status`` (new/existing), ``ctype, name,
        plugs, kw, evs_served, energy_kwh_day, cost_cny, county_adcode, geometry``.
    demand
        GeoDataFrame: demand columns plus ``covered, distance_m, station_id``.
    counties
        GeoDataFrame compliance table per county (polygon geometry).
    townships
        GeoDataFrame of township demand: ``covered, station_id`` (nearest open station),
        ``distance_m``, ``unmet_reason``.
    summary
        DataFrame by tier and total: demand points, EVs, covered share, stations, plugs, cost.
    status, objective, gap, solver_seconds
        Of the final solve (``status`` a :class:`gzcharge.locate._common.Status` value string).
    mode
        ``min_cost``, ``max_cover`` or ``max_cover_fallback``.
    unmet
        Plain sentences listing unmet hard targets (empty when all are met).
    timings
        Seconds per stage.
    notes
        Statements for the report (estimates, skipped inputs, sizing rule).
    candidates, cost
        The candidate sites and the cost matrix used.
    """

    stations: Any
    demand: Any
    counties: Any
    townships: Any
    summary: pd.DataFrame
    status: str
    objective: float
    gap: float
    solver_seconds: float
    mode: str
    unmet: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    candidates: Any = None
    cost: Any = None


# =========================================================================== the model
@dataclass
class _ModelData:
    cover: sp.csr_array  # demand × site, bool
    weight: np.ndarray
    must: np.ndarray  # bool per demand
    group: np.ndarray  # county position per demand
    share: np.ndarray  # min covered share per county
    site_cost: np.ndarray
    site_group: np.ndarray  # county position per site (-1 none)
    min_sites: np.ndarray  # per county
    existing: np.ndarray  # bool per site
    budget: float | None = None
    max_sites: int | None = None
    objective: str = "min_cost"  # or "max_cover"
    bonus: np.ndarray | None = None  # extra objective weight per demand (max_cover)
    use_share: bool = True
    use_count: bool = True
    demand_cost: np.ndarray | None = None  # plug cost of serving demand i, charged to the budget


def _build_model(d: _ModelData) -> Any:
    import pyomo.environ as pyo

    model = pyo.ConcreteModel(name=f"public_{d.objective}")
    n, m = d.cover.shape
    model.x = pyo.Var(range(m), within=pyo.Binary)
    free = np.flatnonzero(~d.must)
    model.y = pyo.Var(free.tolist(), bounds=(0.0, 1.0))
    for j in np.flatnonzero(d.existing):
        model.x[int(j)].fix(1)
    ind, ptr = d.cover.indices, d.cover.indptr
    x = model.x

    def row(i: int):
        return pyo.quicksum(x[int(j)] for j in ind[ptr[i]:ptr[i + 1]])

    must = np.flatnonzero(d.must)
    model.must_cover = pyo.Constraint(must.tolist(), rule=lambda mdl, i: row(i) >= 1)
    model.cover_link = pyo.Constraint(free.tolist(), rule=lambda mdl, i: mdl.y[i] <= row(i))
    cost_expr = pyo.quicksum(float(d.site_cost[j]) * x[j] for j in range(m) if d.site_cost[j] != 0)
    if d.use_share:
        rows = []
        for g in range(len(d.share)):
            if d.share[g] <= 0:
                continue
            members = np.flatnonzero(d.group == g)
            total = d.weight[members].sum()
            fixed = d.weight[members][d.must[members]].sum()
            rhs = d.share[g] * total - fixed
            if total > 0 and rhs > 1e-9:
                rows.append((g, members[~d.must[members]], rhs))
        model.county_share = pyo.Constraint(
            range(len(rows)),
            rule=lambda mdl, k: pyo.quicksum(float(d.weight[i]) * mdl.y[int(i)] for i in rows[k][1]) >= rows[k][2],
        )
    if d.use_count:
        groups = [g for g in range(len(d.min_sites)) if d.min_sites[g] > 0]
        model.county_count = pyo.Constraint(
            groups, rule=lambda mdl, g: pyo.quicksum(x[int(j)] for j in np.flatnonzero(d.site_group == g))
            >= int(d.min_sites[g])
        )
    if d.budget is not None:
        rhs = float(d.budget)
        spend = cost_expr
        if d.demand_cost is not None:
            rhs -= float(d.demand_cost[d.must].sum())
            spend = cost_expr + pyo.quicksum(float(d.demand_cost[i]) * model.y[int(i)] for i in free
                                             if d.demand_cost[i] > 0)
        model.budget = pyo.Constraint(expr=spend <= rhs)
    if d.max_sites is not None:
        model.max_sites = pyo.Constraint(expr=pyo.quicksum(x[j] for j in range(m)) <= int(d.max_sites))
    if d.objective == "min_cost":
        model.obj = pyo.Objective(expr=cost_expr, sense=pyo.minimize)
    else:
        w = d.weight + (d.bonus if d.bonus is not None else 0.0) + _DELTA_EVS
        scale = max(float(d.site_cost.max(initial=0.0)), 1.0) * m
        eps = 1e-4 / scale  # all site costs together are worth < 1e-4 EVs
        model.obj = pyo.Objective(
            expr=pyo.quicksum(float(w[i]) * model.y[int(i)] for i in free) - eps * cost_expr, sense=pyo.maximize
        )
    return model


def _solve_model(d: _ModelData, scenario: Scenario) -> tuple[np.ndarray, Any]:
    from gzcharge.solve import solve

    model = _build_model(d)
    s = scenario.solver
    res = solve(model, time_limit_s=s.time_limit_s, mip_rel_gap=s.mip_rel_gap, threads=s.threads,
                enforce_wall_clock=True)
    x = np.asarray(res.values(model.x)) > 0.5
    return x, res


@dataclass
class PublicModelInputs:
    """The public tier's prepared data, before any solve (:func:`public_model_data`).

    Attributes
    ----------
    demand, candidates
        Demand points and candidate sites (GeoDataFrames).
    cost
        Demand × site :class:`~gzcharge.distances.CostMatrix` (metres).
    radius
        Coverage radius per demand point (m).
    data
        The min-cost model data (``_ModelData``: cover sets, weights, must-cover rows, county share
        and count targets, site costs, existing sites).
    demand_cost
        Linearised plug cost of serving each demand point (CNY), charged to budgets.
    counties_idx, county_evs, min_sites_req
        County adcodes (positions of ``data.group``), EVs per county, stations required per county.
    unmet, notes, timings
        Targets that cannot be met whatever is chosen; notes; seconds per stage.
    """

    demand: Any
    candidates: Any
    cost: Any
    radius: np.ndarray
    data: _ModelData
    demand_cost: np.ndarray
    counties_idx: pd.Index
    county_evs: np.ndarray
    min_sites_req: np.ndarray
    unmet: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _stage_timer(timings: dict[str, float], progress: ProgressCallback | None) -> Callable[[str, float], float]:
    """``stage(name, t0)``: record the seconds since ``t0`` under ``name``, report progress, return now."""

    def stage(name: str, t0: float) -> float:
        t1 = time.perf_counter()
        timings[name] = round(t1 - t0, 3)
        if progress:
            progress(name, 1.0)
        return t1

    return stage


def public_model_data(
    region: Region,
    scenario: Scenario,
    *,
    network: Any = None,
    pois: gpd.GeoDataFrame | None = None,
    existing_stations: Any = None,
    progress: ProgressCallback | None = None,
    builtup: gpd.GeoDataFrame | None = None,
) -> PublicModelInputs:
    """Demand, candidates, cost matrix and model data of the public tier, without solving.

    Parameters are those of :func:`plan_public`. Raises the same pre-check errors
    (:class:`InfeasibleError` when a township has no candidate in reach or a county share
    cannot be reached; :class:`DataError` for demand in unknown counties).
    """
    from gzcharge.candidates import public_candidates
    from gzcharge.demand import public_demand
    from gzcharge.locate._prepare import coverage_matrix

    p = scenario.public
    timings: dict[str, float] = {}
    notes: list[str] = []

    stage = _stage_timer(timings, progress)

    t = time.perf_counter()
    demand = public_demand(region, scenario, builtup=builtup)
    notes.append(demand.attrs["township_note"])
    if builtup is not None and demand.attrs.get("urban_note"):
        notes.append(demand.attrs["urban_note"])
    t = stage("demand", t)
    cands = public_candidates(region, scenario, demand=demand, pois=pois, existing_stations=existing_stations)
    t = stage("candidates", t)
    cutoff = 2.0 * float(demand["radius_m"].max())
    cm = _cost_matrix(demand, cands, region, scenario, network, cutoff, progress)
    radius = demand["radius_m"].to_numpy(float)
    cover = coverage_matrix(cm, radius)
    t = stage("distances", t)

    # ------------------------------------------------------------ targets
    counties_idx = pd.Index(region.counties["adcode"].astype(str))
    group = counties_idx.get_indexer(demand["county_adcode"].astype(str))
    site_group = counties_idx.get_indexer(cands["county_adcode"].astype(str))
    if (group < 0).any():
        raise DataError(f"demand points in unknown counties: {preview_ids(demand['demand_id'][group < 0])}")
    weight = demand["weight_evs"].to_numpy(float)
    is_town = (demand["tier"] == "township").to_numpy()
    must = is_town & p.township_full_coverage
    county_evs = demand.attrs["county_evs"].reindex(counties_idx).fillna(0.0).to_numpy()
    min_sites_req = np.ceil(county_evs / p.evs_per_station - 1e-9).astype(int)
    # the "one station per N EVs" count only counts sites that reach demand of their own county: a
    # station in empty country would satisfy the rule on paper and serve nobody
    cc = cover.tocoo()
    ok = (group[cc.row] == site_group[cc.col]) & (weight[cc.row] > 0)
    useful = np.zeros(len(cands), dtype=bool)
    useful[cc.col[ok]] = True
    site_group = np.where(useful, site_group, -1)
    sites_avail = np.bincount(site_group[site_group >= 0], minlength=len(counties_idx))
    min_sites = np.minimum(min_sites_req, sites_avail)
    share = np.full(len(counties_idx), p.min_county_coverage)
    existing = cands["existing"].to_numpy(bool)
    site_cost = cands["cost_cny"].to_numpy(float)
    town_names = demand["name"].to_numpy()

    # pre-checks: reachability of hard targets
    reach = np.diff(cover.indptr) > 0
    unreachable = must & ~reach
    if unreachable.any():
        ids = demand["demand_id"][unreachable]
        raise InfeasibleError(
            f"乡镇全覆盖 is impossible: {int(unreachable.sum())} townships have no candidate site within "
            f"{p.township_radius_km:g} km: {preview_ids(town_names[unreachable])}; add candidates or enlarge "
            "public.township_radius_km", unserved=list(ids))
    reach_w = np.bincount(group, weights=weight * reach, minlength=len(counties_idx))
    tot_w = np.bincount(group, weights=weight, minlength=len(counties_idx))
    short = (tot_w > 0) & (reach_w < share * tot_w - 1e-6)
    if short.any():
        bad = [f"{c} ({reach_w[k] / tot_w[k]:.1%})" for k, c in enumerate(counties_idx) if short[k]]
        raise InfeasibleError(f"min_county_coverage {p.min_county_coverage:.0%} cannot be reached in counties "
                              f"{', '.join(bad)}: no candidate within reach of enough demand; lower "
                              "public.min_county_coverage or add candidates")
    unmet: list[str] = []
    for k in np.flatnonzero(min_sites < min_sites_req):
        unmet.append(f"{counties_idx[k]}: {min_sites_req[k]} stations needed for {county_evs[k]:.0f} EVs but "
                     f"only {sites_avail[k]} candidates reach its demand (add candidates, e.g. "
                     "--set public.urban_grid_spacing_km=0.5, or raise public.evs_per_station)")

    base = dict(cover=cover, weight=weight, must=must, group=group, share=share, site_cost=site_cost,
                site_group=site_group, min_sites=min_sites, existing=existing)
    # plugs beyond min_plugs grow linearly with the EVs a station serves (up to rounding): charge that
    # cost to the demand served so that the budget covers sites and plugs
    plug_share = p.kwh_per_ev_day * p.public_charging_share / (p.plug_kw * p.hours_per_day * p.utilisation_target)
    demand_cost = weight * plug_share * p.cost_per_extra_plug_cny
    return PublicModelInputs(demand=demand, candidates=cands, cost=cm, radius=radius, data=_ModelData(**base),
                             demand_cost=demand_cost, counties_idx=counties_idx, county_evs=county_evs,
                             min_sites_req=min_sites_req, unmet=unmet, notes=notes, timings=timings)


# =========================================================================== geometry glue
def _xy(gdf: gpd.GeoDataFrame, crs: str) -> np.ndarray:
    g = gdf.geometry.to_crs(crs)
    return np.column_stack([g.x.to_numpy(), g.y.to_numpy()])


def _cost_matrix(demand, cands, region: Region, scenario: Scenario, network, cutoff_m: float,
                 progress: ProgressCallback | None) -> CostMatrix:
    from gzcharge import distances

    crs = region.metric_crs
    if network is None:
        if scenario.distance.mode == "network":
            raise ConfigError("distance.mode = \"network\" needs a road network (--osm-file FILE or online OSM); "
                              "or use --set distance.mode=screening")
        return distances.screening_costs(_xy(demand, crs), _xy(cands, crs), cutoff=cutoff_m,
                                         row_ids=demand["demand_id"], col_ids=cands["site_id"],
                                         circuity=scenario.distance.circuity)
    ds = network.snap(demand.set_index("demand_id"), max_snap_m=scenario.distance.snap_max_m)
    ss = network.snap(cands.set_index("site_id"), max_snap_m=scenario.distance.snap_max_m)
    far = ds.index[ds["beyond_max_snap"].to_numpy(bool)]
    if len(far):
        logger.warning("%d demand points lie more than %g m from the road graph: %s", len(far),
                       scenario.distance.snap_max_m, preview_ids(far))
    cb = (lambda done, total: progress("distances", done / max(total, 1))) if progress else None
    return distances.network_costs(network, ds["node_id"], ss["node_id"], cutoff=cutoff_m, add_snap=True,
                                   demand_snap_m=ds["snap_m"], site_snap_m=ss["snap_m"], progress=cb)


def _nearest_open(values: sp.csr_array, open_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: position of the nearest open site (-1 if none stored) and its cost (NaN)."""
    v = values.tocoo()
    keep = open_mask[v.col]
    r, c, val = v.row[keep], v.col[keep], v.data[keep]
    pos = np.full(values.shape[0], -1)
    dist = np.full(values.shape[0], np.nan)
    if len(r):
        order = np.lexsort((c, val, r))  # by row, then cost, then site position (deterministic)
        r, c, val = r[order], c[order], val[order]
        first = np.r_[True, r[1:] != r[:-1]]
        pos[r[first]] = c[first]
        dist[r[first]] = val[first]
    return pos, dist


# =========================================================================== the tier
@dataclass
class _Sized:
    """Nearest-open assignment and station sizing for a set of open sites."""

    pos: np.ndarray  # position of the serving (nearest open) site per demand, -1 none
    dist: np.ndarray  # its distance (m), NaN none
    served: np.ndarray  # EVs served per site (covered demand only)
    energy: np.ndarray  # kWh/day per site
    plugs: np.ndarray  # plugs per site
    cost: np.ndarray  # site + extra plug cost per site (CNY)
    spend: float  # total cost of the open sites


def size_stations(prep: PublicModelInputs, p: Any, x: np.ndarray) -> _Sized:
    """Assign demand to the nearest open site and size every site (see "Station sizing" above).

    A station serves (and is sized for) the demand it covers; uncovered demand is not served.
    """
    cands = prep.candidates
    d = prep.data
    pos, dist = _nearest_open(prep.cost.values, x)
    # covered EVs are shared equally by the open stations within their radius (drivers use the stations
    # around them); uncovered EVs are not served
    cc = d.cover.tocoo()
    o = x[cc.col]
    rows, cols = cc.row[o], cc.col[o]
    n_open = np.bincount(rows, minlength=len(d.weight))
    served = np.bincount(cols, weights=d.weight[rows] / n_open[rows], minlength=len(cands))
    energy = served * p.kwh_per_ev_day * p.public_charging_share
    plugs = np.maximum(p.min_plugs, np.ceil(energy / (p.plug_kw * p.hours_per_day * p.utilisation_target) - 1e-9))
    have = cands["plugs"].to_numpy(float)
    plugs = np.where(d.existing & np.isfinite(have), np.maximum(plugs, have), plugs).astype(int)
    extra = np.where(d.existing, plugs - np.nan_to_num(have, nan=plugs), plugs - p.min_plugs).clip(min=0)
    cost = d.site_cost + extra * p.cost_per_extra_plug_cny
    return _Sized(pos, dist, served, energy, plugs, cost, float(cost[x].sum()))


def assess_public(region: Region, prep: PublicModelInputs, scenario: Scenario, x: np.ndarray,
                  sized: _Sized | None = None) -> tuple[Any, Any, Any, Any, pd.DataFrame, list[str]]:
    """Layers of a set of open sites: coverage recomputed from distances, stations sized, compliance.

    Returns ``(stations, demand, counties, townships, summary, county_unmet)`` (see
    :class:`PublicResult`). Used by :func:`plan_public` and the joint plan (final-year sites).
    """
    p = scenario.public
    sized = sized or size_stations(prep, p, x)
    cands, demand, radius = prep.candidates, prep.demand, prep.radius
    existing = prep.data.existing
    pos, dist = sized.pos, sized.dist
    station_ids = cands["site_id"].to_numpy()
    covered = np.isfinite(dist) & (dist <= radius)  # the nearest open site is within reach iff any is
    dem = demand.copy()
    dem["covered"] = covered
    dem["distance_m"] = dist
    dem["station_id"] = np.where(pos >= 0, station_ids[np.maximum(pos, 0)], None)

    # tier of a station: the most demanding tier among the demand it serves (city > county > township)
    # (over all demand within its reach, not only the demand it is nearest to)
    rank = dem["tier"].map({"city": 0, "county": 1, "township": 2}).to_numpy()
    best = np.full(len(cands), 3)
    cc = prep.data.cover.tocoo()
    o = x[cc.col] & (prep.data.weight[cc.row] > 0)
    np.minimum.at(best, cc.col[o], rank[cc.row[o]])
    np.minimum.at(best, pos[pos >= 0], rank[pos >= 0])
    tier_of_site = np.array(["city", "county", "township", "township"])[best]
    st = cands[x].copy()
    st["tier"] = tier_of_site[x]
    st["status"] = np.where(existing[x], "existing", "new")
    st["plugs"] = sized.plugs[x]
    have = cands["plugs"].to_numpy(float)[x]
    # plugs added to an existing station (its own plugs are kept and counted); new stations: all of them
    st["plugs_added"] = np.where(existing[x], sized.plugs[x] - np.nan_to_num(have, nan=0.0), sized.plugs[x]).clip(min=0).astype(int)
    st["kw"] = sized.plugs[x] * p.plug_kw
    st["evs_served"] = sized.served[x]
    st["energy_kwh_day"] = sized.energy[x]
    st["cost_cny"] = sized.cost[x]
    st = st[["site_id", "tier", "status", "ctype", "name", "plugs", "plugs_added", "kw", "evs_served", "energy_kwh_day",
             "cost_cny", "county_adcode", "geometry"]].reset_index(drop=True)

    counties, county_unmet = _compliance(region, dem, st, prep.counties_idx, prep.county_evs, prep.min_sites_req, p)
    towns = dem[dem["tier"] == "township"][["demand_id", "settlement_id", "name", "county_adcode", "weight_evs",
                                            "covered", "station_id", "distance_m", "source", "geometry"]].copy()
    cutoff = 2.0 * float(demand["radius_m"].max())
    towns["unmet_reason"] = np.where(
        towns["covered"], "",
        np.where(towns["distance_m"].notna(),
                 "nearest station " + towns["distance_m"].round(0).astype("Int64").astype(str) + " m > radius "
                 + f"{p.township_radius_km * 1000:.0f} m",
                 f"no station within {cutoff:.0f} m"))
    towns = towns.reset_index(drop=True)
    return st, dem, counties, towns, _summary(dem, st), county_unmet


def plan_public(
    region: Region,
    scenario: Scenario,
    *,
    network: Any = None,
    pois: gpd.GeoDataFrame | None = None,
    existing_stations: Any = None,
    progress: ProgressCallback | None = None,
    builtup: gpd.GeoDataFrame | None = None,
) -> PublicResult:
    """Plan the public charging tier of a region (see the module docstring for the model).

    Parameters
    ----------
    region
        Region with counties (census) and settlements; townships from
        ``region.with_townships(...)`` or, when absent, estimated (labelled).
    scenario
        Validated scenario (``ev``, ``public``, ``distance``, ``solver``).
    network
        A :class:`gzcharge.network.RoadNetwork` for road distances; ``None`` = screening.
    pois
        OSM POIs (fuel, parking, charging stations) for candidates.
    existing_stations
        CSV path or GeoDataFrame of stations already built (kept open, cost 0).
    progress
        Optional ``progress(stage, fraction)`` callback.
    builtup
        OSM built-up land polygons for the city core and county seats
        (:func:`gzcharge.demand.public_demand`); ``None`` = estimate discs.

    Raises
    ------
    InfeasibleError
        Hard targets cannot be met (a township without any candidate in reach, a county
        share no site set can reach, or a budget below the cheapest compliant plan without
        ``fallback_max_cover``); ``unserved`` lists the township demand ids left uncovered.
    ConfigError
        ``max_cover`` without a budget or station limit; network mode without a network.
    """
    p = scenario.public
    timings: dict[str, float] = {}
    notes: list[str] = []

    stage = _stage_timer(timings, progress)

    if p.mode == "max_cover" and p.budget_cny is None and p.max_stations is None:
        raise ConfigError("public.mode = \"max_cover\" needs public.budget_cny or public.max_stations; "
                          "set one (e.g. --set public.budget_cny=3e7) or use mode min_cost")
    t = time.perf_counter()
    prep = public_model_data(region, scenario, network=network, pois=pois, existing_stations=existing_stations,
                             progress=progress, builtup=builtup)
    timings.update(prep.timings)
    notes.extend(prep.notes)
    demand, cands, cm = prep.demand, prep.candidates, prep.cost
    d0 = prep.data
    weight, must, existing, cover = d0.weight, d0.must, d0.existing, d0.cover
    is_town = (demand["tier"] == "township").to_numpy()
    unmet: list[str] = list(prep.unmet)
    demand_cost = prep.demand_cost
    base = dict(cover=d0.cover, weight=weight, must=must, group=d0.group, share=d0.share, site_cost=d0.site_cost,
                site_group=d0.site_group, min_sites=d0.min_sites, existing=existing)

    def size(x: np.ndarray) -> _Sized:
        return size_stations(prep, p, x)

    def within_budget(model: dict) -> tuple[np.ndarray, Any, tuple]:
        """Solve a budgeted model whose budget covers sites and (linearised) plugs; the rounding of plugs
        can still overshoot, so then the budget is tightened by the overshoot and the model re-solved."""
        b = p.budget_cny
        for _ in range(12):
            x, res = _solve_model(_ModelData(**{**model, "budget": b, "demand_cost": demand_cost}), scenario)
            sized = size(x)
            if p.budget_cny is None or sized.spend <= p.budget_cny * (1 + 1e-9):
                if b is not None and b < p.budget_cny:
                    notes.append(f"plug costs depend on the demand each station serves: the model budget was "
                                 f"tightened to {b:,.0f} CNY so that sites + plugs stay within "
                                 f"{p.budget_cny:,.0f} CNY (the plan is optimal for that site budget)")
                return x, res, sized
            b = b - (sized.spend - p.budget_cny) - 1.0
            if b <= 0:
                break
        raise InfeasibleError(f"budget {p.budget_cny:,.0f} CNY cannot pay for the plugs the selected stations need; "
                              "raise public.budget_cny")

    mode = p.mode
    if mode == "min_cost":
        x, res = _solve_model(_ModelData(**base, max_sites=p.max_stations), scenario)
        sized = size(x)
        spend = sized.spend
        if p.budget_cny is not None and spend > p.budget_cny * (1 + 1e-9):
            msg_head = (f"budget {p.budget_cny:,.0f} CNY cannot meet the hard targets: the cheapest compliant plan "
                        f"costs {spend:,.0f} CNY (sites and plugs)")
            bonus = np.where(is_town, weight.sum() + 1.0, 0.0)
            x, res, sized = within_budget(dict(**{**base, "must": np.zeros_like(must)}, objective="max_cover",
                                               bonus=bonus, max_sites=p.max_stations, use_share=False,
                                               use_count=False))
            mode = "max_cover_fallback"
            unmet.insert(0, msg_head)
    else:
        # townships as must-cover when the cheapest township cover fits the budget / count
        must_ok = False
        if must.any():
            tc = _ModelData(**{**base, "cover": cover}, use_share=False, use_count=False)
            tc.weight = np.where(must, weight, 0.0)
            try:
                xt, _ = _solve_model(tc, scenario)
                fits = (p.budget_cny is None or size(xt)[-1] <= p.budget_cny) and \
                    (p.max_stations is None or int(xt.sum()) <= p.max_stations)
                must_ok = bool(fits)
            except InfeasibleError:
                must_ok = False
            if not must_ok:
                notes.append("the budget / station limit cannot cover every township; townships were maximised "
                             "with the other demand, not forced")
        bonus = np.where(is_town & ~must_ok, weight.sum() + 1.0, 0.0) if p.township_full_coverage else None
        try:
            x, res, sized = within_budget(dict(**{**base, "must": must & must_ok}, objective="max_cover", bonus=bonus,
                                               max_sites=p.max_stations, use_share=False, use_count=False))
        except InfeasibleError:
            if not must_ok or not must.any():
                raise
            # forcing every township left no money for plugs: maximise instead
            bonus = np.where(is_town, weight.sum() + 1.0, 0.0) if p.township_full_coverage else None
            x, res, sized = within_budget(dict(**{**base, "must": np.zeros_like(must)}, objective="max_cover",
                                               bonus=bonus, max_sites=p.max_stations, use_share=False,
                                               use_count=False))
    t = stage("model", t)

    # ------------------------------------------------------------ recompute coverage, assign, size
    st, dem, counties, towns, summary, county_unmet = assess_public(region, prep, scenario, x, sized)
    unmet.extend(county_unmet)
    t = stage("sizing_tables", t)

    notes.append(
        "station sizing (a covered demand point's EVs are shared equally by the open stations in its radius): "
        "plugs = max(min_plugs, ceil(EVs served × kWh/EV/day × public share / "
        f"(plug kW × hours × utilisation))) = max({p.min_plugs}, ceil(EVs × {p.kwh_per_ev_day:g} × "
        f"{p.public_charging_share:g} / ({p.plug_kw:g} × {p.hours_per_day:g} × {p.utilisation_target:g})))")
    notes.append(f"distances: {cm.mode} ({'circuity ' + str(cm.meta.get('circuity')) if cm.mode == 'screening' else 'road graph'})")
    if mode == "min_cost" and p.township_full_coverage and not towns["covered"].all():
        raise InfeasibleError("internal check failed: a township is uncovered in a min_cost plan",
                              unserved=list(towns["demand_id"][~towns["covered"]]))
    if mode == "max_cover_fallback" and not p.fallback_max_cover:
        unc = towns[~towns["covered"]]
        short_c = counties[counties["unmet_targets"] != ""]
        towns_txt = (f"{len(unc)} townships stay uncovered: {preview_ids(unc['name'] + '(' + unc['county_adcode'] + ')')}"
                     if len(unc) else "every township stays covered")
        counties_txt = (f"counties short of targets: {preview_ids(short_c['adcode'] + ' ' + short_c['name'])}"
                        if len(short_c) else "no county is short of its targets")
        msg = (f"{unmet[0]}. With the budget, {towns_txt}; {counties_txt}. Raise public.budget_cny or set "
               "public.fallback_max_cover=true to get this best-coverage plan")
        raise InfeasibleError(msg, unserved=list(unc["demand_id"]))
    if unmet:
        notes.extend(unmet)
    gap = float(res.gap) if np.isfinite(res.gap) else float("nan")
    return PublicResult(
        stations=st, demand=dem, counties=counties, townships=towns, summary=summary, status=str(res.status.value),
        objective=float(res.objective), gap=gap, solver_seconds=float(res.seconds), mode=mode, unmet=unmet,
        timings=timings, notes=notes, candidates=cands, cost=cm,
    )


def _compliance(region: Region, dem, st, counties_idx: pd.Index, county_evs: np.ndarray,
                min_sites_req: np.ndarray, p) -> tuple[Any, list[str]]:
    """Compliance table per county and the unmet-target sentences."""
    import geopandas as gpd

    rows, unmet = [], []
    names = dict(zip(region.counties["adcode"].astype(str), region.counties["name"], strict=True))
    for k, code in enumerate(counties_idx):
        d = dem[dem["county_adcode"] == code]
        s = st[st["county_adcode"] == code]
        row: dict[str, Any] = {"adcode": code, "name": names[code], "evs": float(county_evs[k])}
        for tier in ("city", "county", "township"):
            dt = d[d["tier"] == tier]
            w = dt["weight_evs"].sum()
            row[f"{tier}_points"] = len(dt)
            row[f"{tier}_coverage_pct"] = (100.0 * dt.loc[dt["covered"], "weight_evs"].sum() / w) if w > 0 else (
                100.0 * dt["covered"].mean() if len(dt) else np.nan)
        row["townships_covered"] = int(d.loc[d["tier"] == "township", "covered"].sum())
        row["townships_total"] = int((d["tier"] == "township").sum())
        w = d["weight_evs"].sum()
        row["coverage_pct"] = 100.0 * d.loc[d["covered"], "weight_evs"].sum() / w if w > 0 else np.nan
        # float sums can land a hair above 100 (e.g. 100.00000000001), which falls outside the styled
        # classes in QGIS and on the map: percentages are clipped to [0, 100]
        for key in ("city_coverage_pct", "county_coverage_pct", "township_coverage_pct", "coverage_pct"):
            if row[key] == row[key]:  # not NaN
                row[key] = float(min(100.0, max(0.0, row[key])))
        row["stations"] = len(s)
        row["stations_new"] = int((s["status"] == "new").sum())
        row["stations_existing"] = int((s["status"] == "existing").sum())
        row["stations_required"] = int(min_sites_req[k])
        row["plugs"] = int(s["plugs"].sum())
        row["kw"] = float(s["kw"].sum())
        row["plugs_per_1000_evs"] = 1000.0 * row["plugs"] / county_evs[k] if county_evs[k] > 0 else np.nan
        row["cost_cny"] = float(s["cost_cny"].sum())
        text = []
        miss = d[(d["tier"] == "township") & ~d["covered"]]
        if len(miss) and p.township_full_coverage:
            text.append(f"townships uncovered: {len(miss)} ({preview_ids(miss['name'], 5)})")
        if w > 0 and row["coverage_pct"] < 100 * p.min_county_coverage - 1e-6:
            text.append(f"coverage {row['coverage_pct']:.1f}% < {100 * p.min_county_coverage:.0f}%")
        if row["stations"] < row["stations_required"]:
            text.append(f"stations {row['stations']} < {row['stations_required']} (1 per {p.evs_per_station:g} EVs)")
        row["unmet_targets"] = "; ".join(text)
        if text:
            unmet.append(f"{code} {names[code]}: " + "; ".join(text))
        rows.append(row)
    df = pd.DataFrame(rows)
    geom = region.counties.set_index(region.counties["adcode"].astype(str)).geometry.reindex(df["adcode"])
    return gpd.GeoDataFrame(df, geometry=geom.to_numpy(), crs=region.counties.crs), unmet


def _summary(dem, st) -> pd.DataFrame:
    rows = []
    for tier in ("city", "county", "township", "total"):
        d = dem if tier == "total" else dem[dem["tier"] == tier]
        s = st if tier == "total" else st[st["tier"] == tier]
        w = d["weight_evs"].sum()
        rows.append({
            "tier": tier, "demand_points": len(d), "evs": w,
            "covered_pct": 100.0 * d.loc[d["covered"], "weight_evs"].sum() / w if w > 0 else (
                100.0 * d["covered"].mean() if len(d) else np.nan),
            "points_covered_pct": 100.0 * d["covered"].mean() if len(d) else np.nan,
            "stations": len(s), "stations_new": int((s["status"] == "new").sum()),
            "plugs": int(s["plugs"].sum()), "kw": float(s["kw"].sum()), "cost_cny": float(s["cost_cny"].sum()),
        })
    return pd.DataFrame(rows)

