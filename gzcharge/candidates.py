"""Candidate sites of the public charging tier.

Candidate types (``ctype``) and where they come from:

``existing``
    Charging stations already built: OSM ``amenity=charging_station`` POIs and/or a user
    CSV (``name, lon, lat[, plugs, kw]``, WGS-84). Forced open in every model, cost 0.
``settlement``
    Seats of the region's settlements (prefecture/county seats, townships).
``fuel_station``
    OSM ``amenity=fuel`` POIs.
``parking``
    OSM ``amenity=parking`` POIs with ``capacity >= public.large_parking_min_capacity`` or,
    without a capacity tag, a name.
``urban_grid``
    A square grid at ``public.urban_grid_spacing_km`` inside the built-up discs of the city
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
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gzcharge.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from gzcharge.region import Region
    from gzcharge.scenario import Scenario

logger = logging.getLogger(__name__)

CANDIDATE_COLUMNS = ["site_id", "ctype", "name", "county_adcode", "existing", "cost_cny", "plugs", "kw", "geometry"]
CTYPES = ("existing", "settlement", "fuel_station", "parking", "urban_grid", "grid")
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


def public_candidates(
    region: Region,
    scenario: Scenario,
    *,
    demand: gpd.GeoDataFrame | None = None,
    pois: gpd.GeoDataFrame | None = None,
    existing_stations: gpd.GeoDataFrame | str | os.PathLike[str] | None = None,
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
        sp_m = p.urban_grid_spacing_km * 1000.0
        discs = shapely.union_all(shapely.buffer(shapely.points(zones[["x", "y"]].to_numpy()),
                                                 zones["radius_m"].to_numpy() + sp_m / 2))
        discs = discs.intersection(boundary_m)
        pts = _grid(discs.bounds, sp_m) if not discs.is_empty else np.empty((0, 2))
        if len(pts):
            pts = pts[shapely.contains_xy(discs, pts[:, 0], pts[:, 1])]
            pts = pts[_far_from(pts, frame[["x", "y"]].to_numpy(float), sp_m / 2)]
        frame = pd.concat([frame, pd.DataFrame({"ctype": "urban_grid", "name": "", "x": pts[:, 0], "y": pts[:, 1],
                                                "plugs": np.nan, "kw": np.nan, "source": "grid"})],
                          ignore_index=True)
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
    frame["cost_cny"] = frame["ctype"].map(costs).astype(float)
    frame["existing"] = frame["ctype"] == "existing"
    sid = frame.get("settlement_id")
    counter = frame.groupby("ctype").cumcount() + 1
    ids = frame["ctype"] + "-" + counter.astype(str).str.zfill(4)
    if sid is not None:
        ids = ids.where(frame["ctype"] != "settlement", "settlement-" + sid.astype(str))
    frame["site_id"] = ids

    from gzcharge.demand import _county_of

    counties_m = region.counties.to_crs(crs)
    counties_m["adcode"] = counties_m["adcode"].astype(str)
    nearest = _nearest_county(frame[["x", "y"]].to_numpy(float), counties_m)
    frame["county_adcode"] = _county_of(frame["x"].to_numpy(), frame["y"].to_numpy(), counties_m, nearest)
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
