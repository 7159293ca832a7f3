"""`gzcharge plan` end to end: all prefectures + province offline, every township accounted for,
the GeoPackage opens styled in headless QGIS, bad input gets one line and no partial output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
from pyproj import Geod

from tests.conftest import shared_path

PREFECTURES = ["贵阳市", "六盘水市", "遵义市", "安顺市", "毕节市", "铜仁市", "黔西南州", "黔东南州", "黔南州"]
GEOD = Geod(ellps="WGS84")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gzcharge", *args], capture_output=True, text=True, timeout=600)


def _nearest_km(lon, lat, st_lon, st_lat) -> np.ndarray:
    """Geodesic distance (km) from each point to its nearest station — independent of the code's CRS work."""
    out = np.empty(len(lon))
    for i, (x, y) in enumerate(zip(lon, lat, strict=True)):
        _, _, d = GEOD.inv(np.full(len(st_lon), x), np.full(len(st_lat), y), st_lon, st_lat)
        out[i] = d.min() / 1000.0
    return out


@pytest.fixture(scope="module")
def township_file() -> Path:
    return shared_path("guizhou", "township_seats_2016.csv")


@pytest.mark.slow
@pytest.mark.parametrize("area", PREFECTURES + ["贵州省"])
def test_every_township_covered_or_listed(area, township_file):
    from gzcharge.plan import PlanInputs, run_plan
    from gzcharge.region import get_region
    from gzcharge.scenario import default_scenario_path, load_scenario

    region = get_region(area).with_townships(township_file)
    scen_path = (default_scenario_path(None).with_name("province.toml") if area == "贵州省"
                 else default_scenario_path(str(region.code)))
    # coverage is what this test checks, not the last 0.5 % of cost: a 2 % gap keeps ten regions quick (the
    # province's capacitated model needs its full minute for ~1 %; there any feasible plan is checked)
    scen = load_scenario(scen_path, overrides=["tiers.highway=false", "tiers.swap=false", "tiers.hydrogen=false",
                                               "solver.mip_rel_gap=0.02", "solver.time_limit_s=60"])
    plan = run_plan(region, scen, PlanInputs(townships=str(township_file)))
    pub = plan.public
    assert pub.status == "optimal" or (pub.status == "time_limit_feasible" and (area == "贵州省" or pub.gap <= 0.05)), \
        (pub.status, pub.gap)

    # every seat of the shared file inside this region appears in the townships layer
    seats = pd.read_csv(township_file, dtype={"county_adcode": str})
    region_counties = set(region.counties["adcode"].astype(str))
    # the file has 2016 codes; the region maps renamed ones — compare by seat code (settlement_id)
    got = pub.townships
    expected_ids = set(region.settlements.loc[region.settlements["kind"] == "township", "settlement_id"].astype(str))
    assert expected_ids, "region has township seats"
    assert set(got["settlement_id"].astype(str)) == expected_ids
    assert set(got["settlement_id"].astype(str)) <= set(seats["code"].astype(str))
    assert set(got["county_adcode"].astype(str)) <= region_counties

    # each township is either covered (checked independently: geodesic × circuity ≤ radius)
    # or carries a reason
    covered = got["covered"].astype(bool).to_numpy()
    reasons = got["unmet_reason"].fillna("").astype(str).to_numpy()
    assert np.all(covered | (reasons != ""))
    st = pub.stations
    d_km = _nearest_km(got.geometry.x.to_numpy(), got.geometry.y.to_numpy(), st.geometry.x.to_numpy(), st.geometry.y.to_numpy())
    radius = scen.public.township_radius_km
    circuity = scen.distance.circuity
    # geodesic vs Gauss-Krüger plane distance differ by < 0.1 % here
    assert np.all(d_km[covered] * circuity <= radius * 1.001 + 1e-6)
    if scen.public.township_full_coverage and not pub.unmet:
        assert covered.all()
    # every county falls in one of the styled coverage classes (a value a hair above 100 % once fell
    # outside all of them and the county was not drawn)
    from gzcharge.export.styles import DEFAULT_STYLES

    pct = pub.counties["coverage_pct"].to_numpy(float)
    assert np.all((pct >= 0) & (pct <= 100))
    codes, _ = DEFAULT_STYLES["counties"].classify(pub.counties)
    assert min(codes) >= 0


def test_plan_cli_writes_styled_gpkg_and_report(tmp_path, township_file):
    out = tmp_path / "anshun.gpkg"
    res = run_cli("plan", "--prefecture", "安顺市", "--townships", str(township_file), "--out", str(out))
    assert res.returncode == 0, res.stderr
    names = {n for n, _ in pyogrio.list_layers(out)}
    assert {"public_stations", "demand_points", "counties", "townships", "boundary", "run_metadata", "layer_styles"} <= names
    meta = pyogrio.read_dataframe(out, layer="run_metadata").set_index("key")["value"]
    assert meta["distance_mode"] == "screening"
    assert meta["metric_crs"] == "EPSG:4544"
    assert "input_sha256.townships" in meta.index
    import hashlib

    assert meta["input_sha256.townships"] == hashlib.sha256(township_file.read_bytes()).hexdigest()
    st = pyogrio.read_dataframe(out, layer="public_stations")
    assert set(st["tier"]) <= {"city", "county", "township"} and (st["plugs"] >= 2).all()
    # sizing rule stated in the report: plugs = max(2, ceil(EVs × 6.8 × 0.5 / (46.5 × 24 × 0.06)))
    expected = np.maximum(2, np.ceil(st["evs_served"] * 6.8 * 0.5 / (46.5 * 24 * 0.06) - 1e-9))
    assert (st["plugs"].to_numpy() == expected.to_numpy()).all()
    report = tmp_path / "anshun_report.md"
    html = tmp_path / "anshun_report.html"
    png = tmp_path / "anshun_report.png"
    assert report.exists() and html.exists() and png.stat().st_size > 10_000
    text = report.read_text()
    assert "安顺市" in text and "公共充电：分县达标情况" in text  # a Guizhou region: the Chinese report by default
    assert (tmp_path / "anshun.qgz").exists() and (tmp_path / "anshun_tables.xlsx").exists()
    assert "data:image/png;base64," in html.read_text()
    # no expressway data offline: the highway tier plans on the built-in OSM trunk-road skeleton, named as such
    assert "highway tier skipped" not in res.stderr
    # (the Chinese report names it in Chinese, with the same attribution: OSM, scgraph_data, ODbL)
    assert "道路骨架：OSM 干线道路（取自 scgraph_data，ODbL 许可）" in text
    assert (meta.filter(like="road_source") == "road skeleton: OSM trunk roads via scgraph_data (ODbL)").any()


@pytest.mark.qgis
def test_plan_gpkg_opens_in_qgis(tmp_path, township_file):
    from tests.test_qgis import requires_qgis, run_qgis_check, run_validate_gpkg  # noqa: F401

    if not __import__("tests.test_qgis", fromlist=["_has_qgis"])._has_qgis():
        pytest.skip("Debian's QGIS (python3-qgis) is not installed")
    out = tmp_path / "anshun.gpkg"
    res = run_cli("plan", "--prefecture", "安顺市", "--townships", str(township_file), "--out", str(out), "--no-report")
    assert res.returncode == 0, res.stderr
    counts = {n: len(pyogrio.read_dataframe(out, layer=n, read_geometry=False))
              for n in ("public_stations", "demand_points", "counties", "townships", "boundary")}
    expect = {"layers": {n: {"count": c} for n, c in counts.items()}}
    rc, result = run_qgis_check(out, expect, tmp_path / "map.png")
    assert result["errors"] == [] and rc == 0
    for n in counts:
        assert result["layers"][n]["style_message"] == "Loaded from Provider", n
        assert result["layers"][n]["crs"] == "EPSG:4326"
    assert result["render"]["nonblank_fraction"] > 0.05
    proc = run_validate_gpkg(out)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_budget_too_small_lists_townships_and_writes_nothing(tmp_path, township_file):
    out = tmp_path / "b.gpkg"
    res = run_cli("plan", "--prefecture", "安顺市", "--townships", str(township_file),
                  "--set", "public.budget_cny=5000000", "--out", str(out))
    assert res.returncode == 5
    assert "townships stay uncovered" in res.stderr and "fallback_max_cover" in res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists() and not list(tmp_path.iterdir())


def test_budget_fallback_reports_unmet(tmp_path, township_file):
    out = tmp_path / "b.gpkg"
    res = run_cli("plan", "--prefecture", "安顺市", "--townships", str(township_file), "--no-report",
                  "--set", "public.budget_cny=20000000", "--set", "public.fallback_max_cover=true", "--out", str(out))
    assert res.returncode == 0, res.stderr
    st = pyogrio.read_dataframe(out, layer="public_stations")
    assert st["cost_cny"].sum() <= 20_000_000 + 1e-6
    tw = pyogrio.read_dataframe(out, layer="townships")
    unc = tw[~tw["covered"].astype(bool)]
    assert len(unc) > 0 and (unc["unmet_reason"].fillna("") != "").all()


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--set", "public.township_radius_kms=5"], 2, "did you mean public.township_radius_km"),
        (["--set", "public.township_radius_km=0"], 2, "township_radius_km must be > 0"),
        (["--set", "public.township_radius_km=-3"], 2, "township_radius_km"),
        (["--scenario", "no/such/file.toml"], 2, "file.toml"),
        (["--tiers", "public,rail"], 2, "rail"),
    ],
)
def test_bad_scenario_input(tmp_path, args, code, needle):
    out = tmp_path / "x.gpkg"
    res = run_cli("plan", "--prefecture", "安顺市", *args, "--out", str(out))
    assert res.returncode == code, res.stderr
    assert needle in res.stderr and "Traceback" not in res.stderr
    assert not out.exists()


def test_township_file_with_unknown_county(tmp_path):
    bad = tmp_path / "towns.csv"
    bad.write_text("code,name,county_adcode,lon,lat\n999999001,某乡,999999,105.9,26.2\n", encoding="utf-8")
    out = tmp_path / "x.gpkg"
    res = run_cli("plan", "--prefecture", "安顺市", "--townships", str(bad), "--out", str(out))
    assert res.returncode == 3, res.stderr
    assert "999999" in res.stderr and "towns.csv" in res.stderr
    assert not out.exists()


def test_scenario_radius_what_if_changes_plan(tmp_path, township_file):
    """A planner's what-if: a 5 km township radius needs at least as many township stations as 10 km."""
    from gzcharge.plan import PlanInputs, run_plan
    from gzcharge.region import get_region
    from gzcharge.scenario import default_scenario_path, load_scenario

    region = get_region("安顺市").with_townships(township_file)
    base = default_scenario_path("520400")
    costs = {}
    for r in (10, 5):
        scen = load_scenario(base, overrides=[f"public.township_radius_km={r}", "tiers.highway=false"])
        plan = run_plan(region, scen, PlanInputs())
        costs[r] = plan.public.stations["cost_cny"].sum()
        assert plan.public.townships["covered"].astype(bool).all()
    assert costs[5] >= costs[10]
