"""CLI commands end to end: real layers written, user errors as one line with exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import shared_path


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gzcharge", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_region_writes_layers_with_census(tmp_path):
    import pyogrio

    out = tmp_path / "anshun.gpkg"
    res = run_cli("region", "安顺市", "--out", str(out))
    assert res.returncode == 0, res.stderr
    layers = {name for name, _ in pyogrio.list_layers(out)}
    assert {"boundary", "counties", "settlements", "run_metadata"} <= layers
    counties = pyogrio.read_dataframe(out, layer="counties")
    # 安顺市: 6 county-level divisions; 2020 census total 2,470,630 (七普 安顺市公报)
    assert len(counties) == 6
    assert int(counties["pop_total"].sum()) == 2_470_630


def test_region_unknown_name_suggests(tmp_path):
    out = tmp_path / "x.gpkg"
    res = run_cli("region", "安舜市", "--out", str(out))
    assert res.returncode == 2
    assert "安顺市" in res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()


def test_unwritable_output_is_one_line(tmp_path):
    out = tmp_path / "missing-folder" / "x.gpkg"
    res = run_cli("region", "安顺市", "--out", str(out))
    assert res.returncode == 7
    assert "missing-folder" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) <= 2


def test_debug_shows_traceback(tmp_path):
    res = run_cli("--debug", "region", "安舜市", "--out", str(tmp_path / "x.gpkg"))
    assert res.returncode != 0
    assert "Traceback" in res.stderr


def test_network_from_pbf_with_user_boundary(tmp_path):
    import pyogrio

    pbf = shared_path("osm", "kouvola_fi.osm.pbf")
    boundary = tmp_path / "kouvola.geojson"
    ring = [[26.93, 60.52], [26.97, 60.52], [26.97, 60.54], [26.93, 60.54], [26.93, 60.52]]
    boundary.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "K", "name": "Kouvola"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    out = tmp_path / "kv.gpkg"
    res = run_cli("network", "--boundary", str(boundary), "--code-field", "code", "--name-field", "name",
                  "--osm-file", str(pbf), "--out", str(out))
    assert res.returncode == 0, res.stderr
    edges = pyogrio.read_dataframe(out, layer="edges")
    express = pyogrio.read_dataframe(out, layer="expressway_edges")
    assert len(edges) > 100
    # the extract holds motorway ways (shared/data/README.md); they must survive as expressway edges
    assert len(express) > 0
    assert set(express["highway"]) <= {"motorway", "motorway_link", "trunk", "trunk_link"}


def test_network_without_source_names_osm_file(tmp_path):
    res = run_cli("network", "--region", "安顺市", "--out", str(tmp_path / "n.gpkg"))
    assert res.returncode == 2
    assert "--osm-file" in res.stderr
    assert not (tmp_path / "n.gpkg").exists()


@pytest.mark.parametrize("content", [b"", b"<osm><node id='1' lat='x'"])
def test_network_bad_osm_file(tmp_path, content):
    bad = tmp_path / "bad.osm"
    bad.write_bytes(content)
    out = tmp_path / "n.gpkg"
    res = run_cli("network", "--region", "安顺市", "--osm-file", str(bad), "--out", str(out))
    assert res.returncode in (3, 4), res.stderr
    assert "bad.osm" in res.stderr and "Traceback" not in res.stderr
    assert not out.exists()
