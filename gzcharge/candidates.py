"""Candidate sites of the public charging tier.

Candidate types (``ctype``) and where they come from:

``existing``
    Charging stations already built: OSM ``amenity=charging_station`` POIs and/or a user
    CSV (``name, lon, lat[, plugs, kw]``, WGS-84). Forced open in every model, cost 0.
``user``
    Sites of a planner's candidate-sites file (``--candidates``, roles candidate/required, tier
    public or empty); cost from its ``cost_cny`` column, else ``public.candidate_cost_cny.grid``
    (a site on new land — an assumption; the file's cost is the planner's own figure); ``plugs``
    the most plugs the site holds (empty: no limit).
``settlement``
    Seats of the region's settlements (prefecture/county seats, townships).
``fuel_station``
    OSM ``amenity=fuel`` POIs.
``parking``
    OSM ``amenity=parking`` POIs with ``capacity >= public.large_parking_min_capacity`` or,
    without a capacity tag, a name.
``urban_grid``
    A square grid at ``public.urban_grid_spacing_km`` (finer in counties whose discs would hold
    fewer grid points than twice the stations the count rule asks for, see
    :func:`urban_grid_spacing_m`) inside the built-up discs of the city
    core and county seats (demand's ``attrs["zones"]``), where no other candidate lies within
    half the spacing.
``grid``
    A square grid at ``public.grid_spacing_km`` over the region (clipped to the boundary),
    where no other candidate lies within half the spacing.

Each site costs ``public.candidate_cost_cny.<ctype>`` (existing: 0). Sites of the same
position are merged (first type in the order above wins).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gzcharge.errors import DataError
from gzcharge.export.i18n import msg

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from gzcharge.region import Region
    from gzcharge.scenario import Scenario

logger = logging.getLogger(__name__)

CANDIDATE_COLUMNS = ["site_id", "ctype", "name", "county_adcode", "existing", "cost_cny", "plugs", "kw", "geometry"]
CTYPES = ("existing", "user", "settlement", "fuel_station", "parking", "urban_grid", "grid")
#: OSM POI tags the public tier uses (pass to ``sources.osm.pois_from_file(..., tags=PUBLIC_POI_TAGS)``)
PUBLIC_POI_TAGS: dict[str, list[str]] = {"amenity": ["fuel", "parking", "charging_station"]}
_SAME_PLACE_M = 1.0


def read_existing_stations(path: str | os.PathLike[str], *, crs: str = "wgs84") -> gpd.GeoDataFrame:
    """Read existing charging stations: a station list or a gridded count.

    *Station list*: ``name, lon, lat[, plugs, kw]`` (名称/站名, 经度, 纬度, 桩数/枪数, 功率; any
    format and encoding :func:`gzcharge.sources.files.read_table` reads). *Gridded count*:
    ``lat, lon, count`` cells (e.g. ``cell_center_lat, cell_center_lon, count`` of a 0.01°
    grid, 数量): each cell becomes ``count`` existing stations at the cell centre, named
    ``grid <lat>,<lon> #k``, plugs unknown (the public tier then takes ``min_plugs`` per
    station, its documented assumption). A file with a ``count`` column and no ``name`` is a
    grid.

    Parameters
    ----------
    path
        The file.
    crs
        Coordinate system of the file (``wgs84``, ``gcj02``, ``bd09`` or ``EPSG:<code>``).

    Returns
    -------
    geopandas.GeoDataFrame
        ``name, plugs, kw, source`` and points (EPSG:4326); ``attrs["column_mapping"]``,
        ``attrs["grid_cells"]`` (cells of a gridded count, else 0).

    Raises
    ------
    DataError
        Missing file or columns; non-numeric, negative or fractional plugs/counts, negative kW;
        coordinates out of range, swapped or projected without ``--crs`` (named as such).
    """
    import geopandas as gpd

    from gzcharge.sources.files import numeric_column, points_from_table, read_table

    what = "existing-stations file"
    p = Path(path)
    df = read_table(p, what, ("name", "lon", "lat", "plugs", "kw", "count"), required=("lon", "lat"))
    if "name" not in df.columns and "count" not in df.columns:
        raise DataError(f"{what} {p}: give a 'name' column (a station list: name, lon, lat[, plugs, kw]) or a "
                        "'count' column (a gridded count: lat, lon, count)")
    if len(df) == 0:
        raise DataError(f"{what} {p}: no rows")
    pts = points_from_table(df, what, crs)
    grid = "count" in df.columns and "name" not in df.columns
    if grid:
        count = numeric_column(df, "count", what, minimum=0, integer=True, allow_missing=False,
                               fix="give a whole number of stations >= 0 per cell")
        n = count.to_numpy().astype(np.int64)
        idx = np.repeat(np.arange(len(df)), n)
        k = np.concatenate([np.arange(1, c + 1) for c in n]) if len(n) else np.zeros(0, np.int64)
        lat_s, lon_s = df["lat"].astype(str).to_numpy()[idx], df["lon"].astype(str).to_numpy()[idx]
        names = [f"grid {a},{o} #{j}" for a, o, j in zip(lat_s, lon_s, k, strict=True)]
        out = gpd.GeoDataFrame({"name": names, "plugs": np.nan, "kw": np.nan},
                               geometry=pts.values[idx], crs="EPSG:4326")
        logger.info("%s: %d grid cells, %d stations at the cell centres", p.name, len(df), int(n.sum()))
    else:
        plugs = numeric_column(df, "plugs", what, minimum=0, integer=True,
                               fix="give the plug (charging-gun) count as a whole number >= 0, or leave it empty")
        kw = numeric_column(df, "kw", what, minimum=0, exclusive_min=True, maximum=100_000,
                            fix="give the power in kW (> 0), or leave it empty")
        out = gpd.GeoDataFrame({"name": df["name"].astype(str).str.strip().to_numpy(), "plugs": plugs.to_numpy(),
                                "kw": kw.to_numpy()}, geometry=pts.values, crs="EPSG:4326")
    out["source"] = f"file:{p.name}"
    out.attrs["column_mapping"] = df.attrs.get("column_mapping", {})
    out.attrs["grid_cells"] = len(df) if grid else 0
    return out


def _grid(bounds: tuple[float, float, float, float], spacing: float) -> np.ndarray:
    x0, y0, x1, y1 = bounds
    xs = np.arange(np.floor(x0 / spacing) * spacing + spacing / 2, x1, spacing)
    ys = np.arange(np.floor(y0 / spacing) * spacing + spacing / 2, y1, spacing)
    xx, yy = np.meshgrid(xs, ys)
    return np.column_stack([xx.ravel(), yy.ravel()])


def _far_from(pts: np.ndarray, others: np.ndarray, dist: float) -> np.ndarray:
    from scipy.spatial import cKDTree

    if len(others) == 0 or len(pts) == 0:
        return np.ones(len(pts), dtype=bool)
    d, _ = cKDTree(others).query(pts, k=1, distance_upper_bound=dist)
    return ~np.isfinite(d)


def _poi_frame(pois: gpd.GeoDataFrame, crs: str, min_capacity: int) -> pd.DataFrame:
    """Fuel, parking and charging-station POIs as rows ``ctype, name, x, y, plugs, kw, source``."""
    if pois is None or len(pois) == 0:
        return pd.DataFrame(columns=["ctype", "name", "x", "y", "plugs", "kw", "source"])
    if pois.crs is None:
        raise DataError("POI frame has no CRS; set it (OSM POIs are EPSG:4326)")
    if "kind" not in pois.columns:
        raise DataError(f"POI frame needs a 'kind' column (key=value) like sources.osm.pois_from_file; "
                        f"columns are {list(pois.columns)}")
    kind = pois["kind"].astype(str)
    name = pois["name"].astype("string") if "name" in pois.columns else pd.Series(pd.NA, index=pois.index, dtype="string")
    cap = pd.to_numeric(pois["capacity"], errors="coerce") if "capacity" in pois.columns else pd.Series(np.nan, index=pois.index)
    is_fuel = kind == "amenity=fuel"
    is_cs = kind == "amenity=charging_station"
    is_park = (kind == "amenity=parking") & ((cap >= min_capacity) | (cap.isna() & name.notna()))
    keep = is_fuel | is_cs | is_park
    sel = pois[keep.to_numpy()]
    geom = sel.geometry.to_crs(crs)
    geom = geom.where(geom.geom_type == "Point", geom.representative_point())
    ctype = np.where(is_cs[keep].to_numpy(), "existing", np.where(is_fuel[keep].to_numpy(), "fuel_station", "parking"))
    osm_name = name[keep].fillna("").to_numpy()
    plugs = pd.to_numeric(sel["capacity"], errors="coerce").where(is_cs[keep]) if "capacity" in sel.columns else np.nan
    return pd.DataFrame({
        "ctype": ctype, "name": osm_name, "x": geom.x.to_numpy(), "y": geom.y.to_numpy(),
        "plugs": plugs, "kw": np.nan, "source": "osm",
    })


#: finest urban grid the candidate densification goes to (m)
MIN_URBAN_GRID_M = 200.0


def urban_grid_spacing_m(zones: pd.DataFrame, county_evs: pd.Series | None, p: Any) -> np.ndarray:
    """Urban grid spacing per built-up zone (m): the default, finer where the station-count rule needs it.

    A county must have one station per ``evs_per_station`` EVs; a grid at ``urban_grid_spacing_km``
    over its built-up discs may hold fewer candidates than that (贵阳's core districts). The
    spacing of a county's discs is ``min(default, sqrt(A / (2 N)))`` — ``A`` the county's disc area,
    ``N`` the stations it needs, so the discs hold about twice as many grid points as stations —
    and at least :data:`MIN_URBAN_GRID_M`.
    """
    base = p.urban_grid_spacing_km * 1000.0
    out = np.full(len(zones), base)
    if county_evs is None or not len(zones):
        return out
    codes = zones["county_adcode"].astype(str)
    area = (np.pi * zones["radius_m"].to_numpy(float) ** 2)
    a_c = pd.Series(area).groupby(codes.to_numpy()).sum()
    need = np.ceil(pd.Series(county_evs).reindex(a_c.index).fillna(0.0) / p.evs_per_station - 1e-9)
    sp = np.sqrt(a_c / np.maximum(2.0 * need, 1.0)).clip(lower=MIN_URBAN_GRID_M, upper=base)
    # round to 50 m so zones of similar need share one grid
    sp = (np.floor(sp / 50.0) * 50.0).clip(lower=MIN_URBAN_GRID_M)
    return sp.reindex(codes.to_numpy()).fillna(base).to_numpy(float)


def public_candidates(
    region: Region,
    scenario: Scenario,
    *,
    demand: gpd.GeoDataFrame | None = None,
    pois: gpd.GeoDataFrame | None = None,
    existing_stations: gpd.GeoDataFrame | str | os.PathLike[str] | None = None,
    user_sites: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Candidate sites of the public tier (see the module docstring).

    Parameters
    ----------
    region
        Region (boundary, counties, settlements).
    scenario
        Uses ``public`` (costs, grid spacings, parking size).
    demand
        Output of :func:`gzcharge.demand.public_demand`; its ``attrs["zones"]`` (built-up
        discs) place the urban grid. Without it there is no urban grid.
    pois
        OSM POIs (``kind`` column such as ``amenity=fuel``), e.g. from
        ``sources.osm.pois_from_file(path, region.boundary, tags=PUBLIC_POI_TAGS)``.
    existing_stations
        A CSV path (:func:`read_existing_stations`) or a GeoDataFrame with ``name`` (and
        optionally ``plugs``, ``kw``) of stations already built.
    user_sites
        Rows of :func:`read_candidate_sites` to add (``site_id, name, cost_cny`` and points).

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points with :data:`CANDIDATE_COLUMNS` plus ``source``; ``site_id`` strings
        ``<ctype>-<n>`` (settlements: ``settlement-<settlement_id>``).
    """
    import geopandas as gpd
    import shapely

    p = scenario.public
    crs = region.metric_crs
    boundary_m = gpd.GeoSeries([region.boundary], crs="EPSG:4326").to_crs(crs).iloc[0]
    parts = []

    # existing stations (user CSV and OSM charging stations)
    if existing_stations is not None:
        ex = existing_stations if isinstance(existing_stations, gpd.GeoDataFrame) else read_existing_stations(existing_stations)
        if ex.crs is None:
            raise DataError("existing stations have no CRS; set it (EPSG:4326 for lon/lat)")
        g = ex.geometry.to_crs(crs)
        inside = shapely.contains_xy(boundary_m.buffer(1000.0), g.x.to_numpy(), g.y.to_numpy())
        if (~inside).any():
            logger.info("dropped %d existing stations outside %s", int((~inside).sum()), region.name)
        parts.append(pd.DataFrame({
            "ctype": "existing", "name": ex["name"].astype(str).to_numpy()[inside] if "name" in ex else "",
            "x": g.x.to_numpy()[inside], "y": g.y.to_numpy()[inside],
            "plugs": (ex["plugs"].to_numpy(dtype=float) if "plugs" in ex else np.full(len(ex), np.nan))[inside],
            "kw": (ex["kw"].to_numpy(dtype=float) if "kw" in ex else np.full(len(ex), np.nan))[inside],
            "source": (ex["source"].astype(str).to_numpy() if "source" in ex else np.full(len(ex), "user"))[inside],
        }))
    poi = _poi_frame(pois, crs, p.large_parking_min_capacity) if pois is not None else None
    if poi is not None and len(poi):
        parts.append(poi[poi["ctype"] == "existing"])
    if user_sites is not None and len(user_sites):
        g = user_sites.geometry.to_crs(crs)
        parts.append(pd.DataFrame({
            "ctype": "user", "name": user_sites["name"].astype(str).to_numpy(), "x": g.x.to_numpy(),
            "y": g.y.to_numpy(), "plugs": pd.to_numeric(user_sites["plugs"], errors="coerce").to_numpy(float),
            "kw": np.nan, "source": "candidates-file",
            "user_id": user_sites["site_id"].astype(str).to_numpy(),
            "user_cost": pd.to_numeric(user_sites["cost_cny"], errors="coerce").to_numpy(float),
        }))

    # settlement seats (the prefecture seat shares its county seat's position: merged below)
    s = region.settlements.to_crs(crs)
    parts.append(pd.DataFrame({
        "ctype": "settlement", "name": s["name"].astype(str).to_numpy(), "x": s.geometry.x.to_numpy(),
        "y": s.geometry.y.to_numpy(), "plugs": np.nan, "kw": np.nan,
        "source": s["source"].astype(str).to_numpy() if "source" in s else "region",
        "settlement_id": s["settlement_id"].astype(str).to_numpy(),
    }))
    if poi is not None and len(poi):
        parts.append(poi[poi["ctype"] != "existing"])
    frame = pd.concat(parts, ignore_index=True)

    # urban grid inside the built-up discs, where nothing else is near
    zones = demand.attrs.get("zones") if demand is not None else None
    if zones is not None and len(zones):
        spacing = urban_grid_spacing_m(zones, demand.attrs.get("county_evs"), p)
        for sp_m in np.unique(spacing)[::-1]:  # coarse first; finer grids fill around them
            z = zones[spacing == sp_m]
            discs = shapely.union_all(shapely.buffer(shapely.points(z[["x", "y"]].to_numpy()),
                                                     z["radius_m"].to_numpy() + sp_m / 2))
            discs = discs.intersection(boundary_m)
            pts = _grid(discs.bounds, sp_m) if not discs.is_empty else np.empty((0, 2))
            if len(pts):
                pts = pts[shapely.contains_xy(discs, pts[:, 0], pts[:, 1])]
                pts = pts[_far_from(pts, frame[["x", "y"]].to_numpy(float), sp_m / 2)]
            frame = pd.concat([frame, pd.DataFrame({"ctype": "urban_grid", "name": "", "x": pts[:, 0],
                                                    "y": pts[:, 1], "plugs": np.nan, "kw": np.nan,
                                                    "source": "grid"})], ignore_index=True)
    # regional grid where nothing else is near
    sp_m = p.grid_spacing_km * 1000.0
    pts = _grid(boundary_m.bounds, sp_m)
    pts = pts[shapely.contains_xy(boundary_m, pts[:, 0], pts[:, 1])]
    pts = pts[_far_from(pts, frame[["x", "y"]].to_numpy(float), sp_m / 2)]
    frame = pd.concat([frame, pd.DataFrame({"ctype": "grid", "name": "", "x": pts[:, 0], "y": pts[:, 1],
                                            "plugs": np.nan, "kw": np.nan, "source": "grid"})], ignore_index=True)

    # merge sites at the same place (first ctype in priority order wins)
    order = frame["ctype"].map({c: i for i, c in enumerate(CTYPES)})
    frame = frame.assign(_o=order).sort_values("_o", kind="stable")
    key = np.round(frame["x"].to_numpy() / _SAME_PLACE_M).astype(np.int64) * 10_000_000_000 + \
        np.round(frame["y"].to_numpy() / _SAME_PLACE_M).astype(np.int64)
    # several existing stations may share a position (a gridded count): each stays a station
    dup = pd.Series(key).duplicated().to_numpy() & (frame["ctype"].to_numpy() != "existing")
    frame = frame[~dup].drop(columns="_o").reset_index(drop=True)

    costs = p.candidate_cost_cny.model_dump()
    costs["existing"] = 0.0
    costs.setdefault("user", costs["grid"])
    frame["cost_cny"] = frame["ctype"].map(costs).astype(float)
    if "user_cost" in frame.columns:
        uc = frame["user_cost"].to_numpy(float)
        frame["cost_cny"] = np.where(np.isfinite(uc), uc, frame["cost_cny"].to_numpy(float))
    frame["existing"] = frame["ctype"] == "existing"
    sid = frame.get("settlement_id")
    counter = frame.groupby("ctype").cumcount() + 1
    ids = frame["ctype"] + "-" + counter.astype(str).str.zfill(4)
    if sid is not None:
        ids = ids.where(frame["ctype"] != "settlement", "settlement-" + sid.astype(str))
    if "user_id" in frame.columns:
        ids = ids.where(frame["ctype"] != "user", pd.Series(planner_site_ids(frame["user_id"]), index=frame.index))
    frame["site_id"] = ids

    from gzcharge.demand import _county_of

    counties_m = region.counties.to_crs(crs)
    counties_m["adcode"] = counties_m["adcode"].astype(str)
    nearest = _nearest_county(frame[["x", "y"]].to_numpy(float), counties_m)
    frame["county_adcode"] = _county_of(frame["x"].to_numpy(), frame["y"].to_numpy(), counties_m, nearest)
    frame = frame.drop(columns=[c for c in ("user_id", "user_cost") if c in frame.columns])
    gdf = gpd.GeoDataFrame(frame.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(frame["x"], frame["y"]),
                           crs=crs).to_crs("EPSG:4326")
    gdf["name"] = gdf["name"].fillna("").astype(str)
    if not gdf["site_id"].is_unique:
        dup = gdf["site_id"][gdf["site_id"].duplicated()].tolist()[:10]
        raise DataError(f"duplicate candidate site ids {dup}")
    logger.info("public candidates: %s", gdf["ctype"].value_counts().to_dict())
    return gdf[[*CANDIDATE_COLUMNS, "source"]]


def _nearest_county(xy: np.ndarray, counties_m: gpd.GeoDataFrame) -> np.ndarray:
    """Adcode of the nearest county polygon (for points just outside every polygon)."""
    import shapely

    geoms = counties_m.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    idx = tree.query_nearest(shapely.points(xy), return_distance=False, all_matches=False)
    out = np.empty(len(xy), dtype=object)
    out[idx[0]] = counties_m["adcode"].to_numpy()[idx[1]]
    return out


# =========================================================================== planner's site rules
#: Roles of a candidate-sites file (``--candidates``) and their accepted spellings.
ROLE_ALIASES = {"candidate": "candidate", "候选": "candidate", "": "candidate", "add": "candidate",
                "required": "required", "必选": "required", "必建": "required", "强制": "required",
                "force": "required", "forced": "required",
                "forbidden": "forbidden", "禁止": "forbidden", "禁建": "forbidden", "exclude": "forbidden",
                "excluded": "forbidden"}
#: Tier names of a candidate-sites file's ``tier`` column (empty = every tier).
TIER_ALIASES = {"": "", "all": "", "全部": "", "public": "public", "公共": "public", "公共充电": "public",
                "highway": "highway", "高速": "highway", "高速公路": "highway", "swap": "swap", "换电": "swap",
                "hydrogen": "hydrogen", "氢能": "hydrogen", "加氢": "hydrogen", "加氢站": "hydrogen"}
#: Distance within which a forbidden or required row matches a tier's candidate site (assumption:
#: the position error of a hand-placed point or a geocoded address, ~50–200 m).
SITE_MATCH_TOLERANCE_M = 100.0
#: Prefix of a candidate-sites file row's id among a tier's sites (``user-<site_id>``), in every tier.
PLANNER_ID_PREFIX = "user-"


def planner_site_ids(site_ids: Any) -> np.ndarray:
    """Tier site ids of candidate-sites file rows: ``user-<site_id>`` (one rule for every tier)."""
    return (PLANNER_ID_PREFIX + pd.Series(site_ids, dtype=str)).to_numpy(object)


def _coded(df: pd.DataFrame, col: str, aliases: dict[str, str], path: Path, allowed: str) -> pd.Series:
    """Column ``col`` mapped through ``aliases`` (missing column: all empty); unknown values name the lines."""
    from gzcharge.sources.files import _lines

    raw = df[col].astype(str).str.strip() if col in df.columns else pd.Series("", index=df.index)
    out = raw.str.lower().map(aliases)
    if out.isna().any():
        bad = out.isna()
        raise DataError(f"{path}: column '{col}' has {raw[bad].iloc[0]!r} on line(s) {_lines(df, bad)}; use {allowed}")
    return out


def read_candidate_sites(path: str | os.PathLike[str], *, crs: str = "wgs84") -> gpd.GeoDataFrame:
    """Read a planner's candidate-sites file (``--candidates``).

    Columns (Chinese or English headers, any format :func:`gzcharge.sources.files.read_table`
    reads): ``lon, lat`` (required), ``site_id`` (编号; default ``U-0001``…), ``name`` (名称),
    ``role`` (角色: ``candidate``/候选 — add the site, the default; ``required``/必选 — open it in
    every plan; ``forbidden``/禁止 — never open a tier site there), ``tier`` (层级: public/公共,
    highway/高速, swap/换电, hydrogen/氢能; empty = every tier), ``plugs`` (capacity, whole
    plugs > 0) and ``cost_cny`` (费用; CNY > 0; empty = the tier's default cost).

    How each tier takes a candidate or required row (ids ``user-<site_id>`` in every tier;
    forbidden rows and exclusion zones act through :meth:`SiteRules.masks`):

    ============  ==========================================  ============================================
    tier          ``cost_cny``                                ``plugs``
    ============  ==========================================  ============================================
    public        the site's cost (first ``min_plugs`` plugs)  most plugs the site holds (``max_plugs``)
    highway       the site's cost                              most plugs the station is sized to
    swap          the cost of one swap station there           not a swap notion (capacity is stations ×
                                                               ``capacity_swaps_day``): not used
    hydrogen      the station's cost                           not a hydrogen notion (sizes in kg/day)
    ============  ==========================================  ============================================

    Public and swap take a row anywhere (free point sites); highway and hydrogen snap it onto
    the expressway corridor within ``highway.candidate_snap_m`` (``skeleton_snap_m`` on the
    built-in skeleton): farther is an error for a required row naming the tier, a warning for a
    candidate, and a row without a tier is then simply no corridor site
    (:func:`gzcharge.highway.candidates.build_candidates`).

    Returns
    -------
    geopandas.GeoDataFrame
        ``site_id, name, role, tier, plugs, cost_cny`` and points (EPSG:4326).

    Raises
    ------
    DataError
        Unknown roles or tiers (naming the lines), repeated ids, bad numbers, bad coordinates.
    """
    import geopandas as gpd

    from gzcharge.sources.files import numeric_column, points_from_table, read_table

    what = "candidate-sites file"
    p = Path(path)
    df = read_table(p, what, ("site_id", "name", "lon", "lat", "role", "tier", "plugs", "cost_cny"),
                    required=("lon", "lat"))
    if len(df) == 0:
        raise DataError(f"{what} {p}: no rows")
    pts = points_from_table(df, what, crs)
    role = _coded(df, "role", ROLE_ALIASES, p, "candidate/候选, required/必选 or forbidden/禁止")
    tier = _coded(df, "tier", TIER_ALIASES, p,
                  "public, highway, swap, hydrogen (公共/高速/换电/氢能) or leave it empty for every tier")
    ids = df["site_id"].astype(str).str.strip() if "site_id" in df.columns else pd.Series("", index=df.index)
    ids = ids.where(ids != "", pd.Series([f"U-{k + 1:04d}" for k in range(len(df))], index=df.index))
    if ids.duplicated().any():
        raise DataError(f"{p}: repeated site ids {ids[ids.duplicated()].unique().tolist()[:10]}; ids must be unique")
    plugs = numeric_column(df, "plugs", what, minimum=0, exclusive_min=True, integer=True,
                           fix="give whole plugs > 0 (the site's capacity) or leave it empty")
    cost = numeric_column(df, "cost_cny", what, minimum=0, maximum=1e10,
                          fix="give the site's cost in CNY (>= 0) or leave it empty for the tier's default")
    names = df["name"].astype(str).str.strip() if "name" in df.columns else ids
    out = gpd.GeoDataFrame({"site_id": ids.to_numpy(), "name": names.where(names != "", ids).to_numpy(),
                            "role": role.to_numpy(), "tier": tier.to_numpy(), "plugs": plugs.to_numpy(),
                            "cost_cny": cost.to_numpy()}, geometry=pts.values, crs="EPSG:4326")
    out.attrs["column_mapping"] = df.attrs.get("column_mapping", {})
    return out


def read_exclusion_zones(path: str | os.PathLike[str], *, crs: str = "wgs84") -> gpd.GeoDataFrame:
    """Read exclusion polygons (``--exclude``: 生态保护红线, 永久基本农田, water …), EPSG:4326.

    Any polygon layer GDAL reads; an optional ``name`` field (名称) labels the zones.

    Raises
    ------
    DataError
        Missing/unreadable file, no polygons, non-polygon geometries.
    """
    import geopandas as gpd
    import shapely

    from gzcharge.sources.files import _check_crs_choice, _read_vector, _to_wgs84

    p = Path(path)
    if not p.exists():
        raise DataError(f"exclusion-zone file {p} does not exist")
    gdf = _read_vector(p, None)
    if not isinstance(gdf, gpd.GeoDataFrame) or len(gdf) == 0 or gdf.geometry.isna().all():
        raise DataError(f"exclusion-zone file {p}: no polygons; give a polygon layer (GPKG/GeoJSON/SHP)")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    kinds = set(gdf.geom_type)
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise DataError(f"exclusion-zone file {p}: geometries must be polygons, found {sorted(kinds)}")
    name_col = next((c for c in ("name", "名称", "NAME", "Name") if c in gdf.columns), None)
    names = gdf[name_col].astype(str).to_numpy() if name_col else [f"zone {k + 1}" for k in range(len(gdf))]
    out = gpd.GeoDataFrame({"name": names}, geometry=shapely.make_valid(gdf.geometry.values), crs=gdf.crs)
    return _to_wgs84(out, _check_crs_choice(crs), p)


class SiteRules:
    """A planner's site rules for every tier: added candidates, required and forbidden sites, zones.

    Parameters
    ----------
    sites
        From :func:`read_candidate_sites` (or None).
    zones
        From :func:`read_exclusion_zones` (or None).
    tolerance_m
        :data:`SITE_MATCH_TOLERANCE_M`.
    path
        The candidate-sites file (for messages).
    """

    def __init__(self, sites: gpd.GeoDataFrame | None = None, zones: gpd.GeoDataFrame | None = None, *,
                 tolerance_m: float = SITE_MATCH_TOLERANCE_M, path: str | os.PathLike[str] | None = None) -> None:
        self.sites = sites
        self.zones = zones
        self.tolerance_m = float(tolerance_m)
        self.path = "" if path is None else str(path)

    def for_tier(self, tier: str, roles: tuple[str, ...] = ("candidate", "required")) -> gpd.GeoDataFrame | None:
        """Rows of ``roles`` that apply to ``tier`` (tier column empty or equal), or None."""
        return self.for_tiers([tier], roles)

    def for_tiers(self, tiers: list[str], roles: tuple[str, ...] = ("candidate", "required")) -> gpd.GeoDataFrame | None:
        """Rows of ``roles`` that apply to any of ``tiers`` (tier column empty or one of them), or None."""
        if self.sites is None:
            return None
        s = self.sites
        sel = s[s["role"].isin(roles) & s["tier"].isin(["", *tiers])]
        return sel if len(sel) else None

    def masks(self, tier: str, sites: pd.DataFrame, existing: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
        """``(forced, forbidden, table)`` for a tier's block sites (``site_id, lon, lat`` in block order).

        A required row forces the block site with its id, else the nearest one within
        ``tolerance_m``; a forbidden row forbids the site with its id and every site within
        ``tolerance_m``; every new site inside an exclusion zone is forbidden. Existing sites are
        never forbidden (they are built). ``table`` lists the rules applied: ``site_id, name,
        rule, reason, matched`` (the block site or "" when none matched).
        """
        import geopandas as gpd
        from scipy.spatial import cKDTree

        m = len(sites)
        forced, forbidden = np.zeros(m, bool), np.zeros(m, bool)
        ex = np.zeros(m, bool) if existing is None else np.asarray(existing, bool)
        rows: list[dict] = []
        if m == 0:
            return forced, forbidden, pd.DataFrame(rows, columns=["site_id", "name", "rule", "reason", "matched"])
        pts = gpd.GeoSeries(gpd.points_from_xy(sites["lon"], sites["lat"]), crs="EPSG:4326")
        lon0 = float(np.nanmean(sites["lon"]))
        from gzcharge.crs import metric_crs_for

        crs_m = metric_crs_for(lon0, float(np.nanmean(sites["lat"])))
        xy = np.column_stack([pts.to_crs(crs_m).x, pts.to_crs(crs_m).y])
        tree = cKDTree(xy)
        ids = sites["site_id"].astype(str).to_numpy()
        pos = {s: k for k, s in enumerate(ids)}
        for role in ("required", "forbidden"):
            r = self.for_tier(tier, (role,))
            if r is None:
                continue
            rxy = np.column_stack([r.geometry.to_crs(crs_m).x, r.geometry.to_crs(crs_m).y])
            for k, (sid, name) in enumerate(zip(r["site_id"].astype(str), r["name"].astype(str), strict=True)):
                uid = PLANNER_ID_PREFIX + sid
                if sid in pos or uid in pos:
                    hit = [pos.get(sid, pos.get(uid))]
                elif role == "required":
                    d, j = tree.query(rxy[k], distance_upper_bound=self.tolerance_m)
                    hit = [int(j)] if np.isfinite(d) else []
                else:
                    hit = list(tree.query_ball_point(rxy[k], self.tolerance_m))
                if role == "required":
                    forced[hit] = True
                    reason = msg("rules.required") if hit else msg("rules.required_missed", tier=tier,
                                                                    m=self.tolerance_m)
                else:
                    hit = [h for h in hit if not ex[h]]
                    forbidden[hit] = True
                    reason = msg("rules.forbidden")
                rows.append({"site_id": sid, "name": name, "rule": role, "reason": reason,
                             "matched": ", ".join(ids[hit])})
        if self.zones is not None and len(self.zones):
            import shapely

            zm = self.zones.to_crs(crs_m)
            tree_z = shapely.STRtree(zm.geometry.values)
            pi, zi = tree_z.query(shapely.points(xy), predicate="within")
            inside = np.zeros(m, bool)
            inside[pi] = True
            inside &= ~ex
            zname = zm["name"].astype(str).to_numpy()
            first_zone = {}
            for a, b in zip(pi, zi, strict=True):
                first_zone.setdefault(int(a), zname[b])
            for j in np.flatnonzero(inside & ~forbidden):
                rows.append({"site_id": ids[j], "name": str(sites["name"].iloc[j]) if "name" in sites else "",
                             "rule": "forbidden", "reason": msg("rules.zone", zone=first_zone[int(j)]),
                             "matched": ids[j]})
            forbidden |= inside
        return forced, forbidden, pd.DataFrame(rows, columns=["site_id", "name", "rule", "reason", "matched"])


def apply_site_rules(rules: SiteRules, tier: str, prep: Any) -> list[str]:
    """Set a prepared tier's block masks from ``rules`` (in place); returns notes for the report.

    ``prep`` is a :class:`gzcharge.tiers.base.Prepared` whose ``sites`` frame is in block order.
    The block object is shared with the tier's private data, so setting its attributes reaches
    the tier's own solve as well as the joint model.
    """
    from gzcharge._util import preview_ids

    blk, sites = prep.block, prep.sites
    if blk is None or sites is None or len(sites) != len(blk.site_ids):
        return []
    ex = getattr(blk, "existing", None)
    ex = None if ex is None else (np.asarray(ex).reshape(len(sites), -1).sum(axis=1) > 0)
    forced, forbidden, table = rules.masks(tier, sites, ex)
    if ex is not None:
        forced &= ~ex  # already open
    blk.forced = forced if forced.any() else None
    blk.forbidden = forbidden if forbidden.any() else None
    prep.site_rules = table
    notes = []
    cost = site_open_cost(blk)
    if forced.any():
        own = float(cost[forced].sum()) if len(cost) == len(sites) else float("nan")
        notes.append(msg("rules.forced", n=int(forced.sum()), ids=preview_ids(sites["site_id"][forced]), cost=own))
    missed = table[(table["rule"] == "required") & (table["matched"] == "")]
    if len(missed):
        notes.append(msg("rules.not_placed", ids=preview_ids(missed["site_id"]), tier=tier, m=rules.tolerance_m))
    if forbidden.any():
        zones = int(table["reason"].str.startswith("inside exclusion zone").sum())
        notes.append(msg("rules.forbidden_n", n=int(forbidden.sum()), zones=zones,
                         ids=preview_ids(sites["site_id"][forbidden])))
    return notes


def site_open_cost(blk: Any) -> np.ndarray:
    """Cost of opening each site of a core block (CNY): ``site_cost``, or for a capacitated block the
    cheapest single station there (``station_cost`` where given, else the type's ``unit_cost``)."""
    if getattr(blk, "site_cost", None) is not None:
        return np.asarray(blk.site_cost, float)
    m, k = len(blk.site_ids), len(blk.unit_cost)
    # one station of each type at each site, priced by the block's own rule (station_cost or F_k)
    per = blk.fac_cost(np.repeat(np.arange(m), k), np.tile(np.arange(k), m)).reshape(m, k)
    return per.min(axis=1) if per.size else np.zeros(m)


def site_rules_section(prep: Any, result: Any) -> tuple[Any, pd.DataFrame] | None:
    """The report table of a tier's site rules: each rule, the tier site it matched, whether that site is
    in the plan and what it costs there (the forcing cost of a required site), or None without rules.

    ``prep`` is the tier's :class:`~gzcharge.tiers.base.Prepared` (its ``site_rules`` table from
    :func:`apply_site_rules`), ``result`` its :class:`~gzcharge.tiers.base.TierResult`; the cost is
    the sum of ``cost_cny`` over the site's rows in the tier's ``*_stations`` layer.
    """
    table = getattr(prep, "site_rules", None)
    if table is None or not len(table):
        return None
    cost = pd.Series(dtype=float)
    for name, layer in (result.layers or {}).items():
        if name.endswith("_stations") and {"site_id", "cost_cny"} <= set(getattr(layer, "columns", [])):
            cost = pd.to_numeric(layer["cost_cny"], errors="coerce").groupby(layer["site_id"].astype(str)).sum()
            break
    matched = table["matched"].astype(str)
    first = matched.str.split(", ").str[0]
    out = table.assign(in_plan=[bool(m) and all(x in cost.index for x in m.split(", ")) for m in matched],
                       cost_cny=[float(sum(cost[x] for x in m.split(", ") if x in cost.index))
                                 if m and any(x in cost.index for x in m.split(", ")) else np.nan for m in matched])
    out.loc[first == "", "in_plan"] = False
    return msg("rules.title", tier=result.tier), out
