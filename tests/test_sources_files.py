"""User boundary files and township seat files: formats, CRS handling, bad input."""

from __future__ import annotations

import csv
from collections import Counter

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gzcharge.crs import wgs84_to_gcj02
from gzcharge.errors import ConfigError, DataError
from gzcharge.sources.files import read_boundaries, read_township_seats
from tests.conftest import shared_path


def _raw_township_rows():
    with open(shared_path("guizhou", "township_seats_2016.csv"), encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_township_file_loads_all_seats_and_remaps_renamed_codes():
    path = shared_path("guizhou", "township_seats_2016.csv")
    rows = _raw_township_rows()
    twn = read_township_seats(path)
    assert len(twn) == 1199 == len(rows)
    assert twn.crs.to_epsg() == 4326
    assert set(twn["kind"]) == {"township"} and twn["settlement_id"].is_unique
    assert (twn["source"] == "file:township_seats_2016.csv").all()
    raw = Counter(r["county_adcode"] for r in rows)
    assert twn.attrs["remapped_county_codes"] == {
        "520221->520204": raw["520221"], "520222->520281": raw["520222"],
        "522322->522302": raw["522322"],
    }
    assert (twn["county_adcode"] == "520204").sum() == raw["520221"]
    assert not twn["county_adcode"].isin(["520221", "520222", "522322"]).any()
    first = rows[0]
    hit = twn.loc[twn["settlement_id"] == first["code"]].iloc[0]
    assert hit["name"] == first["name"]
    assert hit.geometry.x == pytest.approx(float(first["lon"]), abs=1e-9)
    assert twn["population"].isna().all()


def test_township_unknown_county_codes_named(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"code": ["1", "2", "3"], "name": ["甲", "乙", "丙"],
                  "county_adcode": ["520423", "999999", "520199"],
                  "lon": [105.9, 106.0, 106.1], "lat": [26.2, 26.3, 26.4]}).to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        read_township_seats(path)
    msg = str(err.value)
    assert "999999" in msg and "520199" in msg and "t.csv" in msg and "520423" not in msg


def test_township_missing_columns_listed(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"id": ["1"], "name": ["甲"], "x": [105.9], "y": [26.2]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"missing column\(s\) code, county_adcode;.*present: id, name, x, y"):
        read_township_seats(path)


def test_township_bad_coordinates_and_duplicates(tmp_path):
    path = tmp_path / "t.csv"
    base = {"code": ["1", "2"], "name": ["甲", "乙"], "county_adcode": ["520402", "520402"],
            "lon": ["105.9", "abc"], "lat": ["26.2", "26.3"]}
    pd.DataFrame(base).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"column 'lon' is not a number on line\(s\) 3 \(e.g. 'abc'\)"):
        read_township_seats(path)
    pd.DataFrame({**base, "code": ["1", "1"], "lon": ["105.9", "106"]}).to_csv(path, index=False)
    with pytest.raises(DataError, match="repeated township codes 1"):
        read_township_seats(path)


def test_township_gpkg_and_gcj02(tmp_path):
    src = read_township_seats(shared_path("guizhou", "township_seats_2016.csv"))
    sub = src.iloc[:50]
    # GPKG with point geometries, no lon/lat columns, a population column
    gpkg = tmp_path / "t.gpkg"
    frame = gpd.GeoDataFrame({"code": sub["settlement_id"], "name": sub["name"],
                              "county_adcode": sub["county_adcode"],
                              "population": np.arange(50) * 100.0}, geometry=sub.geometry.values,
                             crs="EPSG:4326")
    frame.to_file(gpkg, driver="GPKG")
    back = read_township_seats(gpkg)
    assert list(back["settlement_id"]) == list(sub["settlement_id"])
    assert back["population"].tolist() == (np.arange(50) * 100.0).tolist()
    np.testing.assert_allclose(shapely.get_coordinates(back.geometry.values),
                               shapely.get_coordinates(sub.geometry.values), atol=1e-9)
    # CSV in GCJ-02 (what Amap exports) converted back with crs="gcj02"
    g_lon, g_lat = wgs84_to_gcj02(sub.geometry.x.to_numpy(), sub.geometry.y.to_numpy())
    csv_path = tmp_path / "gcj.csv"
    pd.DataFrame({"code": sub["settlement_id"], "name": sub["name"],
                  "county_adcode": sub["county_adcode"], "lon": g_lon, "lat": g_lat}).to_csv(
        csv_path, index=False, float_format="%.12f")
    as_wgs = read_township_seats(csv_path, crs="gcj02")
    assert np.abs(as_wgs.geometry.x.to_numpy() - sub.geometry.x.to_numpy()).max() < 1e-8
    assert np.abs(as_wgs.geometry.y.to_numpy() - sub.geometry.y.to_numpy()).max() < 1e-8
    with pytest.raises(ConfigError, match="'bd10'"):
        read_township_seats(csv_path, crs="bd10")


def test_boundaries_read_and_missing_field():
    path = shared_path("guizhou", "counties.geojson")
    b = read_boundaries(path, code_field="adcode", name_field="name")
    assert len(b) == 88 and list(b.columns) == ["code", "name", "geometry"]
    assert b.geometry.is_valid.all() and b.crs.to_epsg() == 4326
    assert b["code"].str.fullmatch(r"52\d{4}").all()
    with pytest.raises(DataError) as err:
        read_boundaries(path, code_field="gb", name_field="name")
    msg = str(err.value)
    assert "counties.geojson" in msg and "'gb'" in msg and "adcode, name, prefecture_adcode" in msg
    with pytest.raises(DataError, match="name field 'NAME'"):
        read_boundaries(path, code_field="adcode", name_field="NAME")


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp"])
def test_boundaries_drivers_gcj02_and_numeric_codes(tmp_path, suffix):
    wgs = [shapely.Polygon([(106.6, 26.5), (106.8, 26.5), (106.8, 26.7), (106.6, 26.7)]),
           shapely.Polygon([(105.9, 26.2), (106.0, 26.2), (106.0, 26.3)])]
    gdf = gpd.GeoDataFrame({"ADCODE": [520115, 520402], "NAME": ["观山湖区", "西秀区"]},
                           geometry=wgs, crs="EPSG:4326")
    gcj = gdf.copy()
    gcj["geometry"] = shapely.transform(gdf.geometry.values, lambda c: np.column_stack(
        wgs84_to_gcj02(c[:, 0], c[:, 1])))
    path = tmp_path / f"b{suffix}"
    gcj.to_file(path)
    as_wgs = read_boundaries(path, code_field="ADCODE", name_field="NAME", crs="gcj02")
    assert as_wgs["code"].tolist() == ["520115", "520402"]
    assert as_wgs["name"].tolist() == ["观山湖区", "西秀区"]
    got = shapely.get_coordinates(as_wgs.geometry.values)
    np.testing.assert_allclose(np.sort(got, axis=0), np.sort(shapely.get_coordinates(wgs), axis=0),
                               atol=1e-8)
    as_is = read_boundaries(path, code_field="ADCODE", name_field="NAME")  # left in GCJ-02
    assert as_is.geometry.iloc[0].centroid.distance(wgs[0].centroid) > 0.003


def test_boundaries_projected_file(tmp_path):
    poly = shapely.Polygon([(106.6, 26.5), (106.8, 26.5), (106.8, 26.7), (106.6, 26.7)])
    gdf = gpd.GeoDataFrame({"code": ["x"], "name": ["试验区"]}, geometry=[poly],
                           crs="EPSG:4326").to_crs("EPSG:4545")
    path = tmp_path / "proj.gpkg"
    gdf.to_file(path)
    back = read_boundaries(path, code_field="code", name_field="name")
    assert back.crs.to_epsg() == 4326
    assert back.geometry.iloc[0].symmetric_difference(poly).area < 1e-10
    with pytest.raises(ConfigError, match="projected CRS EPSG:4545"):
        read_boundaries(path, code_field="code", name_field="name", crs="gcj02")


def test_boundaries_bad_files(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_boundaries(tmp_path / "nope.gpkg", code_field="c", name_field="n")
    junk = tmp_path / "junk.geojson"
    junk.write_text("{not json")
    with pytest.raises(DataError, match="junk.geojson"):
        read_boundaries(junk, code_field="c", name_field="n")
    pts = tmp_path / "pts.geojson"
    gpd.GeoDataFrame({"c": ["1"], "n": ["a"]}, geometry=[shapely.Point(106, 26)],
                     crs="EPSG:4326").to_file(pts)
    with pytest.raises(DataError, match="must be polygons"):
        read_boundaries(pts, code_field="c", name_field="n")
    dup = tmp_path / "dup.geojson"
    sq = shapely.box(106, 26, 106.1, 26.1)
    gpd.GeoDataFrame({"c": ["1", "1"], "n": ["a", "b"]}, geometry=[sq, sq],
                     crs="EPSG:4326").to_file(dup)
    with pytest.raises(DataError, match="repeats codes 1"):
        read_boundaries(dup, code_field="c", name_field="n")


def test_boundaries_invalid_polygon_repaired(tmp_path):
    bowtie = shapely.Polygon([(106, 26), (106.1, 26.1), (106.1, 26), (106, 26.1)])
    assert not bowtie.is_valid
    path = tmp_path / "bow.geojson"
    gpd.GeoDataFrame({"c": ["1"], "n": ["a"]}, geometry=[bowtie], crs="EPSG:4326").to_file(path)
    b = read_boundaries(path, code_field="c", name_field="n")
    assert b.geometry.is_valid.all()
    assert b.geometry.iloc[0].area == pytest.approx(0.005, rel=1e-9)  # two triangles of 0.0025


def test_township_attribute_only_gpkg(tmp_path):
    import pyogrio

    path = tmp_path / "attr.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"code": ["9"], "name": ["甲"], "county_adcode": ["520221"],
                                          "lon": [104.9], "lat": [26.5]}), path)
    t = read_township_seats(path)
    assert t["county_adcode"].tolist() == ["520204"]
    assert (t.geometry.x.iloc[0], t.geometry.y.iloc[0]) == (104.9, 26.5)
