"""User files: boundary polygons (GPKG/GeoJSON/SHP) and township seat tables (CSV/GPKG/…).

Both readers return EPSG:4326 (WGS-84) GeoDataFrames. Files whose coordinates are GCJ-02
(Amap / Aliyun DataV / Tencent data, ~540 m off in Guizhou) are converted when called with
``crs="gcj02"``; projected files are reprojected to WGS-84 (``crs="gcj02"`` then is an
error, since GCJ-02 only exists as longitude/latitude).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from gzcharge._util import preview_ids
from gzcharge.errors import ConfigError, DataError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

logger = logging.getLogger(__name__)

CRS_CHOICES = ("wgs84", "gcj02")
VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".zip", ".fgb")
TOWNSHIP_COLUMNS = ("code", "name", "county_adcode")


def _check_crs_choice(crs: str) -> str:
    key = str(crs).lower().replace("-", "").replace("_", "")
    aliases = {"wgs84": "wgs84", "epsg4326": "wgs84", "gcj02": "gcj02", "gcj": "gcj02"}
    if key not in aliases:
        raise ConfigError(f"unknown coordinate system {crs!r}: use 'wgs84' or 'gcj02'")
    return aliases[key]


def _read_vector(path: Path, layer: str | None = None) -> gpd.GeoDataFrame:
    import pyogrio

    if not path.exists():
        raise DataError(f"file not found: {path}")
    try:
        return pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:  # pyogrio raises several DataSourceError/FieldError types
        raise DataError(f"cannot read {path} as a vector file ({type(exc).__name__}: {exc})") from exc


def _to_wgs84(gdf: gpd.GeoDataFrame, crs: str, path: Path) -> gpd.GeoDataFrame:
    """Bring ``gdf`` to EPSG:4326, converting from GCJ-02 when ``crs == 'gcj02'``."""
    from gzcharge.crs import WGS84, geodataframe_gcj02_to_wgs84

    if gdf.crs is None:
        gdf = gdf.set_crs(WGS84)
    elif not gdf.crs.is_geographic:
        if crs == "gcj02":
            raise ConfigError(
                f"{path} is in projected CRS {gdf.crs.to_string()}; GCJ-02 data is always "
                "longitude/latitude — drop --crs gcj02 or check the file")
        return gdf.to_crs(WGS84)
    elif gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(WGS84)  # e.g. CGCS2000 geographic (EPSG:4490): sub-metre datum change
    bounds = gdf.total_bounds
    if len(gdf) and (abs(bounds[[0, 2]]).max() > 180 or abs(bounds[[1, 3]]).max() > 90):
        raise DataError(
            f"{path}: coordinates {bounds.round(1).tolist()} are not longitude/latitude but the file "
            "declares no projected CRS; add the .prj / CRS to the file")
    if crs == "gcj02":
        logger.info("converting %s from GCJ-02 to WGS-84", path.name)
        gdf = geodataframe_gcj02_to_wgs84(gdf)
    return gdf


def _code_strings(values) -> list[str]:
    import pandas as pd

    s = pd.Series(values)
    if pd.api.types.is_float_dtype(s) and s.notna().all() and (s % 1 == 0).all():
        s = s.astype("int64")
    return s.astype(str).str.strip().str.replace(r"\.0$", "", regex=True).tolist()


def read_boundaries(
    path: str | os.PathLike[str],
    *,
    code_field: str,
    name_field: str,
    crs: str = "wgs84",
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read boundary polygons with a code and a name field.

    Parameters
    ----------
    path
        GeoPackage, GeoJSON, shapefile (or anything GDAL reads).
    code_field, name_field
        Attribute fields holding each polygon's code (e.g. adcode) and name.
    crs
        ``"wgs84"`` (default) or ``"gcj02"`` for Amap/DataV coordinates to be converted.
    layer
        Layer name for multi-layer files (GeoPackage); default the first layer.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code`` (str), ``name`` (str), ``geometry`` (valid polygons), EPSG:4326.

    Raises
    ------
    DataError
        Missing file or field (the message lists the fields present), no polygons,
        empty/invalid geometries, duplicate codes.
    ConfigError
        Unknown ``crs`` value.
    """
    import geopandas as gpd
    import shapely

    crs_key = _check_crs_choice(crs)
    p = Path(path)
    gdf = _read_vector(p, layer)
    fields = [c for c in gdf.columns if c != gdf.geometry.name]
    for role, field in (("code", code_field), ("name", name_field)):
        if field not in gdf.columns:
            raise DataError(
                f"{p}: no {role} field {field!r}; fields present: {', '.join(fields) or '(none)'}. "
                f"Pass the right field name with --{role}-field")
    if len(gdf) == 0:
        raise DataError(f"{p}: no features")
    geom = gdf.geometry
    empty = geom.isna() | geom.is_empty
    if empty.any():
        raise DataError(f"{p}: {int(empty.sum())} feature(s) without geometry, codes "
                        f"{preview_ids(gdf.loc[empty, code_field])}")
    kinds = set(geom.geom_type)
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise DataError(f"{p}: boundary features must be polygons, found {sorted(kinds)}")
    codes = _code_strings(gdf[code_field])
    out = gpd.GeoDataFrame(
        {"code": codes, "name": gdf[name_field].astype(str).str.strip().tolist()},
        geometry=list(geom.values), crs=gdf.crs,
    )
    dup = out["code"][out["code"].duplicated()].unique().tolist()
    if dup:
        raise DataError(f"{p}: field {code_field!r} repeats codes {preview_ids(dup)}; codes must be unique")
    out = _to_wgs84(out, crs_key, p)
    invalid = ~out.geometry.is_valid
    if invalid.any():
        logger.info("%s: repairing %d invalid polygon(s)", p.name, int(invalid.sum()))
        fixed = shapely.make_valid(out.geometry.values)
        out = out.set_geometry(gpd.GeoSeries(fixed, index=out.index, crs=out.crs).buffer(0))
    return out


def read_township_seats(
    path: str | os.PathLike[str],
    *,
    crs: str = "wgs84",
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read township seats (镇/乡/街道 seats) from CSV, GPKG, GeoJSON or SHP.

    The file needs the columns ``code`` (township code, unique), ``name``, ``county_adcode``
    and a position: ``lon``/``lat`` columns (CSV, or any file) or point geometries.
    An optional ``population`` column is kept. Extra columns are ignored.

    County codes are checked against the 88 Guizhou counties of the 2020 census. Known
    renamed codes (e.g. 520221 水城县 -> 520204 水城区, 520222 盘县 -> 520281 盘州市,
    522322 兴仁县 -> 522302 兴仁市, 520581 黔西市 -> 520522) are mapped and listed in the log
    and in ``gdf.attrs["remapped_county_codes"]``; any other unknown code is an error.

    Parameters
    ----------
    path
        The file.
    crs
        ``"wgs84"`` (default) or ``"gcj02"``.
    layer
        Layer for multi-layer vector files.

    Returns
    -------
    geopandas.GeoDataFrame
        Settlement columns ``settlement_id, name, kind ("township"), county_adcode,
        population, population_basis, source ("file:<name>")`` and point geometry, EPSG:4326.
    """
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    from gzcharge.sources import builtin

    crs_key = _check_crs_choice(crs)
    p = Path(path)
    if not p.exists():
        raise DataError(f"township file not found: {p}")
    if p.suffix.lower() in (".csv", ".txt"):
        try:
            df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except Exception as exc:
            raise DataError(f"cannot read township file {p} as CSV: {exc}") from exc
        geom = None
    else:
        vec = _read_vector(p, layer)
        if isinstance(vec, gpd.GeoDataFrame) and vec.geometry.notna().any():
            geom, crs_file = vec.geometry, vec.crs
            df = pd.DataFrame(vec.drop(columns=vec.geometry.name))
        else:  # attribute-only table (e.g. a GeoPackage table without geometry): needs lon/lat
            geom, crs_file = None, "EPSG:4326"
            df = pd.DataFrame(vec.drop(columns=getattr(vec, "_geometry_column_name", None) or [],
                                       errors="ignore"))
    need = list(TOWNSHIP_COLUMNS) + ([] if geom is not None else ["lon", "lat"])
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise DataError(
            f"township file {p}: missing column(s) {', '.join(missing)}; columns present: "
            f"{', '.join(map(str, df.columns)) or '(none)'}. Needed: code, name, county_adcode "
            "and lon/lat (or point geometries)")
    if len(df) == 0:
        raise DataError(f"township file {p}: no rows")
    codes = pd.Series(_code_strings(df["code"]), index=df.index)
    dup = codes[codes.duplicated()].unique().tolist()
    if dup:
        raise DataError(f"township file {p}: repeated township codes {preview_ids(dup)}")
    if geom is None:
        lon = pd.to_numeric(df["lon"], errors="coerce")
        lat = pd.to_numeric(df["lat"], errors="coerce")
        bad = lon.isna() | lat.isna()
        if bad.any():
            raise DataError(f"township file {p}: rows with missing or non-numeric lon/lat, codes "
                            f"{preview_ids(codes[bad])}")
        points = gpd.points_from_xy(lon, lat)
        crs_file = "EPSG:4326"
    else:
        kinds = set(geom.dropna().geom_type)
        if kinds != {"Point"}:
            raise DataError(f"township file {p}: geometries must be points, found {sorted(kinds)}")
        points = geom.values
    county, remapped = builtin.normalize_county_codes(pd.Series(_code_strings(df["county_adcode"]),
                                                                index=df.index))
    unknown = county[~county.isin(builtin.county_codes())]
    if len(unknown):
        counts = unknown.value_counts()
        listed = ", ".join(f"{c} ({n} rows)" for c, n in counts.head(10).items())
        more = f", … ({len(counts) - 10} more)" if len(counts) > 10 else ""
        raise DataError(
            f"township file {p}: county_adcode values that are not Guizhou county codes (2020): "
            f"{listed}{more}. Fix these codes (6-digit county adcodes such as 520402) or drop the rows")
    if remapped:
        logger.info("township file %s: mapped renamed county codes %s", p.name,
                    ", ".join(f"{k} ({v} rows)" for k, v in remapped.items()))
    population = (pd.to_numeric(df["population"], errors="coerce") if "population" in df.columns
                  else pd.Series(np.nan, index=df.index))
    out = gpd.GeoDataFrame(
        {
            "settlement_id": codes.to_numpy(),
            "name": df["name"].astype(str).str.strip().to_numpy(),
            "kind": "township",
            "county_adcode": county.to_numpy(),
            "population": population.astype("float64").to_numpy(),
            "population_basis": np.where(population.notna(), "file", ""),
            "source": f"file:{p.name}",
        },
        geometry=points, crs=crs_file,
    )
    out = _to_wgs84(out, crs_key, p)
    out.attrs["remapped_county_codes"] = remapped
    return out
