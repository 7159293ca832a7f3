"""Small frictions of the command line: --lang, warnings once, quiet dask, derived boundary codes, why no
highway station."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import pytest
from shapely.geometry import box

from tests.test_compare import tiny_pair  # noqa: F401 - hand-made pair of plans


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gzcharge", *args], capture_output=True, text=True, timeout=300)


def test_plan_lang_en_and_each_warning_once(tmp_path: Path) -> None:
    out = tmp_path / "p.gpkg"
    res = run_cli("plan", "--prefecture", "安顺市", "--tiers", "public", "--set", "solver.mip_rel_gap=0.05",
                  "--lang", "en", "--out", str(out))
    assert res.returncode == 0, res.stderr
    # logged as a warning while it happened; the closing notes do not repeat it
    assert res.stderr.count("no township seats given") == 1, res.stderr
    assert "distances: screening" in res.stderr  # a note that was not a warning is still printed
    md = (tmp_path / "p_report.md").read_text(encoding="utf-8")
    assert md.startswith("# Charging facility plan — 安顺市")
    assert {p.name for p in tmp_path.iterdir()} >= {"p.gpkg", "p.qgz", "p_report.html", "p_tables.xlsx"}
    bad = run_cli("plan", "--prefecture", "安顺市", "--lang", "fr", "--out", str(tmp_path / "q.gpkg"))
    assert bad.returncode == 2 and "--lang 'fr': choose zh" in bad.stderr


def test_seen_warnings_match_prefixed_notes() -> None:
    from gzcharge.cli import _SeenWarnings

    with _SeenWarnings() as seen:
        logging.getLogger("gzcharge.demo").warning("no township seats given: %d points", 74)
    logging.getLogger("gzcharge.demo").warning("after the command")
    assert seen.already_shown("public: no township seats given: 74 points")
    assert not seen.already_shown("public: distances: screening")
    assert not seen.already_shown("after the command")  # the handler was removed on exit


def test_dask_quiet_unless_verbose() -> None:
    pytest.importorskip("distributed")
    from gzcharge.sweep import _quiet_dask

    root = logging.getLogger()
    dist = logging.getLogger("distributed")
    old_root, old_dist = root.level, dist.level
    try:
        root.setLevel(logging.WARNING)
        dist.setLevel(logging.INFO)  # what importing distributed does (dask's logging config)
        _quiet_dask()
        assert dist.level == logging.WARNING
        root.setLevel(logging.INFO)  # -v
        dist.setLevel(logging.INFO)
        _quiet_dask()
        assert dist.level == logging.INFO
    finally:
        root.setLevel(old_root)
        dist.setLevel(old_dist)


def test_boundary_with_names_only_gets_derived_codes(tmp_path: Path, caplog) -> None:
    from gzcharge.region import Region

    path = tmp_path / "areas.geojson"
    gpd.GeoDataFrame({"name": ["西秀区", "平坝区", "新区"]},
                     geometry=[box(105.8, 26.1, 106.0, 26.3), box(106.0, 26.2, 106.3, 26.5),
                               box(105.9, 25.9, 106.0, 26.0)], crs=4326).to_file(path)
    with caplog.at_level(logging.WARNING, logger="gzcharge.region"):
        region = Region.from_file(path, code_field=None, name_field="name")
    # 西秀区 and 平坝区 are the 2020 adcodes 520402 / 520403 (安顺市); 新区 is no Guizhou county
    assert region.counties["adcode"].tolist() == ["520402", "520403", "areas-1"]
    assert "no code field; codes derived" in caplog.text and "西秀区=520402" in caplog.text
    res = run_cli("region", "--boundary", str(path), "--out", str(tmp_path / "r.gpkg"))
    assert res.returncode == 0, res.stderr
    assert "codes derived" in res.stderr and "no code field 'code'" not in res.stderr


def test_highway_without_stations_says_why() -> None:
    from gzcharge.export.i18n import tr
    from gzcharge.highway.tier import _why_no_station

    hp = SimpleNamespace(min_charging_trip_km=None, effective_range_km=240.0, max_gap_km=50.0)
    short = _why_no_station(SimpleNamespace(details={"n_short_trips": 12}),
                            SimpleNamespace(notice=None, details={"n_candidates": 8, "n_paths": 0}), hp)
    # half the effective range: 240 / 2 = 120 km
    assert tr(short, "en") == ("no trip needs charging on the expressways: all 12 OD trip(s) are at most 120 km, "
                               "a round trip on one home charge (highway.min_charging_trip_km).")
    assert "全部 12 个起讫点出行均不超过 120 公里" in tr(short, "zh")
    existing = _why_no_station(SimpleNamespace(details={}), SimpleNamespace(
        notice=None, details={"n_candidates": 8, "n_paths": 30, "n_existing": 3}), hp)
    assert "the 3 existing fast-charging site(s)" in tr(existing, "en")
    none = _why_no_station(SimpleNamespace(details={}), SimpleNamespace(notice=None, details={"n_candidates": 0}), hp)
    assert "no candidate site" in tr(none, "en")


def _table_headers(md: str) -> list[str]:
    lines = md.splitlines()
    return [lines[i - 1] for i, line in enumerate(lines) if line.startswith("|---")]


def test_highway_and_hydrogen_sections_in_chinese(tmp_path: Path) -> None:
    from tests.test_plan_hydrogen_freight import _expressway

    ex = _expressway(tmp_path)
    freight = tmp_path / "freight.csv"
    freight.write_text("origin,destination,flow\n西秀区,红花岗区,400\n平坝区,播州区,100\n", encoding="utf-8")
    out = tmp_path / "h2.gpkg"
    res = run_cli("plan", "--province", "--expressways", str(ex), "--freight-od", str(freight), "--tiers",
                  "highway,hydrogen", "--out", str(out))
    assert res.returncode == 0, res.stderr
    md = (tmp_path / "h2_report.md").read_text(encoding="utf-8")
    for title in ("## 高速公路快充", "## 高速公路走廊", "## 高速公路分市州", "## 重卡加氢站", "## 加氢站分期建设"):
        assert title in md
    assert re.search(r"- 燃料电池重卡：高速公路车流中货车比例 [\d.]+ × 氢能比例 [\d.]+；续航 \d+ 公里", md)
    assert "| highway.plug_kw | 120 |  | Power per plug (kW). |" in md  # documented in the code, not the TOML
    headers = _table_headers(md)
    assert len(headers) >= 4
    assert [h for h in headers if re.search(r"[A-Za-z]", h)] == []  # every column header is in Chinese


def test_compare_cli_writes_report_and_project(tiny_pair, tmp_path: Path) -> None:  # noqa: F811
    a, b = tiny_pair
    out = tmp_path / "diff.gpkg"
    res = run_cli("compare", str(a), str(b), "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert {p.name for p in tmp_path.iterdir()} >= {"diff.gpkg", "diff.qgz", "diff_report.md", "diff_report.html",
                                                   "diff_report.png", "diff_tables.xlsx"}
    md = (tmp_path / "diff_report.md").read_text(encoding="utf-8")
    assert md.startswith("# 规划方案对比 — 安顺市")  # region code 520400: Chinese by default
    res_en = run_cli("compare", str(a), str(b), "--out", str(tmp_path / "e.gpkg"), "--lang", "en", "--no-report")
    assert res_en.returncode == 0 and not (tmp_path / "e_report.md").exists() and not (tmp_path / "e.qgz").exists()
