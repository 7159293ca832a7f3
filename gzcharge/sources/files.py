"""User files: the one reader module for every input table and boundary.

Every tabular input (township seats, existing stations, candidate sites, fleets, OD tables,
service areas, hydrogen sources, freight OD) goes through :func:`read_table`, which accepts
what planners have:

* **formats**: CSV, TSV (``.tsv``/``.tab``, or tab-separated ``.csv``/``.txt``), Excel
  ``.xlsx`` (first sheet, through openpyxl), and vector files (GeoPackage, GeoJSON, shapefile,
  FlatGeobuf) whose point geometries become ``lon``/``lat``;
* **encodings**: UTF-8, UTF-8 with BOM, UTF-16 with BOM and GB18030 (a superset of GBK/GB2312,
  Excel's default for "CSV" on Chinese Windows) — detected, never guessed silently: the
  encoding used is logged;
* **headers**: common Chinese and English aliases (名称/站名 → ``name``, 经度/lng/x → ``lon``,
  纬度/y → ``lat``, 区县/adcode → ``county_adcode``, 桩数/枪数 → ``plugs``, 功率 → ``kw``, …,
  see :data:`HEADER_ALIASES`); the mapping applied is logged at INFO and returned in
  ``attrs["column_mapping"]`` so the plan shows it once as a notice
  ("stations.csv: 名称→name, 经度→lon, 纬度→lat").

Coordinates (:func:`points_from_table`) may be WGS-84, GCJ-02 (Amap/DataV/Tencent), BD-09
(Baidu) or any projected CRS (``EPSG:4545`` …; the ``lon``/``lat`` columns then hold x/y
metres); they are checked by meaning: swapped lon/lat is named as such, metres without a
declared CRS are named as such, and :func:`check_datum` warns when a file's positions sit
systematically ~500 m from the built-in county seats in the way a GCJ-02 shift would explain.
Numbers are checked by range (:func:`numeric_column`): a negative plug count or flow is a
:class:`~gzcharge.errors.DataError` naming the file, the column, the first bad lines and the
fix.

Boundaries (:func:`read_boundaries`) and township seats (:func:`read_township_seats`) return
EPSG:4326 (WGS-84) GeoDataFrames.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gzcharge._util import preview_ids
from gzcharge.errors import ConfigError, DataError
from gzcharge.export.i18n import msg

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pandas as pd

logger = logging.getLogger(__name__)

#: Coordinate systems ``--crs`` names (plus any ``EPSG:<code>`` that pyproj knows).
CRS_CHOICES = ("wgs84", "gcj02", "bd09")
VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".zip", ".fgb")
TABLE_SUFFIXES = (".csv", ".txt", ".tsv", ".tab", ".xlsx", ".xlsm")
TOWNSHIP_COLUMNS = ("code", "name", "county_adcode")

#: Header aliases per canonical column (compared after :func:`_norm_header`). A reader asks for
#: the canonical columns it knows; only those aliases apply, so one alias can serve two readers.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("名称", "站名", "站点名称", "站点", "名字", "场站名称", "电站名称", "服务区", "服务区名称",
             "name", "station", "station_name", "site_name", "title"),
    "lon": ("经度", "东经", "lon", "lng", "long", "longitude", "x", "cell_center_lon", "lon_wgs84"),
    "lat": ("纬度", "北纬", "lat", "latitude", "y", "cell_center_lat", "lat_wgs84"),
    "county_adcode": ("县", "区县", "县区", "县代码", "区县代码", "县区代码", "行政区划代码", "adcode",
                      "county_adcode", "county_code", "countycode"),
    "code": ("代码", "编码", "乡镇代码", "乡镇编码", "区划代码", "code", "township_code"),
    "population": ("人口", "常住人口", "population", "pop"),
    "count": ("数量", "个数", "站数", "充电站数", "count", "n", "number", "stations"),
    "plugs": ("桩数", "枪数", "充电桩数", "充电枪数", "充电桩", "plugs", "connectors", "piles", "capacity_plugs"),
    "kw": ("功率", "总功率", "功率kw", "kw", "power_kw", "power"),
    "origin": ("起点", "出发地", "起点县", "origin", "from", "o"),
    "destination": ("终点", "目的地", "终点县", "destination", "to", "d"),
    "flow": ("流量", "车流量", "交通量", "日流量", "flow", "trips", "aadt"),
    "existing": ("已建", "现有", "是否已建", "existing", "built"),
    "kind": ("类型", "种类", "kind", "type"),
    "site_id": ("编号", "站点编号", "id", "site_id", "siteid"),
    "role": ("角色", "用途", "类别", "role"),
    "tier": ("层级", "设施", "设施类型", "tier"),
    "cost_cny": ("费用", "成本", "造价", "投资", "单站造价", "cost", "cost_cny"),
}

_BRACKETS = re.compile(r"[（(\[【].*?[)）\]】]")


def _norm_header(h: object) -> str:
    """Header compared loosely: lower case, no spaces/underscores/hyphens, BOM removed."""
    s = str(h).replace("\ufeff", "").strip().lower()
    return re.sub(r"[\s_\-]+", "", s)


def _check_crs_choice(crs: str) -> str:
    """Normalise ``--crs``: ``wgs84`` / ``gcj02`` / ``bd09`` or a projected ``EPSG:<code>``."""
    raw = str(crs).strip()
    key = raw.lower().replace("-", "").replace("_", "")
    aliases = {"wgs84": "wgs84", "epsg4326": "wgs84", "gcj02": "gcj02", "gcj": "gcj02", "bd09": "bd09",
               "bd09ll": "bd09", "baidu": "bd09"}
    if key in aliases:
        return aliases[key]
    if key.startswith("epsg:") or key.startswith("epsg"):
        import pyproj

        try:
            c = pyproj.CRS.from_user_input(raw.upper())
        except pyproj.exceptions.CRSError:
            raise ConfigError(f"unknown coordinate system {crs!r}: pyproj does not know it") from None
        if c.is_geographic:
            if c.to_epsg() in (4326, 4490):
                return "wgs84"
            raise ConfigError(f"--crs {crs}: geographic CRS other than WGS-84/CGCS2000 is not supported")
        return f"EPSG:{c.to_epsg()}"
    raise ConfigError(f"unknown coordinate system {crs!r}: use wgs84, gcj02 (Amap/DataV/Tencent), bd09 (Baidu) "
                      "or a projected EPSG:<code> such as EPSG:4545")


# --------------------------------------------------------------------------- tables
def _decode(raw: bytes, path: Path) -> tuple[str, str]:
    """Text and encoding name: UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: text is neither UTF-8 nor GB18030/GBK (byte {exc.start}); save the file as "
                        "UTF-8 CSV (Excel: 另存为 → CSV UTF-8)") from None


def _read_text_table(path: Path) -> pd.DataFrame:
    import io

    import pandas as pd

    text, enc = _decode(path.read_bytes(), path)
    if "\x00" in text:
        raise DataError(f"{path}: binary content, not a text table; give CSV, TSV or .xlsx")
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if path.suffix.lower() in (".tsv", ".tab") or ("\t" in first and "," not in first):
        sep = "\t"
    elif ";" in first and "," not in first:
        sep = ";"
    elif "，" in first and "," not in first:
        sep = "，"  # full-width comma typed in a Chinese editor
    else:
        sep = ","
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; give a header line and one row per item") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: cannot read as a table ({str(exc).strip()}); check the separators") from None
    logger.info("%s: read as %s, separator %r", path.name, enc, sep)
    df.attrs["encoding"] = enc
    return df


def _read_excel(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        import openpyxl  # noqa: F401
    except ImportError:  # pragma: no cover - a declared dependency
        raise DataError(f"{path}: reading .xlsx needs openpyxl (pip install openpyxl), or save the sheet as CSV") from None
    try:
        df = pd.read_excel(path, sheet_name=0, dtype=str, engine="openpyxl").fillna("")
    except Exception as exc:  # openpyxl/zipfile raise many types for a damaged workbook
        raise DataError(f"{path}: cannot read as an Excel workbook ({type(exc).__name__}: {exc}); save it "
                        "again as .xlsx or CSV") from None
    df.attrs["encoding"] = "xlsx"
    return df


def _read_vector_table(path: Path, layer: str | None) -> pd.DataFrame:
    import pandas as pd

    vec = _read_vector(path, layer)
    geom_name = getattr(vec, "_geometry_column_name", None)
    if geom_name is None or geom_name not in vec.columns or not vec.geometry.notna().any():
        return pd.DataFrame(vec.drop(columns=[geom_name] if geom_name in vec.columns else []))
    geom = vec.geometry
    kinds = set(geom.dropna().geom_type)
    if kinds - {"Point"}:
        if kinds <= {"Polygon", "MultiPolygon"}:
            geom = geom.representative_point()
        else:
            raise DataError(f"{path}: geometries must be points (or polygons), found {sorted(kinds)}")
    declared = None
    if geom.crs is not None and not geom.crs.is_geographic:
        declared = geom.crs.to_string()
        geom = geom.to_crs("EPSG:4326")
    elif geom.crs is not None and geom.crs.to_epsg() not in (4326, None):
        geom = geom.to_crs("EPSG:4326")
    df = pd.DataFrame(vec.drop(columns=geom_name))
    df = df.astype(object).where(df.notna(), "").astype(str)
    df["lon"] = geom.x.astype(str).to_numpy()
    df["lat"] = geom.y.astype(str).to_numpy()
    df.attrs["geometry_crs"] = declared or "EPSG:4326"
    df.attrs["from_geometry"] = True
    return df


def read_table(
    path: str | os.PathLike[str],
    what: str,
    columns: tuple[str, ...] | list[str],
    *,
    required: tuple[str, ...] | list[str] = (),
    layer: str | None = None,
    extra_aliases: dict[str, tuple[str, ...]] | None = None,
) -> pd.DataFrame:
    """Read one input table: format and encoding detected, headers mapped to canonical names.

    Parameters
    ----------
    path
        CSV/TSV/TXT (UTF-8, UTF-8-BOM, UTF-16-BOM or GB18030/GBK), ``.xlsx`` or a vector file
        (points become ``lon``/``lat`` in WGS-84; a declared projected CRS is converted).
    what
        What the file is, for messages ("existing-stations file").
    columns
        Canonical columns the reader knows; file headers matching an alias of one of them (see
        :data:`HEADER_ALIASES`, plus ``extra_aliases``) are renamed to it. Other columns are kept
        under their own (stripped) names.
    required
        Canonical columns that must be present (``lon``/``lat`` count as present for vector
        files with point geometry).
    layer
        Layer of a multi-layer vector file.

    Returns
    -------
    pandas.DataFrame
        All values as strings (``""`` = empty), columns renamed; ``attrs``: ``column_mapping``
        (original → canonical, only where they differ), ``encoding``, ``source_line`` (line or
        row number of row 0: 2 for tables with a header line), ``path``.

    Raises
    ------
    DataError
        Missing file, unreadable format or encoding, two columns mapping to one name, missing
        required columns (the message lists the columns present and the aliases accepted).
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{what} {p} does not exist")
    if p.is_dir():
        raise DataError(f"{what} {p} is a folder, not a file")
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        df = _read_excel(p)
    elif suffix == ".xls":
        raise DataError(f"{what} {p}: old .xls workbooks are not read; save it as .xlsx or CSV")
    elif suffix in VECTOR_SUFFIXES:
        df = _read_vector_table(p, layer)
    else:
        df = _read_text_table(p)
    df.columns = [str(c).replace("\ufeff", "").strip() for c in df.columns]
    original = list(df.columns)
    aliases = {c: tuple(HEADER_ALIASES.get(c, ())) + tuple((extra_aliases or {}).get(c, ())) + (c,)
               for c in columns}
    lookup: dict[str, str] = {}
    for canon, names in aliases.items():
        for n in names:
            lookup.setdefault(_norm_header(n), canon)
    mapping: dict[str, str] = {}
    taken: dict[str, str] = {}
    # exact canonical names first, so "lon" beats "x" when a file has both
    order = sorted(df.columns, key=lambda c: (_norm_header(c) not in columns, list(df.columns).index(c)))
    for col in order:
        key = _norm_header(col)
        canon = lookup.get(key) or lookup.get(_norm_header(_BRACKETS.sub("", str(col))))
        if canon is None:
            continue
        if canon in taken:
            if _norm_header(taken[canon]) == canon:
                continue  # the exact name wins; the alias column stays under its own name
            raise DataError(f"{what} {p}: columns {taken[canon]!r} and {col!r} both mean {canon!r}; "
                            "rename or drop one of them")
        taken[canon] = col
        if col != canon:
            mapping[col] = canon
    df = df.rename(columns=mapping)
    present = set(df.columns)
    missing = [c for c in required if c not in present]
    if missing:
        hints = "; ".join(f"{c}: {'/'.join(HEADER_ALIASES.get(c, (c,))[:6])}" for c in missing)
        raise DataError(f"{what} {p}: missing column(s) {', '.join(missing)}; columns present: "
                        f"{', '.join(map(str, original)) or '(none)'} (accepted headers — {hints})")
    if mapping:
        logger.info("%s", mapping_note(p, mapping))
    df.attrs.update(column_mapping=mapping, source_line=2, path=str(p))
    return df


def mapping_note(path: str | os.PathLike[str], mapping: dict[str, str]) -> str:
    """The header mapping as one line: ``"stations.csv: 名称→name, 经度→lon, 纬度→lat"``."""
    return msg("inputs.header_mapping", file=Path(path).name, pairs=[f"{a}→{b}" for a, b in mapping.items()])


def _lines(df: pd.DataFrame, mask: Any) -> str:
    import numpy as np

    first = int(df.attrs.get("source_line", 2))
    rows = np.flatnonzero(np.asarray(mask, bool))
    return preview_ids([int(r) + first for r in rows], 5)


def numeric_column(
    df: pd.DataFrame,
    col: str,
    what: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_min: bool = False,
    integer: bool = False,
    allow_missing: bool = True,
    fix: str = "",
) -> pd.Series:
    """Column ``col`` as floats, checked by meaning; empty cells are NaN when ``allow_missing``.

    Raises
    ------
    DataError
        Naming the file, the column, the first bad lines (or rows) with their values, and ``fix``.
    """
    import numpy as np
    import pandas as pd

    path = df.attrs.get("path", what)
    raw = df[col].astype(str).str.strip().str.replace(",", "", regex=False) if col in df.columns else None
    if raw is None:
        return pd.Series(np.nan, index=df.index, dtype=float)
    empty = raw.isin(["", "nan", "NaN", "None", "null", "-", "—"])
    vals = pd.to_numeric(raw.where(~empty), errors="coerce")
    tail = f"; {fix}" if fix else ""
    bad = vals.isna() & ~empty
    if bad.any():
        ex = df[col][bad].iloc[0]
        raise DataError(f"{path}: column {col!r} is not a number on line(s) {_lines(df, bad)} (e.g. {ex!r}){tail}")
    if empty.any() and not allow_missing:
        raise DataError(f"{path}: column {col!r} is empty on line(s) {_lines(df, empty)}{tail}")
    fin = vals.notna()
    out_rng = fin & ~np.isfinite(vals.fillna(0.0))
    if minimum is not None:
        out_rng |= fin & ((vals <= minimum) if exclusive_min else (vals < minimum))
    if maximum is not None:
        out_rng |= fin & (vals > maximum)
    if integer:
        out_rng |= fin & (vals % 1 != 0)
    if out_rng.any():
        rng = []
        if minimum is not None:
            rng.append(f"{'>' if exclusive_min else '>='} {minimum:g}")
        if maximum is not None:
            rng.append(f"<= {maximum:g}")
        kind = "whole numbers " if integer else ""
        ex = df[col][out_rng].iloc[0]
        raise DataError(f"{path}: column {col!r} must be {kind}{' and '.join(rng) or 'finite'}; line(s) "
                        f"{_lines(df, out_rng)} have e.g. {ex!r}{tail}")
    return vals.astype(float)


# --------------------------------------------------------------------------- coordinates
#: Guizhou's extent (degrees, WGS-84) with a margin, for telling swapped or shifted coordinates apart.
GUIZHOU_BBOX = (103.0, 24.0, 110.2, 29.8)


def points_from_table(df: pd.DataFrame, what: str, crs: str = "wgs84") -> gpd.GeoSeries:
    """WGS-84 points from the ``lon``/``lat`` columns of a table read by :func:`read_table`.

    ``crs``: ``wgs84``, ``gcj02`` and ``bd09`` are longitude/latitude (converted here); an
    ``EPSG:<code>`` of a projected CRS means the columns hold x/y metres. Points taken from a
    vector file's geometry are already WGS-84 (its declared CRS was applied); GCJ-02/BD-09 still
    convert them.

    Raises
    ------
    DataError
        Missing/non-numeric coordinates (naming the lines), swapped lon/lat, metres without a
        projected ``--crs``, degrees given with a projected ``--crs``.
    """
    import geopandas as gpd
    import numpy as np

    from gzcharge.crs import lonlat_to_wgs84

    path = df.attrs.get("path", what)
    key = _check_crs_choice(crs)
    fix = "give longitude/latitude in degrees (or x/y with --crs EPSG:<code>)"
    lon = numeric_column(df, "lon", what, allow_missing=False, fix=fix).to_numpy(float)
    lat = numeric_column(df, "lat", what, allow_missing=False, fix=fix).to_numpy(float)
    projected = key.startswith("EPSG:") and not df.attrs.get("from_geometry")
    if projected:
        if len(lon) and np.nanmax(np.abs(np.r_[lon, lat])) <= 180:
            raise DataError(f"{path}: --crs {key} is projected (metres) but the coordinates look like degrees "
                            f"(e.g. {lon[0]}, {lat[0]}); drop --crs or give the file's own CRS")
        g = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=key).to_crs("EPSG:4326")
        return g.reset_index(drop=True)
    _check_lonlat(lon, lat, path)
    if key in ("gcj02", "bd09"):
        logger.info("converting %s from %s to WGS-84", Path(path).name, key.upper())
        lon, lat = lonlat_to_wgs84(lon, lat, key)
    return gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def _check_lonlat(lon: Any, lat: Any, path: Any) -> None:
    """Degrees in range; swapped lon/lat and projected metres named as such."""
    import numpy as np

    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    if not len(lon):
        return
    x0, y0, x1, y1 = GUIZHOU_BBOX
    big = (np.abs(lon) > 180) | (np.abs(lat) > 90)
    swapped = (lat >= x0) & (lat <= x1) & (lon >= y0) & (lon <= y1)
    if swapped.mean() > 0.5:
        k = int(np.flatnonzero(swapped)[0])
        raise DataError(f"{path}: lon and lat look swapped (lon {lon[k]}, lat {lat[k]}: Guizhou is about 104–110°E, "
                        "24–29°N); exchange the two column names")
    if big.any():
        k = int(np.flatnonzero(big)[0])
        if (np.abs(lon[big]) > 1000).any() or (np.abs(lat[big]) > 1000).any():
            raise DataError(f"{path}: coordinates such as ({lon[k]}, {lat[k]}) are metres, not degrees: the file is "
                            "projected; pass its CRS with --crs EPSG:<code> (e.g. EPSG:4545) or convert to degrees")
        raise DataError(f"{path}: coordinates ({lon[k]}, {lat[k]}) are out of range for longitude/latitude; give "
                        "WGS-84 degrees (lon −180…180, lat −90…90)")


def check_datum(points: gpd.GeoSeries, path: Any, crs: str) -> str | None:
    """A warning when the positions look like the wrong datum (GCJ-02 ↔ WGS-84), else None.

    Points that sit on a built-in county or prefecture seat (WGS-84, within 60 m) are
    evidence of WGS-84; points 300–800 m away that the GCJ-02 inverse brings within 60 m are
    evidence of GCJ-02. At least three such points are needed before anything is said.
    ``crs`` is what the user declared (``wgs84`` or ``gcj02``); with ``gcj02`` the points are
    the converted ones and the unconverted positions are rebuilt with the forward formula.
    """
    import numpy as np
    from scipy.spatial import cKDTree

    from gzcharge.crs import gcj02_to_wgs84, wgs84_to_gcj02
    from gzcharge.sources import builtin

    if crs not in ("wgs84", "gcj02") or points is None or len(points) == 0:
        return None
    seats = builtin.load_seats()
    sxy = np.column_stack([seats.geometry.x, seats.geometry.y])
    lat0 = np.radians(float(np.mean(sxy[:, 1])))
    scale = np.array([111_320.0 * np.cos(lat0), 110_574.0])
    tree = cKDTree(sxy * scale)
    xy = np.column_stack([points.x, points.y])
    raw = np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1])) if crs == "gcj02" else xy
    as_is, _ = tree.query(raw * scale)  # the file's own numbers read as WGS-84
    inv = np.column_stack(gcj02_to_wgs84(raw[:, 0], raw[:, 1]))
    shifted, _ = tree.query(inv * scale)  # the file's numbers read as GCJ-02
    on_wgs = int((as_is < 60).sum())
    on_gcj = int(((shifted < 60) & (as_is > 300) & (as_is < 800)).sum())
    name = Path(str(path)).name
    if crs == "gcj02" and on_wgs >= 3 and on_wgs > 2 * on_gcj:
        return msg("inputs.datum_wgs84", file=name, n=on_wgs)
    if crs == "wgs84" and on_gcj >= 3 and on_gcj > 2 * on_wgs:
        return msg("inputs.datum_gcj02", file=name, n=on_gcj)
    return None


def _read_vector(path: Path, layer: str | None = None) -> gpd.GeoDataFrame:
    import pyogrio

    if not path.exists():
        raise DataError(f"file not found: {path}")
    try:
        return pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:  # pyogrio raises several DataSourceError/FieldError types
        raise DataError(f"cannot read {path} as a vector file ({type(exc).__name__}: {exc})") from exc


def _to_wgs84(gdf: gpd.GeoDataFrame, crs: str, path: Path) -> gpd.GeoDataFrame:
    """Bring ``gdf`` to EPSG:4326, converting from GCJ-02 / BD-09 when ``crs`` says so.

    A file without a declared CRS is taken as longitude/latitude, or as the projected
    ``crs`` (``EPSG:<code>``) when one is given.
    """
    from gzcharge.crs import LONLAT_TO_WGS84, WGS84, _convert_geodataframe

    if gdf.crs is None:
        gdf = gdf.set_crs(crs if crs.startswith("EPSG:") else WGS84)
    if not gdf.crs.is_geographic:
        if crs in LONLAT_TO_WGS84:
            raise ConfigError(
                f"{path} is in projected CRS {gdf.crs.to_string()}; {crs.upper()} data is always "
                f"longitude/latitude — drop --crs {crs} or check the file")
        return gdf.to_crs(WGS84)
    if gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(WGS84)  # e.g. CGCS2000 geographic (EPSG:4490): sub-metre datum change
    if len(gdf):
        b = gdf.total_bounds
        x0, y0, x1, y1 = GUIZHOU_BBOX
        if abs(b[[0, 2]]).max() <= 90 and y0 <= b[0] and b[2] <= y1 and x0 <= b[1] and b[3] <= x1:
            raise DataError(f"{path}: coordinates {b.round(2).tolist()} have longitude and latitude swapped "
                            "(x 24–29, y 104–110: Guizhou is about 104–110°E, 24–29°N); write x = longitude, "
                            "y = latitude (or declare the axis order in the file's CRS)")
        if abs(b[[0, 2]]).max() > 180 or abs(b[[1, 3]]).max() > 90:
            raise DataError(
                f"{path}: coordinates {b.round(1).tolist()} are metres, not longitude/latitude, but the file "
                "declares no CRS; add the .prj / CRS to the file or pass --crs EPSG:<code>")
    if crs in LONLAT_TO_WGS84:
        logger.info("converting %s from %s to WGS-84", path.name, crs.upper())
        gdf = _convert_geodataframe(gdf, LONLAT_TO_WGS84[crs])
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
    """Read township seats (镇/乡/街道 seats) from CSV/TSV/XLSX, GPKG, GeoJSON or SHP.

    The file needs the columns ``code`` (township code, unique; 代码/编码), ``name``
    (名称), ``county_adcode`` (区县/adcode) and a position: ``lon``/``lat`` columns (经度/纬度,
    x/y) or point geometries. An optional ``population`` column (人口) is kept. Extra columns
    are ignored. Encodings, header aliases and coordinate systems as in :func:`read_table`
    and :func:`points_from_table`.

    County codes are checked against the 88 Guizhou counties of the 2020 census. Known
    renamed codes (e.g. 520221 水城县 -> 520204 水城区, 520222 盘县 -> 520281 盘州市,
    522322 兴仁县 -> 522302 兴仁市, 520581 黔西市 -> 520522) are mapped and listed in the log
    and in ``gdf.attrs["remapped_county_codes"]``; any other unknown code is an error.

    Parameters
    ----------
    path
        The file.
    crs
        ``"wgs84"`` (default), ``"gcj02"``, ``"bd09"`` or a projected ``EPSG:<code>``.
    layer
        Layer for multi-layer vector files.

    Returns
    -------
    geopandas.GeoDataFrame
        Settlement columns ``settlement_id, name, kind ("township"), county_adcode,
        population, population_basis, source ("file:<name>")`` and point geometry, EPSG:4326;
        ``attrs``: ``remapped_county_codes``, ``column_mapping``, ``datum_warning``.
    """
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    from gzcharge.sources import builtin

    what = "township file"
    crs_key = _check_crs_choice(crs)
    p = Path(path)
    df = read_table(p, what, ("code", "name", "county_adcode", "lon", "lat", "population"),
                    required=("code", "name", "county_adcode", "lon", "lat"), layer=layer)
    if len(df) == 0:
        raise DataError(f"township file {p}: no rows")
    codes = pd.Series(_code_strings(df["code"]), index=df.index)
    dup = codes[codes.duplicated()].unique().tolist()
    if dup:
        raise DataError(f"township file {p}: repeated township codes {preview_ids(dup)}")
    points = points_from_table(df, what, crs_key)
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
    population = numeric_column(df, "population", what, minimum=0.0,
                                fix="give residents (>= 0) or leave the cell empty")
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
        geometry=points.values, crs="EPSG:4326",
    )
    out.attrs["remapped_county_codes"] = remapped
    out.attrs["column_mapping"] = df.attrs.get("column_mapping", {})
    out.attrs["datum_warning"] = check_datum(out.geometry, p, crs_key)
    if out.attrs["datum_warning"]:
        logger.info("%s", out.attrs["datum_warning"])
    return out
