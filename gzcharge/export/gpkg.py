"""GeoPackage output: layers in EPSG:4326, default QGIS styles, run metadata — written atomically.

The file is a GeoPackage **1.2** (``application_id`` GPKG, ``user_version`` 10200) so that
QGIS 3.22 / GDAL 3.6 open it without warnings and GDAL's ``validate_gpkg.py`` accepts it
(pyogrio's bundled GDAL would otherwise write 1.4). Every spatial layer is stored in
EPSG:4326 with its geometry column named ``geom``; non-spatial frames become attribute
tables. Each spatial layer gets a row in ``layer_styles`` (the table QGIS reads default
styles from), so the layers open styled. The run's metric CRS is recorded in
``run_metadata`` (key ``metric_crs``) and registered in ``gpkg_spatial_ref_sys``.

Everything is written into a temporary file beside the target and moved into place only
when complete — together with the run's other files when an
:class:`~gzcharge.export.outputs.OutputSet` is open (:func:`gzcharge.export.outputs.output_file`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gzcharge._util import preview_ids
from gzcharge.errors import ExportError
from gzcharge.export.outputs import export_error, output_file, output_timestamp
from gzcharge.export.styles import DEFAULT_STYLES, LayerStyle, qml_summary, style_for_layer

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pandas as pd

logger = logging.getLogger(__name__)

GPKG_VERSION = "1.2"
GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
GPKG_USER_VERSION = 10200
GEOMETRY_COLUMN = "geom"
STYLES_TABLE = "layer_styles"
METADATA_LAYER = "run_metadata"
_RESERVED_PREFIXES = ("gpkg_", "rtree_", "sqlite_")
_FAMILY = {
    "Point": "point",
    "MultiPoint": "point",
    "LineString": "line",
    "MultiLineString": "line",
    "LinearRing": "line",
    "Polygon": "polygon",
    "MultiPolygon": "polygon",
}

_SINGLE_TYPE = {"point": "Point", "line": "LineString", "polygon": "Polygon"}
_MULTI_TYPE = {"point": "MultiPoint", "line": "MultiLineString", "polygon": "MultiPolygon"}

StyleArg = str | LayerStyle


# ---------------------------------------------------------------------- preparation
def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ExportError(f"layer name {name!r} is not a non-empty string")
    low = name.lower()
    if low.startswith(_RESERVED_PREFIXES) or low == STYLES_TABLE.lower():
        raise ExportError(
            f"layer name {name!r} is reserved by the GeoPackage format or QGIS; choose another name"
        )
    return name


def _jsonable(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def _clean_columns(name: str, frame: pd.DataFrame, geometry_col: str | None) -> pd.DataFrame:
    """Check column names; store bools-with-gaps as booleans and lists/dicts as JSON text."""
    import numpy as np
    import pandas as pd

    if isinstance(frame.index, pd.MultiIndex) or (
        frame.index.name is not None and not isinstance(frame.index, pd.RangeIndex)
    ):
        frame = frame.reset_index()  # keep ids carried in the index
    attrs = [c for c in frame.columns if c != geometry_col]
    bad = [c for c in attrs if not isinstance(c, str) or not c]
    if bad:
        raise ExportError(f"layer {name!r}: column names must be non-empty strings, got {bad!r}")
    lowered: dict[str, str] = {}
    for c in attrs:
        if c.lower() in ("fid", GEOMETRY_COLUMN):
            raise ExportError(
                f"layer {name!r}: column {c!r} clashes with the GeoPackage's "
                f"{'feature id' if c.lower() == 'fid' else 'geometry'} column; rename it"
            )
        if c.lower() in lowered:
            raise ExportError(
                f"layer {name!r}: columns {lowered[c.lower()]!r} and {c!r} differ only in case; "
                "GeoPackage column names are case-insensitive — rename one"
            )
        lowered[c.lower()] = c
    out = None
    for c in attrs:
        col = frame[c]
        if col.dtype != object:
            continue
        present = col.dropna()
        if len(present) and present.map(lambda v: isinstance(v, bool | np.bool_)).all():
            # bools with gaps: a nullable boolean column (GDAL would write the text 'True')
            out = frame.copy() if out is None else out
            out[c] = col.astype("boolean")
            continue
        nested = col.map(lambda v: isinstance(v, list | tuple | dict | set))
        if nested.any():
            out = frame.copy() if out is None else out
            out[c] = col.map(
                lambda v: (
                    _jsonable(sorted(v) if isinstance(v, set) else v)
                    if isinstance(v, list | tuple | dict | set)
                    else v
                )
            )
    return frame if out is None else out


def _prepare_spatial(name: str, gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, str | None, bool]:
    """Reproject to EPSG:4326 and check geometry types.

    Returns the frame, its geometry family (``None`` when it has no geometries) and whether
    single and multi parts must be promoted to multi.
    """
    import numpy as np

    try:
        geom_col = gdf.geometry.name
    except AttributeError as exc:
        raise ExportError(
            f"layer {name!r}: GeoDataFrame has no active geometry column; call set_geometry()"
        ) from exc
    if gdf.crs is None:
        raise ExportError(
            f"layer {name!r} has no CRS; set it with gdf.set_crs('EPSG:4326') (or the CRS its "
            "coordinates are in) before exporting"
        )
    if gdf.crs.to_epsg() != 4326:
        try:
            gdf = gdf.to_crs(4326)
        except Exception as exc:  # pyproj errors
            raise ExportError(
                f"layer {name!r}: cannot reproject from {gdf.crs} to EPSG:4326: {exc}"
            ) from exc
    gdf = _clean_columns(name, gdf, geom_col)
    types = gdf.geom_type
    present = types.dropna()
    kinds = set(present.unique())
    unknown = kinds - set(_FAMILY)
    if unknown:
        raise ExportError(
            f"layer {name!r} has geometries of type {', '.join(sorted(unknown))}; only points, "
            "lines and polygons (and their multi forms) can be styled — split or explode them"
        )
    families = {_FAMILY[k] for k in kinds}
    if len(families) > 1:
        parts = []
        for k in sorted(kinds):
            rows = np.flatnonzero((types == k).to_numpy())
            parts.append(f"{k}: {len(rows)} rows (row positions {preview_ids(rows, 5)})")
        raise ExportError(
            f"layer {name!r} mixes geometry types ({'; '.join(parts)}); a GeoPackage layer holds "
            "one geometry type — write one layer per type"
        )
    family = families.pop() if families else None
    promote = len(kinds) > 1 or "LinearRing" in kinds
    if "LinearRing" in kinds:
        import shapely

        gdf = gdf.copy()
        ring = (types == "LinearRing").to_numpy()
        gdf.loc[ring, geom_col] = shapely.linestrings(
            shapely.get_coordinates(gdf.geometry[ring].to_numpy())
        )
    return gdf, family, promote


def _metadata_rows(metadata: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Flatten nested dicts into ``a.b`` keys; values as text (JSON for lists)."""
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            if not value:
                rows.append((prefix, "{}"))
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
            return
        if value is None:
            text = ""
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, float):
            text = repr(value) if math.isfinite(value) else str(value)
        elif isinstance(value, list | tuple | set):
            text = _jsonable(sorted(value) if isinstance(value, set) else list(value))
        else:
            text = str(value)
        rows.append((prefix, text))

    walk("", dict(metadata))
    return rows


def _metric_crs_entry(metric_crs: str) -> tuple[str, Any]:
    import pyproj

    try:
        crs = pyproj.CRS.from_user_input(metric_crs)
    except pyproj.exceptions.CRSError as exc:
        raise ExportError(f"metric CRS {metric_crs!r} is not a CRS pyproj knows: {exc}") from exc
    if not crs.is_projected:
        raise ExportError(
            f"metric CRS {metric_crs!r} ({crs.name}) is not projected; give e.g. EPSG:4544"
        )
    return crs.to_string(), crs


def _register_srs(db: Path, crs: Any) -> None:
    """Add a CRS to ``gpkg_spatial_ref_sys`` (when it has an EPSG code and is not there yet)."""
    auth = crs.to_authority()
    if not auth or auth[0] != "EPSG":
        logger.info("metric CRS %s has no EPSG code; recorded in run_metadata only", crs.name)
        return
    code = int(auth[1])
    con = sqlite3.connect(db)
    try:
        with con:
            con.execute(
                "INSERT OR IGNORE INTO gpkg_spatial_ref_sys "
                "(srs_name, srs_id, organization, organization_coordsys_id, definition, description) "
                "VALUES (?, ?, 'EPSG', ?, ?, ?)",
                (
                    crs.name,
                    code,
                    code,
                    crs.to_wkt("WKT1_GDAL"),
                    "metric CRS used for distances in this run; layers are EPSG:4326",
                ),
            )
    finally:
        con.close()


# ---------------------------------------------------------------------- writing
def _write_frame(
    path: Path,
    layer: str,
    frame: pd.DataFrame,
    *,
    promote: bool = False,
    geometry_type: str | None = None,
    **options: Any,
) -> None:
    import pyogrio

    kwargs: dict[str, Any] = {"driver": "GPKG", "layer": layer, "promote_to_multi": promote or None}
    if not path.exists():
        kwargs["VERSION"] = GPKG_VERSION
    if geometry_type is not None:
        kwargs["geometry_type"] = geometry_type
    # ``path`` is a temporary of an output set, fsynced once before it is renamed into place
    # (export.outputs): SQLite's fsync at every GDAL commit buys nothing here and was ~1.2 s of
    # the 1.5 s GeoPackage of a prefecture plan (0.26 s without; benchmarks/README.md, session 3).
    sync = pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS")
    pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": "OFF"})
    try:
        pyogrio.write_dataframe(frame, path, **kwargs, **options)
    except Exception as exc:  # pyogrio/GDAL errors: name the layer
        mapped = export_error(exc, path)  # disk full, read-only, permission: say so
        if mapped is not None:
            raise mapped from exc
        raise ExportError(f"cannot write layer {layer!r} to {path}: {exc}") from exc
    finally:
        pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": sync})


def _style_rows(styled: Mapping[str, str], now: str) -> pd.DataFrame:
    import pandas as pd

    names = list(styled)
    n = len(names)
    return pd.DataFrame(
        {
            "f_table_catalog": [""] * n,
            "f_table_schema": [""] * n,
            "f_table_name": names,
            "f_geometry_column": [GEOMETRY_COLUMN] * n,
            "styleName": names,
            "styleQML": [styled[k] for k in names],
            "styleSLD": [""] * n,
            "useAsDefault": [True] * n,
            "description": ["gzcharge default style"] * n,
            "owner": ["gzcharge"] * n,
            "ui": [""] * n,
            "update_time": [now] * n,
        }
    )


def _family_hint(name: str, given: StyleArg | None) -> str | None:
    """Geometry family of a layer without geometries, from its style or default style."""
    if isinstance(given, LayerStyle):
        return given.geometry
    if isinstance(given, str):
        try:
            return qml_summary(given)[0]
        except ValueError:
            return None
    default = DEFAULT_STYLES.get(name)
    return default.geometry if default is not None else None


def _resolve_style(
    name: str, family: str | None, columns: list[str], given: StyleArg | None
) -> str | None:
    """QML for a spatial layer: the caller's style (checked) or the default for its name."""
    if given is None:
        return None if family is None else style_for_layer(name, family, columns).to_qml()  # type: ignore[arg-type]
    if isinstance(given, LayerStyle):
        geometry, fields = given.geometry, given.used_fields
        qml = given.to_qml()
    elif isinstance(given, str):
        try:
            geometry, fields = qml_summary(given)
        except ValueError as exc:
            raise ExportError(f"style for layer {name!r}: {exc}") from exc
        qml = given
    else:
        raise ExportError(
            f"style for layer {name!r} must be QML text or a LayerStyle, not {type(given).__name__}"
        )
    if family is not None and geometry is not None and geometry != family:
        raise ExportError(
            f"style for layer {name!r} is for {geometry} layers but the layer holds {family}s"
        )
    missing = [f for f in fields if f not in columns]
    if missing:
        raise ExportError(
            f"style for layer {name!r} reads field(s) {missing} that the layer lacks "
            f"(columns: {', '.join(map(str, columns))})"
        )
    return qml


def _write_layers(
    tmp: Path,
    layers: Mapping[str, Any],
    styles: Mapping[str, StyleArg] | None,
    metadata: Mapping[str, Any] | None,
    metric_crs: str | None,
    existing_styles: pd.DataFrame | None = None,
    existing_metadata: list[tuple[str, str]] | None = None,
) -> list[str]:
    """Write ``layers`` (+ styles, metadata) into ``tmp`` (new or a copy); return layer names."""
    import geopandas as gpd
    import pandas as pd

    if not isinstance(layers, Mapping) or not layers:
        raise ExportError(
            "no layers to write: pass a non-empty dict of layer name -> (Geo)DataFrame"
        )
    styles = dict(styles or {})
    unknown = set(styles) - set(layers)
    if unknown:
        raise ExportError(
            f"styles given for layers that are not written: {sorted(unknown)}; layers: {sorted(layers)}"
        )
    if metadata is not None and METADATA_LAYER in layers:
        raise ExportError(
            f"pass run metadata either as metadata= or as a {METADATA_LAYER!r} layer, not both"
        )

    crs_entry = _metric_crs_entry(metric_crs) if metric_crs is not None else None
    styled: dict[str, str] = {}
    prepared: list[tuple[str, pd.DataFrame, str | None, bool]] = []
    for raw_name, obj in layers.items():
        name = _check_name(raw_name)
        if isinstance(obj, gpd.GeoDataFrame):
            frame, family, promote = _prepare_spatial(name, obj)
            columns = [c for c in frame.columns if c != frame.geometry.name]
            if family is None:
                family = _family_hint(name, styles.get(name))
            qml = _resolve_style(name, family, columns, styles.get(name))
            if qml is not None:
                styled[name] = qml
            prepared.append((name, frame, family, promote))
        elif isinstance(obj, pd.DataFrame):
            if name in styles:
                raise ExportError(f"layer {name!r} has no geometry, so it cannot carry a map style")
            prepared.append((name, _clean_columns(name, obj, None), None, False))
        else:
            raise ExportError(
                f"layer {name!r} is a {type(obj).__name__}; pass a GeoDataFrame or DataFrame"
            )

    for name, frame, family, promote in prepared:
        geometry_type = None
        if isinstance(frame, gpd.GeoDataFrame):
            if frame.geometry.notna().sum() == 0:  # no geometry to infer the type from
                geometry_type = _SINGLE_TYPE.get(family or "", "Unknown")
            elif promote:
                geometry_type = _MULTI_TYPE[family or ""]
        _write_frame(
            tmp,
            name,
            frame,
            promote=promote,
            geometry_type=geometry_type,
            GEOMETRY_NAME=GEOMETRY_COLUMN,
        )
        logger.debug("wrote layer %s (%d rows)", name, len(frame))

    if metadata is not None or crs_entry is not None or existing_metadata:
        rows = list(existing_metadata or [])
        new_rows = _metadata_rows(metadata or {})
        if crs_entry is not None:
            new_rows.append(("metric_crs", crs_entry[0]))
        new_keys = {k for k, _ in new_rows}
        rows = [r for r in rows if r[0] not in new_keys] + new_rows
        if rows:
            table = pd.DataFrame(rows, columns=["key", "value"])
            _write_frame(tmp, METADATA_LAYER, table)

    now = output_timestamp().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    table = _style_rows(styled, now)
    if existing_styles is not None and len(existing_styles):
        keep = existing_styles[~existing_styles["f_table_name"].isin(list(layers))]
        table = pd.concat([keep[table.columns], table], ignore_index=True)
    if len(table):
        table["useAsDefault"] = table["useAsDefault"].astype(bool)
        _write_frame(tmp, STYLES_TABLE, table, FID="id")
    if crs_entry is not None:
        _register_srs(tmp, crs_entry[1])
    _stamp_contents(tmp, now)
    return [p[0] for p in prepared]


def _stamp_contents(db: Path, stamp: str) -> None:
    """Set ``gpkg_contents.last_change`` of every table to ``stamp`` (GDAL writes the wall clock)."""
    con = sqlite3.connect(db)
    try:
        with con:
            con.execute("UPDATE gpkg_contents SET last_change = ?", (stamp,))
    finally:
        con.close()


def _fix_sqlite_counters(path: str | os.PathLike[str]) -> None:
    """Set the SQLite header's file change counter and version-valid-for number to 1.

    Both count the write transactions of the file (header bytes 24-27 and 92-95), which differ
    between otherwise identical runs (GDAL's number of transactions varies); they only serve to
    invalidate other connections' caches, and the file is closed and not yet visible. Equal values
    keep the header's page count valid (SQLite reads it only when the two agree).
    """
    one = (1).to_bytes(4, "big")
    with open(path, "r+b") as fh:
        head = fh.read(100)
        if len(head) < 100 or not head.startswith(b"SQLite format 3\x00"):
            return
        fh.seek(24)
        fh.write(one)
        fh.seek(92)
        fh.write(one)


def write_geopackage(
    path: str | os.PathLike[str],
    layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame],
    *,
    styles: Mapping[str, StyleArg] | None = None,
    metadata: Mapping[str, Any] | None = None,
    metric_crs: str | None = None,
) -> Path:
    """Write layers to a new GeoPackage 1.2 at ``path``, replacing it atomically.

    Parameters
    ----------
    path
        Output ``.gpkg`` file. Its folder must exist; an existing file is replaced only
        when the whole write succeeds.
    layers
        Layer name -> GeoDataFrame (reprojected to EPSG:4326; one geometry family per
        layer, single and multi parts are promoted to multi) or DataFrame (written as an
        attribute table). Written in dict order.
    styles
        Layer name -> QML text or :class:`~gzcharge.export.styles.LayerStyle`. Spatial
        layers without an entry get their default style from
        :data:`~gzcharge.export.styles.DEFAULT_STYLES` by name, or a plain style.
    metadata
        Run metadata written as the ``run_metadata`` attribute table of ``key``/``value``
        text rows; nested dicts are flattened to ``a.b`` keys.
    metric_crs
        The projected CRS used for distances (e.g. ``"EPSG:4544"``): stored as the
        ``metric_crs`` row of ``run_metadata`` and added to ``gpkg_spatial_ref_sys``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ExportError
        Unwritable folder, no layers, a layer without CRS or with mixed geometry types,
        reserved or clashing names, a style that does not fit its layer.
    """
    target = Path(path)
    with output_file(target) as tmp:
        names = _write_layers(tmp, layers, styles, metadata, metric_crs)
        _fix_sqlite_counters(tmp)
    logger.info("wrote %s: %s", target, ", ".join(names))
    return target


def append_layers(
    path: str | os.PathLike[str],
    layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame],
    *,
    styles: Mapping[str, StyleArg] | None = None,
    metadata: Mapping[str, Any] | None = None,
    metric_crs: str | None = None,
) -> Path:
    """Add (or replace) layers in an existing GeoPackage, atomically (copy, add, replace).

    Layers with the same name as existing ones are replaced, together with their style.
    ``metadata`` rows are merged into ``run_metadata`` (same keys replaced). On any error
    the existing file is left untouched.

    Raises
    ------
    ExportError
        When ``path`` is not an existing GeoPackage, or as :func:`write_geopackage`.
    """
    import pandas as pd
    import pyogrio

    target = Path(path)
    if not target.is_file():
        raise ExportError(
            f"cannot add layers to {target}: the file does not exist; write it with write_geopackage first"
        )
    _check_is_gpkg(target)
    with output_file(target) as tmp:
        shutil.copyfile(target, tmp)
        present = {str(n) for n in pyogrio.list_layers(tmp)[:, 0]}
        existing_styles = None
        existing_meta: list[tuple[str, str]] | None = None
        if STYLES_TABLE in present:
            existing_styles = pyogrio.read_dataframe(tmp, layer=STYLES_TABLE, read_geometry=False)
        if METADATA_LAYER in present and METADATA_LAYER not in layers:
            meta = pyogrio.read_dataframe(tmp, layer=METADATA_LAYER, read_geometry=False)
            if {"key", "value"} <= set(meta.columns):
                existing_meta = list(
                    zip(meta["key"].astype(str), meta["value"].fillna("").astype(str), strict=True)
                )
        if metadata is None and metric_crs is None:
            existing_meta = None  # nothing to merge: leave run_metadata as it is
        names = _write_layers(
            tmp,
            layers,
            styles,
            metadata,
            metric_crs,
            existing_styles=existing_styles if existing_styles is not None else pd.DataFrame(),
            existing_metadata=existing_meta,
        )
        _fix_sqlite_counters(tmp)
    logger.info("added to %s: %s", target, ", ".join(names))
    return target


def _check_is_gpkg(path: Path) -> None:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            app_id = con.execute("PRAGMA application_id").fetchone()[0]
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise ExportError(f"{path} is not a GeoPackage (not an SQLite database: {exc})") from exc
    if app_id != GPKG_APPLICATION_ID:
        raise ExportError(f"{path} is not a GeoPackage (SQLite application_id {app_id:#x})")
