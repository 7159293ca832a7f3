r"""Battery-swap tier (换电): fleet demand, capacitated station siting, sizing.

The plan promotes battery swapping for fleets (大力推广换电模式): taxis and ride-hailing
cars, buses, urban logistics vans, sanitation trucks, mine and short-haul heavy trucks.
The tier follows the tier contract (prepare → solve → assess):

1. :func:`prepare_swap` — **fleet demand** from a fleet file (:func:`read_fleet_file`; one row
   per fleet: type, vehicles, daily swaps per vehicle, and a depot position or an operating
   county/city) or, without one, from documented per-type defaults scaled by the 2020 census
   urban population of each county (:func:`default_fleets`). A fleet with a depot is one demand
   point at the depot; a fleet given only by county (or city = prefecture) is spread over the
   urban area (:func:`fleet_demand_points`). **Candidate sites** (default: the demand points'
   positions and the county seats), a demand × site distance matrix (default: straight line ×
   circuity in the region's metric CRS, cut at the longest service distance), and the numeric
   core's :class:`~gzcharge.locate.joint.CapacitatedBlock` named ``"swap"``.
2. :func:`solve_swap` — the block alone in the numeric core,
   ``solve_joint([block], years=[year])`` (:mod:`gzcharge.locate.joint`): there is no
   separate swap model, so the joint plan with this tier and one year *is* this plan.
3. :func:`assess_swap` — stations, packs, demand and assignment layers from the solution's
   open stations; the flows are recomputed for the chosen stations (the same core block with
   the station counts fixed), not read from the plan's model.

:func:`plan_swap` is the one-call API (``assess(prep, solve(prep))``).

Model (the core's capacitated block)
------------------------------------
Every fleet type uses one *station type* ``k`` (car, bus or heavy truck: their batteries
differ, so their stations do). A *facility* ``f = (j, k)`` is station type ``k`` at site
``j``; demand point ``i`` (``d_i`` swaps/day, type ``k(i)``, service distance ``R_i``) may be
served by facility ``(j, k(i))`` when ``dist(i, j) <= R_i`` (arc ``e = (i, f)`` with length
``l_e`` km). Station type ``k`` swaps at most ``Q_k`` batteries a day, costs ``F_k`` with
``S_k`` packs included (``battery_stock``), and up to ``M_k`` stations of a type may stand at
one site. A pack is charged and swapped out ``τ_k`` times a day (``battery_turns_per_day``)
and a reserve share ``r`` is held, so a facility serving ``x_f`` swaps/day needs
``ρ_k x_f`` packs, ``ρ_k = (1 + r) / τ_k``; packs beyond the included ones cost ``c_k``
(``pack_cost_cny``).

Variables: ``n_f ∈ {0, …, M_k}`` stations, ``x_e ≥ 0`` swaps/day of demand ``i`` served at
``f`` (a depot's vehicles may use several stations), ``q_f ∈ {0, 1, …}`` extra packs.

``min_cost`` (serve every swap at least cost)::

    min  Σ_f F_k n_f + Σ_f c_k q_f + a Σ_e l_e x_e
    s.t. Σ_{e ∋ i} x_e = d_i                  every demand point fully served
         Σ_{e ∋ f} x_e <= Q_k n_f             station capacity
         ρ_k Σ_{e ∋ f} x_e − S_k n_f <= q_f   packs: q_f = max(0, ceil(ρ_k x_f) − S_k n_f)
         x_e <= min(d_i, Q_k M_k) n_f         strong linking (tightens the LP bound)

``max_served`` (most swaps under ``budget_cny``, which pays stations and packs)::

    max  Σ_e x_e / D − ε (Σ_f F_k n_f + Σ_f c_k q_f + a Σ_e l_e x_e)
    s.t. Σ_{e ∋ i} x_e <= d_i ;  capacity, packs, linking as above ;  Σ_f F_k n_f + Σ_f c_k q_f <= B

(the core's ``max_service``: ``D`` total swaps; ``ε`` makes the whole cost term worth less
than a tiny share of service, so cost only breaks ties).

``a = 2 × deadhead_cny_per_km × horizon_days`` turns one swap/day travelling ``l`` km (one
way; the vehicle comes back) into CNY over the evaluation horizon, so station, pack and
access cost are in the same unit.

With ``M_k = 1`` and no pack cost the ``min_cost`` model is the split-demand capacitated
facility-location problem of :func:`gzcharge.locate.median.p_median` (``capacity=``,
``site_cost=``, ``single_source=False``); the tests check both give the same optimum.
"""

from __future__ import annotations

import dataclasses
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
from gzcharge.export.i18n import msg
from gzcharge.locate.joint import CapacitatedBlock, JointSolution, build_joint_model, solve_joint
from gzcharge.scenario.common import SolverParams
from gzcharge.scenario.swap import FleetTypeParams, StationTypeParams, SwapParams
from gzcharge.tiers.base import PlanContext, Prepared, Tier, TierResult, status_of

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from gzcharge.distances import CostMatrix
    from gzcharge.region import Region

logger = logging.getLogger(__name__)

__all__ = [
    "FleetTypeParams",
    "StationTypeParams",
    "SwapModelData",
    "SwapParams",
    "SwapPrepared",
    "SwapResult",
    "assess_swap",
    "default_fleets",
    "default_swap_candidates",
    "fleet_demand_points",
    "plan_swap",
    "prepare_swap",
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


#: Chinese headers of a fleet table (on top of the shared name/lon/lat aliases).
_FLEET_HEADER_ALIASES = {"fleet_type": ("车型", "车队类型", "车辆类型"), "vehicles": ("车辆数", "车辆", "数量"),
                         "county": ("区县", "县"), "city": ("城市", "市州"), "fleet_id": ("车队编号", "编号")}


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
    elif suffix in (".csv", ".txt", ".tsv", ".xlsx"):
        from gzcharge.sources.files import read_table

        df = read_table(p, "fleet file", ("name", "lon", "lat", *_FLEET_HEADER_ALIASES),
                        extra_aliases=_FLEET_HEADER_ALIASES)
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
    county and fleet type (counties without a census urban population get none; a type with
    ``prefectures`` only in those prefectures).
    """
    c = region.counties
    urban = pd.to_numeric(c["pop_urban"], errors="coerce").fillna(0.0).to_numpy(float)
    rows = []
    county_name = dict(zip(c["adcode"].astype(str), c["name"].astype(str), strict=True))
    codes = c["adcode"].astype(str)
    for key, f in params.fleets.items():
        veh = urban / 1e4 * f.per_10k_urban * f.electrified_share * f.swap_share
        if f.prefectures:
            veh = np.where(codes.str[:4].add("00").isin(f.prefectures).to_numpy(), veh, 0.0)
        for code, v in zip(codes, veh, strict=True):
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


# =========================================================================== model data
@dataclass
class SwapModelData:
    """Arrays of the swap block (positions; ids kept alongside), as :func:`prepare_swap` makes them.

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
    access_rate
        ``a``: CNY over the horizon per swap/day and km.
    budget, objective
        ``budget_cny`` and ``mode`` of the parameters.
    pack_cost, packs_per_swap, packs_included
        Per station type: CNY per extra pack, packs needed per swap/day
        (``(1 + reserve) / turns``), packs included in a station; None: packs not modelled.
    station_cost
        Sites × station types: cost of one station there (NaN: the type's ``unit_cost``), or None.
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
    pack_cost: np.ndarray | None = None
    packs_per_swap: np.ndarray | None = None
    packs_included: np.ndarray | None = None
    station_cost: np.ndarray | None = None

    def block(self, name: str = "swap", **kwargs: Any) -> CapacitatedBlock:
        """The core's :class:`~gzcharge.locate.joint.CapacitatedBlock` of these arrays.

        ``min_cost`` data give ``full_service=True`` (every swap served); ``kwargs`` set the
        block's other options (targets, years, tier weight).
        """
        kwargs.setdefault("full_service", self.objective == "min_cost")
        return CapacitatedBlock(
            name=name, site_ids=pd.Index(self.site_ids), demand_ids=pd.Index(self.demand_ids),
            volume=np.asarray(self.swaps, float), demand_type=np.asarray(self.dtype_of, np.int64),
            type_names=list(self.type_names), capacity=np.asarray(self.capacity, float),
            unit_cost=np.asarray(self.unit_cost, float), max_per_site=np.asarray(self.max_per_site, np.int64),
            dist=self.dist_km, access_rate=float(self.access_rate),
            pack_cost=None if self.pack_cost is None else np.asarray(self.pack_cost, float),
            packs_per_volume=None if self.packs_per_swap is None else np.asarray(self.packs_per_swap, float),
            packs_included=None if self.packs_included is None else np.asarray(self.packs_included, float),
            station_cost=None if self.station_cost is None else np.asarray(self.station_cost, float),
            **kwargs)


@dataclass
class SwapPrepared:
    """The swap tier's prepared data (:func:`prepare_swap`), before any solve.

    Attributes
    ----------
    block
        The core block (:class:`~gzcharge.locate.joint.CapacitatedBlock`, name ``"swap"``).
    sites
        One row per block site, in block order: ``site_id, name, kind`` (``"swap"``),
        ``county_adcode, lon, lat`` (WGS-84).
    notes
        Statements for the report.
    demand, candidates
        Fleet demand points and candidate sites (GeoDataFrames, EPSG:4326).
    cost
        Demand × site distances (:class:`~gzcharge.distances.CostMatrix`, metres).
    data
        The block's arrays (:class:`SwapModelData`).
    type_names
        Station types in the model.
    year
        Year label of the tier's own (one-year) solve.
    """

    block: CapacitatedBlock
    sites: pd.DataFrame
    notes: list[str]
    demand: Any
    candidates: Any
    cost: Any
    data: SwapModelData
    type_names: list[str]
    year: int = 2030


@dataclass
class SwapResult:
    """Outcome of the battery-swap tier.

    Attributes
    ----------
    stations
        GeoDataFrame ``swap_stations`` (EPSG:4326), one row per site and station type:
        ``site_id, name, station_type, n_stations, capacity_swaps_day, swaps_served,
        utilisation, fleets`` (fleet types served, comma-separated), ``fleet_ids``,
        ``batteries`` (packs on site: the stations' stock plus the extra packs),
        ``extra_packs, pack_cost_cny, station_cost_cny, cost_cny`` (stations + packs),
        ``county_adcode`` (``phase_year`` too when the solution has several years), ``geometry``.
    demand
        GeoDataFrame ``swap_demand``: ``demand_id, fleet_id, fleet_type, name, vehicles,
        swaps_day, swaps_served, served_share, site_id`` (the station taking most of its
        swaps), ``distance_km, county_adcode, geometry``.
    assignment
        DataFrame ``demand_id, site_id, station_type, swaps_day, distance_km``.
    summary
        DataFrame per fleet type and total: vehicles, swaps/day, served, share.
    mode, status, objective, bound, gap, seconds
        Of the plan; ``objective`` is total cost (stations + packs + access, CNY, ``min_cost``)
        or swaps/day served (``max_served``), recomputed from the stations.
    station_cost_cny, pack_cost_cny, access_cost_cny
        Station build cost, extra battery packs and access cost over the horizon.
    notes
        Statements for the report.
    candidates, cost
        The candidate sites and the cost matrix used.
    solution
        The core's :class:`~gzcharge.locate.joint.JointSolution` the plan was read from.
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
    pack_cost_cny: float
    access_cost_cny: float
    notes: list[str] = field(default_factory=list)
    candidates: Any = None
    cost: Any = None
    solution: JointSolution | None = None

    def layers(self) -> dict[str, Any]:
        """GeoPackage layers of this tier."""
        return {"swap_stations": self.stations, "swap_demand": self.demand}


# =========================================================================== prepare
def utilisation_floor(reach_km: sp.csr_array, swaps: np.ndarray, station_type: np.ndarray, capacity: np.ndarray,
                      floor: float) -> np.ndarray:
    """Demand points whose fleet can fill a swap station to ``floor`` of its capacity.

    A site ``j`` is viable for station type ``k`` when the swaps of the type-``k`` points within
    reach (``reach_km[i, j]`` stored) sum to at least ``floor × capacity_k``; a point is kept when
    some viable site of its type reaches it (points with no site in reach at all are kept for the
    reach check to name). Dropping points lowers other sites' sums, so the
    test repeats until nothing changes (at most one pass per point; usually two or three).

    Parameters
    ----------
    reach_km
        Demand × site sparse matrix; a stored entry means the site is within the point's service
        distance.
    swaps, station_type, capacity
        Per demand point: swaps/day, its station type and that type's capacity (swaps/day).
    floor
        Utilisation floor (0-1); 0 keeps every point.

    Returns
    -------
    numpy.ndarray
        Boolean mask over the demand points.
    """
    n = len(swaps)
    keep = np.ones(n, dtype=bool)
    if floor <= 0 or n == 0:
        return keep
    a = sp.csr_array((np.ones(reach_km.nnz), reach_km.indices, reach_km.indptr), shape=reach_km.shape)
    need = floor * np.asarray(capacity, float)
    types = pd.unique(np.asarray(station_type))
    unreachable = np.diff(a.indptr) == 0  # kept: the reach check names them as data errors
    while True:
        new = unreachable.copy()
        for t in types:
            rows = (np.asarray(station_type) == t) & keep
            if not rows.any():
                continue
            sums = a.T @ np.where(rows, swaps, 0.0)          # swaps of type t within reach of each site
            viable = (sums >= need[rows][0] - 1e-9).astype(float)
            new |= rows & ((a @ viable) > 0)
        if (new == keep).all():
            return keep
        keep = new


def prepare_swap(
    region: Region,
    params: SwapParams | None = None,
    *,
    fleets: str | Path | pd.DataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    costs: CostMatrix | None = None,
    year: int = 2030,
    user_sites: gpd.GeoDataFrame | None = None,
) -> SwapPrepared:
    """Fleet demand, candidates, distances and the core block of the swap tier, without solving.

    Parameters
    ----------
    region
        The planning region (:func:`gzcharge.region.get_region`).
    params
        Tier parameters (defaults: :class:`SwapParams`); ``mode`` decides full service.
    fleets
        A fleet file path (CSV/TOML, :func:`read_fleet_file`), a table in its format, or
        ``None`` for the per-type defaults scaled from urban population.
    candidates
        Candidate sites: GeoDataFrame with ``site_id`` and point geometry (any CRS);
        default: demand positions + county seats (:func:`default_swap_candidates`).
    costs
        Demand × site distances in metres (rows = demand ids ``fleet_id[:county[:k]]``,
        columns = site ids); default: screening distances in the region's metric CRS.
    year
        Year label of the tier's own solve (the plan year).
    user_sites
        Rows of a candidate-sites file for this tier (:meth:`gzcharge.candidates.SiteRules.for_tier`):
        added to the candidates as ``user-<site_id>``; their ``cost_cny`` is the cost of one swap
        station there (else the station type's ``cost_cny``). ``plugs`` is not a swap notion (a
        station's capacity is ``capacity_swaps_day``) and is not used.

    Returns
    -------
    SwapPrepared

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
        notes.append(msg("swap.fleets_estimated"))
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
        notes.append(msg("swap.fleets_from", file=Path(fleets).name, n=len(table)))
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
    own_cost = pd.Series(np.nan, index=cands["site_id"].astype(str))
    if user_sites is not None and len(user_sites):
        from gzcharge.candidates import planner_site_ids

        uids = planner_site_ids(user_sites["site_id"])
        cands = pd.concat([cands, gpd.GeoDataFrame({"site_id": uids, "name": user_sites["name"].astype(str).to_numpy()},
                                                   geometry=user_sites.geometry.to_crs(4326).values, crs="EPSG:4326")],
                          ignore_index=True)
        own_cost = pd.concat([own_cost, pd.Series(pd.to_numeric(user_sites["cost_cny"], errors="coerce").to_numpy(float),
                                                  index=uids)])
        notes.append(msg("swap.user_sites_plugs" if user_sites["plugs"].notna().any() else "swap.user_sites",
                         n=len(uids)))
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
        notes.append(msg("swap.access_screening", c=params.circuity))
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

    stype = demand["fleet_type"].map({k: f.station_type for k, f in params.fleets.items()}).to_numpy(object)
    cap = np.array([params.station_types[t].capacity_swaps_day for t in stype], dtype=float)
    ok = utilisation_floor(dist_km, demand["swaps_day"].to_numpy(float), stype, cap, params.min_utilisation)
    if not ok.all():
        low = demand.loc[~ok]
        by = low.groupby("fleet_type")["swaps_day"].agg(["sum", "size"])
        notes.append(msg("swap.below_floor", n=int((~ok).sum()), swaps=low["swaps_day"].sum(),
                         floor=params.min_utilisation,
                         by=[msg("swap.fleet_rate", fleet=k, rate=r["sum"]) for k, r in by.iterrows()]))
        demand = demand.loc[ok].reset_index(drop=True)
        ids = pd.Index(demand["demand_id"])
        cm = cm.subset(ids, site_ids)
        dist_km = dist_km[np.flatnonzero(ok)]
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
        pack_cost=np.array([s.pack_cost_cny for s in st], dtype=float),
        packs_per_swap=np.array([(1.0 + params.battery_reserve_share) / s.battery_turns_per_day for s in st]),
        packs_included=np.array([s.battery_stock for s in st], dtype=float),
        station_cost=np.repeat(own_cost.reindex(site_ids.astype(str)).to_numpy(float)[:, None], len(st), axis=1)
        if np.isfinite(own_cost.to_numpy(float)).any() else None,
    )
    notes.append(msg("swap.packs", reserve=1 + params.battery_reserve_share))
    sites = pd.DataFrame({"site_id": site_ids.to_numpy(), "name": cands["name"].to_numpy(), "kind": "swap",
                          "county_adcode": cands["county_adcode"].to_numpy(),
                          "lon": cands.geometry.x.to_numpy(), "lat": cands.geometry.y.to_numpy()})
    return SwapPrepared(block=data.block("swap"), sites=sites, notes=notes, demand=demand, candidates=cands, cost=cm,
                        data=data, type_names=type_names, year=year)


def swap_model_data(region: Region, params: SwapParams | None = None, **kwargs: Any) -> SwapPrepared:
    """The swap tier's preparation (:func:`prepare_swap`; kept for callers of the old name)."""
    return prepare_swap(region, params, **kwargs)


# =========================================================================== solve
def solve_swap(
    prep: SwapPrepared,
    params: SwapParams | None = None,
    *,
    time_limit_s: float | None = None,
    mip_rel_gap: float | None = None,
    threads: int | None = None,
) -> JointSolution:
    """The swap tier alone: its block in the numeric core with one year.

    ``min_cost``: ``solve_joint([block], years=[prep.year])`` with full service, then the
    capital cost (stations + packs) is compared with ``budget_cny``. ``max_served``: the core's
    ``max_service`` with ``budget_cny`` as total budget.

    Parameters
    ----------
    prep
        From :func:`prepare_swap`.
    params
        Tier parameters (``mode``, ``budget_cny``; defaults :class:`SwapParams`).
    time_limit_s, mip_rel_gap, threads
        Solver options (None: the defaults of the one ``[solver]`` section; all threads).

    Returns
    -------
    JointSolution

    Raises
    ------
    InfeasibleError
        ``min_cost``: demand points without any station type-compatible site within their
        service distance, or heavier than all stations allowed within reach can take (named);
        the solver proving infeasibility; the cheapest plan exceeding ``budget_cny``.
    """
    params = params or SwapParams()
    solver = SolverParams()  # the one [solver] section's defaults when no options are given
    tl = solver.time_limit_s if time_limit_s is None else time_limit_s
    gap = solver.mip_rel_gap if mip_rel_gap is None else mip_rel_gap
    full = params.mode == "min_cost"
    b = prep.block if prep.block.full_service == full else dataclasses.replace(prep.block, full_service=full)
    if full:
        _check_reach(b)
    try:
        if full:
            sol = solve_joint([b], years=[prep.year], objective="min_cost", time_limit_s=tl, mip_rel_gap=gap,
                              threads=threads)
        else:
            sol = solve_joint([b], years=[prep.year], total_budget=params.budget_cny, objective="max_service",
                              time_limit_s=tl, mip_rel_gap=gap, threads=threads)
    except InfeasibleError as exc:
        if exc.unserved:
            raise
        raise InfeasibleError(
            "the swap stations allowed within the service distances cannot take every swap (capacity × "
            "max_per_site too small where demand clusters); raise max_per_site or capacity_swaps_day, add "
            "candidate sites, or use mode='max_served'"
        ) from None
    if full and params.budget_cny is not None:
        capital = float(sol.costs.loc[sol.costs["block"] == b.name, "cost_cny"].sum())
        if capital > params.budget_cny * (1 + 1e-9):
            raise InfeasibleError(
                f"serving every swap costs {capital:,.0f} CNY (stations and extra battery packs), above the swap "
                f"budget {params.budget_cny:,.0f} CNY; raise budget_cny or use mode='max_served'"
            )
    return sol


def _check_reach(b: CapacitatedBlock) -> None:
    """Full service: every demand point reaches a site, and all stations allowed within reach can take it."""
    d = np.asarray(b.volume, float)
    reach = np.diff(sp.csr_array(b.dist).indptr)
    none = (reach == 0) & (d > 0)
    if none.any():
        bad = b.demand_ids[none].tolist()
        raise InfeasibleError(
            f"{len(bad)} swap demand point(s) have no candidate site within their service distance: "
            f"{preview_ids(bad)}; add candidate sites near them, raise the fleet type's service_km, "
            "or use mode='max_served'",
            unserved=bad,
        )
    a = b.arcs()
    reach_cap = np.zeros(len(d))
    np.add.at(reach_cap, a["row"], (np.asarray(b.capacity, float) * np.asarray(b.max_per_site, float))[
        a["fac_type"][a["fac"]]])
    short = reach_cap < d * (1 - 1e-9)
    if short.any():
        bad = b.demand_ids[short].tolist()
        raise InfeasibleError(
            f"swap demand point(s) {preview_ids(bad)} need more swaps/day than all stations allowed within "
            "their service distance can do; raise max_per_site or capacity_swaps_day, or add sites",
            unserved=bad,
        )


# =========================================================================== assess
def assess_swap(prep: SwapPrepared, sol: JointSolution, params: SwapParams | None = None) -> SwapResult:
    """Layers and costs of the swap stations open in ``sol`` (the tier alone or the joint plan).

    The stations are read from ``sol.sites`` (rows of the block, last year). Swaps served,
    the assignment and the packs are **recomputed** for those stations: the same core block
    with the station counts fixed (``existing = max_stations =`` the counts) is solved for its
    best flows — full service at least access + pack cost when the block serves every swap,
    else the most swaps within what the budget leaves after the stations. Packs per facility
    are ``max(0, ceil(ρ_k × swaps served) − S_k n_f)``.

    Parameters
    ----------
    prep
        From :func:`prepare_swap` (in a joint plan: with the joint's copy of the block).
    sol
        The core's solution.
    params
        Tier parameters (defaults :class:`SwapParams`).

    Returns
    -------
    SwapResult
    """
    t0 = time.perf_counter()
    params = params or SwapParams()
    b = prep.block
    a = b.arcs()
    K = len(b.type_names)
    rows = sol.sites[sol.sites["block"] == b.name] if len(sol.sites) else sol.sites
    N = np.zeros((len(b.site_ids), K), dtype=np.int64)
    if len(rows):
        jpos = b.site_ids.get_indexer(rows["site_id"])
        kpos = pd.Index(b.type_names).get_indexer(rows["station_type"])
        N[jpos, kpos] = rows["n_stations"].to_numpy(np.int64)
    years = sol.service.loc[sol.service["block"] == b.name, "year"].tolist() or [prep.year]
    x = _best_flows(b, N, params, year=years[-1])
    n_f = N[a["fac_site"], a["fac_type"]]
    ex = np.zeros(len(n_f)) if b.existing is None else np.asarray(b.existing, float)[a["fac_site"], a["fac_type"]]
    served = np.bincount(a["row"], weights=x, minlength=len(b.volume))
    fac_served = np.bincount(a["fac"], weights=x, minlength=len(n_f))
    ft = a["fac_type"]
    station_f = (n_f - ex) * b.fac_cost(a["fac_site"], ft)
    if b.has_packs:
        rho, inc = np.asarray(b.packs_per_volume, float)[ft], np.asarray(b.packs_included, float)[ft]
        extra = np.maximum(np.ceil(rho * fac_served - 1e-9) - inc * n_f, 0.0).astype(np.int64)
        pack_f = extra * np.asarray(b.pack_cost, float)[ft]
    else:
        inc = np.asarray([params.station_types[k].battery_stock for k in b.type_names], float)[ft]
        extra = np.zeros(len(n_f), np.int64)
        pack_f = np.zeros(len(n_f))
    access = float(np.sum(b.access_rate * a["len"] * x))
    open_f = np.flatnonzero(n_f > 0)
    types = np.array(b.type_names, dtype=object)
    cap = np.asarray(b.capacity, float)
    stations = pd.DataFrame({
        "site_id": b.site_ids[a["fac_site"][open_f]].to_numpy(),
        "station_type": types[ft[open_f]],
        "n_stations": n_f[open_f],
        "capacity_swaps_day": n_f[open_f] * cap[ft[open_f]],
        "swaps_served": fac_served[open_f],
        "batteries": (inc[open_f] * n_f[open_f]).astype(np.int64) + extra[open_f],
        "extra_packs": extra[open_f],
        "pack_cost_cny": pack_f[open_f],
        "station_cost_cny": station_f[open_f],
    })
    if len(years) > 1 and len(rows):
        key = pd.MultiIndex.from_frame(stations[["site_id", "station_type"]])
        by = rows.set_index(["site_id", "station_type"])
        stations["phase_year"] = by["build_year"].reindex(key).to_numpy()
        for y in years:  # stations standing by each plan year (they never fall)
            if f"n_{y}" in by.columns:
                stations[f"n_{y}"] = by[f"n_{y}"].reindex(key).fillna(0).astype(np.int64).to_numpy()
    used = np.flatnonzero(x > 0)
    assignment = pd.DataFrame({
        "demand_id": b.demand_ids[a["row"][used]].to_numpy(),
        "site_id": b.site_ids[a["site"][used]].to_numpy(),
        "station_type": types[ft[a["fac"][used]]],
        "swaps_day": x[used],
        "distance_km": a["len"][used],
    })
    station_cost, pack_cost = float(station_f.sum()), float(pack_f.sum())
    D = float(np.sum(b.volume))
    alone = len(years) == 1 and set(sol.service["block"]) <= {b.name}  # the tier's own one-year solve
    if params.mode == "min_cost":
        objective = station_cost + pack_cost + access
        bound = min(sol.bound, objective) if alone and np.isfinite(sol.bound) else float("nan")
    else:
        objective = float(served.sum())
        bound = max(sol.bound * D / max(b.tier_weight, 1e-12), objective) if alone and np.isfinite(sol.bound) \
            else float("nan")
    gap = abs(objective - bound) / max(abs(objective), 1e-9) if np.isfinite(bound) else float(sol.gap)
    stations_gdf, demand_gdf, summary = _assemble(prep, stations, assignment, served)
    logger.info("swap tier: %d sites, %.0f of %.0f swaps/day served, %d extra packs, %s", len(stations_gdf),
                float(served.sum()), D, int(extra.sum()), sol.status)
    return SwapResult(
        stations=stations_gdf, demand=demand_gdf, assignment=assignment, summary=summary, mode=params.mode,
        status=sol.status, objective=objective, bound=bound, gap=gap, seconds=sol.seconds + time.perf_counter() - t0,
        station_cost_cny=station_cost, pack_cost_cny=pack_cost, access_cost_cny=access, notes=list(prep.notes),
        candidates=prep.candidates, cost=prep.cost, solution=sol,
    )


def _best_flows(b: CapacitatedBlock, N: np.ndarray, params: SwapParams, *, year: Any) -> np.ndarray:
    """Swaps/day per arc for fixed station counts ``N`` (sites × types): the core block re-solved.

    Full service (``b.full_service and b.hard``): least access + pack cost. Otherwise the most
    swaps served with the packs the budget left after the stations can buy (``max_service``).
    """
    from gzcharge.solve import solve

    a = b.arcs()
    if not len(a["row"]) or not N.any():
        return np.zeros(len(a["row"]))
    full = bool(b.full_service and b.hard)
    fixed = dataclasses.replace(b, existing=N, max_stations=N, target_share=None, hard_from=None, hard=True,
                                full_service=full)
    if full:
        model, _ = build_joint_model([fixed], years=[year], objective="min_cost", as_arrays=True)
    else:
        ft = a["fac_type"]
        n_f = N[a["fac_site"], ft]
        ex = np.zeros(len(n_f)) if b.existing is None else np.asarray(b.existing, float)[a["fac_site"], ft]
        left = np.inf
        if params.mode == "max_served" and params.budget_cny is not None:
            left = max(float(params.budget_cny) - float(((n_f - ex) * b.fac_cost(a["fac_site"], ft)).sum()), 0.0)
        if b.has_packs:
            rho, inc = np.asarray(b.packs_per_volume, float)[ft], np.asarray(b.packs_included, float)[ft]
            worst = float((np.ceil(np.maximum(rho * np.asarray(b.capacity, float)[ft] - inc, 0.0) * n_f)
                           * np.asarray(b.pack_cost, float)[ft]).sum())
        else:
            worst = 0.0
        model, _ = build_joint_model([fixed], years=[year], objective="max_service",
                                     total_budget=min(left, worst + 1.0), as_arrays=True)
    solver = SolverParams()
    res = solve(model, time_limit_s=solver.time_limit_s, mip_rel_gap=solver.mip_rel_gap, load_solution=False,
                enforce_wall_clock=True)
    x = np.clip(np.asarray(res.values(f"{b.name}__flow"), float), 0.0, None)
    x[x < 1e-7] = 0.0
    return x


def _assemble(prep: SwapPrepared, st: pd.DataFrame, assignment: pd.DataFrame,
              served: np.ndarray) -> tuple[Any, Any, pd.DataFrame]:
    """Station and demand layers and the per-fleet-type summary."""
    import geopandas as gpd

    demand, cands = prep.demand, prep.candidates
    st = st.copy()
    a = assignment.merge(demand[["demand_id", "fleet_type", "fleet_id"]], on="demand_id", how="left")
    fleets = a.groupby(["site_id", "station_type"]).agg(
        fleets=("fleet_type", lambda s: ",".join(sorted(set(s)))),
        fleet_ids=("fleet_id", lambda s: ",".join(sorted(set(map(str, s))))),
    )
    st = st.join(fleets, on=["site_id", "station_type"])
    st["utilisation"] = st["swaps_served"] / st["capacity_swaps_day"]
    st["cost_cny"] = st["station_cost_cny"] + st["pack_cost_cny"]
    c = cands.set_index("site_id")
    st["name"] = c["name"].reindex(st["site_id"]).to_numpy()
    st["county_adcode"] = c["county_adcode"].reindex(st["site_id"]).to_numpy()
    cols = ["site_id", "name", "station_type", "n_stations", "capacity_swaps_day", "swaps_served", "utilisation",
            "fleets", "fleet_ids", "batteries", "extra_packs", "pack_cost_cny", "station_cost_cny", "cost_cny",
            "county_adcode"] + [c for c in st.columns if c == "phase_year" or (c.startswith("n_") and c[2:].isdigit())]
    stations = gpd.GeoDataFrame(st[cols].reset_index(drop=True), geometry=list(c.geometry.reindex(st["site_id"])),
                                crs="EPSG:4326")
    dem = demand.copy()
    dem["swaps_served"] = pd.Series(served, index=prep.block.demand_ids).reindex(dem["demand_id"]).to_numpy()
    dday = dem["swaps_day"].to_numpy(dtype=float)
    dem["served_share"] = np.divide(dem["swaps_served"].to_numpy(dtype=float), dday, out=np.ones_like(dday),
                                    where=dday > 0)
    if len(assignment):
        main = assignment.sort_values(["demand_id", "swaps_day", "site_id"], ascending=[True, False, True])
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
    srv = g["swaps_served"].to_numpy(dtype=float)
    # a fleet type with no swaps (e.g. an area without census population) is trivially fully served
    g["served_share"] = np.divide(srv, day, out=np.ones_like(day), where=day > 0)
    return stations, dem, g.reset_index()


# =========================================================================== one call
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
    threads: int | None = None,
    year: int = 2030,
) -> SwapResult:
    """Plan battery-swap stations for a region: ``assess_swap(prep, solve_swap(prep))``.

    Parameters
    ----------
    region, fleets, candidates, costs, year
        As in :func:`prepare_swap`.
    params
        Tier parameters (defaults: :class:`SwapParams`).
    mode, budget_cny, time_limit_s, mip_rel_gap
        Override the same fields of ``params``.
    threads
        Solver threads (None: all).

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
    prep = prepare_swap(region, params, fleets=fleets, candidates=candidates, costs=costs, year=year)
    sol = solve_swap(prep, params, threads=threads)
    res = assess_swap(prep, sol, params)
    res.seconds = time.perf_counter() - t0
    return res


# =========================================================================== the Tier
class SwapTier(Tier):
    """Battery-swap stations for fleets behind the :class:`~gzcharge.tiers.base.Tier` interface."""

    name = "swap"
    title = "Battery swap (换电) for fleets"
    site_sharing = None  # swap cost is per station; swap sites do not share land/grid cost

    def prepare(self, ctx: PlanContext) -> Prepared:
        from gzcharge.scenario import swap_params

        params = swap_params(ctx.scenario)
        rules = ctx.memo("site_rules", ctx.inputs.site_rules)
        prep = prepare_swap(ctx.region, params, fleets=ctx.inputs.fleets, year=ctx.year,
                            user_sites=rules.for_tier(self.name) if rules is not None else None)
        notes = list(prep.notes)
        if ctx.inputs.fleets is None:
            notes.append(msg("swap.no_fleets_file"))
        if prep.demand.empty:
            return Prepared(self.name, notes=notes, skipped=msg("swap.skipped_floor", floor=params.min_utilisation))
        return Prepared(self.name, block=prep.block, sites=prep.sites, data=(prep, params), notes=notes)

    def solve(self, ctx: PlanContext, prep: Prepared) -> Any:
        data, params = prep.data
        s = ctx.scenario.solver
        return solve_swap(data, params, time_limit_s=s.time_limit_s, mip_rel_gap=s.mip_rel_gap, threads=s.threads)

    def assess(self, ctx: PlanContext, prep: Prepared, sol: Any) -> TierResult:
        data, params = prep.data
        res = assess_swap(data, sol, params)
        st = res.stations
        n = int(st["n_stations"].sum()) if len(st) else 0
        served = float(st["swaps_served"].sum()) if len(st) else 0.0
        summary = [("swap stations", f"{n} at {len(st)} sites"), ("swaps/day served", f"{served:,.0f}"),
                   ("swap cost (CNY)", f"{float(st['cost_cny'].sum()) if len(st) else 0.0:,.0f}"),
                   ("swap solver", f"{res.status}, gap {res.gap:.3%}")]
        text: list[Any] = [
            msg("swap.mode", mode=res.mode, status=res.status, gap=res.gap),
            msg("swap.fleets_file", file=ctx.inputs.fleets) if ctx.inputs.fleets else msg("swap.fleets_default"),
            msg("swap.result", n=n, sites=len(st), served=served, station=res.station_cost_cny,
                packs=res.pack_cost_cny),
        ]
        sections: list[tuple[str, Any]] = [(self.title, text)]
        if res.summary is not None and len(res.summary):
            sections.append(("Battery swap by fleet", res.summary))
        meta = {"mode": res.mode, "station_cost_cny": res.station_cost_cny, "pack_cost_cny": res.pack_cost_cny}
        return TierResult(tier=self.name, title=self.title, status=status_of(res.status), objective=res.objective,
                          gap=res.gap, seconds=res.seconds, layers=res.layers(), summary=summary, sections=sections,
                          metadata=meta, notes=list(getattr(res, "notes", [])), raw=res)
