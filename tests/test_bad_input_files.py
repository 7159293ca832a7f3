"""Bad input files: each gives its exit class and one line naming the file/column/fix, no traceback."""

from __future__ import annotations

import pytest

from gzcharge.cli import main
from gzcharge.errors import DataError

GOOD_EX = "name,lon,lat,plugs,kw\nA,105.95,26.25,4,60\n"


def _run(capsys, tmp_path, *args: str) -> tuple[int, str]:
    out = tmp_path / "plan.gpkg"
    with pytest.raises(SystemExit) as e:
        main(["plan", "--prefecture", "安顺市", "--tiers", "public", "--no-report", "--out", str(out), *args])
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert not out.exists()
    return e.value.code, err


def _file(tmp_path, name: str, content: str | bytes) -> str:
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(p)


EXISTING_CASES = {
    "negative plugs": ("name,lon,lat,plugs\nA,105.95,26.25,4\nB,105.9,26.2,-2\n", r"'plugs' must be whole numbers >= 0; line\(s\) 3"),
    "fractional plugs": ("name,lon,lat,plugs\nA,105.95,26.25,2.5\n", r"'plugs' must be whole numbers"),
    "negative kW": ("name,lon,lat,kw\nA,105.95,26.25,-60\n", r"'kw' must be > 0"),
    "text lon": ("name,lon,lat\nA,east,26.25\n", r"'lon' is not a number on line\(s\) 2"),
    "swapped lat/lon": ("name,lon,lat\nA,26.25,105.95\nB,26.2,105.9\n", r"lon and lat look swapped"),
    "projected metres": ("name,lon,lat\nA,552000,2904000\n", r"metres, not degrees.*--crs EPSG"),
    "no lon column": ("name,lat\nA,26.25\n", r"missing column\(s\) lon"),
    "empty file": ("", r"empty"),
    "negative grid count": ("lat,lon,count\n26.25,105.95,-1\n", r"'count' must be whole numbers >= 0"),
    "no name nor count": ("lon,lat\n105.95,26.25\n", r"give a 'name' column"),
}


@pytest.mark.parametrize("case", sorted(EXISTING_CASES))
def test_bad_existing_stations(case, capsys, tmp_path):
    content, pattern = EXISTING_CASES[case]
    path = _file(tmp_path, "stations.csv", content)
    code, err = _run(capsys, tmp_path, "--existing", path)
    assert code == DataError.exit_code
    assert "stations.csv" in err
    import re

    assert re.search(pattern, err), err


def test_binary_existing_file(capsys, tmp_path):
    path = _file(tmp_path, "stations.csv", b"\x00\x01\x02\xff\xfe\x00" * 50)
    code, err = _run(capsys, tmp_path, "--existing", path)
    assert code == 3 and "stations.csv" in err and ("binary" in err or "neither UTF-8" in err)


def test_old_xls_refused(capsys, tmp_path):
    code, err = _run(capsys, tmp_path, "--existing", _file(tmp_path, "stations.xls", b"\xd0\xcf\x11\xe0"))
    assert code == 3 and "old .xls" in err


def test_rows_outside_region_strict(capsys, tmp_path):
    path = _file(tmp_path, "stations.csv", GOOD_EX + "far,106.71,26.57,2,60\n")  # 贵阳 is not 安顺
    code, err = _run(capsys, tmp_path, "--existing", path, "--strict")
    assert code == 3 and "1 of 2 row(s) lie outside 安顺市" in err and "far" in err and "--strict" in err


def test_rows_outside_region_notice_without_strict(tmp_path):
    from gzcharge.inputs import PlanInputs
    from gzcharge.region import get_region

    path = _file(tmp_path, "stations.csv", GOOD_EX + "far,106.71,26.57,2,60\n")
    notes = PlanInputs(existing_stations=path).check(get_region("安顺市"))
    assert any("1 of 2 row(s) lie outside 安顺市" in n and "far" in n for n in notes)


CANDIDATE_CASES = {
    "unknown role": ("lon,lat,role\n105.95,26.25,maybe\n", r"column 'role' has 'maybe' on line\(s\) 2"),
    "unknown tier": ("lon,lat,tier\n105.95,26.25,rail\n", r"column 'tier' has 'rail'"),
    "repeated ids": ("site_id,lon,lat\nA,105.95,26.25\nA,105.9,26.2\n", r"repeated site ids \['A'\]"),
    "negative cost": ("lon,lat,cost_cny\n105.95,26.25,-5\n", r"'cost_cny' must be >= 0"),
    "zero plugs": ("lon,lat,plugs\n105.95,26.25,0\n", r"'plugs' must be whole numbers > 0"),
}


@pytest.mark.parametrize("case", sorted(CANDIDATE_CASES))
def test_bad_candidate_sites(case, capsys, tmp_path):
    import re

    content, pattern = CANDIDATE_CASES[case]
    code, err = _run(capsys, tmp_path, "--candidates", _file(tmp_path, "sites.csv", content))
    assert code == 3 and "sites.csv" in err and re.search(pattern, err), err


def test_exclusion_zones_must_be_polygons(capsys, tmp_path):
    gj = '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[105.9,26.2]}}]}'
    code, err = _run(capsys, tmp_path, "--exclude", _file(tmp_path, "zones.geojson", gj))
    assert code == 3 and "zones.geojson" in err and "must be polygons" in err


def test_exclusion_file_missing(capsys, tmp_path):
    code, err = _run(capsys, tmp_path, "--exclude", str(tmp_path / "nope.gpkg"))
    assert code == 3 and "nope.gpkg" in err and "does not exist" in err


def test_townships_negative_population(capsys, tmp_path):
    t = "code,name,county_adcode,lon,lat,population\n520402100000,宁谷镇,520402,105.93,26.18,-10\n"
    code, err = _run(capsys, tmp_path, "--townships", _file(tmp_path, "towns.csv", t))
    assert code == 3 and "towns.csv" in err and "'population' must be >= 0" in err


def test_boundary_swapped_message(capsys, tmp_path):
    gj = ('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"1","name":"x"},'
          '"geometry":{"type":"Polygon","coordinates":[[[26.1,105.8],[26.3,105.8],[26.3,106.0],[26.1,105.8]]]}}]}')
    with pytest.raises(SystemExit) as e:
        main(["plan", "--boundary", _file(tmp_path, "area.geojson", gj), "--no-report", "--out",
              str(tmp_path / "p.gpkg")])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 3 and len(err.splitlines()) == 1 and "swapped" in err and "area.geojson" in err


def test_boundary_outside_guizhou_refused(capsys, tmp_path):
    gj = ('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"1","name":"x"},'
          '"geometry":{"type":"Polygon","coordinates":[[[116.3,39.8],[116.5,39.8],[116.5,40.0],[116.3,39.8]]]}}]}')
    with pytest.raises(SystemExit) as e:
        main(["plan", "--boundary", _file(tmp_path, "beijing.geojson", gj), "--no-report", "--out",
              str(tmp_path / "p.gpkg")])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 3 and "no 2020 census coverage" in err and "beijing.geojson" in err


def test_unknown_crs(capsys, tmp_path):
    code, err = _run(capsys, tmp_path, "--crs", "mars")
    assert code == 2 and "'mars'" in err and "bd09" in err


def test_projected_crs_given_for_degrees(capsys, tmp_path):
    code, err = _run(capsys, tmp_path, "--existing", _file(tmp_path, "stations.csv", GOOD_EX), "--crs", "EPSG:4545")
    assert code == 3 and "look like degrees" in err


# ---------------------------------------------------------------- the other tables (reader level)
def _one(exc: BaseException) -> str:
    msg = str(exc)
    assert "\n" not in msg
    return msg


def test_od_negative_flow(tmp_path):
    from gzcharge.highway.traffic import read_od_csv

    with pytest.raises(DataError) as e:
        read_od_csv(_file(tmp_path, "od.csv", "起点,终点,流量\n520402,520423,100\n520402,520424,-3\n"))
    assert "od.csv" in _one(e.value) and "'flow' must be >= 0; line(s) 3" in str(e.value)


def test_service_areas_bad_latitude(tmp_path):
    from gzcharge.highway.candidates import read_sites_csv

    with pytest.raises(DataError) as e:
        read_sites_csv(_file(tmp_path, "sa.csv", "名称,经度,纬度\n服务区,105.9,north\n"))
    assert "sa.csv" in _one(e.value) and "'lat' is not a number on line(s) 2" in str(e.value)


def test_hydrogen_sources_missing_lat(tmp_path):
    from gzcharge.tiers.hydrogen import read_hydrogen_sources

    with pytest.raises(DataError) as e:
        read_hydrogen_sources(_file(tmp_path, "h2.csv", "name,lon,kind\n氯碱厂,105.9,byproduct\n"))
    assert "h2.csv" in _one(e.value) and "missing column(s) lat" in str(e.value)


def test_fleet_gb18030_chinese_headers_and_bad_vehicles(tmp_path):
    from gzcharge.tiers.swap import read_fleet_file

    good = "车型,车辆数,区县\n出租车,120,520402\n".encode("gb18030")
    df = read_fleet_file(_file(tmp_path, "fleets.csv", good))
    assert df["vehicles"].tolist() == [120.0] and df["fleet_type"].tolist() == ["taxi"]
    with pytest.raises(DataError) as e:
        read_fleet_file(_file(tmp_path, "fleets.csv", "车型,车辆数,区县\n出租车,-5,520402\n".encode("gb18030")))
    assert "fleets.csv" in _one(e.value) and "vehicles" in str(e.value)


def test_required_and_forbidden_same_site_is_a_config_error():
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp

    from gzcharge.errors import ConfigError
    from gzcharge.locate.joint import CoverageBlock, solve_joint

    b = CoverageBlock("t", pd.Index(["a", "b"]), np.array([1.0, 2.0]), sp.csr_array(np.eye(2)), np.ones(2),
                      forced=np.array([True, False]), forbidden=np.array([True, False]))
    with pytest.raises(ConfigError, match="sites a are both required and forbidden"):
        solve_joint([b], years=[2025])
