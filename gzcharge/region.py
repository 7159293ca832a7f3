"""Regions of Guizhou: the province, a prefecture, a county or a user polygon.

A :class:`Region` carries its boundary (WGS-84), its counties with 2020 census figures and
its settlements (prefecture seat, county seats and — when given — township seats). Built-in
regions come from the offline Guizhou pack (:mod:`gzcharge.sources.builtin`)::

    region = get_region("安顺")            # also 安顺市, 520400, "520400", "anshun"
    region = region.with_townships("township_seats.csv")
    layers = region.to_layers()           # {"boundary", "counties", "settlements"}

Township seats are not shipped: they come from a user file (:meth:`Region.with_townships`)
or from OSM; until then ``region.township_source`` is None and ``region.township_note`` says
so.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from gzcharge.errors import ConfigError, DataError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry.base import BaseGeometry

logger = logging.getLogger(__name__)

RegionKind = Literal["province", "prefecture", "county", "custom"]
NO_TOWNSHIPS_NOTE = "no township seats: pass --townships FILE or use OSM"

# pinyin for the province and the prefectures, so that ASCII input works too
_PINYIN = {
    "520000": ["guizhou"],
    "520100": ["guiyang"], "520200": ["liupanshui"], "520300": ["zunyi"], "520400": ["anshun"],
    "520500": ["bijie"], "520600": ["tongren"], "522300": ["qianxinan"],
    "522600": ["qiandongnan"], "522700": ["qiannan"],
}
_ETHNIC = re.compile(r"(布依族|苗族|侗族|仡佬族|土家族|彝族|回族|水族)")
# names used before/after the 2020 census for counties whose code changed
_EXTRA_ALIASES = {"水城县": "520204", "水城": "520204", "盘县": "520281", "兴仁县": "522302",
                  "黔西市": "520522"}


@dataclass(frozen=True)
class PrefectureSeat:
    """Where a prefecture government sits.

    Attributes
    ----------
    prefecture_adcode, prefecture
        The prefecture.
    seat_county_adcode, seat_county
        The county-level district/city holding the government; its county seat gives the
        position.
    lon, lat
        WGS-84 position (2016 seat dataset).
    pop_city_core
        2020 census city-core (城区) population; for the autonomous prefectures that of the
        seat city (``pop_city_core_basis == "seat_county"``).
    """

    prefecture_adcode: str
    prefecture: str
    seat_county_adcode: str
    seat_county: str
    lon: float
    lat: float
    pop_city_core: int | None
    pop_city_core_basis: str


@dataclass(frozen=True)
class Region:
    """An area to plan for.

    Attributes
    ----------
    kind
        ``"province"``, ``"prefecture"``, ``"county"`` or ``"custom"`` (user polygon).
    code, name
        Adcode and Chinese name (for custom regions: the file's code/name, or its stem).
    boundary
        (Multi)polygon, WGS-84 longitude/latitude.
    counties
        GeoDataFrame (EPSG:4326): ``adcode, name, prefecture_adcode, prefecture, pop_total,
        pop_urban, pop_rural, households, households_longform, longform_households_with_car,
        geometry``. Census columns are <NA> for custom features that are not 2020 counties.
    settlements
        GeoDataFrame (EPSG:4326 points): ``settlement_id`` (str; adcode for seats, township
        code for townships), ``name``, ``kind`` (``prefecture_seat``/``county_seat``/
        ``township``), ``county_adcode``, ``population`` (census where known, else NaN),
        ``population_basis``, ``source``. A prefecture seat shares its position with the
        county seat of the district that holds the government.
    township_source
        Where township seats came from (``"file:<name>"``, ``"osm"``, …) or None.
    prefecture_seat
        For a prefecture region, its government seat; else None.
    """

    kind: RegionKind
    code: str
    name: str
    boundary: BaseGeometry
    counties: gpd.GeoDataFrame
    settlements: gpd.GeoDataFrame
    township_source: str | None = None
    prefecture_seat: PrefectureSeat | None = None
    #: the boundary file a custom region was read from (for messages)
    source_file: str | None = None

    def __repr__(self) -> str:
        return (f"Region(kind={self.kind!r}, code={self.code!r}, name={self.name!r}, "
                f"counties={len(self.counties)}, settlements={len(self.settlements)}, "
                f"township_source={self.township_source!r})")

    @property
    def metric_crs(self) -> str:
        """Metric CRS (EPSG string): the Gauss-Krüger zone of the boundary centroid (UTM outside Guizhou)."""
        from gzcharge.crs import metric_crs_for

        c = self.boundary.centroid
        return metric_crs_for(c.x, c.y)

    @property
    def township_note(self) -> str:
        """Plain statement of where township seats come from, or that there are none."""
        if self.township_source is None:
            return NO_TOWNSHIPS_NOTE
        n = int((self.settlements["kind"] == "township").sum())
        return f"{n} township seats from {self.township_source}"

    @property
    def pop_total(self) -> int:
        """2020 census population of the region's counties (sum; custom regions: known ones)."""
        return int(self.counties["pop_total"].fillna(0).sum())

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        code_field: str | None,
        name_field: str,
        crs: str = "wgs84",
        layer: str | None = None,
    ) -> Region:
        """Build a custom region from a boundary file (GPKG/GeoJSON/SHP).

        Each feature becomes a row of ``counties``; features whose code is a 2020 Guizhou
        county adcode (or a known renamed one) get the census figures, others <NA>. The
        boundary is the union of the features. Settlements are the built-in prefecture and
        county seats lying inside the boundary.

        Parameters
        ----------
        path
            Boundary file.
        code_field, name_field
            Fields with each feature's code and name. ``code_field=None``: the ``code`` field when
            the file has one, else codes are derived (a logged warning says so): the 2020 adcode of
            a feature named like a Guizhou county (西秀区 -> 520402), else ``<file stem>-<n>``.
        crs
            ``"wgs84"`` or ``"gcj02"`` (Amap/DataV coordinates, converted to WGS-84).
        layer
            Layer of a multi-layer file.
        """
        import geopandas as gpd
        import numpy as np
        import shapely

        from gzcharge.sources import builtin
        from gzcharge.sources.files import read_boundaries

        derive = False
        if code_field is None:
            import pyogrio

            try:
                fields = list(pyogrio.read_info(path, layer=layer)["fields"])
            except Exception:  # unreadable: read_boundaries below says why
                fields = ["code"]
            derive = "code" not in fields and name_field in fields
            code_field = name_field if derive else "code"
        feats = read_boundaries(path, code_field=code_field, name_field=name_field, crs=crs,
                                layer=layer)
        if derive:
            feats["code"] = _derived_codes(feats["name"], Path(path).stem)
            logger.warning("%s: no code field; codes derived from the %r field (Guizhou county names -> 2020 "
                           "adcodes, others %s-1, -2, …): %s. Pass --code-field to use your own codes",
                           Path(path).name, name_field, Path(path).stem,
                           ", ".join(f"{n}={c}" for n, c in list(zip(feats["name"], feats["code"], strict=True))[:6])
                           + (" …" if len(feats) > 6 else ""))
        codes, remapped = builtin.normalize_county_codes(feats["code"])
        if remapped:
            logger.info("%s: mapped renamed county codes %s", Path(path).name, remapped)
        census = builtin.load_counties().drop(columns="geometry").set_index("adcode")
        counties = gpd.GeoDataFrame({"adcode": codes.to_numpy(), "name": feats["name"].to_numpy()},
                                    geometry=feats.geometry.to_numpy(), crs=feats.crs)
        for col in builtin.COUNTY_COLUMNS[2:]:
            counties[col] = counties["adcode"].map(census[col])
        counties = counties[builtin.COUNTY_COLUMNS + ["geometry"]]
        counties["census_basis"] = np.where(counties["pop_total"].notna(), "census 2020", "")
        unmatched = counties["pop_total"].isna().to_numpy()
        if unmatched.any():
            counties = _area_weighted_census(counties, unmatched)
            logger.info("%s: %d of %d features are not 2020 Guizhou counties; census figures estimated by "
                        "area overlay with the built-in counties", Path(path).name, int(unmatched.sum()),
                        len(counties))
        boundary = shapely.union_all(counties.geometry.to_numpy())
        seats = builtin.load_seats()
        inside = seats.within(boundary).to_numpy()
        seats = _reassign_county(seats[inside], counties)
        inside = np.ones(len(seats), dtype=bool)
        if len(feats) == 1:
            code, name = str(feats["code"].iloc[0]), str(feats["name"].iloc[0])
        else:
            code = name = Path(path).stem
        return cls(kind="custom", code=code, name=name, boundary=boundary, source_file=str(path),
                   counties=counties.reset_index(drop=True),
                   settlements=seats[inside].reset_index(drop=True))

    def with_townships(
        self,
        townships: str | os.PathLike[str] | gpd.GeoDataFrame,
        *,
        crs: str = "wgs84",
        source: str | None = None,
    ) -> Region:
        """Return a new Region whose settlements include township seats.

        Parameters
        ----------
        townships
            A township seat file (see :func:`gzcharge.sources.files.read_township_seats`)
            or a GeoDataFrame with ``settlement_id`` (or ``code``), ``name``,
            ``county_adcode`` and point geometry (e.g. from OSM).
        crs
            Coordinates of a file: ``"wgs84"`` or ``"gcj02"``.
        source
            Label for ``township_source``; default ``"file:<name>"`` for files and the
            frame's ``source`` column (or ``"geodataframe"``) for frames.

        Notes
        -----
        Townships are kept when their county is one of the region's counties; for custom
        regions, when they lie inside the boundary. The number dropped is logged.
        Existing township settlements are replaced.
        """
        import geopandas as gpd
        import numpy as np
        import pandas as pd

        from gzcharge.sources.builtin import SETTLEMENT_COLUMNS
        from gzcharge.sources.files import read_township_seats

        if isinstance(townships, gpd.GeoDataFrame):
            twn = _township_frame(townships)
            label = source or (str(twn["source"].iloc[0]) if len(twn) else "geodataframe")
        else:
            twn = read_township_seats(townships, crs=crs)
            label = source or f"file:{Path(townships).name}"
        # a seat must lie in (or within 2 km of) the region; for built-in regions its county code must also
        # be one of the region's counties (a seat coded to a county but placed far away is a data error)
        import shapely

        near = shapely.dwithin(twn.to_crs(self.metric_crs).geometry.to_numpy(),
                               gpd.GeoSeries([self.boundary], crs="EPSG:4326").to_crs(self.metric_crs).iloc[0],
                               2000.0)
        if self.kind == "custom":
            keep = twn.within(self.boundary).to_numpy()
        else:
            in_county = twn["county_adcode"].isin(set(self.counties["adcode"])).to_numpy()
            misplaced = in_county & ~near
            if misplaced.any():
                bad = twn[misplaced]
                raise DataError(
                    f"{label}: {int(misplaced.sum())} township seat(s) coded to counties of {self.name} lie more than "
                    f"2 km outside it: {', '.join(f'{n} ({c}) at {g.x:.4f},{g.y:.4f}' for n, c, g in zip(bad['name'][:5], bad['county_adcode'][:5], bad.geometry[:5], strict=True))}"
                    "; fix their lon/lat (WGS-84; use --crs gcj02 for Amap/DataV coordinates)")
            keep = in_county
        dropped = int((~keep).sum())
        if dropped:
            logger.info("%s: dropped %d of %d township seats outside %s", label, dropped, len(twn),
                        self.name)
        twn = twn[keep]
        if self.kind == "custom":
            twn = _reassign_county(twn, self.counties)
        base = self.settlements[self.settlements["kind"] != "township"]
        merged = pd.concat([base, twn[SETTLEMENT_COLUMNS + ["geometry"]]], ignore_index=True)
        dup = merged["settlement_id"][merged["settlement_id"].duplicated()]
        if len(dup):
            raise DataError(f"township ids collide with seat ids: {', '.join(map(str, dup[:10]))}")
        settlements = gpd.GeoDataFrame(merged, geometry="geometry", crs="EPSG:4326")
        settlements["population"] = settlements["population"].astype(np.float64)
        return dataclasses.replace(self, settlements=settlements, township_source=label)

    def require_census(self, what: str) -> None:
        """Raise :class:`DataError` when the region has no 2020 census coverage (``what`` needs it).

        A boundary outside Guizhou's 88 counties has no population, so every EV-based demand would
        be 0: planning it would be a silent empty plan. Tiers that need only user data (a highway
        plan from ``--od``) do not call this.
        """
        import pandas as pd

        pop = pd.to_numeric(self.counties["pop_total"], errors="coerce").fillna(0.0) if len(self.counties) \
            else pd.Series(dtype=float)
        if float(pop.sum()) <= 0:
            b = self.counties.total_bounds.round(2).tolist() if len(self.counties) else "?"
            raise DataError(
                f"{self.source_file or self.name}: the boundary (bounds {b}) has no 2020 census coverage — it lies outside Guizhou's "
                f"88 counties, so {what} would be 0; give a boundary within Guizhou (WGS-84 lon/lat, or "
                "--crs gcj02/bd09/EPSG:<code> for other coordinates), or run only tiers with their own demand "
                "files (e.g. --tiers highway --od flows.csv)")

    def to_layers(self) -> dict[str, gpd.GeoDataFrame]:
        """Return export layers ``boundary`` (one row), ``counties`` and ``settlements`` (EPSG:4326)."""
        import geopandas as gpd

        boundary = gpd.GeoDataFrame(
            {"kind": [self.kind], "code": [self.code], "name": [self.name],
             "pop_total": [self.pop_total], "n_counties": [len(self.counties)],
             "township_note": [self.township_note], "metric_crs": [self.metric_crs]},
            geometry=[self.boundary], crs="EPSG:4326",
        )
        return {"boundary": boundary, "counties": self.counties.copy(),
                "settlements": self.settlements.copy()}


def _reassign_county(points: gpd.GeoDataFrame, features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Set each point's ``county_adcode`` to the code of the custom region feature that holds it.

    Points between features (on a shared edge, or in a gap) take the nearest feature.
    """
    import geopandas as gpd

    if len(points) == 0:
        return points
    f = features[["adcode", "geometry"]].rename(columns={"adcode": "_feature"})
    joined = gpd.sjoin_nearest(points.to_crs("EPSG:4326"), f, how="left")
    joined = joined[~joined.index.duplicated(keep="first")]
    out = points.copy()
    out["county_adcode"] = joined["_feature"].astype(str).to_numpy()
    return out


#: census count columns that are additive over area (estimated by overlay for custom features)
_ADDITIVE = ("pop_total", "pop_urban", "pop_rural", "households", "households_longform",
             "longform_households_with_car")


def _area_weighted_census(features: gpd.GeoDataFrame, which) -> gpd.GeoDataFrame:
    """Census counts of custom features by area overlay with the built-in Guizhou counties.

    Each built-in county's counts are spread uniformly over its area and summed over the parts
    that fall in a feature (urban population is in truth concentrated in the seats, so this is a
    screening estimate; ``census_basis`` says so). Parts outside Guizhou get nothing.
    """
    import geopandas as gpd

    from gzcharge.crs import metric_crs_for
    from gzcharge.sources import builtin

    out = features.copy()
    ref = builtin.load_counties()
    c = out.geometry.union_all().centroid
    crs = metric_crs_for(float(c.x), float(c.y))
    refm = ref.to_crs(crs)
    refm["_area"] = refm.geometry.area
    feat = out.loc[which, ["adcode", "geometry"]].to_crs(crs).rename(columns={"adcode": "_feature"})
    pieces = gpd.overlay(feat, refm[["adcode", "_area", *_ADDITIVE, "geometry"]], how="intersection",
                         keep_geom_type=True)
    share = pieces.geometry.area / pieces["_area"]
    for col in _ADDITIVE:
        pieces[col] = pieces[col].astype(float) * share
    sums = pieces.groupby("_feature")[list(_ADDITIVE)].sum()
    n_src = pieces.groupby("_feature")["adcode"].nunique()
    for col in _ADDITIVE:
        est = out.loc[which, "adcode"].map(sums[col]).fillna(0.0)
        out[col] = out[col].astype("Float64")
        out.loc[which, col] = est.round().to_numpy()
    out.loc[which, "census_basis"] = [
        f"area-weighted from {int(n_src.get(c, 0))} built-in counties" if n_src.get(c, 0) else "outside Guizhou: none"
        for c in out.loc[which, "adcode"]]
    return out


def region_layers(region: Region) -> dict[str, gpd.GeoDataFrame]:
    """Return ``region.to_layers()`` (for ``gzcharge region … --out f.gpkg``)."""
    return region.to_layers()


def _township_frame(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Validate a township GeoDataFrame given in memory and bring it to settlement columns."""
    import numpy as np

    from gzcharge.sources import builtin

    df = gdf.copy()
    if "settlement_id" not in df.columns and "code" in df.columns:
        df = df.rename(columns={"code": "settlement_id"})
    missing = [c for c in ("settlement_id", "name", "county_adcode") if c not in df.columns]
    if missing:
        raise DataError(f"township frame lacks column(s) {', '.join(missing)}; columns present: "
                        f"{', '.join(map(str, df.columns))}")
    if df.crs is None:
        df = df.set_crs("EPSG:4326")
    df = df.to_crs("EPSG:4326")
    df["settlement_id"] = df["settlement_id"].astype(str)
    df["county_adcode"], _ = builtin.normalize_county_codes(df["county_adcode"])
    df["kind"] = "township"
    for col, default in (("population", np.nan), ("population_basis", ""), ("source", "geodataframe")):
        if col not in df.columns:
            df[col] = default
    df["population"] = df["population"].astype(np.float64)
    return df


# --- lookup ---------------------------------------------------------------------------


def _short_name(name: str) -> str:
    m = _ETHNIC.search(name)
    base = name[: m.start()] if m else name
    for suffix in ("特区", "区", "县", "市", "州", "省"):
        if base.endswith(suffix) and len(base) > 2:
            return base[: -len(suffix)]
    return base


@functools.lru_cache(maxsize=1)
def _lookup_table() -> dict[str, tuple[str, str]]:
    """Map every accepted spelling (lower-case) to ``(level, adcode)``."""
    from gzcharge.sources import builtin

    facts = builtin.load_facts()
    table: dict[str, tuple[str, str]] = {}
    short_count: dict[str, int] = {}
    for row in facts.itertuples():
        short_count[_short_name(row.name)] = short_count.get(_short_name(row.name), 0) + 1
    for row in facts.itertuples():
        entry = (row.level, row.adcode)
        table[row.adcode] = entry
        table[row.name] = entry
        short = _short_name(row.name)
        if short_count[short] == 1:
            table.setdefault(short, entry)
            # colloquial forms of autonomous units: 黔东南州, 镇宁县
            if row.name.endswith("自治州"):
                table.setdefault(short + "州", entry)
            elif row.name.endswith("自治县"):
                table.setdefault(short + "县", entry)
        for alias in _PINYIN.get(row.adcode, []):
            table[alias] = entry
    table["贵州"] = table["guizhou"] = table["province"] = ("province", builtin.PROVINCE_CODE)
    for alias, code in _EXTRA_ALIASES.items():
        table.setdefault(alias, ("county", code))
    return table


def _suggest(query: str, table: dict[str, tuple[str, str]], names: dict[str, str]) -> list[str]:
    keys = [k for k in table if not k.isdigit()]
    if query.isdigit():
        hits = [k for k in table if k.isdigit() and k[:4] == query[:4]]
        hits += difflib.get_close_matches(query, [k for k in table if k.isdigit()], n=5, cutoff=0.6)
    else:
        hits = difflib.get_close_matches(query, keys, n=5, cutoff=0.34)
        hits += [k for k in keys if query and (query in k or (len(k) >= 2 and k in query))]
    out: list[str] = []
    for key in hits:
        code = table[key][1]
        label = f"{names[code]} ({code})"
        if label not in out:
            out.append(label)
    return out[:5]


def get_region(name_or_code: str | int) -> Region:
    """Return the built-in region for a province/prefecture/county name or adcode.

    Parameters
    ----------
    name_or_code
        ``"贵州省"``, ``"贵州"``, ``"guizhou"``, ``520000``; a prefecture (``"安顺市"``,
        ``"安顺"``, ``"anshun"``, ``"黔东南"``, ``520400``); or a county (``"西秀区"``,
        ``"西秀"``, ``"520402"``).

    Raises
    ------
    ConfigError
        Unknown name or code; the message lists the closest matches.
    """
    import pandas as pd
    import shapely

    from gzcharge.sources import builtin

    query = str(name_or_code).strip()
    table = dict(_lookup_table())
    hit = table.get(query) or table.get(query.lower())
    facts = builtin.load_facts()
    names = dict(zip(facts["adcode"], facts["name"], strict=True))
    if hit is None:
        sugg = _suggest(query, table, names)
        hint = f"; closest matches: {', '.join(sugg)}" if sugg else ""
        raise ConfigError(
            f"unknown region {query!r}{hint}. Use the province (贵州省), a prefecture "
            "(e.g. 安顺市 or 520400) or a county (e.g. 西秀区 or 520402)")
    level, code = hit
    counties = builtin.load_counties()
    seats = builtin.load_seats()
    pref_seat = None
    if level == "province":
        sel = counties
    elif level == "prefecture":
        sel = counties[counties["prefecture_adcode"] == code]
        p = builtin.load_prefectures().set_index("adcode").loc[code]
        pref_seat = PrefectureSeat(
            prefecture_adcode=code, prefecture=str(p["name"]),
            seat_county_adcode=str(p["seat_adcode"]), seat_county=str(p["seat_county"]),
            lon=float(p["seat_lon"]), lat=float(p["seat_lat"]),
            pop_city_core=None if pd.isna(p["pop_city_core"]) else int(p["pop_city_core"]),
            pop_city_core_basis=str(p["pop_city_core_basis"]),
        )
    else:
        sel = counties[counties["adcode"] == code]
    sel = sel.reset_index(drop=True)
    adcodes = set(sel["adcode"])
    keep = seats["county_adcode"].isin(adcodes)
    if level == "county":  # the prefecture seat only belongs to prefecture/province regions
        keep &= seats["kind"] == "county_seat"
    boundary = shapely.union_all(sel.geometry.to_numpy())
    return Region(kind=level, code=code, name=names[code], boundary=boundary, counties=sel,
                  settlements=seats[keep].reset_index(drop=True), prefecture_seat=pref_seat)


def list_regions() -> pd.DataFrame:
    """Return the built-in regions: ``kind, adcode, name, prefecture_adcode, pop_total``."""
    from gzcharge.sources import builtin

    facts = builtin.load_facts()
    out = facts[["level", "adcode", "name", "prefecture_adcode", "pop_total"]]
    return out.rename(columns={"level": "kind"}).reset_index(drop=True)


def _derived_codes(names: Any, stem: str) -> list[str]:
    """Codes for boundary features that have names only: the county adcode by name, else ``stem-n``."""
    from gzcharge.sources import builtin

    known = builtin.load_counties()
    by_name = dict(zip(known["name"].astype(str), known["adcode"].astype(str), strict=True))
    out, n = [], 0
    for name in [str(x).strip() for x in names]:
        code = by_name.get(name)
        if code is None or code in out:
            n += 1
            code = f"{stem}-{n}"
        out.append(code)
    return out
