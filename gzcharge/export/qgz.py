"""A QGIS project (``.qgz``) beside a plan GeoPackage, written without QGIS.

:func:`write_qgz` reads the GeoPackage's layer list and the QML styles gzcharge stored in its
``layer_styles`` table (:mod:`gzcharge.export.styles`) and writes a QGIS 3.22 project file
(``.qgs`` XML zipped into ``.qgz``) that opens with:

* one layer group per tier (public charging, highway, battery swap, hydrogen, joint plan), the
  administrative areas and the plan's tables, plus an OpenStreetMap XYZ basemap at the bottom;
* a drawing order of points above lines above polygons above the basemap (the project's custom
  layer order), whatever the group;
* each layer's stored renderer and labels; site layers of a phased (joint) plan are instead
  categorised by ``phase_year`` (one colour per build year, light to dark), with the stored
  tier style kept as a second named style of the layer;
* layers referenced by a path relative to the project, so the two files move together.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import uuid
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gzcharge.errors import ExportError
from gzcharge.export.outputs import output_file

logger = logging.getLogger(__name__)

__all__ = ["write_qgz", "project_layers", "OSM_XYZ_URL", "TIER_GROUPS"]

OSM_XYZ_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
_QGIS_VERSION = "3.22.16-Białowieża"
_PROJECT_CRS = "EPSG:3857"  # the basemap's tiles: no resampling of the tiles
#: Layer name (or prefix ending in ``_``) -> group key, in group order (top to bottom).
TIER_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("joint", ("joint_",)),
    ("public", ("public_", "townships", "demand_points")),
    ("highway", ("highway_", "expressway_segments", "od_flows")),
    ("swap", ("swap_",)),
    ("hydrogen", ("hydrogen_",)),
    ("compare", ("site_changes", "township_changes", "county_changes")),
    ("network", ("nodes", "edges")),
    ("admin", ("boundary", "counties")),
)
_GROUP_TITLES = {
    "joint": ("Joint plan", "联合规划"), "public": ("Public charging", "公共充电"),
    "highway": ("Highway fast charging", "高速公路快充"), "swap": ("Battery swap", "换电"),
    "hydrogen": ("Hydrogen", "加氢"), "compare": ("Changes", "方案对比"), "network": ("Road network", "路网"),
    "admin": ("Administrative areas", "行政区划"), "other": ("Other layers", "其他图层"),
    "tables": ("Tables", "数据表"), "basemap": ("Basemap", "底图"),
}
_BASEMAP_NAME = ("OpenStreetMap", "OpenStreetMap 底图")
_GEOM = {"POINT": "Point", "MULTIPOINT": "Point", "LINESTRING": "Line", "MULTILINESTRING": "Line",
         "POLYGON": "Polygon", "MULTIPOLYGON": "Polygon"}
_WKB = {"POINT": "Point", "MULTIPOINT": "MultiPoint", "LINESTRING": "LineString",
        "MULTILINESTRING": "MultiLineString", "POLYGON": "Polygon", "MULTIPOLYGON": "MultiPolygon"}
_RANK = {"Point": 0, "Line": 1, "Polygon": 2}
_SKIP_TABLES = {"layer_styles", "run_metadata"}
_PHASE_COLORS = ("#fdd49e", "#fc8d59", "#d7301f", "#7f0000", "#4a1486", "#08306b")


@dataclass
class _Layer:
    name: str
    geometry: str | None  # Point / Line / Polygon, None for a table
    wkb: str | None
    srs_id: int | None
    qml: str | None
    count: int
    extent: tuple[float, float, float, float] | None
    phase_years: list[int]
    group: str
    layer_id: str = ""


def _group_of(name: str, geometry: str | None) -> str:
    if geometry is None:
        return "tables"
    for key, names in TIER_GROUPS:
        if any(name == n or (n.endswith("_") and name.startswith(n)) for n in names):
            return key
    return "other"


def project_layers(gpkg: str | os.PathLike[str]) -> list[_Layer]:
    """The layers of a gzcharge GeoPackage as the project lists them (read with sqlite3)."""
    path = Path(gpkg)
    if not path.is_file():
        raise ExportError(f"cannot write a QGIS project for {path}: the GeoPackage does not exist")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:  # pragma: no cover - unreadable file
        raise ExportError(f"cannot read {path}: {exc}") from exc
    try:
        contents = con.execute("SELECT table_name, data_type, srs_id, min_x, min_y, max_x, max_y FROM gpkg_contents "
                               "ORDER BY rowid").fetchall()
        geoms = dict(con.execute("SELECT table_name, geometry_type_name FROM gpkg_geometry_columns").fetchall())
        styles: dict[str, str] = {}
        if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'layer_styles'").fetchone():
            for table, qml in con.execute("SELECT f_table_name, styleQML FROM layer_styles WHERE useAsDefault "
                                          "ORDER BY id"):
                styles.setdefault(table, qml)
        out = []
        for table, kind, srs, x0, y0, x1, y1 in contents:
            if table in _SKIP_TABLES:
                continue
            gtype = geoms.get(table)
            count = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            geometry = _GEOM.get(str(gtype).upper()) if kind == "features" else None
            if kind == "features" and geometry is None:
                if count == 0:
                    continue  # an empty layer of unknown geometry (e.g. no shared sites) draws nothing
                geometry = "Point"
            if kind == "features" and x0 is None and count:
                x0, y0, x1, y1 = _extent_from_rtree(con, table)
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
            years: list[int] = []
            if geometry is not None and "phase_year" in cols:
                years = sorted(int(v) for (v,) in con.execute(
                    f'SELECT DISTINCT phase_year FROM "{table}" WHERE phase_year IS NOT NULL'))
            out.append(_Layer(table, geometry, _WKB.get(str(gtype).upper(), "Point") if geometry else None,
                              srs if kind == "features" else None, styles.get(table), count,
                              None if x0 is None else (x0, y0, x1, y1), years, _group_of(table, geometry)))
    except sqlite3.Error as exc:
        raise ExportError(f"cannot read {path} as a GeoPackage: {exc}") from exc
    finally:
        con.close()
    return out


def _extent_from_rtree(con: sqlite3.Connection, table: str) -> tuple[Any, Any, Any, Any]:
    row = con.execute("SELECT name FROM sqlite_master WHERE name = ?", (f"rtree_{table}_geom",)).fetchone()
    if row is None:
        return None, None, None, None
    return con.execute(f'SELECT min(minx), min(miny), max(maxx), max(maxy) FROM "rtree_{table}_geom"').fetchone()


# =========================================================================== XML pieces
def _srs(parent: ET.Element, crs: Any) -> ET.Element:
    from pyproj import CRS

    c = CRS.from_user_input(crs)
    el = ET.SubElement(parent, "spatialrefsys", {"nativeFormat": "Wkt"})
    ET.SubElement(el, "wkt").text = c.to_wkt()
    ET.SubElement(el, "proj4").text = ""  # QGIS reads the WKT / authid
    auth = c.to_authority()
    ET.SubElement(el, "srsid").text = ""
    ET.SubElement(el, "srid").text = auth[1] if auth else ""
    ET.SubElement(el, "authid").text = f"{auth[0]}:{auth[1]}" if auth else ""
    ET.SubElement(el, "description").text = c.name
    ET.SubElement(el, "projectionacronym").text = ""
    ET.SubElement(el, "ellipsoidacronym").text = ""
    ET.SubElement(el, "geographicflag").text = "true" if c.is_geographic else "false"
    return el


def _parse_qml(qml: str) -> ET.Element:
    body = qml.split("\n", 1)[1] if qml.lstrip().startswith("<!DOCTYPE") else qml
    return ET.fromstring(body)


def _phase_style(layer: _Layer, base_qml: str | None, lang: str) -> ET.Element:
    """A QML root categorising ``phase_year`` (one colour per build year, existing sites grey)."""
    from gzcharge.export.styles import Symbol, categorized_style

    shape, size = "circle", 2.8
    if base_qml:
        props = {o.get("name"): o.get("value") for o in _parse_qml(base_qml).iter("Option") if o.get("name")}
        shape = props.get("name", shape) if props.get("name") in ("circle", "square", "triangle", "diamond",
                                                                   "star", "pentagon", "hexagon", "cross") else shape
        try:
            size = float(props.get("size", size))
        except ValueError:
            pass
    built = "built {}" if lang == "en" else "{} 年建设"
    specs = [(year, built.format(year), _PHASE_COLORS[min(i, len(_PHASE_COLORS) - 1)], size, shape)
             for i, year in enumerate(layer.phase_years)]
    style = categorized_style(layer.geometry.lower(), "phase_year", specs,  # type: ignore[union-attr]
                              base=Symbol("#9e9e9e", size, shape=shape), other=("existing / not phased" if lang == "en" else "现有/未分期", "#9e9e9e"))
    return _parse_qml(style.to_qml())


def _apply_style(maplayer: ET.Element, qml_root: ET.Element) -> None:
    for tag in ("renderer-v2", "labeling", "blendMode", "featureBlendMode"):
        el = qml_root.find(tag)
        if el is not None:
            maplayer.append(el)
    maplayer.set("labelsEnabled", qml_root.get("labelsEnabled", "0"))


def _style_manager(parent: ET.Element, current: str, styles: dict[str, ET.Element]) -> None:
    mgr = ET.SubElement(parent, "map-layer-style-manager", {"current": current})
    for name, root in styles.items():
        st = ET.SubElement(mgr, "map-layer-style", {"name": name})
        if name != current:
            for tag in ("renderer-v2", "labeling"):
                el = root.find(tag)
                if el is not None:
                    st.append(el)


def _vector_maplayer(layer: _Layer, source: str, title: str, lang: str) -> ET.Element:
    attrs = {"type": "vector", "autoRefreshEnabled": "0", "refreshOnNotifyEnabled": "0", "hasScaleBasedVisibilityFlag":
             "0", "readOnly": "0", "styleCategories": "AllStyleCategories"}
    if layer.geometry is not None:
        attrs |= {"geometry": layer.geometry, "wkbType": layer.wkb or "Point"}
    else:
        attrs |= {"geometry": "No geometry", "wkbType": "NoGeometry"}
    ml = ET.Element("maplayer", attrs)
    ET.SubElement(ml, "id").text = layer.layer_id
    ET.SubElement(ml, "datasource").text = source
    ET.SubElement(ml, "layername").text = title
    if layer.geometry is not None:
        _srs(ET.SubElement(ml, "srs"), f"EPSG:{layer.srs_id or 4326}")
    ET.SubElement(ml, "provider", {"encoding": "UTF-8"}).text = "ogr"
    if layer.geometry is None:
        return ml
    stored = _parse_qml(layer.qml) if layer.qml else None
    if layer.phase_years and layer.geometry == "Point":
        phase = _phase_style(layer, layer.qml, lang)
        _apply_style(ml, phase)
        names = {"phase_year" if lang == "en" else "按建设年份": phase}
        if stored is not None:
            names["tier style" if lang == "en" else "按层级"] = stored
        _style_manager(ml, next(iter(names)), names)
    elif stored is not None:
        _apply_style(ml, stored)
    return ml


def _basemap_maplayer(layer_id: str, lang: str) -> ET.Element:
    ml = ET.Element("maplayer", {"type": "raster", "autoRefreshEnabled": "0", "hasScaleBasedVisibilityFlag": "0",
                                 "styleCategories": "AllStyleCategories"})
    ET.SubElement(ml, "id").text = layer_id
    url = OSM_XYZ_URL.replace("{", "%7B").replace("}", "%7D")
    ET.SubElement(ml, "datasource").text = f"type=xyz&url={url}&zmax=19&zmin=0&http-header:referer="
    ET.SubElement(ml, "layername").text = _BASEMAP_NAME[0 if lang == "en" else 1]
    _srs(ET.SubElement(ml, "srs"), "EPSG:3857")
    ET.SubElement(ml, "provider").text = "wms"
    attribution = ET.SubElement(ml, "attribution")
    ET.SubElement(attribution, "title").text = "© OpenStreetMap contributors"
    ET.SubElement(attribution, "href").text = "https://www.openstreetmap.org/copyright"
    pipe = ET.SubElement(ml, "pipe")
    ET.SubElement(pipe, "rasterrenderer", {"type": "singlebandcolordata", "opacity": "0.6", "alphaBand": "-1",
                                           "band": "1"})
    return ml


def _tree_layer(parent: ET.Element, layer_id: str, title: str, source: str, provider: str,
                checked: bool = True) -> None:
    ET.SubElement(parent, "layer-tree-layer", {"id": layer_id, "name": title, "source": source,
                                               "providerKey": provider, "expanded": "1",
                                               "checked": "Qt::Checked" if checked else "Qt::Unchecked"})


def _canvas_extent(layers: list[_Layer]) -> tuple[float, float, float, float] | None:
    from pyproj import Transformer

    boxes = [ly.extent for ly in layers if ly.extent is not None and ly.geometry is not None]
    if not boxes:
        return None
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    srs = next(ly.srs_id for ly in layers if ly.extent is not None and ly.geometry is not None) or 4326
    t = Transformer.from_crs(f"EPSG:{srs}", _PROJECT_CRS, always_xy=True)
    (a, c), (b, d) = t.transform([x0, x1], [y0, y1])
    pad = 0.05 * max(c - a, d - b, 1.0)
    return a - pad, b - pad, c + pad, d + pad


# =========================================================================== entry point
def write_qgz(path: str | os.PathLike[str], gpkg: str | os.PathLike[str], *, title: str = "",
              lang: str = "en", basemap: bool = True) -> Path:
    """Write a QGIS project for ``gpkg`` to ``path`` (``.qgz``, atomically) and return ``path``.

    Parameters
    ----------
    path
        Target ``.qgz`` (conventionally beside the GeoPackage, same stem).
    gpkg
        The GeoPackage (written by gzcharge, with styles in ``layer_styles``).
    title
        Project title.
    lang
        ``zh`` or ``en``: group and basemap names.
    basemap
        Add the OpenStreetMap XYZ tile layer (needs the internet when QGIS draws it).

    Notes
    -----
    Layer sources are relative to the project (``./<gpkg name>|layername=<layer>``) when the
    GeoPackage sits in the project's folder, else absolute.
    """
    from gzcharge.export.i18n import check_lang

    check_lang(lang)
    target = Path(path)
    if target.suffix.lower() != ".qgz":
        raise ExportError(f"QGIS project path {target} must end in .qgz")
    from gzcharge.export.outputs import pending_path

    gpkg = Path(gpkg)
    layers = project_layers(pending_path(gpkg))  # the GeoPackage of the same, not yet committed set
    if not any(ly.geometry for ly in layers):
        raise ExportError(f"cannot write a QGIS project for {gpkg}: it has no spatial layer")
    same_folder = gpkg.resolve().parent == target.resolve().parent
    ref = f"./{gpkg.name}" if same_folder else str(gpkg.resolve())
    i = 0 if lang == "en" else 1
    for ly in layers:
        ly.layer_id = f"{ly.name}_{uuid.uuid5(uuid.NAMESPACE_URL, str(gpkg.name) + ly.name).hex[:12]}"

    root = ET.Element("qgis", {"projectname": title, "version": _QGIS_VERSION, "saveUser": "gzcharge",
                               "saveUserFull": "gzcharge"})
    ET.SubElement(root, "homePath", {"path": ""})
    ET.SubElement(root, "title").text = title
    ET.SubElement(root, "autotransaction", {"active": "0"})
    ET.SubElement(root, "evaluateDefaultValues", {"active": "0"})
    ET.SubElement(root, "trust", {"active": "0"})
    _srs(ET.SubElement(root, "projectCrs"), _PROJECT_CRS)

    # ---- layer tree: groups in TIER_GROUPS order, then other, tables, basemap
    tree = ET.SubElement(root, "layer-tree-group")
    ET.SubElement(tree, "customproperties")
    order = [k for k, _ in TIER_GROUPS] + ["other", "tables"]
    for key in order:
        members = [ly for ly in layers if ly.group == key]
        if not members:
            continue
        g = ET.SubElement(tree, "layer-tree-group", {"name": _GROUP_TITLES[key][i], "checked": "Qt::Checked",
                                                     "expanded": "1" if key != "tables" else "0"})
        ET.SubElement(g, "customproperties")
        for ly in sorted(members, key=lambda x: _RANK.get(x.geometry or "", 3)):
            _tree_layer(g, ly.layer_id, ly.name, f"{ref}|layername={ly.name}", "ogr",
                        checked=ly.name not in ("demand_points", "swap_demand", "nodes", "edges"))
    basemap_id = "osm_basemap_xyz"
    if basemap:
        g = ET.SubElement(tree, "layer-tree-group", {"name": _GROUP_TITLES["basemap"][i], "checked": "Qt::Checked",
                                                     "expanded": "1"})
        ET.SubElement(g, "customproperties")
        _tree_layer(g, basemap_id, _BASEMAP_NAME[i], "type=xyz&url=" + OSM_XYZ_URL, "wms")
    # drawing order (top first): points, lines, polygons, then the basemap
    spatial = [ly for ly in layers if ly.geometry is not None]
    drawn = sorted(spatial, key=lambda ly: (_RANK[ly.geometry], order.index(ly.group) if ly.group in order else 99))
    custom = ET.SubElement(tree, "custom-order", {"enabled": "1"})
    for ly in drawn:
        ET.SubElement(custom, "item").text = ly.layer_id
    if basemap:
        ET.SubElement(custom, "item").text = basemap_id

    # ---- canvas
    canvas = ET.SubElement(root, "mapcanvas", {"name": "theMapCanvas", "annotationsVisible": "1"})
    ET.SubElement(canvas, "units").text = "meters"
    ext = _canvas_extent(layers)
    if ext is not None:
        e = ET.SubElement(canvas, "extent")
        for tag, v in zip(("xmin", "ymin", "xmax", "ymax"), ext, strict=True):
            ET.SubElement(e, tag).text = repr(float(v))
    ET.SubElement(canvas, "rotation").text = "0"
    _srs(ET.SubElement(canvas, "destinationsrs"), _PROJECT_CRS)

    # ---- the layers themselves
    projectlayers = ET.SubElement(root, "projectlayers")
    for ly in layers:
        projectlayers.append(_vector_maplayer(ly, f"{ref}|layername={ly.name}", ly.name, lang))
    if basemap:
        projectlayers.append(_basemap_maplayer(basemap_id, lang))
    layerorder = ET.SubElement(root, "layerorder")
    for ly in drawn:
        ET.SubElement(layerorder, "layer", {"id": ly.layer_id})
    if basemap:
        ET.SubElement(layerorder, "layer", {"id": basemap_id})

    props = ET.SubElement(root, "properties")
    srs_props = ET.SubElement(props, "SpatialRefSys")
    ET.SubElement(srs_props, "ProjectionsEnabled", {"type": "int"}).text = "1"
    paths = ET.SubElement(props, "Paths")
    ET.SubElement(paths, "Absolute", {"type": "bool"}).text = "false"
    ET.indent(root, space=" ")
    xml = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode")
    with output_file(target) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            info = zipfile.ZipInfo(target.with_suffix(".qgs").name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, xml.encode("utf-8"))
    return target
