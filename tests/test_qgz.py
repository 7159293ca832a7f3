"""The QGIS project written beside a GeoPackage: its XML (always) and headless QGIS (when installed)."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

from gzcharge.errors import ExportError
from gzcharge.export.gpkg import write_geopackage
from gzcharge.export.qgz import OSM_XYZ_URL, write_qgz

CHECK = Path(__file__).with_name("qgis_project_check.py")


def _plan_gpkg(path: Path) -> Path:
    """A small phased plan: stations built 2023/2025 (one existing), counties, a boundary, roads."""
    counties = gpd.GeoDataFrame({"adcode": ["520402", "520403"], "name": ["西秀区", "平坝区"],
                                 "coverage_pct": [96.0, 42.0]},
                                geometry=[box(105.8, 26.1, 106.0, 26.3), box(106.0, 26.1, 106.2, 26.3)], crs=4326)
    boundary = gpd.GeoDataFrame({"name": ["安顺市"]}, geometry=[box(105.8, 26.1, 106.2, 26.3)], crs=4326)
    stations = gpd.GeoDataFrame({"site_id": ["s1", "s2", "s3", "s4"], "name": ["甲站", "乙站", "丙站", "丁站"],
                                 "tier": ["city", "county", "township", "township"],
                                 "status": ["new", "new", "new", "existing"], "plugs": [4, 2, 2, 6],
                                 "cost_cny": [8e5, 6e5, 6e5, 0.0],
                                 "phase_year": pd.array([2023, 2025, 2025, None], dtype="Int64")},
                                geometry=[Point(105.9, 26.2), Point(106.1, 26.2), Point(105.85, 26.15),
                                          Point(106.15, 26.25)], crs=4326)
    towns = gpd.GeoDataFrame({"name": ["甲乡", "乙镇"], "covered": [True, False], "estimated": [False, False]},
                             geometry=[Point(105.95, 26.25), Point(106.05, 26.12)], crs=4326)
    roads = gpd.GeoDataFrame({"covered": [True, False]},
                             geometry=[LineString([(105.8, 26.2), (106.0, 26.21)]),
                                       LineString([(106.0, 26.21), (106.2, 26.22)])], crs=4326)
    costs = pd.DataFrame({"tier": ["public", "public"], "year": ["2023", "2025"], "cost_cny": [8e5, 1.2e6]})
    return write_geopackage(path, {"boundary": boundary, "counties": counties, "expressway_segments": roads,
                                   "townships": towns, "public_stations": stations, "joint_costs": costs},
                            metadata={"created_by": "gzcharge plan"})


def _qgs(qgz: Path) -> ET.Element:
    with zipfile.ZipFile(qgz) as zf:
        names = zf.namelist()
        assert names == [qgz.with_suffix(".qgs").name]
        text = zf.read(names[0]).decode("utf-8")
    assert text.startswith("<!DOCTYPE qgis")
    return ET.fromstring(text.split("\n", 1)[1])


def test_project_xml_groups_order_basemap_and_styles(tmp_path: Path) -> None:
    gpkg = _plan_gpkg(tmp_path / "plan.gpkg")
    qgz = write_qgz(tmp_path / "plan.qgz", gpkg, title="安顺市", lang="zh")
    root = _qgs(qgz)
    ids = {ml.findtext("layername"): ml.findtext("id") for ml in root.iter("maplayer")}
    assert set(ids) == {"boundary", "counties", "expressway_segments", "townships", "public_stations",
                        "joint_costs", "OpenStreetMap 底图"}
    groups = [g.get("name") for g in root.find("layer-tree-group").findall("layer-tree-group")]
    assert groups == ["公共充电", "高速公路快充", "行政区划", "数据表", "底图"]
    order = [i.text for i in root.find("layer-tree-group/custom-order").findall("item")]
    by_id = {v: k for k, v in ids.items()}
    # points above lines above polygons above the basemap; tables are not drawn
    assert [by_id[i] for i in order] == ["townships", "public_stations", "expressway_segments", "boundary",
                                         "counties", "OpenStreetMap 底图"]
    layers = {ml.findtext("layername"): ml for ml in root.iter("maplayer")}
    osm = layers["OpenStreetMap 底图"]
    assert osm.findtext("provider") == "wms" and "type=xyz" in osm.findtext("datasource")
    assert OSM_XYZ_URL.replace("{", "%7B").replace("}", "%7D") in osm.findtext("datasource")
    # relative sources: the project and the GeoPackage move together
    assert layers["counties"].findtext("datasource") == "./plan.gpkg|layername=counties"
    assert layers["counties"].find("renderer-v2").get("type") == "graduatedSymbol"
    assert layers["counties"].get("labelsEnabled") == "1"
    pub = layers["public_stations"].find("renderer-v2")
    assert pub.get("type") == "categorizedSymbol" and pub.get("attr") == "phase_year"
    cats = [(c.get("value"), c.get("label")) for c in pub.iter("category")]
    assert cats == [("2023", "2023 年建设"), ("2025", "2025 年建设"), ("", "现有/未分期")]
    styles = [s.get("name") for s in layers["public_stations"].iter("map-layer-style")]
    assert styles == ["按建设年份", "按层级"]  # the stored tier style stays one click away
    assert root.find("projectCrs/spatialrefsys/authid").text == "EPSG:3857"


def test_project_bad_input(tmp_path: Path) -> None:
    gpkg = _plan_gpkg(tmp_path / "plan.gpkg")
    with pytest.raises(ExportError, match="must end in .qgz"):
        write_qgz(tmp_path / "plan.qgs", gpkg)
    with pytest.raises(ExportError, match="does not exist"):
        write_qgz(tmp_path / "x.qgz", tmp_path / "missing.gpkg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.gpkg"]


def _qgis_check(qgz: Path, png: Path) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(qgz.parent)}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(["/usr/bin/python3", str(CHECK), str(qgz), "--png", str(png)], capture_output=True,
                          text=True, timeout=120, env=env)
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"qgis_project_check printed no JSON (rc {proc.returncode}): {proc.stdout[-1500:]} "
                    f"{proc.stderr[-1500:]}")


@pytest.mark.qgis
def test_project_opens_valid_styled_and_renders_in_qgis(tmp_path: Path) -> None:
    from tests.test_qgis import _has_qgis

    if not _has_qgis():
        pytest.skip("Debian's QGIS (python3-qgis) is not installed")
    os.chmod(tmp_path, 0o700)
    gpkg = _plan_gpkg(tmp_path / "plan.gpkg")
    qgz = write_qgz(tmp_path / "plan.qgz", gpkg, title="安顺市", lang="en")
    res = _qgis_check(qgz, tmp_path / "qgis.png")
    assert res["read"] and res["ok"], res["errors"]
    assert res["crs"] == "EPSG:3857"
    assert res["groups"] == ["Public charging", "Highway fast charging", "Administrative areas", "Tables", "Basemap"]
    assert res["has_custom_order"]
    assert res["order"] == ["townships", "public_stations", "expressway_segments", "boundary", "counties",
                            "OpenStreetMap"]
    lay = res["layers"]
    assert all(v["valid"] for v in lay.values())
    assert lay["OpenStreetMap"]["provider"] == "wms" and "type=xyz" in lay["OpenStreetMap"]["source"]
    assert lay["counties"]["renderer"] == "graduatedSymbol" and lay["counties"]["labels"]
    assert lay["counties"]["group"] == "Administrative areas" and lay["counties"]["count"] == 2
    assert lay["townships"]["renderer"] == "categorizedSymbol" and lay["townships"]["labels"]
    assert lay["expressway_segments"]["renderer"] == "categorizedSymbol"
    assert lay["public_stations"]["renderer_attr"] == "phase_year"
    assert lay["public_stations"]["classes"] == ["built 2023", "built 2025", "existing / not phased"]
    assert sorted(lay["public_stations"]["styles"]) == ["phase_year", "tier style"]
    assert lay["joint_costs"]["spatial"] is False and lay["joint_costs"]["count"] == 2
    assert res["render"]["errors"] == []
    assert res["render"]["nonblank_fraction"] > 0.2 and res["render"]["distinct_colors"] >= 5
