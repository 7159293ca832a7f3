r"""Battery-swap tier (换电): fleet demand, capacitated station siting, sizing.

The plan promotes battery swapping for fleets (大力推广换电模式): taxis and ride-hailing
cars, buses, urban logistics vans, sanitation trucks, mine and short-haul heavy trucks.
:func:`plan_swap` turns a region, :class:`SwapParams` and (optionally) a fleet file into
swap stations:

1. **Fleet demand.** From a fleet file (:func:`read_fleet_file`; one row per fleet: type,
   vehicles, daily swaps per vehicle, and a depot position or an operating county/city) or,
   without one, from documented per-type defaults scaled by the 2020 census urban population
   of each county (:func:`default_fleets`). A fleet with a depot is one demand point at the
   depot; a fleet given only by county (or city = prefecture) is spread over the urban area
   (:func:`fleet_demand_points`).
2. **Candidate sites** (default: the demand points' positions and the county seats) and a
   demand × site distance matrix (default: straight line × circuity in the region's metric
   CRS, :func:`gzcharge.distances.screening_costs`, cut at the longest service distance).
3. **The capacitated model** below, solved with HiGHS (:func:`gzcharge.solve.solve`).
4. Stations sized (battery packs for the swaps served) and reported by id.

Model
-----
Every fleet type uses one *station type* ``k`` (car, bus or heavy truck: their batteries
differ, so their stations do). A *facility* ``f = (j, k)`` is station type ``k`` at site
``j``; demand point ``i`` (``d_i`` swaps/day, type ``k(i)``, service distance ``R_i``) may be
served by facility ``(j, k(i))`` when ``dist(i, j) <= R_i`` (arc ``e = (i, f)`` with length
``l_e`` km). Station type ``k`` swaps at most ``Q_k`` batteries a day and costs ``F_k``; up
to ``M_k`` stations of a type may stand at one site.

Variables: ``n_f ∈ {0, …, M_k}`` stations of type ``k`` at site ``j``; ``x_e ≥ 0`` swaps/day
of demand ``i`` served at ``f`` (a depot's vehicles may use several stations).

``min_cost`` (serve every swap at least cost)::

    min  Σ_f F_k n_f + a Σ_e l_e x_e
    s.t. Σ_{e ∋ i} x_e = d_i                  every demand point fully served
         Σ_{e ∋ f} x_e <= Q_k n_f             station capacity
         x_e <= d_i n_f                        strong linking (tightens the LP bound)

``max_served`` (most swaps under ``budget_cny``)::

    max  Σ_e x_e − ε (Σ_f F_k n_f + a Σ_e l_e x_e)
    s.t. Σ_{e ∋ i} x_e <= d_i ;  capacity and linking as above ;  Σ_f F_k n_f <= B

``a = 2 × deadhead_cny_per_km × horizon_days`` turns one swap/day travelling ``l`` km (one
way; the vehicle comes back) into CNY over the evaluation horizon, so station cost and
access cost are in the same unit. ``ε`` is chosen so that the whole cost term is worth
less than one swap/day: the served volume is maximised first, cost breaks ties.

With ``M_k = 1`` the ``min_cost`` model is the split-demand capacitated facility-location
problem of :func:`gzcharge.locate.median.p_median` (``capacity=``, ``site_cost=``,
``single_source=False``); the tests check both give the same optimum.

Sizing (stated assumption): a battery pack is charged and swapped out
``battery_turns_per_day`` times a day, so the packs a site needs are
``ceil(swaps_served × (1 + battery_reserve_share) / battery_turns_per_day)``, and never fewer
than the standard stock ``battery_stock`` per station.
"""

from __future__ import annotations

import logging
import math
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gzcharge._util import preview_ids
from gzcharge.errors import DataError, InfeasibleError
from gzcharge.scenario.swap import FleetTypeParams, StationTypeParams, SwapParams

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from gzcharge.distances import CostMatrix
    from gzcharge.region import Region

logger = logging.getLogger(__name__)

__all__ = [
    "FleetTypeParams",
    "StationTypeParams",
    "SwapParams",
    "SwapModelInputs",
    "SwapResult",
    "default_fleets",
    "fleet_demand_points",
    "plan_swap",
    "read_fleet_file",
    "solve_swap",
    "swap_model_data",
]


#: Fleet-type names accepted in fleet files besides the parameter keys.
FLEET_ALIASES = {
    "出租车": "taxi", "网约车": "taxi", "ride_hailing": "taxi", "ride-hailing": "taxi", "taxis": "taxi",
    "公交": "bus", "公交车": "bus", "buses": "bus",
    "物流": "logistics", "物流车": "logistics", "logistics_van": "logistics", "van": "logistics",
    "环卫": "sanitation", "环卫车": "sanitation",
    "矿卡": "mine_truck", "重卡": "mine_truck", "短倒重卡": "mine_truck", "heavy_truck": "mine_truck",
    "mine": "mine_truck", "truck": "mine_truck",
}


# =========================================================================== fleets
_FLEET_COLUMNS = ("fleet_id", "fleet_type", "vehicles", "swaps_per_vehicle_day", "lon", "lat", "county", "city",
                  "name")
_COLUMN_ALIASES = {
    "type": "fleet_type", "daily_swaps_per_vehicle": "swaps_per_vehicle_day", "swaps_per_vehicle": "swaps_per_vehicle_day",
    "id": "fleet_id", "adcode": "county", "county_adcode": "county", "prefecture": "city", "lng": "lon",
    "longitude": "lon", "latitude": "lat",
}


def read_fleet_file(path: str | Path, params: SwapParams | None = None) -> pd.DataFrame:
    """Read a fleet file (CSV or TOML) into a validated table.

    CSV: a header line and one fleet per line. TOML: an array of tables ``[[fleet]]``.
    Fields (case-insensitive): ``fleet_type`` (required; a key of ``params.fleets`` or an
    alias such as 出租车/公交/物流/环卫/矿卡), ``vehicles`` (required, > 0),
    ``swaps_per_vehicle_day`` (optional; default by type), ``fleet_id`` and ``name``
    (optional), and where the fleet operates: ``lon`` + ``lat`` (its depot, WGS-84), or
    ``county`` (adcode or Chinese name), or ``city`` (prefecture adcode or name). Vehicles are
    read as vehicles that swap (no electrification share is applied).

    Returns
    -------
    pandas.DataFrame
        ``fleet_id, fleet_type, vehicles, swaps_per_vehicle_day, swaps_day, lon, lat, county,
        city, name, where`` (``where`` = "line 3" / "fleet[2]" for later messages).

    Raises
    ------
    DataError
        Missing file, unreadable format, missing or bad fields — naming the file, the row
        and the field.
    """
    params = params or SwapParams()
    p = Path(path)
    if not p.exists():
        raise DataError(f"fleet file {p} does not exist; give a CSV or TOML fleet file")
    suffix = p.suffix.lower()
    if suffix == ".toml":
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"fleet file {p}: not valid TOML ({exc})") from None
        unknown = sorted(set(data) - {"fleet"})
        if unknown:
            raise DataError(f"fleet file {p}: unknown top-level key(s) {unknown}; write fleets as [[fleet]] tables")
        rows = data.get("fleet", [])
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise DataError(f"fleet file {p}: 'fleet' must be an array of tables ([[fleet]])")
        records = [{str(k).strip().lower(): v for k, v in r.items()} for r in rows]
        wheres = [f"fleet[{i + 1}]" for i in range(len(records))]
    elif suffix in (".csv", ".txt"):
        try:
            df = pd.read_csv(p, encoding="utf-8-sig", dtype=str, keep_default_na=False, skipinitialspace=True)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"fleet file {p}: cannot read as CSV ({exc})") from None
        df.columns = [str(c).strip().lower() for c in df.columns]
        records = df.to_dict("records")
        wheres = [f"line {i + 2}" for i in range(len(records))]
    else:
        raise DataError(f"fleet file {p}: unknown format {suffix!r}; use .csv or .toml")
    if not records:
        raise DataError(f"fleet file {p} holds no fleets")

    out = []
    seen_ids: dict[str, str] = {}
    for rec, where in zip(records, wheres, strict=True):
        rec = {_COLUMN_ALIASES.get(k, k): v for k, v in rec.items()}
        unknown = sorted(set(rec) - set(_FLEET_COLUMNS))
        if unknown:
            raise DataError(f"fleet file {p} {where}: unknown field(s) {unknown}; known fields: {list(_FLEET_COLUMNS)}")
        rec = {k: (v.strip() if isinstance(v, str) else v) for k, v in rec.items()}
        rec = {k: v for k, v in rec.items() if v is not None and v != ""}
        ftype = rec.get("fleet_type")
        if ftype is None:
            raise DataError(f"fleet file {p} {where}: field 'fleet_type' is missing; one of {sorted(params.fleets)}")
        key = str(ftype).strip()
        key = key if key in params.fleets else FLEET_ALIASES.get(key.lower(), FLEET_ALIASES.get(key, key))
        if key not in params.fleets:
            raise DataError(
                f"fleet file {p} {where}: fleet_type {ftype!r} is unknown; use one of {sorted(params.fleets)} "
                f"(or 出租车/公交/物流/环卫/矿卡)"
            )
        vehicles = _number(rec.get("vehicles"), p, where, "vehicles", "a number of vehicles > 0", positive=True)
        spv = rec.get("swaps_per_vehicle_day")
        spv_f = (params.fleets[key].swaps_per_vehicle_day if spv is None else
                 _number(spv, p, where, "swaps_per_vehicle_day", "swaps per vehicle and day > 0", positive=True))
        has_lon, has_lat = "lon" in rec, "lat" in rec
        if has_lon != has_lat:
            raise DataError(f"fleet file {p} {where}: give both lon and lat of the depot, or neither")
        lon = lat = np.nan
        if has_lon:
            lon = _number(rec["lon"], p, where, "lon", "a WGS-84 longitude in degrees")
            lat = _number(rec["lat"], p, where, "lat", "a WGS-84 latitude in degrees")
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise DataError(f"fleet file {p} {where}: lon/lat {lon}, {lat} are not degrees (WGS-84)")
        county = str(rec["county"]) if "county" in rec else None
        city = str(rec["city"]) if "city" in rec else None
        if not has_lon and county is None and city is None:
            raise DataError(
                f"fleet file {p} {where}: say where the fleet operates: depot lon+lat, or county (adcode/name), or city"
            )
        fid = str(rec.get("fleet_id", f"F{len(out) + 1:03d}"))
        if fid in seen_ids:
            raise DataError(f"fleet file {p} {where}: fleet_id {fid!r} already used at {seen_ids[fid]}")
        seen_ids[fid] = where
        out.append({"fleet_id": fid, "fleet_type": key, "vehicles": vehicles, "swaps_per_vehicle_day": spv_f,
                    "swaps_day": vehicles * spv_f, "lon": lon, "lat": lat, "county": county, "city": city,
                    "name": str(rec.get("name", fid)), "where": f"{p.name} {where}"})
    return pd.DataFrame(out)


def _number(v: Any, path: Path, where: str, fieldname: str, what: str, *, positive: bool = False) -> float:
    if v is None or v == "":
        raise DataError(f"fleet file {path} {where}: field {fieldname!r} is missing; give {what}")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise DataError(f"fleet file {path} {where}: {fieldname} {v!r} is not a number; give {what}") from None
    if not math.isfinite(x) or (positive and x <= 0):
        raise DataError(f"fleet file {path} {where}: {fieldname} {v!r} is not valid; give {what}")
    return x


def default_fleets(region: Region, params: SwapParams) -> pd.DataFrame:
    """Fleets per county from the per-type defaults (no fleet file).

    ``vehicles = pop_urban / 10,000 × per_10k_urban × electrified_share × swap_share`` per
    county and fleet type (counties without a census urban population get none).
    """
    c = region.counties
    urban = pd.to_numeric(c["pop_urban"], errors="coerce").fillna(0.0).to_numpy(float)
    rows = []
    county_name = dict(zip(c["adcode"].astype(str), c["name"].astype(str), strict=True))
    for key, f in params.fleets.items():
        veh = urban / 1e4 * f.per_10k_urban * f.electrified_share * f.swap_share
        for code, v in zip(c["adcode"].astype(str), veh, strict=True):
            if v > 0:
                rows.append({"fleet_id": f"{code}-{key}", "fleet_type": key, "vehicles": float(v),
                             "swaps_per_vehicle_day": f.swaps_per_vehicle_day, "swaps_day": float(v) * f.swaps_per_vehicle_day,
                             "lon": np.nan, "lat": np.nan, "county": code, "city": None,
                             "name": f"{county_name.get(code, code)} {f.label}", "where": "default fleets"})
    cols = ["fleet_id", "fleet_type", "vehicles", "swaps_per_vehicle_day", "swaps_day", "lon", "lat", "county",
            "city", "name", "where"]
    return pd.DataFrame(rows, columns=cols)


def _ring_offsets(n_points: int) -> np.ndarray:
    """Unit-disc offsets: centre plus rings of 6 (equal-area rings), shape (n, 2)."""
    pts = [(0.0, 0.0)]
    rings = (n_points - 1) // 6
    for r in range(1, rings + 1):
        rad = math.sqrt((r + 0.5) / (rings + 1))  # mid-radius of an equal-area annulus (approx.)
        rad = min(rad, 1.0)
        for k in range(6):
            ang = 2 * math.pi * k / 6 + (math.pi / 6) * (r % 2)
            pts.append((rad * math.cos(ang), rad * math.sin(ang)))
    return np.array(pts)


def fleet_demand_points(region: Region, fleets: pd.DataFrame, params: SwapParams) -> gpd.GeoDataFrame:
    """Demand points (EPSG:4326) for fleets: depots as they are, county/city fleets spread.

    A county fleet is placed on the urban disc around the county seat: area
    ``pop_urban / urban_density_per_km2``, radius ``r = sqrt(area / π)``. When ``r`` is at most
    half the fleet's service distance, one point at the seat takes all swaps; otherwise
    ``urban_points`` points (centre + rings) share them equally. A city fleet is split over the
    prefecture's counties in the region by urban population, then placed as county fleets.
    A county fleet whose swaps fit into one station of its type stays at one point (a small
    fleet uses one station, as it would from one depot).

    Raises
    ------
    DataError
        A depot outside the region, or a county/city that is not in the region (naming the
        fleet file row).
    """
    import geopandas as gpd
    import shapely

    counties = region.counties.copy()
    counties["adcode"] = counties["adcode"].astype(str)
    seats = region.settlements[region.settlements["kind"].isin(["county_seat", "prefecture_seat"])]
    seat_of = {}
    for code, geom, kind in zip(seats["county_adcode"].astype(str), seats.geometry, seats["kind"], strict=True):
        if kind == "county_seat" or code not in seat_of:
            seat_of[code] = geom
    name_to_code = {}
    for code, name in zip(counties["adcode"], counties["name"].astype(str), strict=True):
        name_to_code[name] = code
    pref_codes = counties["prefecture_adcode"].astype(str) if "prefecture_adcode" in counties else pd.Series(
        [""] * len(counties))
    pref_names = counties["prefecture"].astype(str) if "prefecture" in counties else pd.Series([""] * len(counties))
    urban = dict(zip(counties["adcode"], pd.to_numeric(counties["pop_urban"], errors="coerce").fillna(0.0), strict=True))
    metric = region.metric_crs
    boundary = region.boundary

    recs: list[dict] = []
    outside: list[str] = []

    def add_county(fl: dict, code: str, swaps: float, vehicles: float) -> None:
        geom = seat_of.get(code)
        if geom is None:
            poly = counties.loc[counties["adcode"] == code].geometry.iloc[0]
            geom = poly.representative_point()
        u = float(urban.get(code, 0.0))
        radius_km = math.sqrt(u / params.urban_density_per_km2 / math.pi) if u > 0 else 0.0
        ft = params.fleets[fl["fleet_type"]]
        one_station = params.station_types[ft.station_type].capacity_swaps_day
        n = 1 if (radius_km <= ft.service_km / 2 or swaps <= one_station) else params.urban_points
        offs = _ring_offsets(n) * radius_km * 1000.0
        c = gpd.GeoSeries([geom], crs="EPSG:4326").to_crs(metric).iloc[0]
        pts = gpd.GeoSeries(shapely.points(c.x + offs[:, 0], c.y + offs[:, 1]), crs=metric).to_crs("EPSG:4326")
        for k, pt in enumerate(pts):
            if fl.get("_split"):
                did = f"{fl['fleet_id']}:{code}" + (f":{k}" if n > 1 else "")
            else:
                did = f"{fl['fleet_id']}" + (f":{k}" if n > 1 else "")
            recs.append({**fl, "demand_id": did, "county_adcode": code, "swaps_day": swaps / n,
                         "vehicles": vehicles / n, "geometry": pt})

    for fl in fleets.to_dict("records"):
        if pd.notna(fl.get("lon")):
            pt = shapely.Point(float(fl["lon"]), float(fl["lat"]))
            if not boundary.covers(pt):
                outside.append(f"{fl['where']} ({fl['fleet_id']} at {fl['lon']:.4f}, {fl['lat']:.4f})")
                continue
            hit = counties.loc[counties.geometry.covers(pt), "adcode"]
            recs.append({**fl, "demand_id": fl["fleet_id"], "county_adcode": hit.iloc[0] if len(hit) else None,
                         "geometry": pt})
            continue
        if fl.get("county"):
            code = str(fl["county"])
            code = code if code in urban else name_to_code.get(code, code)
            if code not in urban:
                raise DataError(
                    f"{fl['where']}: county {fl['county']!r} is not in region {region.name}; give an adcode or name "
                    f"of one of its counties ({preview_ids(counties['name'].tolist(), 6)})"
                )
            add_county(fl, code, float(fl["swaps_day"]), float(fl["vehicles"]))
            continue
        city = str(fl["city"])
        members = counties["adcode"][(pref_codes == city).to_numpy() | (pref_names == city).to_numpy()].tolist()
        if not members and city in (region.code, region.name):
            members = counties["adcode"].tolist()
        if not members:
            raise DataError(f"{fl['where']}: city {city!r} is not a prefecture of region {region.name}")
        u = np.array([urban[m] for m in members], dtype=float)
        share = u / u.sum() if u.sum() > 0 else np.full(len(members), 1.0 / len(members))
        for code, s in zip(members, share, strict=True):
            if s > 0:
                add_county({**fl, "_split": True}, code, float(fl["swaps_day"]) * s, float(fl["vehicles"]) * s)
    if outside:
        raise DataError(
            f"{len(outside)} fleet depot(s) lie outside region {region.name}: {preview_ids(outside, 5)}; "
            "fix their lon/lat (WGS-84) or plan a region that contains them"
        )
    cols = ["demand_id", "fleet_id", "fleet_type", "name", "vehicles", "swaps_day", "county_adcode", "geometry"]
    gdf = gpd.GeoDataFrame([{k: r.get(k) for k in cols} for r in recs], columns=cols, geometry="geometry",
                           crs="EPSG:4326")
    if not gdf["demand_id"].is_unique:
        dup = gdf.loc[gdf["demand_id"].duplicated(), "demand_id"].tolist()
        raise DataError(f"duplicate fleet demand ids {preview_ids(dup)}; give each fleet a unique fleet_id")
    return gdf


def default_swap_candidates(region: Region, demand: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Candidate sites: the county/prefecture seats plus every other distinct demand position.

    Ids ``SW-0001, …`` in that order; names are the seat names or ``"<county> 换电候选点 (<demand id>)"``.
    """
    import geopandas as gpd

    seats = region.settlements[region.settlements["kind"].isin(["county_seat", "prefecture_seat"])]
    g = pd.concat([seats.geometry, demand.geometry], ignore_index=True)
    # a site at a demand position is named by its county, not by the fleet whose depot it is (several
    # fleets share a position and the station may serve any of them)
    county_name = dict(zip(region.counties["adcode"].astype(str), region.counties["name"].astype(str), strict=True))
    where = demand["county_adcode"].astype(str).map(county_name).fillna(demand["county_adcode"].astype(str)) \
        if "county_adcode" in demand.columns else demand["name"].astype(str)
    names = seats["name"].astype(str).tolist() + [f"{w} 换电候选点 ({i})" for w, i in zip(where, demand["demand_id"],
                                                                                       strict=True)]
    key = [f"{p.x:.5f},{p.y:.5f}" for p in g]
    keep = ~pd.Index(key).duplicated()
    gdf = gpd.GeoDataFrame({"name": np.array(names, dtype=object)[keep]}, geometry=list(g[keep]), crs="EPSG:4326")
    gdf.insert(0, "site_id", [f"SW-{i + 1:04d}" for i in range(len(gdf))])
    return gdf


# =========================================================================== numeric model
@dataclass
class SwapModelData:
    """Arrays of the swap model (positions; ids kept alongside).

    Attributes
    ----------
    demand_ids, site_ids
        Ids of demand rows and candidate sites.
    swaps
        ``d_i`` swaps/day per demand row.
    dtype_of
        Station-type position of each demand row.
    type_names
        Station-type names; ``capacity``, ``unit_cost``, ``max_per_site`` per type.
    dist_km
        Sparse demand × site matrix of the allowed arcs (distance within the row's service
        distance; explicit zeros kept).
    """

    demand_ids: pd.Index
    site_ids: pd.Index
    swaps: np.ndarray
    dtype_of: np.ndarray
    type_names: list[str]
    capacity: np.ndarray
    unit_cost: np.ndarray
    max_per_site: np.ndarray
    dist_km: sp.csr_array
    access_rate: float = 0.0
    budget: float | None = None
    objective: str = "min_cost"
    # derived
    arc_row: np.ndarray = field(default=None)  # type: ignore[assignment]
    arc_site: np.ndarray = field(default=None)  # type: ignore[assignment]
    arc_len: np.ndarray = field(default=None)  # type: ignore[assignment]
    arc_fac: np.ndarray = field(default=None)  # type: ignore[assignment]
    fac_site: np.ndarray = field(default=None)  # type: ignore[assignment]
    fac_type: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        v = self.dist_km
        self.arc_row = np.repeat(np.arange(v.shape[0]), np.diff(v.indptr))
        self.arc_site = v.indices.astype(np.int64)
        self.arc_len = v.data.astype(float)
        k = self.dtype_of[self.arc_row]
        key = self.arc_site * len(self.type_names) + k
        uniq, inv = np.unique(key, return_inverse=True)
        self.fac_site = uniq // len(self.type_names)
        self.fac_type = uniq % len(self.type_names)
        self.arc_fac = inv.astype(np.int64)


def _define_stations(model: Any, d: SwapModelData) -> None:
    """Integer station count per facility (site × station type), 0 … max_per_site."""
    import pyomo.environ as pyo

    nf = len(d.fac_site)
    ub = d.max_per_site[d.fac_type].tolist()
    model.F = pyo.RangeSet(0, nf - 1)
    model.n = pyo.Var(model.F, domain=pyo.NonNegativeIntegers, bounds=lambda _m, f: (0, ub[f]))


def _define_type_capacity(model: Any, d: SwapModelData) -> None:
    """Σ_{f of type k} Q_k n_f >= Σ_{i of type k} d_i per station type (min_cost only).

    A valid aggregate cut (all swaps of a type must fit into that type's stations) that
    tightens the LP bound of capacitated location.
    """
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    if d.objective != "min_cost":
        return
    need = np.bincount(d.dtype_of, weights=d.swaps, minlength=len(d.type_names))
    ks = [k for k in range(len(d.type_names)) if need[k] > 0]
    facs = [np.flatnonzero(d.fac_type == k).tolist() for k in range(len(d.type_names))]

    def rule(_m: Any, k: int) -> Any:
        return (float(need[k]), LinearExpression(constant=0, linear_coefs=[float(d.capacity[k])] * len(facs[k]),
                                                 linear_vars=[model.n[f] for f in facs[k]]), None)

    model.type_capacity = pyo.Constraint(ks, rule=rule)


def _define_flows(model: Any, d: SwapModelData) -> None:
    """Swaps/day on every allowed arc (demand point → facility)."""
    import pyomo.environ as pyo

    model.E = pyo.RangeSet(0, len(d.arc_row) - 1)
    model.x = pyo.Var(model.E, domain=pyo.NonNegativeReals)


def _define_demand(model: Any, d: SwapModelData) -> None:
    """Σ_e x_e = d_i (min_cost) or <= d_i (max_served) per demand row."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    ip = d.dist_km.indptr.tolist()
    xs = [model.x[e] for e in range(len(d.arc_row))]
    sw = d.swaps.tolist()
    lo_eq = d.objective == "min_cost"

    def rule(_m: Any, i: int) -> Any:
        expr = LinearExpression(constant=0, linear_coefs=[1.0] * (ip[i + 1] - ip[i]), linear_vars=xs[ip[i]:ip[i + 1]])
        return (sw[i] if lo_eq else None, expr, sw[i])

    model.I = pyo.RangeSet(0, len(d.swaps) - 1)
    model.demand = pyo.Constraint(model.I, rule=rule)


def _define_capacity(model: Any, d: SwapModelData) -> None:
    """Σ_{e ∋ f} x_e − Q_k n_f <= 0 per facility."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    order = np.argsort(d.arc_fac, kind="stable")
    ptr = np.r_[0, np.cumsum(np.bincount(d.arc_fac, minlength=len(d.fac_site)))].tolist()
    ol = order.tolist()
    cap = d.capacity[d.fac_type].tolist()

    def rule(_m: Any, f: int) -> Any:
        lv = [model.x[e] for e in ol[ptr[f]:ptr[f + 1]]] + [model.n[f]]
        co = [1.0] * (ptr[f + 1] - ptr[f]) + [-float(cap[f])]
        return (None, LinearExpression(constant=0, linear_coefs=co, linear_vars=lv), 0.0)

    model.capacity = pyo.Constraint(model.F, rule=rule)


def _define_linking(model: Any, d: SwapModelData) -> None:
    """x_e − min(d_i, Q_k M_k) n_f <= 0 (valid: flow only where a station stands; tightens the LP)."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    big = np.minimum(d.swaps[d.arc_row], (d.capacity * d.max_per_site)[d.fac_type[d.arc_fac]]).tolist()
    fac = d.arc_fac.tolist()
    model.link = pyo.Constraint(
        model.E,
        rule=lambda _m, e: (None, LinearExpression(constant=0, linear_coefs=[1.0, -big[e]],
                                                   linear_vars=[model.x[e], model.n[fac[e]]]), 0.0),
    )


def _cost_terms(model: Any, d: SwapModelData) -> tuple[list, list]:
    coefs = d.unit_cost[d.fac_type].tolist()
    vars_ = [model.n[f] for f in range(len(d.fac_site))]
    if d.access_rate > 0:
        coefs += (d.access_rate * d.arc_len).tolist()
        vars_ += [model.x[e] for e in range(len(d.arc_row))]
    return coefs, vars_


def _define_budget(model: Any, d: SwapModelData) -> None:
    """Σ_f F_k n_f <= budget (max_served only)."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    if d.budget is None or d.objective != "max_served":
        return  # min_cost: solved without the budget, then compared with it (the message names the cost)
    coefs = d.unit_cost[d.fac_type].tolist()
    vars_ = [model.n[f] for f in range(len(d.fac_site))]
    model.budget = pyo.Constraint(expr=(None, LinearExpression(constant=0, linear_coefs=coefs, linear_vars=vars_),
                                        float(d.budget)))


def _define_objective(model: Any, d: SwapModelData) -> None:
    """min cost, or max served swaps minus an ε-weighted cost tie-break."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    coefs, vars_ = _cost_terms(model, d)
    if d.objective == "min_cost":
        model.obj = pyo.Objective(expr=LinearExpression(constant=0.0, linear_coefs=coefs, linear_vars=vars_),
                                  sense=pyo.minimize)
        return
    # worst case of the cost term: every facility at max count, every arc at full demand
    worst = float(np.sum(d.unit_cost[d.fac_type] * d.max_per_site[d.fac_type]))
    worst += float(np.sum(d.access_rate * d.arc_len * d.swaps[d.arc_row]))
    eps = 0.5 / max(worst, 1.0)
    served = [1.0] * len(d.arc_row)
    svars = [model.x[e] for e in range(len(d.arc_row))]
    model.obj = pyo.Objective(
        expr=LinearExpression(constant=0.0, linear_coefs=served + [-eps * c for c in coefs],
                              linear_vars=svars + vars_),
        sense=pyo.maximize,
    )
    model.eps = eps


# station-only rows first (budget, aggregate capacity): HiGHS then numbers the station
# columns before the flow columns
_STEPS = [_define_stations, _define_budget, _define_type_capacity, _define_flows, _define_demand, _define_capacity,
          _define_linking, _define_objective]


def build_swap_model(d: SwapModelData) -> Any:
    """Pyomo model of the swap problem (see the module docstring)."""
    import pyomo.environ as pyo

    model = pyo.ConcreteModel(name=f"swap_{d.objective}")
    for step in _STEPS:
        step(model, d)
    return model


@dataclass
class SwapSolution:
    """Solution of :func:`solve_swap`, by id.

    Attributes
    ----------
    stations
        DataFrame: ``site_id, station_type, n_stations, capacity_swaps_day, swaps_served,
        station_cost_cny``.
    assignment
        DataFrame: ``demand_id, site_id, station_type, swaps_day, distance_km``.
    served
        Swaps/day served per demand id.
    station_cost_cny, access_cost_cny, objective, bound, gap, status, seconds
        Of the solve (costs recomputed from the solution).
    """

    stations: pd.DataFrame
    assignment: pd.DataFrame
    served: pd.Series
    station_cost_cny: float
    access_cost_cny: float
    objective: float
    bound: float
    gap: float
    status: str
    seconds: float
    details: dict = field(default_factory=dict)


def solve_swap(d: SwapModelData, *, time_limit_s: float | None = 60.0, mip_rel_gap: float = 1e-4) -> SwapSolution:
    """Check, build and solve the swap model; report stations and assignment by id.

    Raises
    ------
    InfeasibleError
        ``min_cost``: demand points without any station type-compatible site within their
        service distance, or a point heavier than all its reachable sites can take; the
        solver proving infeasibility; the cheapest plan exceeding ``budget``.
    """
    from gzcharge.solve import solve

    t0 = time.perf_counter()
    n = len(d.swaps)
    reach = np.diff(d.dist_km.indptr)
    if d.objective == "min_cost":
        none = (reach == 0) & (d.swaps > 0)
        if none.any():
            bad = d.demand_ids[none].tolist()
            raise InfeasibleError(
                f"{len(bad)} swap demand point(s) have no candidate site within their service distance: "
                f"{preview_ids(bad)}; add candidate sites near them, raise the fleet type's service_km, "
                "or use mode='max_served'",
                unserved=bad,
            )
        reach_cap = np.zeros(n)
        np.add.at(reach_cap, d.arc_row, (d.capacity * d.max_per_site)[d.fac_type[d.arc_fac]])
        short = reach_cap < d.swaps * (1 - 1e-9)
        if short.any():
            bad = d.demand_ids[short].tolist()
            raise InfeasibleError(
                f"swap demand point(s) {preview_ids(bad)} need more swaps/day than all stations allowed within "
                "their service distance can do; raise max_per_site or capacity_swaps_day, or add sites",
                unserved=bad,
            )
    if len(d.arc_row) == 0:
        empty_st = pd.DataFrame(columns=["site_id", "station_type", "n_stations", "capacity_swaps_day",
                                         "swaps_served", "station_cost_cny"])
        empty_as = pd.DataFrame(columns=["demand_id", "site_id", "station_type", "swaps_day", "distance_km"])
        return SwapSolution(empty_st, empty_as, pd.Series(0.0, index=d.demand_ids), 0.0, 0.0, 0.0, 0.0, 0.0,
                            "optimal", time.perf_counter() - t0)
    model = build_swap_model(d)
    t_build = time.perf_counter() - t0
    try:
        res = solve(model, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap)
    except InfeasibleError:
        raise InfeasibleError(
            "the swap stations allowed within the service distances cannot take every swap (capacity × "
            "max_per_site too small where demand clusters); raise max_per_site or capacity_swaps_day, add "
            "candidate sites, or use mode='max_served'"
        ) from None
    n_f = np.rint(res.values(model.n)).astype(np.int64)
    x = np.clip(res.values(model.x), 0.0, None)
    x[x < 1e-7] = 0.0
    station_cost = float(np.sum(n_f * d.unit_cost[d.fac_type]))
    access_cost = float(np.sum(d.access_rate * d.arc_len * x))
    if d.budget is not None and station_cost > d.budget * (1 + 1e-9):
        raise InfeasibleError(
            f"serving every swap costs {station_cost:,.0f} CNY, above the swap budget {d.budget:,.0f} CNY; "
            "raise budget_cny or use mode='max_served'"
        )
    served = np.zeros(n)
    np.add.at(served, d.arc_row, x)
    fac_served = np.zeros(len(d.fac_site))
    np.add.at(fac_served, d.arc_fac, x)
    open_f = np.flatnonzero(n_f > 0)
    types = np.array(d.type_names, dtype=object)
    stations = pd.DataFrame({
        "site_id": d.site_ids[d.fac_site[open_f]].to_numpy(),
        "station_type": types[d.fac_type[open_f]],
        "n_stations": n_f[open_f],
        "capacity_swaps_day": n_f[open_f] * d.capacity[d.fac_type[open_f]],
        "swaps_served": fac_served[open_f],
        "station_cost_cny": n_f[open_f] * d.unit_cost[d.fac_type[open_f]],
    })
    used = np.flatnonzero(x > 0)
    assignment = pd.DataFrame({
        "demand_id": d.demand_ids[d.arc_row[used]].to_numpy(),
        "site_id": d.site_ids[d.arc_site[used]].to_numpy(),
        "station_type": types[d.fac_type[d.arc_fac[used]]],
        "swaps_day": x[used],
        "distance_km": d.arc_len[used],
    })
    if d.objective == "min_cost":
        objective = station_cost + access_cost
        bound = min(res.bound, objective)
    else:
        objective = float(served.sum())
        # bound on served swaps: the solver's bound of (served − ε·cost) + ε·cost of this plan
        bound = max(res.bound + model.eps * (station_cost + access_cost), objective)
    gap = abs(objective - bound) / max(abs(objective), 1e-9) if np.isfinite(bound) else float("inf")
    return SwapSolution(
        stations=stations, assignment=assignment, served=pd.Series(served, index=d.demand_ids, name="served"),
        station_cost_cny=station_cost, access_cost_cny=access_cost, objective=objective, bound=bound, gap=gap,
        status=res.status.value, seconds=time.perf_counter() - t0,
        details={"build_s": t_build, "n_facilities": len(d.fac_site), "n_arcs": len(d.arc_row),
                 "n_vars": model.nvariables(), "n_constraints": model.nconstraints(), **res.details},
    )


# =========================================================================== the tier
@dataclass
class SwapResult:
    """Outcome of the battery-swap tier.

    Attributes
    ----------
    stations
        GeoDataFrame ``swap_stations`` (EPSG:4326), one row per site and station type:
        ``site_id, name, station_type, n_stations, capacity_swaps_day, swaps_served,
        utilisation, fleets`` (fleet types served, comma-separated), ``fleet_ids``,
        ``batteries``, ``cost_cny, county_adcode, geometry``.
    demand
        GeoDataFrame ``swap_demand``: ``demand_id, fleet_id, fleet_type, name, vehicles,
        swaps_day, swaps_served, served_share, site_id`` (the station taking most of its
        swaps), ``distance_km, county_adcode, geometry``.
    assignment
        DataFrame ``demand_id, site_id, station_type, swaps_day, distance_km``.
    summary
        DataFrame per fleet type and total: vehicles, swaps/day, served, share.
    mode, status, objective, bound, gap, seconds
        Of the solve; ``objective`` is total cost (CNY, ``min_cost``) or swaps/day served
        (``max_served``).
    station_cost_cny, access_cost_cny
        Station build cost and access cost over the horizon.
    notes
        Statements for the report.
    candidates, cost
        The candidate sites and the cost matrix used.
    """

    stations: Any
    demand: Any
    assignment: pd.DataFrame
    summary: pd.DataFrame
    mode: str
    status: str
    objective: float
    bound: float
    gap: float
    seconds: float
    station_cost_cny: float
    access_cost_cny: float
    notes: list[str] = field(default_factory=list)
    candidates: Any = None
    cost: Any = None

    def layers(self) -> dict[str, Any]:
        """GeoPackage layers of this tier."""
        return {"swap_stations": self.stations, "swap_demand": self.demand}


@dataclass
class SwapModelInputs:
    """The swap tier's prepared data, before any solve (:func:`swap_model_data`).

    Attributes
    ----------
    demand, candidates
        Fleet demand points and candidate sites (GeoDataFrames, EPSG:4326).
    cost
        Demand × site distances (:class:`~gzcharge.distances.CostMatrix`, metres).
    data
        :class:`SwapModelData` (arcs within each fleet's service distance, station types, budget, mode).
    type_names
        Station types in the model.
    notes
        Statements for the report.
    """

    demand: Any
    candidates: Any
    cost: Any
    data: SwapModelData
    type_names: list[str]
    notes: list[str] = field(default_factory=list)


def swap_model_data(
    region: Region,
    params: SwapParams | None = None,
    *,
    fleets: str | Path | pd.DataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    costs: CostMatrix | None = None,
) -> SwapModelInputs:
    """Fleet demand, candidates, distances and model data of the swap tier, without solving.

    Parameters are those of :func:`plan_swap` (``mode`` and ``budget_cny`` come from ``params``).

    Raises
    ------
    DataError
        Fleet file errors, depots outside the region, candidate/cost id mismatches.
    """
    import geopandas as gpd

    from gzcharge.distances import screening_costs_gdf

    params = params or SwapParams()
    notes: list[str] = []
    if fleets is None:
        table = default_fleets(region, params)
        notes.append(
            "swap fleets estimated from 2020 urban population × per-type defaults "
            "(vehicles per 10k urban residents × electrified share × swap share); give a fleet file for real depots"
        )
    elif isinstance(fleets, pd.DataFrame):
        table = fleets.copy()
        for col, default in (("lon", np.nan), ("lat", np.nan), ("county", None), ("city", None), ("where", "fleets")):
            if col not in table:
                table[col] = default
        if "swaps_day" not in table:
            table["swaps_day"] = table["vehicles"] * table["swaps_per_vehicle_day"]
        if "name" not in table:
            table["name"] = table["fleet_id"]
    else:
        table = read_fleet_file(fleets, params)
        notes.append(f"swap fleets from {Path(fleets).name}: {len(table)} fleets")
    demand = fleet_demand_points(region, table, params)

    if candidates is None:
        cands = default_swap_candidates(region, demand)
    else:
        if "site_id" not in candidates.columns:
            raise DataError(f"swap candidates need a 'site_id' column; columns are {list(candidates.columns)}")
        if candidates.crs is None:
            raise DataError("swap candidates have no CRS; set it (e.g. EPSG:4326)")
        cands = candidates.to_crs("EPSG:4326").copy()
        if "name" not in cands:
            cands["name"] = cands["site_id"].astype(str)
    if not cands["site_id"].is_unique:
        raise DataError(f"duplicate swap candidate site ids: {preview_ids(cands.loc[cands['site_id'].duplicated(), 'site_id'])}")
    counties = region.counties[["adcode", "geometry"]].copy()
    counties["adcode"] = counties["adcode"].astype(str)
    j = gpd.sjoin(cands[["site_id", "geometry"]], counties, how="left", predicate="intersects")
    cands["county_adcode"] = j.groupby(level=0)["adcode"].first().reindex(cands.index).to_numpy()

    service_km = demand["fleet_type"].map({k: f.service_km for k, f in params.fleets.items()}).to_numpy(float)
    if costs is None:
        cutoff_m = float(service_km.max(initial=0.0)) * 1000.0
        costs = screening_costs_gdf(demand, cands, metric_crs=region.metric_crs, cutoff=cutoff_m,
                                    circuity=params.circuity, demand_id_col="demand_id", site_id_col="site_id")
        notes.append(f"swap access distances: straight line × {params.circuity:g} (screening)")
    if costs.unit != "m":
        raise DataError(f"swap costs must be distances in metres, got unit {costs.unit!r}")
    ids = pd.Index(demand["demand_id"])
    miss = ids.difference(costs.rows)
    if len(miss):
        raise DataError(f"swap cost matrix lacks demand ids {preview_ids(miss.tolist())}")
    site_ids = pd.Index(cands["site_id"])
    miss = site_ids.difference(costs.cols)
    if len(miss):
        raise DataError(f"swap cost matrix lacks candidate site ids {preview_ids(miss.tolist())}")
    cm = costs.subset(ids, site_ids)
    v = cm.values.tocoo()
    keep = v.data <= service_km[v.row] * 1000.0
    dist_km = sp.csr_array((v.data[keep] / 1000.0, (v.row[keep], v.col[keep])), shape=cm.shape)
    dist_km.sort_indices()

    type_names = sorted({params.fleets[t].station_type for t in demand["fleet_type"]}) or ["car"]
    st = [params.station_types[k] for k in type_names]
    data = SwapModelData(
        demand_ids=ids,
        site_ids=site_ids,
        swaps=demand["swaps_day"].to_numpy(float),
        dtype_of=np.array([type_names.index(params.fleets[t].station_type) for t in demand["fleet_type"]],
                          dtype=np.int64),
        type_names=type_names,
        capacity=np.array([s.capacity_swaps_day for s in st], dtype=float),
        unit_cost=np.array([s.cost_cny for s in st], dtype=float),
        max_per_site=np.array([s.max_per_site for s in st], dtype=np.int64),
        dist_km=dist_km,
        access_rate=params.access_cny_per_swap_km,
        budget=params.budget_cny,
        objective=params.mode,
    )
    return SwapModelInputs(demand=demand, candidates=cands, cost=cm, data=data, type_names=type_names, notes=notes)


def plan_swap(
    region: Region,
    params: SwapParams | None = None,
    *,
    fleets: str | Path | pd.DataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    costs: CostMatrix | None = None,
    mode: Literal["min_cost", "max_served"] | None = None,
    budget_cny: float | None = None,
    time_limit_s: float | None = None,
    mip_rel_gap: float | None = None,
) -> SwapResult:
    """Plan battery-swap stations for a region.

    Parameters
    ----------
    region
        The planning region (:func:`gzcharge.region.get_region`).
    params
        Tier parameters (defaults: :class:`SwapParams`).
    fleets
        A fleet file path (CSV/TOML, :func:`read_fleet_file`), a table in its format, or
        ``None`` for the per-type defaults scaled from urban population.
    candidates
        Candidate sites: GeoDataFrame with ``site_id`` and point geometry (any CRS);
        default: demand positions + county seats (:func:`default_swap_candidates`).
    costs
        Demand × site distances in metres (rows = demand ids ``fleet_id[:county[:k]]``,
        columns = site ids); default: screening distances in the region's metric CRS.
    mode, budget_cny, time_limit_s, mip_rel_gap
        Override the same fields of ``params``.

    Returns
    -------
    SwapResult

    Raises
    ------
    DataError
        Fleet file errors, depots outside the region, candidate/cost id mismatches.
    InfeasibleError
        ``min_cost`` with demand out of reach of every candidate, or over budget.
    """


    t0 = time.perf_counter()
    params = params or SwapParams()
    upd: dict[str, Any] = {}
    if mode is not None:
        upd["mode"] = mode
    if budget_cny is not None:
        upd["budget_cny"] = budget_cny
    if time_limit_s is not None:
        upd["time_limit_s"] = time_limit_s
    if mip_rel_gap is not None:
        upd["mip_rel_gap"] = mip_rel_gap
    if upd:
        params = SwapParams.model_validate({**params.model_dump(), **upd})
    notes: list[str] = []

    prep = swap_model_data(region, params, fleets=fleets, candidates=candidates, costs=costs)
    notes.extend(prep.notes)
    demand, cands, cm, data, type_names = prep.demand, prep.candidates, prep.cost, prep.data, prep.type_names
    sol = solve_swap(data, time_limit_s=params.time_limit_s, mip_rel_gap=params.mip_rel_gap)
    stations_gdf, demand_gdf, summary = _assemble(params, demand, cands, sol, type_names)
    notes.append(
        f"battery packs per site = max(stock × stations, ceil(swaps × {1 + params.battery_reserve_share:g} / "
        "battery_turns_per_day))"
    )
    logger.info("swap tier: %d sites, %.0f of %.0f swaps/day served, %s", len(stations_gdf),
                float(sol.served.sum()), float(data.swaps.sum()), sol.status)
    return SwapResult(
        stations=stations_gdf, demand=demand_gdf, assignment=sol.assignment, summary=summary, mode=params.mode,
        status=sol.status, objective=sol.objective, bound=sol.bound, gap=sol.gap,
        seconds=time.perf_counter() - t0, station_cost_cny=sol.station_cost_cny,
        access_cost_cny=sol.access_cost_cny, notes=notes, candidates=cands, cost=cm,
    )


def _assemble(params: SwapParams, demand: gpd.GeoDataFrame, cands: gpd.GeoDataFrame, sol: SwapSolution,
              type_names: list[str]) -> tuple[Any, Any, pd.DataFrame]:
    import geopandas as gpd

    st = sol.stations.copy()
    a = sol.assignment.merge(demand[["demand_id", "fleet_type", "fleet_id"]], on="demand_id", how="left")
    fleets = a.groupby(["site_id", "station_type"]).agg(
        fleets=("fleet_type", lambda s: ",".join(sorted(set(s)))),
        fleet_ids=("fleet_id", lambda s: ",".join(sorted(set(map(str, s))))),
    )
    st = st.join(fleets, on=["site_id", "station_type"])
    stock = st["station_type"].map({k: s.battery_stock for k, s in params.station_types.items()}).astype(float)
    turns = st["station_type"].map({k: s.battery_turns_per_day for k, s in params.station_types.items()}).astype(float)
    need = np.ceil(st["swaps_served"].to_numpy(float) * (1 + params.battery_reserve_share) / turns.to_numpy() - 1e-9)
    st["batteries"] = np.maximum(need, stock.to_numpy() * st["n_stations"].to_numpy()).astype(int)
    st["utilisation"] = st["swaps_served"] / st["capacity_swaps_day"]
    st["cost_cny"] = st["station_cost_cny"]
    c = cands.set_index("site_id")
    st["name"] = c["name"].reindex(st["site_id"]).to_numpy()
    st["county_adcode"] = c["county_adcode"].reindex(st["site_id"]).to_numpy()
    cols = ["site_id", "name", "station_type", "n_stations", "capacity_swaps_day", "swaps_served", "utilisation",
            "fleets", "fleet_ids", "batteries", "cost_cny", "county_adcode"]
    stations = gpd.GeoDataFrame(st[cols].reset_index(drop=True), geometry=list(c.geometry.reindex(st["site_id"])),
                                crs="EPSG:4326")
    dem = demand.copy()
    dem["swaps_served"] = sol.served.reindex(dem["demand_id"]).to_numpy()
    dday = dem["swaps_day"].to_numpy(dtype=float)
    dem["served_share"] = np.divide(dem["swaps_served"].to_numpy(dtype=float), dday, out=np.ones_like(dday),
                                    where=dday > 0)
    if len(sol.assignment):
        main = sol.assignment.sort_values(["demand_id", "swaps_day", "site_id"], ascending=[True, False, True])
        main = main.drop_duplicates("demand_id").set_index("demand_id")
        dem["site_id"] = main["site_id"].reindex(dem["demand_id"]).to_numpy()
        dem["distance_km"] = main["distance_km"].reindex(dem["demand_id"]).to_numpy()
    else:
        dem["site_id"] = None
        dem["distance_km"] = np.nan
    dem = dem[["demand_id", "fleet_id", "fleet_type", "name", "vehicles", "swaps_day", "swaps_served", "served_share",
               "site_id", "distance_km", "county_adcode", "geometry"]]
    g = dem.groupby("fleet_type").agg(vehicles=("vehicles", "sum"), swaps_day=("swaps_day", "sum"),
                                      swaps_served=("swaps_served", "sum"))
    g.loc["total"] = g.sum()
    day = g["swaps_day"].to_numpy(dtype=float)
    served = g["swaps_served"].to_numpy(dtype=float)
    # a fleet type with no swaps (e.g. an area without census population) is trivially fully served
    g["served_share"] = np.divide(served, day, out=np.ones_like(day), where=day > 0)
    return stations, dem, g.reset_index()
