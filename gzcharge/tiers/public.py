"""Public charging tier (市、县、乡三级): demand, candidates, the siting model, sizing, compliance.

The tier follows the contract of every tier (prepare → solve through the numeric core →
assess):

* :func:`prepare_public` — demand points (:func:`gzcharge.demand.public_demand`), candidate
  sites (:func:`gzcharge.candidates.public_candidates`), a demand × site cost matrix (road
  distances by :func:`gzcharge.distances.network_costs` when a
  :class:`~gzcharge.network.RoadNetwork` is given, else straight line × circuity by
  :func:`gzcharge.distances.screening_costs`, cut off at twice the largest radius) and the
  model block: a *capacitated* :class:`~gzcharge.locate.joint.CoverageBlock` named ``public``;
* :func:`solve_public` — the block alone, one year, through
  :func:`gzcharge.locate.joint.solve_joint` (plus the tier's budget fallback, below);
* :func:`assess_public` — coverage recomputed from the chosen sites and the distances (never
  read from the model), stations sized from the model's plugs and energy assignment (checked
  against the chosen sites), compliance per county;
* :func:`plan_public` — the three in one call.

Model
-----
Sets: demand ``i`` (weight ``w_i`` EVs, radius ``r_i``, county ``g(i)``, daily energy
``e_i = w_i × kwh_per_ev_day × public_charging_share``), sites ``j`` (cost ``c_j``, which
includes the first ``m₀ = min_plugs`` plugs; county ``g(j)``; existing ``E`` with ``h_j``
plugs standing), ``N_i = {j : d_ij <= r_i}``. ``κ = plug_kw × hours_per_day ×
utilisation_target`` is the energy one plug delivers per day, ``π = cost_per_extra_plug_cny``.
Variables: ``x_j ∈ {0,1}`` open; ``p_j ∈ ℤ₊`` plugs; ``f_ij >= 0`` energy of ``i`` served at
``j`` (only on the nonzeros of ``N``); ``y_i`` covered.

Cost of a plan (sites and plugs)::

    K(x, p) = Σ_{j∉E} [c_j x_j + π (p_j − m₀ x_j)] + Σ_{j∈E} π (p_j − h_j)

Capacitated coverage rows (every mode)::

    y_i <= Σ_{j∈N_i} x_j ;  y_i >= x_j  (j ∈ N_i, e_i > 0: an open station serves the demand in reach)
    Σ_{j∈N_i} f_ij >= e_i y_i ;  Σ_i f_ij <= κ p_j ;  f_ij <= e_i x_j
    m₀ x_j <= p_j <= P_j x_j  (j ∉ E) ;  p_j >= h_j, x_j = 1  (j ∈ E)

(``P_j`` = plugs for all demand in reach of ``j``). ``y`` is 0/1 whenever ``x`` is, so
coverage is never fractional, also where it carries cost in the budget row.

``min_cost`` (set cover with policy targets)::

    min  K(x, p)
    s.t. Σ_{j∈N_i} x_j >= 1                           i township (乡镇全覆盖)
         Σ_{i∈g} w_i y_i >= s · W_g                    each county g (min_county_coverage s)
         Σ_{j∈g} x_j >= ceil(EVs_g / N)                each county g (one station per N EVs)
         Σ_j x_j <= max_stations                       (when given)

A ``budget_cny`` the optimum exceeds makes the targets unreachable: the tier then solves the
best-coverage variant (``max_cover`` under the budget with no hard rule, every township worth
more than all EVs together, so the number of covered townships is maximised first) and raises
:class:`~gzcharge.errors.InfeasibleError` naming the townships and counties left short — or,
with ``fallback_max_cover = true``, returns that plan with the unmet targets listed.

``max_cover`` (best coverage under ``budget_cny`` and/or ``max_stations``)::

    max  Σ_i (w_i + δ) y_i − ε K(x, p)
    s.t. K(x, p) <= B ;  Σ_j x_j <= max_stations ;  Σ_{j∈N_i} x_j >= 1 for townships

and, when the townships cannot all be covered within ``B``/``max_stations``, the same without
the township rows and with every township worth ``W + 1`` EVs. ``δ = 10⁻³`` EVs makes
zero-weight townships worth covering; ``ε`` makes all costs together worth less than one unit of
``10⁻⁶`` of the normalised service (:mod:`gzcharge.locate.joint`): cost only breaks ties.

Demand rows with identical cover sets share one ``y`` and one assignment in the core (exact).

Station sizing
--------------
Plugs are the model's ``p_j``; a station's daily energy is the energy assigned to it,
``E_j = Σ_i f_ij`` (kWh/day), its EVs served ``E_j / (kwh_per_ev_day × public_charging_share)``
and ``kw = plugs × plug_kw``. After the solve the sizing is checked against the chosen sites
and the distances: every demand point within radius of an open station has all its energy
assigned to open stations within its radius (and uncovered demand none), ``E_j <= κ p_j`` and
``p_j >= m₀``; a failed check is a :class:`~gzcharge.errors.SolverError`. Station cost = the
candidate's site cost + ``π`` per plug beyond ``m₀`` (an existing station: per plug beyond the
``h_j`` it has; unknown plug counts of existing stations are taken as ``m₀``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gzcharge._util import preview_ids
from gzcharge.errors import ConfigError, DataError, InfeasibleError, SolverError
from gzcharge.export.i18n import msg
from gzcharge.tiers.base import PlanContext, Prepared, Tier, TierResult, status_of

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from gzcharge.distances import CostMatrix
    from gzcharge.locate.joint import CoverageBlock, JointSolution
    from gzcharge.region import Region
    from gzcharge.scenario import Scenario

logger = logging.getLogger(__name__)

__all__ = ["PublicPrepared", "PublicResult", "assess_public", "plan_public", "prepare_public", "public_model_data",
           "solve_public"]

ProgressCallback = Callable[[str, float], None]
_DELTA_EVS = 1e-3


@dataclass
class PublicResult:
    """Outcome of the public tier.

    Attributes
    ----------
    stations
        GeoDataFrame (EPSG:4326): ``site_id, tier, status`` (new/existing), ``ctype, name,
        plugs, plugs_added, kw, evs_served, energy_kwh_day, cost_cny, county_adcode, geometry``
        (+ ``phase_year`` and ``plugs_<year>`` when the solution has several years).
    demand
        GeoDataFrame: demand columns plus ``covered, distance_m, station_id`` (nearest open
        station), ``energy_kwh_day`` (energy served, last year) and, with several years,
        ``covered_year``.
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
    size
        Model size and times of the final solve (:attr:`JointSolution.size`).
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
    size: dict = field(default_factory=dict)



# =========================================================================== preparation
@dataclass
class PublicPrepared:
    """The public tier's prepared data, before any solve (:func:`prepare_public`).

    Attributes
    ----------
    region
        The region planned (counties for the compliance table).
    demand, candidates
        Demand points and candidate sites (GeoDataFrames).
    cost
        Demand × site :class:`~gzcharge.distances.CostMatrix` (metres).
    radius
        Coverage radius per demand point (m).
    block
        The capacitated :class:`~gzcharge.locate.joint.CoverageBlock` ``public`` of the
        scenario's mode (``min_cost``: townships, county shares and counts as hard rules;
        ``max_cover``: townships as must-cover rows, objective weights ``w + δ``).
    sites
        One row per block site, in block order: ``site_id, name, kind, county_adcode, lon, lat``.
    is_town
        Bool per demand point: a township seat.
    counties_idx, county_evs, min_sites_req
        County adcodes (positions of the block's areas), EVs per county, stations required per county.
    own_town
        Per candidate site, the demand row of the township it belongs to under the own-charger
        rule (``public.township_own_charger``: its nearest real township seat within reach), -1
        for none; ``None`` when the rule is off.
    unmet, notes, timings
        Targets that cannot be met whatever is chosen; notes; seconds per stage.
    """

    region: Any
    demand: Any
    candidates: Any
    cost: Any
    radius: np.ndarray
    block: CoverageBlock
    sites: pd.DataFrame
    is_town: np.ndarray
    counties_idx: pd.Index
    county_evs: np.ndarray
    min_sites_req: np.ndarray
    own_town: np.ndarray | None = None
    unmet: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    #: costs the coverage rules use (``cost`` itself, or driving seconds on rows with a minutes radius)
    rule_cost: Any = None

    @property
    def plug_capacity_kwh_day(self) -> float:
        """``κ``: energy one plug delivers per day (kWh)."""
        return float(self.block.plug_capacity)


#: The former name of :class:`PublicPrepared`.
PublicModelInputs = PublicPrepared


def _stage_timer(timings: dict[str, float], progress: ProgressCallback | None) -> Callable[[str, float], float]:
    """``stage(name, t0)``: record the seconds since ``t0`` under ``name``, report progress, return now."""

    def stage(name: str, t0: float) -> float:
        t1 = time.perf_counter()
        timings[name] = round(t1 - t0, 3)
        if progress:
            progress(name, 1.0)
        return t1

    return stage



def prepare_public(
    region: Region,
    scenario: Scenario,
    *,
    network: Any = None,
    pois: gpd.GeoDataFrame | None = None,
    existing_stations: Any = None,
    builtup: gpd.GeoDataFrame | None = None,
    progress: ProgressCallback | None = None,
    user_sites: Any = None,
) -> PublicPrepared:
    """Demand, candidates, cost matrix and the model block of the public tier, without solving.

    Parameters are those of :func:`plan_public`. Raises the same pre-check errors
    (:class:`InfeasibleError` when a township has no candidate in reach or a county share
    cannot be reached; :class:`DataError` for demand in unknown counties;
    :class:`ConfigError` for ``max_cover`` without a budget or station limit).
    """
    from gzcharge.candidates import public_candidates
    from gzcharge.demand import public_demand
    from gzcharge.locate._prepare import coverage_matrix
    from gzcharge.locate.joint import CoverageBlock

    p = scenario.public
    _check_mode(p)
    timings: dict[str, float] = {}
    notes: list[str] = []

    stage = _stage_timer(timings, progress)

    t = time.perf_counter()
    demand = public_demand(region, scenario, builtup=builtup)
    notes.append(demand.attrs["township_note"])
    if builtup is not None and demand.attrs.get("urban_note"):
        notes.append(demand.attrs["urban_note"])
    t = stage("demand", t)
    cands = public_candidates(region, scenario, demand=demand, pois=pois, existing_stations=existing_stations,
                              user_sites=user_sites)
    t = stage("candidates", t)
    cutoff = 2.0 * float(demand["radius_m"].max())
    cm = _cost_matrix(demand, cands, region, scenario, network, cutoff, progress)
    radius = demand["radius_m"].to_numpy(float)
    rule_cost, radius = _rule_costs(demand, cands, scenario, network, cm, radius, progress)
    cover = coverage_matrix(rule_cost, radius)
    t = stage("distances", t)

    # ------------------------------------------------------------ targets
    counties_idx = pd.Index(region.counties["adcode"].astype(str))
    group = counties_idx.get_indexer(demand["county_adcode"].astype(str))
    site_group = counties_idx.get_indexer(cands["county_adcode"].astype(str))
    if (group < 0).any():
        raise DataError(f"demand points in unknown counties: {preview_ids(demand['demand_id'][group < 0])}")
    weight = demand["weight_evs"].to_numpy(float)
    is_town = (demand["tier"] == "township").to_numpy()
    estimated = is_town & (demand["source"].astype(str).to_numpy() == "estimated")
    # estimated township points are not real seats: they count as demand, never as hard targets
    must = is_town & ~estimated & p.township_full_coverage
    own_town = None
    if p.township_own_charger and (is_town & ~estimated).any():
        cover, own_town = own_township_cover(rule_cost.values, radius, is_town & ~estimated)
    if estimated.any() and p.township_full_coverage:
        notes.append(msg("public.soft_townships", n=int(estimated.sum())))
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
            + (f"{p.township_radius_km:g} km" if p.township_radius_min is None
               else f"{p.township_radius_min:g} min of driving")
            + f": {preview_ids(town_names[unreachable])}; add candidates or enlarge "
            + ("public.township_radius_km" if p.township_radius_min is None else "public.township_radius_min"),
            unserved=list(ids))
    reach_w = np.bincount(group, weights=weight * reach, minlength=len(counties_idx))
    tot_w = np.bincount(group, weights=weight, minlength=len(counties_idx))
    short = (tot_w > 0) & (reach_w < share * tot_w - 1e-6)
    if p.mode == "min_cost" and short.any():
        bad = [f"{c} ({reach_w[k] / tot_w[k]:.1%})" for k, c in enumerate(counties_idx) if short[k]]
        raise InfeasibleError(f"min_county_coverage {p.min_county_coverage:.0%} cannot be reached in counties "
                              f"{', '.join(bad)}: no candidate within reach of enough demand; lower "
                              "public.min_county_coverage or add candidates")
    unmet: list[str] = []
    for k in np.flatnonzero(min_sites < min_sites_req):
        unmet.append(f"{counties_idx[k]}: {min_sites_req[k]} stations needed for {county_evs[k]:.0f} EVs but "
                     f"only {sites_avail[k]} candidates reach its demand (add candidates, e.g. "
                     "--set public.urban_grid_spacing_km=0.5, or raise public.evs_per_station)")
    max_new = None
    if p.max_stations is not None:
        max_new = int(p.max_stations) - int(existing.sum())
        if max_new < 0:
            raise ConfigError(f"public.max_stations={p.max_stations} is below the {int(existing.sum())} existing "
                              "stations (they are kept); raise public.max_stations")
    plugs_have = cands["plugs"].to_numpy(float) if "plugs" in cands else np.full(len(cands), np.nan)
    unknown = existing & ~np.isfinite(plugs_have)
    if unknown.any():
        plugs_have = np.where(unknown, float(max(p.existing_plugs_unknown, p.min_plugs)), plugs_have)
        notes.append(msg("public.plugs_unknown", n=int(unknown.sum()), plugs=max(p.existing_plugs_unknown, p.min_plugs)))
    hard_rules = p.mode == "min_cost"
    block = CoverageBlock(
        name="public", site_ids=pd.Index(cands["site_id"]), site_cost=site_cost, cover=cover, weight=weight,
        demand_ids=pd.Index(demand["demand_id"]), existing=existing, must=must,
        demand_area=group if hard_rules else None, area_share=share if hard_rules else None,
        site_area=site_group if hard_rules else None, area_min_sites=min_sites if hard_rules else None,
        energy=weight * p.kwh_per_ev_day * p.public_charging_share,
        plug_capacity=p.plug_kw * p.hours_per_day * p.utilisation_target, plug_cost=p.cost_per_extra_plug_cny,
        min_plugs=int(p.min_plugs), existing_plugs=np.where(existing, plugs_have, np.nan),
        max_plugs=np.where(~existing & (cands["ctype"].to_numpy() == "user"), plugs_have, np.nan)
        if "ctype" in cands else None,
        objective_weight=None if hard_rules else weight + _DELTA_EVS, max_new_sites=max_new)
    lonlat = cands.geometry.to_crs("EPSG:4326")
    sites = pd.DataFrame({"site_id": cands["site_id"].to_numpy(), "name": cands["name"].to_numpy(),
                          "kind": cands["ctype"].to_numpy() if "ctype" in cands else None,
                          "county_adcode": cands["county_adcode"].astype(str).to_numpy(),
                          "lon": lonlat.x.to_numpy(), "lat": lonlat.y.to_numpy()})
    return PublicPrepared(region=region, demand=demand, candidates=cands, cost=cm, radius=radius, block=block,
                          sites=sites, is_town=is_town, counties_idx=counties_idx, county_evs=county_evs,
                          min_sites_req=min_sites_req, own_town=own_town, unmet=unmet, notes=notes, timings=timings,
                          rule_cost=rule_cost)


def public_model_data(region: Region, scenario: Scenario, *, network: Any = None, pois: gpd.GeoDataFrame | None = None,
                      existing_stations: Any = None, progress: ProgressCallback | None = None,
                      builtup: gpd.GeoDataFrame | None = None) -> PublicPrepared:
    """The former name of :func:`prepare_public` (same parameters and result)."""
    return prepare_public(region, scenario, network=network, pois=pois, existing_stations=existing_stations,
                          builtup=builtup, progress=progress)


def _check_mode(p: Any) -> None:
    if p.mode == "max_cover" and p.budget_cny is None and p.max_stations is None:
        raise ConfigError("public.mode = \"max_cover\" needs public.budget_cny or public.max_stations; "
                          "set one (e.g. --set public.budget_cny=3e7) or use mode min_cost")


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


def _rule_costs(demand, cands, scenario: Scenario, network, cm: CostMatrix, radius: np.ndarray,
                progress: ProgressCallback | None) -> tuple[CostMatrix, np.ndarray]:
    """The costs the coverage rules compare with each row's radius, and those radii.

    Rows of a tier with a travel-time radius (``public.X_radius_min``) take the road graph's
    driving time in seconds (:func:`gzcharge.distances.network_costs` with
    ``weight="travel_time_s"``) and a radius of ``60 × minutes``; other rows keep ``cm``
    (metres) and their km radius. Without a road network a minutes radius is a ConfigError.
    """
    from gzcharge import distances
    from gzcharge.distances import CostMatrix

    p = scenario.public
    mins = p.minute_radius_keys()
    if not mins:
        return cm, radius
    if network is None:
        keys = ", ".join(mins)
        raise ConfigError(f"{keys}: a travel-time radius needs the road network (run with --network / --osm-file), "
                          "or use the km key instead (e.g. public.township_radius_km)")
    tier = demand["tier"].astype(str).to_numpy()
    rad_s = np.array([np.nan if (m := p.radius_min(t)) is None else 60.0 * m for t in tier])
    timed = np.isfinite(rad_s)
    ds = network.snap(demand.set_index("demand_id"), max_snap_m=scenario.distance.snap_max_m)
    ss = network.snap(cands.set_index("site_id"), max_snap_m=scenario.distance.snap_max_m)
    cb = (lambda done, total: progress("distances", done / max(total, 1))) if progress else None
    tm = distances.network_costs(network, ds["node_id"], ss["node_id"], cutoff=2.0 * float(np.nanmax(rad_s)),
                                 weight="travel_time_s", add_snap=True, demand_snap_m=ds["snap_m"],
                                 site_snap_m=ss["snap_m"], progress=cb)
    a, b = cm.values.tocoo(), tm.values.tocoo()
    ka, kb = ~timed[a.row], timed[b.row]
    vals = sp.csr_array((np.r_[a.data[ka], b.data[kb]], (np.r_[a.row[ka], b.row[kb]], np.r_[a.col[ka], b.col[kb]])),
                        shape=cm.values.shape)
    mixed = CostMatrix(rows=cm.rows, cols=cm.cols, values=vals, unit="mixed", mode=cm.mode, cutoff=None,
                       meta=dict(cm.meta, minute_radii=mins))
    logger.info("travel-time radii %s: %d demand rows measured in driving time", mins, int(timed.sum()))
    return mixed, np.where(timed, rad_s, radius)


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




# =========================================================================== solve
def solve_public(prep: PublicPrepared, scenario: Scenario, *, time_limit_s: float | None = None,
                 mip_rel_gap: float | None = None, threads: int | None = None) -> JointSolution:
    """The public tier alone: its block through :func:`gzcharge.locate.joint.solve_joint`, one year.

    Parameters
    ----------
    prep
        From :func:`prepare_public`.
    scenario
        The scenario (``public`` mode, budget, station limit, ``ev.year``; solver defaults).
    time_limit_s, mip_rel_gap, threads
        Solver options (default: ``scenario.solver``).

    Returns
    -------
    JointSolution
        One year (``scenario.ev.year``). In ``min_cost`` with a budget below the cheapest
        compliant plan and ``fallback_max_cover = true``: the best-coverage plan under the
        budget (``objective_kind == "max_service"``), its first note saying why.

    Raises
    ------
    InfeasibleError
        Hard targets the candidates cannot meet; or the budget fallback without
        ``fallback_max_cover`` (naming the townships left uncovered and the counties short).
    ConfigError
        ``max_cover`` without a budget or station limit.
    """
    from gzcharge.locate.joint import solve_joint

    p = scenario.public
    _check_mode(p)
    s = scenario.solver
    kw = dict(years=[scenario.ev.year], time_limit_s=s.time_limit_s if time_limit_s is None else time_limit_s,
              mip_rel_gap=s.mip_rel_gap if mip_rel_gap is None else mip_rel_gap,
              threads=s.threads if threads is None else threads)
    blk = prep.block
    w = np.asarray(blk.weight, float)
    town_bonus = np.where(prep.is_town, w.sum() + 1.0, 0.0) if p.township_full_coverage else 0.0
    best_cover = replace(blk, hard=False, objective_weight=w + town_bonus + _DELTA_EVS)
    B = p.budget_cny
    if p.mode == "max_cover":
        try:
            return solve_joint([blk], total_budget=B, objective="max_service", **kw)
        except InfeasibleError:
            if blk.must is None or not np.any(blk.must):
                raise
        sol = solve_joint([best_cover], total_budget=B, objective="max_service", **kw)
        sol.notes.append(msg("public.townships_maximised"))
        return sol
    sol = solve_joint([blk], objective="min_cost", **kw)
    if B is None or sol.objective <= B * (1 + 1e-9):
        return sol
    try:  # the optimum is above the budget: a plan within the gap may still fit
        return solve_joint([blk], total_budget=B, objective="min_cost", **kw)
    except InfeasibleError:
        pass
    head = msg("public.unmet_budget", budget=B, cheapest=sol.objective)  # a str: the English text
    fb = solve_joint([best_cover], total_budget=B, objective="max_service", **kw)
    fb.notes.append(head)
    if not p.fallback_max_cover:
        res = assess_public(prep, fb, scenario)
        towns, counties = res.townships, res.counties
        unc = towns[~towns["covered"]]
        short_c = counties[counties["unmet_targets"] != ""]
        towns_txt = (f"{len(unc)} townships stay uncovered: {preview_ids(unc['name'] + '(' + unc['county_adcode'] + ')')}"
                     if len(unc) else "every township stays covered")
        counties_txt = (f"counties short of targets: {preview_ids(short_c['adcode'] + ' ' + short_c['name'])}"
                        if len(short_c) else "no county is short of its targets")
        raise InfeasibleError(f"{head}. With the budget, {towns_txt}; {counties_txt}. Raise public.budget_cny or set "
                              "public.fallback_max_cover=true to get this best-coverage plan",
                              unserved=list(unc["demand_id"]))
    return fb


# =========================================================================== assess
@dataclass
class _Sizing:
    """Stations of a solution: open mask, plugs, energy per site and per demand point (last year)."""

    open: np.ndarray
    plugs: np.ndarray
    site_energy: np.ndarray
    demand_energy: np.ndarray
    build_year: np.ndarray  # per site (object; None for existing / closed)
    plugs_by_year: pd.DataFrame  # plugs_<year> per site (open sites), or empty
    years: list


def _sizing(prep: PublicPrepared, sol: JointSolution) -> _Sizing:
    """Read the block's open sites, plugs and last-year assignment from ``sol`` (by id)."""
    b = prep.block
    m, n = len(b.site_ids), len(b.weight)
    rows = sol.sites[sol.sites["block"] == b.name]
    pos = b.site_ids.get_indexer(rows["site_id"])
    if (pos < 0).any():
        raise SolverError(f"public: the solution names unknown sites {preview_ids(rows['site_id'][pos < 0])}")
    x = np.zeros(m, bool)
    x[pos] = True
    plugs = np.zeros(m)
    build = np.full(m, None, dtype=object)
    if len(rows):  # a plan that opens nothing has no plugs/build_year columns
        plugs[pos] = rows["plugs"].to_numpy(float)
        build[pos] = rows["build_year"].to_numpy(dtype=object)
    years = sorted(sol.service.loc[sol.service["block"] == b.name, "year"].unique().tolist())
    pcols = [c for c in rows.columns if c.startswith("plugs_")] if len(years) > 1 else []
    pby = pd.DataFrame(np.zeros((m, len(pcols))), columns=pcols)
    if pcols:
        pby.iloc[pos] = rows[pcols].to_numpy(float)
    a = sol.assignment
    a = a[(a["block"] == b.name) & (a["year"] == years[-1])]
    di = b.demand_ids.get_indexer(a["demand_id"])
    sj = b.site_ids.get_indexer(a["site_id"])
    if (di < 0).any() or (sj < 0).any():
        raise SolverError("public: the solution's assignment names unknown demand points or sites")
    en = a["energy"].to_numpy(float)
    # the assignment goes only to open sites that cover the demand point
    cov = sp.csr_array(b.cover).astype(bool)
    pair_ok = np.asarray(cov[di, sj]).ravel().astype(bool) if len(di) else np.zeros(0, bool)
    if not (pair_ok & x[sj]).all():
        raise SolverError("public: internal check failed: energy assigned to a closed station or one out of reach")
    return _Sizing(open=x, plugs=plugs, site_energy=np.bincount(sj, weights=en, minlength=m),
                   demand_energy=np.bincount(di, weights=en, minlength=n), build_year=build, plugs_by_year=pby,
                   years=years)


def assess_public(prep: PublicPrepared, sol: JointSolution, scenario: Scenario) -> PublicResult:
    """Layers of a solution: coverage recomputed from distances, stations sized from the model, compliance.

    Parameters
    ----------
    prep
        From :func:`prepare_public`.
    sol
        A solution with the block ``public`` (:func:`solve_public`, or a joint plan over
        several years: the layers then describe the last year and carry ``phase_year``).
    scenario
        The scenario (``public`` section).

    Returns
    -------
    PublicResult
    """
    p = scenario.public
    t0 = time.perf_counter()
    b = prep.block
    cands, demand, radius = prep.candidates, prep.demand, prep.radius
    existing = np.asarray(b.existing, bool)
    sz = _sizing(prep, sol)
    x = sz.open
    pos, dist = _nearest_open(prep.cost.values, x)
    rule = prep.cost if prep.rule_cost is None else prep.rule_cost
    _, rule_dist = (pos, dist) if rule is prep.cost else _nearest_open(rule.values, x)
    station_ids = cands["site_id"].to_numpy()
    in_reach = np.isfinite(rule_dist) & (rule_dist <= radius)  # the nearest open site is within reach iff any is
    covered = in_reach
    own = None
    if prep.own_town is not None:  # own-charger rule: a township counts as covered by a site of its own
        own = np.zeros(len(demand), dtype=bool)
        own[prep.own_town[x & (prep.own_town >= 0)]] = True
        covered = covered & (own | ~(prep.is_town & (demand["source"].astype(str).to_numpy() != "estimated")))
    _check_sizing(prep, sz, covered, p)
    dem = demand.copy()
    if own is not None:
        dem["own_charger"] = own
    dem["covered"] = covered
    dem["distance_m"] = dist
    dem["station_id"] = np.where(pos >= 0, station_ids[np.maximum(pos, 0)], None)
    dem["energy_kwh_day"] = sz.demand_energy
    multi = len(sz.years) > 1
    if multi:  # first plan year with an open station within reach
        by = pd.to_numeric(pd.Series(sz.build_year), errors="coerce").to_numpy(float)
        by = np.where(x & existing, float(sz.years[0]), np.where(x, by, np.inf))
        v = rule.values.tocoo()
        ok = np.isfinite(by[v.col]) & (v.data <= radius[v.row])
        first = np.full(len(demand), np.inf)
        np.minimum.at(first, v.row[ok], by[v.col[ok]])
        dem["covered_year"] = pd.array([int(f) if np.isfinite(f) else None for f in first], dtype="Int64")

    # tier of a station: the most demanding tier among the demand it serves (city > county > township)
    # (over all demand within its reach, not only the demand it is nearest to)
    rank = dem["tier"].map({"city": 0, "county": 1, "township": 2}).to_numpy()
    best = np.full(len(cands), 3)
    cc = sp.csr_array(b.cover).tocoo()
    o = x[cc.col] & (np.asarray(b.weight, float)[cc.row] > 0)
    np.minimum.at(best, cc.col[o], rank[cc.row[o]])
    np.minimum.at(best, pos[pos >= 0], rank[pos >= 0])
    tier_of_site = np.array(["city", "county", "township", "township"])[best]
    standing = b.plugs_standing()
    plugs = sz.plugs
    extra = np.where(existing, plugs - standing, plugs - p.min_plugs).clip(min=0)
    st = cands[x].copy()
    st["tier"] = tier_of_site[x]
    st["status"] = np.where(existing[x], "existing", "new")
    st["plugs"] = plugs[x].astype(int)
    st["plugs_added"] = np.where(existing, plugs - standing, plugs)[x].clip(min=0).astype(int)
    st["kw"] = plugs[x] * p.plug_kw
    st["energy_kwh_day"] = sz.site_energy[x]
    st["evs_served"] = sz.site_energy[x] / (p.kwh_per_ev_day * p.public_charging_share)
    st["cost_cny"] = (np.where(existing, 0.0, np.asarray(b.site_cost, float)) + extra * p.cost_per_extra_plug_cny)[x]
    cols = ["site_id", "tier", "status", "ctype", "name", "plugs", "plugs_added", "kw", "evs_served", "energy_kwh_day",
            "cost_cny", "county_adcode", "geometry"]
    if multi:
        st["phase_year"] = pd.array([None if v is None or v != v else int(v) for v in sz.build_year[x]],
                                    dtype="Int64")
        for c in sz.plugs_by_year.columns:
            st[c] = sz.plugs_by_year[c].to_numpy()[x].astype(int)
        cols = cols[:-1] + ["phase_year", *sz.plugs_by_year.columns] + ["geometry"]
    st = st[cols].reset_index(drop=True)

    counties, county_unmet = _compliance(prep.region, dem, st, prep.counties_idx, prep.county_evs,
                                         prep.min_sites_req, p)
    tcols = ["demand_id", "settlement_id", "name", "county_adcode", "weight_evs", "covered", "station_id", "distance_m",
             "source", "geometry"]
    if "own_charger" in dem:
        tcols.insert(tcols.index("covered") + 1, "own_charger")
    if multi:
        tcols.insert(-1, "covered_year")
    towns = dem[dem["tier"] == "township"][tcols].copy()
    towns.insert(tcols.index("source") + 1, "estimated", (towns["source"] == "estimated").to_numpy())
    cutoff = 2.0 * float(demand["radius_m"].max())
    within = in_reach[(dem["tier"] == "township").to_numpy()]
    if p.township_radius_min is None:
        reason = np.where(towns["distance_m"].notna(),
                          "nearest station " + towns["distance_m"].round(0).astype("Int64").astype(str) + " m > radius "
                          + f"{p.township_radius_km * 1000:.0f} m",
                          f"no station within {cutoff:.0f} m")
    else:
        reason = np.full(len(towns), f"no station within {p.township_radius_min:g} min of driving "
                                     "(public.township_radius_min)", dtype=object)
    reason = np.where(within, "no station of its own (the stations in reach belong to other townships)", reason)
    towns["unmet_reason"] = np.where(towns["covered"], "", reason)
    towns = towns.reset_index(drop=True)

    mode = p.mode
    fallback = p.mode == "min_cost" and sol.objective_kind == "max_service"
    if fallback:
        mode = "max_cover_fallback"
    unmet = (list(sol.notes) if fallback else []) + list(prep.unmet) + county_unmet
    notes = list(prep.notes) + ([] if fallback else list(sol.notes))
    kap = prep.plug_capacity_kwh_day
    notes.append(msg("public.sizing", kw=p.plug_kw, hours=p.hours_per_day, util=p.utilisation_target, kap=kap,
                     min_plugs=p.min_plugs, kwh=p.kwh_per_ev_day, share=p.public_charging_share))
    cm = prep.cost
    notes.append(msg("public.distances_screening", c=str(cm.meta.get("circuity"))) if cm.mode == "screening" else
                 msg("public.distances_graph", mode=msg("mode.network") if cm.mode == "network" else cm.mode))
    if mode == "min_cost" and p.township_full_coverage and not towns.loc[towns["source"] != "estimated", "covered"].all():
        raise SolverError("public: internal check failed: a township is uncovered in a min_cost plan",
                          ) from None
    notes.extend(unmet)
    timings = dict(prep.timings)
    timings["model"] = round(float(sol.seconds), 3)
    timings["sizing_tables"] = round(time.perf_counter() - t0, 3)
    gap = float(sol.gap) if np.isfinite(sol.gap) else float("nan")
    return PublicResult(
        stations=st, demand=dem, counties=counties, townships=towns, summary=_summary(dem, st), status=str(sol.status),
        objective=float(sol.objective), gap=gap, solver_seconds=float(sol.size.get("solve_s", sol.seconds)), mode=mode,
        unmet=unmet, timings=timings, notes=notes, candidates=cands, cost=cm, size=dict(sol.size))


def own_township_cover(dist: sp.csr_array, radius: np.ndarray, town_rows: np.ndarray) -> tuple[sp.csr_array, np.ndarray]:
    """Coverage with the own-charger rule: a township is covered only by the sites that belong to it.

    A site belongs to the nearest township seat (rows ``town_rows``) within that seat's radius
    (ties: the lower row). Township rows keep only their own sites; other rows keep every site
    within their radius. So a station between two seats counts for one of them, never both
    (the 2023 rural-charging policy asks for a charger in every township, 乡乡有桩).

    Parameters
    ----------
    dist
        Demand × site distances (CSR, metres; missing = beyond the cutoff).
    radius
        Per demand row, its service radius (m).
    town_rows
        Bool per demand row: a township seat the rule applies to.

    Returns
    -------
    (cover, own_town)
        Boolean CSR coverage and, per site, the township row it belongs to (-1: none).
    """
    v = dist.tocoo()
    keep = v.data <= radius[v.row]
    r, c, d = v.row[keep], v.col[keep], v.data[keep]
    t = town_rows[r]
    own_town = np.full(dist.shape[1], -1, dtype=np.int64)
    if t.any():
        order = np.lexsort((r[t], d[t], c[t]))  # by site, then distance, then row
        cs, rs = c[t][order], r[t][order]
        first = np.r_[True, cs[1:] != cs[:-1]]
        own_town[cs[first]] = rs[first]
    ok = ~t | (own_town[c] == r)
    cover = sp.csr_array((np.ones(int(ok.sum()), dtype=bool), (r[ok], c[ok])), shape=dist.shape)
    cover.sort_indices()
    return cover, own_town


def _check_sizing(prep: PublicPrepared, sz: _Sizing, covered: np.ndarray, p: Any) -> None:
    """The model's sizing against the chosen sites: covered demand fully assigned, capacity, plug minimum."""
    b = prep.block
    e = np.asarray(b.energy, float)
    got = sz.demand_energy
    if (got[~covered] > 1e-6).any():
        raise SolverError("public: internal check failed: energy assigned to demand out of reach of every station")
    need = covered & (e > 0)
    if need.any():
        scale = float(got[need].sum() / e[need].sum())  # σ of the last year (the same for every row)
        bad = np.abs(got[need] - scale * e[need]) > 1e-6 * np.maximum(1.0, scale * e[need])
        if scale <= 0 or bad.any():
            ids = np.asarray(b.demand_ids)[need][bad] if scale > 0 else np.asarray(b.demand_ids)[need]
            raise SolverError(f"public: internal check failed: covered demand {preview_ids(ids)} is not fully assigned "
                              "to open stations in reach")
    kap = float(b.plug_capacity)
    over = sz.site_energy > kap * sz.plugs * (1 + 1e-6) + 1e-6
    new_short = sz.open & ~np.asarray(b.existing, bool) & (sz.plugs < b.min_plugs)
    if over.any() or new_short.any():
        raise SolverError(f"public: internal check failed: stations {preview_ids(np.asarray(b.site_ids)[over | new_short])} "
                          "have fewer plugs than their energy or min_plugs needs")


# =========================================================================== one call
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
    """Plan the public charging tier of a region: :func:`prepare_public`, :func:`solve_public`, :func:`assess_public`.

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
    _check_mode(scenario.public)
    prep = prepare_public(region, scenario, network=network, pois=pois, existing_stations=existing_stations,
                          builtup=builtup, progress=progress)
    sol = solve_public(prep, scenario)
    if progress:
        progress("model", 1.0)
    res = assess_public(prep, sol, scenario)
    if progress:
        progress("sizing_tables", 1.0)
    return res


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
        row["plugs_added"] = int(s["plugs_added"].sum())
        row["plugs_existing"] = row["plugs"] - row["plugs_added"]
        row["kw"] = float(s["kw"].sum())
        row["evs_per_plug"] = county_evs[k] / row["plugs"] if row["plugs"] > 0 else np.nan
        row["plugs_per_1000_evs"] = 1000.0 * row["plugs"] / county_evs[k] if county_evs[k] > 0 else np.nan
        row["cost_cny"] = float(s["cost_cny"].sum())
        text = []
        miss = d[(d["tier"] == "township") & ~d["covered"] & (d["source"] != "estimated")]
        if len(miss) and p.township_full_coverage:
            what = "without a charger of their own" if p.township_own_charger else "uncovered"
            text.append(f"townships {what}: {len(miss)} ({preview_ids(miss['name'], 5)})")
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


# =========================================================================== the Tier
#: County table columns of the report (headers in :data:`gzcharge.export.i18n.COLUMNS`).
_COUNTY_COLUMNS = {
    "adcode": "县代码 adcode",
    "name": "县 county",
    "evs": "EVs",
    "stations": "stations",
    "stations_new": "new",
    "stations_existing": "existing",
    "plugs": "plugs",
    "plugs_added": "plugs added",
    "evs_per_plug": "EVs / plug",
    "city_coverage_pct": "city core %",
    "county_coverage_pct": "county seat %",
    "township_coverage_pct": "township %",
    "townships_covered": "townships covered",
    "townships_total": "townships",
    "plugs_per_1000_evs": "plugs / 1,000 EVs",
    "cost_cny": "cost (CNY)",
    "unmet_targets": "unmet targets",
}


class PublicTier(Tier):
    """The public charging tier (市、县、乡三级) behind the :class:`~gzcharge.tiers.base.Tier` interface."""

    name = "public"
    title = "Public charging (市、县、乡三级)"
    site_sharing = 2
    uses_settlements = True

    def prepare(self, ctx: PlanContext) -> Prepared:
        from gzcharge.candidates import read_existing_stations

        ctx.region.require_census("every public-charging demand (EVs from census households)")
        inp = ctx.inputs
        rules = ctx.memo("site_rules", inp.site_rules)
        existing = read_existing_stations(inp.existing_stations, crs=inp.existing_crs or inp.crs) \
            if inp.existing_stations else None
        prep = prepare_public(ctx.region, ctx.scenario, network=ctx.distance_network, pois=ctx.pois,
                              existing_stations=existing, builtup=ctx.builtup,
                              user_sites=rules.for_tier("public") if rules is not None else None)
        return Prepared(self.name, block=prep.block, sites=prep.sites, data=prep, notes=list(prep.notes))

    def solve(self, ctx: PlanContext, prep: Prepared) -> Any:
        s = ctx.scenario.solver
        return solve_public(prep.data, ctx.scenario, time_limit_s=s.time_limit_s, mip_rel_gap=s.mip_rel_gap,
                            threads=s.threads)

    def assess(self, ctx: PlanContext, prep: Prepared, sol: Any) -> TierResult:
        res = assess_public(prep.data, sol, ctx.scenario)
        st = res.stations
        evs = float(res.counties["evs"].sum()) if len(res.counties) else 0.0
        plugs = int(st["plugs"].sum())
        summary = [("public stations", f"{len(st)} ({int((st['status'] == 'new').sum())} new)"),
                   ("public plugs", f"{plugs} ({int(st['plugs_added'].sum())} added)"),
                   ("EVs per public plug", f"{evs / plugs:.1f} (China end 2025: 9.3)" if plugs else "–"),
                   ("public cost (CNY)", f"{float(st['cost_cny'].sum()):,.0f}"),
                   ("public solver", f"{res.mode}: {res.status}, gap {res.gap:.3%}")]
        meta = {"mode": res.mode, "unmet": " | ".join(res.unmet)}
        return TierResult(tier=self.name, title=self.title, status=status_of(res.status), objective=res.objective,
                          gap=res.gap, seconds=res.solver_seconds,
                          layers={"counties": res.counties, "townships": res.townships, "demand_points": res.demand,
                                  "public_stations": st},
                          summary=summary, sections=_sections(ctx, res), metadata=meta, notes=list(res.notes), raw=res,
                          unmet=list(res.unmet) if res.mode == "min_cost" or res.mode == "max_cover_fallback" else [])


def reality_check(pub: PublicResult, scenario: Any) -> pd.DataFrame:
    """The plan against published figures (:data:`gzcharge.facts.FACTS`): one row per indicator.

    Columns ``indicator, plan, reference, source``; the plan's values count existing and new
    stations alike (the network the region would have). Every text cell is a message of
    :data:`gzcharge.export.i18n.MESSAGES` (``reality.*``, sources ``fact.source``), so the report
    shows the table in its own language; numbers are plain strings.
    """
    from gzcharge.facts import FACTS

    st, tw = pub.stations, pub.townships
    evs = float(pub.counties["evs"].sum()) if len(pub.counties) else 0.0
    plugs = int(st["plugs"].sum()) if len(st) else 0
    kw = float(st["kw"].sum()) if len(st) else 0.0
    n_st = len(st)
    n_new = int((st["status"] == "new").sum()) if len(st) else 0
    added = int(st["plugs_added"].sum()) if len(st) else 0
    real = tw[tw["source"] != "estimated"] if len(tw) else tw
    own = int(real["own_charger" if "own_charger" in real else "covered"].sum()) if len(real) else 0
    f = FACTS
    year = scenario.ev.year
    none = msg("reality.none")

    def ratio(a: float, b: float, fmt: str = "{:,.1f}") -> Any:
        return fmt.format(a / b) if b > 0 else none

    def src(*keys: str) -> Any:
        return msg("reality.sources", items=[msg("fact.source", fact=f[k]) for k in keys])

    rows = [
        (msg("reality.nevs", year=year), f"{evs:,.0f}",
         msg("reality.nevs_ref", stock=scenario.ev.stock(year), year=year, target=f["gz_nev_target_2026"].value,
             s22=f["gz_nev_stock_2022"].value),
         src("gz_nev_target_2026", "gz_nev_stock_2022")),
        (msg("reality.evs_per_plug"), ratio(evs, plugs),
         msg("reality.evs_per_plug_ref", a=f["cn_evs_per_public_charger_2025"].value,
             b=f["cn_evs_per_public_charger_2024"].value),
         src("cn_evs_per_public_charger_2025", "cn_evs_per_public_charger_2024")),
        (msg("reality.plugs_per_1000"), ratio(1000.0 * plugs, evs),
         msg("reality.plugs_per_1000_ref", v=1000.0 / f["cn_evs_per_public_charger_2025"].value),
         src("cn_evs_per_public_charger_2025")),
        (msg("reality.kw_per_plug"), ratio(kw, plugs),
         msg("reality.kw_per_plug_ref", v=f["cn_public_kw_per_charger_2025"].value), src("cn_public_kw_per_charger_2025")),
        (msg("reality.evs_per_station"), ratio(evs, n_st, "{:,.0f}"),
         msg("reality.evs_per_station_ref", norm=f["cn_evs_per_public_station_norm"].value,
             own=scenario.public.evs_per_station), src("cn_evs_per_public_station_norm")),
        (msg("reality.own_charger"), msg("reality.own_charger_value", own=own, n=len(real)) if len(real)
         else msg("reality.no_townships"),
         msg("reality.own_charger_ref", n=f["gz_townships_with_chargers_2023"].value),
         src("gz_townships_with_chargers_2023")),
        (msg("reality.stations_per_township"), ratio(n_st, len(real)) if len(real) else none, none, none),
        (msg("reality.stations_kept_new"), f"{n_st - n_new:,} / {n_new:,}", none, msg("reality.existing_file")),
        (msg("reality.plugs_kept_added"), f"{plugs - added:,} / {added:,}", none, msg("reality.existing_file")),
    ]
    return pd.DataFrame(rows, columns=["indicator", "plan", "reference", "source"])


def _unmet_messages(pub: PublicResult, p: Any) -> list[Any]:
    """The unmet targets per county as report messages (the same rules as ``unmet_targets``)."""
    c = pub.counties
    need = {"adcode", "name", "coverage_pct", "stations", "stations_required"}
    if not need <= set(c.columns):
        return list(pub.unmet)
    dem = pub.demand
    if not {"county_adcode", "tier", "covered", "name"} <= set(dem.columns):
        return list(pub.unmet)
    by_code: dict[str, Any] = {}
    for row in c.itertuples(index=False):
        items: list[Any] = []
        d = dem[dem["county_adcode"].astype(str) == str(row.adcode)]
        miss = d[(d["tier"] == "township") & ~d["covered"].astype(bool)
                 & (d["source"] != "estimated" if "source" in d.columns else True)]
        if len(miss) and p.township_full_coverage:
            what = msg("public.what_own" if getattr(p, "township_own_charger", False) else "public.what_uncovered")
            items.append(msg("public.unmet_townships", what=what, n=len(miss), names=preview_ids(miss["name"], 5)))
        if row.coverage_pct == row.coverage_pct and row.coverage_pct < 100 * p.min_county_coverage - 1e-6:
            items.append(msg("public.unmet_coverage", pct=row.coverage_pct, target_pct=100 * p.min_county_coverage))
        if row.stations < row.stations_required:
            items.append(msg("public.unmet_stations", n=row.stations, req=row.stations_required,
                             per=p.evs_per_station))
        if items:
            by_code[f"{row.adcode} {row.name}: "] = msg("public.unmet_county", code=row.adcode, name=row.name,
                                                        items=items)
    # the tier's own lines, in order; the per-county ones as messages, others (e.g. the budget) as written
    return [next((m for prefix, m in by_code.items() if u.startswith(prefix)), u) for u in pub.unmet]


def _sections(ctx: PlanContext, pub: PublicResult) -> list[tuple[str, Any]]:
    sc = ctx.scenario
    p = sc.public
    mode = "network" if ctx.distance_network is not None else "screening"
    sections: list[tuple[str, Any]] = []
    rules: list[Any] = [
        msg("public.mode", mode=pub.mode, status=pub.status, gap=pub.gap),
        msg("public.radius", city=p.city_core_radius_km, county=p.county_seat_radius_km, township=p.township_radius_km,
            mode=msg(f"mode.{mode}"), circuity=msg("public.circuity", c=sc.distance.circuity) if mode == "screening"
            else ""),
        *([msg("public.radius_min", items=", ".join(f"{k} = {v:g}" for k, v in p.minute_radius_keys().items()))]
          if p.minute_radius_keys() else []),
        msg("public.targets", full=msg("yes" if p.township_full_coverage else "no"), cov=p.min_county_coverage,
            per=p.evs_per_station),
        msg("public.ev_stock", year=sc.ev.year, stock=sc.ev.stock(sc.ev.year)),
    ]
    if p.budget_cny is not None or p.max_stations is not None:
        rules.append(msg("public.budget", budget=f"{p.budget_cny:,.0f} CNY" if p.budget_cny is not None else "–",
                         limit=p.max_stations or "–"))
    sections.append(("Public charging (市、县、乡三级): rules", rules))
    sections.append(("Reality check: the plan against published figures", reality_check(pub, sc)))
    sections.append(("Public charging: result by tier", pub.summary))
    cols = [c for c in _COUNTY_COLUMNS if c in pub.counties.columns]
    sections.append(("Public charging: county compliance", pd.DataFrame(pub.counties[cols])))
    sections.append(("Unmet targets", _unmet_messages(pub, p) if pub.unmet else msg("public.all_met")))
    tw = pub.townships
    if len(tw):
        unc = tw.loc[~tw["covered"].astype(bool)]
        sections.append(("Townships", msg("public.townships", covered=int(tw["covered"].astype(bool).sum()),
                                          total=len(tw), radius=p.township_radius_km,
                                          source=ctx.region.township_source or msg("public.estimated_lattice"))))
        if len(unc):
            cols = [c for c in ("name", "county_adcode", "station_id", "distance_m", "unmet_reason") if c in unc.columns]
            sections.append(("Townships not covered", pd.DataFrame(unc[cols])))
    return sections
