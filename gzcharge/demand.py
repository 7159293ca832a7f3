"""Demand points of the public charging tier (city core, county seats, townships), weighted in EVs.

How the demand is estimated (stated in the report too)
------------------------------------------------------
1. **EVs per county** — :func:`county_evs`: the province's NEV stock of ``ev.year`` shared out by
   ``households × car_share × adoption`` (2020 census; ``car_share`` = long-form households owning
   a car / long-form households; ``adoption`` the prefecture's relative NEV adoption) over all 88
   counties, unless the scenario gives ``ev.evs_by_county``. A county's EVs
   are spread over its residents evenly (EVs per resident ``e_c = EVs / population``): the
   census has no car ownership split by urban and rural residence.
2. **City core** (tier ``city``) — where ``public.city_core_counties`` lists the districts
   that form a prefecture's core (贵阳: 南明, 云岩, 花溪, 乌当, 白云, 观山湖), the census city-core
   (城区) population ``P`` is split over those districts by urban population (at most all of
   it) and each district gets a city disc at its seat, sized as below. Otherwise: around each
   prefecture seat, the census city-core population ``P``. Without OSM landuse the built-up area is a documented estimate: a disc
   of area ``P / urban_residents_per_km2`` (default 10,000 residents per km², i.e. 1 km² per
   10,000 urban residents) centred on the seat. The counties whose seat lies in that disc
   (and the seat's own county) are the core counties; each gives up urban residents to the
   core in proportion to its urban population (at most all of them). The core's EVs are the
   sum of ``residents × e_c`` over those counties.
3. **County seats** (tier ``county``) — every other county: the seat town's population is
   the census city-core population of a county-level city (e.g. 清镇市) where the census has
   one, else ``county_seat_share_of_urban × urban population`` (default 0.7; the rest of the
   urban population lives in township-seat towns). A disc sized the same way.
4. **Built-up discs to points** — each disc is filled with a hexagonal lattice whose spacing
   is ``lattice_spacing_factor × the tier's service radius`` (default half the radius),
   clipped to the region boundary; every lattice point carries an equal share of the disc's
   EVs and the county whose polygon holds it. A disc smaller than the spacing is one point at
   the seat.
5. **Townships** (tier ``township``) — each township seat of ``region.settlements`` is a
   point. A county's township population is its rural population plus the urban residents
   not in the seat town or city core; it is split equally over the county's township seats
   that lie outside every built-up disc (seats inside a disc — urban sub-districts 街道 —
   keep weight 0, their residents are already counted in the disc, but stay points that must
   be covered). When the region has no township seats, township demand is **estimated** — a
   hexagonal lattice with ``estimated_township_spacing_km`` spacing over each county outside
   its built-up discs, labelled ``source = "estimated"``.

Every point carries the radius of its tier (``radius_m``) from the scenario.

Built-up areas from OSM landuse (``public_demand(..., builtup=polygons)``)
-------------------------------------------------------------------------
When built-up polygons are given (OSM ``landuse=residential|commercial|retail|industrial``
areas from :func:`gzcharge.sources.osm.builtup_from_file` / ``builtup_from_overpass``), steps
2–4 keep their populations and EVs (the census decides *how many*; OSM decides *where*), and
each city core / county seat's disc is replaced by its mapped built-up area:

a. **Clusters** — polygons less than :data:`BUILTUP_GAP_M` (200 m, a street plus a verge)
   apart form one cluster (union of the polygons buffered by half the gap).
b. **The seat's area** — the union of the original polygons of every cluster that comes
   within the search radius ``max(BUILTUP_SEARCH_FACTOR × r, BUILTUP_MIN_SEARCH_M)`` of the
   seat (``r`` = the estimate disc radius of step 2/3; factor 2, at least 1.5 km), clipped to
   a disc of ``BUILTUP_CLIP_FACTOR`` (2) × the search radius and to the region boundary, so a
   chain of built-up land cannot carry a seat's demand into the next town.
c. **Fallback** — a seat with no cluster in reach, or whose area is smaller than
   :data:`BUILTUP_MIN_SHARE` (20 %) of its estimate disc (landuse mapped only in part, which
   would pile a whole town onto a few blocks), keeps the estimate disc; logged.
d. **Points and weights** — a hexagonal lattice with the spacing of step 4, anchored on the
   seat, is kept where it falls inside the area; every part of the area of at least a tenth
   of a lattice cell that holds no lattice point gets its representative point. Each point
   carries the seat's EVs × the share of the built-up area nearer to it than to any other
   point (Voronoi cell ∩ area / area), i.e. a uniform density over the built-up land —
   the census has no density by land-use class, so residential, commercial, retail and
   industrial land are weighted alike. The weights of a seat sum to its estimate-path total.

Every city/county point carries ``source`` = ``"osm_landuse"`` (area from OSM) or
``"estimate"`` (disc). Township seats inside an OSM built-up area, like seats inside a disc,
keep weight 0. The zone table (``attrs["zones"]``) gets ``source``, ``area_km2`` and
``estimate_radius_m``; for OSM zones ``radius_m`` is the radius of the seat-centred disc
that holds the whole area (consumers that draw discs, e.g. the urban candidate grid, cover
it), and ``attrs["areas"]`` holds each zone's area polygon (metric CRS).
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gzcharge.errors import DataError
from gzcharge.export.i18n import msg

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from gzcharge.region import Region
    from gzcharge.scenario import EVParams, Scenario

logger = logging.getLogger(__name__)

DEMAND_COLUMNS = [
    "demand_id", "tier", "county_adcode", "settlement_id", "name", "weight_evs", "radius_m", "source", "geometry",
]
TIERS = ("city", "county", "township")

#: built-up polygons closer than this (m) belong to one built-up cluster
BUILTUP_GAP_M = 200.0
#: search radius around a seat = max(factor × estimate disc radius, minimum)
BUILTUP_SEARCH_FACTOR = 2.0
BUILTUP_MIN_SEARCH_M = 1500.0
#: a seat's area is clipped to a disc of this factor × the search radius
BUILTUP_CLIP_FACTOR = 2.0
#: OSM areas smaller than this share of the estimate disc fall back to the estimate
BUILTUP_MIN_SHARE = 0.2
#: demand-point source labels of city/county points
SOURCE_OSM = "osm_landuse"
SOURCE_ESTIMATE = "estimate"


def _ev_weights(counties: pd.DataFrame, ev: EVParams) -> pd.Series:
    """``w_c = households × car_share × adoption`` per county (Series by adcode; NaN without census)."""
    c = counties.set_index(counties["adcode"].astype(str))
    hh = pd.to_numeric(c["households"], errors="coerce").astype(float)
    lf = pd.to_numeric(c["households_longform"], errors="coerce").astype(float)
    car = pd.to_numeric(c["longform_households_with_car"], errors="coerce").astype(float)
    share = (car / lf).where(lf > 0)
    adoption = np.array([ev.adoption(code) for code in c.index], dtype=float)
    return hh * share * adoption


def province_ev_weight(ev: EVParams) -> float:
    """``Σ w_c`` over the 88 counties of the built-in Guizhou pack (the denominator of :func:`county_evs`)."""
    from gzcharge.sources.builtin import load_facts

    f = load_facts()
    return float(_ev_weights(f[f["level"] == "county"], ev).sum())


def county_evs(counties: pd.DataFrame, ev: EVParams) -> pd.Series:
    """EVs per county (Series by adcode) from the census and the scenario's ``ev`` section.

    ``EVs(c) = stock(year) × w_c / Σ_{Guizhou} w_k`` with ``w_c = households_c ×
    (longform_households_with_car / households_longform)_c × adoption(prefecture of c)``; the
    denominator runs over all 88 counties of the built-in pack, so a county gets the same EVs in
    every region that holds it (prefecture, province or a user boundary; area-weighted census
    figures of a user boundary give the matching share). ``ev.evs_by_county`` replaces the
    estimate for the counties it names. Counties without census figures get 0 (logged).
    """
    w = _ev_weights(counties, ev)
    evs = ev.stock(ev.year) * w / province_ev_weight(ev)
    unknown = evs.index[evs.isna()]
    for code, n in ev.evs_by_county.items():
        if code not in evs.index:
            raise DataError(
                f"ev.evs_by_county names county {code}, which is not in the region "
                f"(counties: {', '.join(evs.index[:12])}…)"
            )
        evs[code] = float(n)
    missing = [u for u in unknown if u not in ev.evs_by_county]
    if missing:
        logger.warning("no census households for counties %s: 0 EVs (set ev.evs_by_county)", missing)
    return evs.fillna(0.0).rename("evs")


def _hex_lattice(cx: float, cy: float, radius: float, spacing: float) -> np.ndarray:
    """Points of a hexagonal lattice (one point at the centre) within ``radius`` of the centre."""
    if radius < spacing / 2:
        return np.array([[cx, cy]])
    n = int(math.ceil(radius / spacing)) + 1
    dy = spacing * math.sqrt(3) / 2
    j = np.arange(-n - 1, n + 2)
    i = np.arange(-n - 1, n + 2)
    ii, jj = np.meshgrid(i, j)
    x = ii * spacing + (jj % 2) * spacing / 2
    y = jj * dy
    keep = np.hypot(x, y) <= radius
    return np.column_stack([x[keep] + cx, y[keep] + cy])


def _hex_fill(polygon, spacing: float) -> np.ndarray:
    """Hexagonal lattice points (metric) inside a polygon; its representative point if none fall in."""
    import shapely

    if polygon.is_empty:
        return np.empty((0, 2))
    x0, y0, x1, y1 = polygon.bounds
    dy = spacing * math.sqrt(3) / 2
    ys = np.arange(y0 + dy / 2, y1, dy)
    xs = np.arange(x0 + spacing / 2, x1 + spacing, spacing)
    xx, yy = np.meshgrid(xs, ys)
    xx = xx + (np.arange(len(ys))[:, None] % 2) * spacing / 2
    pts = np.column_stack([xx.ravel(), yy.ravel()])
    if len(pts):
        inside = shapely.contains_xy(polygon, pts[:, 0], pts[:, 1])
        pts = pts[inside]
    if len(pts) == 0:
        rp = polygon.representative_point()
        pts = np.array([[rp.x, rp.y]])
    return pts


def urban_zones(region: Region, scenario: Scenario) -> pd.DataFrame:
    """Built-up discs: one per prefecture seat (city core) and per other county seat.

    Returns
    -------
    DataFrame
        ``zone_id, tier, county_adcode, settlement_id, name, x, y`` (metric CRS of the region),
        ``population``, ``evs``, ``radius_m`` (disc radius), ``basis``; plus the attribute
        ``attrs["absorbed"]``: urban residents per county given to a city core.
    """
    p = scenario.public
    crs = region.metric_crs
    counties = region.counties.copy()
    counties["adcode"] = counties["adcode"].astype(str)
    evs = county_evs(counties, scenario.ev)
    pop = pd.to_numeric(counties.set_index("adcode")["pop_total"], errors="coerce").astype(float)
    urban = pd.to_numeric(counties.set_index("adcode")["pop_urban"], errors="coerce").astype(float).fillna(0.0)
    ev_per_res = (evs / pop).where(pop > 0).fillna(0.0)
    core_pop_known = _county_city_core_population()

    s = region.settlements.to_crs(crs)
    s = s.assign(x=s.geometry.x, y=s.geometry.y, county_adcode=s["county_adcode"].astype(str))
    seats = s[s["kind"] == "county_seat"].set_index("county_adcode")
    prefs = s[s["kind"] == "prefecture_seat"]

    zones = []
    absorbed = pd.Series(0.0, index=urban.index)
    core_counties: set[str] = set()
    for _, ps in prefs.iterrows():
        pc = float(ps["population"]) if pd.notna(ps["population"]) else float("nan")
        if not math.isfinite(pc) or pc <= 0:
            logger.warning("prefecture seat %s has no city-core population; it is planned as a county seat", ps["name"])
            continue
        listed = [c for c in p.city_core_counties.get(str(ps["county_adcode"])[:4] + "00", []) if c in urban.index]
        if listed:  # the core is the districts that form it: one disc per district seat
            members = set(listed) | {ps["county_adcode"]}
            u = urban[sorted(members)]
            take = u * min(1.0, pc / u.sum()) if u.sum() > 0 else u
            absorbed[take.index] += take
            core_counties |= members
            for code in take.index:
                seat = ps if code == ps["county_adcode"] or code not in seats.index else seats.loc[code]
                res = float(take[code])
                if res <= 0:
                    continue
                county_name = str(region.counties.set_index(region.counties["adcode"].astype(str))
                                  .loc[code, "name"]) if code in set(region.counties["adcode"].astype(str)) else code
                zones.append({
                    "zone_id": f"city-{ps['settlement_id']}-{code}", "tier": "city", "county_adcode": code,
                    "settlement_id": seat["settlement_id"], "name": f"{ps['name']} 城区·{county_name}",
                    "x": seat["x"], "y": seat["y"], "population": res, "evs": res * float(ev_per_res[code]),
                    "radius_m": math.sqrt(res / p.urban_residents_per_km2 / math.pi) * 1000.0,
                    "basis": "census city-core population split over the core districts by urban population",
                })
            continue
        r = math.sqrt(pc / p.urban_residents_per_km2 / math.pi) * 1000.0
        d = np.hypot(seats["x"] - ps["x"], seats["y"] - ps["y"])
        members = set(seats.index[d.to_numpy() <= r]) | {ps["county_adcode"]}
        members &= set(urban.index)
        u = urban[list(members)]
        take = u * min(1.0, pc / u.sum()) if u.sum() > 0 else u
        if u.sum() < pc:
            logger.info("%s: city core %d residents > urban residents of its core counties %d; core uses %d",
                        ps["name"], pc, u.sum(), u.sum())
        absorbed[take.index] += take
        core_counties |= members
        core_res = float(take.sum())
        zones.append({
            "zone_id": f"city-{ps['settlement_id']}", "tier": "city", "county_adcode": ps["county_adcode"],
            "settlement_id": ps["settlement_id"], "name": ps["name"], "x": ps["x"], "y": ps["y"],
            "population": core_res, "evs": float((take * ev_per_res[take.index]).sum()),
            "radius_m": math.sqrt(core_res / p.urban_residents_per_km2 / math.pi) * 1000.0,
            "basis": "census city-core population",
        })
    for code, seat in seats.iterrows():
        if code in core_counties or code not in urban.index:
            continue
        known = core_pop_known.get(code)
        if known is not None and known > 0:
            seat_pop, basis = min(float(known), urban[code]), "census city-core population (county-level city)"
        else:
            seat_pop, basis = p.county_seat_share_of_urban * urban[code], "county_seat_share_of_urban × urban"
        if seat_pop <= 0:
            continue
        zones.append({
            "zone_id": f"county-{code}", "tier": "county", "county_adcode": code,
            "settlement_id": seat["settlement_id"], "name": seat["name"], "x": seat["x"], "y": seat["y"],
            "population": seat_pop, "evs": seat_pop * ev_per_res[code],
            "radius_m": math.sqrt(seat_pop / p.urban_residents_per_km2 / math.pi) * 1000.0,
            "basis": basis,
        })
        absorbed[code] += seat_pop
    out = pd.DataFrame(zones, columns=["zone_id", "tier", "county_adcode", "settlement_id", "name", "x", "y",
                                       "population", "evs", "radius_m", "basis"])
    out.attrs["in_zones"] = absorbed  # residents of each county living in a built-up disc
    out.attrs["evs"] = evs
    out.attrs["ev_per_resident"] = ev_per_res
    out.attrs["pop_total"] = pop
    return out


def _county_city_core_population() -> dict[str, float]:
    """Census city-core population of county-level units that have one (built-in pack)."""
    try:
        from gzcharge.sources.builtin import load_facts
    except ImportError:  # pragma: no cover
        return {}
    f = load_facts()
    f = f[(f["level"] != "prefecture") & (f["level"] != "province") & f["pop_city_core"].notna()]
    return {str(a): float(v) for a, v in zip(f["adcode"], f["pop_city_core"], strict=True)}


def _builtup_metric(builtup: gpd.GeoDataFrame | gpd.GeoSeries, crs: str) -> np.ndarray:
    """Polygonal geometries of ``builtup`` in the metric CRS (valid, non-empty)."""
    import shapely

    if builtup.crs is None:
        raise DataError("built-up polygons have no CRS; set it (EPSG:4326 for OSM lon/lat)")
    g = np.asarray((builtup.geometry if hasattr(builtup, "geometry") else builtup).to_crs(crs).to_numpy(), dtype=object)
    g = g[~shapely.is_missing(g)]
    poly = np.isin(shapely.get_type_id(g), [3, 6])  # Polygon, MultiPolygon
    if (~poly).any():
        logger.info("built-up: ignored %d non-polygon geometries", int((~poly).sum()))
    g = g[poly]
    bad = ~shapely.is_valid(g)
    if bad.any():
        g[bad] = shapely.make_valid(g[bad])
    return g[~shapely.is_empty(g) & (shapely.area(g) > 0)]


def builtup_zone_areas(zones: pd.DataFrame, builtup: gpd.GeoDataFrame | gpd.GeoSeries, crs: str,
                       boundary_m) -> list:
    """Built-up area (metric polygon) of each zone from OSM polygons, ``None`` where it falls back.

    Implements steps a–c of the module docstring (clusters within :data:`BUILTUP_GAP_M`, those
    reaching the search disc, clipped; fallback below :data:`BUILTUP_MIN_SHARE` of the disc).
    """
    import shapely

    g = _builtup_metric(builtup, crs)
    out: list = [None] * len(zones)
    if len(g) == 0 or len(zones) == 0:
        return out
    clusters = shapely.get_parts(shapely.union_all(shapely.buffer(g, BUILTUP_GAP_M / 2, quad_segs=2)))
    cl_tree = shapely.STRtree(clusters)
    # each polygon lies in exactly one cluster (its buffer is part of it)
    pi, ci = cl_tree.query(shapely.point_on_surface(g), predicate="within")
    cluster_of = np.full(len(g), -1)
    cluster_of[pi] = ci
    shapely.prepare(boundary_m)
    for k, z in enumerate(zones.itertuples(index=False)):
        seat = shapely.Point(z.x, z.y)
        search_m = max(BUILTUP_SEARCH_FACTOR * z.radius_m, BUILTUP_MIN_SEARCH_M)
        near = cl_tree.query(seat.buffer(search_m, quad_segs=32), predicate="intersects")
        if len(near) == 0:
            logger.info("%s: no OSM built-up land within %.1f km of the seat; estimate disc kept",
                        z.name, search_m / 1000)
            continue
        area = shapely.union_all(g[np.isin(cluster_of, near)])
        area = area.intersection(seat.buffer(BUILTUP_CLIP_FACTOR * search_m, quad_segs=32)).intersection(boundary_m)
        area = shapely.union_all([q for q in shapely.get_parts(area) if isinstance(q, shapely.Polygon)])
        disc_m2 = math.pi * z.radius_m**2
        if area.is_empty or area.area < BUILTUP_MIN_SHARE * disc_m2:
            logger.info("%s: OSM built-up land near the seat is %.2f km², under %.0f%% of the estimate disc "
                        "(%.2f km²; landuse mapped in part?); estimate disc kept",
                        z.name, area.area / 1e6, 100 * BUILTUP_MIN_SHARE, disc_m2 / 1e6)
            continue
        out[k] = area
    return out


def _area_points(area, cx: float, cy: float, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Lattice points (anchored on the seat) in ``area`` and their built-up area shares (step d)."""
    import shapely

    rmax = float(np.hypot(*(shapely.get_coordinates(area) - [cx, cy]).T).max())
    pts = _hex_lattice(cx, cy, rmax + spacing, spacing)
    pts = pts[shapely.contains_xy(area, pts[:, 0], pts[:, 1])]
    min_part_m2 = 0.1 * spacing**2 * math.sqrt(3) / 2
    extra = []
    for part in shapely.get_parts(area):
        if part.area >= min_part_m2 and not shapely.contains_xy(part, pts[:, 0], pts[:, 1]).any():
            rp = part.representative_point()
            extra.append((rp.x, rp.y))
    if extra:
        pts = np.vstack([pts, np.array(extra)])
    if len(pts) == 0:
        rp = area.representative_point()
        pts = np.array([[rp.x, rp.y]])
    if len(pts) == 1:
        return pts, np.ones(1)
    x0, y0, x1, y1 = area.bounds
    frame = shapely.box(x0 - 1, y0 - 1, x1 + 1, y1 + 1).union(shapely.MultiPoint(pts).envelope.buffer(1))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.MultiPoint(pts), extend_to=frame, ordered=True))
    share = shapely.area(shapely.intersection(cells, area))
    return pts, share / share.sum()


def public_demand(region: Region, scenario: Scenario, *,
                  builtup: gpd.GeoDataFrame | gpd.GeoSeries | None = None) -> gpd.GeoDataFrame:
    """Demand points of the public tier (see the module docstring for the estimate).

    Parameters
    ----------
    region
        The region to plan (counties with census figures, settlements, boundary).
    scenario
        Uses the ``ev`` and ``public`` sections.
    builtup
        Built-up land polygons (any CRS), e.g. ``sources.osm.builtup_from_file(path,
        region.boundary)``; ``None`` (default) or empty: every seat uses the estimate disc.

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points with :data:`DEMAND_COLUMNS`; ``source`` is ``"osm_landuse"`` or
        ``"estimate"`` for city and county points, the region's township source for township
        seats, or ``"estimated"`` for an estimated township lattice. ``attrs["zones"]`` holds
        the built-up zones, ``attrs["areas"]`` their areas (metric), ``attrs["county_evs"]``
        EVs per county, ``attrs["urban_note"]`` and ``attrs["township_note"]`` sentences for
        the report.
    """
    import geopandas as gpd
    import shapely

    p = scenario.public
    crs = region.metric_crs
    if region.counties.empty:
        raise DataError(f"region {region.name} has no counties; demand needs county census figures")
    zones = urban_zones(region, scenario)
    counties_m = region.counties.to_crs(crs)
    counties_m["adcode"] = counties_m["adcode"].astype(str)
    boundary_m = gpd.GeoSeries([region.boundary], crs="EPSG:4326").to_crs(crs).iloc[0]

    osm_areas = builtup_zone_areas(zones, builtup, crs, boundary_m) if builtup is not None and len(builtup) \
        else [None] * len(zones)
    zones["estimate_radius_m"] = zones["radius_m"]
    zones["source"] = [SOURCE_ESTIMATE if a is None else SOURCE_OSM for a in osm_areas]
    zones["area_km2"] = [math.pi * r**2 / 1e6 if a is None else a.area / 1e6
                         for a, r in zip(osm_areas, zones["radius_m"], strict=True)]
    areas = []
    frames = []
    for z, area in zip(zones.itertuples(index=False), osm_areas, strict=True):
        spacing = p.lattice_spacing_factor * p.radius_m(z.tier)
        if area is not None:
            pts, share = _area_points(area, z.x, z.y, spacing)
            areas.append(area)
        else:
            pts = _hex_lattice(z.x, z.y, z.radius_m, spacing)
            if len(pts) > 1:
                inside = shapely.contains_xy(boundary_m, pts[:, 0], pts[:, 1])
                inside[np.argmin(np.hypot(pts[:, 0] - z.x, pts[:, 1] - z.y))] = True  # keep the seat
                pts = pts[inside]
            share = np.full(len(pts), 1.0 / len(pts))
            areas.append(shapely.Point(z.x, z.y).buffer(z.radius_m) if z.radius_m > 0 else shapely.Point(z.x, z.y))
        n = len(pts)
        frames.append(pd.DataFrame({
            "demand_id": [f"{z.zone_id}-{k:04d}" for k in range(n)],
            "tier": z.tier, "county_adcode": z.county_adcode, "settlement_id": z.settlement_id,
            "name": z.name, "weight_evs": z.evs * share, "radius_m": p.radius_m(z.tier), "source": z.source,
            "x": pts[:, 0], "y": pts[:, 1],
        }))
    # zones drawn as seat-centred discs by consumers: an OSM zone's disc holds its whole area
    zones["radius_m"] = [r if a is None else float(np.hypot(*(shapely.get_coordinates(a) - [x, y]).T).max())
                         for a, r, x, y in zip(osm_areas, zones["radius_m"], zones["x"], zones["y"], strict=True)]
    n_osm = sum(a is not None for a in osm_areas)
    urban_note = msg("demand.builtup", n_osm=n_osm, n=len(zones),
                     names=", ".join(zones.loc[zones["source"] == SOURCE_OSM, "name"].astype(str)) or "—",
                     density=p.urban_residents_per_km2)
    urban_df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=[c for c in DEMAND_COLUMNS if c != "geometry"] + ["x", "y"])
    if len(urban_df):  # lattice points take the county whose polygon holds them
        urban_df["county_adcode"] = _county_of(urban_df["x"].to_numpy(), urban_df["y"].to_numpy(), counties_m,
                                               urban_df["county_adcode"].to_numpy())

    # township population per county: everyone not living in a built-up disc
    in_zones = zones.attrs["in_zones"]
    pop = zones.attrs["pop_total"].fillna(0.0)
    town_pop = (pop - in_zones.reindex(pop.index).fillna(0.0)).clip(lower=0.0)
    ev_per_res = zones.attrs["ev_per_resident"]
    town_evs = town_pop * ev_per_res.reindex(town_pop.index).fillna(0.0)

    zone_union = shapely.union_all(areas) if len(zones) else shapely.Point()

    towns = region.settlements[region.settlements["kind"] == "township"]
    if len(towns):
        t = towns.to_crs(crs)
        tx, ty = t.geometry.x.to_numpy(), t.geometry.y.to_numpy()
        tc = t["county_adcode"].astype(str).to_numpy()
        in_disc = shapely.contains_xy(zone_union, tx, ty) if len(zones) else np.zeros(len(t), bool)
        outside = pd.Series(~in_disc).groupby(tc).transform("sum").to_numpy()
        share_n = np.where(outside > 0, outside, pd.Series(np.ones(len(t))).groupby(tc).transform("sum").to_numpy())
        counts_weight = np.where(outside > 0, ~in_disc, True)
        w = town_evs.reindex(tc).fillna(0.0).to_numpy() * counts_weight / share_n
        town_df = pd.DataFrame({
            "demand_id": "town-" + t["settlement_id"].astype(str).to_numpy(), "tier": "township",
            "county_adcode": tc, "settlement_id": t["settlement_id"].astype(str).to_numpy(),
            "name": t["name"].astype(str).to_numpy(), "weight_evs": w, "radius_m": p.radius_m("township"),
            "source": region.township_source or "region", "x": tx, "y": ty,
        })
        note = msg("demand.townships_given", n=len(t), source=region.township_source)
    else:
        spacing = p.estimated_township_spacing_km * 1000.0
        rows = []
        for c in counties_m.itertuples(index=False):
            area = c.geometry.difference(zone_union) if len(zones) else c.geometry
            pts = _hex_fill(area if not area.is_empty else c.geometry, spacing)
            n = len(pts)
            rows.append(pd.DataFrame({
                "demand_id": [f"town-est-{c.adcode}-{k:04d}" for k in range(n)], "tier": "township",
                "county_adcode": c.adcode, "settlement_id": "", "name": [f"{c.name} 估计乡镇点 {k + 1}" for k in range(n)],
                "weight_evs": float(town_evs.get(c.adcode, 0.0)) / n, "radius_m": p.radius_m("township"),
                "source": "estimated", "x": pts[:, 0], "y": pts[:, 1],
            }))
        town_df = pd.concat(rows, ignore_index=True)
        note = msg("demand.townships_estimated", n=len(town_df), km=p.estimated_township_spacing_km)
        logger.warning(note)

    df = pd.concat([urban_df, town_df], ignore_index=True)
    gdf = gpd.GeoDataFrame(
        df.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(df["x"], df["y"]), crs=crs
    ).to_crs("EPSG:4326")
    gdf["weight_evs"] = gdf["weight_evs"].astype(float)
    gdf["radius_m"] = gdf["radius_m"].astype(float)
    gdf = gdf[DEMAND_COLUMNS]
    if not gdf["demand_id"].is_unique:
        dup = gdf["demand_id"][gdf["demand_id"].duplicated()].tolist()[:10]
        raise DataError(f"duplicate demand ids {dup}: township codes repeat in the township file")
    gdf.attrs["zones"] = zones
    gdf.attrs["areas"] = gpd.GeoSeries(areas, index=zones["zone_id"].to_numpy(), crs=crs)
    gdf.attrs["urban_note"] = urban_note
    gdf.attrs["county_evs"] = zones.attrs["evs"]
    gdf.attrs["township_note"] = note
    gdf.attrs["metric_crs"] = crs
    return gdf


def _county_of(x: np.ndarray, y: np.ndarray, counties_m: gpd.GeoDataFrame, fallback: np.ndarray) -> np.ndarray:
    """Adcode of the county polygon holding each point (``fallback`` where none does)."""
    import geopandas as gpd

    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=counties_m.crs)
    hit = gpd.sjoin(pts, counties_m[["adcode", "geometry"]], how="left", predicate="within")
    hit = hit[~hit.index.duplicated(keep="first")]
    out = hit["adcode"].reindex(pts.index).to_numpy(dtype=object)
    miss = pd.isna(out)
    out[miss] = fallback[miss]
    return out.astype(str)
