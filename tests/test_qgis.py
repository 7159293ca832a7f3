"""Real client check: GeoPackages from write_geopackage open styled in headless QGIS 3.22.

Runs ``tests/qgis_check.py`` under Debian's ``/usr/bin/python3`` (PyQGIS) and GDAL's
``validate_gpkg.py``; skipped when Debian's QGIS is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import LineString, Point

from gzcharge.export.gpkg import write_geopackage
from gzcharge.export.styles import COVERED_LABELS, STATUS_LABELS, TIER_LABELS

from .conftest import shared_path

pytestmark = pytest.mark.qgis

SYSTEM_PYTHON = "/usr/bin/python3"
VALIDATE_GPKG = "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py"
CHECK = Path(__file__).with_name("qgis_check.py")


def _has_qgis() -> bool:
    try:
        return (
            subprocess.run(
                [SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, timeout=60
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


requires_qgis = pytest.mark.skipif(
    not _has_qgis(), reason="Debian's QGIS (python3-qgis) is not installed"
)


def run_qgis_check(gpkg: Path, expect: dict, png: Path | None = None) -> tuple[int, dict]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(gpkg.parent)}
    env.pop("PYTHONPATH", None)
    args = [SYSTEM_PYTHON, str(CHECK), str(gpkg), json.dumps(expect, ensure_ascii=False)]
    if png is not None:
        args += ["--png", str(png)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"qgis_check printed no JSON (rc {proc.returncode}): {proc.stdout[-2000:]} {proc.stderr[-2000:]}"
        )


def run_validate_gpkg(path: Path) -> subprocess.CompletedProcess[str]:
    if not Path(VALIDATE_GPKG).exists():
        pytest.skip(f"{VALIDATE_GPKG} missing (apt-get install python3-gdal)")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "GDAL_DATA", "PROJ_LIB", "PROJ_DATA")
    }
    return subprocess.run(
        [SYSTEM_PYTHON, VALIDATE_GPKG, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def _anshun_layers() -> tuple[dict, dict]:
    """Anshun (安顺市) counties, county seats and township seats with a coverage flag.

    Returns the layers and the expected legend counts worked out here with pandas.
    """
    counties = gpd.read_file(shared_path("guizhou", "counties.geojson"))
    counties = counties[counties["prefecture_adcode"] == 520400].copy()
    seats = pd.read_csv(shared_path("guizhou", "county_seats_2016.csv"))
    towns = pd.read_csv(shared_path("guizhou", "township_seats_2016.csv"))
    towns = towns[towns["prefecture"] == "安顺市"].reset_index(drop=True)
    seats = seats[seats["prefecture"] == "安顺市"].reset_index(drop=True)
    assert len(counties) == 6 and len(seats) == 6 and len(towns) > 50

    stations = gpd.GeoDataFrame(
        {
            "station_id": [f"c{a}" for a in seats["adcode"]],
            "tier": ["city" if a == 520402 else "county" for a in seats["adcode"]],
            "status": ["existing" if i % 2 else "new" for i in range(len(seats))],
            "plugs": np.arange(len(seats)) * 2 + 4,
            "county_adcode": seats["adcode"].astype(str),
            "name": seats["county"],
        },
        geometry=gpd.points_from_xy(seats["lon"], seats["lat"]),
        crs="EPSG:4326",
    )
    town_pts = gpd.GeoDataFrame(
        towns[["code", "name", "county_adcode"]].astype({"code": str, "county_adcode": str}),
        geometry=gpd.points_from_xy(towns["lon"], towns["lat"]),
        crs="EPSG:4326",
    )
    # covered: within 15 km (straight line, metric CRS) of a county seat station
    a = town_pts.to_crs(4544).geometry
    b = stations.to_crs(4544).geometry
    dist_m = np.min(
        np.hypot(
            a.x.to_numpy()[:, None] - b.x.to_numpy()[None, :],
            a.y.to_numpy()[:, None] - b.y.to_numpy()[None, :],
        ),
        axis=1,
    )
    town_pts["covered"] = dist_m <= 15_000
    town_pts["distance_km"] = dist_m / 1000
    boundary = counties.dissolve()[["geometry"]].assign(name="安顺市")
    counties = counties.rename(columns={"adcode": "county_adcode"})
    counties["county_adcode"] = counties["county_adcode"].astype(str)
    per_county = town_pts.groupby("county_adcode")["covered"].mean().mul(100)
    counties["coverage_pct"] = counties["county_adcode"].map(per_county).fillna(0.0)
    segments = gpd.GeoDataFrame(
        {"segment_id": [1, 2, 3], "covered": [True, False, None]},
        geometry=[
            LineString([(105.95, 26.25), (106.26, 26.41)]),
            LineString([(105.95, 26.25), (105.63, 26.02)]),
            LineString([(105.95, 26.25), (105.78, 26.01)]),
        ],
        crs="EPSG:4326",
    )
    summary = stations.groupby("tier").size().rename("stations").reset_index()
    layers = {
        "boundary": boundary,
        "counties": counties[["county_adcode", "name", "coverage_pct", "geometry"]],
        "townships": town_pts,
        "public_stations": stations,
        "expressway_segments": segments,
        "demand_points": gpd.GeoDataFrame(
            {"covered": pd.Series([], dtype=bool)}, geometry=gpd.GeoSeries([], crs=4326)
        ),
        "summary": summary,
    }
    n_cov = int(town_pts["covered"].sum())
    station_labels = (
        (stations["tier"].map(TIER_LABELS) + " · " + stations["status"].map(STATUS_LABELS))
        .value_counts()
        .to_dict()
    )
    cov_bins = pd.cut(
        counties["coverage_pct"],
        [-0.001, 50, 80, 95, 100],
        labels=["< 50%", "50–80%", "80–95%", "≥ 95%"],
    )
    legend = {
        "townships": {
            k: v
            for k, v in {
                COVERED_LABELS[True]: n_cov,
                COVERED_LABELS[False]: len(town_pts) - n_cov,
            }.items()
            if v
        },
        "public_stations": station_labels,
        "counties": cov_bins.value_counts().loc[lambda s: s > 0].astype(int).to_dict(),
        "expressway_segments": {"已覆盖": 1, "未覆盖": 1, "高速公路": 1},  # NULL -> catch-all
        "boundary": {"<single>": 1},
    }
    return layers, legend


@requires_qgis
def test_anshun_plan_opens_styled_in_qgis_and_validates(tmp_path: Path) -> None:
    layers, legend = _anshun_layers()
    gpkg = write_geopackage(
        tmp_path / "anshun.gpkg",
        layers,
        metadata={
            "scenario": "安顺市 test",
            "distance_mode": "screening",
            "solver": "none",
            "status": "n/a",
        },
        metric_crs="EPSG:4544",
    )
    n_towns = len(layers["townships"])
    expect = {
        "layers": {
            "boundary": {
                "count": 1,
                "geometry": "polygon",
                "renderer": "singleSymbol",
                "labels": False,
            },
            "counties": {
                "count": 6,
                "geometry": "polygon",
                "renderer": "graduatedSymbol",
                "labels": True,
            },
            "townships": {
                "count": n_towns,
                "geometry": "point",
                "renderer": "categorizedSymbol",
                "labels": True,
            },
            "public_stations": {
                "count": 6,
                "geometry": "point",
                "renderer": "categorizedSymbol",
                "labels": False,
            },
            "expressway_segments": {
                "count": 3,
                "geometry": "line",
                "renderer": "categorizedSymbol",
            },
            "demand_points": {"count": 0, "geometry": "point", "renderer": "categorizedSymbol"},
            "summary": {"count": len(layers["summary"])},
            "run_metadata": {"count": 5},
        }
    }
    rc, result = run_qgis_check(gpkg, expect, tmp_path / "map.png")
    assert result["errors"] == [] and rc == 0
    for name in (
        "boundary",
        "counties",
        "townships",
        "public_stations",
        "expressway_segments",
        "demand_points",
    ):
        assert result["layers"][name]["style_message"] == "Loaded from Provider", name
        assert result["layers"][name]["crs"] == "EPSG:4326"
    for name, counts in legend.items():
        assert result["layers"][name]["legend_counts"] == counts, name
    assert result["layers"]["townships"]["label_font"] == "WenQuanYi Micro Hei"
    assert result["render"]["variance"] > 100 and result["render"]["nonblank_fraction"] > 0.05
    assert (tmp_path / "map.png").stat().st_size > 5_000

    proc = run_validate_gpkg(gpkg)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in (proc.stdout + proc.stderr).lower()


@requires_qgis
def test_qgis_check_reports_mismatches(tmp_path: Path) -> None:
    pts = gpd.GeoDataFrame(
        {"tier": ["city", "township"]}, geometry=[Point(106.6, 26.6), Point(106.7, 26.5)], crs=4326
    )
    gpkg = write_geopackage(tmp_path / "p.gpkg", {"public_stations": pts})
    rc, result = run_qgis_check(
        gpkg,
        {
            "layers": {
                "public_stations": {"count": 5, "geometry": "line"},
                "missing_layer": {"count": 1},
            }
        },
    )
    assert rc == 1 and not result["ok"]
    text = "\n".join(result["errors"])
    assert "public_stations: 2 features, expected 5" in text
    assert "geometry point, expected line" in text
    assert "missing_layer: layer is not valid" in text


@requires_qgis
def test_validate_gpkg_rejects_default_pyogrio_output(tmp_path: Path) -> None:
    """The reason for VERSION=1.2: pyogrio's own GDAL writes GeoPackage 1.4, which GDAL 3.6 rejects."""
    pts = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(106.6, 26.6)], crs=4326)
    plain = tmp_path / "plain.gpkg"
    pyogrio.write_dataframe(pts, plain, driver="GPKG")
    ours = write_geopackage(tmp_path / "ours.gpkg", {"pts": pts})
    assert run_validate_gpkg(plain).returncode != 0
    assert run_validate_gpkg(ours).returncode == 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
