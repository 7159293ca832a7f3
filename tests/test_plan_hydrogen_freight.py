"""Hydrogen tier from a user freight OD (`--freight-od`) on a user expressway layer."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import geopandas as gpd
import pyogrio
from shapely.geometry import LineString

CHAIN = ["西秀区", "平坝区", "清镇市", "观山湖区", "修文县", "息烽县", "播州区", "红花岗区"]


def _expressway(tmp_path):
    from gzcharge.region import get_region

    seats = get_region("贵州省").settlements
    seats = seats[seats["kind"] == "county_seat"].set_index("name")
    pts = [seats.loc[n].geometry for n in CHAIN]
    path = tmp_path / "g75.gpkg"
    gpd.GeoDataFrame({"name": ["G75"] * (len(pts) - 1)},
                     geometry=[LineString([pts[i], pts[i + 1]]) for i in range(len(pts) - 1)], crs=4326).to_file(path)
    return path


def run(*args):
    return subprocess.run([sys.executable, "-m", "gzcharge", *args], capture_output=True, text=True, timeout=600)


def test_freight_od_drives_hydrogen_stations(tmp_path):
    ex = _expressway(tmp_path)
    freight = tmp_path / "freight.csv"
    freight.write_text("origin,destination,flow\n西秀区,红花岗区,400\n平坝区,播州区,100\n", encoding="utf-8")
    out = tmp_path / "h2.gpkg"
    res = run("plan", "--province", "--expressways", str(ex), "--freight-od", str(freight), "--tiers", "hydrogen",
              "--no-report", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "truck flows from freight.csv" in res.stderr
    seg = gpd.read_file(ex).to_crs("EPSG:4544")
    assert seg.length.sum() < 225_000
    h2 = pyogrio.read_dataframe(out, layer="hydrogen_stations")
    # fuel-cell trucks refuel only at stations (the round-trip rule needs at least one station on a
    # refuelled path); the corridor is 199 km, under half the 450 km effective range, so one station on
    # the shared stretch refuels both OD paths and is enough
    assert len(h2) == 1 and (h2["demand_kg_day"] > 0).all()
    meta = pyogrio.read_dataframe(out, layer="run_metadata").set_index("key")["value"]
    assert meta["input_sha256.freight_od"] == hashlib.sha256(freight.read_bytes()).hexdigest()


def test_freight_od_with_unknown_place_is_one_line(tmp_path):
    ex = _expressway(tmp_path)
    freight = tmp_path / "freight.csv"
    freight.write_text("origin,destination,flow\n西秀区,火星县,400\n", encoding="utf-8")
    out = tmp_path / "h2.gpkg"
    res = run("plan", "--province", "--expressways", str(ex), "--freight-od", str(freight), "--tiers", "hydrogen",
              "--no-report", "--out", str(out))
    assert res.returncode == 3, res.stderr
    assert "火星县" in res.stderr and "Traceback" not in res.stderr
    assert not out.exists()
