"""GeoPackage writer, QGIS styles and report: round trips, atomicity, bad input."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from pyproj import Transformer
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from gzcharge.errors import ExportError
from gzcharge.export import gpkg as gpkg_mod
from gzcharge.export.gpkg import append_layers, write_geopackage
from gzcharge.export.styles import (
    DEFAULT_STYLES,
    OTHER,
    categorized_point_style,
    graduated_fill_style,
    line_style,
    qml_summary,
    value_key,
)

# Real places in Anshun (WGS-84, approximate seats): 西秀区, 平坝区, 旧州镇
LONLAT = [(105.9476, 26.2453), (106.2590, 26.4057), (105.7839, 26.0139)]


def _stations_gk() -> gpd.GeoDataFrame:
    """Stations given in the metric CRS (EPSG:4544) — the writer must reproject them."""
    to_gk = Transformer.from_crs(4326, 4544, always_xy=True)
    xs, ys = to_gk.transform([p[0] for p in LONLAT], [p[1] for p in LONLAT])
    return gpd.GeoDataFrame(
        {
            "station_id": ["s1", "s2", "s3"],
            "tier": ["city", "county", "township"],
            "status": ["new", "existing", "new"],
            "plugs": [12, 6, 2],
            "power_kw": [1440.0, 720.0, 120.0],
            "name": ["西秀区充电站", "平坝区充电站", "旧州镇充电站"],
        },
        geometry=[Point(x, y) for x, y in zip(xs, ys, strict=True)],
        crs="EPSG:4544",
    )


def _layers() -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    counties = gpd.GeoDataFrame(
        {
            "adcode": ["520402", "520403"],
            "name": ["西秀区", "平坝区"],
            "coverage_pct": [96.0, 42.5],
        },
        geometry=[
            Polygon([(105.7, 25.9), (106.1, 25.9), (106.1, 26.35), (105.7, 26.35)]),
            MultiPolygon([Polygon([(106.1, 26.3), (106.45, 26.3), (106.45, 26.6), (106.1, 26.6)])]),
        ],
        crs="EPSG:4326",
    )
    segments = gpd.GeoDataFrame(
        {"segment_id": [1, 2], "covered": [True, False]},
        geometry=[
            LineString([(105.8, 26.0), (106.0, 26.2)]),
            LineString([(106.0, 26.2), (106.3, 26.4)]),
        ],
        crs="EPSG:4326",
    )
    summary = pd.DataFrame({"tier": ["city", "county", "township"], "stations": [1, 1, 1]})
    return {
        "public_stations": _stations_gk(),
        "counties": counties,
        "expressway_segments": segments,
        "summary": summary,
    }


def _sql(path: Path, query: str) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def test_round_trip_layers_crs_text_version_styles(tmp_path: Path) -> None:
    out = write_geopackage(
        tmp_path / "plan.gpkg",
        _layers(),
        metadata={
            "scenario": "安顺市 default",
            "input_sha256": {"townships.csv": "abc123"},
            "gap": 0.001,
            "status": "optimal",
        },
        metric_crs="EPSG:4544",
    )
    assert out == tmp_path / "plan.gpkg"
    layers = dict(pyogrio.list_layers(out))
    assert layers == {
        "public_stations": "Point",
        "counties": "MultiPolygon",  # one Polygon + one MultiPolygon -> promoted
        "expressway_segments": "LineString",
        "summary": None,
        "run_metadata": None,
        "layer_styles": None,
    }
    stations = pyogrio.read_dataframe(out, layer="public_stations")
    assert stations.crs.to_epsg() == 4326
    assert len(stations) == 3
    # coordinates come back as the lon/lat we projected from (to ~1e-8 degrees)
    np.testing.assert_allclose(
        np.c_[stations.geometry.x, stations.geometry.y], np.array(LONLAT), atol=1e-8
    )
    assert list(stations["name"]) == ["西秀区充电站", "平坝区充电站", "旧州镇充电站"]
    assert list(stations["plugs"]) == [12, 6, 2]
    segs = pyogrio.read_dataframe(out, layer="expressway_segments")
    assert segs["covered"].dtype == bool and list(segs["covered"]) == [True, False]
    assert len(pyogrio.read_dataframe(out, layer="summary", read_geometry=False)) == 3

    # GeoPackage 1.2 header, geometry column name
    assert _sql(out, "PRAGMA application_id") == [(0x47504B47,)]
    assert _sql(out, "PRAGMA user_version") == [(10200,)]
    assert set(_sql(out, "SELECT table_name, column_name, srs_id FROM gpkg_geometry_columns")) == {
        ("public_stations", "geom", 4326),
        ("counties", "geom", 4326),
        ("expressway_segments", "geom", 4326),
    }
    # metric CRS registered and recorded
    assert _sql(
        out,
        "SELECT organization, organization_coordsys_id FROM gpkg_spatial_ref_sys WHERE srs_id=4544",
    ) == [("EPSG", 4544)]
    meta = dict(_sql(out, "SELECT key, value FROM run_metadata"))
    assert meta == {
        "scenario": "安顺市 default",
        "input_sha256.townships.csv": "abc123",
        "gap": "0.001",
        "status": "optimal",
        "metric_crs": "EPSG:4544",
    }
    # one default style per spatial layer, matching QGIS's lookup columns
    rows = _sql(
        out,
        "SELECT f_table_catalog, f_table_schema, f_table_name, f_geometry_column, useAsDefault, styleQML FROM layer_styles",
    )
    assert sorted(r[2] for r in rows) == ["counties", "expressway_segments", "public_stations"]
    for catalog, schema, _, geom_col, default, qml in rows:
        assert (catalog, schema, geom_col, default) == ("", "", "geom", 1)
        ET.fromstring(qml.split("\n", 1)[1])  # well-formed XML after the DOCTYPE line
    qml = {r[2]: r[5] for r in rows}
    assert 'label="城市核心区 · 新建"' in qml["public_stations"]
    assert qml_summary(qml["counties"]) == ("polygon", ("coverage_pct", "name"))
    assert qml_summary(qml["expressway_segments"])[0] == "line"


def test_chinese_layer_style_labels_survive_sqlite(tmp_path: Path) -> None:
    style = categorized_point_style(
        "tier", [("city", "城市核心区", "#ff0000"), ("township", "乡镇", "#0000ff", 3.0)]
    )
    out = write_geopackage(
        tmp_path / "a.gpkg", {"pts": _stations_gk()[["tier", "geometry"]]}, styles={"pts": style}
    )
    (stored,) = _sql(out, "SELECT styleQML FROM layer_styles WHERE f_table_name='pts'")[0]
    assert stored == style
    root = ET.fromstring(stored.split("\n", 1)[1])
    cats = [(c.get("value"), c.get("label")) for c in root.iter("category")]
    assert cats == [("city", "城市核心区"), ("township", "乡镇"), ("", "其他")]


def test_failure_mid_write_leaves_nothing_and_keeps_existing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "plan.gpkg"
    calls = {"n": 0}
    real = gpkg_mod._write_frame

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the first layer is already on disk (in the temp file)
            raise ExportError("simulated disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(gpkg_mod, "_write_frame", failing)
    with pytest.raises(ExportError, match="simulated"):
        write_geopackage(target, _layers())
    assert list(tmp_path.iterdir()) == []  # no target, no temp file, no journal

    target.write_bytes(b"previous plan")
    calls["n"] = 0
    with pytest.raises(ExportError, match="simulated"):
        write_geopackage(target, _layers())
    assert target.read_bytes() == b"previous plan"
    assert list(tmp_path.iterdir()) == [target]


def test_unwritable_or_missing_folder_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_dir" / "plan.gpkg"
    with pytest.raises(ExportError, match="no_such_dir"):
        write_geopackage(missing, _layers())


@pytest.mark.parametrize(
    ("layers", "pattern"),
    [
        ({}, "no layers"),
        (
            {
                "mixed": gpd.GeoDataFrame(
                    geometry=[Point(106, 26), Polygon([(106, 26), (106.1, 26), (106.1, 26.1)])],
                    crs=4326,
                )
            },
            r"mixes geometry types \(Point: 1 rows.*Polygon: 1 rows",
        ),
        ({"nocrs": gpd.GeoDataFrame(geometry=[Point(106, 26)])}, "has no CRS"),
        ({"gpkg_contents": pd.DataFrame({"a": [1]})}, "reserved"),
        ({"bad": pd.DataFrame({"fid": ["x"]})}, "clashes with the GeoPackage's feature id"),
        ({"bad": pd.DataFrame({"Name": [1], "name": [2]})}, "differ only in case"),
        ({"bad": [1, 2]}, "pass a GeoDataFrame or DataFrame"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(tmp_path: Path, layers, pattern: str) -> None:
    with pytest.raises(ExportError, match=pattern):
        write_geopackage(tmp_path / "x.gpkg", layers)
    assert not (tmp_path / "x.gpkg").exists()


def test_style_that_does_not_fit_its_layer(tmp_path: Path) -> None:
    pts = _stations_gk()
    with pytest.raises(ExportError, match=r"reads field\(s\) \['covered'\]"):
        write_geopackage(
            tmp_path / "x.gpkg", {"p": pts}, styles={"p": DEFAULT_STYLES["demand_points"]}
        )
    with pytest.raises(ExportError, match="is for line layers but the layer holds points"):
        write_geopackage(tmp_path / "x.gpkg", {"p": pts}, styles={"p": line_style()})
    with pytest.raises(ExportError, match="not written"):
        write_geopackage(tmp_path / "x.gpkg", {"p": pts}, styles={"q": line_style()})
    with pytest.raises(ExportError, match="metric CRS 'EPSG:4326'.*not projected"):
        write_geopackage(tmp_path / "x.gpkg", {"p": pts}, metric_crs="EPSG:4326")


def test_empty_layer_keeps_its_geometry_type_from_the_default_style(tmp_path: Path) -> None:
    empty = gpd.GeoDataFrame(
        {"covered": pd.Series([], dtype=bool)}, geometry=gpd.GeoSeries([], crs=4326)
    )
    out = write_geopackage(tmp_path / "e.gpkg", {"townships": empty})
    assert dict(pyogrio.list_layers(out))["townships"] == "Point"
    assert len(pyogrio.read_dataframe(out, layer="townships")) == 0


def test_append_layers_adds_replaces_and_merges_metadata(tmp_path: Path) -> None:
    path = write_geopackage(
        tmp_path / "p.gpkg", _layers(), metadata={"scenario": "a"}, metric_crs="EPSG:4545"
    )
    fewer = _stations_gk().iloc[:1]
    hw = _stations_gk()[["status", "geometry"]]
    append_layers(
        path,
        {"public_stations": fewer, "highway_stations": hw},
        metadata={"highway.solver": "highs"},
    )
    layers = dict(pyogrio.list_layers(path))
    assert "highway_stations" in layers and "counties" in layers
    assert len(pyogrio.read_dataframe(path, layer="public_stations")) == 1
    styled = sorted(r[0] for r in _sql(path, "SELECT f_table_name FROM layer_styles"))
    assert styled == ["counties", "expressway_segments", "highway_stations", "public_stations"]
    meta = dict(_sql(path, "SELECT key, value FROM run_metadata"))
    assert meta == {"scenario": "a", "metric_crs": "EPSG:4545", "highway.solver": "highs"}
    assert _sql(path, "PRAGMA user_version") == [(10200,)]

    before = path.read_bytes()
    with pytest.raises(ExportError, match="mixes geometry types"):
        append_layers(
            path,
            {"x": gpd.GeoDataFrame(geometry=[Point(0, 0), LineString([(0, 0), (1, 1)])], crs=4326)},
        )
    assert path.read_bytes() == before
    with pytest.raises(ExportError, match="does not exist"):
        append_layers(tmp_path / "nope.gpkg", {"x": fewer})
    (tmp_path / "text.gpkg").write_text("not a database")
    with pytest.raises(ExportError, match="not a GeoPackage"):
        append_layers(tmp_path / "text.gpkg", {"x": fewer})


def test_classify_matches_qgis_rules() -> None:
    frame = pd.DataFrame(
        {
            "tier": ["city", "county", "township", "township", None],
            "status": ["new", "existing", "existing", "planned", "new"],
        }
    )
    codes, legend = DEFAULT_STYLES["public_stations"].classify(frame)
    labels = [legend[c][0] for c in codes]
    assert labels == ["城市核心区 · 新建", "县城 · 现有", "乡镇 · 现有", "其他", "其他"]
    counties = pd.DataFrame({"coverage_pct": [0.0, 49.9, 50.0, 80.0, 99.0, 100.0, np.nan]})
    codes, legend = DEFAULT_STYLES["counties"].classify(counties)
    # ranges [0,50] (50,80] (80,95] (95,100]: a value on a break belongs to the lower class
    assert codes == [0, 0, 0, 1, 3, 3, -1]
    assert (
        value_key(True) == "true"
        and value_key(np.bool_(False)) == "false"
        and value_key(3.0) == "3"
    )
    assert value_key(None) == OTHER


def test_graduated_qml_ranges() -> None:
    qml = graduated_fill_style("share", [0, 0.5, 1], ["#ff0000", "#00ff00"], unit="")
    root = ET.fromstring(qml.split("\n", 1)[1])
    ranges = [
        (float(r.get("lower")), float(r.get("upper")), r.get("label")) for r in root.iter("range")
    ]
    assert ranges == [(0.0, 0.5, "0–0.5"), (0.5, 1.0, "0.5–1")]
    assert root.find("renderer-v2").get("type") == "graduatedSymbol"
    with pytest.raises(ValueError, match="need 3 breaks"):
        graduated_fill_style("share", [0, 1], ["#ff0000", "#00ff00"])
    with pytest.raises(ValueError, match="strictly increase"):
        graduated_fill_style("share", [0, 1, 1], ["#ff0000", "#00ff00"])


def test_bools_with_gaps_are_stored_as_nullable_booleans(tmp_path: Path) -> None:
    layer = gpd.GeoDataFrame(
        {"covered": [True, False, None], "tags": [["a", "b"], {"k": "乡镇"}, None]},
        geometry=[Point(106.0, 26.0), Point(106.1, 26.0), Point(106.2, 26.0)],
        crs=4326,
    )
    out = write_geopackage(tmp_path / "b.gpkg", {"townships": layer})
    schema = _sql(out, "SELECT sql FROM sqlite_master WHERE name='townships'")[0][0]
    assert '"covered" BOOLEAN' in schema
    assert _sql(out, "SELECT covered, tags FROM townships ORDER BY fid") == [
        (1, '["a", "b"]'),
        (0, '{"k": "乡镇"}'),
        (None, None),
    ]


# ---------------------------------------------------------------------- report
def _report_layers() -> dict[str, gpd.GeoDataFrame]:
    layers = _layers()
    towns = gpd.GeoDataFrame(
        {"name": ["旧州镇", "幺铺镇"], "covered": [False, True]},
        geometry=[Point(105.78, 26.01), Point(106.10, 26.30)],
        crs=4326,
    )
    return {
        "counties": layers["counties"],
        "public_stations": layers["public_stations"],
        "townships": towns,
    }


def test_report_markdown_html_and_map(tmp_path: Path) -> None:
    import matplotlib.image as mpimg

    from gzcharge.export.report import write_report

    table = pd.DataFrame({"县": ["西秀区", "平坝区"], "覆盖率%": [96.0, 42.5]})
    out = write_report(
        tmp_path / "report.md",
        title="安顺市公共充电规划",
        sections=[("概要", "- **站点** 3 座\n- 乡镇覆盖 1/2"), ("各县", table)],
        map_layers=_report_layers(),
    )
    assert set(out) == {"md", "html", "png"}
    md = out["md"].read_text(encoding="utf-8")
    assert md.startswith("# 安顺市公共充电规划")
    assert "![安顺市公共充电规划](report.png)" in md
    assert "| 西秀区 | 96 |" in md and "| 县 | 覆盖率% |" in md
    page = out["html"].read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in page  # self-contained
    assert "<td>西秀区</td>" in page and '<td class="num">42.5</td>' in page
    assert "<li><strong>站点</strong> 3 座</li>" in page
    img = mpimg.imread(out["png"])[..., :3]
    assert img.std() > 0.05
    # the uncovered township (#d7191c) and the county-core station colours are drawn
    red = np.array([0xD7, 0x19, 0x1C]) / 255
    assert (np.abs(img - red).max(axis=2) < 0.02).sum() > 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.md", "report.png"]


def test_report_without_cjk_font_falls_back_to_latin(tmp_path: Path, monkeypatch, caplog) -> None:
    from gzcharge.export import report

    monkeypatch.setattr(report, "find_cjk_font", lambda: None)
    assert report._latin("乡镇 · 未覆盖") == "township · not covered"
    with caplog.at_level("WARNING", logger="gzcharge.export.report"):
        out = report.write_report(
            tmp_path / "r.html",
            title="规划",
            sections=[("说明", "文字")],
            map_layers=_report_layers(),
        )
    assert "no CJK font" in caplog.text
    assert out["png"].stat().st_size > 1000 and out["html"].exists() and out["md"].exists()


def test_report_bad_input(tmp_path: Path) -> None:
    from gzcharge.export.report import write_report

    with pytest.raises(ExportError, match="must end in .md or .html"):
        write_report(tmp_path / "r.txt", title="t", sections=[])
    with pytest.raises(ExportError, match="content must be Markdown text, a message, a list of them or a DataFrame"):
        write_report(tmp_path / "r.md", title="t", sections=[("x", 3)])
    with pytest.raises(ExportError, match="no_dir"):
        write_report(tmp_path / "no_dir" / "r.md", title="t", sections=[("x", "y")])
    assert list(tmp_path.iterdir()) == []
